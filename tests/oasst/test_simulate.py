"""`chorus simulate` drives trees to ready_for_export through the service API, every invariant intact."""

from __future__ import annotations


import pytest
from sqlalchemy import select, update

from core.models import Ballot, Message, Tree
from core.service import Chorus
from core.simulate import check_invariants, parse_langs, simulate
from tests.conftest import make_settings
from tests.oasst.test_export import SMALL


@pytest.mark.parametrize("concurrency", [1, 4])
async def test_simulation_reaches_ready_for_export(db_url, concurrency):
    core = Chorus.open_on(make_settings(db_url, **SMALL), seed=11)
    try:
        summary = await simulate(core, users=12, tasks=400, seed=11, langs={"en": 0.7, "de": 0.3}, concurrency=concurrency)
        assert summary["invariant_violations"] == []
        assert summary["trees"].get("ready_for_export", 0) >= 2, summary
        done = summary["done"]
        for kind in ("initial_prompt", "assistant_reply", "label_initial_prompt", "rank_assistant_replies"):
            assert done.get(kind, 0) > 0, (kind, summary)
        assert sum(done.values()) + sum(summary["errors"].values()) == 400
        # Refusals (a slot taken meanwhile) are expected under concurrency; faults are not.
        assert not [e for e in summary["errors"] if e.startswith("internal:")], summary["errors"]
        async with core.db.read() as s:
            langs = set((await s.scalars(select(Tree.lang))).all())
            ranked = (await s.scalars(select(Message).where(Message.rank.is_not(None)))).all()
        assert langs == {"en", "de"} and ranked
    finally:
        await core.close()


async def test_invariant_check_catches_broken_rules(db_url):
    core = Chorus.open_on(make_settings(db_url, **SMALL), seed=5)
    try:
        summary = await simulate(core, users=8, tasks=300, seed=5, spammers=0)
        assert summary["invariant_violations"] == [] and summary["trees"].get("ready_for_export")
        async with core.db.read() as s:
            ranked = (await s.scalars(select(Message).where(Message.rank == 1))).first()
            child = (await s.scalars(select(Message).where(Message.depth == 1))).first()
        # A ranking by the author of one of the replies it ranks.
        async with core.db.tx() as s:
            s.add(Ballot(parent_id=ranked.parent_id, user_id=ranked.user_id, ranking=[str(ranked.id)]))
        problems = await check_invariants(core)
        assert any("holding their own reply" in p for p in problems), problems
        # Two replies ranked first in one sibling set.
        async with core.db.tx() as s:
            await s.execute(update(Message).where(Message.id == ranked.id).values(rank=0))
        assert any("not a permutation" in p for p in await check_invariants(core))
        # A prompter replying to a prompter.
        async with core.db.tx() as s:
            await s.execute(update(Message).where(Message.id == child.id).values(role="prompter"))
        assert any("roles do not alternate" in p for p in await check_invariants(core))
    finally:
        await core.close()


def test_language_mix_parsing():
    assert parse_langs("en=0.7, de=0.3") == {"en": 0.7, "de": 0.3}
    assert parse_langs(None) == {"en": 1.0} and parse_langs("es") == {"es": 1.0}
    for bad in ("en=lots", "=0.5", "en=0"):
        with pytest.raises(ValueError):
            parse_langs(bad)


async def test_bad_arguments_are_refused(db_url):
    core = Chorus.open_on(make_settings(db_url), seed=1)
    try:
        with pytest.raises(ValueError):
            await simulate(core, users=0, tasks=10)
    finally:
        await core.close()
