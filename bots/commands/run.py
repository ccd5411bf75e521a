"""`chorus run` and `chorus console`: start the configured front ends on one event loop."""

from __future__ import annotations

import asyncio
import logging

from core.config import Settings, load_settings
from core.service import Chorus

log = logging.getLogger("chorus.run")


def register(sub) -> None:
    """Add the `run` and `console` subcommands."""
    p = sub.add_parser("run", help="start the bots that have a token, or the console when none has")
    p.set_defaults(func=run)
    c = sub.add_parser("console", help="take and answer tasks in this terminal")
    c.add_argument("--user", default="local", help="console user name (default: local)")
    c.set_defaults(func=console)


def front_ends(core: Chorus, settings: Settings) -> list:
    """The coroutines of every configured bot."""
    jobs = []
    if settings.discord_token:
        from bots.discord.app import run_discord

        jobs.append(run_discord(core, settings))
    if settings.telegram_token:
        from bots.telegram.app import run_telegram

        jobs.append(run_telegram(core, settings))
    return jobs


async def run(args) -> int:
    settings = load_settings()
    core = await Chorus.open(settings)
    try:
        jobs = front_ends(core, settings)
        if not jobs:
            from bots.console import run_console

            log.info("No bot token configured (CHORUS_DISCORD_TOKEN, CHORUS_TELEGRAM_TOKEN): opening the console.")
            return await run_console(core, user_name=getattr(args, "user", "local"))
        await asyncio.gather(*jobs)
        return 0
    finally:
        await core.close()


async def console(args) -> int:
    from bots.console import run_console

    settings = load_settings()
    core = await Chorus.open(settings)
    try:
        return await run_console(core, user_name=args.user)
    finally:
        await core.close()
