"""Member commands, the command menu, and open tasks posted in a group with deep links."""

from __future__ import annotations

from core.models import TaskType
from tests.telegram.driver import complete, is_control, prepare, take
from tests.telegram.fake_botapi import BOT_USER

ALICE, ADMIN = 101, 900
GROUP = -2002


async def test_command_menu_is_set(bot):
    menus = bot.fake.commands
    default = menus['{"type": "default"}']
    assert [c["command"] for c in default] == ["task", "language", "points", "leaderboard", "help"]
    admins = menus['{"type": "all_chat_administrators"}']
    assert {"setup", "queue", "ban"} <= {c["command"] for c in admins}


async def test_help_language_points_leaderboard(bot):
    assert "/task" in (await bot.send(ALICE, "/help")).text
    assert "'en'" in (await bot.send(ALICE, "/language")).text
    assert "now be in 'de'" in (await bot.send(ALICE, "/language de")).text
    assert "not a language tag" in (await bot.send(ALICE, "/language !!")).text
    assert (await bot.core.get_user(await bot.user_id(ALICE))).lang == "de"
    await bot.send(ALICE, "/language en")
    await prepare(bot.core, TaskType.assistant_reply)
    await complete(bot, ALICE, await take(bot, ALICE, "assistant"), text="Yeast makes bread rise.")
    points = await bot.send(ALICE, "/points")
    assert "Member101: 4 points, level" in points.text and "Points:" in points.text
    board = await bot.send(ALICE, "/leaderboard week")
    assert "Member101" in board.text
    assert "Use /leaderboard" in (await bot.send(ALICE, "/leaderboard year")).text


async def test_group_gets_open_tasks_with_deep_links(make_bot):
    bot = await make_bot()
    bot.post_every = 0.2
    await prepare(bot.core, TaskType.rank_assistant_replies)
    await bot.start()
    bot.fake.admins[GROUP] = {ADMIN}
    reply = await bot.send(ADMIN, "/setup tasks 1", chat=GROUP)
    assert "every 1 minutes" in reply.text
    post = await bot.fake.next_message(GROUP, reply.message_id, lambda m: "Chorus needs you" in m.text)
    links = [b["url"] for b in post.buttons()]
    assert f"https://t.me/{BOT_USER['username']}?start=rank" in links
    assert all("callback_data" not in b for b in post.buttons())
    # /task in the group points to the private chat; the deep link continues there with that kind.
    assert "private chat" in (await bot.send(ALICE, "/task", chat=GROUP)).text
    control = await bot.send(ALICE, "/start rank", where=is_control)
    assert any(b["callback_data"].startswith("rk:") for b in control.buttons())
    await complete(bot, ALICE, control)
    [task] = await bot.tasks_of(ALICE)
    assert task.type == TaskType.rank_assistant_replies and task.state == "done"


async def test_full_label_set_with_flags_and_back(make_bot):
    bot = await make_bot(task_label_mode="full")
    await prepare(bot.core, TaskType.label_initial_prompt)
    await bot.start()
    control = await take(bot, ALICE, "label")
    await bot.tap(ALICE, control, "No")  # spam: no
    await bot.fake.wait_for(lambda: "tick whatever applies" in control.text)
    await bot.tap(ALICE, control, "personal information")
    await bot.fake.wait_for(lambda: any(b["text"].startswith("☑") for b in control.buttons()))
    await bot.tap(ALICE, control, "Back")
    await bot.fake.wait_for(lambda: "Question 1 " in control.text)
    await complete(bot, ALICE, control)
    [task] = await bot.tasks_of(ALICE)
    async with bot.core.db.read() as s:
        from sqlalchemy import select

        from core.models import Label

        label = await s.scalar(select(Label).where(Label.task_id == task.id))
    assert label.values["pii"] == 1.0 and label.values["spam"] == 0.0 and label.values["quality"] == 0.75
