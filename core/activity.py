"""Per-user, per-day contribution counters: the ledger that points and leaderboards read."""

from __future__ import annotations

import uuid
from collections import Counter

from sqlalchemy.ext.asyncio import AsyncSession

from core.db import before_commit
from core.models import ACTIVITY_COUNTERS, User, UserActivity, utcnow
from core.sql import add_counts

# A streak survives a gap of up to this many hours without activity (Open-Assistant's rule).
STREAK_GAP_HOURS = 36
TOUCH_EVERY_SECONDS = 300
PENDING = "chorus.activity"  # session.info key of the counts gathered in a transaction


async def count(session: AsyncSession, user_id: uuid.UUID | None, **counters: int) -> None:
    """Add to a user's counters for today (a no-op for imported messages without an author).

    The counts are gathered and written just before the transaction commits, in user-id order:
    two transactions that touch the same people then lock their rows in the same order and
    cannot deadlock (a labeller's row and the author's row, taken in opposite orders, did).
    """
    if user_id is None or not counters:
        return
    unknown = set(counters) - set(ACTIVITY_COUNTERS)
    if unknown:
        raise ValueError(f"unknown activity counters: {sorted(unknown)}")
    if PENDING not in session.info:
        session.info[PENDING] = {}
        before_commit(session, _write_pending)
    session.info[PENDING].setdefault(user_id, Counter()).update(counters)


async def _write_pending(session: AsyncSession) -> None:
    pending: dict[uuid.UUID, Counter] = session.info.pop(PENDING, {})
    day = utcnow().date()
    for user_id in sorted(pending, key=str):
        counters = {name: n for name, n in pending[user_id].items() if n}
        if counters:
            await add_counts(session, UserActivity.__table__, {"user_id": user_id, "day": day}, counters)


def touch(user: User) -> None:
    """Record that the user did something now, keeping or restarting their streak."""
    now = utcnow()
    last = user.last_active_at
    if last is not None and (now - last).total_seconds() < TOUCH_EVERY_SECONDS:
        return  # streaks count hours, not seconds: spare the write
    if last is None or user.streak_start_at is None or (now - last).total_seconds() > STREAK_GAP_HOURS * 3600:
        user.streak_start_at = now
    user.last_active_at = now
