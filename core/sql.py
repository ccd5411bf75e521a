"""Small SQL helpers that differ between SQLite and PostgreSQL."""

from __future__ import annotations

import functools

from sqlalchemy import Table, bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

# Row locks are taken as FOR NO KEY UPDATE, never FOR UPDATE. We never change a primary key, and a
# plain FOR UPDATE also blocks the FOR KEY SHARE lock that PostgreSQL takes on a referenced row when
# another transaction inserts a child (a task naming a locked tree or user): two such transactions
# deadlock. NO KEY UPDATE still serialises writers of the row. SQLite ignores row locks.
ROW_LOCK = {"key_share": True}


def insert_on(dialect: str, table: Table):
    """An INSERT with ON CONFLICT support for a dialect ("postgresql" or "sqlite")."""
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def insert_for(session: AsyncSession, table: Table):
    """An INSERT with ON CONFLICT support for the session's dialect."""
    return insert_on(session.bind.dialect.name, table)


@functools.cache
def _adder(dialect: str, table: Table, keys: tuple[str, ...], counts: tuple[str, ...]):
    """INSERT … ON CONFLICT DO UPDATE adding to the counters; built once per shape, values bound."""
    stmt = insert_on(dialect, table).values({name: bindparam(name, type_=table.c[name].type) for name in keys + counts})
    return stmt.on_conflict_do_update(
        index_elements=list(keys), set_={name: table.c[name] + stmt.excluded[name] for name in counts}
    )


async def add_counts(session: AsyncSession, table: Table, keys: dict, counts: dict[str, int]) -> None:
    """Insert a counter row or add to it, atomically, in one statement."""
    stmt = _adder(session.bind.dialect.name, table, tuple(keys), tuple(counts))
    await session.execute(stmt, {**keys, **counts})


async def insert_ignore(session: AsyncSession, table: Table, values: dict, conflict: list[str]) -> bool:
    """Insert a row unless one with the same `conflict` columns exists; True when inserted."""
    stmt = insert_for(session, table).values(**values).on_conflict_do_nothing(index_elements=conflict)
    result = await session.execute(stmt)
    return result.rowcount == 1
