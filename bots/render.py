"""Presentation shared by every front end: text splitting, escaping, and task widgets as data.

Platforms differ in limits and markup, not in what a task shows: each bot turns these
descriptions into its own buttons, menus and messages.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from core.labels import LIKERT_STEPS
from core.views import MessageView, TaskView

DISCORD_MESSAGE_LIMIT = 2000
TELEGRAM_MESSAGE_LIMIT = 4096
ROLE_NAMES = {"prompter": "User", "assistant": "Assistant"}
KIND_TITLES = {"write": "Write", "rank": "Rank", "label": "Label"}


def split_text(text: str, limit: int) -> list[str]:
    """Split text into chunks of at most `limit` characters, at paragraph, line or word breaks."""
    if limit < 1:
        raise ValueError("limit must be positive")
    chunks: list[str] = []
    rest = text
    while len(rest) > limit:
        window = rest[:limit]
        cut = max(window.rfind("\n\n"), window.rfind("\n"), window.rfind(" "))
        if cut < limit // 2:  # no good break: cut hard rather than make tiny chunks
            cut = limit
        chunks.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip("\n ") if cut < limit else rest[cut:]
    if rest or not chunks:
        chunks.append(rest)
    return chunks


_DISCORD_SPECIAL = re.compile(r"([\\*_`~|>#\-\[\]()])")


def escape_discord(text: str) -> str:
    """Escape Discord markdown so user text shows as typed (mentions are disabled separately)."""
    return _DISCORD_SPECIAL.sub(r"\\\1", text)


def escape_telegram(text: str) -> str:
    """Escape text for Telegram's HTML parse mode."""
    return html.escape(text, quote=False)


def short(text: str, n: int) -> str:
    """Text cut to n characters with an ellipsis, on one line."""
    one = " ".join(text.split())
    return one if len(one) <= n else one[: max(0, n - 1)] + "…"


def turn_header(m: MessageView, index: int) -> str:
    """'1. User' style header of a turn."""
    return f"{index}. {ROLE_NAMES.get(m.role, m.role)}"


def conversation_blocks(task: TaskView) -> list[tuple[str, str]]:
    """(header, text) pairs for the conversation of a task, root first, candidates last."""
    blocks = [(turn_header(m, i + 1), m.text) for i, m in enumerate(task.conversation)]
    for i, c in enumerate(task.candidates):
        blocks.append((f"Reply {letter(i)} ({ROLE_NAMES.get(c.role, c.role)})", c.text))
    return blocks


def letter(i: int) -> str:
    """A, B, C… for the i-th candidate."""
    return chr(ord("A") + i)


