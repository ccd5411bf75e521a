"""Fixtures: a fake Discord on loopback, and the real bot (run_discord) connected to it on a real database."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from bots.discord.app import run_discord
from core.service import Chorus
from tests.conftest import make_settings
from tests.discord.fake_discord import FakeDiscord

SMALL = dict(
    tree_goal_tree_size=5, tree_reviews_initial_prompt=2, tree_reviews_reply=2, tree_max_tree_depth=2,
    tree_ballots_per_sibling_set=2, tree_max_children=2,
)  # fmt: skip


class Harness:
    """The fake Discord, the bot process running against it, and the core both share."""

    def __init__(self, fake: FakeDiscord, db_url: str, overrides: dict):
        self.fake = fake
        self.settings = make_settings(
            db_url, discord_token="fake-token", discord_api_base=fake.api_base, discord_gateway_url=fake.gateway_url,
            **overrides,
        )  # fmt: skip
        self.core = Chorus.open_on(self.settings, seed=7)
        self.bot: asyncio.Task | None = None
        self.bot_core: Chorus | None = None

    async def start(self) -> None:
        """Start (or restart) the bot and wait until it is connected."""
        ready = asyncio.Event()
        self.bot_core = Chorus.open_on(self.settings, seed=11)  # the bot process's own connections
        self.bot = asyncio.create_task(run_discord(self.bot_core, self.settings, ready=ready))
        waiter = asyncio.create_task(ready.wait())
        done, _ = await asyncio.wait({self.bot, waiter}, timeout=15, return_when=asyncio.FIRST_COMPLETED)
        if self.bot in done:
            self.bot.result()  # raise the bot's failure here rather than time out
        assert waiter in done, "the bot did not get ready"

    async def stop(self) -> None:
        """Stop the bot as a crash or a deploy would."""
        if self.bot is not None:
            self.bot.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.bot
            self.bot = None
            await self.bot_core.close()  # as the process exiting would: its open transactions end


@pytest.fixture
def overrides() -> dict:
    """Settings overrides for the test's core (a small tree by default)."""
    return dict(SMALL)


@pytest.fixture
async def discord_env(db_url, overrides):
    """A running bot against a fake Discord; fails the test if Discord would have refused anything."""
    fake = FakeDiscord()
    await fake.start()
    env = Harness(fake, db_url, overrides)
    await env.start()
    try:
        yield env
    finally:
        await env.stop()
        await env.core.close()
        await fake.stop()
    assert fake.errors == [], fake.errors
    assert fake.pings == [], fake.pings
    late = [i.id for i in fake.interactions.values() if i.response_type is None]
    assert not late, f"interactions never answered: {late}"
