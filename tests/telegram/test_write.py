"""Writing through the chat: /task, a reply to the bot's ForceReply message, drafts, errors."""

from __future__ import annotations

from sqlalchemy import select

from core.models import Message, TaskState, TreeState, Tree

ALICE = 101


async def messages_with(bot, text: str) -> list[Message]:
    async with bot.core.db.read() as s:
        return list((await s.scalars(select(Message).where(Message.text == text))).all())


async def test_prompt_is_written_by_reply_and_stored(bot):
    fr = await bot.send(ALICE, "/task prompt", where=lambda m: m.force_reply)
    assert "Reply to this message" in fr.text
    control = bot.fake.bot_messages(ALICE)[-2]
    assert "Write" in control.text and control.button("Skip")
    thanks = await bot.send(ALICE, "How do tides work?", reply_to=fr.message_id, where=lambda m: "saved" in m.text)
    assert thanks.button("Next task")
    [msg] = await messages_with(bot, "How do tides work?")
    async with bot.core.db.read() as s:
        assert (await s.get(Tree, msg.tree_id)).state == TreeState.initial_prompt_review
    [task] = await bot.tasks_of(ALICE)
    assert task.state == TaskState.done
    # The control message now says it is answered and offers the next task.
    await bot.fake.wait_for(lambda: "Answered" in control.text)


async def test_bad_input_gets_a_sentence_and_changes_nothing(bot):
    fr = await bot.send(ALICE, "/task prompt", where=lambda m: m.force_reply)
    reply = await bot.send(ALICE, "x" * 2500, reply_to=fr.message_id)
    assert "the limit is" in reply.text
    reply = await bot.send(ALICE, "/task dance")
    assert "not a kind of task" in reply.text
    [task] = await bot.tasks_of(ALICE)
    assert task.state == TaskState.pending
    assert await messages_with(bot, "x" * 2500) == []


async def test_text_without_reply_becomes_a_draft_that_can_be_sent(bot):
    fr = await bot.send(ALICE, "/task prompt", where=lambda m: m.force_reply)
    offer = await bot.send(ALICE, "What is a monad?")
    assert "draft" in offer.text
    [task] = await bot.tasks_of(ALICE)
    assert task.draft == "What is a monad?"
    await bot.tap(ALICE, offer, "Send the draft")
    await bot.fake.wait_for(lambda: any("saved" in m.text for m in bot.fake.bot_messages(ALICE)))
    assert len(await messages_with(bot, "What is a monad?")) == 1
    assert fr.message_id


async def test_skip_asks_only_when_a_draft_exists(bot):
    await bot.send(ALICE, "/task prompt", where=lambda m: m.force_reply)
    control = bot.fake.bot_messages(ALICE)[-2]
    await bot.tap(ALICE, control, "Skip")
    await bot.fake.wait_for(lambda: "Skipped" in control.text)
    [task] = await bot.tasks_of(ALICE)
    assert task.state == TaskState.skipped

    await bot.send(ALICE, "/task prompt", where=lambda m: m.force_reply)
    control = bot.fake.bot_messages(ALICE)[-2]
    await bot.send(ALICE, "half a thought")  # kept as a draft
    await bot.tap(ALICE, control, "Skip")
    await bot.fake.wait_for(lambda: "Skip it anyway" in control.text)
    assert (await bot.tasks_of(ALICE))[-1].state == TaskState.pending
    await bot.tap(ALICE, control, "No, keep it")
    await bot.fake.wait_for(lambda: "half a thought" in control.text)
    await bot.tap(ALICE, control, "Skip")
    await bot.fake.wait_for(lambda: "Skip it anyway" in control.text)
    await bot.tap(ALICE, control, "Yes, skip")
    await bot.fake.wait_for(lambda: "Skipped" in control.text)
    assert (await bot.tasks_of(ALICE))[-1].state == TaskState.skipped
