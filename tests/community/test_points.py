"""Points formula, levels, streaks, leaderboards, the troll board, statistics and agreement."""

from __future__ import annotations

import datetime as dt

import pytest

from bots.render import points_in_words, stats_lines
from core.agreement import pair_agreement
from core.errors import PermissionDenied
from core.levels import POINT_RULES, level_for
from core.models import User, UserActivity, utcnow
from core.points import streak_days
from core.sql import add_counts
from tests.community.helpers import grown_tree, open_core, people, staff
from tests.core.invariants import check_invariants

# A worked example of OA's formula (see core/levels.py and OA_REFERENCE.md):
WORKED = dict(
    prompts=25,  # ⌊25/10⌋ = 2
    assistant_replies=3,  # 4·3 = 12
    prompter_replies=2,  # 2
    labels_simple=4,  # 4
    labels_full=5,  # 2·5 = 10
    rankings=7,  # 7
    accepted_prompts=12,  # ⌊12/10⌋ = 1
    accepted_assistant_replies=2,  # 4·2 = 8
    accepted_prompter_replies=1,  # 1
    ranked_first=1,  # 9
    ranked_second=2,  # 3·2 = 6
    ranked_third=1,  # 1
)  # total 63


async def ledger(core, user_id, day: dt.date, **counts) -> None:
    """Write a day of the activity ledger directly (the setup for past days)."""
    async with core.db.tx() as s:
        await add_counts(s, UserActivity.__table__, {"user_id": user_id, "day": day}, counts)


