"""The importer's fast path for trees-file lines agrees with the full checks, line for line.

Each file is parsed twice, once as usual and once with the fast path turned off: the rows, the
counts, the errors and the ids seen must be identical, for good lines and for broken ones.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import random

import pytest

from core.oasst_db import Raw, RawText
from core.oasst_rows import Importer, ImportReport
from tests.oasst.helpers import OASST2

NOW = dt.datetime(2026, 1, 1, 12, 0, 0, 123456, tzinfo=dt.UTC)

# Values to put in a node's fields: right ones, wrong types, odd but valid forms.
ODD = [
    None, True, False, 0, 1, -3, 2**80, 1.5, float("inf"), float("nan"), "", "x", "x" * 40, [], [1], {}, {"a": 1},
    "A52F790D-6A8D-4B73-B79F-3DA1BE7F6724", "a52f790d6a8d4b73b79f3da1be7f6724", "not-a-uuid",
    "2023-02-12T19:06:16.233571+00:00", "2023-02-12T19:06:16+00:00", "2023-02-12T19:06:16.233571+02:00",
    "2023-02-12T19:06:16.233571", "2023-02-12 19:06:16.233571+00:00", "2023-02-12T19:06:16,233571+00:00",
    "2023-13-12T19:06:16.233571+00:00", "2023-02-12T19:06:16.233571Z", "prompter", "assistant", "en",
    {"labels": {"spam": {"value": 0.5, "count": 2}}},  # a labels object in the shape cut from lines, misplaced
]  # fmt: skip
FIELDS = [
    "message_id", "parent_id", "user_id", "created_date", "text", "role", "lang", "review_count", "review_result",
    "deleted", "rank", "synthetic", "model_name", "emojis", "labels", "detoxify", "replies", "events", "extra_field",
]  # fmt: skip
LABEL_VALUES = [
    {"value": 0.5, "count": 2}, {"value": 1, "count": 1}, {"value": True, "count": 1}, {"value": 0.5, "count": True},
    {"value": float("inf"), "count": 1}, {"value": float("nan"), "count": 1}, {"value": 0.5}, {"count": 1},
    {"value": "0.5", "count": 1}, {"value": 10**400, "count": 1}, [0.5, 1], None, 0.5,
]  # fmt: skip


def _nodes(tree: dict) -> list[dict]:
    out, stack = [], [tree.get("prompt")]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            out.append(node)
            replies = node.get("replies")
            if isinstance(replies, list):
                stack.extend(replies)
    return out


def _mutate(tree: dict, rng: random.Random, pool: list[dict]) -> dict:
    """One to three changes to a tree: a field given an odd value, removed, or labels and emojis bent."""
    tree = copy.deepcopy(tree)
    for _ in range(rng.randint(1, 3)):
        nodes = _nodes(tree)
        if not nodes:  # the prompt itself was replaced
            break
        node = rng.choice(nodes)
        what = rng.random()
        if what < 0.45:
            node[rng.choice(FIELDS)] = copy.deepcopy(rng.choice(ODD))
        elif what < 0.55:
            node.pop(rng.choice(FIELDS), None)
        elif what < 0.7:
            labels = node.get("labels") if isinstance(node.get("labels"), dict) else {}
            labels[rng.choice(["spam", "quality", "y" * 33, "new_label"])] = copy.deepcopy(rng.choice(LABEL_VALUES))
            node["labels"] = labels
        elif what < 0.78:
            node["emojis"] = rng.choice([{"+1": 2}, {"+1": True}, {"e" * 33: 1}, {"+1": 1.0}, {}, [], None])
        elif what < 0.86:  # a reply that is another node of the file, or of this tree (same id twice)
            node.setdefault("replies", [])
            if isinstance(node["replies"], list):
                node["replies"].append(copy.deepcopy(rng.choice(pool + nodes)))
        elif what < 0.93:
            tree[rng.choice(["message_tree_id", "tree_state", "origin", "prompt"])] = copy.deepcopy(rng.choice(ODD))
        else:
            node["role"] = "assistant" if node.get("role") == "prompter" else "prompter"
    return tree


def _parse(lines: list[str], raw: Raw, fast: bool) -> tuple:
    imp = Importer(raw, ImportReport("f"), batch=10**9)
    imp.now, imp.now_db = NOW, raw.time(NOW)
    imp._fast = fast
    try:
        imp.parse(lines, 1)
        outcome = None
    except Exception as exc:  # noqa: BLE001 - an escaping error must escape both ways alike
        outcome = repr(exc)
    # Rows as written: label values and labels texts cut from the lines both become label_means rows.
    rows = [sorted(map(tuple, zip(*[iter(rows)] * len(cols))), key=repr) for _, cols, rows, _ in imp.batches(imp.rows)]
    return outcome, rows, vars(imp.report), imp.errors, imp.error_count, imp.seen, sorted(imp.users)


def _same(a, b) -> bool:
    # nan != nan: compare the rows through their JSON text.
    return json.dumps(a, default=str) == json.dumps(b, default=str)


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_fast_path_agrees_with_full_checks_on_good_and_broken_lines(dialect):
    raw = Raw(None, "sqlite") if dialect == "sqlite" else RawText(None, "postgresql")
    good = [json.loads(line) for line in OASST2.read_text().splitlines()[:120]]
    pool = [n for t in good[:20] for n in _nodes(t)]
    rng = random.Random(7)
    for round_ in range(200):
        lines = []
        for tree in rng.sample(good, 5):
            lines.append(json.dumps(_mutate(tree, rng, pool) if rng.random() < 0.5 else tree))
        if round_ % 3 == 0:
            lines.insert(rng.randrange(len(lines)), rng.choice(lines))  # a tree twice: ids seen twice
        fast, full = _parse(lines, raw, True), _parse(lines, raw, False)
        assert _same(fast, full), f"round {round_}"


def test_fast_path_takes_the_sample_whole():
    """The published sample is taken by the fast path (the slow path would be correct, only slower)."""
    imp = Importer(Raw(None, "sqlite"), ImportReport("f"), batch=10**9)
    lines = OASST2.read_text().splitlines()
    taken = sum(imp._fast_line(line, n)[0] for n, line in enumerate(lines, 1))
    assert taken == len(lines)
    assert len(imp.rows.label_texts) == 2 * 1479  # 1,479 of its 1,500 labels objects are stored as cut
