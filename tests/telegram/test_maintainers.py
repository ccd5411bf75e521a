"""Maintainer commands: /export sends an oasst file privately, /purge asks for a tap first; refusals in words."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from core.models import AuditLog, Message, User
from tests.discord.exports import read_export, seed_trees
from tests.telegram.driver import complete, take
from tests.telegram.test_moderation import MODS, setup_mod_group

KEEPER, MOD, ALICE, BOB = 700, 901, 101, 102


def has_file(m) -> bool:
    return m.document is not None


async def test_export_reaches_only_maintainers(make_bot, tmp_path):
    bot = await make_bot(maintainers=f"telegram:{KEEPER}")
    await bot.start()
    seeded = await seed_trees(bot.core, tmp_path)

    sent = await bot.send(KEEPER, "/export", where=has_file)
    name, data = sent.document
    assert name.startswith("chorus-trees-ready-for-export-") and name.endswith(".jsonl.gz")
    assert "2 trees, 4 messages" in sent.text
    trees = read_export(data)
    assert {t["message_tree_id"] for t in trees} == {k for k, v in seeded.items() if v["tree_state"] == "ready_for_export"}
    assert all(t["prompt"]["text"] == seeded[t["message_tree_id"]]["prompt"]["text"] for t in trees)

    sent = await bot.send(KEEPER, "/export state=all lang=en seed=s3cret", where=has_file)
    trees = read_export(sent.document[1])
    assert sorted(t["prompt"]["text"] for t in trees) == ["How do tides work?", "Why is the sky blue?"]
    assert not {t["message_tree_id"] for t in trees} & set(seeded)  # ids hashed with the seed

    # Asked in a group, the file still goes to the private chat, and the group is told so.
    after = bot.fake.last_id()
    reply = await bot.send(KEEPER, "/export lang=de", chat=MODS)
    assert "private chat" in reply.text
    sent = await bot.fake.next_message(KEEPER, after, has_file)
    assert [t["prompt"]["lang"] for t in read_export(sent.document[1])] == ["de"]

    await bot.send(MOD, "/start")
    reply = await bot.send(KEEPER, f"/role {MOD} moderator")
    assert "is now a moderator" in reply.text
    for who in (ALICE, MOD):
        reply = await bot.send(who, "/export")
        assert reply.text == "Only maintainers may export the data." and reply.document is None
    async with bot.core.db.read() as s:
        assert len((await s.scalars(select(AuditLog).where(AuditLog.action == "export"))).all()) == 3


async def test_export_refusals_are_sentences(make_bot, tmp_path):
    bot = await make_bot(maintainers=f"telegram:{KEEPER}")
    await bot.start()
    await seed_trees(bot.core, tmp_path)
    reply = await bot.send(KEEPER, "/export everything")
    assert "I do not understand 'everything'" in reply.text
    reply = await bot.send(KEEPER, "/export state=finished")
    assert "'finished' is not a tree state" in reply.text
    reply = await bot.send(KEEPER, "/export seed=abc", chat=MODS)
    assert "private chat" in reply.text and "seed" in reply.text
    bot.fake.document_limit = 100  # Telegram refuses the upload: the maintainer is told why
    reply = await bot.send(KEEPER, "/export")
    assert "too large for Telegram" in reply.text and "chorus export" in reply.text
    bot.fake.document_limit = 50 * 1024 * 1024
    bot.fake.blocked.add(KEEPER)  # never opened a private chat with the bot
    reply = await bot.send(KEEPER, "/export", chat=MODS)
    assert "cannot write to you privately" in reply.text
    assert not [m for m in bot.fake.bot_messages(KEEPER) if m.document is not None]
    async with bot.core.db.read() as s:
        assert len((await s.scalars(select(AuditLog).where(AuditLog.action == "export"))).all()) == 2


async def test_purge_needs_a_maintainer_and_a_confirmation(make_bot):
    bot = await make_bot(maintainers=f"telegram:{KEEPER}")
    await bot.start()
    await complete(bot, ALICE, await take(bot, ALICE, "prompt"), text="A prompt from someone leaving")
    reply = await bot.send(BOB, f"/purge {ALICE} they asked")
    assert reply.text == "Only maintainers may purge a user's data."
    reply = await bot.send(KEEPER, f"/purge {ALICE}")
    assert "Use /purge" in reply.text

    ask = await bot.send(KEEPER, f"/purge {ALICE} asked to be forgotten", chat=MODS, where=lambda m: m.buttons())
    assert "asked to be forgotten" in ask.text and "cannot be undone" in ask.text
    answer = await bot.tap(BOB, ask, "Purge")  # someone else in the group cannot confirm
    assert "Only the maintainer who asked" in answer["text"]
    await bot.tap(KEEPER, ask, "Cancel")
    await bot.fake.wait_for(lambda: "cancelled" in ask.text)
    async with bot.core.db.read() as s:
        msg = await s.scalar(select(Message).where(Message.text == "A prompt from someone leaving"))
        assert not msg.deleted

    alice = await bot.user_id(ALICE)
    ask = await bot.send(KEEPER, f"/purge {ALICE} asked to be forgotten", chat=MODS, where=lambda m: m.buttons())
    await bot.tap(KEEPER, ask, "Purge")
    await bot.fake.wait_for(lambda: "Purged by" in ask.text)
    assert "1 messages" in ask.text and not ask.buttons()
    async with bot.core.db.read() as s:
        msg = await s.get(Message, msg.id)
        assert msg.deleted and msg.text == "" and msg.user_id is None
        assert (await s.get(User, alice)).display_name == "purged user"
        entry = await s.scalar(select(AuditLog).where(AuditLog.action == "purge"))
        assert entry.reason == "asked to be forgotten"


async def test_edit_own_message_and_moderators_edit_any(make_bot):
    bot = await make_bot()
    await bot.start()
    await setup_mod_group(bot)
    control = await take(bot, ALICE, "prompt")
    after = bot.fake.last_id()
    await complete(bot, ALICE, control, text="How do planes fyl?")
    saved = await bot.fake.next_message(ALICE, after, lambda m: "/edit" in m.text)
    mid = saved.text.split("/edit ")[1].split()[0]

    reply = await bot.send(ALICE, f"/edit {mid} How do planes fly?\nAnd why do they stay up?")
    assert "Edited" in reply.text and "why do they stay up" in reply.text
    reply = await bot.send(BOB, f"/edit {mid} hijacked")
    assert reply.text == "You can only edit your own messages."
    reply = await bot.send(MOD, f"/edit {mid} How do aeroplanes fly?", chat=MODS)
    assert "Edited" in reply.text
    refusals = {f"/edit {mid}": "Use /edit", "/edit nonsense text": "'nonsense' is not a valid",
                f"/edit {mid} How do aeroplanes fly?": "the same as the current"}  # fmt: skip
    for bad, words in refusals.items():
        reply = await bot.send(MOD, bad, chat=MODS)
        assert words in reply.text, reply.text
    async with bot.core.db.read() as s:
        msg = await s.get(Message, uuid.UUID(mid))
        assert msg.text == "How do aeroplanes fly?" and msg.edited


async def test_edit_after_the_grace_window_is_refused(make_bot):
    bot = await make_bot(task_edit_grace_minutes=0)
    await bot.start()
    control = await take(bot, ALICE, "prompt")
    after = bot.fake.last_id()
    await complete(bot, ALICE, control, text="Wht is rain?")
    saved = await bot.fake.next_message(ALICE, after, lambda m: "/edit" in m.text)
    mid = saved.text.split("/edit ")[1].split()[0]
    reply = await bot.send(ALICE, f"/edit {mid} What is rain?")
    assert "that time has passed" in reply.text
    async with bot.core.db.read() as s:
        assert (await s.scalar(select(Message).where(Message.text == "Wht is rain?"))) is not None
