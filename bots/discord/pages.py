"""A task's conversation as Discord pages: escaped, quoted, split to fit, never silently cut."""

from __future__ import annotations

from bots.render import conversation_blocks, escape_discord, paginate
from core.views import TaskView

PAGE_LIMIT = 1700  # leaves room in a 2000-character message for the title, notes and footer


def quoted(header: str, body: str) -> str:
    """A bold header over the body as a block quote, markdown escaped."""
    lines = "\n".join(f"> {escape_discord(line)}" for line in body.split("\n"))
    return f"**{escape_discord(header)}**\n{lines}"


def conversation_pages(task: TaskView, limit: int = PAGE_LIMIT) -> list[str]:
    """The conversation of a task (and its replies to rank) packed into pages of at most `limit` characters."""
    return paginate(conversation_blocks(task), limit, quoted)
