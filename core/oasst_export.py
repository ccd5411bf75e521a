"""`chorus export`: trees or messages files in the oasst format, streamed from the database.

Trees are read in id order, a couple of thousand at a time, with their messages, labels and
emojis in one query each: rows straight from the driver, no ORM objects, turned into lines by
core/oasst_render.py. On SQLite the whole export runs in one worker thread on its own read-only
connection (one snapshot); on PostgreSQL rows come through asyncpg in one REPEATABLE READ
snapshot and lines are built in a worker thread. Lines are written (and compressed) by a second
thread while the next chunk is read.
"""

from __future__ import annotations

import asyncio
import json
import queue
import sqlite3
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from itertools import groupby
from operator import itemgetter
from pathlib import Path

from core.db import Database
from core.errors import InvalidInput
from core.oasst_db import Raw, gc_paused
from core.oasst_format import TREE_STATES, Anonymizer, open_text
from core.oasst_render import Renderer

FORMATS = ("trees", "messages")
CHUNK_TREES = 2000


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


def _queries(u, j, k) -> dict[str, str]:
    """The per-chunk queries with the dialect's column expressions (`k`: an id as a lookup key)."""
    cols = {"u": _Columns(u), "j": _Columns(j)}
    return {
        "messages": (f"SELECT {u('id')}, {u('tree_id')}, {u('parent_id')}, {u('user_id')}, created_at, text, role, lang, "
                     f"review_count, review_result, deleted, rank, synthetic, model_name, {j('detoxify')}, {j('extra')}, "
                     f"{k('id')} FROM messages WHERE tree_id IN {{ids}}"),
        # Labels and emojis keyed by the id as stored: no id text to build per label row.
        "labels": (f"SELECT {k('l.message_id')}, l.name, l.value, l.count FROM label_summaries l "
                   "JOIN messages m ON m.id = l.message_id WHERE m.tree_id IN {ids}"),  # sorted per message when written
        "emojis": (f"SELECT {k('e.message_id')}, e.emoji, e.count FROM emoji_counts e JOIN messages m ON m.id = e.message_id "
                   "WHERE m.tree_id IN {ids} AND e.count > 0 ORDER BY e.message_id, e.emoji"),  # few rows: sorted in SQL
        "reactions": _REACTIONS_SQL.format(**cols),
        "ballots": _BALLOTS_SQL.format(**cols),
    }  # fmt: skip


class _Job:
    """One export's state, shared by the reading side and the thread that renders and writes."""

    def __init__(self, opts: ExportOptions, out, report: ExportReport, iso):
        self.opts, self.report, self.iso = opts, report, iso
        anon = Anonymizer(opts.anonymize) if opts.anonymize else None
        self.render = Renderer(opts.format, opts.include_deleted, opts.include_spam, opts.include_synthetic, anon)
        self.writer = _LineWriter(out)

    def where(self, ph) -> tuple[str, list]:
        """The trees filter: SQL and parameters (`ph(i)` the i-th placeholder)."""
        where, params = [], []
        if self.opts.state != "all":
            params.append(self.opts.state)
            where.append(f"state = {ph(len(params))}")
        if self.opts.lang:
            params.append(self.opts.lang)
            where.append(f"lang = {ph(len(params))}")
        return " AND ".join(where) or "1=1", params

    def chunk(self, trees: list, messages: list, labels: list, emojis: list, events: dict) -> None:
        """Render one chunk of trees from its rows and hand the lines to the writer."""
        by_tree: dict[str, list] = {}
        iso = self.iso
        for m in messages:
            m = list(m)
            m[4] = iso(m[4])
            by_tree.setdefault(m[1], []).append(m)
        # A message's label rows arrive together: grouped in C, each row's tail is the cache key.
        labels_of: dict[str, list] = {}
        for mid, group in groupby(labels, itemgetter(0)):
            rows = [r[1:] for r in group]
            before = labels_of.get(mid)  # only if a plan ever interleaved messages: still complete
            labels_of[mid] = rows if before is None else before + rows
        emojis_of: dict[str, dict] = {}
        for mid, emoji, count in emojis:
            emojis_of.setdefault(mid, {})[emoji] = count
        out: list[str] = []
        for tid, state, origin in trees:
            lines, n = self.render.tree(tid, state, origin, by_tree.get(tid, ()), labels_of, emojis_of, events)
            if lines:
                out += lines
                self.report.trees += 1
                self.report.messages += n
        self.writer.put("".join(out))


class _LineWriter:
    """Writes (and compresses) text in its own thread: zlib and file writes release the GIL."""

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

    def put(self, text: str) -> None:
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


