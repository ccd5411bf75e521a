"""The `chorus` command: one subcommand per thing a maintainer runs."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import sys

from core.errors import ChorusError

# Each module registers its subcommands with `register(subparsers)`; imports stay light so that
# `chorus --help` works on a bot host without torch.
COMMAND_MODULES = [
    "bots.commands.run",
    "bots.commands.db",
    "bots.commands.users",
    "bots.commands.moderation",
    "bots.commands.data",
    "bots.commands.simulate",
]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(prog="chorus", description="Grow assistant models with a community.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    try:
        from trainer.cli import add_train_parser
    except ImportError:  # the trainer package is optional on a bot host
        pass
    else:
        add_train_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `chorus` command."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:  # each migration step is noise in a terminal; -v shows them
        logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        result = args.func(args)
        if asyncio.iscoroutine(result):
            result = asyncio.run(result)
        return int(result or 0)
    except ChorusError as exc:
        print(f"chorus: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
