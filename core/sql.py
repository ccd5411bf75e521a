"""Small SQL helpers that differ between SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def insert_for(session: AsyncSession, table: Table):
    """An INSERT with ON CONFLICT support for the session's dialect."""
    dialect = session.bind.dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


async def add_counts(session: AsyncSession, table: Table, keys: dict, counts: dict[str, int]) -> None:
    """Insert a counter row or add to it, atomically, in one statement."""
    stmt = insert_for(session, table).values(**keys, **counts)
    stmt = stmt.on_conflict_do_update(
        index_elements=list(keys),
        set_={name: table.c[name] + stmt.excluded[name] for name in counts},
    )
    await session.execute(stmt)


async def insert_ignore(session: AsyncSession, table: Table, values: dict, conflict: list[str]) -> bool:
    """Insert a row unless one with the same `conflict` columns exists; True when inserted."""
    stmt = insert_for(session, table).values(**values).on_conflict_do_nothing(index_elements=conflict)
    result = await session.execute(stmt)
    return result.rowcount == 1
