"""/mod: the moderators' commands (the core checks that the person is a moderator)."""

from __future__ import annotations

import discord
from discord import app_commands

from bots.discord import moderation
from bots.discord.people import person
from bots.discord.replies import Screen, answer
from bots.render import escape_discord, short
from core.errors import NotFound

mod = app_commands.Group(name="mod", description="Moderator tools: the queue, bans, deletions, halting trees")


async def _target(interaction: discord.Interaction, member: discord.Member | discord.User):
    found = await interaction.client.core.find_user("discord", member.id)
    if found is None:
        raise NotFound(f"{member.display_name} has not taken part in Chorus yet.")
    return found


@mod.command(name="queue", description="Post the prompts awaiting review and the reported messages here for decision")
@app_commands.describe(kind="only reviews or only reports")
@app_commands.choices(kind=[app_commands.Choice(name="prompts awaiting review", value="review"),
                            app_commands.Choice(name="reported messages", value="report")])  # fmt: skip
async def queue(interaction: discord.Interaction, kind: app_commands.Choice[str] | None = None) -> None:
    """Post the queue's open items in the moderation channel (once each)."""
    posted: list = []

    async def work() -> Screen:
        core = interaction.client.core
        user = await person(interaction)
        items = await core.moderation_queue(user.id, kind=kind.value if kind else None, limit=10)
        if not items:
            return Screen("The moderation queue is empty.")
        lines = [f"{len(items)} item(s) in the queue:"]
        for item in items:
            lines.append(f"• {item.kind}: {escape_discord(short(item.message.text, 80))} (`{item.message.id}`)")
            if not [p for p in await core.posts_of(item.kind, item.message.id) if p.platform == "discord"]:
                posted.append(item)
        if posted:
            lines.append(f"{len(posted)} posted in the moderation channel for a decision by reaction.")
        return Screen("\n".join(lines))

    await answer(interaction, work())
    for item in posted:
        if item.kind == "review":
            await moderation.post_review(interaction.client, interaction.guild_id, item.message)
        else:
            await moderation.post_report(interaction.client, interaction.guild_id, item.message, "; ".join(item.reasons))


@mod.command(name="ban", description="Ban a member from Chorus")
@app_commands.describe(member="who to ban", reason="why (kept in the audit log)")
async def ban(interaction: discord.Interaction, member: discord.Member, reason: str) -> None:
    """Ban a member."""

    async def work() -> Screen:
        user = await person(interaction)
        banned = await interaction.client.core.ban_user(user.id, (await _target(interaction, member)).id, reason=reason)
        return Screen(f"{escape_discord(banned.display_name)} is banned from Chorus.")

    await answer(interaction, work())


@mod.command(name="unban", description="Lift a member's ban")
@app_commands.describe(member="who to unban", reason="why (kept in the audit log)")
async def unban(interaction: discord.Interaction, member: discord.Member, reason: str | None = None) -> None:
    """Unban a member."""

    async def work() -> Screen:
        user = await person(interaction)
        back = await interaction.client.core.unban_user(user.id, (await _target(interaction, member)).id, reason=reason)
        return Screen(f"{escape_discord(back.display_name)} may take part again.")

    await answer(interaction, work())


@mod.command(name="delete", description="Delete a message (and the replies under it) from the data")
@app_commands.describe(message="the message id shown in the moderation channel", reason="why")
async def delete(interaction: discord.Interaction, message: str, reason: str | None = None) -> None:
    """Delete a message."""

    async def work() -> Screen:
        user = await person(interaction)
        n = await interaction.client.core.delete_message(user.id, message.strip(), reason=reason)
        return Screen(f"Deleted {n} message(s).")

    await answer(interaction, work())


@mod.command(name="undelete", description="Bring back a deleted message")
@app_commands.describe(message="the message id", reason="why")
async def undelete(interaction: discord.Interaction, message: str, reason: str | None = None) -> None:
    """Undelete a message."""

    async def work() -> Screen:
        user = await person(interaction)
        n = await interaction.client.core.undelete_message(user.id, message.strip(), reason=reason)
        return Screen(f"Restored {n} message(s).")

    await answer(interaction, work())


@mod.command(name="halt", description="Stop a conversation tree from growing")
@app_commands.describe(tree="the tree id or any message id in it", reason="why")
async def halt(interaction: discord.Interaction, tree: str, reason: str) -> None:
    """Halt a tree."""

    async def work() -> Screen:
        user = await person(interaction)
        state = await interaction.client.core.halt_tree(user.id, tree.strip(), reason=reason)
        return Screen(f"The tree is halted (state: {state}).")

    await answer(interaction, work())


@mod.command(name="resume", description="Let a halted conversation tree grow again")
@app_commands.describe(tree="the tree id or any message id in it", reason="why")
async def resume(interaction: discord.Interaction, tree: str, reason: str | None = None) -> None:
    """Resume a tree."""

    async def work() -> Screen:
        user = await person(interaction)
        state = await interaction.client.core.resume_tree(user.id, tree.strip(), reason=reason)
        return Screen(f"The tree is active again (state: {state}).")

    await answer(interaction, work())


COMMANDS = [mod]
