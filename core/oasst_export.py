"""`chorus export`: trees or messages files in the oasst format, streamed from the database.

Trees are read in id order, a couple of thousand at a time, with their messages, labels and
emojis in one query each: rows straight from the driver, no ORM objects, turned into lines by
core/oasst_render.py.

On SQLite a large export is rendered by several processes (`_export_sqlite_processes`): each reads
every n-th chunk on its own read-only connection and sends back that chunk's bytes, already
compressed for a .gz file, and a thread of this process writes them in tree order. Their read
transactions all begin while this process holds SQLite's write lock, so they share one snapshot.
A small export runs in one worker thread on one read-only connection. On PostgreSQL rows come
through asyncpg in one REPEATABLE READ snapshot and lines are built in a worker thread. Either
way a second thread writes (and compresses) while the next chunk is read.
"""

from __future__ import annotations

import asyncio
import gc
import json
import multiprocessing
import os
import queue
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
from core.oasst_render import EXTRA, ID, KEY, Renderer

FORMATS = ("trees", "messages")
CHUNK_TREES = 2000
PROCESS_MIN_TREES = 3 * CHUNK_TREES  # below this, starting processes costs more than they save
MAX_PROCESSES = 4
GZIP_LEVEL = 6  # as open_text: nearly the size of 9 at a fraction of the time


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


def _sqlite_id(column: str) -> str:
    # 32 hex digits -> canonical dashed form, in SQL (C) rather than per value in Python.
    c = column
    return f"(substr({c},1,8)||'-'||substr({c},9,4)||'-'||substr({c},13,4)||'-'||substr({c},17,4)||'-'||substr({c},21))"


def _sqlite_iso(column: str) -> str:
    # Raw.iso in SQL: "2023-02-12 19:06:16.233571" -> "2023-02-12T19:06:16.233571+00:00", a zero
    # fraction left out as isoformat() does.
    c = column
    return (f"(substr({c},1,10)||'T'||substr(CASE WHEN substr({c},-7) = '.000000' THEN substr({c},1,length({c})-7) "
            f"ELSE {c} END,12)||'+00:00')")  # fmt: skip


def _sqlite_head(ids: dict) -> str:
    """SQL writing a node's JSON from its start to `"emojis": ` as Renderer._node would, on SQLite
    (json_quote escapes exactly as Python's encoder: checked for every code point)."""

    def opt_id(column: str) -> str:
        return f"CASE WHEN {column} IS NULL THEN 'null' ELSE '\"'||{ids[column]}||'\"' END"

    def flag(column: str) -> str:
        return f"CASE WHEN {column} THEN 'true' ELSE 'false' END"

    return ("""'{"message_id": "'||""" + ids["m.id"] + """||'", "parent_id": '||""" + opt_id("m.parent_id")
            + """||', "user_id": '||""" + opt_id("m.user_id")
            + """||', "created_date": '||CASE WHEN m.created_at IS NULL THEN 'null' ELSE '"'||""" + ids["created"] + """||'"' END"""
            + """||', "text": '||json_quote(m.text)||', "role": '||json_quote(m.role)||', "lang": '||json_quote(m.lang)"""
            + """||', "review_count": '||m.review_count||', "review_result": '||"""
            + """CASE WHEN m.review_result IS NULL THEN 'null' WHEN m.review_result THEN 'true' ELSE 'false' END"""
            + """||', "deleted": '||""" + flag("m.deleted") + """||', "rank": '||coalesce(m.rank, 'null')"""
            + """||', "synthetic": '||""" + flag("m.synthetic") + """||', "model_name": '||json_quote(m.model_name)"""
            + """||', "emojis": '""")  # fmt: skip


