"""Every bad input is refused with a sentence for the person, and nothing is stored."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select, update

from core import errors
from core.models import Ballot, Label, Message, Task, TaskType, User
from core.service import Chorus
from tests.conftest import make_settings
from tests.core.crowd import answer, people

SMALL = dict(tree_goal_tree_size=4, tree_reviews_initial_prompt=1, tree_reviews_reply=1, tree_max_tree_depth=1,
             tree_ballots_per_sibling_set=2, tree_max_children=2)  # fmt: skip


async def counts(core: Chorus) -> tuple:
    async with core.db.read() as s:
        return tuple([await s.scalar(select(func.count()).select_from(t)) for t in (Message, Label, Ballot)])


@pytest.fixture
async def core(db_url):
    c = Chorus.open_on(make_settings(db_url, **SMALL), seed=3)
    yield c
    await c.close()


async def grown_tree(core: Chorus, crowd):
    """A tree with an accepted prompt and two accepted replies, now in ranking."""
    author = crowd[0]
    t = await core.request_task(author.id, type=TaskType.initial_prompt)
    root = (await core.submit_reply(author.id, t.id, "What is rain?")).created_message_id
    t = await core.request_task(crowd[1].id, type=TaskType.label_initial_prompt)
    await answer(core, crowd[1], t)
    for u in crowd[1:3]:
        t = await core.request_task(u.id, type=TaskType.assistant_reply)
        await answer(core, u, t)
    for u in crowd[3:5]:
        t = await core.request_task(u.id, type=TaskType.label_assistant_reply)
        await answer(core, u, t)
    return root


async def test_bad_writing_inputs(core):
    (u, other) = await people(core, 2)
    task = await core.request_task(u.id, type=TaskType.initial_prompt)
    before = await counts(core)
    cases = [
        (lambda: core.submit_reply(u.id, task.id, ""), errors.EmptyText),
        (lambda: core.submit_reply(u.id, task.id, "   \n "), errors.EmptyText),
        (lambda: core.submit_reply(u.id, task.id, "x" * 2001), errors.TextTooLong),
        (lambda: core.submit_reply(other.id, task.id, "hello"), errors.NotYourTask),
        (lambda: core.submit_reply(u.id, "not-a-uuid", "hello"), errors.InvalidInput),
        (lambda: core.submit_reply(u.id, "00000000-0000-0000-0000-000000000000", "hello"), errors.TaskNotFound),
        (lambda: core.submit_ranking(u.id, task.id, []), errors.InvalidInput),
        (lambda: core.submit_labels(u.id, task.id, {"spam": 0}), errors.InvalidInput),
    ]
    for call, exc in cases:
        with pytest.raises(exc) as info:
            await call()
        assert info.value.message and "Traceback" not in info.value.message
    assert await counts(core) == before
    # The task is still answerable after all that.
    await core.submit_reply(u.id, task.id, "hello")


async def test_length_limit_message_names_the_numbers(core):
    (u,) = await people(core, 1)
    task = await core.request_task(u.id, type=TaskType.initial_prompt)
    with pytest.raises(errors.TextTooLong) as info:
        await core.submit_reply(u.id, task.id, "y" * 5000)
    assert "5000" in info.value.message and "2000" in info.value.message
    await core.submit_reply(u.id, task.id, "y" * 2000)  # exactly the limit is fine


async def test_duplicate_click_stores_once(core):
    (u,) = await people(core, 1)
    task = await core.request_task(u.id, type=TaskType.initial_prompt)
    await core.submit_reply(u.id, task.id, "Why is the sky blue?")
    with pytest.raises(errors.AlreadyAnswered):
        await core.submit_reply(u.id, task.id, "Why is the sky blue?")
    assert (await counts(core))[0] == 1


async def test_same_text_twice_within_window(core):
    (u,) = await people(core, 1)
    t1 = await core.request_task(u.id, type=TaskType.initial_prompt)
    await core.submit_reply(u.id, t1.id, "Tell me a joke")
    t2 = await core.request_task(u.id, type=TaskType.initial_prompt)
    with pytest.raises(errors.DuplicateText):
        await core.submit_reply(u.id, t2.id, "  Tell me a joke ")
    assert (await counts(core))[0] == 1


async def test_expired_task(core):
    (u,) = await people(core, 1)
    task = await core.request_task(u.id, type=TaskType.initial_prompt)
    async with core.db.tx() as s:
        await s.execute(update(Task).where(Task.id == task.id).values(expires_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC)))
    with pytest.raises(errors.TaskExpired):
        await core.submit_reply(u.id, task.id, "late")
    assert (await counts(core))[0] == 0


async def test_banned_user_is_refused_everything(core):
    (u,) = await people(core, 1)
    task = await core.request_task(u.id, type=TaskType.initial_prompt)
    async with core.db.tx() as s:
        await s.execute(update(User).where(User.id == u.id).values(banned=True))
    for call in (
        lambda: core.request_task(u.id),
        lambda: core.submit_reply(u.id, task.id, "hi"),
        lambda: core.skip_task(u.id, task.id),
    ):
        with pytest.raises(errors.UserBanned):
            await call()
    assert (await counts(core))[0] == 0


async def test_too_many_pending_tasks(db_url):
    core = Chorus.open_on(make_settings(db_url, task_max_pending_per_user=2), seed=1)
    try:
        (u,) = await people(core, 1)
        await core.request_task(u.id, type=TaskType.initial_prompt)
        await core.request_task(u.id, type=TaskType.initial_prompt, resume=False)
        with pytest.raises(errors.TooManyPendingTasks) as info:
            await core.request_task(u.id, type=TaskType.initial_prompt, resume=False)
        assert "2" in info.value.message
    finally:
        await core.close()


async def test_request_resumes_the_open_task(core):
    (u,) = await people(core, 1)
    first = await core.request_task(u.id, type=TaskType.initial_prompt)
    await core.save_draft(u.id, first.id, "half-written")
    again = await core.request_task(u.id, type=TaskType.initial_prompt)
    assert again.id == first.id and again.draft == "half-written"


async def test_wrong_rankings_and_labels(core):
    crowd = await people(core, 7)
    await grown_tree(core, crowd)
    ranker = crowd[5]
    task = await core.request_task(ranker.id, type=TaskType.rank_assistant_replies)
    ids = [c.id for c in task.candidates]
    assert len(ids) == 2
    before = await counts(core)
    for bad in ([ids[0]], [ids[0], ids[0]], [ids[0], ids[1], ids[1]], [ids[0], "00000000-0000-0000-0000-000000000001"]):
        with pytest.raises(errors.InvalidRanking):
            await core.submit_ranking(ranker.id, task.id, bad)
    with pytest.raises(errors.InvalidInput):
        await core.submit_reply(ranker.id, task.id, "text for a ranking task")
    assert await counts(core) == before
    await core.submit_ranking(ranker.id, task.id, ids[::-1])
    with pytest.raises(errors.AlreadyAnswered):
        await core.submit_ranking(ranker.id, task.id, ids)
    assert (await counts(core))[2] == before[2] + 1


async def test_label_validation(core):
    crowd = await people(core, 3)
    t = await core.request_task(crowd[0].id, type=TaskType.initial_prompt)
    await core.submit_reply(crowd[0].id, t.id, "What is snow?")
    task = await core.request_task(crowd[1].id, type=TaskType.label_initial_prompt)
    before = await counts(core)
    for bad in ({}, {"quality": 0.5}, {"spam": 2}, {"spam": 0.5}, {"spam": 0, "nonsense": 1}, {"spam": "yes"}, {"spam": 0, "quality": -1}):
        with pytest.raises(errors.InvalidLabels):
            await core.submit_labels(crowd[1].id, task.id, bad)
    assert await counts(core) == before
    await core.submit_labels(crowd[1].id, task.id, {"spam": 0, "quality": 0.75})
    assert (await counts(core))[1] == 1


async def test_no_task_available(core):
    (u,) = await people(core, 1)
    with pytest.raises(errors.NoTaskAvailable) as info:
        await core.request_task(u.id, type=TaskType.rank_assistant_replies)
    assert "try again" in info.value.message


async def test_rules_on_whom_a_task_goes_to(core):
    crowd = await people(core, 7)
    root = await grown_tree(core, crowd)
    # Authors of a reply never rank its sibling set; the prompt's author may.
    for author in crowd[1:3]:
        with pytest.raises(errors.NoTaskAvailable):
            await core.request_task(author.id, type=TaskType.rank_assistant_replies)
    # A person is never asked to label their own message.
    t = await core.request_task(crowd[0].id, type=TaskType.initial_prompt)
    await core.submit_reply(crowd[0].id, t.id, "Another question")
    with pytest.raises(errors.NoTaskAvailable):
        await core.request_task(crowd[0].id, type=TaskType.label_initial_prompt)
    # A skipped task is not offered again.
    ranker = crowd[6]
    task = await core.request_task(ranker.id, type=TaskType.rank_assistant_replies)
    assert task.target.id == root
    await core.skip_task(ranker.id, task.id)
    with pytest.raises(errors.NoTaskAvailable):
        await core.request_task(ranker.id, type=TaskType.rank_assistant_replies)
    with pytest.raises(errors.AlreadyAnswered):
        await core.skip_task(ranker.id, task.id)
