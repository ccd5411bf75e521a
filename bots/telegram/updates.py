"""How updates are taken in: redeliveries dropped, one chat at a time in order, chats in parallel."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from telegram import Update
from telegram.ext import ApplicationHandlerStop, BaseUpdateProcessor

from bots.telegram.common import PLATFORM, Context, core_of


class ChatOrderedProcessor(BaseUpdateProcessor):
    """Process updates of different chats concurrently and those of one chat in arrival order.

    Taps on one ranking must apply in order (the order is read, extended and written back), while
    a hundred members must not wait for each other.
    """

    def __init__(self, max_concurrent_updates: int = 256):
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, tuple[asyncio.Lock, list[int]]] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable) -> None:
        """Run the handlers of one update under its chat's lock."""
        key = _chat_key(update)
        if key is None:
            await coroutine
            return
        lock, users = self._locks.setdefault(key, (asyncio.Lock(), [0]))
        users[0] += 1
        try:
            async with lock:
                await coroutine
        finally:
            users[0] -= 1
            if users[0] == 0:
                self._locks.pop(key, None)

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to free."""


def _chat_key(update: object) -> int | None:
    if isinstance(update, Update):
        chat = update.effective_chat
        if chat is not None:
            return chat.id
        if update.effective_user is not None:
            return update.effective_user.id
    return None


async def drop_redelivered(update: Update, context: Context) -> None:
    """Stop an update seen before: getUpdates and webhooks deliver at least once."""
    if not await core_of(context).first_delivery(PLATFORM, f"{context.bot.id}:{update.update_id}"):
        raise ApplicationHandlerStop
