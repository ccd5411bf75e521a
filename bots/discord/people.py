"""Who is acting: the Chorus user behind an interaction, and whether this delivery is the first."""

from __future__ import annotations

import discord

import uuid

from bots.discord import replies, roles
from core.views import UserView

# Each bot keeps Discord account -> Chorus user id (bot.known_users). An identity never moves to
# another user, so this caches a fact, not state: a restart costs one lookup per person, and it
# saves a write transaction per interaction.
_KNOWN_MAX = 100_000


async def person(interaction: discord.Interaction) -> UserView:
    """The Chorus user behind an interaction, created on first sight, role synced with the server's."""
    core = interaction.client.core
    who = interaction.user
    known: dict[int, uuid.UUID] = interaction.client.known_users
    uid = known.get(who.id)
    if uid is not None:
        user = await core.get_user(uid)
    else:
        user = await core.user_from_identity("discord", who.id, display_name=who.display_name, username=who.name)
        if len(known) >= _KNOWN_MAX:
            known.clear()
        known[who.id] = user.id
    return await roles.synced(core, user, interaction.guild_id, roles.role_ids(who))


async def first_time(interaction: discord.Interaction) -> bool:
    """False for a redelivered interaction (a RESUME replay, a second process): it must be dropped."""
    replies.mark_arrival(interaction)
    return await interaction.client.core.first_delivery("discord", f"interaction:{interaction.id}")
