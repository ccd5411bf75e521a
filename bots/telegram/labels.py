"""Labels by inline buttons, one question at a time; the yes/no flags share one page of toggles.

The step reached and the answers given live in the task's ui in the database.
"""

from __future__ import annotations

from telegram import Update

from bots.render import Widget, label_widgets, task_title
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


def steps(task: TaskView) -> list[list[int]]:
    """The pages of a label task: one per question, with every flag on the page of the first flag."""
    widgets = label_widgets(task)
    out: list[list[int]] = []
    flags: list[int] | None = None
    for i, w in enumerate(widgets):
        if w.kind == "flag":
            if flags is None:
                flags = []
                out.append(flags)
            flags.append(i)
        else:
            out.append([i])
    return out


def _value_text(w: Widget, value: float | None) -> str:
    if value is None:
        return "–"
    return next((c.label for c in w.choices if c.value == value), str(value))


def control(task: TaskView) -> tuple[str, object]:
    """The label message for the step the person is at."""
    t = hex_id(task.id)
    widgets = label_widgets(task)
    pages = steps(task)
    step = min(task.ui.get("step", 0), len(pages))
    values: dict = task.ui.get("values", {})
    head = f"{task_title(task)}\n"
    back = [button("↩ Back", "lb", t)] if step > 0 else []
    if step == len(pages):
        lines = [f"• {widgets[i].question}: {_value_text(widgets[i], values.get(widgets[i].name))}" for p in pages for i in p]
        text = head + "Your answers:\n" + "\n".join(lines) + "\n\nSubmit them?"
        return text, keyboard([[button("✅ Submit", "ls", t)] + back, footer(task)])
    page = pages[step]
    progress = f"Question {step + 1} of {len(pages)}"
    first = widgets[page[0]]
    if first.kind == "flag":
        toggles = []
        for i in page:
            on = values.get(widgets[i].name, 0.0) == 1.0
            toggles.append([button(f"{'☑' if on else '☐'} {widgets[i].question}", "lf", t, step, i)])
        text = f"{head}{progress}: tick whatever applies, then Done."
        return text, keyboard(toggles + [[button("Done ➡", "ln", t, step)] + back, footer(task)])
    text = f"{head}{progress}: {first.question}"
    if first.kind == "likert":
        text += "\n(1 = the first end of the scale, 5 = the other)"
    choices = [button(c.label, "lv", t, step, j) for j, c in enumerate(first.choices)]
    extra = [] if first.required else [button("No answer ➡", "ln", t, step)]
    return text, keyboard([choices, extra + back, footer(task)])


async def _load(update: Update, context: Context):
    user = await member(update, context)
    task = await core_of(context).get_task(user.id, unpack(update.callback_query.data)[0])
    if task.kind != "label":
        raise InvalidInput("This task does not ask for labels.")
    if task.state != "pending":
        raise InvalidInput("This task is already finished. Tap Next task for another.")
    return user, task


async def _save(update: Update, context: Context, user, task: TaskView, step: int, values: dict) -> None:
    await save_ui_and_redraw(update, context, user, task, {**task.ui, "step": step, "values": values}, control)


@guarded
async def on_value(update: Update, context: Context) -> None:
    """A choice was tapped for the question of a step: record it and go to the next step."""
    user, task = await _load(update, context)
    step, choice = map(int, unpack(update.callback_query.data)[1:3])
    pages = steps(task)
    if not 0 <= step < len(pages):
        raise InvalidInput("That question is not part of this task.")
    w = label_widgets(task)[pages[step][0]]
    values = {**task.ui.get("values", {}), w.name: w.choices[choice].value}
    await _save(update, context, user, task, step + 1, values)


@guarded
async def on_flag(update: Update, context: Context) -> None:
    """A flag was toggled."""
    user, task = await _load(update, context)
    step, index = map(int, unpack(update.callback_query.data)[1:3])
    name = label_widgets(task)[index].name
    values = dict(task.ui.get("values", {}))
    values[name] = 0.0 if values.get(name, 0.0) == 1.0 else 1.0
    await _save(update, context, user, task, step, values)


@guarded
async def on_next(update: Update, context: Context) -> None:
    """Done with a page of flags, or no answer to an optional question."""
    user, task = await _load(update, context)
    step = int(unpack(update.callback_query.data)[1])
    values = dict(task.ui.get("values", {}))
    page = steps(task)[step]
    widgets = label_widgets(task)
    if widgets[page[0]].kind != "flag":
        values.pop(widgets[page[0]].name, None)
    await _save(update, context, user, task, step + 1, values)


@guarded
async def on_back(update: Update, context: Context) -> None:
    """Go back one question."""
    user, task = await _load(update, context)
    await _save(update, context, user, task, max(0, task.ui.get("step", 0) - 1), dict(task.ui.get("values", {})))


@guarded
async def on_submit(update: Update, context: Context) -> None:
    """Submit the answers."""
    user, task = await _load(update, context)
    asked = {s.name for s in task.labels}
    values = {k: v for k, v in task.ui.get("values", {}).items() if k in asked}
    result = await core_of(context).submit_labels(user.id, task.id, values)
    await ack(update, context, "Saved.")
    await finished(context, task, result.message)
