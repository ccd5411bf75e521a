"""`chorus export`: trees or messages files in the oasst format, streamed from the database.

Trees are read in id order, a couple of thousand at a time, with their messages, labels and
emojis in one query each: rows straight from the driver, no ORM objects, turned into lines by
core/oasst_render.py.

On SQLite a large export is rendered by several processes (`_export_sqlite_processes`): each reads
every n-th chunk on its own read-only connection and sends back that chunk's bytes, already
compressed for a .gz file, and a thread of this process writes them in tree order. Their read
transactions all begin while this process holds SQLite's write lock, so they share one snapshot.
A small export runs in one worker thread on one read-only connection. On PostgreSQL rows come
through asyncpg on PG_READERS connections sharing one REPEATABLE READ snapshot (exported by the
first), reading chunks in turn, and lines are built in a worker thread. In-process, a second
thread writes (and compresses) while the next chunk is read.

SQLite reads ids and times as stored and Python writes their text (SQLite's string functions cost
more than Python's slicing); label and emoji rows are keyed by rowid.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import multiprocessing
import os
import queue
import re
import sqlite3
import struct
import threading
import time
import traceback
import urllib.parse
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.db import Database
from core.errors import InvalidInput
from core.oasst_db import Raw, gc_paused
from core.oasst_format import TREE_STATES, Anonymizer, open_text
from core.oasst_render import TREE, Renderer, dash_hex

FORMATS = ("trees", "messages")
CHUNK_TREES = 2000
PROCESS_MIN_TREES = 3 * CHUNK_TREES  # below this, starting processes costs more than they save
MAX_PROCESSES = 4
GZIP_LEVEL = 6  # as open_text: nearly the size of 9 at a fraction of the time
PG_READERS = 2  # PostgreSQL connections reading chunks at once, on one snapshot


@dataclass(frozen=True)
class ExportOptions:
    """What to export: the format, which trees and messages, events, and anonymisation."""

    format: str = "trees"
    state: str = "ready_for_export"  # a tree state, or "all"
    lang: str | None = None
    include_deleted: bool = False
    include_spam: bool = False  # messages rejected in review
    include_synthetic: bool = False
    events: bool = False
    anonymize: str | None = None  # the seed

    def check(self) -> None:
        """Refuse options that cannot mean anything, with a sentence saying why."""
        if self.format not in FORMATS:
            raise InvalidInput(f"--format must be trees or messages, not '{self.format}'.")
        if self.state != "all" and self.state not in TREE_STATES:
            raise InvalidInput(f"'{self.state}' is not a tree state. Use all or one of: {', '.join(sorted(TREE_STATES))}.")
        if self.anonymize is not None and not self.anonymize.strip():
            raise InvalidInput("--anonymize needs a seed (any text you keep secret).")


@dataclass
class ExportReport:
    """What was written."""

    path: str
    trees: int = 0
    messages: int = 0
    seconds: float = 0.0


# Each person's reactions and ballots, per tree; {ids} is the list of tree ids, {u}/{j} wrap id and JSON columns.
_REACTIONS_SQL = ("SELECT {u[r.message_id]}, {u[r.user_id]}, r.emoji FROM reactions r "
                  "JOIN messages m ON m.id = r.message_id WHERE m.tree_id IN {{ids}} ORDER BY r.id")  # fmt: skip
_BALLOTS_SQL = ("SELECT {u[b.parent_id]}, {u[b.user_id]}, {j[b.ranking]}, b.not_rankable, {j[t.payload]}, {u[m.tree_id]} "
                "FROM ballots b JOIN messages m ON m.id = b.parent_id LEFT JOIN tasks t ON t.id = b.task_id "
                "WHERE m.tree_id IN {{ids}} ORDER BY b.id")  # fmt: skip


def _events(reactions: list, ballots: list) -> dict[str, dict]:
    """Events per message: emojis on the message reacted to, ballots on the ranked parent."""
    out: dict[str, dict] = {}
    for mid, uid, emoji in reactions:
        out.setdefault(mid, {}).setdefault("emoji", []).append({"user_id": uid, "emoji": emoji})
    for pid, uid, ranking, not_rankable, payload, tid in ballots:
        order = json.loads(ranking)
        shown = (json.loads(payload) or {}).get("candidates") if payload else None
        shown = shown if shown and sorted(shown) == sorted(order) else order
        out.setdefault(pid, {}).setdefault("ranking", []).append({
            "user_id": uid, "ranking": [shown.index(c) for c in order], "ranked_message_ids": shown,
            "ranking_parent_id": pid, "message_tree_id": tid, "not_rankable": bool(not_rankable),
        })  # fmt: skip
    return out


class _Columns:
    """Column expressions by name: `{u[col]}` an id as canonical text, `{j[col]}` JSON as text."""

    def __init__(self, wrap):
        self.wrap = wrap

    def __getitem__(self, column: str) -> str:
        return self.wrap(column)


def _queries(pg: bool) -> dict[str, str]:
    """The per-chunk queries in the dialect. Message rows hold ids and times as stored on SQLite
    (32 hex digits, "2023-02-12 19:06:16.233571"): turned into text in Python when written, which
    costs less than SQLite's string functions. Label and emoji rows come keyed as the message rows'
    KEY column (the rowid on SQLite: no id text to build per row); emoji rows grouped by message.
    A message's labels are one row, the labels object's text as stored (core/label_means.py)."""
    raw = Raw(None, "postgresql" if pg else "sqlite")
    u, j = raw.uid_sql, raw.json_sql
    cols = {"u": _Columns(u), "j": _Columns(j)}
    key, order = (u("m.id"), "m.id") if pg else ("m.rowid", "m.tree_id, m.rowid")
    # On SQLite the ORDER BY is the order the tree_id index delivers: no sort.
    return {
        "messages": (f"SELECT {u('m.id')}, {u('m.tree_id')}, {u('m.parent_id')}, {u('m.user_id')}, m.created_at, m.text, "
                     f"m.role, m.lang, m.review_count, m.review_result, m.deleted, m.rank, m.synthetic, m.model_name, "
                     f"{j('m.detoxify')}, {j('m.extra')}, {key} FROM messages m WHERE m.tree_id IN {{ids}}"),
        "labels": f"SELECT {key}, l.labels FROM label_means l JOIN messages m ON m.id = l.message_id WHERE m.tree_id IN {{ids}}",
        "emojis": (f"SELECT {key}, e.emoji, e.count FROM emoji_counts e JOIN messages m ON m.id = e.message_id "
                   f"WHERE m.tree_id IN {{ids}} AND e.count > 0 ORDER BY {order}, e.emoji"),
        "reactions": _REACTIONS_SQL.format(**cols),
        "ballots": _BALLOTS_SQL.format(**cols),
    }  # fmt: skip


def _where(opts: ExportOptions, ph) -> tuple[str, list]:
    """The trees filter: SQL and parameters (`ph(i)` the i-th placeholder)."""
    where, params = [], []
    if opts.state != "all":
        params.append(opts.state)
        where.append(f"state = {ph(len(params))}")
    if opts.lang:
        params.append(opts.lang)
        where.append(f"lang = {ph(len(params))}")
    return " AND ".join(where) or "1=1", params


class _Chunks:
    """Renders chunks of trees into text; one per export (or per process), for its caches."""

    def __init__(self, opts: ExportOptions, pg: bool):
        self.opts = opts
        anon = Anonymizer(opts.anonymize) if opts.anonymize else None
        raw = Raw(None, "postgresql" if pg else "sqlite")
        self.dash = str if pg else dash_hex  # ids come as canonical text from PostgreSQL
        self.render = Renderer(opts.format, opts.include_deleted, opts.include_spam, opts.include_synthetic, anon,
                               self.dash, raw.iso)  # fmt: skip

    def text(self, trees: list, messages: list, labels: list, emojis: list, events: dict) -> tuple[str, int, int]:
        """One chunk's lines from its rows, and how many trees and messages they hold.

        trees: (canonical id, state, origin, id as the message rows' tree_id); events: keyed by
        canonical message id."""
        by_tree: dict[str, list] = {}
        for m in messages:
            by_tree.setdefault(m[TREE], []).append(m)
        texts = self.render.grouped(labels, emojis)
        out: list[str] = []
        n_trees = n_messages = 0
        for tid, state, origin, group in trees:
            lines, n = self.render.tree(tid, state, origin, by_tree.get(group, ()), texts, events)
            if lines:
                out += lines
                n_trees += 1
                n_messages += n
        return "".join(out), n_trees, n_messages


class _LineWriter:
    """Writes (and compresses) in its own thread: zlib and file writes release the GIL."""

    def __init__(self, out):
        self.out, self.error = out, None
        self.queue: queue.Queue = queue.Queue(maxsize=2)
        self.thread = threading.Thread(target=self._run, name="oasst-export-writer", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while (text := self.queue.get()) is not None:
            if self.error is None:
                try:
                    self.out.write(text)
                except BaseException as exc:  # noqa: BLE001 - raised on the producing side
                    self.error = exc

    def put(self, text) -> None:
        if self.error is not None:
            raise self.error
        if text:
            self.queue.put(text)

    def close(self) -> None:
        """Wait for everything to be written; the writer's error, if any, is raised."""
        if self.thread.is_alive():
            self.queue.put(None)
            self.thread.join()
        if self.error is not None:
            raise self.error


# --- SQLite -------------------------------------------------------------------------------------


def _sqlite_read(db_path: str) -> sqlite3.Connection:
    uri = f"file:{urllib.parse.quote(db_path)}?mode=ro"
    conn = sqlite3.connect(uri, uri=True, check_same_thread=False, timeout=30, isolation_level=None)
    conn.execute("PRAGMA cache_size = -65536")
    conn.execute("PRAGMA mmap_size = 1073741824")  # pages read in place, not copied: reads ~15 % faster
    return conn


def _sqlite_chunk(conn: sqlite3.Connection, chunks: _Chunks, queries: dict, keys: list) -> tuple[list, list, list, dict]:
    """The rows of one chunk of trees (`keys`: their stored ids): messages, labels, emojis, events."""
    ids = "(" + ",".join("?" * len(keys)) + ")"
    rows = {k: conn.execute(queries[k].format(ids=ids), keys).fetchall() for k in ("messages", "labels", "emojis")}
    events = {}
    if chunks.opts.events:
        reactions, ballots = (conn.execute(queries[k].format(ids=ids), keys).fetchall() for k in ("reactions", "ballots"))
        d = dash_hex  # ids as stored: canonical here, few rows
        reactions = [(d(mid), None if uid is None else d(uid), emoji) for mid, uid, emoji in reactions]
        ballots = [(d(pid), None if uid is None else d(uid), *rest, d(tid)) for pid, uid, *rest, tid in ballots]
        events = _events(reactions, ballots)
    return rows["messages"], rows["labels"], rows["emojis"], events


def _sqlite_trees(conn: sqlite3.Connection, opts: ExportOptions) -> list[tuple]:
    """Every tree the export takes: (stored id, state, origin), in id order."""
    cond, params = _where(opts, lambda i: "?")
    return conn.execute(f"SELECT id, state, origin FROM trees WHERE {cond} ORDER BY id", params).fetchall()


def _sqlite_part(conn: sqlite3.Connection, chunks: _Chunks, queries: dict, part: list) -> tuple[str, int, int]:
    """One chunk of trees (rows of _sqlite_trees) read and rendered."""
    rows = _sqlite_chunk(conn, chunks, queries, [t[0] for t in part])
    return chunks.text([(dash_hex(t[0]), t[1], t[2], t[0]) for t in part], *rows)


def _export_sqlite(db_path: str, opts: ExportOptions, out, report: ExportReport, tick) -> None:
    """The whole export on SQLite in this worker thread, from one read snapshot."""
    conn = _sqlite_read(db_path)
    writer = _LineWriter(out)
    try:
        conn.execute("BEGIN")  # with the first read, one snapshot for the whole file
        trees = _sqlite_trees(conn, opts)
        chunks, queries = _Chunks(opts, pg=False), _queries(pg=False)
        for start in range(0, len(trees), CHUNK_TREES):
            part = trees[start : start + CHUNK_TREES]
            text, n_trees, n_messages = _sqlite_part(conn, chunks, queries, part)
            writer.put(text)
            report.trees += n_trees
            report.messages += n_messages
            tick(start + len(part), len(trees))
        conn.execute("COMMIT")
    finally:
        conn.close()
        writer.close()


def _gzip_header(path: str | Path) -> bytes:
    """A gzip member header as Python's gzip module writes it (file name without .gz, this time)."""
    name = os.path.basename(str(path))
    name = name[:-3] if name.endswith(".gz") else name
    try:
        fname = name.encode("latin-1") + b"\0"
    except UnicodeEncodeError:
        fname = b""
    flags = 8 if fname else 0
    return b"\037\213\010" + bytes([flags]) + struct.pack("<I", int(time.time())) + b"\000\377" + fname


_CRC_POLY = 0xEDB88320  # CRC-32 (gzip), bit-reflected


def _crc_mul(a: int, b: int) -> int:
    """a·b modulo the CRC polynomial, both in the reflected bit order (x^0 is the top bit)."""
    product = 0
    for _ in range(32):
        if a & 0x80000000:
            product ^= b
        a = (a << 1) & 0xFFFFFFFF
        b = (b >> 1) ^ _CRC_POLY if b & 1 else b >> 1
    return product


_X_POW2 = [0x40000000]  # x^(2^k) mod p: x^1, x^2, x^4, ...
for _ in range(63):
    _X_POW2.append(_crc_mul(_X_POW2[-1], _X_POW2[-1]))


def crc32_combine(crc1: int, crc2: int, len2: int) -> int:
    """The CRC-32 of A+B from crc32(A), crc32(B) and len(B): crc32(A) shifted by len(B) zero bytes
    (a multiplication by x^(8·len2)) plus crc32(B)."""
    shift, n, k = 0x80000000, len2, 3  # x^0; then x^(8·len2) = product of x^(2^k) for the bits of len2, k from 3
    while n:
        if n & 1:
            shift = _crc_mul(_X_POW2[k], shift)
        n >>= 1
        k += 1
    return _crc_mul(shift, crc1) ^ crc2


def _sqlite_worker(db_path: str, opts: ExportOptions, index: int, count: int, size: int, gz: bool, conn) -> None:
    """One rendering process: waits for "go", opens its snapshot, says "ready", then renders every
    `count`-th chunk of `size` trees from chunk `index` and sends each as (header, bytes)."""
    gc.disable()  # as gc_paused: rows and strings are acyclic, and the process ends with the export
    db = None
    try:
        db = _sqlite_read(db_path)
        conn.recv()  # "go": the parent holds the write lock until every process has read once
        db.execute("BEGIN")
        trees = _sqlite_trees(db, opts)  # the first read: this process's snapshot starts here
        conn.send(("ready", len(trees)))
        chunks, queries = _Chunks(opts, pg=False), _queries(pg=False)
        for start in range(index * size, len(trees), count * size):
            part = trees[start : start + size]
            text, n_trees, n_messages = _sqlite_part(db, chunks, queries, part)
            data = text.encode()
            crc, length = zlib.crc32(data), len(data)
            if gz:
                # A raw deflate stream of its own, ended by a sync flush (byte-aligned, not final):
                # the parent joins the chunks into one gzip member.
                z = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
                data = z.compress(data) + z.flush(zlib.Z_SYNC_FLUSH)
            conn.send(("chunk", n_trees, n_messages, crc, length))
            conn.send_bytes(data)
        db.execute("COMMIT")
    except (EOFError, BrokenPipeError):
        pass  # the parent gave up: nothing to say
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which raises it
        try:
            conn.send(("error", exc, traceback.format_exc()))
        except Exception:  # noqa: BLE001 - an exception that cannot be pickled
            conn.send(("error", None, traceback.format_exc()))
    finally:
        if db is not None:
            db.close()
        conn.close()


def _processes(n_trees: int) -> int:
    """How many rendering processes an export of n_trees trees gets on SQLite (0: none, in-thread)."""
    if n_trees < PROCESS_MIN_TREES or os.linesep != "\n":  # the processes write bytes: no newline translation
        return 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return min(MAX_PROCESSES, cores, -(-n_trees // CHUNK_TREES)) if cores > 1 else 0


def _export_sqlite_processes(db_path: str, opts: ExportOptions, path: Path, n: int, report: ExportReport, tick) -> bool:
    """The export on SQLite rendered by n processes; False (nothing written) when the write lock,
    which makes their snapshots one, cannot be had (a read-only file): the caller exports in-thread."""
    try:
        lock = sqlite3.connect(db_path, timeout=30, isolation_level=None, check_same_thread=False)
    except sqlite3.Error:
        return False
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload([__name__])  # forked renderers start with this module imported
    gz, size = str(path).endswith(".gz"), CHUNK_TREES
    pipes, procs = [], []
    ok = False
    try:
        for i in range(n):
            parent_end, child_end = ctx.Pipe()
            proc = ctx.Process(target=_sqlite_worker, args=(db_path, opts, i, n, size, gz, child_end),
                               name=f"oasst-export-{i}", daemon=True)  # fmt: skip
            proc.start()
            child_end.close()
            pipes.append(parent_end)
            procs.append(proc)
        # No commit between the processes' first reads: they all see the same database.
        try:
            lock.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:
            if lock.in_transaction:
                raise
            return False  # read-only: and so the in-thread export, whose one connection needs no lock
        try:
            for p in pipes:
                p.send("go")
            totals = {_recv(p)[1] for p in pipes}
        except (OSError, RuntimeError):
            return False  # a process could not start (say, a __main__ it cannot import): nothing written yet
        finally:
            lock.execute("ROLLBACK")
        total = totals.pop()
        assert not totals, "the rendering processes saw different trees"
        with open(path, "wb") as out:
            crc = length = 0  # of the uncompressed text, for the gzip trailer
            if gz:
                out.write(_gzip_header(path))
            done = 0
            for i in range(-(-total // size)):
                p = pipes[i % n]
                _, n_trees, n_messages, chunk_crc, chunk_size = _recv(p)
                data = _recv_bytes(p)
                out.write(data)
                crc, length = crc32_combine(crc, chunk_crc, chunk_size), length + chunk_size
                report.trees += n_trees
                report.messages += n_messages
                done = min(done + size, total)
                tick(done, total)
            if gz:
                out.write(b"\003\000")  # an empty final block ends the deflate stream
                out.write(struct.pack("<II", crc, length & 0xFFFFFFFF))
        ok = True
        return True
    finally:
        lock.close()
        for p in pipes:
            p.close()
        for proc in procs:
            if not ok:
                proc.kill()  # our own children: nothing they hold is needed any more
            proc.join()


def _recv(pipe) -> tuple:
    """The next message from a rendering process; its error raised here."""
    try:
        msg = pipe.recv()
    except (EOFError, OSError):
        raise RuntimeError("an export process ended unexpectedly") from None
    if msg[0] == "error":
        _, exc, trace = msg
        if exc is not None:
            raise exc
        raise RuntimeError(f"an export process failed:\n{trace}")
    return msg


def _recv_bytes(pipe) -> bytes:
    try:
        return pipe.recv_bytes()
    except (EOFError, OSError):
        raise RuntimeError("an export process ended unexpectedly") from None


# --- PostgreSQL ---------------------------------------------------------------------------------


async def _export_async(raws: list[Raw], opts: ExportOptions, writer: _LineWriter, report: ExportReport, tick) -> None:
    """The export through the async driver (PostgreSQL), on one or more connections that share one
    snapshot: chunk i is read on connection i mod n while earlier chunks are rendered in a thread,
    so the server reads on as many cores as connections."""
    raw = raws[0]
    cond, params = _where(opts, raw.ph)
    trees = await raw.fetch(f"SELECT {raw.uid_sql('id')}, state, origin, id FROM trees WHERE {cond} ORDER BY trees.id", params)
    q = _queries(pg=True)
    chunks = _Chunks(opts, pg=True)
    kinds = ("messages", "labels", "emojis", *(("reactions", "ballots") if opts.events else ()))

    async def page(conn: Raw, part: list) -> dict:
        keys = [t[3] for t in part]
        return {k: await conn.fetch_in(q[k], keys) for k in kinds}

    def render(part: list, rows: dict) -> None:
        events = _events(rows.get("reactions", []), rows.get("ballots", []))
        text, n_trees, n_messages = chunks.text([(t[0], t[1], t[2], t[0]) for t in part], rows["messages"], rows["labels"],
                                                rows["emojis"], events)  # fmt: skip
        writer.put(text)
        report.trees += n_trees
        report.messages += n_messages

    parts = [trees[i : i + CHUNK_TREES] for i in range(0, len(trees), CHUNK_TREES)]
    reading = [asyncio.ensure_future(page(raws[i], parts[i])) for i in range(min(len(raws), len(parts)))]
    try:
        for i, part in enumerate(parts):
            rows = await reading.pop(0)
            if i + len(raws) < len(parts):  # this chunk's connection is free again: it reads ahead
                reading.append(asyncio.ensure_future(page(raws[i % len(raws)], parts[i + len(raws)])))
            await asyncio.to_thread(render, part, rows)
            tick(min((i + 1) * CHUNK_TREES, len(trees)), len(trees))
    finally:
        for f in reading:
            f.cancel()  # never left running on an error
        await asyncio.gather(*reading, return_exceptions=True)


async def _pg_readers(db: Database, first, stack: contextlib.AsyncExitStack) -> list[Raw]:
    """The export's connections on PostgreSQL: `first` (its REPEATABLE READ transaction begun) and
    PG_READERS - 1 more importing its snapshot, when the server can export one."""
    raw = await Raw.of(first)
    await raw.execute("SET LOCAL work_mem = '32MB'")  # a chunk's rows sorted in memory, not on disk
    snapshot = (await raw.fetch("SELECT CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_export_snapshot() END"))[0][0]
    raws = [raw]
    if snapshot is None or not re.fullmatch(r"[0-9A-Fa-f-]+", snapshot):
        return raws
    for _ in range(PG_READERS - 1):
        conn = await stack.enter_async_context(db.read_engine.connect())
        conn = await conn.execution_options(isolation_level="REPEATABLE READ")
        await stack.enter_async_context(conn.begin())
        # The first statement of its transaction: it sees exactly what the first connection sees.
        await conn.exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
        raws.append(await Raw.of(conn))
        await raws[-1].execute("SET LOCAL work_mem = '32MB'")
    return raws


# --- the entry point ----------------------------------------------------------------------------


async def export(
    db: Database, path: str | Path, opts: ExportOptions = ExportOptions(), *, progress: Callable[[int, int], None] | None = None,
    processes: int | None = None,
) -> ExportReport:  # fmt: skip
    """Write the chosen trees to a trees or messages file (.gz compresses), streaming.

    `processes`: on SQLite, how many rendering processes (None: by the export's size and the
    cores; 0: in this process)."""
    opts.check()
    started = time.perf_counter()
    report = ExportReport(str(path))
    loop = asyncio.get_running_loop()
    with gc_paused():
        if db.is_sqlite:
            tick = (lambda d, t: loop.call_soon_threadsafe(progress, d, t)) if progress else (lambda d, t: None)
            await asyncio.to_thread(_sqlite_export, db.url.database, opts, Path(path), processes, report, tick)
        else:
            out = await asyncio.to_thread(open_text, path, "w")
            try:
                async with contextlib.AsyncExitStack() as stack:
                    # One snapshot for the whole file, however long it takes.
                    conn = await stack.enter_async_context(db.read_engine.connect())
                    conn = await conn.execution_options(isolation_level="REPEATABLE READ")
                    await stack.enter_async_context(conn.begin())
                    raws = await _pg_readers(db, conn, stack)
                    writer = _LineWriter(out)
                    try:
                        await _export_async(raws, opts, writer, report, progress or (lambda d, t: None))
                    finally:
                        await asyncio.to_thread(writer.close)
            finally:
                await asyncio.to_thread(out.close)
    report.seconds = time.perf_counter() - started
    return report


def _sqlite_export(db_path: str, opts: ExportOptions, path: Path, processes: int | None, report: ExportReport, tick) -> None:
    """The SQLite export, in a worker thread: in processes when it is large enough, else here."""
    if processes is None:
        conn = _sqlite_read(db_path)
        try:
            cond, params = _where(opts, lambda i: "?")
            processes = _processes(conn.execute(f"SELECT count(*) FROM trees WHERE {cond}", params).fetchone()[0])
        finally:
            conn.close()
    if processes > 0 and _export_sqlite_processes(db_path, opts, path, processes, report, tick):
        return
    out = open_text(path, "w")
    try:
        _export_sqlite(db_path, opts, out, report, tick)
    finally:
        out.close()
