"""State transitions and the rules around them, each driven through the service API."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from sqlalchemy import func, select, update

from core import errors, trees
from core.models import AuditLog, Message, Role, Task, TaskType, Tree, TreeState, User
from core.service import Chorus
from tests.conftest import make_settings
from tests.core.crowd import answer, people

SMALL = dict(tree_goal_tree_size=4, tree_reviews_initial_prompt=1, tree_reviews_reply=1, tree_max_tree_depth=1,
             tree_ballots_per_sibling_set=2, tree_max_children=2)  # fmt: skip


@pytest.fixture
async def core(db_url):
    c = Chorus.open_on(make_settings(db_url, **SMALL), seed=5)
    yield c
    await c.close()


async def state_of(core, tree_id) -> str:
    async with core.db.read() as s:
        return await s.scalar(select(Tree.state).where(Tree.id == tree_id))


async def make_role(core, user, role: Role):
    async with core.db.tx() as s:
        await s.execute(update(User).where(User.id == user.id).values(role=role.value))


async def new_prompt(core, user, text="What is a comet?"):
    t = await core.request_task(user.id, type=TaskType.initial_prompt)
    return (await core.submit_reply(user.id, t.id, text)).created_message_id


async def test_moderator_decides_review_at_once_and_it_is_recorded(core):
    author, mod, member = await people(core, 3)
    await make_role(core, mod, Role.moderator)
    root = await new_prompt(core, author)
    with pytest.raises(errors.PermissionDenied):
        await core.review(member.id, root, True)
    assert await state_of(core, root) == TreeState.initial_prompt_review
    await core.review(mod.id, root, True)
    assert await state_of(core, root) == TreeState.growing
    other = await new_prompt(core, author, "Another one")
    await core.review(mod.id, other, False)
    assert await state_of(core, other) == TreeState.aborted_low_grade
    async with core.db.read() as s:
        actions = (await s.scalars(select(AuditLog.action).where(AuditLog.actor_id == mod.id))).all()
    assert sorted(actions) == ["approve", "reject"]


async def test_full_path_with_not_acceptable_ballot(core):
    crowd = await people(core, 8)
    root = await new_prompt(core, crowd[0])
    await answer(core, crowd[1], await core.request_task(crowd[1].id, type=TaskType.label_initial_prompt))
    assert await state_of(core, root) == TreeState.growing
    for u in crowd[1:3]:
        await answer(core, u, await core.request_task(u.id, type=TaskType.assistant_reply))
    assert await state_of(core, root) == TreeState.growing
    # Two replies fill the prompt's sibling set (max_children 2, depth 1): nobody gets a third slot.
    with pytest.raises(errors.NoTaskAvailable):
        await core.request_task(crowd[3].id, type=TaskType.assistant_reply)
    for u in crowd[4:6]:
        await answer(core, u, await core.request_task(u.id, type=TaskType.label_assistant_reply))
    assert await state_of(core, root) == TreeState.ranking
    t = await core.request_task(crowd[0].id, type=TaskType.rank_assistant_replies)
    await core.submit_ranking(crowd[0].id, t.id, None)  # none of these is acceptable
    assert await state_of(core, root) == TreeState.ranking
    await answer(core, crowd[7], await core.request_task(crowd[7].id, type=TaskType.rank_assistant_replies))
    assert await state_of(core, root) == TreeState.ready_for_export


async def test_rejected_reply_frees_its_slot(core):
    crowd = await people(core, 6)
    root = await new_prompt(core, crowd[0])
    await answer(core, crowd[1], await core.request_task(crowd[1].id, type=TaskType.label_initial_prompt))
    for u in crowd[1:3]:
        await answer(core, u, await core.request_task(u.id, type=TaskType.assistant_reply))
    # One of the two replies is spam.
    t = await core.request_task(crowd[4].id, type=TaskType.label_assistant_reply)
    await answer(core, crowd[4], t, good=False)
    assert await state_of(core, root) == TreeState.growing
    t = await core.request_task(crowd[5].id, type=TaskType.assistant_reply)
    assert t.target.id == root


async def test_reply_slot_is_reserved_and_rechecked(db_url):
    core = Chorus.open_on(make_settings(db_url, **{**SMALL, "tree_max_children": 1, "tree_goal_tree_size": 5}), seed=2)
    try:
        a, b, c = await people(core, 3)
        root = await new_prompt(core, a)
        await core.review((await _moderator(core)).id, root, True)
        tb = await core.request_task(b.id, type=TaskType.assistant_reply)
        # The only slot is held by b: c gets nothing.
        with pytest.raises(errors.NoTaskAvailable):
            await core.request_task(c.id, type=TaskType.assistant_reply)
        # b's reservation lapses and c takes the slot and answers first.
        async with core.db.tx() as s:
            await s.execute(update(Task).where(Task.id == tb.id).values(reserved_until=dt.datetime(2020, 1, 1, tzinfo=dt.UTC)))
        tc = await core.request_task(c.id, type=TaskType.assistant_reply)
        await core.submit_reply(c.id, tc.id, "c's answer")
        with pytest.raises(errors.SlotTaken):
            await core.submit_reply(b.id, tb.id, "b's long and careful answer")
        # b's text is kept in the task's draft, and nothing over the limit was stored.
        async with core.db.read() as s:
            assert await s.scalar(select(Task.draft).where(Task.id == tb.id)) == "b's long and careful answer"
            assert await s.scalar(select(func.count()).select_from(Message).where(Message.parent_id == root)) == 1
    finally:
        await core.close()


async def _moderator(core):
    mod = await core.user_from_identity("console", "the-mod", display_name="mod")
    await make_role(core, mod, Role.moderator)
    return mod


async def test_reactions_rules_and_red_flag_auto_moderation(core):
    crowd = await people(core, 6)
    root = await new_prompt(core, crowd[0])
    with pytest.raises(errors.InvalidInput):
        await core.react(crowd[0].id, root, "+1")  # not on one's own message
    with pytest.raises(errors.InvalidInput):
        await core.react(crowd[1].id, root, "banana")
    assert await core.react(crowd[1].id, root, "+1") == {"+1": 1}
    assert await core.react(crowd[1].id, root, "+1") == {"+1": 1}  # a duplicate click counts once
    assert await core.react(crowd[1].id, root, "-1") == {"-1": 1}  # +1 and -1 exclude each other
    assert await core.react(crowd[1].id, root, "-1", remove=True) == {}
    for u in crowd[1:5]:
        await core.react(u.id, root, "red_flag")
    assert await state_of(core, root) == TreeState.aborted_low_grade
    async with core.db.read() as s:
        assert await s.scalar(select(Message.deleted).where(Message.id == root))


async def test_stale_growing_tree_moves_on(core):
    crowd = await people(core, 4)
    root = await new_prompt(core, crowd[0])
    await answer(core, crowd[1], await core.request_task(crowd[1].id, type=TaskType.label_initial_prompt))
    await answer(core, crowd[1], await core.request_task(crowd[1].id, type=TaskType.assistant_reply))
    await answer(core, crowd[2], await core.request_task(crowd[2].id, type=TaskType.label_assistant_reply))
    assert await state_of(core, root) == TreeState.growing
    async with core.db.tx() as s:
        await s.execute(update(Tree).where(Tree.id == root).values(updated_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC)))
    with pytest.raises(errors.NoTaskAvailable):
        await core.request_task(crowd[3].id, type=TaskType.rank_assistant_replies)
    # One accepted reply and no sibling set: straight to export rather than stalling.
    assert await state_of(core, root) == TreeState.ready_for_export


async def test_stale_tree_with_nothing_accepted_is_aborted(core):
    crowd = await people(core, 3)
    root = await new_prompt(core, crowd[0])
    await answer(core, crowd[1], await core.request_task(crowd[1].id, type=TaskType.label_initial_prompt))
    async with core.db.tx() as s:
        await s.execute(update(Tree).where(Tree.id == root).values(state="growing", updated_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC)))
    with pytest.raises(errors.NoTaskAvailable):
        await core.request_task(crowd[2].id, type=TaskType.rank_assistant_replies)
    assert await state_of(core, root) == TreeState.aborted_low_grade


async def test_lottery_is_fair_per_author_not_per_prompt(db_url):
    core = Chorus.open_on(make_settings(db_url, tree_max_active_trees_per_lang=1), seed=9)
    try:
        flooder, quiet = await people(core, 2)
        async with core.db.tx() as s:
            for _ in range(10):
                s.add(Tree(state="prompt_lottery_waiting", lang="en", author_id=flooder.id))
            s.add(Tree(state="prompt_lottery_waiting", lang="en", author_id=quiet.id))
        wins = 0
        rng = random.Random(1)
        for _ in range(200):
            async with core.db.tx() as s:
                await trees.run_lottery(s, core.settings, "en", rng)
                winner = await s.scalar(select(Tree.author_id).where(Tree.state == "growing"))
                wins += winner == quiet.id
                await s.rollback()
        # Per author the quiet one wins half the draws; per prompt it would be 1 in 11.
        assert 70 <= wins <= 130, wins
    finally:
        await core.close()


async def test_lonely_child_is_preferred(db_url):
    core = Chorus.open_on(make_settings(db_url, tree_goal_tree_size=12, tree_max_tree_depth=1), seed=4)
    try:
        mod = await _moderator(core)
        crowd = await people(core, 12)
        roots = []
        for u in crowd[:2]:
            root = await new_prompt(core, u, f"prompt of {u.display_name}")
            await core.review(mod.id, root, True)
            roots.append(root)
        # Give the first prompt one answer; the second has none.
        t = await core.request_task(crowd[2].id, type=TaskType.assistant_reply)
        first = t.target.id
        await core.submit_reply(crowd[2].id, t.id, "one answer")
        hits = 0
        for u in crowd[3:12]:
            t = await core.request_task(u.id, type=TaskType.assistant_reply)
            hits += t.target.id == first
            await core.skip_task(u.id, t.id)
        assert hits >= 5, hits  # p = 0.75 of the draws go to the lonely child, 0.125 more by chance
    finally:
        await core.close()


async def test_simple_label_mode_and_prompter_reply_ranking(db_url):
    settings = make_settings(db_url, **{**SMALL, "task_label_mode": "simple", "tree_max_tree_depth": 2,
                                        "tree_goal_tree_size": 6, "tree_rank_prompter_replies": "true"})  # fmt: skip
    core = Chorus.open_on(settings, seed=5)
    try:
        crowd = await people(core, 8)
        root = await new_prompt(core, crowd[0])
        t = await core.request_task(crowd[1].id, type=TaskType.label_initial_prompt)
        assert [spec.name for spec in t.labels] == ["spam", "lang_mismatch"] and t.label_mode == "simple"
        await core.submit_labels(crowd[1].id, t.id, {"spam": 0})
        t = await core.request_task(crowd[1].id, type=TaskType.assistant_reply)
        await core.submit_reply(crowd[1].id, t.id, "An answer")
        t = await core.request_task(crowd[2].id, type=TaskType.label_assistant_reply)
        assert [spec.name for spec in t.labels] == ["spam", "lang_mismatch", "quality"]
        await core.submit_labels(crowd[2].id, t.id, {"spam": 0, "quality": 1})
        # An assistant message takes one user reply by default (max_prompter_children).
        t = await core.request_task(crowd[3].id, type=TaskType.prompter_reply)
        await core.submit_reply(crowd[3].id, t.id, "A follow-up")
        with pytest.raises(errors.NoTaskAvailable):
            await core.request_task(crowd[4].id, type=TaskType.prompter_reply)
        assert await state_of(core, root) == TreeState.growing
    finally:
        await core.close()


async def test_red_flags_remove_the_replies_below_and_undelete_restores_them(db_url):
    core = Chorus.open_on(make_settings(db_url, **{**SMALL, "tree_max_tree_depth": 2, "tree_goal_tree_size": 6}), seed=5)
    try:
        crowd = await people(core, 9)
        mod = await _moderator(core)
        root = await new_prompt(core, crowd[0])
        await core.review(mod.id, root, True, reason="looks fine")
        t = await core.request_task(crowd[1].id, type=TaskType.assistant_reply)
        reply = (await core.submit_reply(crowd[1].id, t.id, "A rude reply")).created_message_id
        await core.review(mod.id, reply, True)
        t = await core.request_task(crowd[2].id, type=TaskType.prompter_reply)
        below = (await core.submit_reply(crowd[2].id, t.id, "A follow-up")).created_message_id
        for u in crowd[3:7]:
            await core.react(u.id, reply, "red_flag")
        async with core.db.read() as s:
            deleted = dict((await s.execute(select(Message.id, Message.deleted).where(Message.tree_id == root))).all())
            reason = await s.scalar(select(AuditLog.reason).where(AuditLog.action == "approve", AuditLog.target_id == str(root)))
        assert deleted == {root: False, reply: True, below: True}
        assert reason == "looks fine"
        assert await core.undelete_message(mod.id, reply) == 2
        assert await state_of(core, root) == TreeState.growing
    finally:
        await core.close()


async def test_accepted_prompt_waits_while_its_language_is_full_and_grows_when_a_tree_finishes(db_url):
    core = Chorus.open_on(make_settings(db_url, **{**SMALL, "tree_max_active_trees_per_lang": 1}), seed=5)
    try:
        mod = await _moderator(core)
        crowd = await people(core, 6)
        first = await new_prompt(core, crowd[0], "first")
        second = await new_prompt(core, crowd[1], "second")
        await core.review(mod.id, first, True)
        await core.review(mod.id, second, True)
        assert (await state_of(core, first), await state_of(core, second)) == (TreeState.growing, TreeState.prompt_lottery_waiting)
        for u in crowd[2:4]:
            t = await core.request_task(u.id, type=TaskType.assistant_reply)
            assert t.target.id == first
            reply = (await core.submit_reply(u.id, t.id, f"answer by {u.display_name}")).created_message_id
            await core.review(mod.id, reply, True)
        assert await state_of(core, first) == TreeState.ranking
        assert await state_of(core, second) == TreeState.growing
    finally:
        await core.close()


async def test_stale_ranking_trees_are_scored_exported_or_requeued(db_url):
    core = Chorus.open_on(make_settings(db_url, **SMALL), seed=5)
    try:
        crowd = await people(core, 8)
        mod = await _moderator(core)

        async def ranked_tree(i: int):
            """A tree in ranking: an approved prompt with two approved replies (built one at a time)."""
            root = await new_prompt(core, crowd[i], f"question {i}")
            await core.review(mod.id, root, True)
            for u in crowd[3:5]:
                t = await core.request_task(u.id, type=TaskType.assistant_reply)
                assert t.target.id == root
                await core.review(mod.id, (await core.submit_reply(u.id, t.id, f"answer {i} by {u.display_name}")).created_message_id, True)
            assert await state_of(core, root) == TreeState.ranking
            return root

        a = await ranked_tree(0)  # will hold one ballot of the two required
        t = await core.request_task(crowd[5].id, type=TaskType.rank_assistant_replies)
        await core.submit_ranking(crowd[5].id, t.id, [x.id for x in t.candidates])
        c = await ranked_tree(1)  # no ballot at all
        b = await new_prompt(core, crowd[2], "question without replies")  # in ranking with no set to rank
        await core.review(mod.id, b, True)
        async with core.db.tx() as s:
            await s.execute(update(Tree).where(Tree.id == b).values(state="ranking"))
            await s.execute(update(Tree).where(Tree.id.in_([a, b, c])).values(updated_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC)))
        async with core.db.tx() as s:
            assert await trees.sweep_stale(s, core.settings, "en") == 3
        assert await state_of(core, a) == TreeState.ready_for_export  # scored with the ballot it has
        assert await state_of(core, b) == TreeState.ready_for_export  # nothing to rank
        assert await state_of(core, c) == TreeState.ranking  # waits, at the back of the queue
        async with core.db.read() as s:
            assert await s.scalar(select(Tree.updated_at).where(Tree.id == c)) > dt.datetime(2021, 1, 1, tzinfo=dt.UTC)
    finally:
        await core.close()
