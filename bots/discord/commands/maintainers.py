"""/admin: roles and per-server settings (maintainers, or the server's own admins for its settings)."""

from __future__ import annotations

import asyncio
import io
import uuid

import discord
from discord import app_commands

from bots.discord import channels, moderation, roles
from bots.discord.people import person
from bots.discord.replies import Screen, answer
from bots.render import escape_discord
from core import exporting
from core.errors import InvalidInput, PermissionDenied
from core.models import Role, TreeState
from core.oasst_export import ExportOptions

admin = app_commands.Group(name="admin", description="Maintainer tools: roles, this server's settings, export")


async def _settings_actor(interaction: discord.Interaction) -> uuid.UUID | None:
    """Who changes a server's settings: a maintainer, or (vouched by Discord) one of the server's admins."""
    user = await person(interaction)
    if Role(user.role).level >= Role.maintainer.level:
        return user.id
    if roles.is_server_admin(interaction):
        return None
    raise PermissionDenied("Only maintainers or this server's admins may change its settings.")


async def _update(interaction: discord.Interaction, **changes) -> dict:
    if interaction.guild_id is None:
        raise InvalidInput("Server settings can only be changed inside a server.")
    actor = await _settings_actor(interaction)
    return await interaction.client.core.update_community_settings(actor, "discord", interaction.guild_id, **changes)


def _describe(settings: dict) -> str:
    def channel(v):
        return f"<#{v}>" if v else "not set"

    def role_list(ids):
        return ", ".join(f"<@&{i}>" for i in ids) or "none"

    return "\n".join([
        "**Chorus settings for this server**",
        f"Language of posted tasks: {settings['lang'] or 'each member’s own'}",
        f"Task channel: {channel(settings['task_channel'])}, every {settings['post_interval_minutes']} minutes",
        f"Moderation channel: {channel(settings['moderation_channel'])}",
        f"Moderator roles: {role_list(settings['moderator_roles'])}",
        f"Maintainer roles: {role_list(settings['maintainer_roles'])}",
        f"Reactions: approve {settings['approve_emoji'] or '✅'}, reject {settings['reject_emoji'] or '❌'}",
    ])  # fmt: skip


@admin.command(name="settings", description="Show this server's Chorus settings")
async def show(interaction: discord.Interaction) -> None:
    """Show the settings."""

    async def work() -> Screen:
        return Screen(_describe(await interaction.client.core.community_settings("discord", interaction.guild_id or 0)))

    await answer(interaction, work())


@admin.command(name="channel", description="Choose the channel for the task board or for moderation")
@app_commands.describe(purpose="what the channel is for", channel="the channel")
@app_commands.choices(purpose=[app_commands.Choice(name="task board", value="task_channel"),
                               app_commands.Choice(name="moderation", value="moderation_channel")])  # fmt: skip
async def channel(interaction: discord.Interaction, purpose: app_commands.Choice[str], channel: discord.TextChannel) -> None:
    """Set the task or moderation channel; what waited for moderators meanwhile is posted there now."""
    waiting: list = []

    async def work() -> Screen:
        text = _describe(await _update(interaction, **{purpose.value: str(channel.id)}))
        if purpose.value == "moderation_channel":
            found = await moderation.backlog(interaction.client, interaction.guild_id, await person(interaction))
            if found is None:
                text += "\nWhat was waiting before is posted there when a moderator runs /mod queue."
            elif found:
                waiting.extend(found)
                text += f"\nPosting the {len(found)} item(s) that were waiting for moderators."
        return Screen(text)

    await answer(interaction, work())
    if purpose.value == "task_channel" and interaction.response.is_done():
        await channels.post_due_boards(interaction.client)  # the first board now, then on schedule
    await moderation.post_items(interaction.client, interaction.guild_id, waiting)


@admin.command(name="roles", description="Make a server role give Chorus moderator or maintainer rights")
@app_commands.describe(purpose="the Chorus role it gives", role="the server role", remove="take the mapping away")
@app_commands.choices(purpose=[app_commands.Choice(name="moderator", value="moderator_roles"),
                               app_commands.Choice(name="maintainer", value="maintainer_roles")])  # fmt: skip
