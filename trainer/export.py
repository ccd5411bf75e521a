"""Read oasst-format exports (trees or messages files, plain or .gz), validate and filter them.

Readers accept absent and null fields alike: the early oasst format lacks user_id, created_date,
labels, emojis and rank in places, and the full format writes nulls out.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROLES = ("prompter", "assistant")


@dataclass
class Message:
    """One message node of a tree, with its kept replies."""

    id: str
    parent_id: str | None
    tree_id: str
    role: str
    text: str
    lang: str | None = None
    rank: int | None = None
    synthetic: bool = False
    deleted: bool = False
    review_result: bool | None = None
    user_id: str | None = None
    labels: dict = field(default_factory=dict)
    ballots: list = field(default_factory=list)
    replies: list["Message"] = field(default_factory=list)


@dataclass
class Tree:
    id: str
    state: str | None
    root: Message


@dataclass
class FilterOptions:
    """Which trees and messages a training set may use."""

    tree_states: tuple[str, ...] = ("ready_for_export",)
    require_review: bool = True  # review_result must be true (null means not yet reviewed)
    langs: tuple[str, ...] | None = None  # None: every language
    synthetic: str = "keep"  # keep | drop | rank-only (never an SFT target, still ranked)
    spam_threshold: float | None = 0.5  # drop messages whose "spam" label value reaches this


@dataclass
class Report:
    """Counts of what was read and kept, and of every drop by reason."""

    trees_read: int = 0
    trees_kept: int = 0
    messages_read: int = 0
    messages_kept: int = 0
    dropped_trees: Counter = field(default_factory=Counter)
    dropped_messages: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict:
        """JSON-ready form."""
        return {"trees_read": self.trees_read, "trees_kept": self.trees_kept,
                "messages_read": self.messages_read, "messages_kept": self.messages_kept,
                "dropped_trees": dict(sorted(self.dropped_trees.items())),
                "dropped_messages": dict(sorted(self.dropped_messages.items()))}


def file_sha256(path: str | Path) -> str:
    """Hash of the export file as stored (compressed bytes if .gz)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _lines(path: str | Path):
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def _message(node: dict, tree_id: str) -> Message:
    events = node.get("events") or {}
    return Message(
        id=node["message_id"], parent_id=node.get("parent_id"), tree_id=tree_id,
        role=node.get("role"), text=node.get("text") or "", lang=node.get("lang"),
        rank=node.get("rank"), synthetic=bool(node.get("synthetic")),
        deleted=bool(node.get("deleted")), review_result=node.get("review_result"),
        user_id=node.get("user_id"), labels=node.get("labels") or {},
        ballots=list(events.get("ranking") or []))


def _from_nested(node: dict, tree_id: str) -> Message:
    msg = _message(node, tree_id)
    msg.replies = [_from_nested(r, tree_id) for r in node.get("replies") or []]
    return msg


def read_export(path: str | Path) -> tuple[list[Tree], list[tuple[str, str]]]:
    """Read a trees or messages file; returns trees and (message_id, reason) for unplaceable messages.

    A messages file is recognised per line by the absence of a nested "prompt".
    """
    trees: list[Tree] = []
    flat: dict[str, list[dict]] = {}
    states: dict[str, str | None] = {}
    for obj in _lines(path):
        if "prompt" in obj:
            tid = obj.get("message_tree_id") or obj["prompt"]["message_id"]
            trees.append(Tree(tid, obj.get("tree_state"), _from_nested(obj["prompt"], tid)))
        else:
            tid = obj.get("message_tree_id") or obj["message_id"]
            flat.setdefault(tid, []).append(obj)
            states.setdefault(tid, obj.get("tree_state"))
    orphans: list[tuple[str, str]] = []
    for tid, nodes in flat.items():
        msgs = {n["message_id"]: _message(n, tid) for n in nodes}
        roots = [m for m in msgs.values() if m.parent_id is None]
        for m in msgs.values():
            if m.parent_id is not None:
                if m.parent_id in msgs:
                    msgs[m.parent_id].replies.append(m)
                else:
                    orphans.append((m.id, "parent_missing"))
        if len(roots) != 1:
            orphans += [(m.id, "no_single_root") for m in msgs.values() if m.parent_id is None]
            continue
        trees.append(Tree(tid, states[tid], roots[0]))
    return trees, orphans


def _count(msg: Message) -> int:
    return 1 + sum(_count(r) for r in msg.replies)


def _drop_reason(msg: Message, parent: Message | None, opts: FilterOptions) -> str | None:
    """Why a message (and so its subtree) cannot be used, or None."""
    if msg.role not in ROLES:
        return "bad_role"
    if parent is None and msg.role != "prompter":
        return "root_not_prompter"
    if parent is not None and msg.parent_id not in (None, parent.id):
        return "parent_mismatch"
    if parent is not None and msg.role == parent.role:
        return "roles_not_alternating"
    if msg.deleted:
        return "deleted"
    if not msg.text.strip():
        return "empty_text"
    if msg.review_result is False:
        return "review_rejected"
    if opts.require_review and msg.review_result is None:
        return "review_pending"
    if opts.langs is not None and msg.lang not in opts.langs:
        return "lang"
    if opts.synthetic == "drop" and msg.synthetic:
        return "synthetic"
    spam = (msg.labels.get("spam") or {}).get("value")
    if opts.spam_threshold is not None and spam is not None and spam >= opts.spam_threshold:
        return "spam"
    return None


def _prune(msg: Message, parent: Message | None, opts: FilterOptions, report: Report) -> bool:
    """Keep msg? Drops a rejected message's whole subtree, counting every message by reason."""
    reason = _drop_reason(msg, parent, opts)
    if reason is not None:
        report.dropped_messages[reason] += 1
        # Replies to a dropped message lose their context, so they go too.
        below = _count(msg) - 1
        if below:
            report.dropped_messages[f"under_{reason}"] += below
        return False
    msg.replies = [r for r in msg.replies if _prune(r, msg, opts, report)]
    report.messages_kept += 1
    return True


def load_filtered(path: str | Path, opts: FilterOptions | None = None) -> tuple[list[Tree], Report]:
    """Read, validate and filter an export; every dropped tree and message is counted by reason."""
    opts = opts or FilterOptions()
    trees, orphans = read_export(path)
    report = Report()
    for _, reason in orphans:
        report.messages_read += 1
        report.dropped_messages[reason] += 1
    seen: set[str] = set()
    kept: list[Tree] = []
    for tree in trees:
        n = _count(tree.root)
        report.trees_read += 1
        report.messages_read += n
        if tree.id in seen:
            report.dropped_trees["duplicate_tree"] += 1
            report.dropped_messages["duplicate_tree"] += n
            continue
        seen.add(tree.id)
        if opts.tree_states and tree.state not in opts.tree_states:
            report.dropped_trees[f"tree_state:{tree.state}"] += 1
            report.dropped_messages["tree_state"] += n
            continue
        if not _prune(tree.root, None, opts, report):
            report.dropped_trees["root_dropped"] += 1
            continue
        report.trees_kept += 1
        kept.append(tree)
    return kept, report
