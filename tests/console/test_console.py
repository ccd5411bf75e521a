"""The console front end, driven line by line as a person would type, and as a real process."""

from __future__ import annotations

import asyncio
import os
import sys

from sqlalchemy import select

from bots.console import run_console
from core.models import Ballot, Label, Message, TaskType
from core.service import Chorus
from tests.conftest import make_settings
from tests.core.crowd import answer, people

SMALL = dict(tree_goal_tree_size=3, tree_reviews_initial_prompt=1, tree_reviews_reply=1, tree_max_tree_depth=1,
             tree_ballots_per_sibling_set=1, tree_max_children=2)  # fmt: skip


def typist(lines: list[str], screen: list[str]):
    """A reader that types the given lines, then ends the input; prompts show on the screen."""
    queue = list(lines)

    async def read(prompt: str):
        line = queue.pop(0) if queue else None
        screen.append(f"{prompt}{line if line is not None else ''}")
        return line

    return read


async def drive(core: Chorus, name: str, lines: list[str]) -> str:
    out: list[str] = []
    await run_console(core, user_name=name, read=typist(lines, out), write=out.append)
    return "\n".join(out)


async def test_every_kind_of_task_from_the_console(db_url):
    core = Chorus.open_on(make_settings(db_url, **SMALL), seed=8)
    try:
        out = await drive(core, "ana", ["task initial_prompt", "How do bees", "make honey?", ".", "quit"])
        assert "saved" in out
        async with core.db.read() as s:
            prompt = await s.scalar(select(Message).where(Message.depth == 0))
        assert prompt.text == "How do bees\nmake honey?"

        # Label it from the console: spam is required, the rest may be skipped with Enter.
        out = await drive(core, "ben", ["task label_initial_prompt", "maybe", "n", "", "4", *[""] * 8, "quit"])
        assert "Please answer one of" in out and "labels were saved" in out
        async with core.db.read() as s:
            label = await s.scalar(select(Label))
        assert label.values["spam"] == 0.0 and label.values["quality"] == 0.75

        out = await drive(core, "cid", ["task assistant_reply", "Bees turn nectar into honey.", ".", "quit"])
        assert "How do bees" in out and "saved" in out
        crowd = await people(core, 3, prefix="x")
        await answer(core, crowd[0], await core.request_task(crowd[0].id, type=TaskType.assistant_reply))
        for u in crowd[1:]:
            await answer(core, u, await core.request_task(u.id, type=TaskType.label_assistant_reply))

        out = await drive(core, "ana", ["task rank_assistant_replies", "A A", "show", "B A", "quit"])
        assert "exactly once" in out and "ranking was saved" in out
        async with core.db.read() as s:
            assert await s.scalar(select(Ballot)) is not None
    finally:
        await core.close()


async def test_console_skip_confirms_when_a_draft_exists(db_url):
    core = Chorus.open_on(make_settings(db_url), seed=8)
    try:
        (u,) = await people(core, 1, prefix="dee")
        t = await core.request_task(u.id, type=TaskType.initial_prompt)
        await core.save_draft(u.id, t.id, "half an idea")
        out = await drive(core, "dee0", ["skip", "n", "quit"])
        assert "Skip and lose it?" in out and "Kept." in out
        assert (await core.get_task(u.id, t.id)).state == "pending"
        out = await drive(core, "dee0", ["show", "", "skip", "y", "quit"])
        assert "(your draft: half an idea)" in out and "Skipped" in out
        assert (await core.get_task(u.id, t.id)).state == "skipped"
    finally:
        await core.close()


async def test_console_reports_bad_input_as_sentences(db_url):
    core = Chorus.open_on(make_settings(db_url), seed=8)
    try:
        out = await drive(core, "eve", ["task nonsense", "lang !!", "frobnicate", "task rank_assistant_replies", "quit"])
        assert "'nonsense' is not a task type" in out
        assert "not a language tag" in out
        assert "Unknown command 'frobnicate'" in out
        assert "no task for you right now" in out
        assert "Traceback" not in out
    finally:
        await core.close()


async def test_chorus_console_process_on_the_embedded_default(tmp_path):
    """`chorus console` as a real process, in a fresh folder: the SQLite default upgrades itself."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHORUS_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bots.cli", "console", "--user", "fay",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        cwd=tmp_path, env={**env, "PYTHONPATH": os.getcwd()},
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(b"task initial_prompt\nWhat is a black hole?\n.\nquit\n"), 60)
    assert proc.returncode == 0, err.decode()
    assert b"saved" in out
    assert (tmp_path / "chorus.db").exists()
    core = Chorus.open_on(make_settings(f"sqlite+aiosqlite:///{tmp_path / 'chorus.db'}"))
    try:
        async with core.db.read() as s:
            assert await s.scalar(select(Message.text)) == "What is a black hole?"
    finally:
        await core.close()


async def test_chorus_run_without_tokens_opens_the_console(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHORUS_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bots.cli", "run",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        cwd=tmp_path, env={**env, "PYTHONPATH": os.getcwd()},
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(b"help\nquit\n"), 60)
    assert proc.returncode == 0, err.decode()
    assert b"Welcome to Chorus" in out and b"Commands:" in out
    assert b"opening the console" in err


async def test_points_and_leaderboard_from_the_console(db_url):
    core = Chorus.open_on(make_settings(db_url), seed=8)
    try:
        out = await drive(core, "gil", ["leaderboard", "task initial_prompt", "Why do cats purr?", ".", "points", "leaderboard all", "quit"])
        assert "Nobody has points in this window yet." in out
        assert "You have 0 points (level 0: Newcomer), streak 1 day." in out  # one prompt: floor(0.1 * 1) = 0
        assert "4 per assistant reply" in out  # the formula, in words
    finally:
        await core.close()
