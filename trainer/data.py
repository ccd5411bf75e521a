"""Training sets derived from filtered trees: SFT threads, ranking groups, preference pairs, RL prompts.

Everything is split by tree with a stable hash of the tree id, so a re-export keeps each tree in
the same split and no tree crosses splits.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from trainer.export import FilterOptions, Message, Report, Tree, file_sha256, load_filtered

PAIR_MODES = ("all", "adjacent", "best-vs-rest")


def split_of(tree_id: str, val_fraction: float = 0.05, test_fraction: float = 0.0, salt: str = "chorus") -> str:
    """'train', 'val' or 'test' from a hash of the tree id alone (stable across exports)."""
    digest = hashlib.sha256(f"{salt}:{tree_id}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    if u < test_fraction:
        return "test"
    if u < test_fraction + val_fraction:
        return "val"
    return "train"


def _turn(m: Message) -> dict:
    return {"role": m.role, "text": m.text, "message_id": m.id}


def sft_threads(tree: Tree, *, once: bool = False, synthetic: str = "keep", max_rank: int | None = None) -> list[dict]:
    """Root-to-leaf threads, each cut to end on an assistant message.

    once: an assistant message shared by several threads is trained in the first only and is
    context elsewhere. synthetic='rank-only' keeps synthetic replies as context but never trains
    on them. max_rank: follow only assistant replies ranked better than this (unranked pass).
    """
    threads: list[list[Message]] = []

    def walk(m: Message, path: list[Message]) -> None:
        path = path + [m]
        replies = [r for r in m.replies
                   if not (max_rank is not None and r.role == "assistant" and r.rank is not None and r.rank >= max_rank)]
        if not replies:
            while path and path[-1].role != "assistant":
                path = path[:-1]
            if path:
                threads.append(path)
            return
        for r in replies:
            walk(r, path)

    walk(tree.root, [])
    out, seen_threads, trained = [], set(), set()
    for path in threads:
        key = path[-1].id
        if key in seen_threads:  # a prompter leaf trimmed back to an assistant already listed
            continue
        seen_threads.add(key)
        turns = []
        for m in path:
            t = _turn(m)
            if m.role == "assistant":
                t["train"] = not (synthetic == "rank-only" and m.synthetic) and not (once and m.id in trained)
                if t["train"]:
                    trained.add(m.id)
            turns.append(t)
        if any(t.get("train") for t in turns):
            out.append({"id": key, "tree_id": tree.id, "turns": turns})
    return out


def ballot_order(ballot: dict) -> list[str]:
    """Message ids of one ranking ballot, best first.

    oasst writes ``ranking`` as indices into ``ranked_message_ids`` (best first); ids are accepted too.
    """
    ranking = ballot.get("ranking") or []
    ids = ballot.get("ranked_message_ids") or []
    if ranking and all(isinstance(i, int) for i in ranking) and ids:
        return [ids[i] for i in ranking if 0 <= i < len(ids)]
    return [str(i) for i in ranking] if ranking else list(ids)


def _ballot_agreement(ballots: list[dict], better: str, worse: str) -> float | None:
    """Fraction of ballots ranking both messages that put `better` above `worse`."""
    votes = []
    for b in ballots:
        if b.get("not_rankable"):
            continue
        order = ballot_order(b)
        if better in order and worse in order:
            votes.append(order.index(better) < order.index(worse))
    return sum(votes) / len(votes) if votes else None


def _group_ballots(m: Message) -> list[dict]:
    """Ranking ballots about m's replies, wherever the export attached them, each once."""
    seen, out = set(), []
    for node in [m, *m.replies]:
        for b in node.ballots:
            if b.get("ranking_parent_id") not in (None, m.id):
                continue
            key = json.dumps(b, sort_keys=True)
            if key not in seen:
                seen.add(key)
                out.append(b)
    return out


def ranking_groups(tree: Tree) -> list[dict]:
    """A prompter message with its ranked assistant replies, best first, and any raw ballots."""
    groups = []

    def walk(m: Message, path: list[Message]) -> None:
        path = path + [m]
        ranked = sorted((r for r in m.replies if r.role == "assistant" and r.rank is not None),
                        key=lambda r: r.rank)
        if m.role == "prompter" and len(ranked) >= 2:
            ballots = _group_ballots(m)
            groups.append({
                "id": m.id, "tree_id": tree.id, "prompt": [_turn(p) for p in path],
                "replies": [{"message_id": r.id, "text": r.text, "rank": r.rank, "synthetic": r.synthetic}
                            for r in ranked],
                "ballots": ballots,
                "none_acceptable": bool(ballots) and sum(bool(b.get("not_rankable")) for b in ballots) * 2 > len(ballots),
            })
        for r in m.replies:
            walk(r, path)

    walk(tree.root, [])
    return groups


