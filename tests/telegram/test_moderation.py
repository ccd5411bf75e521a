"""The moderators' group: approve and reject by reaction and by button; non-moderators change nothing."""

from __future__ import annotations

from sqlalchemy import select

from core.models import Message, Report, Tree, TreeState
from tests.telegram.driver import LP, P, complete, take
from tests.telegram.fake_botapi import BOT_USER
from tests.core.crowd import answer, people

MODS = -1001
ADMIN, MOD, OUTSIDER, ALICE = 900, 901, 902, 101


async def setup_mod_group(bot) -> None:
    """The group's admin makes it the moderators' group and names a moderator, with the bot's commands."""
    bot.fake.admins[MODS] = {ADMIN, BOT_USER["id"]}
    reply = await bot.send(ADMIN, "/setup moderation", chat=MODS)
    assert "Moderators' group: yes" in reply.text and "Make me an admin" not in reply.text
    reply = await bot.send(ADMIN, f"/moderator add {MOD}", chat=MODS)
    assert str(MOD) in reply.text


async def write_prompt(bot, user: int, text: str):
    """A member writes a prompt through the chat; returns its post in the moderators' group."""
    after = bot.fake.last_id()
    await complete(bot, user, await take(bot, user, "prompt"), text=text)
    post = await bot.fake.next_message(MODS, after, lambda m: text in m.text)
    async with bot.core.db.read() as s:
        msg = await s.scalar(select(Message).where(Message.text == text))
    return post, msg.id


async def review_result(bot, message_id):
    async with bot.core.db.read() as s:
        return (await s.get(Message, message_id)).review_result


async def test_approve_and_reject_by_reaction(bot):
    await setup_mod_group(bot)
    assert "message_reaction" in bot.fake.allowed_updates
    post, mid = await write_prompt(bot, ALICE, "Why is the sky blue?")
    assert post.button("Approve") and f"id {mid}" in post.text
    bot.fake.react(MOD, post, "👍")
    await bot.fake.wait_for(lambda: "Approved by" in post.text)
    assert await review_result(bot, mid) is True

    post2, mid2 = await write_prompt(bot, ALICE, "buy cheap watches now")
    bot.fake.react(MOD, post2, "👎")
    await bot.fake.wait_for(lambda: "Rejected by" in post2.text)
    assert await review_result(bot, mid2) is False
    async with bot.core.db.read() as s:
        assert (await s.get(Tree, mid2)).state == TreeState.aborted_low_grade
    assert not post2.buttons()


async def test_approve_and_reject_by_button(bot):
    await setup_mod_group(bot)
    post, mid = await write_prompt(bot, ALICE, "How do vaccines work?")
    answer_ = await bot.tap(MOD, post, "Approve")
    assert "Approved" in answer_["text"]
    assert await review_result(bot, mid) is True
    post2, mid2 = await write_prompt(bot, ALICE, "spam spam spam")
    await bot.tap(MOD, post2, "Reject")
    await bot.fake.wait_for(lambda: "Rejected by" in post2.text)
    assert await review_result(bot, mid2) is False


async def test_non_moderator_changes_nothing(bot):
    await setup_mod_group(bot)
    post, mid = await write_prompt(bot, ALICE, "What is entropy?")
    bot.fake.react(OUTSIDER, post, "👎")
    answer_ = await bot.tap(OUTSIDER, post, "Reject")
    assert "Only the moderators" in answer_["text"]
    reply = await bot.send(OUTSIDER, f"/reject {mid}", chat=MODS)
    assert "Only moderators" in reply.text
    reply = await bot.send(OUTSIDER, f"/moderator add {OUTSIDER}", chat=MODS)
    assert "Only the group's admins" in reply.text
    assert await review_result(bot, mid) is None
    assert "What is entropy?" in post.text and post.button("Approve")
    # A moderator's reaction afterwards still decides: nothing was half-applied.
    bot.fake.react(MOD, post, "👍")
    await bot.fake.wait_for(lambda: "Approved by" in post.text)


