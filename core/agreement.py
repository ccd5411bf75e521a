"""How often a person's ballots agree with the consensus their sibling sets reached."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from itertools import combinations

from sqlalchemy import false, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import Ballot, RankingResult


def pair_agreement(ballot: Sequence[str], order: Sequence[str]) -> float | None:
    """Share of candidate pairs a ballot orders the same way as the consensus (None: no shared pair)."""
    position = {c: i for i, c in enumerate(order)}
    shared = [c for c in ballot if c in position]
    pairs = list(combinations(shared, 2))  # in ballot order: the first of each pair was preferred
    if not pairs:
        return None
    same = sum(1 for a, b in pairs if position[a] < position[b])
    return same / len(pairs)


async def user_agreement(session: AsyncSession, user_id: uuid.UUID) -> tuple[float | None, int]:
    """Mean pair agreement of a user's ballots on scored sibling sets, and how many ballots it covers."""
    rows = await session.execute(
        select(Ballot.ranking, RankingResult.order)
        .join(RankingResult, RankingResult.parent_id == Ballot.parent_id)
        .where(Ballot.user_id == user_id, Ballot.not_rankable == false())
    )
    scores = [s for s in (pair_agreement(r, o) for r, o in rows) if s is not None]
    if not scores:
        return None, 0
    return sum(scores) / len(scores), len(scores)
