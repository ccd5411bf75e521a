"""PostgreSQL's bulk paths (COPY straight into the tables, constraints deferred, parsing process)
store exactly what the upsert path stores, whatever is already in the database."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from core.oasst_export import ExportOptions, export
from core.oasst_import import ImportFailed, import_file
from tests.oasst import test_parse_process as process_tests
from tests.oasst.helpers import ALL, OASST2, by_tree, read_lines, table_counts

# Every stored column an import writes, except the import's own times (users.created_at,
# trees.updated_at) and a user's lang (that of the first of their messages the import meets).
SNAPSHOT = {
    "users": "SELECT id, display_name, role, enabled, banned FROM users",
    "identities": "SELECT user_id, platform, external_id FROM identities",
    "trees": "SELECT id, state, lang, origin, author_id, created_at FROM trees",
    "messages": "SELECT id, tree_id, parent_id, role, depth, lang, text, user_id, created_at, review_count,"
    " review_result, deleted, rank, synthetic, model_name, edited, detoxify, extra FROM messages",
    "label_means": "SELECT message_id, labels, ratings FROM label_means",
    "emoji_counts": "SELECT message_id, emoji, count FROM emoji_counts",
}
SCHEMA = """SELECT 'c ' || conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint
            WHERE conrelid = ANY('{trees,messages,label_means,emoji_counts}'::regclass[])
            UNION ALL SELECT 'i ' || indexdef FROM pg_indexes
            WHERE tablename IN ('trees', 'messages', 'label_means', 'emoji_counts')"""


@pytest.fixture
def pg(db):
    if db.is_sqlite:
        pytest.skip("PostgreSQL's bulk paths")
    return db


async def _snapshot(db) -> dict[str, list]:
    async with db.read() as s:
        return {t: sorted(map(str, (await s.execute(text(sql))).all())) for t, sql in SNAPSHOT.items()}


async def _schema(db) -> list[str]:
    async with db.read() as s:
        return sorted((await s.execute(text(SCHEMA))).scalars())


def _split(tmp_path) -> tuple:
    """OASST2 whole, and every third tree of it (what a database may already hold)."""
    lines = OASST2.read_text().splitlines()
    some = tmp_path / "some.jsonl"
    some.write_text("\n".join(lines[::3]) + "\n")
    return OASST2, some


@pytest.mark.parametrize("process", [False, True], ids=["thread", "process"])
@pytest.mark.parametrize("defer", [False, True], ids=["in-place", "deferred"])
async def test_empty_and_partly_filled_databases_end_alike(db, tmp_path, process, defer):
    whole, some = _split(tmp_path)
    before = None if db.is_sqlite else await _schema(db)
    fresh = await import_file(db, whole, batch=40, parse_process=process, defer_constraints=defer)
    assert (fresh.new_trees, fresh.new_messages) == (520, 1500)
    expected = await _snapshot(db)

    # Then the same file into the same database emptied and given a third of its trees first:
    # batches mix stored and new trees, and go through the upsert.
    async with db.tx() as s:
        for table in ("emoji_counts", "label_means", "messages", "trees", "identities", "users"):
            await s.execute(text(f"DELETE FROM {table}"))
    first = await import_file(db, some, batch=40, parse_process=process, defer_constraints=defer)
    rest = await import_file(db, whole, batch=40, parse_process=process, defer_constraints=defer)
    assert first.new_trees + rest.new_trees == 520 and first.new_messages + rest.new_messages == 1500
    assert rest.skipped == first.messages
    assert await _snapshot(db) == expected
    again = await import_file(db, whole, batch=40, parse_process=process, defer_constraints=defer)
    assert (again.new_trees, again.new_messages, again.new_users) == (0, 0, 0)
    assert await _snapshot(db) == expected
    out = tmp_path / "out.jsonl"
    await export(db, out, ExportOptions(**ALL))
    assert by_tree(read_lines(out)) == by_tree(read_lines(OASST2))
    if before is not None:
        assert await _schema(db) == before  # every constraint and index is back


async def test_deferred_import_of_a_bad_file_keeps_nothing_and_restores_the_schema(pg, tmp_path):
    before = await _schema(pg)
    good = OASST2.read_text().splitlines()
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(good[:300] + ["{not json"] + good[300:]) + "\n")
    for process in (False, True):
        with pytest.raises(ImportFailed) as info:
            await import_file(pg, path, batch=40, parse_process=process, defer_constraints=True)
        assert info.value.errors[0].startswith("line 301: not valid JSON")
        assert set((await table_counts(pg)).values()) == {0}
        assert await _schema(pg) == before


async def test_process_path_on_postgresql(pg, tmp_path):
    """The parsing process's promises (progress, bad lines, stored parents) hold on PostgreSQL too."""
    await process_tests.test_process_import_equals_the_file_and_reimport_changes_nothing(pg, tmp_path)


async def test_process_path_on_postgresql_reports_bad_lines(pg, tmp_path):
    await process_tests.test_process_import_reports_bad_lines_and_keeps_nothing(pg, tmp_path)


async def test_process_path_on_postgresql_finds_stored_parents(pg, tmp_path):
    await process_tests.test_process_import_of_a_messages_file_finds_stored_parents(pg, tmp_path)
