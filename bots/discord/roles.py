"""Chorus roles from server roles: each server names which of its roles are moderators and maintainers."""

from __future__ import annotations

from collections.abc import Iterable

import discord

from core.models import Role
from core.views import UserView


def role_for(role_ids: Iterable[int | str], settings: dict) -> Role | None:
    """The Chorus role a member's server roles give, or None when the server maps no roles at all."""
    moderators = {str(r) for r in settings.get("moderator_roles") or []}
    maintainers = {str(r) for r in settings.get("maintainer_roles") or []}
    if not moderators and not maintainers:
        return None  # roles were given in Chorus itself (/admin role): leave them alone
    held = {str(r) for r in role_ids}
    if held & maintainers:
        return Role.maintainer
    if held & moderators:
        return Role.moderator
    return Role.member


def role_ids(member: discord.abc.User | discord.Member | None) -> list[int]:
    """The ids of a member's server roles (none for a user outside a server)."""
    # The raw ids from the event itself: Member.roles drops roles missing from the cache, and a role
    # created a moment ago may not be cached yet.
    raw = getattr(member, "_roles", None)
    if raw is not None:
        return [int(r) for r in raw]
    return [r.id for r in getattr(member, "roles", [])]


async def synced(core, user: UserView, guild_id: int | None, ids: Iterable[int]) -> UserView:
    """The user with their role brought in line with their server roles."""
    if guild_id is None:
        return user
    role = role_for(ids, await core.community_settings("discord", guild_id))
    if role is None or role.value == user.role:
        return user
    await core.sync_platform_role(user.id, role, source=f"discord:{guild_id}")
    return await core.get_user(user.id)


def is_server_admin(interaction: discord.Interaction) -> bool:
    """Whether Discord itself lets this member manage the server (they may configure Chorus there)."""
    perms = interaction.permissions
    return interaction.guild_id is not None and (perms.administrator or perms.manage_guild)
