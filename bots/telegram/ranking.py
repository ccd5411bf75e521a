"""Ranking by tapping the replies best first, with undo and "none of these is acceptable".

The order tapped so far lives in the task's ui in the database, so it survives a restart.
"""

from __future__ import annotations

from telegram import Update

from bots.render import letter, task_title
from bots.telegram.common import (
    Context,
    ack,
    button,
    core_of,
    finished,
    footer,
    guarded,
    hex_id,
    keyboard,
    member,
    save_ui_and_redraw,
    unpack,
)  # fmt: skip
from core.errors import InvalidInput
from core.views import TaskView

ROW = 5  # letter buttons per row


def control(task: TaskView) -> tuple[str, object]:
    """The ranking message: the order so far and the replies left to tap."""
    t = hex_id(task.id)
    order: list[int] = task.ui.get("order", [])
    n = len(task.candidates)
    chosen = " > ".join(letter(i) for i in order) if order else "(nothing yet)"
    text = f"{task_title(task)}\nTap the replies from best to worst.\n\nYour order: {chosen}"
    left = [button(letter(i), "rk", t, i) for i in range(n) if i not in order]
    rows = [left[i : i + ROW] for i in range(0, len(left), ROW)]
    tools = []
    if order:
        tools.append(button("↩ Undo", "ru", t))
    if len(order) == n:
        text += "\n\nAll replies are ordered: submit?"
        tools.append(button("✅ Submit", "rs", t))
    rows.append(tools)
    rows.append([button("🚫 None of these is acceptable", "rn", t)])
    rows.append(footer(task))
    return text, keyboard(rows)


async def _load(update: Update, context: Context):
    user = await member(update, context)
    task = await core_of(context).get_task(user.id, unpack(update.callback_query.data)[0])
    if task.kind != "rank":
        raise InvalidInput("This task does not ask for a ranking.")
    if task.state != "pending":
        raise InvalidInput("This task is already finished. Tap Next task for another.")
    return user, task


async def _save(update: Update, context: Context, user, task: TaskView, order: list[int]) -> None:
    await save_ui_and_redraw(update, context, user, task, {**task.ui, "order": order}, control)


@guarded
async def on_pick(update: Update, context: Context) -> None:
    """A reply was tapped: it goes next in the order (a second tap on it changes nothing)."""
    user, task = await _load(update, context)
    index = int(unpack(update.callback_query.data)[1])
    order = list(task.ui.get("order", []))
    if 0 <= index < len(task.candidates) and index not in order:
        order.append(index)
    await _save(update, context, user, task, order)


@guarded
async def on_undo(update: Update, context: Context) -> None:
    """Take back the last tap."""
    user, task = await _load(update, context)
    await _save(update, context, user, task, list(task.ui.get("order", []))[:-1])


@guarded
async def on_submit(update: Update, context: Context) -> None:
    """Submit the full order."""
    user, task = await _load(update, context)
    order = task.ui.get("order", [])
    if len(order) != len(task.candidates):
        raise InvalidInput(f"Please order all {len(task.candidates)} replies first.")
    result = await core_of(context).submit_ranking(user.id, task.id, [task.candidates[i].id for i in order])
    await ack(update, context, "Saved.")
    await finished(context, task, result.message)


@guarded
async def on_none(update: Update, context: Context) -> None:
    """None of the replies is acceptable."""
    user, task = await _load(update, context)
    result = await core_of(context).submit_ranking(user.id, task.id, None)
    await ack(update, context, "Saved.")
    await finished(context, task, result.message)
