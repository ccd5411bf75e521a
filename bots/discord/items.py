"""Buttons and menus that survive restarts: the action and the task id live in the custom id.

`c:<action>:<task id or ->:<argument>` for buttons and `s:…` for select menus; a handler registered
with @action receives the parsed parts. Nothing about a screen is kept in memory.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable

import discord

from bots.discord import people, replies

log = logging.getLogger("chorus.discord")

Handler = Callable[[discord.Interaction, str | None, str, list[str]], Awaitable[None]]
ACTIONS: dict[str, Handler] = {}
_PARTS = r"(?P<action>[a-z]+):(?P<task>[0-9a-f-]{36}|-):(?P<arg>[^:]{0,50})"


def action(name: str) -> Callable[[Handler], Handler]:
    """Register the handler of a button or menu action."""

    def register(fn: Handler) -> Handler:
        ACTIONS[name] = fn
        return fn

    return register


def custom_id(prefix: str, name: str, task_id=None, arg: str = "") -> str:
    """The custom id of an action (at most 100 characters, as Discord requires)."""
    cid = f"{prefix}:{name}:{task_id or '-'}:{arg}"
    if len(cid) > 100 or ":" in arg:
        raise ValueError(f"bad custom id {cid!r}")
    return cid


async def run(interaction: discord.Interaction, name: str, task: str, arg: str, values: list[str]) -> None:
    """Run an action once per interaction, whatever happens in it."""
    handler = ACTIONS.get(name)
    if handler is None:
        await replies.say(interaction, "This button is no longer in use. Request a new task with /task.")
        return
    try:
        await handler(interaction, None if task == "-" else task, arg, values)
    except Exception:
        log.exception("action %s failed", name)
        await replies.say(interaction, replies.OOPS)


class ActionButton(discord.ui.DynamicItem[discord.ui.Button], template=r"c:" + _PARTS):
    """A button whose custom id names its action and task."""

    def __init__(self, name: str, task_id=None, arg: str = "", *, label: str, style=discord.ButtonStyle.secondary,
                 disabled: bool = False, row: int | None = None):  # fmt: skip
        super().__init__(discord.ui.Button(label=label[:80], style=style, disabled=disabled, row=row,
                                           custom_id=custom_id("c", name, task_id, arg)))  # fmt: skip
        self.name, self.task, self.arg = name, str(task_id or "-"), arg

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str]):
        return cls(match["action"], None if match["task"] == "-" else match["task"], match["arg"], label=item.label or "?", style=item.style)

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        return await people.first_time(interaction)

    async def callback(self, interaction: discord.Interaction) -> None:
        await run(interaction, self.name, self.task, self.arg, [])


class ActionSelect(discord.ui.DynamicItem[discord.ui.Select], template=r"s:" + _PARTS):
    """A select menu whose custom id names its action and task."""

    def __init__(self, name: str, task_id=None, arg: str = "", *, options: list[discord.SelectOption] | None = None,
                 placeholder: str | None = None, row: int | None = None):  # fmt: skip
        super().__init__(discord.ui.Select(custom_id=custom_id("s", name, task_id, arg), options=options or [],
                                           placeholder=placeholder, row=row))  # fmt: skip
        self.name, self.task, self.arg = name, str(task_id or "-"), arg

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Select, match: re.Match[str]):
        return cls(match["action"], None if match["task"] == "-" else match["task"], match["arg"], options=item.options)

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        return await people.first_time(interaction)

    async def callback(self, interaction: discord.Interaction) -> None:
        await run(interaction, self.name, self.task, self.arg, list(self.item.values))