def _export_sqlite(db_path: str, job: _Job, tick) -> None:
    """The whole export on SQLite, in this worker thread, from one read snapshot."""
    uri = f"file:{urllib.parse.quote(db_path)}?mode=ro"
    conn = sqlite3.connect(uri, uri=True, check_same_thread=False, timeout=30)
    try:
        conn.execute("PRAGMA cache_size = -65536")
        conn.execute("BEGIN")  # with the first read, one snapshot for the whole file
        cond, params = job.where(lambda i: "?")
        total = conn.execute(f"SELECT count(*) FROM trees WHERE {cond}", params).fetchone()[0]
        q = _queries(_sqlite_id, lambda c: c, lambda c: c)
        cursor = conn.execute(f"SELECT {_sqlite_id('id')}, state, origin, id FROM trees WHERE {cond} ORDER BY trees.id", params)
        done = 0
        while trees := cursor.fetchmany(CHUNK_TREES):
            keys = [t[3] for t in trees]
            ids = "(" + ",".join("?" * len(keys)) + ")"
            rows = {k: conn.execute(q[k].format(ids=ids), keys).fetchall() for k in ("messages", "labels", "emojis")}
            events = {}
            if job.opts.events:
                events = _events(*(conn.execute(q[k].format(ids=ids), keys).fetchall() for k in ("reactions", "ballots")))
            job.chunk([t[:3] for t in trees], rows["messages"], rows["labels"], rows["emojis"], events)
            done += len(trees)
            tick(done, total)
        conn.execute("COMMIT")
    finally:
        conn.close()


async def _export_async(raw: Raw, job: _Job, tick) -> None:
    """The export through the async driver (PostgreSQL): the next chunk is read while this one is rendered."""
    cond, params = job.where(raw.ph)
    total = (await raw.fetch(f"SELECT count(*) FROM trees WHERE {cond}", params))[0][0]
    q = _queries(raw.uid_sql, raw.json_sql, raw.uid_sql)

    async def page(last) -> tuple[list, dict]:
        where = f"{cond} AND id > {raw.ph(len(params) + 1)}" if last is not None else cond
        trees = await raw.fetch(
            f"SELECT {raw.uid_sql('id')}, state, origin, id FROM trees WHERE {where} ORDER BY trees.id LIMIT {CHUNK_TREES}",
            [*params, last] if last is not None else params,
        )  # fmt: skip
        keys = [t[3] for t in trees]
        kinds = ("messages", "labels", "emojis", *(("reactions", "ballots") if job.opts.events else ()))
        rows = {k: await raw.fetch_in(q[k], keys) for k in kinds} if keys else {}
        return trees, rows

    fetching = asyncio.ensure_future(page(None))
    done = 0
    try:
        while True:
            trees, rows = await fetching
            if not trees:
                break
            fetching = asyncio.ensure_future(page(trees[-1][3]))
            events = _events(rows.get("reactions", []), rows.get("ballots", []))
            chunk = [(t[0], t[1], t[2]) for t in trees]
            await asyncio.to_thread(job.chunk, chunk, rows["messages"], rows["labels"], rows["emojis"], events)
            done += len(trees)
            tick(done, total)
    finally:
        fetching.cancel()  # a no-op when done; never left running on an error
        await asyncio.gather(fetching, return_exceptions=True)


async def export(
    db: Database, path: str | Path, opts: ExportOptions = ExportOptions(), *, progress: Callable[[int, int], None] | None = None
) -> ExportReport:
    """Write the chosen trees to a trees or messages file (.gz compresses), streaming."""
    opts.check()
    started = time.perf_counter()
    report = ExportReport(str(path))
    out = await asyncio.to_thread(open_text, path, "w")
    loop = asyncio.get_running_loop()
    try:
        with gc_paused():
            if db.is_sqlite:
                job = _Job(opts, out, report, Raw(None, "sqlite").iso)
                try:
                    tick = (lambda d, t: loop.call_soon_threadsafe(progress, d, t)) if progress else (lambda d, t: None)
                    await asyncio.to_thread(_export_sqlite, db.url.database, job, tick)
                finally:
                    await asyncio.to_thread(job.writer.close)
            else:
                async with db.read_engine.connect() as conn:
                    # One snapshot for the whole file, however long it takes.
                    conn = await conn.execution_options(isolation_level="REPEATABLE READ")
                    async with conn.begin():
                        job = _Job(opts, out, report, Raw(None, "postgresql").iso)
                        try:
                            await _export_async(await Raw.of(conn), job, progress or (lambda d, t: None))
                        finally:
                            await asyncio.to_thread(job.writer.close)
    finally:
        await asyncio.to_thread(out.close)
    report.seconds = time.perf_counter() - started
    return report
