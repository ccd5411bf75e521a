"""Turning oasst lines into rows: the checks, the id bookkeeping and the row buffers of an import."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from dataclasses import dataclass, field
from itertools import chain, repeat

from core import label_means
from core.errors import InvalidInput
from core.models import utcnow
from core.oasst_db import Raw, RawText, SqliteBulk
from core.oasst_format import (
    _CANONICAL,
    EMPTY_KEY,
    KNOWN_FIELDS,
    NO_TIME_KEY,
    TREE_STATES,
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
LABEL_COLS = ("message_id", "labels", "ratings")
EMOJI_COLS = ("message_id", "emoji", "count")
# One encoder for every detoxify object: json.dumps would build a new one per message.
_DUMPS = json.JSONEncoder(check_circular=False).encode
# The same encoder's C core, called directly: encode() builds it anew for every object.
_C_ENCODER = json.encoder.c_make_encoder and json.encoder.c_make_encoder(
    None, _DUMPS.__self__.default, json.encoder.encode_basestring_ascii, None, ": ", ", ", False, False, True
)
_dumps_object = _DUMPS if _C_ENCODER is None else (lambda value: "".join(_C_ENCODER(value, 0)))
MAX_REPORTED = 50  # bad lines listed in the error; all are counted
_N_MESSAGE = len(MESSAGE_COLS)
_CANON = _CANONICAL.match
_ISO = dt.datetime.fromisoformat
_UTC = dt.UTC


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
    labels: list = field(default_factory=list)  # label values: (message id, name, value, count)
    emojis: list = field(default_factory=list)
    label_texts: list = field(default_factory=list)  # labels objects as cut from lines: (message id, text)
    flat: bool = False  # each list holds its rows' values one after another (see flatten)

    def flatten(self) -> Rows:
        """The same rows as flat lists: fewer objects to pickle than a tuple per row."""
        if self.flat:
            return self
        return Rows(*(list(chain.from_iterable(getattr(self, t))) for t in _TABLES), flat=True)  # type: ignore[arg-type]


_TABLES = ("users", "identities", "trees", "messages", "labels", "emojis", "label_texts")


class Importer:
    """State of one file's import: rows waiting to be written, ids seen, errors found."""

    def __init__(self, raw: Raw, report: ImportReport, batch: int):
        self.raw, self.report, self.batch = raw, report, batch
        self.now = utcnow()
        self.now_db = raw.time(self.now)
        # Rows are built flat (values row after row): fewer objects to make, pickle and unpickle.
        self.rows = Rows(flat=True)
        self._extra_names: dict[tuple, tuple] = {}  # a node's keys -> its unknown ones (for the fast path)
        # One string object per label name: pickled once per batch, then by reference.
        self._label_names: dict[str, str] = {}
        # Label values become each message's stored text where they are written (batches).
        self._label_texts = label_means.Texts()
        self._marker = f"\ue000{secrets.token_hex(8)}:"  # stands for a labels object cut from a line
        # The fast path writes ids as RawText does (canonical text, or 32 hex digits on SQLite).
        self._fast = not raw.pg or isinstance(raw, RawText)
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
                obj = None
                if self._fast and not self.error_count:
                    done, obj = self._fast_line(line, lineno)
                    if done:
                        continue
                if obj is None:
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
        r.trees += (raw.uid(tree.id), tree.state, tree.lang, tree.origin, raw.uid(tree.author_id),
                    raw.time(created), self.now_db)  # fmt: skip
        self.report.trees += 1
        for m in tree.messages:
            self._add_message(m)

    def _add_message(self, m: MessageRecord) -> None:
        r, raw, b = self.rows, self.raw, self.raw.bool
        uid = raw.uid(m.id)
        if m.user_id is not None and m.user_id not in self.users:
            self.users.add(m.user_id)
            u = raw.uid(m.user_id)
            r.users += (u, f"oasst-{m.user_id[:8]}", "member", m.lang, b(True), b(False), self.now_db)
            r.identities += (u, "oasst", m.user_id)
        r.messages += (
            uid, raw.uid(m.tree_id), raw.uid(m.parent_id), m.role, m.depth, m.lang, m.text, raw.uid(m.user_id),
            raw.time(m.created or self.now), m.review_count, b(m.review_result), b(m.deleted), m.rank,
            b(m.synthetic), m.model_name, b(False),
            None if m.detoxify is None else _DUMPS(m.detoxify),
            None if m.extra is None else json.dumps(m.extra, ensure_ascii=False),
        )  # fmt: skip
        if m.labels:
            r.labels += chain.from_iterable((uid, name, value, count) for name, (value, count) in m.labels.items())
            self.report.labels += len(m.labels)
        if m.emojis:
            r.emojis += chain.from_iterable((uid, e, n) for e, n in m.emojis.items())
            self.report.emojis += len(m.emojis)
        self.report.messages += 1

    def _fast_line(self, line: str, lineno: int) -> tuple[bool, object]:
        """A trees-file line through the fast path, its labels objects cut out before json.loads:
        (True, None) when it was taken; else (False, the line parsed, or None to parse it again).

        Labels objects in the shape the format writes (label_means.CUT) are about a third of an
        oasst line and most of the time json.loads spends on it (a dozen small dicts and floats per
        message); stored as the text they are, they need not be parsed at all. Each is replaced
        by a string naming it. A line the fast path does not take is parsed as written by the
        full path, which so reports what is wrong with it as before."""
        # Only trees lines are cut: a messages-file line would be parsed twice.
        parts = label_means.CUT(line) if '"prompt": ' in line else ()
        texts = parts[1::2]
        if texts:
            head = '"labels": "' + self._marker
            line = "".join([f'{part}{head}{i}"' for i, part in enumerate(parts[:-1:2])]) + parts[-1]
        try:
            obj = json.loads(line)
        except ValueError:
            return False, None
        if type(obj) is dict and "prompt" in obj and self._fast_tree(obj, lineno, texts):
            return True, None
        return False, None if texts else obj

    def _fast_tree(self, obj: dict, lineno: int, texts: list[str]) -> bool:
        """A trees-file line in the common well-formed shape, checked and turned into rows in one
        pass (what parse_tree, then _add_tree, do with a record per message and a tuple per label).

        False, with nothing changed, for anything else: the line then takes the full path, which
        gives the same rows or names the mistake.
        """
        r = self.rows
        marks = [(rows, len(rows)) for rows in (r.users, r.identities, r.trees, r.messages, r.labels, r.emojis, r.label_texts)]
        added: list[str] = []
        try:
            counts = self._fast_tree_rows(obj, lineno, added, texts)
        except Exception:  # noqa: BLE001 - whatever it is, the full path reports it as before
            counts = None
        if counts is None:
            for rows, n in marks:
                del rows[n:]
            self.users.difference_update(added)
            return False
        report = self.report
        report.trees += 1
        report.messages += counts[0]
        report.labels += counts[1]
        report.emojis += counts[2]
        return True

    def _fast_tree_rows(self, obj: dict, lineno: int, added: list[str], texts: list[str]) -> tuple[int, int, int] | None:
        """_fast_tree's work: rows appended, and (messages, labels, emojis); None to take the full path."""
        tid = obj.get("message_tree_id")
        if type(tid) is not str or len(tid) != 36 or not _CANON(tid):
            return None
        state, origin, prompt = obj.get("tree_state"), obj.get("origin"), obj.get("prompt")
        if state not in TREE_STATES or (origin is not None and type(origin) is not str) or type(prompt) is not dict:
            return None
        pg = self.raw.pg
        true, false = (True, False) if pg else (1, 0)
        now_db, users, extra_names = self.now_db, self.users, self._extra_names
        if len(self._label_names) > 10_000:
            self._label_names.clear()
        one_name = self._label_names.setdefault
        r = self.rows
        messages, labels, emojis, label_texts = r.messages, r.labels, r.emojis, r.label_texts
        marker, cut_used = self._marker, 0
        tree_uid = tid if pg else tid.replace("-", "")
        ids: list[str] = []
        n_labels = n_emojis = 0
        root: tuple = ()
        stack: list[tuple] = [(prompt, None)]
        while stack:
            node, parent = stack.pop()
            mid = node["message_id"]  # not a dict, or no id: a TypeError or KeyError, the full path then
            if type(mid) is not str or len(mid) != 36 or not _CANON(mid):
                return None
            role, pid = node.get("role"), node.get("parent_id")
            if parent is None:  # the prompt
                if pid is not None or role != "prompter":
                    return None
                depth, parent_uid = 0, None
            else:
                parent_id, parent_role, parent_depth, parent_uid = parent
                if (
                    (pid is not None and pid != parent_id)
                    or role == parent_role
                    or role not in ("prompter", "assistant")
                ):
                    return None
                depth = parent_depth + 1
            text, lang = node.get("text"), node.get("lang")
            if type(text) is not str or type(lang) is not str or not 0 < len(lang) <= 32:
                return None
            uid = mid if pg else mid.replace("-", "")
            user = node.get("user_id")
            if user is None:
                user_uid = None
            elif user in users:  # checked when first seen
                user_uid = user if pg else user.replace("-", "")
            else:
                if type(user) is not str or len(user) != 36 or not _CANON(user):
                    return None
                users.add(user)
                added.append(user)
                user_uid = user if pg else user.replace("-", "")
                r.users += (user_uid, f"oasst-{user[:8]}", "member", lang, true, false, now_db)
                r.identities += (user_uid, "oasst", user)
            model_name, detoxify = node.get("model_name"), node.get("detoxify")
            if model_name is not None and (type(model_name) is not str or len(model_name) > 256):
                return None
            if detoxify is not None:
                if type(detoxify) is not dict:
                    return None
                detoxify = _dumps_object(detoxify)
            # Unknown fields with a value are kept aside, as parse_node does: which keys those are
            # is remembered per shape of node (a file's nodes nearly all have the same keys).
            if node.keys() <= KNOWN_FIELDS:
                extra = {}
            else:
                keys = tuple(node)
                names = extra_names.get(keys)
                if names is None:
                    names = tuple(k for k in keys if k not in KNOWN_FIELDS)
                    if len(extra_names) < 1000:
                        extra_names[keys] = names
                extra = {}
                for k in names:
                    if (v := node[k]) is not None:
                        extra[k] = v
            emoji_map, label_map = node.get("emojis"), node.get("labels")
            if type(label_map) is str:  # cut from the line by _fast_line
                if not label_map.startswith(marker):
                    return None
                cut = texts[int(label_map[len(marker) :])]
                label_texts += (uid, cut)
                n_labels += cut.count('"value": ')
                cut_used += 1
                label_map = None
            if (emoji_map is not None and type(emoji_map) is not dict) or (
                label_map is not None and type(label_map) is not dict
            ):
                return None
            if (emoji_map is not None and not emoji_map) or (label_map is not None and not label_map):  # an empty {}
                extra[EMPTY_KEY] = [k for k, v in (("emojis", emoji_map), ("labels", label_map)) if v == {}]
            created = node.get("created_date")
            if created is None:
                extra[NO_TIME_KEY] = True
                time = now_db
            elif type(created) is not str:
                return None
            else:
                t = _ISO(created)  # a ValueError: the full path names it
                if t.tzinfo is not _UTC:
                    return None
                if pg:
                    time = t
                # "2023-02-12T19:06:16.233571+00:00" as published (not 24:00, which newer Pythons
                # read as the next day): Raw.time's text is a slice of it, without isoformat.
                elif (
                    len(created) == 32
                    and created[10] == "T"
                    and created[19] == "."
                    and created[26:] == "+00:00"
                    and created[4] == "-"
                    and created[7] == "-"
                    and created[13] == ":"
                    and created[16] == ":"
                    and created[11:13] != "24"
                ):
                    time = created[:10] + " " + created[11:26]
                else:
                    time = self.raw.time(t)
            review_count, review_result, rank = node.get("review_count"), node.get("review_result"), node.get("rank")
            deleted, synthetic = node.get("deleted"), node.get("synthetic")
            if review_count is None:
                review_count = 0
            elif type(review_count) is not int:
                return None
            if (review_result is not None and type(review_result) is not bool) or (
                rank is not None and type(rank) is not int
            ):
                return None
            if (deleted is not None and type(deleted) is not bool) or (
                synthetic is not None and type(synthetic) is not bool
            ):
                return None
            messages += (
                uid, tree_uid, parent_uid, role, depth, lang, text, user_uid, time, review_count,
                None if review_result is None else (true if review_result else false), true if deleted else false,
                rank, true if synthetic else false, model_name, false, detoxify,
                json.dumps(extra, ensure_ascii=False) if extra else None,
            )  # fmt: skip
            if emoji_map:
                for e, n in emoji_map.items():
                    if type(n) is not int or len(e) > 32:
                        return None
                    emojis += (uid, e, n)
                n_emojis += len(emoji_map)
            if label_map:
                # The hot loop of an import (a dozen labels per message). A value that is not an
                # object, or lacks a key, raises (TypeError, KeyError): the full path then.
                for name, v in label_map.items():
                    number, count = v["value"], v["count"]
                    kind = type(number)
                    if kind is float:
                        if number - number != 0:  # inf or nan
                            return None
                    elif kind is int:
                        number = float(number)
                    else:
                        return None
                    if type(count) is not int or len(name) > 32:
                        return None
                    labels += (uid, one_name(name, name), number, count)
                n_labels += len(label_map)
            if not ids:
                root = (lang, user_uid, time)
            ids.append(mid)
            replies = node.get("replies")
            if replies:
                if type(replies) is not list:
                    return None
                stack += zip(reversed(replies), repeat((mid, role, depth, uid)))
        if len(set(ids)) != len(ids) or cut_used != len(texts):  # a cut object somewhere but a node's labels
            return None
        seen = self.seen
        for mid in ids:
            # Claimed only once the whole tree is good; one claimed already by this line is
            # claimed again by the full path without complaint.
            if seen.setdefault(mid, lineno) != lineno:
                return None
        lang, author_uid, time = root
        r.trees += (tree_uid, state, lang, origin, author_uid, time, now_db)
        return len(ids), n_labels, n_emojis

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
        if self.error_count or not (force or len(self.rows.messages) >= self.batch * _N_MESSAGE):
            return None
        rows, self.rows = self.rows, Rows(flat=True)
        return rows

    def batches(self, r: Rows) -> list[tuple[str, tuple[str, ...], list, str | None]]:
        """A batch's inserts, parents' tables first: (table, columns, rows, report counter).

        Labels become label_means rows here, where they are written (the parent process, which
        waits on the parser otherwise)."""
        means = self._label_texts.rows(r.labels, r.flat) + label_means.cut_rows(r.label_texts, r.flat)
        return [("users", USER_COLS, r.users, "new_users"), ("identities", IDENTITY_COLS, r.identities, None),
                ("trees", TREE_COLS, r.trees, "new_trees"), ("messages", MESSAGE_COLS, r.messages, "new_messages"),
                ("label_means", LABEL_COLS, means, None), ("emoji_counts", EMOJI_COLS, r.emojis, None)]  # fmt: skip

    async def write(self, r: Rows | None) -> None:
        """Insert a batch of rows through the async driver."""
        for table, cols, rows, counter in self.batches(r) if r is not None else ():
            if r.flat:
                rows = list(zip(*[iter(rows)] * len(cols)))
            new = await self.raw.insert_new(table, cols, rows)
            if counter:
                setattr(self.report, counter, getattr(self.report, counter) + new)

    def write_sync(self, bulk: SqliteBulk, r: Rows | None) -> None:
        """Insert a batch of rows on SQLite (in a worker thread)."""
        for table, cols, rows, counter in self.batches(r) if r is not None else ():
            new = bulk.insert_new(table, cols, rows, flat=r.flat)
            if counter:
                setattr(self.report, counter, getattr(self.report, counter) + new)
