"""Reading oasst files and comparing trees the way the format defines equality."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from sqlalchemy import func, select

from core import models

SAMPLES = Path("/work/shared/data/oasst")
if not SAMPLES.is_dir():  # a checkout beside the shared folder
    SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "data" / "oasst"
EN_100 = SAMPLES / "oasst_en_100_tree.jsonl"
OASST2 = SAMPLES / "oasst2_sample_520_trees.jsonl"
ALL = dict(state="all", include_deleted=True, include_spam=True, include_synthetic=True)


def read_lines(path: Path) -> list[dict]:
    """Every JSON line of a plain or gzipped file."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def canon(value):
    """A node with null fields dropped (absent and null are alike) and unranked replies in id order.

    The format orders replies by rank, unranked last; among unranked replies the order carries no
    meaning, so both sides are put in id order there. Everything else must match exactly.
    """
    if isinstance(value, dict):
        out = {k: canon(v) for k, v in value.items() if v is not None and k != "replies"}
        replies = [canon(r) for r in value.get("replies") or []]
        if replies:
            out["replies"] = sorted(replies, key=lambda r: (r.get("rank") is None, r.get("rank") or 0, r["message_id"]))
        return out
    if isinstance(value, list):
        return [canon(v) for v in value]
    return value


def by_tree(lines: list[dict]) -> dict[str, dict]:
    """Trees-file lines keyed by tree id, canonical."""
    return {t["message_tree_id"]: canon(t) for t in lines}


def walk(node: dict):
    """Every node of a tree, prompt first."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(n.get("replies") or [])


async def table_counts(db) -> dict[str, int]:
    """Row counts of the tables an import writes."""
    out = {}
    async with db.read() as s:
        for model in (models.User, models.Identity, models.Tree, models.Message, models.LabelMeans, models.EmojiCount):
            out[model.__tablename__] = await s.scalar(select(func.count()).select_from(model))
    return out