async def test_points_formula_on_a_worked_example(db_url):
    core = open_core(db_url)
    try:
        (alice,) = await people(core, 1)
        today = utcnow().date()
        # Split over two days: the ⌊0.1·prompts⌋ terms apply to the totals, not per day.
        half = {k: v // 2 for k, v in WORKED.items()}
        rest = {k: v - half[k] for k, v in WORKED.items()}
        await ledger(core, alice.id, today - dt.timedelta(days=3), **half)
        await ledger(core, alice.id, today, **rest)
        pts = await core.user_points(alice.id)
        assert pts.total == 63
        assert pts.breakdown["prompts"] == 2 and pts.breakdown["labels_full"] == 10 and pts.breakdown["ranked_first"] == 9
        assert pts.counts["prompts"] == 25
        assert (pts.level, pts.level_name, pts.next_level_at) == (2, "Helper", 150)
        words = points_in_words(pts)
        assert words.startswith("63 points, level 2 (Helper). 87 more to reach the next level.")
        assert "- 12 for 3 assistant replies (4 each)" in words and "- 2 for 25 prompts written (1 per 10)" in words
        assert (await core.leaderboard("all"))[0].points == 63
        assert (await core.leaderboard("day"))[0].points == sum(w * (rest[n] // d) for n, w, d in POINT_RULES)
    finally:
        await core.close()


def test_levels():
    assert level_for(0)[0].name == "Newcomer" and level_for(0)[1] == 10
    assert level_for(10)[0].number == 1
    assert level_for(10**6) == (level_for(6000)[0], None)


def test_streak_days():
    now = dt.datetime(2024, 5, 10, 12, 0, tzinfo=dt.UTC)
    user = User(display_name="x")
    assert streak_days(user, now) == 0
    user.streak_start_at, user.last_active_at = now - dt.timedelta(days=4), now - dt.timedelta(hours=2)
    assert streak_days(user, now) == 5  # the 6th to the 10th
    user.last_active_at = now - dt.timedelta(hours=37)  # more than 36 hours without activity: broken
    assert streak_days(user, now) == 0


async def test_real_work_earns_points_and_a_streak(db_url):
    core = open_core(db_url)
    try:
        author, *crowd = await people(core, 6)
        await grown_tree(core, author, crowd)
        pts = {u.display_name: await core.user_points(u.id) for u in [author, *crowd]}
        assert all(pts[u.display_name].total > 0 for u in crowd)
        assert all(p.streak_days == 1 for p in pts.values())
        mine = pts[author.display_name]
        # One accepted prompt is worth a tenth of a point twice over: rounded down, nothing yet.
        assert (mine.counts["prompts"], mine.counts["accepted_prompts"], mine.total) == (1, 1, 0)
        board = await core.leaderboard("day", limit=10)
        assert [r.points for r in board] == sorted((r.points for r in board), reverse=True)
        assert {r.user_id for r in board} == {u.id for u in crowd}
        first = board[0]
        assert await core.leaderboard_position(first.user_id, "day") == (1, first.points)
        await check_invariants(core, core.settings)
    finally:
        await core.close()


async def test_leaderboard_windows_ties_and_bans(db_url):
    core = open_core(db_url)
    try:
        boss, mod = await staff(core)
        a, b, c, d, e = await people(core, 5)
        today = utcnow().date()
        await ledger(core, a.id, today, rankings=10)
        await ledger(core, b.id, today - dt.timedelta(days=3), rankings=30)
        await ledger(core, c.id, today - dt.timedelta(days=20), rankings=50)
        await ledger(core, d.id, today - dt.timedelta(days=60), rankings=100)
        await ledger(core, e.id, today - dt.timedelta(days=3), rankings=30)  # ties with b this week

        def names(rows):
            return [(r.position, r.display_name, r.points) for r in rows]

        assert names(await core.leaderboard("day")) == [(1, "p0", 10)]
        assert names(await core.leaderboard("week")) == [(1, "p1", 30), (1, "p4", 30), (3, "p0", 10)]
        assert [r.display_name for r in await core.leaderboard("month")] == ["p2", "p1", "p4", "p0"]
        assert [r.display_name for r in await core.leaderboard("all", limit=2)] == ["p3", "p2"]
        assert await core.leaderboard_position(a.id, "week") == (3, 10)
        assert await core.leaderboard_position(d.id, "week") is None

        await core.ban_user(mod.id, d.id, reason="cheating")
        assert [r.display_name for r in await core.leaderboard("all", limit=2)] == ["p2", "p1"]
    finally:
        await core.close()


async def test_troll_board_for_moderators(db_url):
    core = open_core(db_url)
    try:
        boss, mod = await staff(core)
        troll, nice, *crowd = await people(core, 5)
        from tests.community.helpers import write_prompt

        bad = await write_prompt(core, troll, "buy pills")
        good = await write_prompt(core, nice, "How do tides work?")
        for u in crowd:
            await core.react(u.id, bad, "red_flag")
            await core.react(u.id, good, "+1")
        await core.react(crowd[0].id, bad, "-1")
        board = await core.troll_board(mod.id)
        assert [(r.display_name, r.score) for r in board] == [("p0", 3 * 3 + 1)]
        assert board[0].counts["red_flags_received"] == 3 and board[0].counts["downvotes_received"] == 1
        assert (await core.user_points(troll.id)).troll_score == 10
        with pytest.raises(PermissionDenied):
            await core.troll_board(nice.id)
    finally:
        await core.close()


async def test_collection_stats_overall_and_per_language(db_url):
    core = open_core(db_url)
    try:
        author, *crowd = await people(core, 6)
        await grown_tree(core, author, crowd)
        await core.set_language(crowd[0].id, "de")
        from tests.community.helpers import write_prompt

        await write_prompt(core, crowd[0], "Wie entsteht Regen?")
        stats = await core.collection_stats()
        # Expected figures counted in Python from every row (the crowd also wrote prompts of its own).
        from collections import Counter

        from sqlalchemy import select

        from core.models import Ballot, Label, Message, Tree

        async with core.db.read() as s:
            trees = (await s.scalars(select(Tree))).all()
            msgs = (await s.scalars(select(Message))).all()
            n_ballots = len((await s.scalars(select(Ballot))).all())
            n_labels = len((await s.scalars(select(Label))).all())
        assert stats["trees"]["by_state"] == dict(Counter(t.state for t in trees))
        assert stats["trees"]["by_state"]["ready_for_export"] >= 1
        assert stats["messages"]["total"] == len(msgs)
        assert stats["messages"]["accepted"] == sum(1 for m in msgs if m.review_result and not m.deleted)
        assert stats["messages"]["prompts"] == sum(1 for m in msgs if m.parent_id is None)
        assert stats["messages"]["pending_review"] == sum(1 for m in msgs if m.review_result is None)
        assert stats["rankings"]["ballots"] == n_ballots >= 2 and stats["rankings"]["sibling_sets_scored"] >= 1
        assert stats["labels"]["label_sets"] == n_labels and stats["labels"]["ratings"] >= n_labels
        assert stats["languages"]["de"] == {"trees": 1, "messages": 1}
        assert stats["languages"]["en"]["trees"] == len(trees) - 1
        de = await core.collection_stats(lang="de")
        assert de["trees"]["total"] == 1 and de["messages"]["total"] == 1 and de["rankings"]["ballots"] == 0
        assert "languages" not in de
        assert f"Trees: {len(trees)}" in stats_lines(stats)
    finally:
        await core.close()


def test_pair_agreement():
    assert pair_agreement(["a", "b", "c"], ["a", "b", "c"]) == 1.0
    assert pair_agreement(["c", "b", "a"], ["a", "b", "c"]) == 0.0
    assert pair_agreement(["a", "c", "b"], ["a", "b", "c"]) == pytest.approx(2 / 3)
    assert pair_agreement(["a"], ["a", "b"]) is None


async def test_agreement_with_consensus(db_url):
    core = open_core(db_url)
    try:
        author, *crowd = await people(core, 6)
        await grown_tree(core, author, crowd)
        views = [await core.user_points(u.id) for u in crowd]
        # Agreement counts ballots on sets already scored (the crowd may have ranked other trees
        # that are still in ranking).
        rankers = [v for v in views if v.agreement_ballots]
        assert rankers, "someone ranked a scored set"
        # The simulated crowd ranks identically, so everyone agrees with the consensus.
        for v in rankers:
            assert v.agreement == 1.0 and v.agreement_ballots <= v.counts["rankings"]
            assert "matched the community's final order on 100% of pairs" in points_in_words(v)
    finally:
        await core.close()