async def role_map(interaction: discord.Interaction, purpose: app_commands.Choice[str], role: discord.Role,
                   remove: bool = False) -> None:  # fmt: skip
    """Map a server role to a Chorus role."""

    async def work() -> Screen:
        current = await interaction.client.core.community_settings("discord", interaction.guild_id or 0)
        ids = [i for i in current[purpose.value] if i != str(role.id)] + ([] if remove else [str(role.id)])
        return Screen(_describe(await _update(interaction, **{purpose.value: ids})))

    await answer(interaction, work())


SETTABLE = {"lang": "language of posted tasks", "post_interval_minutes": "minutes between task boards",
            "approve_emoji": "reaction that approves", "reject_emoji": "reaction that rejects"}  # fmt: skip


@admin.command(name="set", description="Change one of this server's settings")
@app_commands.describe(setting="which setting", value="its new value (empty for the default)")
@app_commands.choices(setting=[app_commands.Choice(name=v, value=k) for k, v in SETTABLE.items()])
async def set_(interaction: discord.Interaction, setting: app_commands.Choice[str], value: str = "") -> None:
    """Change a setting."""

    async def work() -> Screen:
        parsed: object = value.strip() or None
        if setting.value == "post_interval_minutes":
            if not value.strip().isdigit() or not 1 <= int(value) <= 10080:
                raise InvalidInput("The interval is a number of minutes between 1 and 10080 (a week).")
            parsed = int(value)
        elif setting.value == "lang" and parsed and not all(p.isalnum() for p in str(parsed).split("-")):
            raise InvalidInput(f"'{value}' is not a language code. Use a code such as en, de or pt-BR.")
        elif setting.value.endswith("emoji") and parsed and len(str(parsed)) > 60:
            raise InvalidInput("That does not look like one emoji.")
        return Screen(_describe(await _update(interaction, **{setting.value: parsed})))

    await answer(interaction, work())


@admin.command(name="role", description="Give a member a Chorus role")
@app_commands.describe(member="the member", role="the role")
@app_commands.choices(role=[app_commands.Choice(name=r.value, value=r.value) for r in Role])
async def give_role(interaction: discord.Interaction, member: discord.Member, role: app_commands.Choice[str]) -> None:
    """Set a member's Chorus role (maintainers only)."""

    async def work() -> Screen:
        core = interaction.client.core
        actor = await person(interaction)
        target = await core.user_from_identity("discord", member.id, display_name=member.display_name, username=member.name)
        done = await core.set_role(actor.id, target.id, role.value, reason=f"/admin role by {actor.display_name}")
        return Screen(f"{escape_discord(done.display_name)} is now a {done.role}.")

    await answer(interaction, work())


EXPORT_STATES = ["ready_for_export", "all"] + [s.value for s in TreeState if s != TreeState.ready_for_export]


@admin.command(name="export", description="Export conversation trees as an oasst JSONL.gz file (maintainers only)")
@app_commands.describe(state="which trees (ready for export when left empty)", language="only trees in this language code",
                       anonymize_seed="replace ids by hashes keyed by this secret (real ids when left empty)")  # fmt: skip
@app_commands.choices(state=[app_commands.Choice(name=s.replace("_", " "), value=s) for s in EXPORT_STATES])
async def export(interaction: discord.Interaction, state: app_commands.Choice[str] | None = None,
                 language: str | None = None, anonymize_seed: str | None = None) -> None:  # fmt: skip
    """Send the maintainer an oasst trees export as a private attachment."""

    async def work() -> Screen:
        lang = language.strip() if language else None
        if lang and not all(p.isalnum() for p in lang.split("-")):
            raise InvalidInput(f"'{language}' is not a language code. Use a code such as en, de or pt-BR.")
        opts = ExportOptions(state=state.value if state else "ready_for_export", lang=lang or None, anonymize=anonymize_seed)
        user = await person(interaction)
        done = await exporting.export_for_chat(interaction.client.core, user.id, opts)
        try:
            # Checked here, not left to Discord: an upload it refuses would lose the answer.
            if done.size > interaction.filesize_limit:
                raise InvalidInput(exporting.too_big(done, "Discord", interaction.filesize_limit))
            data = await asyncio.to_thread(done.path.read_bytes)
        finally:
            await asyncio.to_thread(done.discard)
        return Screen(exporting.describe(done, opts), files=[discord.File(io.BytesIO(data), filename=done.name)])

    await answer(interaction, work())


COMMANDS = [admin]
