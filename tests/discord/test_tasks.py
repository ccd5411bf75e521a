"""Every task type completed through the Discord UI into the database."""

from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import select

from bots.discord import replies
from core.models import Ballot, Label, Message, TaskType
from tests.discord import growth
from tests.discord.conftest import SMALL


@pytest.fixture
def overrides() -> dict:
    return {**SMALL, "tree_goal_tree_size": 3}  # a prompt and two replies: then ranking


async def rows(core, model, **where):
    async with core.db.read() as s:
        return list(await s.scalars(select(model).filter_by(**where)))


@pytest.fixture(params=["direct", "deferred"])
def answer_mode(request, monkeypatch):
    """Answer at once, or defer every answer first (the path taken when the database is slow)."""
    if request.param == "deferred":
        monkeypatch.setattr(replies, "DEFER_AFTER", 0.0)
    return request.param


async def test_assistant_reply_through_modal(discord_env, answer_mode):
    fake, core = discord_env.fake, discord_env.core
    root = await growth.prompt(core, "Why is the sky blue?")
    bob = fake.add_member("bob")
    shown = await fake.answer(await fake.command(bob, "task", type="assistant_reply"))
    assert "Why is the sky blue?" in shown["content"] and "Reply as the assistant" in shown["content"]
    opened = await fake.click(bob, shown, "Write")
    assert (await fake.answer(opened))["title"] == "Reply as the assistant"
    done = await fake.answer(await fake.submit(bob, opened, {"Your text": "Because of Rayleigh scattering."}))
    assert "saved" in done["content"]
    [msg] = await rows(core, Message, parent_id=root)
    assert msg.text == "Because of Rayleigh scattering." and msg.role == "assistant"


async def test_prompter_reply_through_modal(discord_env):
    fake, core = discord_env.fake, discord_env.core
    await growth.prompt(core)
    answer_id = await growth.reply(core, TaskType.assistant_reply, "Magma rises through the crust.")
    carol = fake.add_member("carol")
    shown = await fake.answer(await fake.command(carol, "task", type="prompter_reply"))
    assert "Magma rises" in shown["content"]
    opened = await fake.click(carol, shown, "Write")
    await fake.answer(opened)
    await fake.answer(await fake.submit(carol, opened, {"Your text": "Where does the magma come from?"}))
    [msg] = await rows(core, Message, parent_id=answer_id)
    assert msg.role == "prompter" and msg.text == "Where does the magma come from?"


async def test_label_prompt_with_buttons(discord_env, answer_mode):
    fake, core = discord_env.fake, discord_env.core
    root = await growth.prompt(core, "Tell me about tides.", accept=False)
    dana = fake.add_member("dana")
    screen = await fake.answer(await fake.command(dana, "task", type="label_initial_prompt"))
    assert "Tell me about tides." in screen["content"]
    # Submitting without the required spam answer is refused with a sentence, and nothing is stored.
    refused = await fake.answer(await fake.click(dana, screen, "Submit labels"))
    assert "spam" in refused["content"] and not await rows(core, Label, message_id=root)
    screen = await fake.answer(await fake.click(dana, screen, "Spam: No"))
    screen = await fake.answer(await fake.click(dana, screen, "Wrong language"))
    screen = await fake.answer(await fake.click(dana, screen, "Wrong language"))  # a flag toggles back off
    screen = await fake.answer(await fake.click(dana, screen, "Quality 4"))
    screen = await fake.answer(await fake.click(dana, screen, "More questions ▶"))
    screen = await fake.answer(await fake.click(dana, screen, "Humor 2"))
    done = await fake.answer(await fake.click(dana, screen, "Submit labels"))
    assert "labels were saved" in done["content"]
    [label] = await rows(core, Label, message_id=root)
    assert label.values["spam"] == 0.0 and label.values["quality"] == 0.75 and label.values["humor"] == 0.25
    assert label.values["lang_mismatch"] == 0.0


@pytest.mark.parametrize("kind", [TaskType.label_assistant_reply, TaskType.label_prompter_reply])
async def test_label_reply(discord_env, kind):
    fake, core = discord_env.fake, discord_env.core
    await growth.prompt(core)
    if kind == TaskType.label_prompter_reply:
        await growth.reply(core, TaskType.assistant_reply, "An answer.")
    target = await growth.reply(core, TaskType.prompter_reply if kind == TaskType.label_prompter_reply
                                else TaskType.assistant_reply, "Text to judge.", accept=False)  # fmt: skip
    erin = fake.add_member("erin")
    screen = await fake.answer(await fake.command(erin, "task", type=kind.value))
    screen = await fake.answer(await fake.click(erin, screen, "Spam: Yes"))
    done = await fake.answer(await fake.click(erin, screen, "Submit labels"))
    assert "saved" in done["content"]
    [label] = await rows(core, Label, message_id=target)
    assert label.values["spam"] == 1.0


async def ranking_ready(core):
    parent = await growth.prompt(core)
    ids = [await growth.reply(core, TaskType.assistant_reply, f"Answer number {i}.") for i in range(2)]
    return parent, ids


async def test_rank_with_select_menu(discord_env, answer_mode):
    fake, core = discord_env.fake, discord_env.core
    parent, _ = await ranking_ready(core)
    finn = fake.add_member("finn")
    screen = await fake.answer(await fake.command(finn, "task", type="rank_assistant_replies"))
    assert "Answer number 0." in screen["content"] and "Answer number 1." in screen["content"]
    menu = fake.find_component(screen, "s:pick", kind=3)
    best = menu["options"][1]["value"]  # the reply shown second is the best
    shown_b = re.search(r"Reply B .*\n> (Answer number \d)", screen["content"])[1]
    screen = await fake.answer(await fake.choose(finn, screen, "s:pick", [best]))
    assert "Your order, best first: **B** > **A**" in screen["content"]
    done = await fake.answer(await fake.click(finn, screen, "Submit ranking"))
    assert "ranking was saved" in done["content"]
    [ballot] = await rows(core, Ballot, parent_id=parent)
    first = (await rows(core, Message, id=uuid.UUID(ballot.ranking[0])))[0]
    assert first.text.startswith(shown_b) and len(ballot.ranking) == 2 and not ballot.not_rankable


async def test_rank_none_acceptable(discord_env):
    fake, core = discord_env.fake, discord_env.core
    parent, _ = await ranking_ready(core)
    gus = fake.add_member("gus")
    screen = await fake.answer(await fake.command(gus, "task", type="rank_assistant_replies"))
    await fake.answer(await fake.click(gus, screen, "None of these is acceptable"))
    [ballot] = await rows(core, Ballot, parent_id=parent)
    assert ballot.not_rankable and ballot.ranking == []


async def test_next_task_is_one_click_away(discord_env):
    fake = discord_env.fake
    hal = fake.add_member("hal")
    screen = await fake.answer(await fake.command(hal, "task", type="initial_prompt"))
    opened = await fake.click(hal, screen, "Write")
    await fake.answer(opened)
    done = await fake.answer(await fake.submit(hal, opened, {"Your text": "What is a black hole?"}))
    nxt = await fake.answer(await fake.click(hal, done, "Another: Write a prompt"))
    assert "Write a first message" in nxt["content"]
