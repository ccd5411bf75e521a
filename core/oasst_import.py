"""`chorus import`: oasst trees and messages files (plain or .gz) into the database, in bulk.

A file is one transaction: every line is checked, and if any is malformed nothing of the file is
kept and each bad line is reported with its number. Rows that already exist (by message id, tree
id, user id) are left as they are, so importing a file again changes nothing.
"""

from __future__ import annotations

import asyncio
import gc
import gzip
import io
import multiprocessing
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path

import asyncpg
from sqlalchemy import text as text_sql

from core.db import Database
from core.errors import InvalidInput
from core.oasst_db import PgBulk, Raw, RawText, SqliteBulk, gc_paused
from core.oasst_rows import (  # noqa: F401 - ImportFailed and ImportReport are part of this module's API
    ImportFailed,
    Importer,
    ImportReport,
    Rows,
)

CHUNK_BYTES = 4 << 20  # lines read and parsed per step, off the event loop
# Files at least this large (as stored) are parsed in a separate process: parsing and writing
# then use two cores instead of taking turns on one GIL. Smaller files would not repay the
# process's start. On PostgreSQL it is also the size from which an import into an empty
# database defers constraints and indexes (PgBulk.defer).
PROCESS_MIN_BYTES = 8 << 20


def _open(path: Path) -> tuple[io.BufferedReader, io.TextIOWrapper]:
    raw = open(path, "rb")
    stream = gzip.GzipFile(fileobj=raw) if path.name.endswith(".gz") else raw
    return raw, io.TextIOWrapper(stream, encoding="utf-8")


async def import_file(
    db: Database, path: str | Path, *, progress: Callable[[int, int], None] | None = None, batch: int = 5000,
    parse_process: bool | None = None, defer_constraints: bool | None = None,
) -> ImportReport:
    """Import one oasst trees or messages file in one transaction; ImportFailed lists bad lines.

    `parse_process`: parse in a separate process (None: for files of PROCESS_MIN_BYTES or more).
    `defer_constraints`: on PostgreSQL, into an empty messages table, drop the foreign keys and
    indexes of the tables loaded in bulk and restore them at the end (None: for files of
    PROCESS_MIN_BYTES or more; see PgBulk.defer).
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"{path}: no such file.")
    started = time.perf_counter()
    report = ImportReport(str(path))
    raw_file, text = await asyncio.to_thread(_open, path)
    reader = _Reader(path, raw_file, text, progress)
    if parse_process is None:
        parse_process = reader.size >= PROCESS_MIN_BYTES
    try:
        with gc_paused():
            if db.is_sqlite:
                # The process's write lock, held while a worker thread writes on its own connection
                # (this session never touches the database, so it takes no connection of its own).
                async with db.tx():
                    loop = asyncio.get_running_loop()
                    reader.progress = progress and (lambda done, size: loop.call_soon_threadsafe(progress, done, size))
                    run = _import_sqlite_process if parse_process else _import_sqlite
                    await asyncio.to_thread(run, db.url.database, reader, Importer(Raw(None, "sqlite"), report, batch))
            else:
                async with db.tx() as s:
                    raw = await Raw.of(s)
                    bulk = PgBulk(RawText(raw.drv, "postgresql"))
                    defer = reader.size >= PROCESS_MIN_BYTES if defer_constraints is None else defer_constraints
                    if defer:
                        await bulk.defer()
                    imp = Importer(bulk.raw, report, batch)
                    await (_import_pg_process if parse_process else _import_async)(reader, imp, bulk)
                    await bulk.finish()
    finally:
        text.close()
    if report.messages:
        await refresh_statistics(db)
    report.seconds = time.perf_counter() - started
    return report


async def refresh_statistics(db: Database) -> None:
    """Update the planner's statistics after a bulk load.

    Without them PostgreSQL plans the task engine's queries for empty tables until autovacuum
    comes by: measured at oasst1 size, 14 task round trips/s before and sub-millisecond queries after.
    """
    async with db.tx() as s:
        if db.is_sqlite:
            await s.execute(text_sql("PRAGMA optimize"))
        else:
            await s.execute(text_sql("ANALYZE trees, messages, label_means, emoji_counts, users, identities"))


class _Reader:
    """A file's lines in chunks, with its progress."""

    def __init__(self, path: Path, raw_file, text: io.TextIOWrapper, progress):
        self.path, self.raw_file, self.text, self.progress = path, raw_file, text, progress
        self.size = path.stat().st_size
        self.lineno = 1

    def chunk(self) -> tuple[list[str], int]:
        """The next lines (empty at the end) and the number of the first."""
        try:
            lines = self.text.readlines(CHUNK_BYTES)
        except (UnicodeDecodeError, OSError, EOFError) as exc:
            raise InvalidInput(f"{self.path}: cannot be read ({exc}); nothing was imported.") from None
        first, self.lineno = self.lineno, self.lineno + len(lines)
        return lines, first

    def tick(self) -> None:
        if self.progress:
            self.progress(self.raw_file.tell(), self.size)


