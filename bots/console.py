"""The console front end: every task type in a terminal, over the same service API as the bots.

It is the proof that the core needs no platform code, and a quick way for a maintainer to try
Chorus. Input is read in a worker thread so the event loop is never blocked.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable

from bots.render import (
    conversation_blocks,
    label_widgets,
    letter,
    paginate,
    points_formula,
    task_title,
)
from core.errors import ChorusError
from core.models import TaskType
from core.service import Chorus
from core.views import TaskView, UserView

HELP = """Commands:
  task [TYPE]   take a task (TYPE: one of {types}); you are asked to answer it at once
  show          show your open task again
  skip          skip your open task
  lang CODE     set your language (e.g. en, de, pt-BR)
  points        your points and how they are counted
  leaderboard   this week's top contributors
  help          this text
  quit          leave (your open task stays for next time)
Answering: text ends with a line holding a single '.'; an empty first line backs out.
Rankings: the letters best first (e.g. 'B A C'), or 'none' if no reply is acceptable.""".format(
    types=", ".join(t.value for t in TaskType)
)

Reader = Callable[[str], Awaitable[str | None]]


async def stdin_reader(prompt: str) -> str | None:
    """Read one line from the terminal without blocking the event loop (None at end of input)."""
    try:
        return await asyncio.to_thread(input, prompt)
    except EOFError:
        return None


class Console:
    """One person's console session."""

    def __init__(self, core: Chorus, user: UserView, read: Reader, write: Callable[[str], None]):
        self.core, self.user, self.read, self.write = core, user, read, write
        self.task: TaskView | None = None

    async def loop(self) -> int:
        """Read commands until 'quit' or the end of input."""
        self.write(f"Welcome to Chorus, {self.user.display_name}. Type 'help' for the commands.")
        while True:
            line = await self.read("chorus> ")
            if line is None:
                return 0
            cmd, _, arg = line.strip().partition(" ")
            if cmd in ("quit", "exit"):
                return 0
            handler = getattr(self, f"cmd_{cmd}", None)
            if handler is None:
                if cmd:
                    self.write(f"Unknown command '{cmd}'. Type 'help'.")
                continue
            try:
                await handler(arg.strip())
            except ChorusError as exc:
                self.write(exc.message)

    async def cmd_help(self, _arg: str) -> None:
        self.write(HELP)

    async def cmd_task(self, arg: str) -> None:
        try:
            type_ = TaskType(arg) if arg else None
        except ValueError:
            self.write(f"'{arg}' is not a task type. Type 'help' for the list.")
            return
        self.task = await self.core.request_task(self.user.id, type=type_)
        await self.answer()

    async def cmd_show(self, _arg: str) -> None:
        tasks = await self.core.current_tasks(self.user.id)
        if not tasks:
            self.write("You have no open task. Type 'task' to take one.")
            return
        self.task = tasks[0]
        await self.answer()

    async def cmd_skip(self, _arg: str) -> None:
        tasks = await self.core.current_tasks(self.user.id)
        if not tasks:
            self.write("You have no open task.")
            return
        task = tasks[0]
        if task.draft:
            confirm = await self.read("You have a draft for this task. Skip and lose it? [y/N] ")
            if (confirm or "").strip().lower() not in ("y", "yes"):
                self.write("Kept.")
                return
        self.write((await self.core.skip_task(self.user.id, task.id)).message)

    async def cmd_lang(self, arg: str) -> None:
        self.user = await self.core.set_language(self.user.id, arg)
        self.write(f"Your tasks now come in '{self.user.lang}'.")

    async def cmd_points(self, _arg: str) -> None:
        view = await self.core.user_points(self.user.id)
        days = "day" if view.streak_days == 1 else "days"
        self.write(f"You have {view.total} points (level {view.level}: {view.level_name}), streak {view.streak_days} {days}.")
        for name, pts in view.breakdown.items():
            if pts:
                self.write(f"  {name}: {pts}")
        self.write(points_formula())

    async def cmd_leaderboard(self, arg: str) -> None:
        rows = await self.core.leaderboard(arg or "week")
        if not rows:
            self.write("Nobody has points in this window yet.")
        for row in rows:
            self.write(f"{row.position:>3}. {row.display_name}: {row.points}")

    def show(self, task: TaskView) -> None:
        """Print a task: its title, the conversation, and what to do."""
        self.write("")
        self.write(task_title(task))
        for page in paginate(conversation_blocks(task), 100_000, lambda h, b: f"--- {h} ---\n{b}" if b else f"--- {h} ---"):
            self.write(page)

    async def answer(self) -> None:
        """Show the open task and take the person's answer."""
        task = self.task
        self.show(task)
        if task.kind == "write":
            await self._write(task)
        elif task.kind == "rank":
            await self._rank(task)
        else:
            await self._label(task)

    async def _write(self, task: TaskView) -> None:
        if task.draft:
            self.write(f"(your draft: {task.draft})\nA lone '.' sends the draft as it is; or write a new text.")
        lines: list[str] = []
        while True:
            line = await self.read("> ")
            if line is None or line.strip() == ".":
                break
            if not lines and not line.strip():
                break  # an empty first line backs out
            lines.append(line)
        text = "\n".join(lines).strip() or (task.draft if line is not None and line.strip() == "." else "")
        if not text:
            self.write("Nothing sent; the task stays open ('show' to continue, 'skip' to give it up).")
            return
        try:
            self.write((await self.core.submit_reply(self.user.id, task.id, text)).message)
        except ChorusError as exc:
            self.write(exc.message)
            try:
                await self.core.save_draft(self.user.id, task.id, text)
                self.write("Your text is kept as a draft: 'show' to edit and send it.")
            except ChorusError:  # the task itself is gone (expired, taken): show the text to copy
                self.write(f"Your text, to reuse:\n{text}")

    async def _rank(self, task: TaskView) -> None:
        letters = [letter(i) for i in range(len(task.candidates))]
        line = await self.read(f"Order {' '.join(letters)} best first (or 'none'): ")
        if line is None:
            return
        if line.strip().lower() == "none":
            ranking = None
        else:
            picked = line.replace(",", " ").upper().split()
            if sorted(picked) != sorted(letters):
                self.write(f"Please give each of {', '.join(letters)} exactly once. 'show' to try again.")
                return
            ranking = [task.candidates[letters.index(x)].id for x in picked]
        self.write((await self.core.submit_ranking(self.user.id, task.id, ranking)).message)

    async def _label(self, task: TaskView) -> None:
        values: dict[str, float] = {}
        for w in label_widgets(task):
            options = " / ".join(c.label for c in w.choices)
            while True:
                line = await self.read(f"{w.question} [{options}]{'' if w.required else ' (Enter to skip)'}: ")
                if line is None:
                    return
                line = line.strip().lower()
                if not line and not w.required:
                    break
                match = [c for c in w.choices if c.label.lower() == line or (c.label.lower()[:1] == line[:1] and w.kind != "likert")]
                if match:
                    values[w.name] = match[0].value
                    break
                self.write(f"Please answer one of: {options}.")
        self.write((await self.core.submit_labels(self.user.id, task.id, values)).message)


async def run_console(core: Chorus, *, user_name: str = "local", read: Reader = stdin_reader, write=None) -> int:
    """Run the console for one local user until they quit."""
    user = await core.user_from_identity("console", user_name, display_name=user_name)
    return await Console(core, user, read, write or (lambda s: print(s, file=sys.stdout, flush=True))).loop()
