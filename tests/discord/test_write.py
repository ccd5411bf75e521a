"""Writing tasks through the modal, end to end into the database."""

from __future__ import annotations

from sqlalchemy import select

from core.models import Message


async def stored_texts(core) -> list[str]:
    async with core.db.read() as s:
        return list(await s.scalars(select(Message.text).order_by(Message.created_at)))


async def test_prompt_written_through_modal_is_stored(discord_env):
    fake, core = discord_env.fake, discord_env.core
    alice = fake.add_member("alice")
    shown = await fake.answer(await fake.command(alice, "task", type="initial_prompt"))
    assert shown["flags"] & 64, "a task is only shown to its member"
    assert "Write" in shown["content"]
    modal = await fake.click(alice, shown, "Write")
    form = await fake.answer(modal)
    assert form["title"] == "Write a first message"
    done = await fake.answer(await fake.submit(alice, modal, {"Your text": "How do volcanoes form?"}))
    assert "saved" in done["content"]
    assert await stored_texts(core) == ["How do volcanoes form?"]
    fake.find_component(done, "Next task", kind=2)
