"""What each button and menu of a task screen does; every step is read from and written to the database."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid

import discord

from bots.discord import modals, moderation
from bots.discord.items import action
from bots.discord.people import person
from bots.discord.replies import Screen, answer, say, time_left
from bots.discord.screens import confirm_skip_screen, done_screen, task_screen
from core.errors import ChorusError, InvalidInput
from core.views import TaskView

MODAL_WAIT = 2.0  # a modal must be the first answer: do not wait on the database past this


async def open_task(interaction: discord.Interaction, *, type: str | None = None, lang: str | None = None,
                    update: bool = False) -> None:  # fmt: skip
    """Show the person's next task (their open one first, so nothing is lost)."""

    async def work() -> Screen:
        user = await person(interaction)
        task = await interaction.client.core.request_task(user.id, type=type or None, lang=lang)
        note = "You were working on this task; here it is again." if task.ui or task.draft else None
        return task_screen(task, note=note)

    await answer(interaction, work(), update=update)


async def _task(interaction: discord.Interaction, task_id: str | None) -> tuple[uuid.UUID, TaskView]:
    if task_id is None:
        raise InvalidInput("This button has no task. Request one with /task.")
    user = await person(interaction)
    return user.id, await interaction.client.core.get_task(user.id, task_id)


async def _with_ui(interaction: discord.Interaction, task_id: str | None, change) -> Screen:
    """Apply a change to a task's screen state, store it, and show the task again."""
    user_id, task = await _task(interaction, task_id)
    ui = change(dict(task.ui))
    await interaction.client.core.set_task_ui(user_id, task.id, ui)
    return task_screen(dataclasses.replace(task, ui=ui))


@action("next")
async def next_task(interaction: discord.Interaction, task_id: str | None, arg: str, values: list[str]) -> None:
    """The next task, in place of the thank-you note."""
    await open_task(interaction, type=arg or None, update=True)


@action("take")
async def take(interaction: discord.Interaction, task_id: str | None, arg: str, values: list[str]) -> None:
    """A task picked from a community channel's board: it continues privately."""
    await open_task(interaction, type=arg or None)


@action("show")
async def show_again(interaction: discord.Interaction, task_id: str | None, arg: str, values: list[str]) -> None:
    """Show a task as it stands."""

    async def work() -> Screen:
        return task_screen((await _task(interaction, task_id))[1])

    await answer(interaction, work(), update=True)


@action("page")
async def page(interaction: discord.Interaction, task_id: str | None, arg: str, values: list[str]) -> None:
    """Turn a page of the conversation."""
    await answer(interaction, _with_ui(interaction, task_id, lambda ui: {**ui, "page": max(0, int(arg or 0))}), update=True)


@action("write")
async def write(interaction: discord.Interaction, task_id: str | None, arg: str, values: list[str]) -> None:
    """Open the writing modal, filled with the draft if there is one."""
    try:
        _, task = await asyncio.wait_for(_task(interaction, task_id), time_left(interaction, MODAL_WAIT))
    except ChorusError as exc:
        await say(interaction, exc.message)
        return
    except TimeoutError:  # the database is slow: an empty modal now beats a dead button
        task = None
    limit = interaction.client.core.settings.task.message_max_chars
    await interaction.response.send_modal(modals.write_modal(task_id, task, limit))


@action("skip")
async def skip(interaction: discord.Interaction, task_id: str | None, arg: str, values: list[str]) -> None:
    """Skip a task; ask first only when a draft would be lost."""

    async def work() -> Screen:
        user_id, task = await _task(interaction, task_id)
        if task.draft:
            return confirm_skip_screen(task)
        res = await interaction.client.core.skip_task(user_id, task.id)
        return done_screen(res.message)

    await answer(interaction, work(), update=True)


@action("skipyes")
async def skip_confirmed(interaction: discord.Interaction, task_id: str | None, arg: str, values: list[str]) -> None:
    """Skip a task after the person confirmed losing the draft."""

    async def work() -> Screen:
        user = await person(interaction)
        return done_screen((await interaction.client.core.skip_task(user.id, task_id)).message)

    await answer(interaction, work(), update=True)


@action("report")
async def report(interaction: discord.Interaction, task_id: str | None, arg: str, values: list[str]) -> None:
    """Open the report modal."""
    await interaction.response.send_modal(modals.report_modal(task_id))


@action("pick")
async def pick(interaction: discord.Interaction, task_id: str | None, arg: str, values: list[str]) -> None:
    """Add the picked reply to the ranking being built."""

    def change(ui: dict) -> dict:
        order = [v for v in ui.get("order", []) if v not in values]
        return {**ui, "order": order + values[:1]}

    await answer(interaction, _with_ui(interaction, task_id, change), update=True)


@action("restart")
async def restart(interaction: discord.Interaction, task_id: str | None, arg: str, values: list[str]) -> None:
    """Throw away the ranking being built."""
    await answer(interaction, _with_ui(interaction, task_id, lambda ui: {**ui, "order": []}), update=True)


