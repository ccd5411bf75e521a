"""oasst export lines built from stored rows: nesting, filters, ordering, anonymisation, JSON text.

The common node (no unknown fields kept aside, no events) is written by one format string, its
labels and detoxify scores as the JSON text already stored (core/label_means.py): building a dict
per node and a dict per label for json.dumps, and repr() of two million floats, was most of an
export's time. Any other node goes through a dict and json.dumps as before, so both give the same
JSON.

A chunk's emoji rows become each message's emojis text in `Renderer.grouped`, pieces looked up in
a cache through map() (no Python code per row): the rows arrive grouped by message and ordered by
emoji, from SQL. The fields that few messages differ in (role, lang, review_count ...
model_name) are written once per distinct combination.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Sequence
from itertools import groupby
from operator import itemgetter
from json.encoder import encode_basestring as _q  # the C encoder, ensure_ascii=False

from core.oasst_format import EMPTY_KEY, NO_TIME_KEY, Anonymizer

# A stored message as read: (id, tree_id, parent_id, user_id, created, text, role, lang, review_count,
#  review_result, deleted, rank, synthetic, model_name, detoxify_json, extra_json, key). Ids and the
#  time are as stored; the Renderer's `dash` and `iso` turn them into the format's text. key: the
#  message as labels and emojis are keyed.
MessageRow = tuple
ID, TREE, PARENT, USER, CREATED, TEXT, ROLE, LANG, REVIEWS, RESULT, DELETED, RANK, SYNTH, MODEL, DETOX, EXTRA, KEY = range(17)
_BOOL = {None: "null", True: "true", False: "false"}  # 0 and 1 (SQLite) hash as False and True
_FIRST, _SECOND, _EMOJI = itemgetter(0), itemgetter(1), itemgetter(1, 2)
_FIELDS = itemgetter(ROLE, LANG, REVIEWS, RESULT, DELETED, RANK, SYNTH, MODEL)


def _grouped(rows: Sequence, key_of: Callable, cache: dict, render: Callable) -> dict:
    """{message key: its rows' pieces joined}, rows grouped by message key (first column), each
    piece from `cache` by `key_of(row)` or else `render(key_of(row))`: no Python code per row."""
    pieces = list(map(cache.get, map(key_of, rows)))
    i = -1
    try:
        while True:  # misses only: list.index searches in C
            i = pieces.index(None, i + 1)
            key = key_of(rows[i])
            pieces[i] = cache.get(key) or render(key)
    except ValueError:
        pass
    return {key: "{" + ", ".join(map(_SECOND, group)) + "}" for key, group in groupby(zip(map(_FIRST, rows), pieces), _FIRST)}


def dash_hex(value: str) -> str:
    """An id stored as 32 hex digits (SQLite) in canonical dashed form."""
    return f"{value[:8]}-{value[8:12]}-{value[12:16]}-{value[16:20]}-{value[20:]}"


class Renderer:
    """Turns one tree's rows into output lines, with caches that live for one export.

    `dash` and `iso` turn a stored id and creation time into the format's text."""

    def __init__(self, fmt: str, include_deleted: bool, include_spam: bool, include_synthetic: bool, anon: Anonymizer | None,
                 dash: Callable[[str], str], iso: Callable[[object], str]):  # fmt: skip
        self.trees_format = fmt == "trees"
        self.include = (include_deleted, include_spam, include_synthetic)
        self.anon = anon
        self.dash, self.iso = dash, iso
        self._strings: dict[str, str] = {}  # role, lang, model name -> JSON string
        self._emojis: dict[tuple, str] = {}  # (emoji, count) -> rendered piece
        self._fields: dict[tuple, str] = {}  # role, lang ... model_name -> their part of a node
        self._users: dict[str, str] = {}  # stored user id -> JSON as written
        self._marker = f"\ue000{secrets.token_hex(16)}\ue000"

    def keep(self, m: MessageRow) -> bool:
        """Whether the filters keep this message (and so its subtree)."""
        deleted, spam, synthetic = self.include
        if m[DELETED] and not deleted:
            return False
        if m[RESULT] is not None and not m[RESULT] and not spam:
            return False
        return not (m[SYNTH] and not synthetic)

    def grouped(self, labels: Sequence, emojis: Sequence) -> tuple[dict, dict]:
        """A chunk's labels and emojis as each message's JSON text, from rows (key, labels text) and
        (key, emoji, count), the emoji rows grouped by message key and in emoji order."""
        return dict(labels), _grouped(emojis, _EMOJI, self._emojis, self._emoji_piece)

    def _emoji_piece(self, key: tuple) -> str:
        emoji, count = key
        piece = json.dumps({emoji: count}, ensure_ascii=False)[1:-1]  # as json.dumps writes the whole dict
        if len(self._emojis) < 100_000:
            self._emojis[key] = piece
        return piece

    def tree(self, tree_id: str, state: str, origin: str | None, rows: Sequence[MessageRow], texts: tuple[dict, dict],
             events: dict) -> tuple[list[str], int]:  # fmt: skip
        """The lines of one tree (none when its prompt is filtered out) and how many messages they hold.

        `texts` is what `grouped()` returned for the chunk; `events` is keyed by canonical id."""
        children: dict[str | None, list[MessageRow]] = {}
        ids = {m[ID] for m in rows}
        root = None
        for m in rows:
            pid = m[PARENT]
            if pid is None:
                root = m
            elif pid in ids:
                children.setdefault(pid, []).append(m)
        if root is None or not self.keep(root):
            return [], 0
        for kids in children.values():
            if len(kids) > 1:
                kids.sort(key=self._rank_key)
        out_tree = self.anon("message", tree_id) if self.anon else tree_id
        if self.trees_format:
            text, count = self._subtree(root, children, texts, events)
            line = (f'{{"message_tree_id": "{out_tree}", "tree_state": {_q(state)}, "prompt": {text}, '
                    f'"origin": {"null" if origin is None else _q(origin)}}}\n')  # fmt: skip
            return [line], count
        lines, stack, flat = [], [(root, "null")], (_q(out_tree), _q(state))
        dash, keep, anon = self.dash, self.keep, self.anon
        while stack:
            m, parent = stack.pop()
            mid = dash(m[ID])
            if m[ID] in children:
                kept = [c for c in children[m[ID]] if keep(c)]
                parent_of_kept = '"' + (mid if anon is None else anon("message", mid)) + '"'
                stack.extend([(c, parent_of_kept) for c in reversed(kept)])
            lines.append(self._node(m, mid, parent, None, texts, events, flat) + "\n")
        return lines, len(lines)

    def _rank_key(self, m: MessageRow) -> tuple:
        rank, created = m[RANK], m[CREATED]
        return (rank is None, rank or 0, "" if created is None else self.iso(created), self.dash(m[ID]))

    def _subtree(self, root: MessageRow, children: dict, texts: tuple, events: dict) -> tuple[str, int]:
        # Post-order without recursion: a node is written once all its kept replies are. A node's
        # id is dashed on its first visit, for its replies' parent_id.
        done: dict[str, str] = {}
        stack, count, keep, dash, anon = [(root, None, "null", None)], 0, self.keep, self.dash, self.anon
        while stack:
            m, kept, parent, mid = stack.pop()
            if kept is None:  # first visit: its replies go first, if any
                mid = dash(m[ID])
                kept = [c for c in children[m[ID]] if keep(c)] if m[ID] in children else ()
                if kept:
                    stack.append((m, kept, parent, mid))
                    parent_of_kept = '"' + (mid if anon is None else anon("message", mid)) + '"'
                    stack.extend([(c, None, parent_of_kept, None) for c in kept])
                    continue
            done[m[ID]] = self._node(m, mid, parent, ", ".join([done.pop(c[ID]) for c in kept]), texts, events, None)
            count += 1
        return done[root[ID]], count

    def _node(self, m: MessageRow, mid: str, parent: str, replies: str | None, texts: tuple, events: dict,
              flat: tuple[str, str] | None) -> str:  # fmt: skip
        """One node's JSON: `mid` its canonical id, `parent` its parent_id's JSON as written; `replies`
        the rendered list (trees format) or None (messages format, `flat` its tree's id and state)."""
        ev = events.get(mid) if events else None
        if m[EXTRA] is not None or ev is not None:
            return self._node_generic(m, mid, replies, texts, ev, flat)
        key, uid, created, detox = m[KEY], m[USER], m[CREATED], m[DETOX]
        lab, emo = texts[0].get(key), texts[1].get(key)
        if self.anon is not None:
            mid = self.anon("message", mid)
        # The fields few messages differ in, written once per distinct combination.
        fields = self._fields.get(_FIELDS(m)) or self._fields_text(m)
        user = "null" if uid is None else (self._users.get(uid) or self._user_text(uid))
        created = "null" if created is None else '"' + self.iso(created) + '"'
        head = (f'{{"message_id": "{mid}", "parent_id": {parent}, "user_id": {user}, "created_date": {created}, '
                f'"text": {_q(m[TEXT])}, {fields}"emojis": {"null" if emo is None else emo}, ')  # fmt: skip
        tail = f'"labels": {"null" if lab is None else lab}, "events": null, "detoxify": {"null" if detox is None else detox}, '
        if replies is not None:
            return f'{head}"replies": [{replies}], {tail}"message_tree_id": null, "tree_state": null}}'
        return f'{head}{tail}"message_tree_id": {flat[0]}, "tree_state": {flat[1]}}}'

    def _fields_text(self, m: MessageRow) -> str:
        s = self._str
        text = (f'"role": {s(m[ROLE])}, "lang": {s(m[LANG])}, "review_count": {m[REVIEWS]}, '
                f'"review_result": {_BOOL[m[RESULT]]}, "deleted": {_BOOL[bool(m[DELETED])]}, '
                f'"rank": {"null" if m[RANK] is None else m[RANK]}, "synthetic": {_BOOL[bool(m[SYNTH])]}, '
                f'"model_name": {s(m[MODEL])}, ')  # fmt: skip
        if len(self._fields) < 100_000:
            self._fields[_FIELDS(m)] = text
        return text

    def _user_text(self, uid: str) -> str:
        out = self.dash(uid)
        text = '"' + (out if self.anon is None else self.anon("user", out)) + '"'
        if len(self._users) < 1_000_000:
            self._users[uid] = text
        return text

    def _str(self, value: str | None) -> str:
        if value is None:
            return "null"
        out = self._strings.get(value)
        if out is None:
            scrubbed = self.anon.scrub(value) if self.anon is not None else value
            out = _q(scrubbed)
            if len(self._strings) < 100_000:
                self._strings[value] = out
        return out

    def _node_generic(self, m: MessageRow, mid: str, replies: str | None, texts: tuple, ev: dict | None,
                      flat: tuple[str, str] | None) -> str:  # fmt: skip
        lab, emo = texts[0].get(m[KEY]), texts[1].get(m[KEY])
        dash, pid, uid, created = self.dash, m[PARENT], m[USER], m[CREATED]
        node = {
            "message_id": mid, "parent_id": None if pid is None else dash(pid),
            "user_id": None if uid is None else dash(uid), "created_date": None if created is None else self.iso(created),
            "text": m[TEXT], "role": m[ROLE], "lang": m[LANG], "review_count": m[REVIEWS],
            "review_result": None if m[RESULT] is None else bool(m[RESULT]),
            "deleted": bool(m[DELETED]), "rank": m[RANK], "synthetic": bool(m[SYNTH]), "model_name": m[MODEL],
            "emojis": None if emo is None else json.loads(emo), "replies": [],
            "labels": None if lab is None else json.loads(lab),
            "events": ev, "detoxify": None if m[DETOX] is None else json.loads(m[DETOX]),
            "message_tree_id": None, "tree_state": None,
        }  # fmt: skip
        if m[EXTRA] is not None:
            apply_extra(node, json.loads(m[EXTRA]))
        if self.anon is not None:
            anonymize_node(node, self.anon)
        if flat is not None:
            del node["replies"]
            node["message_tree_id"], node["tree_state"] = json.loads(flat[0]), json.loads(flat[1])
            return json.dumps(node, ensure_ascii=False)
        # The replies are JSON already: a marker in their place (unguessable, so no text can hold
        # it), replaced once.
        node["replies"] = self._marker
        return json.dumps(node, ensure_ascii=False).replace(f'"{self._marker}"', f"[{replies or ''}]", 1)


def apply_extra(node: dict, extra: dict) -> None:
    """Put back what an import kept aside: unknown fields, empty dicts, a missing creation time."""
    for key in extra.get(EMPTY_KEY, ()):
        if node.get(key) is None:
            node[key] = {}
    if extra.get(NO_TIME_KEY):
        node["created_date"] = None
    for key, value in extra.items():
        if key.startswith("_"):
            continue
        if key == "events" and node["events"] is not None and isinstance(value, dict):
            node["events"] = {**value, **node["events"]}
        else:
            node[key] = value if node.get(key) is None else node[key]


def anonymize_node(n: dict, anon: Anonymizer) -> None:
    """Replace every id in one node (its replies excepted) by its anonymised form."""
    for key in n:
        if key in ("message_id", "parent_id"):
            n[key] = anon("message", n[key])
        elif key == "user_id":
            n[key] = anon("user", n[key])
        elif key not in ("replies", "text", "labels", "emojis", "detoxify", "message_tree_id") and isinstance(n[key], (dict, list, str)):
            n[key] = anon.scrub(n[key])
