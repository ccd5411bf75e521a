"""Task screens: a task and its front-end state (page, half-built ranking, labels so far) as a message.

A screen is rebuilt from the TaskView alone, so any click after a restart shows the same thing.
"""

from __future__ import annotations

import discord

from bots import render
from bots.discord.items import ActionButton, ActionSelect
from bots.discord.pages import conversation_pages
from bots.discord.replies import Screen, frozen
from core.views import TaskView

CONTENT_LIMIT = 2000
FOOTER = "-# Page {page} of {pages}: use ◀ ▶ to read the whole conversation."
ROWS_PER_STEP = 3  # label questions per screen; rows 3 and 4 hold navigation
Green, Grey, Red, Blue = (discord.ButtonStyle.success, discord.ButtonStyle.secondary,
                          discord.ButtonStyle.danger, discord.ButtonStyle.primary)  # fmt: skip
TASK_CHOICES = {
    "initial_prompt": "Write a prompt",
    "assistant_reply": "Reply as the assistant",
    "prompter_reply": "Reply as the user",
    "rank_assistant_replies": "Rank assistant replies",
    "rank_prompter_replies": "Rank user replies",
    "label_initial_prompt": "Label a prompt",
    "label_assistant_reply": "Label an assistant reply",
    "label_prompter_reply": "Label a user reply",
}


def task_screen(task: TaskView, *, note: str | None = None) -> Screen:
    """The message that shows a task, with the controls its kind needs."""
    view = discord.ui.View(timeout=None)
    head = [f"**{render.task_title(task)}**"]
    if note:
        head.append(note)
    if task.kind == "write":
        head += _write(view, task)
    elif task.kind == "rank":
        head += _rank(view, task)
    else:
        head += _label(view, task)
    top = "\n".join(head)
    room = CONTENT_LIMIT - len(top) - len(FOOTER.format(page=999, pages=999)) - 4  # the two paragraph breaks
    pages = conversation_pages(task, room) if task.conversation or task.candidates else [""]
    page = max(0, min(int(task.ui.get("page", 0)), len(pages) - 1))
    _navigation(view, task, page, len(pages))
    parts = [top, pages[page]]
    if len(pages) > 1:
        parts.append(FOOTER.format(page=page + 1, pages=len(pages)))
    return Screen("\n\n".join(p for p in parts if p), frozen(view))


def _write(view: discord.ui.View, task: TaskView) -> list[str]:
    lines = []
    if task.type.value == "initial_prompt":
        lines.append("Ask something a person might really ask; no personal information.")
    if task.draft:
        lines.append(f"You have a draft of {len(task.draft)} characters: press **Continue writing** to finish it.")
    label = "Continue writing" if task.draft else "Write"
    view.add_item(ActionButton("write", task.id, label=label, style=Blue, row=0))
    return lines


def _rank(view: discord.ui.View, task: TaskView) -> list[str]:
    order = [int(i) for i in task.ui.get("order", [])]
    left = [i for i in range(len(task.candidates)) if i not in order]
    if len(left) == 1:  # the last one needs no choice
        order, left = order + left, []
    if order:
        shown = " > ".join(f"**{render.letter(i)}**" for i in order)
        lines = [f"Your order, best first: {shown}" + ("" if left else ". Submit it, or start over.")]
    else:
        lines = ["Read the replies below, then pick the best one first."]
    if left:
        options = [discord.SelectOption(label=f"Reply {render.letter(i)}", value=str(i),
                                        description=render.short(task.candidates[i].text, 100) or None)
                   for i in left[:25]]  # fmt: skip
        place = "Pick the best reply" if not order else "Pick the next best reply"
        view.add_item(ActionSelect("pick", task.id, options=options, placeholder=place, row=0))
    if order:
        view.add_item(ActionButton("restart", task.id, label="Start over", row=1))
    if not left:
        view.add_item(ActionButton("rank", task.id, label="Submit ranking", style=Green, row=1))
    view.add_item(ActionButton("none", task.id, label="None of these is acceptable", style=Red, row=1))
    return lines


def _label_rows(task: TaskView) -> list[list[render.Widget]]:
    """Widgets grouped into rows: one per yes/no or 1–5 question, flags five to a row."""
    rows: list[list[render.Widget]] = []
    flags: list[render.Widget] = []
    for w in render.label_widgets(task):
        if w.kind == "flag":
            if len(flags) == 5:
                flags = []
            if not flags:
                rows.append(flags)
            flags.append(w)
        else:
            rows.append([w])
    return rows