@action("rank")
async def submit_ranking(interaction: discord.Interaction, task_id: str | None, arg: str, values: list[str]) -> None:
    """Submit the ranking built step by step."""

    async def work() -> Screen:
        user_id, task = await _task(interaction, task_id)
        order = [int(i) for i in task.ui.get("order", [])]
        left = [i for i in range(len(task.candidates)) if i not in order]
        ids = [task.candidates[i].id for i in order + left] if len(left) <= 1 else []
        res = await interaction.client.core.submit_ranking(user_id, task.id, ids)
        return done_screen(res.message, task.type.value)

    await answer(interaction, work(), update=True)


@action("none")
async def none_acceptable(interaction: discord.Interaction, task_id: str | None, arg: str, values: list[str]) -> None:
    """Submit 'none of these replies is acceptable'."""

    async def work() -> Screen:
        user_id, task = await _task(interaction, task_id)
        res = await interaction.client.core.submit_ranking(user_id, task.id, None)
        return done_screen(res.message, task.type.value)

    await answer(interaction, work(), update=True)


@action("lab")
async def set_label(interaction: discord.Interaction, task_id: str | None, arg: str, values: list[str]) -> None:
    """Answer one label question (a flag toggles)."""
    name, _, value = arg.partition("=")

    def change(ui: dict) -> dict:
        labels = dict(ui.get("labels", {}))
        if value == "t":
            labels[name] = 0.0 if labels.get(name) == 1.0 else 1.0
        else:
            labels[name] = float(value)
        return {**ui, "labels": labels}

    await answer(interaction, _with_ui(interaction, task_id, change), update=True)


@action("step")
async def step(interaction: discord.Interaction, task_id: str | None, arg: str, values: list[str]) -> None:
    """Show another group of label questions."""
    await answer(interaction, _with_ui(interaction, task_id, lambda ui: {**ui, "step": max(0, int(arg or 0))}), update=True)


@action("send")
async def submit_labels(interaction: discord.Interaction, task_id: str | None, arg: str, values: list[str]) -> None:
    """Submit the labels answered so far (the core says what is missing)."""

    async def work() -> Screen:
        user_id, task = await _task(interaction, task_id)
        res = await interaction.client.core.submit_labels(user_id, task.id, dict(task.ui.get("labels", {})))
        return done_screen(res.message, task.type.value)

    await answer(interaction, work(), update=True)


async def on_write_modal(interaction: discord.Interaction, task_id: str, fields: dict[str, str]) -> None:
    """A submitted text: stored, or kept as a draft with the reason it was not."""
    core = interaction.client.core
    text = "".join(fields.get(f"text{i}", "") for i in range(5))
    stored: dict = {}

    async def work() -> Screen:
        user = await person(interaction)
        try:
            res = await core.submit_reply(user.id, task_id, text)
        except ChorusError as exc:
            raise ChorusError(exc.message + await _keep_draft(user.id, task_id, text, core)) from None
        task = await core.get_task(user.id, task_id)
        stored.update(res=res, task=task)
        return done_screen(res.message, task.type.value)

    await answer(interaction, work(), update=interaction.message is not None)
    res, task = stored.get("res"), stored.get("task")
    if res and task.type.value == "initial_prompt" and res.created_message_id and interaction.guild_id:
        msg = (await core.conversation(res.created_message_id))[-1]
        await moderation.post_review(interaction.client, interaction.guild_id, msg)


async def _keep_draft(user_id: uuid.UUID, task_id: str, text: str, core) -> str:
    """Keep a refused text as the task's draft; the sentence that says so."""
    try:
        await core.save_draft(user_id, task_id, text)
    except ChorusError:  # the task itself is gone (expired, already answered): nothing to attach it to
        return ""
    return " Your text is kept as a draft: press **Continue writing** to change it."


async def on_report_modal(interaction: discord.Interaction, task_id: str, fields: dict[str, str]) -> None:
    """A report from a task screen: the conversation's last message, or the reply named by its letter."""
    core = interaction.client.core
    reported: dict = {}

    async def work() -> Screen:
        user = await person(interaction)
        task = await core.get_task(user.id, task_id)
        which = (fields.get("which") or "").strip().upper()
        target = task.target
        if which:
            index = ord(which[0]) - ord("A")
            if len(which) != 1 or not 0 <= index < len(task.candidates):
                raise InvalidInput(f"'{which}' is not one of the replies shown. Nothing was reported.")
            target = task.candidates[index]
        if target is None:
            raise InvalidInput("There is no message to report in this task.")
        await core.report(user.id, target.id, fields.get("reason", ""))
        reported.update(target=target, reason=fields.get("reason", "").strip())
        return Screen("Thank you. The moderators will look at this message.")

    await answer(interaction, work())
    if reported and interaction.guild_id:
        await moderation.post_report(interaction.client, interaction.guild_id, reported["target"], reported["reason"])


modals.HANDLERS.update({"write": on_write_modal, "report": on_report_modal})
