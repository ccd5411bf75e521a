"""Restarts, redelivered updates, long texts, 429s, the 64-byte limit, and webhook mode."""

from __future__ import annotations

import asyncio
import socket
import time

import aiohttp
import pytest
from sqlalchemy import func, select

from bots.telegram.app import webhook_secret
from bots.telegram.common import pack
from core.models import Ballot, Message, TaskType
from tests.core.crowd import answer, people
from tests.telegram.driver import prepare, take
from tests.telegram.fake_botapi import utf16_len

ALICE = 101


async def test_restart_mid_ranking_loses_nothing(make_bot):
    first = await make_bot()
    await prepare(first.core, TaskType.rank_assistant_replies)
    await first.start()
    control = await take(first, ALICE, "rank")
    await first.tap(ALICE, control, "B")
    await first.fake.wait_for(lambda: "Your order: B" in control.text)
    await first.stop()

    second = await make_bot()  # a new process: new core, new application, same database
    await second.start()
    await second.tap(ALICE, control, "A")
    await second.fake.wait_for(lambda: "Your order: B > A" in control.text)
    await second.tap(ALICE, control, "Undo")
    await second.fake.wait_for(lambda: "Your order: B\n" in control.text + "\n")
    await second.tap(ALICE, control, "A")
    await second.fake.wait_for(lambda: any("Submit" in b["text"] for b in control.buttons()))
    await second.tap(ALICE, control, "Submit")
    await second.fake.wait_for(lambda: "✅" in control.text)
    [task] = await second.tasks_of(ALICE)
    async with second.core.db.read() as s:
        ballot = await s.scalar(select(Ballot).where(Ballot.task_id == task.id))
    cands = task.payload["candidates"]
    assert ballot.ranking == [cands[1], cands[0]]


async def test_restart_mid_writing_then_reply_lands(make_bot):
    first = await make_bot()
    await first.start()
    await take(first, ALICE, "prompt")
    fr = await first.fake.next_message(ALICE, 0, lambda m: m.force_reply)
    await first.stop()
    second = await make_bot()
    await second.start()
    await second.send(ALICE, "Written after a restart", reply_to=fr.message_id, where=lambda m: "saved" in m.text)
    async with second.core.db.read() as s:
        assert await s.scalar(select(func.count()).select_from(Message).where(Message.text == "Written after a restart")) == 1


async def test_none_acceptable(bot):
    await prepare(bot.core, TaskType.rank_assistant_replies)
    control = await take(bot, ALICE, "rank")
    await bot.tap(ALICE, control, "None of these")
    await bot.fake.wait_for(lambda: "✅" in control.text)
    [task] = await bot.tasks_of(ALICE)
    async with bot.core.db.read() as s:
        assert (await s.scalar(select(Ballot).where(Ballot.task_id == task.id))).not_rankable


async def test_an_update_delivered_twice_counts_once(bot):
    fr = await bot.send(ALICE, "/task prompt", where=lambda m: m.force_reply)
    after = bot.fake.last_id()
    uid = bot.fake.say(ALICE, "Said only once", reply_to=fr.message_id)
    await bot.fake.next_message(ALICE, after, lambda m: "saved" in m.text)
    bot.fake.redeliver(uid)
    # A later update is processed after the redelivered one (one chat in order): wait for its answer.
    await bot.send(ALICE, "/help")
    replies = [m.text for m in bot.fake.bot_messages(ALICE) if m.message_id > after]
    assert len(replies) == 2 and "saved" in replies[0] and "Chorus" in replies[1]  # no "already answered"
    async with bot.core.db.read() as s:
        assert await s.scalar(select(func.count()).select_from(Message).where(Message.text == "Said only once")) == 1


async def test_long_conversation_is_split_never_cut(make_bot):
    bot = await make_bot(task_message_max_chars=20000)
    author, reviewer = await people(bot.core, 2)
    words = [f"word{i}{'🙂' if i % 3 == 0 else ''}" for i in range(1500)]
    long_text = " ".join(words)  # ~13000 characters, a third of them emoji (two UTF-16 units each)
    await answer(bot.core, author, await bot.core.request_task(author.id, type=TaskType.initial_prompt), text=long_text)
    await answer(bot.core, reviewer, await bot.core.request_task(reviewer.id, type=TaskType.label_initial_prompt))
    await bot.start()
    control = await take(bot, ALICE, "assistant")
    pages = [m.text for m in bot.fake.bot_messages(ALICE) if m.message_id < control.message_id]
    assert len(pages) >= 3
    assert all(utf16_len(p) <= 4096 for p in pages)
    body = " ".join(line for p in pages for line in p.split("\n") if not line.startswith("— "))
    assert body.split() == words


async def test_429_is_retried(bot):
    bot.fake.fail["sendMessage"] = [1]
    reply = await bot.send(ALICE, "/help")
    assert "Chorus" in reply.text
    assert bot.fake.fail["sendMessage"] == []


def test_callback_data_is_checked_against_64_bytes():
    assert pack("rk", "a" * 32, 3) == "rk:" + "a" * 32 + ":3"
    with pytest.raises(ValueError):
        pack("x" * 65)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_webhook_mode(make_bot):
    port = _free_port()
    bot = await make_bot(telegram_webhook_url=f"http://127.0.0.1:{port}/tg", telegram_webhook_listen=f"127.0.0.1:{port}")
    await bot.start()
    hook = bot.fake.webhook
    assert hook["url"].endswith("/tg") and "message_reaction" in hook["allowed_updates"]
    update = {"update_id": 77, "message": {"message_id": 5, "date": 0, "chat": {"id": ALICE, "type": "private"},
              "from": {"id": ALICE, "is_bot": False, "first_name": "A"}, "text": "/help",
              "entities": [{"type": "bot_command", "offset": 0, "length": 5}]}}  # fmt: skip
    async with aiohttp.ClientSession() as http:
        async with http.post(hook["url"], json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"}) as r:
            assert r.status == 403
        secret = webhook_secret(bot.settings.telegram_token)
        assert hook["secret_token"] == secret
        async with http.post(hook["url"], json=update, headers={"X-Telegram-Bot-Api-Secret-Token": secret}) as r:
            assert r.status == 200
    reply = await bot.fake.next_message(ALICE)
    assert "Chorus" in reply.text


async def test_group_post_schedule_survives_a_restart(make_bot):
    """A group gets one post per interval: a restarted bot does not post again in the same slot."""
    group, admin = -2002, 900
    first = await make_bot()
    first.post_every = 0.1
    await prepare(first.core, TaskType.rank_assistant_replies)
    await first.start()
    first.fake.admins[group] = {admin}
    minute = int(time.time() // 60)
    reply = await first.send(admin, "/setup tasks 1", chat=group)
    await first.fake.next_message(group, reply.message_id, lambda m: "Chorus needs you" in m.text)
    await first.stop()

    second = await make_bot()  # a new process on the same database
    second.post_every = 0.1
    await second.start()
    await asyncio.sleep(1.0)  # ten ticks of the poster
    posts = [m for m in second.fake.bot_messages(group) if "Chorus needs you" in m.text]
    slots = len({minute, int(time.time() // 60)})  # the test may straddle a minute boundary
    assert len(posts) <= slots, [m.text[:40] for m in posts]
