"""Update-to-reply latency of the Telegram bot for N members acting at once, against the fake Bot API.

Each member sends /task prompt at the same moment, then answers it by replying. Latency is from the
moment the update is queued at the fake Bot API to the bot's first message back in that chat.

    .venv/bin/python -m bench.telegram_latency [--members 100] [--pg postgresql+asyncpg://postgres@127.0.0.1:5432/postgres] [--no-rate-limiter]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy.engine import make_url

from bots.telegram.app import run_telegram
from core.db import upgrade
from core.service import Chorus
from tests.conftest import make_settings
from tests.telegram.fake_botapi import FakeBotAPI


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank) in milliseconds."""
    s = sorted(values)
    return 1000 * s[min(len(s) - 1, max(0, round(q / 100 * len(s)) - 1))]


async def phase(fake: FakeBotAPI, sends: dict[int, int], expected: int, where) -> list[float]:
    """Wait until the bot sent `expected` more messages, then take each member's latency to its first matching reply."""
    # One cheap check per API call: evaluating per-member predicates while the bot runs would steal its CPU.
    await fake.wait_for(lambda: fake.sent_count >= expected, 300)
    out = []
    for user, uid in sends.items():
        t = fake.update_times[uid]
        out.append(min(m.at for m in fake.bot_messages(user) if m.at >= t and where(m)) - t)
    return out


async def pg_admin(admin_url: str, sql: str) -> None:
    """Run one statement on the PostgreSQL server's admin database."""
    import asyncpg

    u = make_url(admin_url)
    conn = await asyncpg.connect(host=u.host, port=u.port or 5432, user=u.username, password=u.password, database=u.database)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def main(members: int, pg_url: str | None, rate_limiter: bool) -> None:
    tmp = tempfile.TemporaryDirectory()
    url = f"sqlite+aiosqlite:///{Path(tmp.name) / 'bench.db'}"
    if pg_url:  # a throw-away database next to the one named, never the one named itself
        name = f"chorus_bench_{uuid.uuid4().hex[:10]}"
        await pg_admin(pg_url, f'CREATE DATABASE "{name}"')
        url = make_url(pg_url).set(database=name).render_as_string(hide_password=False)
    await upgrade(url)
    fake = FakeBotAPI()
    await fake.start()
    settings = make_settings(url, telegram_token=fake.token, telegram_api_base=fake.url)
    core = Chorus.open_on(settings, seed=1)
    ready = asyncio.Event()
    bot = asyncio.create_task(run_telegram(core, settings, post_every=0, rate_limiter=rate_limiter, ready=ready))
    await ready.wait()
    users = list(range(10_000, 10_000 + members))
    t0 = time.perf_counter()
    sends = {u: fake.say(u, "/task prompt") for u in users}
    task_lat = await phase(fake, sends, 2 * members, lambda m: True)  # control + ForceReply each
    prompts = {u: next(m for m in fake.bot_messages(u) if m.force_reply).message_id for u in users}
    sends = {u: fake.say(u, f"Question number {u}: why?", reply_to=prompts[u]) for u in users}
    reply_lat = await phase(fake, sends, 3 * members, lambda m: "saved" in m.text)
    total = time.perf_counter() - t0
    bot.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await bot
    await core.close()
    await fake.stop()
    tmp.cleanup()
    if pg_url:
        await pg_admin(pg_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    db = url.split("://")[0]
    print(f"members={members} db={db} rate_limiter={'on' if rate_limiter else 'off'} total={total:.2f}s")
    for name, lat in (("/task -> first reply", task_lat), ("answer -> 'saved'", reply_lat)):
        print(f"  {name:22s} p50={pct(lat, 50):7.1f} ms  p99={pct(lat, 99):7.1f} ms  max={max(lat) * 1000:7.1f} ms"
              f"  mean={statistics.mean(lat) * 1000:7.1f} ms")  # fmt: skip


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--members", type=int, default=100)
    ap.add_argument("--pg", default=None, help="PostgreSQL server URL: the bench creates and drops its own database there "
                    "(default: a fresh SQLite file)")
    ap.add_argument("--no-rate-limiter", action="store_true", help="measure the bot alone, without AIORateLimiter")
    a = ap.parse_args()
    asyncio.run(main(a.members, a.pg, not a.no_rate_limiter))
