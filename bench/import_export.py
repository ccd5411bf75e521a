"""Import and export the oasst1-sized corpus on SQLite and PostgreSQL; messages per second.

    .venv/bin/python bench/corpus.py            # once: /tmp/chorus-bench/oasst1_synthetic.jsonl.gz
    .venv/bin/python bench/import_export.py [--pg postgresql+asyncpg://postgres@127.0.0.1:5432/postgres]
    .venv/bin/python bench/import_export.py --import-only --parse-process on|off   # A/B of the parser process
    .venv/bin/python bench/import_export.py --keep-db /tmp/export-work/chorus.db   # import once, keep the file
    .venv/bin/python bench/import_export.py --export-only /tmp/export-work/chorus.db [--repeat 3]  # exports only
    .venv/bin/python bench/import_export.py --export-only postgresql+asyncpg://...  # an imported PostgreSQL database

Targets (issue 3): import >= 20,000 messages/s with their labels; export >= 50,000 messages/s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy.engine import make_url  # noqa: E402

from core.db import Database, upgrade  # noqa: E402
from core.oasst_export import ExportOptions, export  # noqa: E402
from core.oasst_import import import_file  # noqa: E402

CORPUS = Path("/tmp/chorus-bench/oasst1_synthetic.jsonl.gz")


async def _pg_admin(url: str, sql: str) -> None:
    import asyncpg

    u = make_url(url)
    conn = await asyncpg.connect(host=u.host, port=u.port or 5432, user=u.username, password=u.password, database=u.database)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def run(url: str, corpus: Path, work: Path, parse_process: bool | None = None, import_only: bool = False) -> dict:
    """Import, re-import and export (plain and gzip) on one fresh database."""
    await upgrade(url)
    db = Database(url)
    try:
        first = await import_file(db, corpus, parse_process=parse_process)
        if import_only:
            return {"messages": first.messages, "import_s": round(first.seconds, 1),
                    "import_msg_per_s": round(first.messages / first.seconds)}  # fmt: skip
        again = await import_file(db, corpus)
        assert again.new_messages == 0
        plain = await export(db, work / "out.jsonl", ExportOptions(state="all"))
        gz = await export(db, work / "out.jsonl.gz", ExportOptions(state="all"))
        messages = await export(db, work / "out-messages.jsonl", ExportOptions(state="all", format="messages"))
    finally:
        await db.dispose()
    rate = lambda r: round(r.messages / r.seconds)  # noqa: E731
    return {
        "messages": first.messages, "labels": first.labels,
        "import_s": round(first.seconds, 1), "import_msg_per_s": rate(first),
        "reimport_s": round(again.seconds, 1), "reimport_msg_per_s": rate(again),
        "export_trees_s": round(plain.seconds, 1), "export_trees_msg_per_s": rate(plain),
        "export_trees_gz_msg_per_s": rate(gz), "export_messages_msg_per_s": rate(messages),
    }  # fmt: skip


async def exports(url: str, work: Path, repeat: int = 1) -> dict:
    """Only the exports (trees plain and .gz, messages), on a database imported before; best of `repeat`."""
    db = Database(url)
    best: dict = {}
    try:
        for _ in range(repeat):
            for key, name, opts in (("export_trees_msg_per_s", "out.jsonl", ExportOptions(state="all")),
                                    ("export_trees_gz_msg_per_s", "out.jsonl.gz", ExportOptions(state="all")),
                                    ("export_messages_msg_per_s", "out-messages.jsonl",
                                     ExportOptions(state="all", format="messages"))):  # fmt: skip
                r = await export(db, work / name, opts)
                best[key] = max(best.get(key, 0), round(r.messages / r.seconds))
                best["messages"] = r.messages
    finally:
        await db.dispose()
    return best


async def main() -> None:
    p = argparse.ArgumentParser(description="import/export benchmark")
    p.add_argument("--corpus", type=Path, default=CORPUS)
    p.add_argument("--pg", help="PostgreSQL admin URL; a scratch database is created and dropped")
    p.add_argument("--skip-sqlite", action="store_true")
    p.add_argument("--import-only", action="store_true", help="the first import only")
    p.add_argument("--keep-db", type=Path, help="SQLite: import into this file and keep it (for --export-only)")
    p.add_argument("--export-only", help="only export this already imported SQLite file (or database URL)")
    p.add_argument("--repeat", type=int, default=1, help="with --export-only: runs, the best kept")
    p.add_argument("--parse-process", choices=("auto", "on", "off"), default="auto",
                   help="SQLite: parse in a separate process (auto: by file size)")  # fmt: skip
    args = p.parse_args()
    work = Path("/tmp/chorus-bench")
    work.mkdir(parents=True, exist_ok=True)
    results = {}
    if args.export_only:
        url = args.export_only if "://" in args.export_only else f"sqlite+aiosqlite:///{Path(args.export_only).resolve()}"
        name = make_url(url).get_backend_name()
        print(json.dumps({name: await exports(url, work, args.repeat)}), flush=True)
        return
    if not args.skip_sqlite:
        db_file = args.keep_db or work / "bench-import.db"
        db_file.parent.mkdir(parents=True, exist_ok=True)
        for f in db_file.parent.glob(db_file.name + "*"):
            f.unlink()
        parse_process = {"auto": None, "on": True, "off": False}[args.parse_process]
        results["sqlite"] = await run(f"sqlite+aiosqlite:///{db_file}", args.corpus, work, parse_process, args.import_only)
        print(json.dumps({"sqlite": results["sqlite"]}), flush=True)
    if args.pg:
        name = f"chorus_bench_{uuid.uuid4().hex[:8]}"
        await _pg_admin(args.pg, f'CREATE DATABASE "{name}"')
        try:
            url = make_url(args.pg).set(database=name).render_as_string(hide_password=False)
            results["postgresql"] = await run(url, args.corpus, work, import_only=args.import_only)
            print(json.dumps({"postgresql": results["postgresql"]}), flush=True)
        finally:
            await _pg_admin(args.pg, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    asyncio.run(main())
