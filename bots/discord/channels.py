"""Community channels: the task board the bot posts on a schedule, where anyone can pick up a task."""

from __future__ import annotations

import asyncio
import logging
import time

import discord

from bots.discord.replies import NO_PINGS
from bots.discord.screens import board_view

log = logging.getLogger("chorus.discord")

TICK = 30.0  # seconds between looks at the schedule


def board_text(stats: dict | None) -> str:
    """The text of a task board."""
    lines = ["**Open tasks.** Pick one: it opens privately, only you see it. Use /help to learn more."]
    if stats:
        trees = stats.get("trees", {}).get("by_state", {})
        waiting = {k: v for k, v in trees.items() if v and k in ("initial_prompt_review", "growing", "ranking")}
        if waiting:
            words = {"initial_prompt_review": "prompts in review", "growing": "conversations growing", "ranking": "waiting for rankings"}
            lines.append(" · ".join(f"{n} {words[k]}" for k, n in waiting.items()))
    return "\n".join(lines)


async def post_board(bot: discord.Client, guild_id: str | int, settings: dict) -> None:
    """Post the task board in a server's task channel."""
    try:
        stats = await bot.core.collection_stats(lang=settings.get("lang"))
    except Exception:  # statistics are a nicety; the board still works without them
        stats = None
    channel = bot.get_partial_messageable(int(settings["task_channel"]), guild_id=int(guild_id))
    sent = await channel.send(board_text(stats), view=board_view(), allowed_mentions=NO_PINGS)
    await bot.core.record_post("discord", settings["task_channel"], sent.id, "board", guild_id)


async def post_due_boards(bot: discord.Client, now: float | None = None) -> int:
    """Post every board whose time has come; once per interval, even across restarts and processes."""
    now = time.time() if now is None else now
    posted = 0
    for guild_id, settings in (await bot.core.all_community_settings("discord")).items():
        if not settings.get("task_channel"):
            continue
        interval = max(1, int(settings.get("post_interval_minutes") or 60)) * 60
        slot = f"board:{guild_id}:{settings['task_channel']}:{interval}:{int(now // interval)}"
        if await bot.core.first_delivery("discord", slot):
            await post_board(bot, guild_id, settings)
            posted += 1
    return posted


async def run_boards(bot: discord.Client) -> None:
    """Post due boards until the bot closes."""
    await bot.wait_until_ready()
    while not bot.is_closed():
        try:
            await post_due_boards(bot)
        except Exception:
            log.exception("posting task boards failed; trying again later")
        await asyncio.sleep(TICK)
