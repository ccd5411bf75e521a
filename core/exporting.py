"""Exports asked for from a chat: maintainers only, written to a fresh file a bot can send.

The role is checked here, in the core, so that no front end can forget it; the export itself is
`core.oasst_export.export`, the same code `chorus export` runs.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from core import audit
from core.errors import InvalidInput, PermissionDenied, UserBanned
from core.models import Role
from core.oasst_export import ExportOptions, ExportReport, export


@dataclass
class ChatExport:
    """A finished export: the file, what it holds, and its size; `discard()` removes it."""

    path: Path
    report: ExportReport
    size: int

    @property
    def name(self) -> str:
        return self.path.name

    def discard(self) -> None:
        """Remove the file and its private folder."""
        shutil.rmtree(self.path.parent, ignore_errors=True)


def file_name(opts: ExportOptions, now: dt.datetime | None = None) -> str:
    """A name that says what the file holds: chorus-trees-<state>[-<lang>][-anon]-<UTC time>.jsonl.gz."""
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%dT%H%M%SZ")
    parts = ["chorus", opts.format, opts.state.replace("_", "-")]
    if opts.lang:
        parts.append(opts.lang)
    if opts.anonymize:
        parts.append("anon")
    return "-".join(parts) + f"-{stamp}.jsonl.gz"


async def export_for_chat(core, actor_id: uuid.UUID, opts: ExportOptions) -> ChatExport:
    """Export trees to a new .jsonl.gz file if the actor is a maintainer; the caller discards it."""
    actor = await core.get_user(actor_id)
    if actor.banned:
        raise UserBanned()
    if Role(actor.role).level < Role.maintainer.level:
        raise PermissionDenied("Only maintainers may export the data.")
    if opts.anonymize is not None and not opts.anonymize.strip():
        raise InvalidInput("An anonymisation seed needs some text: any secret you keep.")
    opts.check()  # bad options are refused before anything is written
    folder = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="chorus-export-"))
    path = folder / file_name(opts)
    try:
        report = await export(core.db, path, opts)
        size = (await asyncio.to_thread(path.stat)).st_size
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    # Who took the data out, and which data, is worth knowing later: one audit entry per export.
    async with core.db.tx() as s:
        audit.record(s, actor.id, "export", "data", opts.format, state=opts.state, lang=opts.lang,
                     anonymized=bool(opts.anonymize), trees=report.trees, messages=report.messages)  # fmt: skip
    return ChatExport(path, report, size)


def describe(done: ChatExport, opts: ExportOptions) -> str:
    """One sentence on what an export holds, for the message that carries the file."""
    which = "all trees" if opts.state == "all" else f"trees in state {opts.state}"
    lang = f" in language {opts.lang}" if opts.lang else ""
    anon = ", anonymised" if opts.anonymize else ""
    return (f"Export of {which}{lang}{anon}: {done.report.trees} trees, {done.report.messages} messages "
            f"({size_in_words(done.size)}, oasst JSONL, gzip).")  # fmt: skip


def too_big(done: ChatExport, platform: str, limit: int | None = None) -> str:
    """The sentence for an export over a platform's upload limit (None: the platform refused it)."""
    over = f"over the {size_in_words(limit)} {platform} accepts as a file" if limit else f"too large for {platform}"
    return (f"The export is {size_in_words(done.size)}, {over}. Narrow it by state or language, "
            "or run `chorus export` on the server.")  # fmt: skip


def size_in_words(n: int) -> str:
    """A byte count the way people read it: 812 bytes, 3.4 KiB, 25.0 MiB."""
    if n < 1024:
        return f"{n} bytes"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KiB"
    return f"{n / 1024 / 1024:.1f} MiB"
