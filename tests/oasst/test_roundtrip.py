"""Import then export reproduces every tree field for field; importing again changes nothing."""

from __future__ import annotations

import gzip
import json
import shutil
import uuid

import pytest
from sqlalchemy import select, text

from core.db import Database, upgrade
from core import label_means
from core.models import Identity, LabelMeans, Message, Tree, User
from core.oasst_export import ExportOptions, export
from core.oasst_import import import_file
from tests.oasst.helpers import ALL, EN_100, OASST2, by_tree, read_lines, table_counts


@pytest.mark.parametrize("sample", [EN_100, OASST2], ids=["en_100", "oasst2_520"])
async def test_round_trip_reproduces_every_tree(db, sample, tmp_path):
    report = await import_file(db, sample)
    source = read_lines(sample)
    assert report.trees == len(source) and report.new_messages == report.messages
    out = tmp_path / "out.jsonl"
    written = await export(db, out, ExportOptions(**ALL))
    assert written.trees == len(source) and written.messages == report.messages
    expected, got = by_tree(source), by_tree(read_lines(out))
    assert got.keys() == expected.keys()
    for tree_id, tree in expected.items():
        assert got[tree_id] == tree, tree_id


async def test_stored_fields_map_onto_the_schema(db):
    await import_file(db, OASST2)
    source = {t["message_tree_id"]: t for t in read_lines(OASST2)}
    tree_id = next(k for k, t in source.items() if t["tree_state"] == "ready_for_export" and t["prompt"]["replies"])
    prompt = source[tree_id]["prompt"]
    async with db.read() as s:
        tree = await s.get(Tree, uuid.UUID(tree_id))
        msg = await s.get(Message, tree.id)
        labels = label_means.parse((await s.get(LabelMeans, msg.id)).labels)
        user = await s.get(User, msg.user_id)
        ident = await s.scalar(select(Identity).where(Identity.user_id == user.id))
    assert tree.state == "ready_for_export" and tree.lang == prompt["lang"] and str(tree.author_id) == prompt["user_id"]
    assert msg.text == prompt["text"] and msg.depth == 0 and msg.review_count == prompt["review_count"]
    assert msg.created_at.isoformat() == prompt["created_date"] and msg.detoxify == prompt["detoxify"]
    assert labels == {k: (v["value"], v["count"]) for k, v in prompt["labels"].items()}
    assert (ident.platform, ident.external_id) == ("oasst", prompt["user_id"])


@pytest.mark.parametrize("sample", [EN_100, OASST2], ids=["en_100", "oasst2_520"])
async def test_reimport_changes_nothing(db, sample, tmp_path):
    await import_file(db, sample)
    before = await table_counts(db)
    first = tmp_path / "a.jsonl"
    await export(db, first, ExportOptions(**ALL))
    # The same file again, and gzipped under another name: still nothing new.
    gz = tmp_path / "again.jsonl.gz"
    with open(sample, "rb") as src, gzip.open(gz, "wb") as dst:
        shutil.copyfileobj(src, dst)
    for path in (sample, gz):
        again = await import_file(db, path)
        assert (again.new_messages, again.new_trees, again.new_users) == (0, 0, 0)
        assert again.skipped == again.messages > 0
    assert await table_counts(db) == before
    second = tmp_path / "b.jsonl"
    await export(db, second, ExportOptions(**ALL))
    assert first.read_text() == second.read_text()


async def test_messages_file_round_trip(db, db_url, tmp_path):
    """A messages file (one node per line) imports into a fresh database as the same trees."""
    await import_file(db, OASST2)
    flat = tmp_path / "messages.jsonl.gz"
    await export(db, flat, ExportOptions(format="messages", **ALL))
    lines = read_lines(flat)
    assert len(lines) == 1500 and all(m["message_tree_id"] and m["tree_state"] for m in lines)
    assert all("replies" not in m for m in lines)
    # Children before parents, so the importer's own ordering is what makes it work.
    reordered = tmp_path / "reordered.jsonl"
    reordered.write_text("".join(json.dumps(m, ensure_ascii=False) + "\n" for m in reversed(lines)))
    fresh_url = db_url.replace("chorus.db", "fresh.db") if db_url.startswith("sqlite") else None
    if fresh_url is None:  # PostgreSQL: clear the database instead of making another
        async with db.tx() as s:
            for table in ("emoji_counts", "label_means", "messages", "trees", "identities", "users"):
                await s.execute(text(f"DELETE FROM {table}"))
        target = db
    else:
        await upgrade(fresh_url)
        target = Database(fresh_url)
    try:
        report = await import_file(target, reordered)
        assert report.new_messages == 1500 and report.new_trees == 520
        out = tmp_path / "trees.jsonl"
        await export(target, out, ExportOptions(**ALL))
        expected = by_tree(read_lines(OASST2))
        got = by_tree(read_lines(out))
        for tree_id, tree in expected.items():
            tree.pop("origin", None)  # a messages file does not carry the tree's origin
            assert got[tree_id] == tree
    finally:
        if target is not db:
            await target.dispose()
