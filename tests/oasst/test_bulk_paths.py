"""The fast bulk paths keep the format's promises: exact floats, refused non-finite values, indexes intact."""

from __future__ import annotations

import gc
import json
import sqlite3
import uuid

import pytest

from core.oasst_export import ExportOptions, export
from core.oasst_import import ImportFailed, import_file
from tests.oasst.helpers import ALL, OASST2, read_lines, table_counts

# Label means as published (k/n needs 16-17 digits) and the extremes of a double: SQLite's own
# float-to-text conversion gets some of these wrong, so they must pass through Python's repr.
HARD_FLOATS = [1 / 3, 2 / 3, 0.1 + 0.2, 0.20939492537865179, 5e-324, 2.2250738585072014e-308,
               1.7976931348623157e308, 1e-05, 123456789012345678.0, 0.0, 1.0]  # fmt: skip


def _tree(labels: dict, **extra) -> dict:
    mid = str(uuid.uuid4())
    prompt = {"message_id": mid, "parent_id": None, "user_id": str(uuid.uuid4()), "text": "hello", "role": "prompter",
              "lang": "en", "created_date": "2023-02-12T19:06:16.233571+00:00", "labels": labels, **extra}  # fmt: skip
    return {"message_tree_id": mid, "tree_state": "ready_for_export", "prompt": prompt, "origin": None}


async def test_label_values_round_trip_exactly(db, tmp_path):
    labels = {f"l{i}": {"value": v, "count": i + 1} for i, v in enumerate(HARD_FLOATS)}
    src = tmp_path / "hard.jsonl"
    src.write_text(json.dumps(_tree(labels, events=None, custom=None)) + "\n")
    await import_file(db, src)
    for fmt in ("trees", "messages"):
        out = tmp_path / f"out-{fmt}.jsonl"
        await export(db, out, ExportOptions(format=fmt, **ALL))
        [line] = read_lines(out)
        node = line["prompt"] if fmt == "trees" else line
        got = {k: (v["value"], v["count"]) for k, v in node["labels"].items()}
        assert got == {k: (v["value"], v["count"]) for k, v in labels.items()}
        assert all(type(v["value"]) is float for v in node["labels"].values())
        assert "custom" not in node  # a null unknown field is the same as an absent one


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "-Infinity"])
async def test_non_finite_label_value_is_a_malformed_line(db, tmp_path, bad):
    good = json.dumps(_tree({"quality": {"value": 0.5, "count": 2}}))
    worse = json.dumps(_tree({"quality": {"value": 0.5, "count": 2}})).replace("0.5", bad)
    path = tmp_path / "nan.jsonl"
    path.write_text(good + "\n" + worse + "\n")
    with pytest.raises(ImportFailed) as info:
        await import_file(db, path)
    assert info.value.errors[0].startswith("line 2: label 'quality' must be {value: finite number")
    assert (await table_counts(db))["messages"] == 0


async def test_indexes_and_collector_survive_bulk_import(db, db_url, tmp_path):
    was_enabled = gc.isenabled()
    broken = tmp_path / "broken.jsonl"
    broken.write_text(OASST2.read_text() + "{oops\n")
    with pytest.raises(ImportFailed):
        await import_file(db, broken)  # into empty tables: indexes deferred, then rolled back
    await import_file(db, OASST2, batch=50)
    assert gc.isenabled() == was_enabled
    if db.is_sqlite:
        conn = sqlite3.connect(db.url.database)
        try:
            names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
            plan = " ".join(r[3] for r in conn.execute("EXPLAIN QUERY PLAN SELECT id FROM messages WHERE tree_id = 'x'"))
            wr = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'emoji_counts'").fetchone()[0]
        finally:
            conn.close()
        assert {"ix_messages_tree_id", "ix_messages_parent_id", "ix_messages_user_created",
                "ix_messages_under_review", "ix_trees_state_lang"} <= names  # fmt: skip
        assert "ix_messages_tree_id" in plan and "WITHOUT ROWID" in wr
    out = tmp_path / "all.jsonl"
    report = await export(db, out, ExportOptions(**ALL))
    assert report.trees == len(read_lines(OASST2)) == len(read_lines(out))
