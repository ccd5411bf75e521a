"""Bulk row access for import and export: the driver connection under a SQLAlchemy transaction.

The ORM and even Core's per-row type processing cost more than the whole budget of a bulk
import or export (tens of thousands of messages a second), so these paths speak to the driver
(sqlite3 through aiosqlite, asyncpg) directly, inside the caller's transaction, and convert the
few types that differ between the two (ids, times, booleans) themselves.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import sqlite3
import threading
import uuid
from collections.abc import Iterator, Sequence
from itertools import chain

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

# Page cache for a bulk import's connection: the keys' B-trees, inserted into at random, stay in
# memory (SQLite's default is 2 MB). Not the whole import: pages that do not fit are written to
# the WAL while the parser works, instead of all of them at the commit, which everyone waits for
# (oasst1-sized import: commit and checkpoint 2.3 s with 256 MB, 1.0 s with 64 MB).
BULK_CACHE_KB = 64 << 10
# Bound parameters per statement: SQLite's limit since 3.32 (Python 3.11 bundles a later one).
SQLITE_MAX_PARAMS = 32766
_gc_lock = threading.Lock()
_gc_state = {"pauses": 0, "was_enabled": True}


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector (process-wide) for the duration of a bulk import or export.

    Millions of short-lived acyclic objects (parsed JSON, row tuples) trigger a collection every
    few hundred allocations, which costs about a third of parsing; reference counting still frees
    them. Overlapping pauses are counted; the collector resumes when the last one ends.
    """
    with _gc_lock:
        if _gc_state["pauses"] == 0:
            _gc_state["was_enabled"] = gc.isenabled()
            gc.disable()
        _gc_state["pauses"] += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_state["pauses"] -= 1
            if _gc_state["pauses"] == 0 and _gc_state["was_enabled"]:
                gc.enable()


class Raw:
    """The driver connection of one open transaction, with the dialect's value conventions."""

    def __init__(self, driver, dialect: str):
        self.drv = driver
        self.pg = dialect == "postgresql"

    @classmethod
    async def of(cls, conn: AsyncSession | AsyncConnection) -> Raw:
        """The driver connection behind a session or connection whose transaction is begun."""
        # Through SQLAlchemy first: asyncpg's adapter only opens its transaction on a statement,
        # and raw statements before that would run outside it.
        await conn.execute(text("SELECT 1"))
        if isinstance(conn, AsyncSession):
            conn = await conn.connection()
        fairy = await conn.get_raw_connection()
        return cls(fairy.driver_connection, conn.dialect.name)

    # --- values --------------------------------------------------------------------------------

    def uid(self, value: str | None):
        """A canonical id string as the driver stores it."""
        if value is None:
            return None
        return uuid.UUID(value) if self.pg else value.replace("-", "")

    def uid_sql(self, column: str) -> str:
        """SQL selecting an id column as a string (dashed on PostgreSQL, 32 hex digits on SQLite)."""
        return f"{column}::text" if self.pg else column

    @staticmethod
    def dashed(value: str | None) -> str | None:
        """An id read back from SQLite (32 hex digits) in canonical dashed form."""
        if value is None or len(value) != 32:
            return value
        return f"{value[:8]}-{value[8:12]}-{value[12:16]}-{value[16:20]}-{value[20:]}"

    def time(self, value: dt.datetime):
        """A timezone-aware time as the driver stores it."""
        if self.pg:
            return value
        if value.tzinfo is not dt.UTC:
            value = value.astimezone(dt.UTC)
        # isoformat is several times cheaper than strftime; "2023-02-12 19:06:16.233571+00:00"[:26]
        return value.isoformat(" ", "microseconds")[:26]

    def iso(self, value) -> str:
        """A stored time in ISO 8601 with its UTC offset, as the oasst format writes it."""
        if self.pg:
            return value.astimezone(dt.UTC).isoformat()
        # "2023-02-12 19:06:16.233571" -> "2023-02-12T19:06:16.233571+00:00"
        if value.endswith(".000000"):
            value = value[:-7]  # isoformat() leaves out a zero fraction
        return f"{value[:10]}T{value[11:]}+00:00"

    def bool(self, value: bool | None):
        """A boolean as the driver stores it."""
        if value is None or self.pg:
            return value
        return 1 if value else 0

    def json_sql(self, column: str) -> str:
        """SQL selecting a JSON column as its text."""
        return f"{column}::text" if self.pg else column

    def ids_param(self, n: int, start: int = 1) -> str:
        """An `IN (...)` right-hand side for n ids."""
        if self.pg:
            return f"(SELECT unnest(${start}::uuid[]))"
        return "(" + ",".join("?" * n) + ")"

    def ph(self, i: int) -> str:
        """The i-th (1-based) placeholder."""
        return f"${i}" if self.pg else "?"

    # --- statements ----------------------------------------------------------------------------

    async def fetch(self, sql: str, params: Sequence = ()) -> list[tuple]:
        """All rows of a query."""
        if self.pg:
            return await self.drv.fetch(sql, *params)
        async with self.drv.execute(sql, tuple(params)) as cur:
            return await cur.fetchall()

    async def fetch_in(self, sql: str, ids: Sequence, before: Sequence = ()) -> list[tuple]:
        """Rows of a query with `{ids}` in it replaced by a list of stored ids."""
        if self.pg:
            return await self.drv.fetch(sql.format(ids=self.ids_param(len(ids), len(before) + 1)), *before, list(ids))
        return await self.fetch(sql.format(ids=self.ids_param(len(ids))), [*before, *ids])

    async def execute(self, sql: str, params: Sequence = ()) -> int:
        """Run one statement; the number of rows it changed."""
        if self.pg:
            status = await self.drv.execute(sql, *params)
            tail = status.rsplit(" ", 1)[-1]
            return int(tail) if tail.isdigit() else 0
        async with self.drv.execute(sql, tuple(params)) as cur:
            return cur.rowcount

    async def insert_new(self, table: str, columns: Sequence[str], rows: list[tuple]) -> int:
        """Insert rows, leaving alone any that already exist (by any unique key); how many were new."""
        if not rows:
            return 0
        cols = ", ".join(columns)
        if self.pg:
            # COPY into a scratch table, then one INSERT ... ON CONFLICT: the speed of COPY and
            # the idempotence of an upsert. The scratch table lives until the transaction ends.
            tmp = f"_import_{table}"
            await self.drv.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {tmp} (LIKE {table} INCLUDING DEFAULTS) ON COMMIT DROP"
            )
            await self.drv.execute(f"TRUNCATE {tmp}")
            await self.drv.copy_records_to_table(tmp, records=rows, columns=list(columns))
            return await self.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {tmp} ON CONFLICT DO NOTHING")
        marks = ", ".join("?" * len(columns))
        # sqlite3's executemany rowcount is the sum over the rows: exactly the new ones.
        cur = await self.drv.executemany(f"INSERT INTO {table} ({cols}) VALUES ({marks}) ON CONFLICT DO NOTHING", rows)
        return cur.rowcount


