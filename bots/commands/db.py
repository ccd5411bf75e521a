"""`chorus db upgrade`: apply the schema migrations to the configured database."""

from __future__ import annotations

from core.config import load_settings
from core.db import upgrade


def register(sub) -> None:
    """Add the `db` subcommand."""
    p = sub.add_parser("db", help="database schema")
    dsub = p.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    up = dsub.add_parser("upgrade", help="apply migrations (CHORUS_DATABASE_URL)")
    up.add_argument("--revision", default="heads", help="target revision (default: all heads)")
    up.set_defaults(func=_upgrade)


async def _upgrade(args) -> int:
    settings = load_settings()
    await upgrade(settings.database_url, args.revision)
    print(f"Database at {settings.database_url} is up to date.")
    return 0
