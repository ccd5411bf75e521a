"""A Telegram member who completes whatever task the bot shows, by taps and replies only."""

from __future__ import annotations

from core.models import TaskType
from core.service import Chorus
from tests.core.crowd import answer, people
from tests.telegram.fake_botapi import Sent

P, LP, AR, LA, UR, LU = (TaskType.initial_prompt, TaskType.label_initial_prompt, TaskType.assistant_reply,
                         TaskType.label_assistant_reply, TaskType.prompter_reply, TaskType.label_prompter_reply)  # fmt: skip

# What the crowd does first so that a task of each type exists (with the small-tree settings).
PREPARE: dict[TaskType, list[TaskType]] = {
    TaskType.initial_prompt: [],
    TaskType.label_initial_prompt: [P],
    TaskType.assistant_reply: [P, LP],
    TaskType.label_assistant_reply: [P, LP, AR],
    TaskType.prompter_reply: [P, LP, AR, LA],
    TaskType.label_prompter_reply: [P, LP, AR, LA, UR],
    TaskType.rank_assistant_replies: [P, LP, AR, LA, AR, LA],
    TaskType.rank_prompter_replies: [P, LP, AR, LA, UR, LU, UR, LU],
}
OVERRIDES: dict[TaskType, dict] = {
    TaskType.rank_prompter_replies: dict(
        tree_goal_tree_size=4, tree_max_prompter_children=2, tree_max_children=1, tree_rank_prompter_replies=True
    ),
}


async def prepare(core: Chorus, target: TaskType) -> None:
    """Let a crowd (through the core) bring the database to where a task of `target` exists."""
    steps = PREPARE[target]
    crowd = await people(core, len(steps), prefix="crowd")
    for i, (user, type_) in enumerate(zip(crowd, steps)):
        task = await core.request_task(user.id, type=type_)
        await answer(core, user, task, text=f"crowd text {i} for {type_.value}")


def is_control(m: Sent) -> bool:
    """Whether a bot message is a task's control message (every task can be skipped)."""
    return any(b.get("callback_data", "").startswith("sk:") for b in m.buttons())


async def take(bot, user: int, words: str = "") -> Sent:
    """Ask for a task; returns its control message."""
    return await bot.send(user, f"/task {words}".strip(), where=is_control)


async def complete(bot, user: int, control: Sent, *, text: str = "An answer written in the chat.") -> None:
    """Do the task the control message shows, the way a person would, until the bot says it is saved."""
    fake = bot.fake
    kinds = {b["callback_data"].split(":")[0] for b in control.buttons() if "callback_data" in b}
    if "rk" in kinds:
        letters = [b["text"] for b in control.buttons() if b["callback_data"].startswith("rk:")]
        for letter in letters:
            await bot.tap(user, control, letter)
        await fake.wait_for(lambda: any("Submit" in b["text"] for b in control.buttons()))
        await bot.tap(user, control, "Submit")
    elif "lv" in kinds or "lf" in kinds:
        for _ in range(30):
            labels = [b["text"] for b in control.buttons()]
            before = control.edits
            if "✅ Submit" in labels:
                await bot.tap(user, control, "Submit")
                break
            pick = "Done" if "Done ➡" in labels else "No" if "No" in labels else "4"
            await bot.tap(user, control, pick)
            await fake.wait_for(lambda: control.edits > before)
    else:
        fr = await fake.next_message(user, control.message_id, lambda m: m.force_reply)
        await bot.send(user, text, reply_to=fr.message_id, where=lambda m: "saved" in m.text)
    await fake.wait_for(lambda: "✅" in control.text)
