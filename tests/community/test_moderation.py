"""Moderation actions and their effect on trees, tasks and the audit log."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.errors import NoTaskAvailable, PermissionDenied, TaskExpired, UserBanned
from core.models import Message, MessageRevision, Task, TaskType
from tests.community.helpers import (
    accept_prompt,
    answer,
    grown_tree,
    messages_of,
    open_core,
    people,
    staff,
    tree_state,
    write_prompt,
)
from tests.core.invariants import check_invariants


async def test_queue_holds_new_prompts_and_reports(db_url):
    core = open_core(db_url)
    try:
        boss, mod = await staff(core)
        alice, bob, carol, dave, erin = await people(core, 5)
        p1 = await write_prompt(core, alice, "What is a volcano?")
        p2 = await write_prompt(core, bob, "Wie entsteht Regen?")
        queue = await core.moderation_queue(mod.id, kind="review")
        assert [i.message.id for i in queue] == [p1, p2] and {i.kind for i in queue} == {"review"}

        await core.report(carol.id, p2, "off-topic advertising")
        await core.report(dave.id, p2, "spam")
        for u in (carol, dave):
            await core.react(u.id, p2, "red_flag")
        reports = await core.moderation_queue(mod.id, kind="report")
        assert len(reports) == 1 and reports[0].message.id == p2
        assert reports[0].reasons == ["off-topic advertising", "spam", "2 red flag(s)"]
        assert len(await core.moderation_queue(mod.id)) == 3  # both kinds, oldest first

        # Approving from the queue settles the review; the prompt leaves the review queue.
        await core.review(mod.id, p1, True)
        assert [i.message.id for i in await core.moderation_queue(mod.id, kind="review")] == [p2]
        assert await tree_state(core, p1) == "growing"  # the language had room: the lottery took it at once

        # Dismissing closes both reports; deleting after a new report removes the message.
        assert await core.resolve_reports(mod.id, p2, action="dismiss", reason="it is fine") == 2
        assert await core.moderation_queue(mod.id, kind="report") == []
        await core.report(erin.id, p2, "really spam")
        assert await core.resolve_reports(mod.id, p2, action="delete", reason="confirmed spam") == 1
        assert (await core.conversation(p2))[0].deleted
        assert await tree_state(core, p2) == "halted_by_moderator"
        actions = [e.action for e in await core.audit_log(mod.id, target_id=p2)]
        assert actions == ["resolve_reports", "delete", "resolve_reports"]
    finally:
        await core.close()


async def test_queue_filters_by_language(db_url):
    core = open_core(db_url)
    try:
        boss, mod = await staff(core)
        alice, bob = await people(core, 2)
        await core.set_language(bob.id, "de")
        await write_prompt(core, alice)
        de = await write_prompt(core, bob, "Wie entsteht Regen?")
        assert [i.message.id for i in await core.moderation_queue(mod.id, lang="de")] == [de]
    finally:
        await core.close()


async def test_delete_subtree_and_undelete_keep_ranks_consistent(db_url):
    core = open_core(db_url)
    try:
        boss, mod = await staff(core)
        author, *crowd = await people(core, 6)
        root = await grown_tree(core, author, crowd)
        msgs = await messages_of(core, root)
        replies = [m for m in msgs if m.parent_id == root]
        assert len(replies) == 2 and sorted(m.rank for m in replies) == [0, 1]
        best = next(m for m in replies if m.rank == 0)
        below = [m for m in msgs if m.parent_id == best.id]

        n = await core.delete_message(mod.id, best.id, reason="unsafe advice")
        assert n == 1 + len(below)
        after = {m.id: m for m in await messages_of(core, root)}
        assert after[best.id].deleted and all(after[m.id].deleted for m in below)
        other = next(m for m in replies if m.id != best.id)
        assert after[other.id].rank == 0 and after[best.id].rank is None  # the live replies stay a permutation
        assert await tree_state(core, root) == "ready_for_export"
        await check_invariants(core, core.settings)

        assert await core.undelete_message(mod.id, best.id, reason="misread it") == 1 + len(below)
        restored = {m.id: m for m in await messages_of(core, root)}
        assert {m.id: m.rank for m in replies} == {i: restored[i].rank for i in (best.id, other.id)}
        assert not any(restored[m.id].deleted for m in below)
        entries = await core.audit_log(mod.id, target_id=best.id)
        assert [(e.action, e.reason, e.actor_name) for e in entries] == [
            ("undelete", "misread it", "mod"), ("delete", "unsafe advice", "mod"),
        ]  # fmt: skip
        await check_invariants(core, core.settings)
    finally:
        await core.close()


async def test_undelete_restores_only_what_the_deletion_removed(db_url):
    core = open_core(db_url)
    try:
        boss, mod = await staff(core)
        author, *crowd = await people(core, 6)
        root = await grown_tree(core, author, crowd)
        msgs = await messages_of(core, root)
        reply = next(m for m in msgs if m.parent_id == root and any(c.parent_id == m.id for c in msgs))
        child = next(m for m in msgs if m.parent_id == reply.id)
        assert await core.delete_message(mod.id, child.id) == 1
        assert await core.delete_message(mod.id, reply.id) == 1  # the child was already gone
        assert await core.undelete_message(mod.id, reply.id) == 1
        state = {m.id: m.deleted for m in await messages_of(core, root)}
        assert state[reply.id] is False and state[child.id] is True
    finally:
        await core.close()


async def test_deleting_a_reply_frees_its_slot(db_url):
    core = open_core(db_url, tree_max_children=1, tree_goal_tree_size=3)
    try:
        boss, mod = await staff(core)
        author, a, b, c = await people(core, 4)
        root = await write_prompt(core, author)
        await accept_prompt(core, root, [a, b])
        t = await core.request_task(c.id, type=TaskType.assistant_reply)
        reply = (await answer(core, c, t)).created_message_id
        # The only slot under the prompt is taken: nobody gets a reply task there.
        with pytest.raises(NoTaskAvailable):
            await core.request_task(a.id, type=TaskType.assistant_reply)
        # A label task on the reply is open when the moderator deletes it: it is cancelled.
        label = await core.request_task(a.id, type=TaskType.label_assistant_reply)
        assert label.target.id == reply
        assert await core.delete_message(mod.id, reply) == 1
        with pytest.raises(TaskExpired):
            await answer(core, a, label)
        t2 = await core.request_task(b.id, type=TaskType.assistant_reply)
        assert t2.target.id == root
    finally:
        await core.close()


async def test_deleting_a_prompt_halts_its_tree_and_undelete_resumes_it(db_url):
    core = open_core(db_url)
    try:
        boss, mod = await staff(core)
        author, a, b, c = await people(core, 4)
        root = await write_prompt(core, author)
        await accept_prompt(core, root, [a, b])
        pending = await core.request_task(c.id, type=TaskType.assistant_reply)
        assert await tree_state(core, root) == "growing"
        assert await core.delete_message(mod.id, root, reason="duplicate") == 1
        assert await tree_state(core, root) == "halted_by_moderator"
        assert (await core.get_task(c.id, pending.id)).state == "cancelled"
        await core.undelete_message(mod.id, root)
        assert await tree_state(core, root) == "growing"
    finally:
        await core.close()


async def test_halt_and_resume(db_url):
    core = open_core(db_url)
    try:
        boss, mod = await staff(core)
        author, a, b, c = await people(core, 4)
        root = await write_prompt(core, author)
        await accept_prompt(core, root, [a, b])
        task = await core.request_task(c.id, type=TaskType.assistant_reply)
        await core.save_draft(c.id, task.id, "half an answer")
        assert await core.halt_tree(mod.id, root, reason="copyright question") == "halted_by_moderator"
        with pytest.raises(TaskExpired):
            await core.submit_reply(c.id, task.id, "the answer")
        assert (await core.get_task(c.id, task.id)).draft == "half an answer"  # nothing typed is lost
        with pytest.raises(NoTaskAvailable):
            await core.request_task(a.id, type=TaskType.assistant_reply)
        assert await core.resume_tree(mod.id, root, reason="cleared") == "growing"
        assert (await core.request_task(a.id, type=TaskType.assistant_reply)).target.id == root
        entries = await core.audit_log(mod.id, target_id=root)
        assert [(e.action, e.reason) for e in entries][:2] == [("resume", "cleared"), ("halt", "copyright question")]
        assert entries[1].details == {"before": "growing"}
    finally:
        await core.close()


async def test_ban_stops_tasks_and_halts_waiting_prompts(db_url):
    core = open_core(db_url, tree_max_active_trees_per_lang=0)  # accepted prompts stay in the lottery
    try:
        boss, mod = await staff(core)
        troll, a, b = await people(core, 3)
        waiting = await write_prompt(core, troll, "first")
        in_lottery = await write_prompt(core, troll, "second")
        await core.review(mod.id, in_lottery, True)
        open_task = await core.request_task(troll.id, type=TaskType.initial_prompt)
        await core.ban_user(mod.id, troll.id, reason="spam wave")
        assert (await core.get_user(troll.id)).banned
        with pytest.raises(UserBanned):
            await core.request_task(troll.id)
        with pytest.raises(UserBanned):
            await core.submit_reply(troll.id, open_task.id, "more spam")
        async with core.db.read() as s:
            assert (await s.get(Task, open_task.id)).state == "cancelled"
        assert await tree_state(core, waiting) == "halted_by_moderator"
        assert await tree_state(core, in_lottery) == "halted_by_moderator"
        # Halted prompts are offered to nobody for review.
        with pytest.raises(NoTaskAvailable):
            await core.request_task(a.id, type=TaskType.label_initial_prompt)

        await core.unban_user(mod.id, troll.id, reason="appeal accepted")
        assert await tree_state(core, waiting) == "initial_prompt_review"
        assert await tree_state(core, in_lottery) == "prompt_lottery_waiting"
        assert (await core.request_task(troll.id, type=TaskType.initial_prompt)).type == TaskType.initial_prompt
        actions = [e.action for e in await core.audit_log(mod.id, target_id=troll.id)]
        assert actions == ["unban", "ban"]
    finally:
        await core.close()


async def test_edit_own_message_within_grace_and_moderator_any(db_url):
    core = open_core(db_url)
    try:
        boss, mod = await staff(core)
        alice, bob = await people(core, 2)
        root = await write_prompt(core, alice, "How do volcanos form?")
        view = await core.edit_message(alice.id, root, "How do volcanoes form?")
        assert view.text == "How do volcanoes form?" and view.edited
        with pytest.raises(PermissionDenied):
            await core.edit_message(bob.id, root, "hijacked")
        await core.edit_message(mod.id, root, "How do volcanoes form on Earth?")
        history = await core.message_revisions(alice.id, root)
        assert [t for _, t in history] == ["How do volcanos form?", "How do volcanoes form?"]
        async with core.db.read() as s:
            editors = (await s.scalars(select(MessageRevision.edited_by).order_by(MessageRevision.id))).all()
        assert editors == [alice.id, mod.id]
        assert [e.action for e in await core.audit_log(mod.id, target_id=root)] == ["edit", "edit"]
    finally:
        await core.close()


async def test_edit_after_grace_is_refused(db_url):
    core = open_core(db_url, task_edit_grace_minutes=0)
    try:
        boss, mod = await staff(core)
        (alice,) = await people(core, 1)
        root = await write_prompt(core, alice, "Original")
        with pytest.raises(PermissionDenied) as err:
            await core.edit_message(alice.id, root, "Changed")
        assert "0 minutes" in err.value.message
        assert (await core.conversation(root))[0].text == "Original"
        assert await core.message_revisions(alice.id, root) == []
    finally:
        await core.close()


async def test_purge_removes_a_users_data_and_keeps_trees_consistent(db_url):
    core = open_core(db_url)
    try:
        boss, mod = await staff(core)
        author, *crowd = await people(core, 6)
        root = await grown_tree(core, author, crowd)
        victim = crowd[0]
        other_root = await write_prompt(core, crowd[1], "Another question")
        await core.react(victim.id, other_root, "+1")
        await core.react(victim.id, root, "red_flag")
        before = await core.user_points(victim.id)
        assert before.total > 0

        counts = await core.purge_user(boss.id, victim.id, reason="GDPR request #12")
        assert counts["identities"] == 1 and counts["reactions"] == 2
        assert counts["labels"] + counts["ballots"] + counts["messages"] > 0
        assert await core.find_user("console", victim.display_name) is None
        async with core.db.read() as s:
            from core.models import Ballot, Label, Reaction

            for model in (Ballot, Label, Reaction):
                assert (await s.scalars(select(model).where(model.user_id == victim.id))).all() == []
            texts = (await s.scalars(select(Message).where(Message.user_id == victim.id))).all()
            assert texts == []
        assert (await core.user_points(victim.id)).total == 0
        assert (await core.react(crowd[2].id, other_root, "+1")) == {"+1": 1}  # the purged vote is gone
        assert all(r.user_id != victim.id for r in await core.leaderboard("all"))
        await check_invariants(core, core.settings)
        entry = (await core.audit_log(boss.id, target_id=victim.id))[0]
        assert entry.action == "purge" and entry.reason == "GDPR request #12"
    finally:
        await core.close()
