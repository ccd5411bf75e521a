"""Parsing in a separate process (large files on SQLite) keeps every promise of the in-thread path."""

from __future__ import annotations

import gzip
import json
import shutil

import pytest

from core.oasst_export import ExportOptions, export
from core.oasst_import import ImportFailed, import_file
from tests.oasst.helpers import ALL, OASST2, by_tree, read_lines, table_counts


@pytest.fixture
def sqlite_db(db):
    if not db.is_sqlite:
        pytest.skip("run on PostgreSQL by tests/oasst/test_pg_copy.py, which calls these functions")
    return db


async def test_process_import_equals_the_file_and_reimport_changes_nothing(sqlite_db, tmp_path):
    gz = tmp_path / "sample.jsonl.gz"
    with open(OASST2, "rb") as src, gzip.open(gz, "wb") as dst:
        shutil.copyfileobj(src, dst)
    seen: list[tuple[int, int]] = []
    report = await import_file(sqlite_db, gz, batch=50, parse_process=True, progress=lambda d, t: seen.append((d, t)))
    assert (report.trees, report.new_trees, report.new_messages) == (520, 520, 1500)
    assert report.labels > 0 and seen and seen[-1][0] == seen[-1][1] == gz.stat().st_size
    counts = await table_counts(sqlite_db)
    again = await import_file(sqlite_db, gz, parse_process=True)
    assert (again.new_messages, again.new_trees, again.new_users, again.messages) == (0, 0, 0, 1500)
    assert await table_counts(sqlite_db) == counts
    out = tmp_path / "out.jsonl"
    await export(sqlite_db, out, ExportOptions(**ALL))
    assert by_tree(read_lines(out)) == by_tree(read_lines(OASST2))


async def test_process_import_reports_bad_lines_and_keeps_nothing(sqlite_db, tmp_path):
    good = OASST2.read_text().splitlines()
    dup = good[3]  # the same tree again, in a later batch: its ids appear twice
    lines = good[:200] + ["{not json"] + good[200:400] + [dup]
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ImportFailed) as info:
        await import_file(sqlite_db, path, batch=20, parse_process=True)
    assert info.value.total == 2
    assert info.value.errors[0].startswith("line 201: not valid JSON")
    assert info.value.errors[1].startswith("line 402: message ") and "first on line 4" in info.value.errors[1]
    assert set((await table_counts(sqlite_db)).values()) == {0}


async def test_process_import_of_a_messages_file_finds_stored_parents(sqlite_db, tmp_path):
    lines = [json.dumps(n, ensure_ascii=False) for n in _flat(tmp_path)]
    prompts = [l for l in lines if json.loads(l)["parent_id"] is None]
    replies = [l for l in lines if json.loads(l)["parent_id"] is not None]
    first, rest = tmp_path / "prompts.jsonl", tmp_path / "replies.jsonl"
    first.write_text("\n".join(prompts) + "\n")
    rest.write_text("\n".join(reversed(replies)) + "\n")  # children before parents
    await import_file(sqlite_db, first, parse_process=True)
    report = await import_file(sqlite_db, rest, parse_process=True)
    assert report.new_messages == len(replies) and report.new_trees == 0
    out = tmp_path / "out.jsonl"
    await export(sqlite_db, out, ExportOptions(**ALL))
    expected = by_tree(read_lines(OASST2))
    for tree_id, tree in by_tree(read_lines(out)).items():
        expected[tree_id].pop("origin", None)  # a messages file does not carry the tree's origin
        assert tree == expected[tree_id]


def _flat(tmp_path) -> list[dict]:
    """OASST2's nodes, one per line, as a messages file holds them."""
    out = []
    for tree in read_lines(OASST2):
        stack = [tree["prompt"]]
        while stack:
            node = dict(stack.pop())
            stack.extend(node.pop("replies", None) or [])
            out.append({**node, "message_tree_id": tree["message_tree_id"], "tree_state": tree["tree_state"]})
    return out
