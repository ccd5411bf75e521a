"""Task request + submission latency at oasst1 size: single process on SQLite, concurrent workers on PostgreSQL.

    .venv/bin/python bench/corpus.py        # once
    .venv/bin/python bench/task_latency.py [--tasks 2000] [--sqlite-workers 32] [--pg postgresql+asyncpg://postgres@127.0.0.1:5432/postgres --workers 4]

Each step is one simulated volunteer requesting a random task and answering it (core/simulate.py),
through the real service API, on a database holding the whole corpus. Target: p99 <= 25 ms on SQLite.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy.engine import make_url  # noqa: E402

from bench.import_export import CORPUS, _pg_admin  # noqa: E402
from core.config import load_settings  # noqa: E402
from core.db import Database, upgrade  # noqa: E402
from core.oasst_import import import_file  # noqa: E402
from core.service import Chorus  # noqa: E402
from core.simulate import simulate  # noqa: E402

WORK = Path("/tmp/chorus-bench")
LANGS = {"en": 0.45, "es": 0.25, "ru": 0.1, "de": 0.1, "fr": 0.1}


async def _loaded(url: str, corpus: Path) -> None:
    await upgrade(url)
    db = Database(url)
    try:
        r = await import_file(db, corpus)
        print(f"corpus loaded: {r.messages:,} messages in {r.seconds:.0f}s", file=sys.stderr)
    finally:
        await db.dispose()


async def measure(url: str, tasks: int, workers: int, users: int) -> dict:
    core = Chorus.open_on(load_settings({"CHORUS_DATABASE_URL": url}, dotenv=None), seed=1)
    try:
        warm = await simulate(core, users=users, tasks=min(200, tasks), seed=1, langs=LANGS, concurrency=workers)
        s = await simulate(core, users=users, tasks=tasks, seed=2, langs=LANGS, concurrency=workers)
    finally:
        await core.close()
    return {
        "tasks": tasks, "workers": workers, "p50_ms": s["latency_ms"]["p50"], "p99_ms": s["latency_ms"]["p99"],
        "tasks_per_s": s["tasks_per_second"], "done": s["done"], "errors": s["errors"],
        "warmup_p99_ms": warm["latency_ms"]["p99"], "invariant_violations": len(s["invariant_violations"]),
    }  # fmt: skip


async def main() -> None:
    p = argparse.ArgumentParser(description="task latency benchmark")
    p.add_argument("--corpus", type=Path, default=CORPUS)
    p.add_argument("--tasks", type=int, default=2000)
    p.add_argument("--users", type=int, default=300)
    p.add_argument("--pg", help="PostgreSQL admin URL; a scratch database is created and dropped")
    p.add_argument("--workers", type=int, default=4, help="concurrent workers on PostgreSQL")
    p.add_argument("--sqlite-workers", type=int, default=1, help="concurrent workers on SQLite (one process)")
    p.add_argument("--skip-sqlite", action="store_true")
    args = p.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    if not args.skip_sqlite:
        base = WORK / "latency-base.db"
        if not base.exists():  # the imported corpus is kept: later runs start from a copy of it
            await _loaded(f"sqlite+aiosqlite:///{base}", args.corpus)
        run = WORK / "latency-run.db"
        for f in WORK.glob("latency-run.db*"):
            f.unlink()
        shutil.copy(base, run)
        result = await measure(f"sqlite+aiosqlite:///{run}", args.tasks, args.sqlite_workers, args.users)
        print(json.dumps({"sqlite": result}), flush=True)
    if args.pg:
        name = f"chorus_bench_{uuid.uuid4().hex[:8]}"
        await _pg_admin(args.pg, f'CREATE DATABASE "{name}"')
        try:
            url = make_url(args.pg).set(database=name).render_as_string(hide_password=False)
            await _loaded(url, args.corpus)
            result = await measure(url, args.tasks, args.workers, args.users)
            print(json.dumps({"postgresql": result}), flush=True)
        finally:
            await _pg_admin(args.pg, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    asyncio.run(main())
