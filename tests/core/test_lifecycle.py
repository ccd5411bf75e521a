"""A tree's whole life through the service API: prompt, review, lottery, growth, ranking, export."""

from __future__ import annotations

from sqlalchemy import func, select

from core.models import Ballot, Message, RankingResult, TaskType, Tree, TreeState
from core.service import Chorus
from tests.conftest import make_settings
from tests.core.crowd import answer, people, work

SMALL = dict(
    tree_goal_tree_size=5, tree_reviews_initial_prompt=2, tree_reviews_reply=2, tree_max_tree_depth=2,
    tree_ballots_per_sibling_set=2, tree_max_children=2,
)  # fmt: skip


async def tree_state(core: Chorus, tree_id) -> str:
    async with core.db.read() as s:
        return await s.scalar(select(Tree.state).where(Tree.id == tree_id))


async def test_tree_flows_from_prompt_to_export(db_url):
    core = Chorus.open_on(make_settings(db_url, **SMALL), seed=7)
    try:
        author, *crowd = await people(core, 6)
        task = await core.request_task(author.id, type=TaskType.initial_prompt)
        res = await core.submit_reply(author.id, task.id, "How do volcanoes form?")
        root = res.created_message_id
        assert await tree_state(core, root) == TreeState.initial_prompt_review

        # Two reviews accept the prompt; the language has room, so the lottery lets it grow at once.
        for user in crowd[:2]:
            t = await core.request_task(user.id, type=TaskType.label_initial_prompt)
            assert t.target.id == root and t.labels[0].name == "spam"
            await answer(core, user, t)
        assert await tree_state(core, root) == TreeState.growing

        await work(core, crowd, 12)
        assert await tree_state(core, root) == TreeState.ready_for_export
        async with core.db.read() as s:
            msgs = (await s.scalars(select(Message).where(Message.tree_id == root))).all()
            assert len([m for m in msgs if m.review_result]) == 5  # the goal size, root included
            ballots = await s.scalar(select(func.count()).select_from(Ballot).where(Ballot.parent_id.in_([m.id for m in msgs])))
            results = (await s.scalars(select(RankingResult).where(RankingResult.tree_id == root))).all()
        assert ballots >= 2 and results
        for r in results:
            ranked = sorted((m for m in msgs if m.parent_id == r.parent_id and m.review_result), key=lambda m: m.rank)
            assert [m.rank for m in ranked] == list(range(len(ranked)))
            assert [str(m.id) for m in ranked] == r.order
    finally:
        await core.close()


async def test_spam_prompt_is_aborted(db_url):
    core = Chorus.open_on(make_settings(db_url, **SMALL), seed=7)
    try:
        author, a, b = await people(core, 3)
        task = await core.request_task(author.id, type=TaskType.initial_prompt)
        root = (await core.submit_reply(author.id, task.id, "buy cheap pills")).created_message_id
        for user in (a, b):
            t = await core.request_task(user.id, type=TaskType.label_initial_prompt)
            await answer(core, user, t, good=False)
        assert await tree_state(core, root) == TreeState.aborted_low_grade
    finally:
        await core.close()