def _queries(pg: bool, head: bool = False) -> dict[str, str]:
    """The per-chunk queries in the dialect: ids as canonical text, JSON as text, times in ISO 8601
    on SQLite. Label and emoji rows come keyed as the message rows' KEY column (the rowid on
    SQLite: no id text to build per label row), grouped by message, labels ordered by name.

    `head` (SQLite, no anonymisation, no events): the message rows carry the start of their JSON
    (HEAD), and the columns it holds only where a node goes through a dict (unknown fields kept)."""
    raw = Raw(None, "postgresql" if pg else "sqlite")
    u, j = (raw.uid_sql, raw.json_sql) if pg else (_sqlite_id, lambda c: c)
    cols = {"u": _Columns(u), "j": _Columns(j)}
    created = "m.created_at" if pg else _sqlite_iso("m.created_at")
    key, order = (u("m.id"), "m.id") if pg else ("m.rowid", "m.tree_id, m.rowid")
    # Names in code-point order, as Python sorts them (SQLite's BINARY collation is that already).
    # On SQLite the ORDER BY is the order the tree_id index delivers: no sort.
    by_name = 'l.name COLLATE "C"' if pg else "l.name"
    mid, pid, uid = u("m.id"), u("m.parent_id"), u("m.user_id")
    if head and not pg:
        # Columns the head holds: only where the node needs them itself (unknown fields kept).
        only = lambda c: f"CASE WHEN m.extra IS NOT NULL THEN {c} END"  # noqa: E731
        user, text, role, lang, reviews, model = map(only, (uid, "m.text", "m.role", "m.lang", "m.review_count", "m.model_name"))
        head_sql = _sqlite_head({"m.id": mid, "m.parent_id": pid, "m.user_id": uid, "created": created})
        head_sql = "CASE WHEN m.extra IS NULL THEN " + head_sql.replace("{", "{{").replace("}", "}}") + " END"  # {ids} stays
    else:
        user, text, role, lang, reviews, model, head_sql = uid, "m.text", "m.role", "m.lang", "m.review_count", "m.model_name", "NULL"
    return {
        "messages": (f"SELECT {mid}, {u('m.tree_id')}, {pid}, {user}, {created}, {text}, {role}, {lang}, {reviews}, "
                     f"m.review_result, m.deleted, m.rank, m.synthetic, {model}, {j('m.detoxify')}, {j('m.extra')}, {key}, "
                     f"{head_sql} FROM messages m WHERE m.tree_id IN {{ids}}"),
        "labels": (f"SELECT {key}, l.name, l.value, l.count FROM label_summaries l JOIN messages m ON m.id = l.message_id "
                   f"WHERE m.tree_id IN {{ids}} ORDER BY {order}, {by_name}"),
        "emojis": (f"SELECT {key}, e.emoji, e.count FROM emoji_counts e JOIN messages m ON m.id = e.message_id "
                   f"WHERE m.tree_id IN {{ids}} AND e.count > 0 ORDER BY {order}, e.emoji"),  # fmt: skip
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

    def __init__(self, opts: ExportOptions, iso=None):
        self.opts, self.iso = opts, iso  # iso: times to convert in Python (PostgreSQL), else None
        anon = Anonymizer(opts.anonymize) if opts.anonymize else None
        self.render = Renderer(opts.format, opts.include_deleted, opts.include_spam, opts.include_synthetic, anon)

    def text(self, trees: list, messages: list, labels: list, emojis: list, events: dict) -> tuple[str, int, int]:
        """One chunk's lines from its rows, and how many trees and messages they hold."""
        by_tree: dict[str, list] = {}
        iso = self.iso
        raw_keys = set()  # messages rendered through a dict (unknown fields, events): they need label rows
        for m in messages:
            if iso is not None:
                m = list(m)
                m[4] = iso(m[4])
            if m[EXTRA] is not None or (events and m[ID] in events):
                raw_keys.add(m[KEY])
            by_tree.setdefault(m[1], []).append(m)
        labels_of = self.render.labels(labels, raw_keys)
        emojis_of: dict = {}
        for mid, emoji, count in emojis:
            emojis_of.setdefault(mid, {})[emoji] = count
        out: list[str] = []
        n_trees = n_messages = 0
        for tid, state, origin in trees:
            lines, n = self.render.tree(tid, state, origin, by_tree.get(tid, ()), labels_of, emojis_of, events)
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


def _sqlite_heads(opts: ExportOptions) -> bool:
    """Whether SQLite writes the nodes' heads: not when ids are anonymised or events added."""
    return not opts.anonymize and not opts.events


def _sqlite_chunk(conn: sqlite3.Connection, chunks: _Chunks, queries: dict, keys: list) -> tuple[list, list, list, dict]:
    """The rows of one chunk of trees (`keys`: their stored ids): messages, labels, emojis, events."""
    ids = "(" + ",".join("?" * len(keys)) + ")"
    rows = {k: conn.execute(queries[k].format(ids=ids), keys).fetchall() for k in ("messages", "labels", "emojis")}
    events = {}
    if chunks.opts.events:
        events = _events(*(conn.execute(queries[k].format(ids=ids), keys).fetchall() for k in ("reactions", "ballots")))
    return rows["messages"], rows["labels"], rows["emojis"], events


def _sqlite_trees(conn: sqlite3.Connection, opts: ExportOptions) -> list[tuple]:
    """Every tree the export takes: (canonical id, state, origin, stored id), in id order."""
    cond, params = _where(opts, lambda i: "?")
    return conn.execute(f"SELECT {_sqlite_id('id')}, state, origin, id FROM trees WHERE {cond} ORDER BY id", params).fetchall()


def _export_sqlite(db_path: str, opts: ExportOptions, out, report: ExportReport, tick) -> None:
    """The whole export on SQLite in this worker thread, from one read snapshot."""
    conn = _sqlite_read(db_path)
    writer = _LineWriter(out)
    try:
        conn.execute("BEGIN")  # with the first read, one snapshot for the whole file
        trees = _sqlite_trees(conn, opts)
        chunks, queries = _Chunks(opts), _queries(pg=False, head=_sqlite_heads(opts))
        for start in range(0, len(trees), CHUNK_TREES):
            part = trees[start : start + CHUNK_TREES]
            rows = _sqlite_chunk(conn, chunks, queries, [t[3] for t in part])
            text, n_trees, n_messages = chunks.text([t[:3] for t in part], *rows)
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


def _sqlite_worker(db_path: str, opts: ExportOptions, index: int, count: int, gz: bool, conn) -> None:
    """One rendering process: waits for "go", opens its snapshot, says "ready", then renders every
    `count`-th chunk from `index` and sends each as (header, bytes)."""
    gc.disable()  # as gc_paused: rows and strings are acyclic, and the process ends with the export
    db = None
    try:
        db = _sqlite_read(db_path)
        conn.recv()  # "go": the parent holds the write lock until every process has read once
        db.execute("BEGIN")
        trees = _sqlite_trees(db, opts)  # the first read: this process's snapshot starts here
        conn.send(("ready", len(trees)))
        chunks, queries = _Chunks(opts), _queries(pg=False, head=_sqlite_heads(opts))
        for start in range(index * CHUNK_TREES, len(trees), count * CHUNK_TREES):
            part = trees[start : start + CHUNK_TREES]
            rows = _sqlite_chunk(db, chunks, queries, [t[3] for t in part])
            text, n_trees, n_messages = chunks.text([t[:3] for t in part], *rows)
            data = text.encode()
            crc, size = zlib.crc32(data), len(data)
            if gz:
                # A raw deflate stream of its own, ended by a sync flush (byte-aligned, not final):
                # the parent joins the chunks into one gzip member.
                z = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
                data = z.compress(data) + z.flush(zlib.Z_SYNC_FLUSH)
            conn.send(("chunk", n_trees, n_messages, crc, size))
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
    gz = str(path).endswith(".gz")
    pipes, procs = [], []
    ok = False
    try:
        for i in range(n):
            parent_end, child_end = ctx.Pipe()
            proc = ctx.Process(target=_sqlite_worker, args=(db_path, opts, i, n, gz, child_end),
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
        finally:
            lock.execute("ROLLBACK")
        total = totals.pop()
        assert not totals, "the rendering processes saw different trees"
        with open(path, "wb") as out:
            crc = size = 0
            if gz:
                out.write(_gzip_header(path))
            done = 0
            for i in range(-(-total // CHUNK_TREES)):
                p = pipes[i % n]
                _, n_trees, n_messages, chunk_crc, chunk_size = _recv(p)
                data = _recv_bytes(p)
                out.write(data)
                crc, size = crc32_combine(crc, chunk_crc, chunk_size), size + chunk_size
                report.trees += n_trees
                report.messages += n_messages
                done = min(done + CHUNK_TREES, total)
                tick(done, total)
            if gz:
                out.write(b"\003\000")  # an empty final block ends the deflate stream
                out.write(struct.pack("<II", crc, size & 0xFFFFFFFF))
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


async def _export_async(raw: Raw, opts: ExportOptions, writer: _LineWriter, report: ExportReport, tick) -> None:
    """The export through the async driver (PostgreSQL): the next chunk is read while this one is rendered."""
    cond, params = _where(opts, raw.ph)
    total = (await raw.fetch(f"SELECT count(*) FROM trees WHERE {cond}", params))[0][0]
    q = _queries(pg=True)
    chunks = _Chunks(opts, Raw(None, "postgresql").iso)

    async def page(last) -> tuple[list, dict]:
        where = f"{cond} AND id > {raw.ph(len(params) + 1)}" if last is not None else cond
        trees = await raw.fetch(
            f"SELECT {raw.uid_sql('id')}, state, origin, id FROM trees WHERE {where} ORDER BY trees.id LIMIT {CHUNK_TREES}",
            [*params, last] if last is not None else params,
        )  # fmt: skip
        keys = [t[3] for t in trees]
        kinds = ("messages", "labels", "emojis", *(("reactions", "ballots") if opts.events else ()))
        rows = {k: await raw.fetch_in(q[k], keys) for k in kinds} if keys else {}
        return trees, rows

    def render(trees: list, rows: dict) -> None:
        events = _events(rows.get("reactions", []), rows.get("ballots", []))
        text, n_trees, n_messages = chunks.text([(t[0], t[1], t[2]) for t in trees], rows["messages"], rows["labels"],
                                                rows["emojis"], events)  # fmt: skip
        writer.put(text)
        report.trees += n_trees
        report.messages += n_messages

    fetching = asyncio.ensure_future(page(None))
    done = 0
    try:
        while True:
            trees, rows = await fetching
            if not trees:
                break
            fetching = asyncio.ensure_future(page(trees[-1][3]))
            await asyncio.to_thread(render, trees, rows)
            done += len(trees)
            tick(done, total)
    finally:
        fetching.cancel()  # a no-op when done; never left running on an error
        await asyncio.gather(fetching, return_exceptions=True)


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
                async with db.read_engine.connect() as conn:
                    # One snapshot for the whole file, however long it takes.
                    conn = await conn.execution_options(isolation_level="REPEATABLE READ")
                    async with conn.begin():
                        writer = _LineWriter(out)
                        try:
                            await _export_async(await Raw.of(conn), opts, writer, report, progress or (lambda d, t: None))
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
