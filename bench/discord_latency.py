"""Interaction-to-response latency of the Discord bot for N members acting at once, against the fake Discord.

Every member runs /task (write a prompt) at the same moment, presses Write, and submits the modal:
three interactions each. Latency is from the moment the fake sends INTERACTION_CREATE to the moment
the bot's initial response (a message, a modal, an update or a deferral) reaches the fake.

    .venv/bin/python -m bench.discord_latency [--members 100] [--pg postgresql+asyncpg://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import uuid
from pathlib import Path

from sqlalchemy.engine import make_url

from bots.discord.app import run_discord
from core.db import upgrade
from core.service import Chorus
from tests.conftest import _pg_admin, make_settings
from tests.discord.fake_discord import FakeDiscord


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank) in milliseconds."""
    s = sorted(values)
    return 1000 * s[min(len(s) - 1, max(0, round(q / 100 * len(s)) - 1))]


async def member_session(fake: FakeDiscord, member, i: int) -> list:
    """One member's /task, Write and submit; the interactions it got through (it stops at one left unanswered)."""
    done = []
    try:
        first = await fake.command(member, "task", type="initial_prompt")
        done.append(first)
        screen = await fake.answer(first, timeout=30)
        opened = await fake.click(member, screen, "Write")
        done.append(opened)
        await fake.answer(opened, timeout=30)
        sent = await fake.submit(member, opened, {"Your text": f"Benchmark prompt number {i}: why is the sea salty?"})
        done.append(sent)
        await fake.answer(sent, timeout=30)
    except TimeoutError:
        pass
    return done


async def measure(db_url: str, members: int) -> dict:
    fake = FakeDiscord()
    await fake.start()
    settings = make_settings(db_url, discord_token="t", discord_api_base=fake.api_base, discord_gateway_url=fake.gateway_url)
    core = Chorus.open_on(settings)
    ready = asyncio.Event()
    bot = asyncio.create_task(run_discord(core, settings, ready=ready))
    await asyncio.wait_for(ready.wait(), 30)
    people = [fake.add_member(f"m{i}") for i in range(members)]
    try:
        sessions = await asyncio.gather(*(member_session(fake, m, i) for i, m in enumerate(people)))
    finally:
        bot.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await bot
        await core.close()
        await fake.stop()
    stats = {}
    answered = [[ix for ix in s if ix.answered_at is not None] for s in sessions]
    for step, name in enumerate(("/task", "Write (modal)", "submit")):
        lat = [s[step].answered_at - s[step].sent_at for s in answered if len(s) > step]
        stats[name] = (pct(lat, 50), pct(lat, 99), max(lat) * 1000)
    every = [ix.answered_at - ix.sent_at for s in answered for ix in s]
    stats["all"] = (pct(every, 50), pct(every, 99), max(every) * 1000)
    stats["_errors"] = fake.errors
    stats["_unanswered"] = sum(len(s) for s in sessions) - len(every)
    stats["_deferred"] = sum(1 for s in sessions for ix in s if ix.response_type in (5, 6))
    return stats


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=100)
    parser.add_argument("--pg", default="", help="PostgreSQL admin URL: a scratch database is created and dropped")
    args = parser.parse_args()
    if args.pg:
        import os

        os.environ["CHORUS_TEST_PG_URL"] = args.pg
        import tests.conftest as conf

        conf.PG_URL = args.pg
        name = f"chorus_bench_{uuid.uuid4().hex[:8]}"
        await _pg_admin(f'CREATE DATABASE "{name}"')
        url = make_url(args.pg).set(database=name).render_as_string(hide_password=False)
    else:
        tmp = tempfile.TemporaryDirectory()
        url = f"sqlite+aiosqlite:///{Path(tmp.name) / 'bench.db'}"
    try:
        await upgrade(url)
        stats = await measure(url, args.members)
    finally:
        if args.pg:
            await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(f"{args.members} members at once, {'PostgreSQL' if args.pg else 'SQLite'}; refusals by the fake: {len(stats.pop('_errors'))}; "
          f"unanswered: {stats.pop('_unanswered')}; answers that had to be deferred: {stats.pop('_deferred')}")
    print(f"{'interaction':<16}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}")
    for name, (p50, p99, worst) in stats.items():
        print(f"{name:<16}{p50:>10.1f}{p99:>10.1f}{worst:>10.1f}")


if __name__ == "__main__":
    asyncio.run(main())
