"""The Discord client: commands, persistent buttons, modals, reactions and the task board on one loop."""

from __future__ import annotations

import asyncio
import logging

import discord
import yarl
from discord import app_commands

from bots.discord import channels, flow, items, modals, moderation, people, replies
from bots.discord.commands import maintainers, members, moderators
from core.config import Settings
from core.errors import ChorusError
from core.service import Chorus

log = logging.getLogger("chorus.discord")

__all__ = ["ChorusBot", "run_discord", "flow"]


class ChorusTree(app_commands.CommandTree):
    """The command tree: drops redelivered interactions and shows core errors as sentences."""

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        return await people.first_time(interaction)

    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        original = getattr(error, "original", error)
        if isinstance(original, ChorusError):
            await replies.say(interaction, original.message)
            return
        log.error("command %s failed", interaction.command and interaction.command.qualified_name, exc_info=original)
        await replies.say(interaction, replies.OOPS)


class ChorusBot(discord.Client):
    """A Chorus front end on Discord; it keeps nothing in memory that a restart could lose."""

    def __init__(self, core: Chorus, settings: Settings, *, ready: asyncio.Event | None = None):
        intents = discord.Intents.none()
        intents.guilds = True
        intents.guild_reactions = True  # not privileged; no message-content intent is needed
        # Against a loopback endpoint there is no guild stream to wait for.
        wait = 0.05 if settings.discord_api_base else 2.0
        super().__init__(intents=intents, allowed_mentions=replies.NO_PINGS, guild_ready_timeout=wait)
        self.core = core
        self.settings = settings
        self.tree = ChorusTree(self)
        self._ready_signal = ready
        self._jobs: list[asyncio.Task] = []
        self.known_users: dict = {}  # Discord user id -> Chorus user id (see people.person)

    async def setup_hook(self) -> None:
        self.add_dynamic_items(items.ActionButton, items.ActionSelect)
        for command in members.COMMANDS + moderators.COMMANDS + maintainers.COMMANDS:
            self.tree.add_command(command)
        await self.tree.sync()
        self._jobs.append(asyncio.create_task(channels.run_boards(self)))

    async def on_ready(self) -> None:
        log.info("Discord: connected as %s to %d server(s)", self.user, len(self.guilds))
        if self._ready_signal is not None:
            self._ready_signal.set()

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        # Modals are handled here, by custom id, so that one opened before a restart still submits.
        if interaction.type == discord.InteractionType.modal_submit:
            await modals.dispatch(interaction)

    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        try:
            await moderation.on_reaction(self, payload)
        except Exception:
            log.exception("handling a reaction failed")

    async def close(self) -> None:
        for job in self._jobs:
            job.cancel()
        await super().close()


def point_at(settings: Settings) -> None:
    """Send REST and gateway traffic to another Discord-compatible endpoint when configured."""
    if settings.discord_api_base:
        discord.http.Route.BASE = settings.discord_api_base.rstrip("/")
    if settings.discord_gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)


async def run_discord(core: Chorus, settings: Settings, *, ready: asyncio.Event | None = None) -> None:
    """Run the Discord bot until cancelled."""
    point_at(settings)
    bot = ChorusBot(core, settings, ready=ready)
    async with bot:
        await bot.start(settings.discord_token)
