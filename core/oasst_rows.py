"""Turning oasst lines into rows: the checks, the id bookkeeping and the row buffers of an import."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from itertools import chain

from core.errors import InvalidInput
from core.models import utcnow
from core.oasst_db import Raw, SqliteBulk
from core.oasst_format import (
    FormatError,
    MessageRecord,
    TreeRecord,
    parse_message,
    parse_tree,
)

USER_COLS = ("id", "display_name", "role", "lang", "enabled", "banned", "created_at")
IDENTITY_COLS = ("user_id", "platform", "external_id")
TREE_COLS = ("id", "state", "lang", "origin", "author_id", "created_at", "updated_at")
MESSAGE_COLS = (
    "id", "tree_id", "parent_id", "role", "depth", "lang", "text", "user_id", "created_at", "review_count",
    "review_result", "deleted", "rank", "synthetic", "model_name", "edited", "detoxify", "extra",
)  # fmt: skip
LABEL_COLS = ("message_id", "name", "value", "count")
EMOJI_COLS = ("message_id", "emoji", "count")
# One encoder for every detoxify object: json.dumps would build a new one per message.
_DUMPS = json.JSONEncoder(check_circular=False).encode
MAX_REPORTED = 50  # bad lines listed in the error; all are counted


@dataclass
class ImportReport:
    """What one file brought: counts in the file and how many rows were new."""

    path: str
    trees: int = 0
    messages: int = 0
    new_trees: int = 0
    new_messages: int = 0
    new_users: int = 0
    labels: int = 0
    emojis: int = 0
    seconds: float = 0.0

    @property
    def skipped(self) -> int:
        """Messages of the file already in the database."""
        return self.messages - self.new_messages


class ImportFailed(InvalidInput):
    """A file with malformed lines: nothing of it was imported."""

    def __init__(self, path: str, errors: list[str], total: int):
        more = f"\n  … and {total - len(errors)} more" if total > len(errors) else ""
        super().__init__(
            f"{path}: {total} malformed line{'s' if total != 1 else ''}; nothing from this file was imported.\n  "
            + "\n  ".join(errors) + more
        )  # fmt: skip
        self.errors = errors
        self.total = total


@dataclass
class Rows:
    users: list = field(default_factory=list)
    identities: list = field(default_factory=list)
    trees: list = field(default_factory=list)
    messages: list = field(default_factory=list)
    labels: list = field(default_factory=list)
    emojis: list = field(default_factory=list)
    flat: bool = False  # each list holds its rows' values one after another (see flatten)

    def flatten(self) -> Rows:
        """The same rows as flat lists: a quarter of the objects to pickle for 4-column label rows."""
        return Rows(*(list(chain.from_iterable(getattr(self, t))) for t in _TABLES), flat=True)  # type: ignore[arg-type]


_TABLES = ("users", "identities", "trees", "messages", "labels", "emojis")


class Importer:
    """State of one file's import: rows waiting to be written, ids seen, errors found."""

    def __init__(self, raw: Raw, report: ImportReport, batch: int):
        self.raw, self.report, self.batch = raw, report, batch
        self.now = utcnow()
        self.rows = Rows()
        self.errors: list[str] = []
        self.error_count = 0
        self.seen: dict[str, int] = {}  # message id -> line number
        self.users: set[str] = set()
        self.loose: dict[str, tuple[MessageRecord, str, int]] = {}  # messages-file lines, assembled at the end

    def error(self, lineno: int, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_REPORTED:
            self.errors.append(f"line {lineno}: {message}")

    def parse(self, lines: list[str], first: int) -> None:
        """Check and convert a run of lines (run in a worker thread)."""
        for lineno, line in enumerate(lines, first):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                if not isinstance(obj, dict):
                    raise FormatError("a line must be a JSON object")
                if "prompt" in obj:
                    tree = parse_tree(obj)
                    if len({m.id for m in tree.messages}) != len(tree.messages):
                        raise FormatError("the tree contains the same message_id twice")
                    for m in tree.messages:
                        self._claim(m.id, lineno)
                    if not self.error_count:
                        self._add_tree(tree)
                else:
                    msg, state = parse_message(obj)
                    self._claim(msg.id, lineno)
                    self.loose[msg.id] = (msg, state, lineno)
            except json.JSONDecodeError as exc:
                self.error(lineno, f"not valid JSON ({exc.msg} at column {exc.colno})")
            except FormatError as exc:
                self.error(lineno, str(exc))

    def _claim(self, message_id: str, lineno: int) -> None:
        before = self.seen.setdefault(message_id, lineno)
        if before != lineno:
            raise FormatError(f"message {message_id} appears twice (first on line {before})")

    def _add_tree(self, tree: TreeRecord) -> None:
        r, raw = self.rows, self.raw
        created = tree.created or self.now
        # updated_at is the import: a tree imported while growing gets the full stale window.
        r.trees.append((raw.uid(tree.id), tree.state, tree.lang, tree.origin, raw.uid(tree.author_id),
                        raw.time(created), raw.time(self.now)))  # fmt: skip
        self.report.trees += 1
        for m in tree.messages:
            self._add_message(m)

    def _add_message(self, m: MessageRecord) -> None:
        r, raw, b = self.rows, self.raw, self.raw.bool
        uid = raw.uid(m.id)
        if m.user_id is not None and m.user_id not in self.users:
            self.users.add(m.user_id)
            u = raw.uid(m.user_id)
            r.users.append((u, f"oasst-{m.user_id[:8]}", "member", m.lang, b(True), b(False), raw.time(self.now)))
            r.identities.append((u, "oasst", m.user_id))
        r.messages.append((
            uid, raw.uid(m.tree_id), raw.uid(m.parent_id), m.role, m.depth, m.lang, m.text, raw.uid(m.user_id),
            raw.time(m.created or self.now), m.review_count, b(m.review_result), b(m.deleted), m.rank,
            b(m.synthetic), m.model_name, b(False),
            None if m.detoxify is None else _DUMPS(m.detoxify),
            None if m.extra is None else json.dumps(m.extra, ensure_ascii=False),
        ))  # fmt: skip
        if m.labels:
            r.labels += [(uid, name, value, count) for name, (value, count) in m.labels.items()]
            self.report.labels += len(m.labels)
        if m.emojis:
            r.emojis += [(uid, e, n) for e, n in m.emojis.items()]
            self.report.emojis += len(m.emojis)
        self.report.messages += 1

    def loose_needs(self) -> tuple[list[str], list[str]]:
        """For a messages file: parents to look up in the database, and trees that must be stored."""
        parents = {m.parent_id for m, _, _ in self.loose.values() if m.parent_id and m.parent_id not in self.loose}
        with_prompt = {m.tree_id for m, _, _ in self.loose.values() if m.parent_id is None}
        trees = {m.tree_id for m, _, _ in self.loose.values()} - with_prompt
        return sorted(parents), sorted(trees)

    def assemble_loose(self, known: dict[str, tuple[str, int, str]], stored_trees: set[str]) -> None:
        """Messages-file lines: find each one's parent (in the file or `known`: id -> role, depth, tree) and depth."""
        if not self.loose:
            return
        trees: dict[str, TreeRecord] = {}
        tree_line: dict[str, int] = {}
        order: list[MessageRecord] = []
        for msg, state, lineno in self.loose.values():
            try:
                chain, node = [], msg
                while node.parent_id is not None and node.parent_id in self.loose:
                    chain.append(node)
                    if len(chain) > len(self.loose):
                        raise FormatError(f"message {msg.id} is part of a parent loop")
                    node = self.loose[node.parent_id][0]
                if node.parent_id is None:
                    base_depth, base_role = -1, None
                elif node.parent_id in known:
                    base_role, base_depth, tid = known[node.parent_id]
                    if tid != msg.tree_id:
                        raise FormatError(f"message {msg.id}: its parent belongs to another tree")
                else:
                    raise FormatError(f"message {msg.id}: parent {node.parent_id} is neither in the file nor stored")
                msg.depth = base_depth + 1 + len(chain)
                parent = self.loose.get(msg.parent_id)
                parent_role = parent[0].role if parent else base_role
                if parent_role == msg.role:
                    raise FormatError(f"message {msg.id}: a {msg.role} message cannot reply to a {msg.role} message")
                if parent and parent[0].tree_id != msg.tree_id:
                    raise FormatError(f"message {msg.id}: its parent belongs to another tree")
                tree = trees.get(msg.tree_id)
                if tree is None:
                    tree = trees[msg.tree_id] = TreeRecord(msg.tree_id, state, None)
                    tree_line[msg.tree_id] = lineno
                elif tree.state != state:
                    raise FormatError(f"tree {msg.tree_id} is given as both {tree.state} and {state}")
                if msg.parent_id is None:
                    tree.lang, tree.author_id, tree.created = msg.lang, msg.user_id, msg.created
                    tree.messages.append(msg)
                order.append(msg)
            except FormatError as exc:
                self.error(lineno, str(exc))
        if self.error_count:
            return
        for tree in trees.values():
            if not tree.messages and tree.id not in stored_trees:  # no prompt in the file, nor stored
                self.error(tree_line[tree.id], f"tree {tree.id} has no prompt in the file and is not stored")
                continue
            tree.messages = []
            self._add_tree(tree)
        order.sort(key=lambda m: m.depth)  # parents before children
        for m in order:
            self._add_message(m)

    def take(self, force: bool = False) -> Rows | None:
        """The rows collected so far, once there are enough to write (all of them when forced)."""
        if self.error_count or not (force or len(self.rows.messages) >= self.batch):
            return None
        rows, self.rows = self.rows, Rows()
        return rows

    def batches(self, r: Rows) -> list[tuple[str, tuple[str, ...], list, str | None]]:
        """A batch's inserts, parents' tables first: (table, columns, rows, report counter)."""
        return [("users", USER_COLS, r.users, "new_users"), ("identities", IDENTITY_COLS, r.identities, None),
                ("trees", TREE_COLS, r.trees, "new_trees"), ("messages", MESSAGE_COLS, r.messages, "new_messages"),
                ("label_summaries", LABEL_COLS, r.labels, None), ("emoji_counts", EMOJI_COLS, r.emojis, None)]  # fmt: skip

    async def write(self, r: Rows | None) -> None:
        """Insert a batch of rows through the async driver."""
        for table, cols, rows, counter in self.batches(r) if r is not None else ():
            new = await self.raw.insert_new(table, cols, rows)
            if counter:
                setattr(self.report, counter, getattr(self.report, counter) + new)

    def write_sync(self, bulk: SqliteBulk, r: Rows | None) -> None:
        """Insert a batch of rows on SQLite (in a worker thread)."""
        for table, cols, rows, counter in self.batches(r) if r is not None else ():
            new = bulk.insert_new(table, cols, rows, flat=r.flat)
            if counter:
                setattr(self.report, counter, getattr(self.report, counter) + new)