def _fitting(fmt, header: str, body: str, budget: int, size: int | None = None) -> list[str]:
    """Parts of a body whose formatted form fits the budget (escaping can double a text's length)."""
    probe = f"{header} (part 99/99)"
    if size is None:
        size = max(1, budget - len(fmt(probe, "")))
    out: list[str] = []
    for part in split_text(body, size):
        if len(fmt(probe, part)) <= budget or len(part) <= 1:
            out.append(part)
        else:  # the formatting made it too long: split this part finer
            out.extend(_fitting(fmt, header, part, budget, max(1, len(part) // 2)))
    return out


def paginate(blocks: list[tuple[str, str]], limit: int, fmt) -> list[str]:
    """Pack formatted blocks into pages of at most `limit` characters, splitting long blocks; nothing is cut."""
    pages: list[str] = []
    page = ""
    for header, body in blocks:
        parts = _fitting(fmt, header, body, limit)
        for j, part in enumerate(parts):
            label = header if len(parts) == 1 else f"{header} (part {j + 1}/{len(parts)})"
            piece = fmt(label, part)
            if page and len(page) + 2 + len(piece) > limit:
                pages.append(page)
                page = ""
            page = f"{page}\n\n{piece}" if page else piece
    if page or not pages:
        pages.append(page)
    return pages


@dataclass(frozen=True)
class Choice:
    """One button of a widget: what it shows and the value it sets."""

    label: str
    value: float


@dataclass(frozen=True)
class Widget:
    """One question of a label task, as data every front end can draw."""

    name: str
    kind: str
    question: str
    choices: tuple[Choice, ...]
    required: bool = False


def label_widgets(task: TaskView) -> list[Widget]:
    """The questions of a label task, with their choices."""
    out = []
    for spec in task.labels:
        if spec.kind == "likert":
            choices = tuple(Choice(str(i + 1), v) for i, v in enumerate(LIKERT_STEPS))
        else:
            choices = (Choice("Yes", 1.0), Choice("No", 0.0))
        out.append(Widget(spec.name, spec.kind, spec.question, choices, required=spec.name == "spam"))
    return out


def task_title(task: TaskView) -> str:
    """A one-line title for a task."""
    return f"{KIND_TITLES[task.kind]}: {task.instruction}"


def points_formula() -> str:
    """The points formula in words (Open-Assistant's, which its users found opaque)."""
    return (
        "Points: 4 per assistant reply and 1 per user reply you write; 1 per ranking; 1 per simple and "
        "2 per full label set; 1 per 10 prompts. When the community accepts your work: 4 more per assistant "
        "reply, 1 per user reply, 1 per 10 prompts. When your reply is ranked first 9, second 3, third 1."
    )


def points_in_words(points) -> str:
    """A user's points explained: total, level, what each part came from, streak and agreement (a PointsView)."""
    from core.levels import COUNTER_WORDS, POINT_RULES

    lines = [f"{points.total} points, level {points.level} ({points.level_name})."]
    if points.next_level_at is not None:
        lines[0] += f" {points.next_level_at - points.total} more to reach the next level."
    for name, weight, divisor in POINT_RULES:
        earned = points.breakdown.get(name, 0)
        if not earned:
            continue
        n = points.counts.get(name, 0)
        what = COUNTER_WORDS[name][0 if n == 1 else 1]
        rule = f"1 per {divisor}" if divisor > 1 else f"{weight} each"
        lines.append(f"- {earned} for {n} {what} ({rule})")
    if points.streak_days:
        lines.append(f"Streak: {points.streak_days} day{'s' if points.streak_days != 1 else ''} in a row.")
    if points.agreement is not None:
        lines.append(
            f"Your rankings matched the community's final order on {points.agreement:.0%} of pairs "
            f"({points.agreement_ballots} ranking{'s' if points.agreement_ballots != 1 else ''})."
        )
    return "\n".join(lines)


def stats_lines(stats: dict) -> list[str]:
    """Collection statistics (core collection_stats) as short lines of text."""
    m, r, lab, t = stats["messages"], stats["rankings"], stats["labels"], stats["trees"]
    scope = f" in {stats['lang']}" if stats.get("lang") else ""
    lines = [f"Trees{scope}: {t['total']}"]
    lines += [f"  {state}: {n}" for state, n in t["by_state"].items()]
    lines.append(
        f"Messages: {m['total']} ({m['prompts']} prompts, {m['assistant']} assistant, {m['prompter']} user); "
        f"{m['accepted']} accepted, {m['rejected']} rejected, {m['pending_review']} in review, {m['deleted']} deleted"
    )
    agreement = "n/a" if r["mean_agreement"] is None else f"{r['mean_agreement']:.2f}"
    lines.append(
        f"Rankings: {r['ballots']} ballots, {r['sibling_sets_scored']} sibling sets scored "
        f"({r['contested']} by tie-break), mean agreement {agreement}"
    )
    lines.append(f"Labels: {lab['label_sets']} label sets, {lab['ratings']} ratings")
    for lang, row in stats.get("languages", {}).items():
        lines.append(f"  {lang}: {row['trees']} trees, {row['messages']} messages")
    return lines
