"""Who may do what: members cannot moderate, moderators cannot hand out roles, maintainers can."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core.errors import InvalidInput, PermissionDenied
from core.models import AuditLog
from tests.community.helpers import open_core, people, staff, write_prompt


async def audit_count(core) -> int:
    async with core.db.read() as s:
        return await s.scalar(select(func.count()).select_from(AuditLog))


async def test_member_cannot_moderate(db_url):
    core = open_core(db_url)
    try:
        boss, mod = await staff(core)
        alice, bob = await people(core, 2)
        root = await write_prompt(core, bob)
        before = await audit_count(core)
        attempts = [
            core.moderation_queue(alice.id),
            core.review(alice.id, root, True),
            core.resolve_reports(alice.id, root),
            core.delete_message(alice.id, root),
            core.undelete_message(alice.id, root),
            core.halt_tree(alice.id, root, reason="spam"),
            core.resume_tree(alice.id, root),
            core.ban_user(alice.id, bob.id, reason="spam"),
            core.unban_user(alice.id, bob.id),
            core.purge_user(alice.id, bob.id, reason="asked"),
            core.audit_log(alice.id),
            core.troll_board(alice.id),
            core.set_role(alice.id, alice.id, "maintainer"),
        ]
        for call in attempts:
            with pytest.raises(PermissionDenied):
                await call
        with pytest.raises(PermissionDenied):
            await core.edit_message(alice.id, root, "not my prompt")  # someone else's message
        assert await audit_count(core) == before
        assert (await core.get_user(alice.id)).role == "member"
        assert not (await core.get_user(bob.id)).banned
    finally:
        await core.close()


async def test_moderator_cannot_change_roles_or_act_on_staff(db_url):
    core = open_core(db_url)
    try:
        boss, mod = await staff(core)
        (alice,) = await people(core, 1)
        with pytest.raises(PermissionDenied):
            await core.set_role(mod.id, alice.id, "moderator")
        with pytest.raises(PermissionDenied):
            await core.set_role(mod.id, mod.id, "maintainer")
        with pytest.raises(PermissionDenied):
            await core.ban_user(mod.id, boss.id, reason="coup")
        with pytest.raises(PermissionDenied):
            await core.purge_user(mod.id, alice.id, reason="asked")  # purging is for maintainers
        with pytest.raises(InvalidInput):
            await core.ban_user(mod.id, mod.id, reason="oops")
        assert (await core.get_user(alice.id)).role == "member"
        assert not (await core.get_user(boss.id)).banned
    finally:
        await core.close()


async def test_maintainer_manages_roles(db_url):
    core = open_core(db_url)
    try:
        boss, mod = await staff(core)
        (alice,) = await people(core, 1)
        assert boss.role == "maintainer" and mod.role == "moderator"
        assert (await core.set_role(boss.id, alice.id, "moderator")).role == "moderator"
        # The new moderator can now moderate, and a maintainer can ban a moderator.
        assert await core.moderation_queue(alice.id) == []
        banned = await core.ban_user(boss.id, mod.id, reason="abused the role")
        assert banned.banned
        entries = await core.audit_log(boss.id, target_id=alice.id)
        assert [e.action for e in entries] == ["set_role"]
        assert entries[0].actor_name == "boss" and entries[0].details == {"from": "member", "to": "moderator"}
    finally:
        await core.close()


async def test_bad_input_changes_nothing(db_url):
    core = open_core(db_url)
    try:
        boss, mod = await staff(core)
        (alice,) = await people(core, 1)
        root = await write_prompt(core, alice)
        before = await audit_count(core)
        for call, words in [
            (core.ban_user(mod.id, alice.id, reason="   "), "reason"),
            (core.halt_tree(mod.id, root, reason=""), "reason"),
            (core.delete_message(mod.id, "not-an-id"), "not a valid"),
            (core.moderation_queue(mod.id, kind="everything"), "not a queue"),
            (core.resolve_reports(mod.id, root, action="burn"), "dismiss or delete"),
            (core.resolve_reports(mod.id, root), "no open reports"),
            (core.resume_tree(mod.id, root), "not halted"),
            (core.undelete_message(mod.id, root), "not deleted"),
            (core.unban_user(mod.id, alice.id), "not banned"),
            (core.leaderboard("year"), "not a leaderboard window"),
        ]:
            with pytest.raises(InvalidInput) as err:
                await call
            assert words in err.value.message
        assert await audit_count(core) == before
        assert not (await core.get_user(alice.id)).banned
    finally:
        await core.close()
