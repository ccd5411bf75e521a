"""The task board in a community channel, and the members' informational commands."""

from __future__ import annotations

from sqlalchemy import select

from core.models import Message
from tests.discord import growth


async def test_task_board_is_posted_and_any_member_continues_privately(discord_env):
    fake, core = discord_env.fake, discord_env.core
    await growth.prompt(core, "What is rust?")
    owner = fake.add_member("owner", admin=True)
    await fake.answer(await fake.command(owner, "admin channel", purpose="task_channel", channel=fake.channels["tasks"]))
    board = await fake.until(lambda: next(iter(fake.channel_messages("tasks")), None))
    assert "Open tasks" in board["content"] and not board["flags"] & 64
    # The schedule posts once per interval, whatever restarts happen in between.
    await discord_env.stop()
    await discord_env.start()
    await fake.answer(await fake.command(owner, "help"))
    assert len(fake.channel_messages("tasks")) == 1
    sam = fake.add_member("sam")
    shown = await fake.answer(await fake.click(sam, board, "Reply as the assistant"))
    assert shown["flags"] & 64 and "What is rust?" in shown["content"]
    opened = await fake.click(sam, shown, "Write")
    await fake.answer(opened)
    await fake.answer(await fake.submit(sam, opened, {"Your text": "Iron oxide."}))
    async with core.db.read() as s:
        assert await s.scalar(select(Message.text).where(Message.role == "assistant")) == "Iron oxide."
    assert len(fake.channel_messages("tasks")) == 1, "the board itself is unchanged"


async def test_points_leaderboard_language_help_tutorial(discord_env):
    fake = discord_env.fake
    await growth.prompt(discord_env.core, "How do bees fly?")
    tom = fake.add_member("tom <@1> @everyone")
    screen = await fake.answer(await fake.command(tom, "task", type="assistant_reply"))
    opened = await fake.click(tom, screen, "Write")
    await fake.answer(opened)
    await fake.answer(await fake.submit(tom, opened, {"Your text": "With their wings, fast."}))
    points = await fake.answer(await fake.command(tom, "points"))
    assert "4 points" in points["content"] and "Points:" in points["content"]
    board = await fake.answer(await fake.command(tom, "leaderboard", window="week"))
    assert "Leaderboard this week" in board["content"] and "tom" in board["content"]
    lang = await fake.answer(await fake.command(tom, "language", code="de"))
    assert "**de**" in lang["content"]
    help_ = await fake.answer(await fake.command(tom, "help"))
    assert "/task" in help_["content"] and "/mod" in help_["content"]
    tour = await fake.answer(await fake.command(tom, "tutorial"))
    task = await fake.answer(await fake.click(tom, tour, "Try a task"))
    assert task["flags"] & 64 and "**" in task["content"]