def _import_sqlite(db_path: str, reader: _Reader, imp: Importer) -> None:
    """The whole import on SQLite, in worker threads: this one reads and parses, another writes."""
    bulk = SqliteBulk(db_path)
    bulk.defer_indexes(("trees", "messages"))
    writer = _Writer(lambda rows: imp.write_sync(bulk, rows))
    ok = False
    try:
        while True:
            lines, first = reader.chunk()
            if not lines:
                break
            imp.parse(lines, first)
            writer.put(imp.take())  # the writer inserts this batch while the next is parsed
            reader.tick()
        writer.close()
        imp.assemble_loose(*_stored_parents(bulk, imp, *imp.loose_needs()))
        if imp.error_count:
            raise ImportFailed(str(reader.path), imp.errors, imp.error_count)
        imp.write_sync(bulk, imp.take(force=True))
        ok = True
    finally:
        writer.close(discard=not ok)
        bulk.finish(commit=ok)


def _stored_parents(bulk: SqliteBulk, imp: Importer, parents: list[str], trees: list[str]) -> tuple[dict, set]:
    """For a messages file: the stored parents (id -> role, depth, tree) and trees it refers to."""
    known = {Raw.dashed(mid): (role, depth, Raw.dashed(tid)) for mid, role, depth, tid in bulk.fetch_in(
        "SELECT id, role, depth, tree_id FROM messages WHERE id IN {ids}", [imp.raw.uid(p) for p in parents])}
    stored = {Raw.dashed(t) for (t,) in bulk.fetch_in("SELECT id FROM trees WHERE id IN {ids}", [imp.raw.uid(t) for t in trees])}
    return known, stored


def _received(imp: Importer, body: tuple) -> tuple:
    """A batch from the parsing process: its counts and errors taken over; (rows, bytes read)."""
    rows, counts, imp.errors, imp.error_count, done = body
    r = imp.report
    r.trees, r.messages, r.labels, r.emojis = counts
    return rows, done


def _start_parser(reader: _Reader, imp: Importer, dialect: str):
    """Start the parsing process for a file; returns this end of its pipe and the process."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload([__name__])  # forked parsers start with this module imported
    conn, child_conn = ctx.Pipe()
    proc = ctx.Process(target=_parse_file, args=(str(reader.path), imp.batch, child_conn, dialect),
                       name="oasst-import-parser", daemon=True)  # fmt: skip
    proc.start()
    child_conn.close()
    return conn, proc


def _import_sqlite_process(db_path: str, reader: _Reader, imp: Importer) -> None:
    """The import on SQLite with reading and parsing in a separate process (its own GIL, its own
    core): this thread receives ready-to-insert rows, pickled, and another writes them. The
    process keeps the importer's state (ids seen, errors), so it behaves as _import_sqlite."""
    conn, proc = _start_parser(reader, imp, "sqlite")
    bulk = SqliteBulk(db_path)
    writer = _Writer(lambda rows: imp.write_sync(bulk, rows))
    ok = False
    try:
        bulk.defer_indexes(("trees", "messages"))
        while True:
            kind, body = conn.recv()
            if kind == "invalid":
                raise InvalidInput(body)
            if kind == "needs":  # the file is parsed; a messages file's parents may be stored
                writer.close()
                conn.send(_stored_parents(bulk, imp, *body))
                continue
            rows, done = _received(imp, body)
            if kind == "end":
                break
            writer.put(rows)  # None once a line was malformed
            if reader.progress:
                reader.progress(done, reader.size)
        if imp.error_count:
            raise ImportFailed(str(reader.path), imp.errors, imp.error_count)
        imp.write_sync(bulk, rows)
        ok = True
    except EOFError:
        raise InvalidInput(f"{reader.path}: the parsing process ended unexpectedly; nothing was imported.") from None
    finally:
        conn.close()
        if ok:
            proc.join()
        else:
            proc.kill()  # our own child: nothing it holds is needed any more
            proc.join()
        writer.close(discard=not ok)
        bulk.finish(commit=ok)


