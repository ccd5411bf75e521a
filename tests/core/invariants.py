"""Assert the invariants every Chorus database must satisfy (the checks live in core.simulate)."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select

from core.config import Settings
from core.models import Ballot, Message, Tree
from core.service import Chorus
from core.simulate import check_invariants as find_violations


async def check_invariants(core: Chorus, settings: Settings | None = None) -> dict:
    """Fail the test on any broken rule; return a few counts for the caller's own assertions."""
    problems = await find_violations(core)
    assert not problems, "\n".join(problems[:20])
    async with core.db.read() as s:
        messages = await s.scalar(select(func.count()).select_from(Message))
        ballots = await s.scalar(select(func.count()).select_from(Ballot))
        states = Counter(dict((await s.execute(select(Tree.state, func.count()).group_by(Tree.state))).all()))
    return {"messages": messages, "ballots": ballots, "trees": states}
