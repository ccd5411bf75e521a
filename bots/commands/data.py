"""`chorus import` and `chorus export`: oasst files in and out of the configured database."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from core.config import load_settings
from core.db import Database, upgrade
from core.errors import ChorusError
from core.oasst_export import FORMATS, ExportOptions, export
from core.oasst_import import import_file


def progress_printer(label: str, unit: str = "", stream=None) -> Callable[[int, int], None]:
    """A callback drawing a one-line progress bar on a terminal, at most ten times a second."""
    last = [0.0]
    started = time.perf_counter()

    def show(done: int, total: int) -> None:
        nonlocal stream
        stream = stream or sys.stderr  # looked up late: tests and pipes swap it
        now = time.perf_counter()
        if not stream.isatty() or (now - last[0] < 0.1 and done < total):
            return
        last[0] = now
        frac = done / total if total else 1.0
        bar = "#" * int(frac * 30)
        figures = f"{done:,}/{total:,} {unit}".rstrip() if unit else f"{frac:.0%}"
        stream.write(f"\r{label} [{bar:<30}] {figures} {now - started:.0f}s")
        if done >= total:
            stream.write("\n")
        stream.flush()

    return show


def register(sub) -> None:
    """Add the `import` and `export` subcommands."""
    p = sub.add_parser("import", help="import oasst trees or messages files (.jsonl or .jsonl.gz)")
    p.add_argument("files", nargs="+", metavar="FILE", help="oasst export files; each is imported whole or not at all")
    p.set_defaults(func=run_import)

    e = sub.add_parser("export", help="export trees or messages in the oasst format (.gz compresses)")
    e.add_argument("out", metavar="OUT", help="output file; a name ending in .gz is compressed")
    e.add_argument("--format", choices=FORMATS, default="trees", help="one tree per line, or one message per line")
    e.add_argument("--state", default="ready_for_export", help="tree state to export, or all (default: ready_for_export)")
    e.add_argument("--lang", help="only trees in this language (e.g. en, pt-BR)")
    e.add_argument("--include-deleted", action="store_true", help="keep deleted messages")
    e.add_argument("--include-spam", action="store_true", help="keep messages rejected in review")
    e.add_argument("--include-synthetic", action="store_true", help="keep model-written (synthetic) messages")
    e.add_argument("--events", action="store_true", help="add each person's reactions and ballots")
    e.add_argument("--anonymize", metavar="SEED", help="replace every id by a salted hash; keep the seed secret")
    e.set_defaults(func=run_export)


async def _database() -> Database:
    settings = load_settings()
    await upgrade(settings.database_url)
    return Database(settings.database_url)


async def run_import(args) -> int:
    """Import each file in its own transaction; a bad file is reported and the others go on."""
    db = await _database()
    failed = 0
    try:
        for path in args.files:
            try:
                r = await import_file(db, path, progress=progress_printer(f"importing {path}"))
            except ChorusError as exc:
                print(f"chorus: {exc.message}", file=sys.stderr)
                failed += 1
                continue
            rate = r.messages / r.seconds if r.seconds else 0
            print(
                f"{path}: {r.trees:,} trees, {r.messages:,} messages ({r.new_messages:,} new, {r.skipped:,} already stored), "
                f"{r.new_users:,} new users, {r.labels:,} label means, {r.emojis:,} emoji counts "
                f"in {r.seconds:.1f}s ({rate:,.0f} messages/s)."
            )  # fmt: skip
    finally:
        await db.dispose()
    return 2 if failed else 0


async def run_export(args) -> int:
    """Export with the chosen filters and print what was written."""
    opts = ExportOptions(
        format=args.format, state=args.state, lang=args.lang, include_deleted=args.include_deleted,
        include_spam=args.include_spam, include_synthetic=args.include_synthetic, events=args.events,
        anonymize=args.anonymize,
    )  # fmt: skip
    opts.check()  # refuse bad options before touching the database or the output file
    db = await _database()
    try:
        r = await export(db, args.out, opts, progress=progress_printer(f"exporting {args.out}", "trees"))
    finally:
        await db.dispose()
    rate = r.messages / r.seconds if r.seconds else 0
    print(f"{args.out}: {r.trees:,} trees, {r.messages:,} messages in {r.seconds:.1f}s ({rate:,.0f} messages/s).")
    return 0
