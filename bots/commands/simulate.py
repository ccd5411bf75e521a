"""`chorus simulate`: simulated volunteers doing tasks against the configured database."""

from __future__ import annotations

import json

from bots.commands.data import progress_printer
from core.config import load_settings
from core.errors import InvalidInput
from core.service import Chorus
from core.simulate import parse_langs, simulate


def register(sub) -> None:
    """Add the `simulate` subcommand."""
    p = sub.add_parser("simulate", help="simulated volunteers doing random tasks (demo, load, end-to-end check)")
    p.add_argument("--users", type=int, default=20, help="number of simulated volunteers (default 20)")
    p.add_argument("--tasks", type=int, default=500, help="number of task requests (default 500)")
    p.add_argument("--seed", type=int, default=0, help="random seed: the same seed replays the same choices")
    p.add_argument("--langs", default="en", help="language mix, e.g. en=0.7,de=0.2,es=0.1 (default en)")
    p.add_argument("--concurrency", type=int, default=1, help="volunteers working at the same time (default 1)")
    p.add_argument("--spammers", type=float, default=0.05, help="share of volunteers who write spam (default 0.05)")
    p.set_defaults(func=run_simulate)


async def run_simulate(args) -> int:
    """Run the simulation and print its JSON summary; exit 1 when an invariant is broken."""
    try:
        langs = parse_langs(args.langs)
    except ValueError as exc:
        raise InvalidInput(f"--langs: {exc}.") from None
    if args.users < 1 or args.tasks < 0 or args.concurrency < 1 or not 0 <= args.spammers <= 1:
        raise InvalidInput("--users and --concurrency must be at least 1, --tasks at least 0, --spammers between 0 and 1.")
    core = await Chorus.open(load_settings(), seed=args.seed)
    try:
        summary = await simulate(
            core, users=args.users, tasks=args.tasks, seed=args.seed, langs=langs,
            concurrency=args.concurrency, spammers=args.spammers, progress=progress_printer("simulating", "tasks"),
        )  # fmt: skip
    finally:
        await core.close()
    print(json.dumps(summary, indent=2))
    return 1 if summary["invariant_violations"] else 0
