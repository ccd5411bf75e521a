"""The moderation channel: prompts awaiting review and reported messages, decided by a moderator's reaction."""

from __future__ import annotations

import logging

import discord

from bots.discord import roles
from bots.discord.pages import quoted
from bots.discord.replies import NO_PINGS
from bots.render import escape_discord, split_text
from core.errors import ChorusError
from core.models import Role
from core.moderation import QueueItem
from core.views import MessageView, UserView

log = logging.getLogger("chorus.discord")

APPROVE, REJECT = "✅", "❌"
POST_BODY = 1500  # characters of the message per post; longer ones take several posts


def emojis(settings: dict) -> tuple[str, str]:
    """The approve and reject reactions of a server."""
    return settings.get("approve_emoji") or APPROVE, settings.get("reject_emoji") or REJECT


async def _post(bot: discord.Client, guild_id: int, kind: str, message: MessageView, title: str, ask: str) -> None:
    core = bot.core
    settings = await core.community_settings("discord", guild_id)
    channel_id = settings.get("moderation_channel")
    if not channel_id:
        return
    approve, reject = emojis(settings)
    channel = bot.get_partial_messageable(int(channel_id), guild_id=guild_id)
    parts = split_text(message.text, POST_BODY)
    for i, part in enumerate(parts):
        label = f"{message.role} message" if len(parts) == 1 else f"{message.role} message ({i + 1}/{len(parts)})"
        text = f"{title}\n{quoted(label, part)}"
        last = i == len(parts) - 1
        if last:
            text += f"\n{ask.format(approve=approve, reject=reject)}\n-# id {message.id}"
        sent = await channel.send(text, allowed_mentions=NO_PINGS)
        # Every part maps to the message, so a reaction on any of them counts.
        await core.record_post("discord", channel_id, sent.id, kind, message.id)
        if last:
            await sent.add_reaction(approve)
            await sent.add_reaction(reject)


async def post_review(bot: discord.Client, guild_id: int, message: MessageView) -> None:
    """Post a new prompt for moderators to approve or reject."""
    try:
        await _post(bot, guild_id, "review", message, "📝 **A new prompt awaits review.**",
                    "React {approve} to approve or {reject} to reject.")  # fmt: skip
    except (discord.HTTPException, ChorusError):
        log.exception("could not post a review in guild %s (it stays in /mod queue)", guild_id)


async def post_report(bot: discord.Client, guild_id: int, message: MessageView, reason: str) -> None:
    """Post a reported message for moderators to keep or delete."""
    title = f"🚩 **A message was reported:** {escape_discord(reason[:300])}"
    try:
        await _post(bot, guild_id, "report", message, title, "React {approve} to keep it or {reject} to delete it.")
    except (discord.HTTPException, ChorusError):
        log.exception("could not post a report in guild %s (it stays in /mod queue)", guild_id)


async def backlog(bot: discord.Client, guild_id: int, actor: UserView, *, limit: int = 50) -> list[QueueItem] | None:
    """Queue items no post in this server's moderation channel shows yet; None when the actor may not read the queue."""
    if Role(actor.role).level < Role.moderator.level:
        return None
    core = bot.core
    channel_id = str((await core.community_settings("discord", guild_id)).get("moderation_channel") or "")
    waiting = []
    for item in await core.moderation_queue(actor.id, limit=limit):
        posts = await core.posts_of(item.kind, item.message.id)
        if not [p for p in posts if p.platform == "discord" and str(p.chat_id) == channel_id]:
            waiting.append(item)
    return waiting


async def post_items(bot: discord.Client, guild_id: int, items: list[QueueItem]) -> None:
    """Post queue items in the server's moderation channel, oldest first."""
    for item in items:
        if item.kind == "review":
            await post_review(bot, guild_id, item.message)
        else:
            await post_report(bot, guild_id, item.message, "; ".join(item.reasons))


async def on_reaction(bot: discord.Client, payload: discord.RawReactionActionEvent) -> None:
    """A reaction on a moderation post: a moderator's decision; anyone else's changes nothing."""
    if bot.user is not None and payload.user_id == bot.user.id or payload.guild_id is None:
        return
    core = bot.core
    post = await core.find_post("discord", payload.channel_id, payload.message_id)
    if post is None or post.kind not in ("review", "report"):
        return
    settings = await core.community_settings("discord", payload.guild_id)
    approve, reject = emojis(settings)
    emoji = str(payload.emoji)
    if emoji not in (approve, reject):
        return
    member = payload.member
    name = member.display_name if member else str(payload.user_id)
    user = await core.user_from_identity("discord", payload.user_id, display_name=name)
    user = await roles.synced(core, user, payload.guild_id, roles.role_ids(member))
    if Role(user.role).level < Role.moderator.level:
        return
    if not await core.first_delivery("discord", f"reaction:{payload.message_id}:{payload.user_id}:{emoji}"):
        return
    accept = emoji == approve
    try:
        if post.kind == "review":
            await core.review(user.id, post.object_id, accept)
            said = "approved the prompt" if accept else "rejected the prompt"
        else:
            await core.resolve_reports(user.id, post.object_id, action="dismiss" if accept else "delete")
            said = "kept the message and dismissed the reports" if accept else "deleted the message"
        text = f"{emoji} {escape_discord(name)} {said}."
    except ChorusError as exc:
        text = f"{escape_discord(name)}: {exc.message}"
    channel = bot.get_partial_messageable(payload.channel_id, guild_id=payload.guild_id)
    reference = channel.get_partial_message(payload.message_id)
    await channel.send(text, reference=reference, mention_author=False, allowed_mentions=NO_PINGS)
