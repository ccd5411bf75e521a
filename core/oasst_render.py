"""oasst export lines built from stored rows: nesting, filters, ordering, anonymisation, JSON text.

The common node (no unknown fields kept aside, no events) is written by one format string, its
labels from a cache of rendered `"name": {"value": v, "count": n}` pieces and its detoxify scores
as the JSON text already stored: building a dict per node and a dict per label for json.dumps,
and repr() of two million floats, was most of an export's time. Any other node goes through a
dict and json.dumps as before, so both give the same JSON.

A chunk's label rows become each message's labels text in `Renderer.labels`, with the cache
looked up through map() (no Python code per label row): the rows arrive grouped by message and
ordered by name, from SQL.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from itertools import groupby
from operator import itemgetter
from json.encoder import encode_basestring as _q  # the C encoder, ensure_ascii=False

from core.oasst_format import EMPTY_KEY, NO_TIME_KEY, Anonymizer

# A stored message, ids and times already as the format writes them:
# (id, tree_id, parent_id, user_id, created_iso, text, role, lang, review_count, review_result,
#  deleted, rank, synthetic, model_name, detoxify_json, extra_json, key, head), key: the message as
#  labels and emojis are keyed; head: None, or the node's JSON up to `"emojis": ` written by the
#  database, in which case user_id, text, role, lang, review_count and model_name may be None.
MessageRow = tuple
ID, TREE, PARENT, USER, CREATED, TEXT, ROLE, LANG, REVIEWS, RESULT, DELETED, RANK, SYNTH, MODEL, DETOX, EXTRA, KEY, HEAD = range(18)
_BOOL = {None: "null", True: "true", False: "false"}  # 0 and 1 (SQLite) hash as False and True
_HEAD = (
    '{{"message_id": "{}", "parent_id": {}, "user_id": {}, "created_date": {}, "text": {}, "role": {}, "lang": {}, '
    '"review_count": {}, "review_result": {}, "deleted": {}, "rank": {}, "synthetic": {}, "model_name": {}, "emojis": {}, '
)  # fmt: skip
_TAIL = '"labels": {}, "events": null, "detoxify": {}, "message_tree_id": {}, "tree_state": {}}}'
_NODE_TREE = _HEAD + '"replies": [{}], ' + _TAIL  # trees file: replies nested
_NODE_FLAT = _HEAD + _TAIL  # messages file: no replies key
_FIRST, _SECOND, _LABEL = itemgetter(0), itemgetter(1), itemgetter(1, 2, 3)


class Renderer:
    """Turns one tree's rows into output lines, with caches that live for one export."""

    def __init__(self, fmt: str, include_deleted: bool, include_spam: bool, include_synthetic: bool, anon: Anonymizer | None):
        self.trees_format = fmt == "trees"
        self.include = (include_deleted, include_spam, include_synthetic)
        self.anon = anon
        self._strings: dict[str, str] = {}  # role, lang, model name -> JSON string
        self._labels: dict[tuple, str] = {}  # (name, value, count) -> rendered piece
        self._marker = f"\ue000{secrets.token_hex(16)}\ue000"

    def keep(self, m: MessageRow) -> bool:
        """Whether the filters keep this message (and so its subtree)."""
        deleted, spam, synthetic = self.include
        if m[DELETED] and not deleted:
            return False
        if m[RESULT] is not None and not m[RESULT] and not spam:
            return False
        return not (m[SYNTH] and not synthetic)

    def labels(self, rows: Sequence, raw_keys: set) -> tuple[dict, dict]:
        """Each message's labels as JSON text, from rows (key, name, value, count) grouped by message
        key and ordered by name; the rows themselves too for the messages in `raw_keys`."""
        cache = self._labels
        pieces = list(map(cache.get, map(_LABEL, rows)))
        i = -1
        try:
            while True:  # misses only: list.index searches in C
                i = pieces.index(None, i + 1)
                key = _LABEL(rows[i])
                pieces[i] = cache.get(key) or self._label_piece(key)
        except ValueError:
            pass
        texts = {key: "{" + ", ".join(map(_SECOND, group)) + "}" for key, group in groupby(zip(map(_FIRST, rows), pieces), _FIRST)}
        kept: dict = {}
        if raw_keys:
            for key, group in groupby(rows, _FIRST):
                if key in raw_keys:
                    kept[key] = [_LABEL(r) for r in group]
        return texts, kept

    def _label_piece(self, key: tuple) -> str:
        name, value, count = key
        piece = f'{_q(name)}: {{"value": {float(value)!r}, "count": {count}}}'
        if len(self._labels) < 1_000_000:
            self._labels[key] = piece
        return piece

    def tree(self, tree_id: str, state: str, origin: str | None, rows: Sequence[MessageRow], labels: tuple[dict, dict],
             emojis: dict, events: dict) -> tuple[list[str], int]:  # fmt: skip
        """The lines of one tree (none when its prompt is filtered out) and how many messages they hold.

        `labels` is what `labels()` returned for the chunk."""
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
            kids.sort(key=_rank_key)
        out_tree = self.anon("message", tree_id) if self.anon else tree_id
        if self.trees_format:
            text, count = self._subtree(root, children, labels, emojis, events)
            line = (f'{{"message_tree_id": "{out_tree}", "tree_state": {_q(state)}, "prompt": {text}, '
                    f'"origin": {"null" if origin is None else _q(origin)}}}\n')  # fmt: skip
            return [line], count
        lines, stack, extra = [], [root], (_q(out_tree), _q(state))
        while stack:
            m = stack.pop()
            kept = [c for c in children.get(m[ID], ()) if self.keep(c)]
            stack.extend(reversed(kept))
            lines.append(self._node(m, None, labels, emojis, events, extra) + "\n")
        return lines, len(lines)

    def _subtree(self, root: MessageRow, children: dict, labels: dict, emojis: dict, events: dict) -> tuple[str, int]:
        # Post-order without recursion: a node is written once all its kept replies are.
        done: dict[str, str] = {}
        stack, count = [(root, False)], 0
        while stack:
            m, expanded = stack.pop()
            kept = [c for c in children.get(m[ID], ()) if self.keep(c)]
            if not expanded and kept:
                stack.append((m, True))
                stack.extend((c, False) for c in kept)
                continue
            done[m[ID]] = self._node(m, ", ".join([done.pop(c[ID]) for c in kept]), labels, emojis, events, None)
            count += 1
        return done[root[ID]], count

    def _node(self, m: MessageRow, replies: str | None, labels: dict, emojis: dict, events: dict,
              flat: tuple[str, str] | None) -> str:  # fmt: skip
        """One node's JSON; `replies` is the rendered list (trees format) or None (messages format)."""
        head = m[HEAD]
        if head is not None:  # no unknown fields, no events
            key = m[KEY]
            emo, lab, detox = emojis.get(key), labels[0].get(key), m[DETOX]
            emo = "null" if emo is None else json.dumps(emo, ensure_ascii=False)
            if replies is not None:
                return (f'{head}{emo}, "replies": [{replies}], "labels": {"null" if lab is None else lab}, "events": null, '
                        f'"detoxify": {"null" if detox is None else detox}, "message_tree_id": null, "tree_state": null}}')  # fmt: skip
            return (f'{head}{emo}, "labels": {"null" if lab is None else lab}, "events": null, '
                    f'"detoxify": {"null" if detox is None else detox}, "message_tree_id": {flat[0]}, "tree_state": {flat[1]}}}')  # fmt: skip
        mid = m[ID]
        ev = events.get(mid)
        if m[EXTRA] is not None or ev is not None:
            return self._node_generic(m, replies, labels, emojis, ev, flat)
        anon, s = self.anon, self._str
        uid, pid = m[USER], m[PARENT]
        if anon is not None:
            mid, pid, uid = anon("message", mid), anon("message", pid), anon("user", uid)
        lab = labels[0].get(m[KEY])
        emo = emojis.get(m[KEY])
        template, nested = (_NODE_FLAT, ()) if replies is None else (_NODE_TREE, (replies,))
        return template.format(
            mid, "null" if pid is None else f'"{pid}"', "null" if uid is None else f'"{uid}"',
            "null" if m[CREATED] is None else f'"{m[CREATED]}"', _q(m[TEXT]), s(m[ROLE]), s(m[LANG]), m[REVIEWS],
            _BOOL[m[RESULT]], _BOOL[bool(m[DELETED])], "null" if m[RANK] is None else m[RANK],
            _BOOL[bool(m[SYNTH])], s(m[MODEL]), "null" if emo is None else json.dumps(emo, ensure_ascii=False),
            *nested, "null" if lab is None else lab,
            "null" if m[DETOX] is None else m[DETOX], *(flat or ("null", "null")),
        )  # fmt: skip

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

    def _node_generic(self, m: MessageRow, replies: str | None, labels: dict, emojis: dict, ev: dict | None,
                      flat: tuple[str, str] | None) -> str:  # fmt: skip
        lab = labels[1].get(m[KEY])
        node = {
            "message_id": m[ID], "parent_id": m[PARENT], "user_id": m[USER], "created_date": m[CREATED],
            "text": m[TEXT], "role": m[ROLE], "lang": m[LANG], "review_count": m[REVIEWS],
            "review_result": None if m[RESULT] is None else bool(m[RESULT]),
            "deleted": bool(m[DELETED]), "rank": m[RANK], "synthetic": bool(m[SYNTH]), "model_name": m[MODEL],
            "emojis": emojis.get(m[KEY]), "replies": [],
            "labels": None if lab is None else {n: {"value": float(v), "count": c} for n, v, c in sorted(lab)},
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


def _rank_key(m: MessageRow):
    rank = m[RANK]
    return (rank is None, rank or 0, m[CREATED] or "", m[ID])


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