def _parse_file(path: str, batch: int, conn, dialect: str = "sqlite") -> None:
    """The parsing process: reads the file, sends rows batch by batch, then the messages file's needs."""
    gc.disable()  # as gc_paused: the objects are acyclic, and the process ends with the file
    imp = Importer(RawText(None, dialect), ImportReport(path), batch)
    raw_file, text = _open(Path(path))
    reader = _Reader(Path(path), raw_file, text, None)

    def state(rows: Rows | None) -> tuple:
        r = imp.report
        return rows and rows.flatten(), (r.trees, r.messages, r.labels, r.emojis), imp.errors, imp.error_count, raw_file.tell()

    try:
        while True:
            lines, first = reader.chunk()
            if not lines:
                break
            imp.parse(lines, first)
            conn.send(("rows", state(imp.take())))
        conn.send(("needs", imp.loose_needs()))
        imp.assemble_loose(*conn.recv())
        conn.send(("end", state(imp.take(force=True))))
    except InvalidInput as exc:
        conn.send(("invalid", exc.message))
    except (EOFError, BrokenPipeError):
        pass  # the importer gave up: nothing to say
    finally:
        text.close()
        conn.close()


class _Writer:
    """One thread applying `write` to batches in order; its error is raised on the next put or close."""

    def __init__(self, write: Callable[[Rows], None]):
        self.write, self.error = write, None
        self.queue: queue.Queue = queue.Queue(maxsize=1)
        self.thread = threading.Thread(target=self._run, name="oasst-import-writer", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while (rows := self.queue.get()) is not None:
            if self.error is None:
                try:
                    self.write(rows)
                except BaseException as exc:  # noqa: BLE001 - handed to the reading thread
                    self.error = exc

    def put(self, rows: Rows | None) -> None:
        if self.error is not None:
            raise self.error
        if rows is not None:
            self.queue.put(rows)

    def close(self, discard: bool = False) -> None:
        """Wait for every batch to be written (or skipped, when discarding after an error)."""
        if self.thread.is_alive():
            if discard:
                self.error = self.error or InvalidInput("import abandoned")
            self.queue.put(None)
            self.thread.join()
        if self.error is not None and not discard:
            raise self.error


async def _import_async(reader: _Reader, imp: Importer, bulk: PgBulk) -> None:
    """The import through the async driver (PostgreSQL): parsing in a thread while the last batch is written."""
    writing: asyncio.Future | None = None
    try:
        while True:
            lines, first = await asyncio.to_thread(reader.chunk)
            if not lines:
                break
            await asyncio.to_thread(imp.parse, lines, first)
            if writing is not None:
                await writing
            writing = asyncio.ensure_future(_write_pg(bulk, imp, imp.take()))
            reader.tick()
        if writing is not None:
            await writing
        imp.assemble_loose(*await _stored_parents_pg(imp.raw, *imp.loose_needs()))
        if imp.error_count:
            raise ImportFailed(str(reader.path), imp.errors, imp.error_count)  # rolls the transaction back
        await _write_pg(bulk, imp, imp.take(force=True))
    finally:
        if writing is not None and not writing.done():  # an error mid-file: the batch ends first
            writing.cancel()
            await asyncio.gather(writing, return_exceptions=True)


async def _import_pg_process(reader: _Reader, imp: Importer, bulk: PgBulk) -> None:
    """The import on PostgreSQL with reading and parsing in a separate process, as on SQLite:
    this process only unpickles rows (in a thread) and copies them while the next batch is parsed."""
    conn, proc = _start_parser(reader, imp, "postgresql")
    writing: asyncio.Future | None = None
    ok = False
    try:
        while True:
            kind, body = await asyncio.to_thread(conn.recv)
            if kind == "invalid":
                raise InvalidInput(body)
            if kind == "needs":  # the file is parsed; a messages file's parents may be stored
                if writing is not None:
                    await writing
                    writing = None
                needs = await _stored_parents_pg(imp.raw, *body)
                await asyncio.to_thread(conn.send, needs)
                continue
            rows, done = _received(imp, body)
            if kind == "end":
                break
            if writing is not None:
                await writing
            writing = asyncio.ensure_future(_write_pg(bulk, imp, rows))  # None once a line was malformed
            if reader.progress:
                reader.progress(done, reader.size)
        if writing is not None:
            await writing
        if imp.error_count:
            raise ImportFailed(str(reader.path), imp.errors, imp.error_count)
        await _write_pg(bulk, imp, rows)
        ok = True
    except EOFError:
        raise InvalidInput(f"{reader.path}: the parsing process ended unexpectedly; nothing was imported.") from None
    finally:
        conn.close()
        if not ok:
            proc.kill()  # our own child: nothing it holds is needed any more
        await asyncio.to_thread(proc.join)
        if writing is not None and not writing.done():
            writing.cancel()
            await asyncio.gather(writing, return_exceptions=True)


async def _stored_parents_pg(raw: Raw, parents: list[str], trees: list[str]) -> tuple[dict, set]:
    """For a messages file: the stored parents (id -> role, depth, tree) and trees it refers to."""
    u = raw.uid_sql
    known = {str(mid): (role, depth, str(tid)) for mid, role, depth, tid in await raw.fetch_in(
        f"SELECT {u('id')}, role, depth, {u('tree_id')} FROM messages WHERE id IN {{ids}}", [raw.uid(p) for p in parents])}
    stored = {str(t) for (t,) in await raw.fetch_in(f"SELECT {u('id')} FROM trees WHERE id IN {{ids}}", [raw.uid(t) for t in trees])}
    return known, stored


async def _write_pg(bulk: PgBulk, imp: Importer, r: Rows | None) -> None:
    """Insert a batch on PostgreSQL: COPY straight into the tables when none of its trees and
    messages is stored yet, else (or when a concurrent import got there first) the upsert."""
    if r is None:
        return
    report, raw = imp.report, imp.raw
    tables = []
    for table, cols, rows, counter in imp.batches(r):
        if r.flat:  # from the parsing process: values row after row
            rows = list(zip(*[iter(rows)] * len(cols)))
        tables.append((table, cols, rows, counter))
    for table, cols, rows, counter in tables[:2]:  # users and identities: few, and often stored already
        new = await raw.insert_new(table, cols, rows)
        if counter:
            setattr(report, counter, getattr(report, counter) + new)
    rest = tables[2:]
    trees, messages = rest[0][2], rest[1][2]
    if not await bulk.stored_any([t[0] for t in trees], [m[0] for m in messages]):
        # A savepoint: a concurrent import may store the same ids between the check and the copy.
        await raw.drv.execute("SAVEPOINT oasst_copy")
        try:
            counts = [await bulk.copy(table, cols, rows) for table, cols, rows, _ in rest]
        except asyncpg.UniqueViolationError:
            await raw.drv.execute("ROLLBACK TO SAVEPOINT oasst_copy")
        else:
            await raw.drv.execute("RELEASE SAVEPOINT oasst_copy")
            for (_, _, _, counter), n in zip(rest, counts, strict=True):
                if counter:
                    setattr(report, counter, getattr(report, counter) + n)
            return
    for table, cols, rows, counter in rest:
        new = await raw.insert_new(table, cols, rows)
        if counter:
            setattr(report, counter, getattr(report, counter) + new)
