"""Every task type, completed through the chat with taps and replies, ends up in the database."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core.models import Ballot, Label, Message, TaskState, TaskType
from tests.telegram.driver import OVERRIDES, complete, prepare, take

MEMBER = 500
WORDS = {
    TaskType.initial_prompt: "prompt", TaskType.assistant_reply: "assistant", TaskType.prompter_reply: "user",
    TaskType.rank_assistant_replies: "rank", TaskType.rank_prompter_replies: "rank_prompter_replies",
    TaskType.label_initial_prompt: "label", TaskType.label_assistant_reply: "label_assistant_reply",
    TaskType.label_prompter_reply: "label_prompter_reply",
}  # fmt: skip


@pytest.mark.parametrize("type_", list(TaskType), ids=lambda t: t.value)
async def test_every_task_type_through_the_chat(make_bot, type_):
    bot = await make_bot(**OVERRIDES.get(type_, {}))
    await prepare(bot.core, type_)
    await bot.start()
    control = await take(bot, MEMBER, WORDS[type_])
    await complete(bot, MEMBER, control, text=f"My {type_.value} from Telegram.")
    [task] = await bot.tasks_of(MEMBER)
    assert task.type == type_ and task.state == TaskState.done
    async with bot.core.db.read() as s:
        if type_.kind == "write":
            stored = await s.scalar(select(Message).where(Message.task_id == task.id))
            assert stored.text == f"My {type_.value} from Telegram."
        elif type_.kind == "rank":
            ballot = await s.scalar(select(Ballot).where(Ballot.task_id == task.id))
            assert len(ballot.ranking) == len(task.payload["candidates"]) and not ballot.not_rankable
        else:
            label = await s.scalar(select(Label).where(Label.task_id == task.id))
            assert label.values["spam"] == 0.0
        assert await s.scalar(select(func.count()).select_from(Message)) >= 1
