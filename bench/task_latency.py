"""Task request + submission latency at oasst1 size: single process on SQLite, concurrent workers on PostgreSQL.

    .venv/bin/python bench/corpus.py        # once
    .venv/bin/python bench/task_latency.py [--tasks 2000] [--sqlite-workers 32] [--pg postgresql+asyncpg://postgres@127.0.0.1:5432/postgres --workers 4]
    .venv/bin/python bench/task_latency.py --skip-sqlite --pg URL --workers 8 --processes 4   # 32 users over 4 processes

Each step is one simulated volunteer requesting a random task and answering it (core/simulate.py),
through the real service API, on a database holding the whole corpus. Target: p99 <= 25 ms on SQLite.
With --processes, PostgreSQL is driven by that many processes at once (each with --workers users),
as several bot processes would, and the figures merge all their steps.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import shutil
import sys
import time
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


async def _one_process(url: str, tasks: int, workers: int, users: int, seed: int, start_at: float) -> dict:
    core = Chorus.open_on(load_settings({"CHORUS_DATABASE_URL": url}, dotenv=None), seed=seed)
    latencies: list[float] = []
    try:
        await simulate(core, users=users, tasks=min(100, tasks), seed=seed, langs=LANGS, concurrency=workers)
        await asyncio.sleep(max(0.0, start_at - time.time()))  # every process starts the timed part together
        began = time.time()
        s = await simulate(core, users=users, tasks=tasks, seed=seed + 1000, langs=LANGS, concurrency=workers,
                           latencies=latencies)  # fmt: skip
        ended = time.time()
    finally:
        await core.close()
    return {"latencies": latencies, "began": began, "ended": ended, "errors": s["errors"],
            "violations": len(s["invariant_violations"])}  # fmt: skip


def _process_main(args: tuple) -> dict:
    return asyncio.run(_one_process(*args))


def measure_processes(url: str, tasks: int, workers: int, users: int, processes: int) -> dict:
    """Drive the database from several processes at once; merged latency percentiles and throughput."""
    start_at = time.time() + 20 + 2 * processes  # after every process has connected and warmed up
    jobs = [(url, tasks // processes, workers, users, 10 * i + 1, start_at) for i in range(processes)]
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        runs = pool.map(_process_main, jobs)
    latencies = sorted(x for r in runs for x in r["latencies"])
    late = [r for r in runs if r["began"] > start_at + 1]
    elapsed = max(r["ended"] for r in runs) - min(r["began"] for r in runs)

    def pct(p: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000, 2)

    errors: dict = {}
    for r in runs:
        for k, v in r["errors"].items():
            errors[k] = errors.get(k, 0) + v
    return {
        "tasks": len(latencies), "processes": processes, "workers_per_process": workers,
        "p50_ms": pct(0.5), "p99_ms": pct(0.99), "tasks_per_s": round(len(latencies) / elapsed, 1),
        "errors": errors, "late_starts": len(late), "invariant_violations": sum(r["violations"] for r in runs),
    }  # fmt: skip


async def main() -> None:
    p = argparse.ArgumentParser(description="task latency benchmark")
    p.add_argument("--corpus", type=Path, default=CORPUS)
    p.add_argument("--tasks", type=int, default=2000)
    p.add_argument("--users", type=int, default=300)
    p.add_argument("--pg", help="PostgreSQL admin URL; a scratch database is created and dropped")
    p.add_argument("--workers", type=int, default=4, help="concurrent workers on PostgreSQL (per process)")
    p.add_argument("--processes", type=int, default=1, help="processes driving PostgreSQL at once")
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
            if args.processes > 1:
                result = await asyncio.to_thread(
                    measure_processes, url, args.tasks, args.workers, args.users, args.processes
                )
            else:
                result = await measure(url, args.tasks, args.workers, args.users)
            print(json.dumps({"postgresql": result}), flush=True)
        finally:
            await _pg_admin(args.pg, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    asyncio.run(main())
