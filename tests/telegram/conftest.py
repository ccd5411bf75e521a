"""Fixtures: a fake Bot API on loopback and the real bot (unmodified PTB) on a fresh database."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from sqlalchemy import select

from bots.telegram.app import run_telegram
from core.models import Identity, Task
from core.service import Chorus
from tests.conftest import make_settings
from tests.telegram.fake_botapi import FakeBotAPI, Sent

# A small tree so that every kind of task is reached in a few steps.
SMALL = dict(
    tree_goal_tree_size=3, tree_reviews_initial_prompt=1, tree_reviews_reply=1, tree_max_children=2,
    tree_ballots_per_sibling_set=1, task_label_mode="simple",
)  # fmt: skip


class Bot:
    """The bot under test: start, stop (a restart is both), and the people's side of the chat."""

    def __init__(self, fake: FakeBotAPI, db_url: str, **overrides):
        self.fake = fake
        self.settings = make_settings(
            db_url, telegram_token=fake.token, telegram_api_base=fake.url, **{**SMALL, **overrides}
        )  # fmt: skip
        self.core = Chorus.open_on(self.settings, seed=5)
        self.task: asyncio.Task | None = None
        self.post_every = 0.0

    async def start(self) -> None:
        """Start run_telegram as `chorus run` does and wait until it polls."""
        ready = asyncio.Event()
        self.task = asyncio.create_task(run_telegram(self.core, self.settings, post_every=self.post_every, ready=ready))
        waiter = asyncio.create_task(ready.wait())
        await asyncio.wait([self.task, waiter], timeout=20, return_when=asyncio.FIRST_COMPLETED)
        if self.task.done():
            self.task.result()  # raise what killed the bot
        assert ready.is_set(), "the bot did not start"

    async def stop(self) -> None:
        """Cancel the bot the way `chorus run` is stopped."""
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
            self.task = None

    def check_alive(self) -> None:
        if self.task is not None and self.task.done():
            self.task.result()

    async def send(self, user: int, text: str, *, chat: int | None = None, reply_to: int | None = None, where=None) -> Sent:
        """A person writes; returns the first bot message after it in that chat matching `where`."""
        after = self.fake.last_id()
        self.fake.say(user, text, chat=chat, reply_to=reply_to)
        return await self.fake.next_message(chat or user, after, where or (lambda m: True))

    async def tap(self, user: int, msg: Sent, label: str) -> dict:
        """A person taps a button; returns the answer to the tap once it came."""
        qid = self.fake.tap(user, msg, label)
        return await self.fake.wait_for(lambda: self.fake.callback_answers.get(qid))

    async def user_id(self, tg_user: int):
        """The Chorus user id of a Telegram account."""
        async with self.core.db.read() as s:
            return await s.scalar(select(Identity.user_id).where(Identity.platform == "telegram", Identity.external_id == str(tg_user)))

    async def tasks_of(self, tg_user: int) -> list[Task]:
        """Every task of a Telegram account, oldest first."""
        uid = await self.user_id(tg_user)
        async with self.core.db.read() as s:
            return list((await s.scalars(select(Task).where(Task.user_id == uid).order_by(Task.created_at))).all())


@pytest.fixture
async def fake():
    """The fake Bot API, listening on loopback."""
    api = FakeBotAPI()
    await api.start()
    yield api
    await api.stop()


@pytest.fixture
async def make_bot(fake, db_url):
    """A factory of bots on the test database (settings overrides as keyword arguments)."""
    bots: list[Bot] = []

    async def make(**overrides) -> Bot:
        bot = Bot(fake, db_url, **overrides)
        bots.append(bot)
        return bot

    yield make
    for bot in bots:
        await bot.stop()
        await bot.core.close()


@pytest.fixture
async def bot(make_bot):
    """A started bot with the small-tree settings."""
    b = await make_bot()
    await b.start()
    return b