def preference_pairs(group: dict, mode: str = "all", min_agreement: float = 0.6) -> list[dict]:
    """Pairs (chosen, rejected) from a group; each group's pair weights sum to one.

    Tied ranks give no pair. With raw ballots, a pair fewer than min_agreement of the voters
    agree on is contested and dropped, and a group most voters found "none acceptable" gives none
    (its best reply is no better an example than its worst).
    """
    if mode not in PAIR_MODES:
        raise ValueError(f"pair mode must be one of {PAIR_MODES}")
    if group.get("none_acceptable"):
        return []
    rs = group["replies"]
    if mode == "all":
        cand = list(itertools.combinations(range(len(rs)), 2))
    elif mode == "adjacent":
        cand = [(i, i + 1) for i in range(len(rs) - 1)]
    else:
        cand = [(0, j) for j in range(1, len(rs))]
    pairs = []
    for i, j in cand:
        a, b = rs[i], rs[j]
        if a["rank"] == b["rank"]:
            continue
        agreement = _ballot_agreement(group.get("ballots") or [], a["message_id"], b["message_id"])
        if agreement is not None and agreement < min_agreement:
            continue
        pairs.append({"group_id": group["id"], "tree_id": group["tree_id"], "prompt": group["prompt"],
                      "chosen": a["text"], "rejected": b["text"],
                      "chosen_id": a["message_id"], "rejected_id": b["message_id"], "agreement": agreement})
    for p in pairs:
        p["weight"] = 1.0 / len(pairs)
    return pairs


def rl_prompts(tree: Tree) -> list[dict]:
    """Every prefix of the tree that ends on a prompter message."""
    out = []

    def walk(m: Message, path: list[Message]) -> None:
        path = path + [m]
        if m.role == "prompter":
            out.append({"id": m.id, "tree_id": tree.id, "turns": [_turn(p) for p in path]})
        for r in m.replies:
            walk(r, path)

    walk(tree.root, [])
    return out


@dataclass
class DataOptions:
    """How trees become training sets."""

    filter: FilterOptions = field(default_factory=FilterOptions)
    val_fraction: float = 0.05
    test_fraction: float = 0.0
    split_salt: str = "chorus"
    pair_mode: str = "all"
    min_agreement: float = 0.6
    sft_once: bool = False
    sft_max_rank: int | None = None


@dataclass
class Dataset:
    """All derived sets, each a dict split -> list of records, plus the filter report."""

    export_path: str
    export_sha256: str
    report: Report
    sft: dict[str, list] = field(default_factory=dict)
    groups: dict[str, list] = field(default_factory=dict)
    pairs: dict[str, list] = field(default_factory=dict)
    prompts: dict[str, list] = field(default_factory=dict)

    def counts(self) -> dict:
        """Records per set and split."""
        return {name: {s: len(v) for s, v in getattr(self, name).items()}
                for name in ("sft", "groups", "pairs", "prompts")}


def build_dataset(path: str | Path, opts: DataOptions | None = None) -> Dataset:
    """Read, filter, split and derive every training set from one export file."""
    opts = opts or DataOptions()
    trees, report = load_filtered(path, opts.filter)
    ds = Dataset(str(path), file_sha256(path), report)
    for name in ("sft", "groups", "pairs", "prompts"):
        getattr(ds, name).update({"train": [], "val": [], "test": []})
    for tree in trees:
        split = split_of(tree.id, opts.val_fraction, opts.test_fraction, opts.split_salt)
        ds.sft[split] += sft_threads(tree, once=opts.sft_once, synthetic=opts.filter.synthetic,
                                     max_rank=opts.sft_max_rank)
        groups = ranking_groups(tree)
        ds.groups[split] += groups
        for g in groups:
            ds.pairs[split] += preference_pairs(g, opts.pair_mode, opts.min_agreement)
        ds.prompts[split] += rl_prompts(tree)
    return ds


def write_dataset(ds: Dataset, out: str | Path, opts: DataOptions | None = None) -> dict:
    """Write <set>.<split>.jsonl files and report.json into out; returns the report."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for name in ("sft", "groups", "pairs", "prompts"):
        for split, rows in getattr(ds, name).items():
            with open(out / f"{name}.{split}.jsonl", "w", encoding="utf-8") as f:
                for row in rows:
                    f.write(json.dumps(row, ensure_ascii=False) + "\n")
    report = {"export": ds.export_path, "export_sha256": ds.export_sha256, **ds.report.as_dict(),
              "counts": ds.counts(), "options": asdict(opts) if opts else None}
    (out / "report.json").write_text(json.dumps(report, indent=2))
    return report