async def test_report_goes_to_moderators_and_reaction_deletes(bot):
    await setup_mod_group(bot)
    crowd = await people(bot.core, 2, prefix="c")
    t = await bot.core.request_task(crowd[0].id, type=P)
    await answer(bot.core, crowd[0], t, text="Tell me a rude joke")
    t = await bot.core.request_task(crowd[1].id, type=LP)
    await answer(bot.core, crowd[1], t)
    control = await take(bot, ALICE, "assistant")
    await bot.tap(ALICE, control, "Report")
    ask = await bot.fake.next_message(ALICE, control.message_id, lambda m: m.force_reply and "reason" in m.text)
    after = bot.fake.last_id()
    await bot.send(ALICE, "offensive request", reply_to=ask.message_id, where=lambda m: "moderators will look" in m.text)
    post = await bot.fake.next_message(MODS, after, lambda m: "Reported message" in m.text)
    assert "offensive request" in post.text and "Tell me a rude joke" in post.text
    bot.fake.react(MOD, post, "👎")
    await bot.fake.wait_for(lambda: "Deleted by" in post.text)
    async with bot.core.db.read() as s:
        msg = await s.scalar(select(Message).where(Message.text == "Tell me a rude joke"))
        assert msg.deleted
        assert (await s.scalar(select(Report).where(Report.message_id == msg.id))).resolution == "delete"


async def test_moderator_commands(bot):
    await setup_mod_group(bot)
    post, mid = await write_prompt(bot, ALICE, "Explain photosynthesis")
    reply = await bot.send(MOD, "/queue review", chat=MODS, where=lambda m: "Explain photosynthesis" in m.text)
    assert reply.button("Approve")
    reply = await bot.send(MOD, f"/approve {mid}", chat=MODS)
    assert "approved" in reply.text
    assert await review_result(bot, mid) is True
    reply = await bot.send(MOD, f"/ban {ALICE} spamming", chat=MODS)
    assert "banned" in reply.text
    reply = await bot.send(ALICE, "/task prompt")
    assert "banned" in reply.text
    reply = await bot.send(MOD, f"/unban {ALICE}", chat=MODS)
    assert "may take part again" in reply.text
    reply = await bot.send(MOD, "/audit", chat=MODS)
    assert "ban" in reply.text and "approve" in reply.text


async def test_prompts_waiting_before_the_group_was_set_are_posted_once(make_bot):
    bot = await make_bot(maintainers="telegram:700")
    await bot.start()
    for text in ("Waiting prompt one", "Waiting prompt two"):
        await complete(bot, ALICE, await take(bot, ALICE, "prompt"), text=text)
    bot.fake.admins[MODS] = {ADMIN, BOT_USER["id"]}
    # The group's admin is no Chorus moderator: told how the backlog arrives, nothing posted.
    reply = await bot.send(ADMIN, "/setup moderation", chat=MODS)
    assert "when a moderator sends /queue" in reply.text
    assert not [m for m in bot.fake.bot_messages(MODS) if "Waiting prompt" in m.text]
    after = bot.fake.last_id()
    await bot.send(700, "/setup moderation", chat=MODS)  # a maintainer
    first = await bot.fake.next_message(MODS, after, lambda m: "Waiting prompt one" in m.text)
    await bot.fake.next_message(MODS, after, lambda m: "Waiting prompt two" in m.text)
    reply = await bot.send(700, "/setup moderation", chat=MODS)
    assert "Saved" in reply.text
    await bot.send(700, "/help", chat=MODS)  # handled after the setup in this chat: its posts are done
    assert len([m for m in bot.fake.bot_messages(MODS) if "Waiting prompt one" in m.text]) == 1
    bot.fake.react(700, first, "👍")
    await bot.fake.wait_for(lambda: "Approved by" in first.text)
