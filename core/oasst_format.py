"""The oasst export format: reading and checking one line, writing one node, anonymised ids.

A trees file holds one tree per line (`{message_tree_id, tree_state, prompt, origin}`, the prompt
a message node with nested `replies`); a messages file holds one node per line with
`message_tree_id` and `tree_state` filled in. Readers accept absent and null alike.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import io
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from core.models import TreeState

ROLES = ("prompter", "assistant")
TREE_STATES = frozenset(s.value for s in TreeState)
# Node fields Chorus stores in columns (or derives); any other field is kept in Message.extra.
KNOWN_FIELDS = frozenset(
    "message_id parent_id user_id created_date text role lang review_count review_result deleted rank "
    "synthetic model_name emojis labels detoxify replies message_tree_id tree_state".split()
)
# Markers in Message.extra that keep what the schema cannot say: a dict given empty rather than
# null, and a message that came without a creation time.
EMPTY_KEY = "_empty"
NO_TIME_KEY = "_no_created_date"
_CANONICAL = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")


class FormatError(ValueError):
    """One thing wrong with one line; the importer adds the line number."""


@dataclass(slots=True)
class MessageRecord:
    """One message as read from a file, checked and normalised (ids canonical, times aware)."""

    id: str
    tree_id: str
    parent_id: str | None
    role: str
    depth: int
    lang: str
    text: str
    user_id: str | None
    created: dt.datetime | None
    review_count: int
    review_result: bool | None
    deleted: bool
    rank: int | None
    synthetic: bool
    model_name: str | None
    emojis: dict[str, int] | None
    labels: dict[str, tuple[float, int]] | None
    detoxify: dict | None
    extra: dict | None


@dataclass(slots=True)
class TreeRecord:
    """One tree's own fields; its messages come separately."""

    id: str
    state: str
    origin: str | None
    lang: str = "en"
    author_id: str | None = None
    created: dt.datetime | None = None
    messages: list[MessageRecord] = field(default_factory=list)


def _uuid(value, what: str) -> str:
    # Published files hold canonical ids: a regex match is several times cheaper than uuid.UUID.
    if type(value) is str and len(value) == 36 and _CANONICAL.match(value):
        return value
    if not isinstance(value, str) or not UUID_RE.match(value):
        raise FormatError(f"{what} {value!r} is not a UUID")
    return str(uuid.UUID(value))


def _opt(node: dict, key: str, kind: type | tuple, what: str | None = None):
    value = node.get(key)
    if value is None or type(value) is kind:  # the common case, decided without isinstance
        return value
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise FormatError(f"{what or key} must be {_kind_name(kind)}, not {value!r:.40}")
    return value


def _kind_name(kind) -> str:
    names = {str: "text", int: "a whole number", bool: "true or false", dict: "an object", list: "a list"}
    if isinstance(kind, tuple):
        return " or ".join(names.get(k, k.__name__) for k in kind)
    return names.get(kind, kind.__name__)


def _time(value) -> dt.datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise FormatError(f"created_date must be an ISO 8601 time, not {value!r:.40}")
    try:
        t = dt.datetime.fromisoformat(value)
    except ValueError:
        raise FormatError(f"created_date {value!r:.40} is not an ISO 8601 time") from None
    if t.tzinfo is dt.UTC:  # "+00:00", as published: nothing to convert
        return t
    return t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t.astimezone(dt.UTC)


def _emojis(value) -> dict[str, int] | None:
    if value is None:
        return None
    if type(value) is not dict:
        raise FormatError("emojis must be an object of emoji: count")
    for k, v in value.items():
        if type(v) is not int or len(k) > 32:  # type(), not isinstance: true is not a count
            raise FormatError(f"emoji {k!r:.40} must have a whole-number count")
    return value


def _labels(value) -> dict[str, tuple[float, int]] | None:
    if value is None:
        return None
    if type(value) is not dict:
        raise FormatError("labels must be an object of name: {value, count}")
    out = {}
    # The hot loop of an import (a dozen labels per message): exact type() tests, no helpers.
    for name, v in value.items():
        if type(v) is dict:
            number, count = v.get("value"), v.get("count")
            kind = type(number)
            # x - x == 0 leaves out inf and nan, which SQLite cannot store as a label value.
            if (kind is float or kind is int) and number - number == 0 and type(count) is int and len(name) <= 32:
                try:
                    out[name] = (float(number), count)
                    continue
                except OverflowError:  # an int beyond any double
                    pass
        raise FormatError(f"label {name!r:.40} must be {{value: finite number, count: whole number}}")
    return out


