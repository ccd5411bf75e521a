"""Points, levels, streaks, leaderboards and collection statistics.

Everything is read from the per-day ledger (user_activity) that submissions already keep up to date
in their own transaction: a leaderboard is one indexed SUM over the days of its window, so there is
no table to rebuild, no job to schedule, and two bot processes never repeat each other's work.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

from sqlalchemy import false, func, literal, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from core import stats
from core.activity import STREAK_GAP_HOURS
from core.agreement import user_agreement
from core.errors import InvalidInput
from core.levels import POINT_RULES, TROLL_RULES, level_for, points_breakdown, troll_score
from core.models import ACTIVITY_COUNTERS, Role, User, UserActivity, utcnow

# Rolling windows, in days counted back from today (UTC) included; None is all time.
WINDOWS: dict[str, int | None] = {"day": 1, "week": 7, "month": 30, "all": None}


@dataclass(frozen=True)
class PointsView:
    """A user's points, where they come from, their level and their streak."""

    total: int
    breakdown: dict[str, int]
    counts: dict[str, int]
    level: int
    level_name: str
    next_level_at: int | None
    streak_days: int
    # Share of ranked pairs on which the user's ballots matched the final consensus order.
    agreement: float | None = None
    agreement_ballots: int = 0
    troll_score: int = 0


@dataclass(frozen=True)
class LeaderRow:
    """One line of a leaderboard (equal points share a position)."""

    position: int
    user_id: uuid.UUID
    display_name: str
    points: int


@dataclass(frozen=True)
class TrollRow:
    """One line of the moderators' troll board, with the counters behind the score."""

    position: int
    user_id: uuid.UUID
    display_name: str
    score: int
    banned: bool
    counts: dict[str, int] = field(default_factory=dict)


def window_start(window: str, today: dt.date | None = None) -> dt.date | None:
    """The first day a window covers (None: all time); a clear error for an unknown window."""
    if window not in WINDOWS:
        raise InvalidInput(f"'{window}' is not a leaderboard window: use {', '.join(WINDOWS)}.")
    days = WINDOWS[window]
    if days is None:
        return None
    return (today or utcnow().date()) - dt.timedelta(days=days - 1)