class SqliteBulk:
    """A plain sqlite3 connection for one bulk import, used from worker threads only.

    Its own connection (not the pooled aiosqlite one) so that foreign-key checks can be off: the
    importer links every row itself (a parent is in the file or already stored), and the checks
    were 40 % of inserting label rows. The caller holds the process's write lock; BEGIN IMMEDIATE
    takes SQLite's, so other processes wait (busy timeout) rather than interleave.
    """

    def __init__(self, path: str):
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        for pragma in ("foreign_keys = OFF", "busy_timeout = 30000", "synchronous = NORMAL",
                       f"cache_size = -{BULK_CACHE_KB}", "journal_mode = WAL"):  # fmt: skip
            self.conn.execute(f"PRAGMA {pragma}")
        self.conn.execute("BEGIN IMMEDIATE")
        self.deferred_indexes: list[str] = []

    def defer_indexes(self, tables: Sequence[str]) -> None:
        """Drop the secondary indexes of those tables that are empty, to be built once at commit.

        Loading into an empty table, one sorted build per index costs a fraction of updating it
        row by row (messages has four); inside the transaction, so a rollback restores them and
        other connections never see the table without them.
        """
        for table in tables:
            if self.conn.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone() is not None:
                continue
            for name, sql in self.conn.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL", (table,)
            ).fetchall():
                self.conn.execute(f'DROP INDEX "{name}"')
                self.deferred_indexes.append(sql)

    def insert_new(self, table: str, columns: Sequence[str], rows: list, flat: bool = False) -> int:
        """Insert rows, leaving alone any that already exist (by any unique key); how many were new.

        `flat`: the rows' values come as one list, row after row (cheaper to pickle than tuples).
        """
        n = len(columns)
        values = rows if flat else list(chain.from_iterable(rows))
        if not values:
            return 0
        # Many rows per statement, not executemany: sqlite3 releases the GIL around every step,
        # and while the parser thread holds it each row would wait out a thread switch (5 ms);
        # one step per few thousand rows makes that wait negligible (row by row was 13x slower).
        per = max(1, SQLITE_MAX_PARAMS // n) * n
        one = "(" + ", ".join("?" * n) + ")"
        cols, new = ", ".join(columns), 0
        for start in range(0, len(values), per):
            part = values[start : start + per]
            sql = f"INSERT INTO {table} ({cols}) VALUES {', '.join([one] * (len(part) // n))} ON CONFLICT DO NOTHING"
            new += self.conn.execute(sql, part).rowcount  # only the new rows count
        return new

    def fetch_in(self, sql: str, ids: Sequence) -> list[tuple]:
        """Rows of a query with `{ids}` replaced by a list of stored ids (any number of them)."""
        out: list[tuple] = []
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            out += self.conn.execute(sql.format(ids="(" + ",".join("?" * len(part)) + ")"), part).fetchall()
        return out

    def finish(self, commit: bool) -> None:
        """Commit or roll back, and close."""
        try:
            if commit:
                for sql in self.deferred_indexes:
                    self.conn.execute(sql)
            self.conn.execute("COMMIT" if commit else "ROLLBACK")
        finally:
            self.conn.close()


class RawText(Raw):
    """Raw for an import: ids stay canonical strings on PostgreSQL too.

    asyncpg encodes a uuid column from its text itself; building uuid.UUID objects (four per
    message) cost about as much as the rest of a message's row.
    """

    def uid(self, value: str | None):
        """A canonical id string as the driver takes it."""
        if self.pg:
            return value
        return super().uid(value)


class PgBulk:
    """One PostgreSQL import's writes: COPY straight into the tables when a batch's rows are new.

    A batch none of whose trees or messages are stored yet is copied into the tables themselves;
    one that may overlap stored rows goes through Raw.insert_new (COPY into a scratch table, then
    INSERT … ON CONFLICT DO NOTHING). Into an empty messages table, `defer` also drops the
    constraints and indexes that cost most per row and restores them at the end.
    """

    # Per-row foreign-key triggers and random-order B-tree inserts were ~80 % of the server's
    # time for oasst1's labels when they were 1.9 M rows (measured: 14 s with them; 1.0 s without,
    # plus 1.2 s to build the primary key and 0.35 s to validate the foreign key once).
    DEFERRED = ("trees", "messages", "label_means", "emoji_counts")

    def __init__(self, raw: Raw):
        self.raw, self.drv = raw, raw.drv
        self.restore: list[str] = []  # DDL that puts back what `defer` dropped, in order
        self.deferred = False  # messages was empty and is locked until the commit

    async def defer(self) -> bool:
        """If messages is empty, drop the deferred tables' foreign keys and indexes until `finish`.

        Inside the import's transaction: a rollback restores them, and the ACCESS EXCLUSIVE locks
        it takes (on these tables, trees and users) keep everyone else out until the commit —
        acceptable for the first load of an empty database, which is why only then. Primary keys
        that other tables' foreign keys depend on stay (messages'); the rest are built once at
        the end, and the foreign keys validated there by one query each.
        """
        if await self.drv.fetchval("SELECT EXISTS (SELECT 1 FROM messages)"):
            return False
        tables = list(self.DEFERRED)
        constraints = await self.drv.fetch(
            """SELECT c.conrelid::regclass::text AS tbl, c.conname, pg_get_constraintdef(c.oid) AS def, c.contype
               FROM pg_constraint c
               WHERE c.conrelid = ANY($1::regclass[]) AND c.contype IN ('f', 'p', 'u')
                 AND NOT EXISTS (SELECT 1 FROM pg_constraint r WHERE r.contype = 'f' AND r.conindid = c.conindid
                                 AND c.contype <> 'f')
               ORDER BY c.contype = 'f', c.conname""",
            tables,
        )
        indexes = await self.drv.fetch(
            """SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS def
               FROM pg_index i
               WHERE i.indrelid = ANY($1::regclass[])
                 AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
               ORDER BY 1""",
            tables,
        )
        # Foreign keys go first (a key they rely on may be among the rest), and come back last.
        for c in sorted(constraints, key=lambda c: c["contype"] != "f"):
            await self.drv.execute(f'ALTER TABLE {c["tbl"]} DROP CONSTRAINT "{c["conname"]}"')
        for i in indexes:
            await self.drv.execute(f"DROP INDEX {i['name']}")
        self.restore = [i["def"] for i in indexes] + [
            f'ALTER TABLE {c["tbl"]} ADD CONSTRAINT "{c["conname"]}" {c["def"]}' for c in constraints
        ]  # constraints come sorted: keys first, foreign keys last
        # Now that this transaction holds messages' lock: someone may have added rows since the look.
        if await self.drv.fetchval("SELECT EXISTS (SELECT 1 FROM messages)"):
            await self.finish()
            return False
        self.deferred = True
        return True

    async def stored_any(self, tree_ids: list, message_ids: list) -> bool:
        """Whether any of these trees or messages is stored already."""
        if self.deferred:  # messages was empty and nobody else can write it: only this import's rows
            return await self.drv.fetchval("SELECT EXISTS (SELECT 1 FROM trees WHERE id = ANY($1::uuid[]))", tree_ids)
        return await self.drv.fetchval(
            "SELECT EXISTS (SELECT 1 FROM messages WHERE id = ANY($1::uuid[]))"
            " OR EXISTS (SELECT 1 FROM trees WHERE id = ANY($2::uuid[]))",
            message_ids, tree_ids,
        )  # fmt: skip

    async def copy(self, table: str, columns: Sequence[str], rows: list) -> int:
        """COPY rows straight into a table (binary); how many."""
        if rows:
            await self.drv.copy_records_to_table(table, records=rows, columns=list(columns))
        return len(rows)

    async def finish(self) -> None:
        """Put back what `defer` dropped (before the commit)."""
        for sql in self.restore:
            await self.drv.execute(sql)
        self.restore, self.deferred = [], False
