"""Modals for writing and reporting, and their submissions (found again by custom id after a restart)."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable

import discord

from bots.discord import people, replies
from core.views import TaskView

log = logging.getLogger("chorus.discord")

INPUT_LIMIT = 4000  # Discord's most characters in one text input; longer texts take several inputs
TITLES = {"initial_prompt": "Write a first message", "assistant_reply": "Reply as the assistant",
          "prompter_reply": "Reply as the user"}  # fmt: skip
MODAL_ID = re.compile(r"m:(?P<kind>[a-z]+):(?P<task>[0-9a-f-]{36})")
Handler = Callable[[discord.Interaction, str, dict[str, str]], Awaitable[None]]
HANDLERS: dict[str, Handler] = {}  # filled by the task flow


def write_modal(task_id: str, task: TaskView | None, limit: int) -> discord.ui.Modal:
    """A modal for a text of up to `limit` characters, prefilled with the draft."""
    title = TITLES.get(task.type.value, "Write your text") if task else "Write your text"
    modal = discord.ui.Modal(title=title, custom_id=f"m:write:{task_id}", timeout=900)
    draft = (task.draft if task else None) or ""
    inputs = min(5, -(-limit // INPUT_LIMIT))
    for i in range(inputs):
        size = min(INPUT_LIMIT, limit - i * INPUT_LIMIT)
        modal.add_item(discord.ui.TextInput(
            label="Your text" if i == 0 else f"Your text, continued ({i + 1} of {inputs})",
            style=discord.TextStyle.paragraph, custom_id=f"text{i}", required=i == 0, max_length=size,
            default=draft[i * INPUT_LIMIT : i * INPUT_LIMIT + size] or None,
        ))  # fmt: skip
    return modal


def report_modal(task_id: str) -> discord.ui.Modal:
    """A modal asking why a message is reported (and which reply, in a ranking)."""
    modal = discord.ui.Modal(title="Report a message", custom_id=f"m:report:{task_id}", timeout=900)
    modal.add_item(discord.ui.TextInput(label="Why should moderators look at it?", style=discord.TextStyle.paragraph,
                                        custom_id="reason", max_length=1000))  # fmt: skip
    modal.add_item(discord.ui.TextInput(label="Reply letter (rankings only, else empty)", custom_id="which",
                                        required=False, max_length=2))  # fmt: skip
    return modal


def fields(data: dict) -> dict[str, str]:
    """The values of a submitted modal, by input custom id."""
    out: dict[str, str] = {}
    for row in data.get("components", []):
        for item in row.get("components", []) or [row.get("component") or {}]:
            if "custom_id" in item:
                out[item["custom_id"]] = item.get("value") or ""
    return out


async def dispatch(interaction: discord.Interaction) -> None:
    """Handle a submitted modal of ours; the modal objects themselves may be gone (a restart)."""
    match = MODAL_ID.fullmatch((interaction.data or {}).get("custom_id", ""))
    if match is None or match["kind"] not in HANDLERS:
        return
    if not await people.first_time(interaction):
        return
    try:
        await HANDLERS[match["kind"]](interaction, match["task"], fields(interaction.data))
    except Exception:
        log.exception("modal %s failed", match["kind"])
        await replies.say(interaction, replies.OOPS)