def _points_sql(sums):
    """OA's formula as a SQL expression over per-user sums (integer division for the ⌊0.1·x⌋ terms)."""
    expr = literal(0)
    for name, weight, divisor in POINT_RULES:
        col = func.coalesce(sums.c[name], 0)
        expr = expr + weight * (col // divisor if divisor != 1 else col)
    return expr


def _troll_sql(sums):
    expr = literal(0)
    for name, weight in TROLL_RULES:
        expr = expr + weight * func.coalesce(sums.c[name], 0)
    return expr


def _sums(names, start: dt.date | None):
    q = select(UserActivity.user_id, *[func.sum(UserActivity.__table__.c[n]).label(n) for n in names])
    if start is not None:
        q = q.where(UserActivity.day >= start)  # served by ix_user_activity_day
    return q.group_by(UserActivity.user_id).subquery()


def _positions(rows: list, value) -> list[int]:
    """Competition ranking (1, 2, 2, 4) of rows already sorted best first."""
    out, prev = [], None
    for i, row in enumerate(rows):
        v = value(row)
        out.append(out[-1] if v == prev else i + 1)
        prev = v
    return out


async def _counts(session: AsyncSession, user_id: uuid.UUID) -> dict[str, int]:
    row = (
        await session.execute(
            select(*[func.coalesce(func.sum(UserActivity.__table__.c[n]), 0) for n in ACTIVITY_COUNTERS]).where(
                UserActivity.user_id == user_id
            )
        )
    ).one()
    return {n: int(v) for n, v in zip(ACTIVITY_COUNTERS, row)}


def streak_days(user: User, now: dt.datetime | None = None) -> int:
    """Days in the user's current streak (today included); 0 once 36 hours passed without activity."""
    now = now or utcnow()
    last, start = user.last_active_at, user.streak_start_at
    if last is None or start is None or (now - last).total_seconds() > STREAK_GAP_HOURS * 3600:
        return 0
    return (last.date() - start.date()).days + 1


class PointsAPI:
    """Mixin of the service: points, leaderboards, the troll board and collection statistics."""

    async def user_points(self, user_id: uuid.UUID) -> PointsView:
        """A user's all-time points with their breakdown, level, streak and agreement."""
        async with self.db.read() as s:
            user = await self._user(s, user_id, allow_banned=True)
            counts = await _counts(s, user.id)
            breakdown = points_breakdown(counts)
            total = sum(breakdown.values())
            level, next_at = level_for(total)
            agreement, n_ballots = await user_agreement(s, user.id)
            return PointsView(
                total=total, breakdown=breakdown, counts=counts, level=level.number, level_name=level.name,
                next_level_at=next_at, streak_days=streak_days(user), agreement=agreement,
                agreement_ballots=n_ballots, troll_score=troll_score(counts),
            )  # fmt: skip

    async def leaderboard(self, window: str = "all", *, limit: int = 10) -> list[LeaderRow]:
        """The top contributors of a window (day, week, month, all), banned and purged users left out."""
        start = window_start(window)
        limit = _check_limit(limit)
        sums = _sums([n for n, _, _ in POINT_RULES], start)
        points = _points_sql(sums).label("points")
        q = (
            select(User.id, User.display_name, points)
            .join(sums, sums.c.user_id == User.id)
            .where(User.banned == false(), User.enabled == true(), points > 0)
            .order_by(points.desc(), User.display_name, User.id)
            .limit(limit)
        )
        async with self.db.read() as s:
            rows = (await s.execute(q)).all()
        pos = _positions(rows, lambda r: r.points)
        return [LeaderRow(p, r.id, r.display_name, int(r.points)) for p, r in zip(pos, rows)]

    async def leaderboard_position(self, user_id: uuid.UUID, window: str = "all") -> tuple[int, int] | None:
        """A user's position and points in a window (None when they have no points there)."""
        start = window_start(window)
        sums = _sums([n for n, _, _ in POINT_RULES], start)
        points = _points_sql(sums)
        per_user = (
            select(sums.c.user_id, points.label("points"))
            .join(User, User.id == sums.c.user_id)
            .where(User.banned == false(), User.enabled == true())
            .subquery()
        )
        async with self.db.read() as s:
            mine = await s.scalar(select(per_user.c.points).where(per_user.c.user_id == user_id))
            if not mine:
                return None
            ahead = await s.scalar(select(func.count()).select_from(per_user).where(per_user.c.points > mine))
            return int(ahead) + 1, int(mine)

    async def troll_board(self, actor_id: uuid.UUID, *, limit: int = 20) -> list[TrollRow]:
        """Users with the highest troll scores, for moderators only."""
        limit = _check_limit(limit)
        names = [n for n, _ in TROLL_RULES]
        sums = _sums(names, None)
        score = _troll_sql(sums).label("score")
        q = (
            select(User.id, User.display_name, User.banned, score, *[sums.c[n] for n in names])
            .join(sums, sums.c.user_id == User.id)
            .where(User.enabled == true(), score > 0)
            .order_by(score.desc(), User.display_name, User.id)
            .limit(limit)
        )
        async with self.db.read() as s:
            await self._require(s, actor_id, Role.moderator)
            rows = (await s.execute(q)).all()
        pos = _positions(rows, lambda r: r.score)
        return [
            TrollRow(p, r.id, r.display_name, int(r.score), bool(r.banned), {n: int(getattr(r, n) or 0) for n in names})
            for p, r in zip(pos, rows)
        ]

    async def collection_stats(self, *, lang: str | None = None) -> dict:
        """Trees by state, messages, rankings and labels, overall (with a per-language table) or for one language."""
        async with self.db.read() as s:
            return await stats.collection_stats(s, lang or None)


def _check_limit(limit: int) -> int:
    if not isinstance(limit, int) or not 1 <= limit <= 1000:
        raise InvalidInput("The number of rows must be between 1 and 1000.")
    return limit