def _label(view: discord.ui.View, task: TaskView) -> list[str]:
    values: dict = task.ui.get("labels", {})
    rows = _label_rows(task)
    steps = max(1, -(-len(rows) // ROWS_PER_STEP))
    step = max(0, min(int(task.ui.get("step", 0)), steps - 1))
    answered = sum(1 for w in render.label_widgets(task) if w.name in values)
    lines = [f"Answer about the last message below. Questions {step + 1} of {steps}; "
             f"{answered} of {len(render.label_widgets(task))} answered (spam is required)."]  # fmt: skip
    for r, row in enumerate(rows[step * ROWS_PER_STEP : (step + 1) * ROWS_PER_STEP]):
        for w in row:
            if w.kind == "flag":
                on = values.get(w.name) == 1.0
                view.add_item(ActionButton("lab", task.id, f"{w.name}=t", label=w.question, style=Red if on else Grey, row=r))
                continue
            if w.kind == "likert":
                lines.append(f"• {w.question.replace(':', ' (1 =', 1).replace(' to ', ', 5 = ', 1)})")
            else:
                lines.append(f"• {w.question}")
            for c in w.choices:
                chosen = values.get(w.name) == c.value
                label = f"{_short(w)} {c.label}" if w.kind == "likert" else f"{_short(w)}: {c.label}"
                view.add_item(ActionButton("lab", task.id, f"{w.name}={c.value:g}", label=label,
                                           style=Green if chosen else Grey, row=r))  # fmt: skip
    if step > 0:
        view.add_item(ActionButton("step", task.id, str(step - 1), label="◀ Questions", row=3))
    if step < steps - 1:
        view.add_item(ActionButton("step", task.id, str(step + 1), label="More questions ▶", style=Blue, row=3))
    view.add_item(ActionButton("send", task.id, label="Submit labels", style=Green, row=3))
    return lines


def _short(w: render.Widget) -> str:
    """A question's name for its buttons ('Spam', 'Quality')."""
    if w.kind == "likert":
        return w.question.split(":")[0]
    return {"spam": "Spam", "fails_task": "Fails the task"}.get(w.name, w.name.replace("_", " ").capitalize())


def _navigation(view: discord.ui.View, task: TaskView, page: int, pages: int) -> None:
    if pages > 1:
        view.add_item(ActionButton("page", task.id, str(page - 1), label="◀", disabled=page == 0, row=4))
        view.add_item(ActionButton("page", task.id, str(page + 1), label="▶", disabled=page >= pages - 1, row=4))
    view.add_item(ActionButton("skip", task.id, label="Skip", row=4))
    if task.target is not None:
        view.add_item(ActionButton("report", task.id, label="Report", style=Red, row=4))


def done_screen(text: str, task_type: str | None = None) -> Screen:
    """After a submission or a skip: what happened, and the next task one click away."""
    view = discord.ui.View(timeout=None)
    view.add_item(ActionButton("next", None, "", label="Next task", style=Blue))
    if task_type:
        view.add_item(ActionButton("next", None, task_type, label=f"Another: {TASK_CHOICES.get(task_type, task_type)}"))
    return Screen(f"✅ {text}", frozen(view))


def confirm_skip_screen(task: TaskView) -> Screen:
    """Skipping a task that holds a draft loses the draft: ask first."""
    view = discord.ui.View(timeout=None)
    view.add_item(ActionButton("skipyes", task.id, label="Skip and discard my draft", style=Red))
    view.add_item(ActionButton("show", task.id, label="Keep writing", style=Blue))
    return Screen(f"You have a draft of {len(task.draft or '')} characters for this task. Skip it anyway?", frozen(view))


def board_view() -> discord.ui.View:
    """Buttons of a community channel's task board: each opens a task privately."""
    view = discord.ui.View(timeout=None)
    for i, kind in enumerate(("initial_prompt", "assistant_reply", "prompter_reply", "rank_assistant_replies", "label_initial_prompt")):
        view.add_item(ActionButton("take", None, kind, label=TASK_CHOICES[kind], row=i // 3))
    view.add_item(ActionButton("take", None, "", label="Any task", style=Blue, row=1))
    return frozen(view)
