"""Answering interactions: inside Discord's 3-second window, never pinging anyone, errors as sentences."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from dataclasses import dataclass, field

import discord

from core.errors import ChorusError

log = logging.getLogger("chorus.discord")

NO_PINGS = discord.AllowedMentions.none()
# Past this, the bot defers and answers later: Discord drops an interaction left unanswered for 3 s.
DEFER_AFTER = 2.0
OOPS = "Something went wrong on our side. Your work so far is kept; please try again in a moment."


@dataclass
class Screen:
    """What a reply shows: text and, optionally, buttons and menus, or files."""

    content: str
    view: discord.ui.View | None = None
    files: list[discord.File] = field(default_factory=list)


def mark_arrival(interaction: discord.Interaction) -> None:
    """Note when an interaction arrived: the 3-second window runs from then, not from when work starts."""
    interaction.extras.setdefault("arrived", asyncio.get_running_loop().time())


def time_left(interaction: discord.Interaction, budget: float | None = None) -> float:
    """Seconds of the budget left before the bot must answer something."""
    budget = DEFER_AFTER if budget is None else budget
    arrived = interaction.extras.get("arrived")
    if arrived is None:
        return budget
    return max(0.0, budget - (asyncio.get_running_loop().time() - arrived))


def frozen(view: discord.ui.View) -> discord.ui.View:
    """A view that is sent but not kept in memory: its dynamic items are found again from their custom ids."""
    view.stop()
    return view


async def answer(interaction: discord.Interaction, work: Awaitable[Screen], *, update: bool = False) -> None:
    """Show a screen: as a new ephemeral message, or in place of the clicked one (`update`)."""
    job = asyncio.ensure_future(work)
    done, _ = await asyncio.wait({job}, timeout=time_left(interaction))
    if not done:
        await interaction.response.defer(ephemeral=True, thinking=not update)
    try:
        screen = await job
    except ChorusError as exc:
        await say(interaction, exc.message)
        return
    except Exception:
        log.exception("interaction %s failed", interaction.id)
        await say(interaction, OOPS)
        return
    await show(interaction, screen, update=update)


async def show(interaction: discord.Interaction, screen: Screen, *, update: bool = False) -> None:
    """Send a ready screen through whichever response the interaction still allows."""
    kwargs: dict = {"content": screen.content, "allowed_mentions": NO_PINGS}
    if interaction.response.is_done():
        if screen.files:
            kwargs["attachments"] = screen.files
        await interaction.edit_original_response(view=screen.view, **kwargs)
    elif update:
        if screen.files:
            kwargs["attachments"] = screen.files
        await interaction.response.edit_message(view=screen.view, **kwargs)
    else:
        if screen.view is not None:
            kwargs["view"] = screen.view
        if screen.files:
            kwargs["files"] = screen.files
        await interaction.response.send_message(ephemeral=True, **kwargs)


async def say(interaction: discord.Interaction, text: str) -> None:
    """A short private note (an error's sentence), leaving the screen the person was on as it was."""
    if not interaction.response.is_done():
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_PINGS)
        return
    original = None
    try:
        original = await interaction.original_response()
    except discord.HTTPException:
        pass
    if original is not None and original.flags.loading:  # a deferred "thinking…" message: replace it
        await interaction.edit_original_response(content=text, allowed_mentions=NO_PINGS)
    else:
        await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_PINGS)
