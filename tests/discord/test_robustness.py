"""Restarts, redeliveries, long texts, mentions, drafts and rate limits."""

from __future__ import annotations

import asyncio
import re

import pytest
from sqlalchemy import func, select

from core.models import Message, TaskType
from tests.discord import growth
from tests.discord.conftest import SMALL


async def texts(core) -> list[str]:
    async with core.db.read() as s:
        return list(await s.scalars(select(Message.text).order_by(Message.created_at)))


def quoted_text(content: str) -> str:
    """The user text a page shows (block-quoted lines), whitespace normalised."""
    return " ".join(line[2:] for line in content.split("\n") if line.startswith("> "))


async def test_restart_mid_ranking_keeps_the_half_built_order(discord_env):
    fake, core = discord_env.fake, discord_env.core
    parent = await growth.prompt(core)
    for i in range(2):
        await growth.reply(core, TaskType.assistant_reply, f"Answer number {i}.")
    ivy = fake.add_member("ivy")
    screen = await fake.answer(await fake.command(ivy, "task", type="rank_assistant_replies"))
    await discord_env.stop()
    await discord_env.start()
    # The old message's buttons still work, and /task brings back the same task.
    again = await fake.answer(await fake.command(ivy, "task"))
    assert "Rank" in again["content"] and "Answer number 0." in again["content"]
    first = fake.find_component(screen, "s:pick", kind=3)["options"][0]["value"]
    screen = await fake.answer(await fake.choose(ivy, screen, "s:pick", [first]))
    await discord_env.stop()
    await discord_env.start()
    shown = await fake.answer(await fake.command(ivy, "task"))
    assert "Your order, best first: **A** > **B**" in shown["content"], "the half-built ranking survived"
    done = await fake.answer(await fake.click(ivy, shown, "Submit ranking"))
    assert "ranking was saved" in done["content"]
    assert parent


async def test_modal_opened_before_a_restart_still_submits(discord_env):
    fake, core = discord_env.fake, discord_env.core
    jo = fake.add_member("jo")
    screen = await fake.answer(await fake.command(jo, "task", type="initial_prompt"))
    opened = await fake.click(jo, screen, "Write")
    await fake.answer(opened)
    await discord_env.stop()
    await discord_env.start()
    done = await fake.answer(await fake.submit(jo, opened, {"Your text": "Written across a restart."}))
    assert "saved" in done["content"]
    assert await texts(core) == ["Written across a restart."]


async def test_same_interaction_delivered_twice_is_harmless(discord_env):
    fake, core = discord_env.fake, discord_env.core
    kim = fake.add_member("kim")
    screen = await fake.answer(await fake.command(kim, "task", type="initial_prompt"))
    opened = await fake.click(kim, screen, "Write")
    await fake.answer(opened)
    sent = await fake.submit(kim, opened, {"Your text": "Only once, please."})
    await fake.answer(sent)
    await fake.redeliver(sent)
    await fake.redeliver(opened)
    await asyncio.sleep(0.5)  # let the bot see both replays; the fixture then checks for 40060
    await fake.answer(await fake.command(kim, "help"))
    assert await texts(core) == ["Only once, please."]


@pytest.fixture
def overrides() -> dict:
    return {**SMALL, "tree_goal_tree_size": 3, "task_message_max_chars": 5000}


async def test_5000_character_reply_is_stored_and_shown_in_full(discord_env):
    fake, core = discord_env.fake, discord_env.core
    await growth.prompt(core, "Write me a long story.")
    long = " ".join(f"w{i:04d}" for i in range(900))[:5000].strip()
    assert len(long) == 5000
    lee = fake.add_member("lee")
    screen = await fake.answer(await fake.command(lee, "task", type="assistant_reply"))
    opened = await fake.click(lee, screen, "Write")
    form = await fake.answer(opened)
    assert len(form["components"]) == 2, "a 5000-character text needs two 4000-character inputs"
    await fake.answer(await fake.submit(lee, opened, {"text0": long[:4000], "text1": long[4000:]}))
    assert long in await texts(core)
    # Another member labels it: every page together shows the whole text, and no page is over the limit.
    may = fake.add_member("may")
    page = await fake.answer(await fake.command(may, "task", type="label_assistant_reply"))
    seen = [quoted_text(page["content"])]
    while not fake.find_component(page, "▶", kind=2).get("disabled"):
        page = await fake.answer(await fake.click(may, page, "▶"))
        seen.append(quoted_text(page["content"]))
    assert len(seen) >= 3
    assert long in " ".join(seen)


async def test_everyone_in_a_reply_pings_nobody(discord_env):
    fake, core = discord_env.fake, discord_env.core
    await growth.prompt(core)
    ned = fake.add_member("ned")
    screen = await fake.answer(await fake.command(ned, "task", type="assistant_reply"))
    opened = await fake.click(ned, screen, "Write")
    await fake.answer(opened)
    await fake.answer(await fake.submit(ned, opened, {"Your text": "@everyone look <@123456789012345678> here"}))
    olga = fake.add_member("olga")
    page = await fake.answer(await fake.command(olga, "task", type="label_assistant_reply"))
    assert "@everyone look" in page["content"]
    assert fake.pings == []  # the fixture checks again after the bot stops


async def test_skip_asks_only_when_a_draft_exists(discord_env):
    fake, core = discord_env.fake, discord_env.core
    pat = fake.add_member("pat")
    screen = await fake.answer(await fake.command(pat, "task", type="initial_prompt"))
    done = await fake.answer(await fake.click(pat, screen, "Skip"))
    assert "Skipped" in done["content"]
    # A refused text (the same as one sent a moment ago) is kept as a draft.
    screen = await fake.answer(await fake.click(pat, done, "Next task"))
    for text in ("Is the moon hollow?", "Is the moon hollow?"):
        screen = await fake.answer(await fake.command(pat, "task", type="initial_prompt"))
        opened = await fake.click(pat, screen, "Write")
        await fake.answer(opened)
        result = await fake.answer(await fake.submit(pat, opened, {"Your text": text}))
    assert "same text" in result["content"] and "draft" in result["content"]
    reopened = await fake.answer(await fake.click(pat, screen, "Write"))
    assert reopened["components"][0]["components"][0]["value"] == "Is the moon hollow?"
    confirm = await fake.answer(await fake.click(pat, screen, "Skip"))
    assert "draft" in confirm["content"]
    done = await fake.answer(await fake.click(pat, confirm, "Skip and discard my draft"))
    assert "Skipped" in done["content"]
    assert await texts(core) == ["Is the moon hollow?"]


async def test_rate_limited_answers_are_retried(discord_env):
    fake = discord_env.fake
    quinn = fake.add_member("quinn")
    fake.throttle("POST", r"/interactions/\d+/[^/]+/callback")
    shown = await fake.answer(await fake.command(quinn, "help"))
    assert "/task" in shown["content"] and fake.throttled == 1


async def test_core_errors_are_sentences(discord_env):
    fake = discord_env.fake
    rae = fake.add_member("rae")
    bad = await fake.answer(await fake.command(rae, "language", code="not a language!"))
    assert bad["content"].startswith("'not a language!' is not a language tag")
    assert "Traceback" not in bad["content"]
    empty = await fake.answer(await fake.command(rae, "task", type="rank_assistant_replies"))
    assert "no task for you right now" in empty["content"]
    assert re.search(r"\w\.$", empty["content"])
    async with discord_env.core.db.read() as s:
        assert await s.scalar(select(func.count()).select_from(Message)) == 0
