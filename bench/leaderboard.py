"""Leaderboard, points and troll-board latency over a large activity ledger, on SQLite or PostgreSQL.

    .venv/bin/python bench/leaderboard.py --users 20000 --days 180 --active 0.1 [--pg URL]

Fills user_activity with `users × days × active` rows (random counters), then times each window of
the leaderboard, a user's points and the troll board through the service API.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import insert
from sqlalchemy.engine import make_url

from core.config import load_settings
from core.db import upgrade
from core.models import Role, User, UserActivity, utcnow
from core.service import Chorus


async def fill(core: Chorus, users: int, days: int, active: float, seed: int) -> tuple[int, uuid.UUID]:
    """Insert users and their ledger rows in batches; returns the row count and a moderator's id."""
    rng = random.Random(seed)
    ids = [uuid.uuid4() for _ in range(users)]
    today = utcnow().date()
    async with core.db.tx() as s:
        for i in range(0, users, 5000):
            await s.execute(insert(User), [{"id": u, "display_name": f"u{i + j}"} for j, u in enumerate(ids[i : i + 5000])])
        mod = uuid.uuid4()
        await s.execute(insert(User), [{"id": mod, "display_name": "mod", "role": Role.moderator.value}])
    rows, batch = 0, []
    for u in ids:
        for d in range(days):
            if rng.random() >= active:
                continue
            batch.append({
                "user_id": u, "day": today - dt.timedelta(days=d), "prompts": rng.randint(0, 3),
                "assistant_replies": rng.randint(0, 4), "labels_full": rng.randint(0, 10), "rankings": rng.randint(0, 6),
                "ranked_first": rng.randint(0, 1), "upvotes_received": rng.randint(0, 3), "red_flags_received": rng.randint(0, 1),
            })  # fmt: skip
            if len(batch) >= 20000:
                rows += await _flush(core, batch)
    rows += await _flush(core, batch)
    return rows, mod


async def _flush(core: Chorus, batch: list) -> int:
    n = len(batch)
    if n:
        async with core.db.tx() as s:
            await s.execute(insert(UserActivity), batch)
        batch.clear()
    return n


async def timed(label: str, make, repeat: int) -> None:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        await make()
        times.append((time.perf_counter() - t0) * 1000)
    print(f"{label:<24} p50 {statistics.median(times):8.1f} ms   max {max(times):8.1f} ms")


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--users", type=int, default=20000)
    ap.add_argument("--days", type=int, default=180)
    ap.add_argument("--active", type=float, default=0.1, help="share of user-days with activity")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--pg", help="a PostgreSQL server URL (a scratch database is created and dropped)")
    args = ap.parse_args()
    if args.pg:
        import asyncpg

        base = make_url(args.pg)
        name = f"chorus_bench_{uuid.uuid4().hex[:8]}"
        admin = await asyncpg.connect(host=base.host, port=base.port or 5432, user=base.username, database=base.database)
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = base.set(database=name).render_as_string(hide_password=False)
    else:
        url = f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
    try:
        await upgrade(url)
        core = Chorus.open_on(load_settings({"CHORUS_DATABASE_URL": url}, dotenv=None))
        t0 = time.perf_counter()
        rows, mod = await fill(core, args.users, args.days, args.active, seed=1)
        print(f"{make_url(url).get_backend_name()}: {args.users} users, {rows} ledger rows "
              f"(filled in {time.perf_counter() - t0:.1f} s)")  # fmt: skip
        for window in ("day", "week", "month", "all"):
            await timed(f"leaderboard {window}", lambda w=window: core.leaderboard(w, limit=10), args.repeat)
        some = (await core.leaderboard("all", limit=1))[0].user_id
        await timed("user_points", lambda: core.user_points(some), args.repeat)
        await timed("leaderboard_position all", lambda: core.leaderboard_position(some, "all"), args.repeat)
        await timed("troll_board", lambda: core.troll_board(mod, limit=20), args.repeat)
        await core.close()
    finally:
        if args.pg:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