def parse_node(node, tree_id: str, parent: MessageRecord | None) -> MessageRecord:
    """Check one message node and normalise it; `parent` is the node it hangs from, if known."""
    if not isinstance(node, dict):
        raise FormatError("a message must be a JSON object")
    mid = _uuid(node.get("message_id"), "message_id")
    role = node.get("role")
    if role not in ROLES:
        raise FormatError(f"message {mid}: role must be prompter or assistant, not {role!r:.40}")
    text = node.get("text")
    if not isinstance(text, str):
        raise FormatError(f"message {mid}: text is missing")
    lang = node.get("lang")
    if not isinstance(lang, str) or not 0 < len(lang) <= 32:
        raise FormatError(f"message {mid}: lang must be a language tag")
    parent_id = node.get("parent_id")
    parent_id = None if parent_id is None else _uuid(parent_id, "parent_id")
    if parent is not None:
        if parent_id not in (None, parent.id):
            raise FormatError(f"message {mid}: parent_id {parent_id} is not the message it replies to")
        parent_id = parent.id
        if role == parent.role:
            raise FormatError(f"message {mid}: a {role} message cannot reply to a {role} message")
    elif parent_id is None and role != "prompter":
        raise FormatError(f"message {mid}: a conversation must start with a prompter message")
    user_id = node.get("user_id")
    user_id = None if user_id is None else _uuid(user_id, "user_id")
    model_name = _opt(node, "model_name", str)
    if model_name is not None and len(model_name) > 256:
        raise FormatError(f"message {mid}: model_name is longer than 256 characters")
    detoxify = _opt(node, "detoxify", dict)
    # Unknown fields with a value are kept aside; a null one is the same as an absent one.
    extra: dict = {} if node.keys() <= KNOWN_FIELDS else {
        k: v for k, v in node.items() if k not in KNOWN_FIELDS and v is not None
    }  # fmt: skip
    emojis, labels = node.get("emojis"), node.get("labels")
    if emojis == {} or labels == {}:
        extra[EMPTY_KEY] = [k for k, v in (("emojis", emojis), ("labels", labels)) if v == {}]
    created = _time(node.get("created_date"))
    if created is None:
        extra[NO_TIME_KEY] = True
    return MessageRecord(
        id=mid, tree_id=tree_id, parent_id=parent_id, role=role,
        depth=parent.depth + 1 if parent is not None else 0, lang=lang, text=text, user_id=user_id,
        created=created, review_count=_opt(node, "review_count", int) or 0,
        review_result=_opt(node, "review_result", bool), deleted=bool(_opt(node, "deleted", bool)),
        rank=_opt(node, "rank", int), synthetic=bool(_opt(node, "synthetic", bool)), model_name=model_name,
        emojis=_emojis(emojis), labels=_labels(labels), detoxify=detoxify,
        extra=extra or None,
    )  # fmt: skip


def _state(value) -> str:
    if value not in TREE_STATES:
        raise FormatError(f"tree_state {value!r:.40} is not a tree state ({', '.join(sorted(TREE_STATES))})")
    return value


def parse_tree(obj: dict) -> TreeRecord:
    """Check a trees-file line and flatten it, parents before children."""
    tree_id = _uuid(obj.get("message_tree_id"), "message_tree_id")
    tree = TreeRecord(tree_id, _state(obj.get("tree_state")), _opt(obj, "origin", str))
    prompt = obj.get("prompt")
    if not isinstance(prompt, dict):
        raise FormatError("prompt is missing")
    stack = [(prompt, None)]
    while stack:
        node, parent = stack.pop()
        msg = parse_node(node, tree_id, parent)
        if parent is None and msg.parent_id is not None:
            raise FormatError(f"the prompt {msg.id} has a parent_id")
        tree.messages.append(msg)
        replies = node.get("replies") or []
        if not isinstance(replies, list):
            raise FormatError(f"message {msg.id}: replies must be a list")
        stack.extend((r, msg) for r in reversed(replies))
    root = tree.messages[0]
    tree.lang, tree.author_id, tree.created = root.lang, root.user_id, root.created
    return tree


def parse_message(obj: dict) -> tuple[MessageRecord, str]:
    """Check a messages-file line: the message (depth still unknown) and its tree's state."""
    tree_id = _uuid(obj.get("message_tree_id"), "message_tree_id")
    return parse_node(obj, tree_id, None), _state(obj.get("tree_state"))


# --- writing ---------------------------------------------------------------------------------


class Anonymizer:
    """Replaces ids by sha256(collection, id, seed), shaped as UUIDs; the same id always maps alike."""

    def __init__(self, seed: str):
        self.seed = seed
        self._cache: dict[tuple[str, str], str] = {}

    def __call__(self, collection: str, value: str | None) -> str | None:
        if value is None:
            return None
        key = (collection, value)
        out = self._cache.get(key)
        if out is None:
            digest = hashlib.sha256(f"{collection}:{value}:{self.seed}".encode()).hexdigest()
            out = str(uuid.UUID(digest[:32]))
            if len(self._cache) < 2_000_000:
                self._cache[key] = out
        return out

    def scrub(self, value):
        """Any UUID inside free-form data (events, unknown fields) replaced, whatever its key."""
        if isinstance(value, str):
            return self("message", str(uuid.UUID(value))) if UUID_RE.match(value) else value
        if isinstance(value, list):
            return [self.scrub(v) for v in value]
        if isinstance(value, dict):
            out = {}
            for k, v in value.items():
                collection = "user" if k == "user_id" else "message"
                if isinstance(v, str) and UUID_RE.match(v):
                    out[k] = self(collection, str(uuid.UUID(v)))
                else:
                    out[k] = self.scrub(v)
            return out
        return value


def open_text(path: str | Path, mode: str = "r") -> io.TextIOBase:
    """A text file, gzip-compressed when its name ends in .gz."""
    if str(path).endswith(".gz"):
        # compresslevel 6: nearly the size of 9 at a fraction of the time on a large export.
        return gzip.open(path, mode + "t", encoding="utf-8", compresslevel=6) if "w" in mode else gzip.open(path, "rt", encoding="utf-8")
    return open(path, mode, encoding="utf-8")
