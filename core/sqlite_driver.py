"""SQLAlchemy's aiosqlite dialect with one thread hop per statement instead of four.

aiosqlite runs each call on its connection's thread and wakes the event loop when it is done. The
stock adapter makes four such calls per statement (open a cursor, execute, fetch, close); on a busy
two-core host each costs ~70 µs of thread switching, more than the indexed query itself. This
cursor runs all four steps as one call on that thread and keeps the rows, so a task round trip of
~30 statements spends a quarter of the time waiting on hops. Everything else (connections, commit,
errors, server-side cursors) is the stock dialect's.
"""

from __future__ import annotations

import collections
import sqlite3
from typing import Any

from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
    SQLiteDialect_aiosqlite,
)
from sqlalchemy.util import EMPTY_DICT

DRIVER = "chorus_aiosqlite"  # the URL's driver name: sqlite+chorus_aiosqlite:///path


def _run(conn: sqlite3.Connection, many: bool, operation: str, parameters: Any):
    """On aiosqlite's thread: execute, fetch every row, close; the cursor's whole life in one call."""
    cursor = conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        else:
            cursor.execute(operation, parameters if parameters is not None else ())
        description = cursor.description
        rows = cursor.fetchall() if description else ()
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    """A client-side cursor whose statements each cost one trip to aiosqlite's thread."""

    __slots__ = ("_description", "_rowcount", "_lastrowid", "_arraysize")

    def __init__(self, adapt_connection):
        # No aiosqlite cursor is opened here: each statement opens and closes its own on the thread.
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description = None
        self._rowcount = -1
        self._lastrowid = None
        self._arraysize = 1

    @property
    def description(self):
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self):
        return self._lastrowid

    @property
    def arraysize(self) -> int:
        return self._arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._arraysize = value

    async def _run(self, many: bool, operation: str, parameters: Any) -> None:
        async with self._adapt_connection._execute_mutex:
            result = await self._connection._execute(_run, self._connection._conn, many, operation, parameters)
        self._description, rows, self._rowcount, self._lastrowid = result
        self._rows = collections.deque(rows)

    async def _execute_async(self, operation: str, parameters: Any) -> None:
        await self._run(False, operation, parameters)

    async def _executemany_async(self, operation: str, seq_of_parameters: Any) -> None:
        await self._run(True, operation, seq_of_parameters)

    async def _async_soft_close(self) -> None:
        return None  # the statement's cursor is already closed, on the thread

    def nextset(self) -> None:
        raise NotImplementedError("SQLite statements return one result set")

    def setinputsizes(self, *inputsizes: Any) -> None:
        return None


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = OneHopCursor


class OneHopDBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> OneHopConnection:
        stock = super().connect(*arg, **kw)
        return OneHopConnection(self, stock._connection)


class OneHopDialect(SQLiteDialect_aiosqlite):
    """The aiosqlite dialect, with OneHopCursor for every client-side cursor."""

    driver = DRIVER
    supports_statement_cache = True

    @classmethod
    def import_dbapi(cls) -> OneHopDBAPI:
        return OneHopDBAPI(__import__("aiosqlite"), __import__("sqlite3"))


registry.register(f"sqlite.{DRIVER}", __name__, "OneHopDialect")
