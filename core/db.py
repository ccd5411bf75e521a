"""Database engines, transactions and migrations for SQLite (embedded) and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import random
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from core import sqlite_driver

ALEMBIC_DIR = Path(__file__).resolve().parent.parent / "alembic"
BEFORE_COMMIT = "chorus.before_commit"  # session.info key: coroutines run just before tx() commits
RNG = "chorus.rng"  # session.info key: the random source of the core that opened the transaction


def db_rng(session: AsyncSession) -> random.Random:
    """The random source for draws made inside a transaction (seeded when the core was)."""
    return session.info.get(RNG) or random.Random()


def before_commit(session: AsyncSession, hook: Callable[[AsyncSession], Awaitable[None]]) -> None:
    """Run `hook(session)` once, just before the transaction of `tx()` commits."""
    if BEFORE_COMMIT not in session.info:
        # Only tx() runs the hooks: elsewhere the work would be dropped without a word.
        raise RuntimeError("before_commit needs a session opened by Database.tx()")
    session.info[BEFORE_COMMIT].append(hook)


def _sqlite_pragmas(write: bool):
    def on_connect(dbapi_conn, _record):
        # Let us issue BEGIN ourselves (pysqlite's implicit transactions defer the write lock).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA busy_timeout=10000")  # first: every later statement may wait for a lock
        # Migrations leave the file in WAL already (see upgrade); switching needs an exclusive lock,
        # which another connection opening at the same moment would make fail.
        cur.execute("PRAGMA journal_mode")
        if cur.fetchone()[0].lower() != "wal":
            cur.execute("PRAGMA journal_mode=WAL")
        # WAL + NORMAL survives a process crash (kill -9) with every commit intact.
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    def on_begin(conn):
        # A writer takes the lock up front, so two writers never deadlock upgrading a read lock.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return on_connect, on_begin


class Database:
    """The engines and sessions of one database; `tx()` for work that writes, `read()` for reads."""

    def __init__(self, url: str, *, echo: bool = False, rng: random.Random | None = None):
        self.url = make_url(url)
        self.rng = rng or random.Random()
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        if self.is_sqlite:
            self.engine = self._sqlite_engine(write=True, echo=echo)
            self.read_engine = self._sqlite_engine(write=False, echo=echo)
            # One process writes through one connection at a time: waiting here is cheaper than
            # SQLite's busy-retry loop in a worker thread.
            self._write_lock: asyncio.Lock | None = asyncio.Lock()
        else:
            self.engine = create_async_engine(url, echo=echo, pool_size=10, max_overflow=20, pool_pre_ping=True)
            self.read_engine = self.engine
            self._write_lock = None
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._read_sessions = async_sessionmaker(self.read_engine, expire_on_commit=False)

    def _sqlite_engine(self, *, write: bool, echo: bool) -> AsyncEngine:
        engine = create_async_engine(
            self.url.set(drivername=f"sqlite+{sqlite_driver.DRIVER}"),
            echo=echo,
            pool_size=1 if write else 4,
            max_overflow=0,
            connect_args={"timeout": 30},
        )
        on_connect, on_begin = _sqlite_pragmas(write)
        event.listen(engine.sync_engine, "connect", on_connect)
        event.listen(engine.sync_engine, "begin", on_begin)
        return engine

    @contextlib.asynccontextmanager
    async def tx(self) -> AsyncIterator[AsyncSession]:
        """One transaction that may write: committed on success, rolled back on any error."""
        lock = self._write_lock or contextlib.nullcontext()
        async with lock:
            async with self._sessions() as session:
                session.info[RNG] = self.rng
                session.info[BEFORE_COMMIT] = []
                async with session.begin():
                    yield session
                    for hook in session.info.pop(BEFORE_COMMIT):
                        await hook(session)

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A read-only transaction (concurrent with writers on SQLite's WAL)."""
        async with self._read_sessions() as session:
            async with session.begin():
                yield session

    async def dispose(self) -> None:
        """Close every connection."""
        await self.engine.dispose()
        if self.read_engine is not self.engine:
            await self.read_engine.dispose()


def alembic_config(url: str):
    """An Alembic Config pointing at the project's migrations and the given database."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(ALEMBIC_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def _upgrade_sync(url: str, revision: str) -> None:
    from alembic import command

    command.upgrade(alembic_config(url), revision)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        # Leave the file in WAL mode, once, before any application connection opens it.
        with contextlib.closing(sqlite3.connect(parsed.database, timeout=30)) as conn:
            conn.execute("PRAGMA journal_mode=WAL")


async def upgrade(url: str, revision: str = "heads") -> None:
    """Apply migrations up to `revision` (every head by default) without blocking the event loop."""
    if make_url(url).get_backend_name() == "sqlite":
        db_path = make_url(url).database
        if db_path and db_path != ":memory:":
            Path(db_path).parent.mkdir(parents=True, exist_ok=True)
    await asyncio.to_thread(_upgrade_sync, url, revision)
