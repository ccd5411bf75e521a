"""The maintainer command line: `chorus user|message|tree|queue|audit|leaderboard|stats`."""

from __future__ import annotations

import asyncio
import json

import pytest

from bots.cli import main
from core.models import TaskType
from tests.community.helpers import open_core


@pytest.fixture
def cli(db_url, monkeypatch, capsys, tmp_path):
    """Run `chorus …` against the test database as console:local, the configured maintainer."""
    monkeypatch.setenv("CHORUS_DATABASE_URL", db_url)
    monkeypatch.setenv("CHORUS_MAINTAINERS", "console:local")
    monkeypatch.chdir(tmp_path)  # no stray .env from the working directory

    def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(list(argv))
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def seed(db_url: str) -> dict:
    """Two members, and a prompt by bob in review."""

    async def go():
        core = open_core(db_url)
        try:
            alice = await core.user_from_identity("discord", "111", display_name="alice")
            bob = await core.user_from_identity("telegram", "222", display_name="bob")
            task = await core.request_task(bob.id, type=TaskType.initial_prompt)
            root = (await core.submit_reply(bob.id, task.id, "What makes bread rise?")).created_message_id
            return {"alice": alice.id, "bob": bob.id, "root": str(root)}
        finally:
            await core.close()

    return asyncio.run(go())


def role_of(db_url: str, user_id) -> tuple[str, bool]:
    async def go():
        core = open_core(db_url)
        try:
            u = await core.get_user(user_id)
            return u.role, u.banned
        finally:
            await core.close()

    return asyncio.run(go())


def test_roles_from_the_command_line(db_url, cli):
    ids = seed(db_url)
    code, out, _ = cli("user", "role", "discord:111", "moderator", "--reason", "helps a lot")
    assert code == 0 and "alice (discord:111) is now a moderator." in out
    assert role_of(db_url, ids["alice"]) == ("moderator", False)
    # A moderator cannot hand out roles; the sentence says why and nothing changes.
    code, _, err = cli("user", "role", "telegram:222", "moderator", "--as", "discord:111")
    assert code == 2 and "Only maintainers may do that." in err
    assert role_of(db_url, ids["bob"]) == ("member", False)
    # A member cannot use the moderation commands at all.
    code, _, err = cli("queue", "--as", "telegram:222")
    assert code == 2 and "is a member" in err
    code, _, err = cli("queue", "--as", "discord:999")
    assert code == 2 and "is not a Chorus user" in err
    code, _, err = cli("user", "role", "nobody", "moderator")
    assert code == 2 and "PLATFORM:ID" in err


def test_moderation_from_the_command_line(db_url, cli):
    ids = seed(db_url)
    root = ids["root"]
    code, out, _ = cli("queue")
    assert code == 0 and root in out and "What makes bread rise?" in out
    assert cli("message", "approve", root)[0] == 0
    assert cli("queue", "--kind", "review")[1].strip() == "The queue is empty."
    code, out, _ = cli("message", "edit", root, "What makes bread dough rise?")
    assert code == 0 and "revision" in out
    assert "What makes bread rise?" in cli("message", "history", root)[1]
    code, out, _ = cli("tree", "halt", root, "--reason", "checking sources")
    assert code == 0 and "halted" in out
    code, _, err = cli("tree", "halt", root, "--reason", "again")
    assert code == 2 and "already halted" in err
    assert "resumed" in cli("tree", "resume", root)[1]
    assert cli("message", "delete", root, "--reason", "duplicate")[1].strip() == "Deleted 1 message."
    assert cli("message", "undelete", root)[1].strip() == "Restored 1 message."
    code, out, _ = cli("audit", "--target", root)
    lines = out.strip().splitlines()
    assert code == 0 and len(lines) == 6  # approve, edit, halt, resume, delete, undelete
    assert "local: delete message" in lines[1] and "because duplicate" in lines[1]

    code, out, _ = cli("user", "ban", "telegram:222", "--reason", "spam")
    assert code == 0 and role_of(db_url, ids["bob"]) == ("member", True)
    assert cli("user", "unban", "telegram:222")[0] == 0 and role_of(db_url, ids["bob"]) == ("member", False)
    code, _, err = cli("user", "purge", "telegram:222", "--reason", "asked")
    assert code == 2 and "--yes" in err
    code, out, _ = cli("user", "purge", "telegram:222", "--reason", "asked", "--yes")
    assert code == 0 and "1 messages" in out and "1 identities" in out
    code, _, err = cli("user", "show", "telegram:222")
    assert code == 2 and "No Chorus user has the account telegram:222." in err


def test_points_leaderboard_and_stats_from_the_command_line(db_url, cli):
    seed(db_url)
    code, out, _ = cli("leaderboard")
    assert code == 0 and "Nobody has points" in out
    code, out, _ = cli("leaderboard", "--json", "--window", "week")
    assert code == 0 and json.loads(out) == []
    code, out, _ = cli("leaderboard", "--trolls", "--json")
    assert code == 0 and json.loads(out) == []
    code, out, _ = cli("user", "show", "telegram:222")
    assert code == 0 and "bob (telegram:222), member" in out and "0 points, level 0 (Newcomer)" in out
    code, out, _ = cli("stats", "--json")
    data = json.loads(out)
    assert code == 0 and data["trees"]["by_state"] == {"initial_prompt_review": 1} and data["messages"]["total"] == 1
    code, out, _ = cli("stats", "--lang", "en")
    assert code == 0 and out.startswith("Trees in en: 1")
