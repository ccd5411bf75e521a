"""Label sets fold into each message's means exactly, come out of them on a purge, and survive migration 0004."""

from __future__ import annotations

import asyncio
import json
import uuid

from alembic import command
from sqlalchemy import text

from core import label_means
from core.db import alembic_config
from core.models import LabelMeans, TaskType
from core.oasst_export import ExportOptions, export
from tests.community.helpers import open_core, people, staff, write_prompt

QUALITY = (0.25, 0.5, 1.0)


async def _label_prompt(core, root, labelers) -> None:
    for user, quality in zip(labelers, QUALITY, strict=True):
        task = await core.request_task(user.id, type=TaskType.label_initial_prompt)
        assert task.target.id == root
        await core.submit_labels(user.id, task.id, {"spam": 0.0, "quality": quality, "pii": 1.0 if quality == 1.0 else 0.0})


async def _means(core, message_id) -> tuple[str | None, int | None]:
    async with core.db.read() as s:
        row = await s.get(LabelMeans, message_id)
        return (row.labels, row.ratings) if row else (None, None)


async def test_label_sets_fold_into_exact_means_and_purge_takes_them_out(db_url, tmp_path):
    core = open_core(db_url, tree_reviews_initial_prompt=3)
    try:
        boss, _ = await staff(core)
        author, *labelers = await people(core, 4)
        root = await write_prompt(core, author)
        await _label_prompt(core, root, labelers)

        # The running mean in floating point, as the database arithmetic did it before.
        mean = 0.0
        for n, q in enumerate(QUALITY):
            mean = (mean * n + q) / (n + 1)
        stored, ratings = await _means(core, root)
        means = label_means.parse(stored)
        assert means["quality"] == (mean, 3) and means["spam"] == (0.0, 3) and means["pii"] == (1 / 3, 3)
        assert json.loads(stored)["quality"] == {"value": mean, "count": 3}  # the text is valid JSON
        assert ratings == 3  # label sets, not label values
        assert (await core.collection_stats())["labels"]["ratings"] == ratings

        out = tmp_path / "all.jsonl"
        await export(core.db, out, ExportOptions(state="all"))
        (line,) = out.read_text().splitlines()
        assert json.loads(line)["prompt"]["labels"] == json.loads(stored)

        # Purging a labeler takes that rating out of each mean; the last one removes the row.
        await core.purge_user(boss.id, labelers[2].id, reason="request")
        means = label_means.parse((await _means(core, root))[0])
        assert means["quality"] == ((mean * 3 - 1.0) / 2, 2) and means["pii"] == ((1 / 3 * 3 - 1.0) / 2, 2)
        for user in labelers[:2]:
            await core.purge_user(boss.id, user.id, reason="request")
        assert await _means(core, root) == (None, None)
    finally:
        await core.close()


async def test_migration_0004_converts_label_rows_both_ways(db_url):
    core = open_core(db_url)
    try:
        author, *_ = await people(core, 1)
        root = await write_prompt(core, author)
        other = await write_prompt(core, author, "A second question")
    finally:
        await core.close()
    cfg = alembic_config(db_url)
    await asyncio.to_thread(command.downgrade, cfg, "0003_task_speed")
    core = open_core(db_url)  # an engine of its own: the schema changed under the last one
    rows = [(root, "spam", 0.0, 3), (root, "quality", 1 / 3, 3), (root, "ünïcode", -0.0, 1), (other, "pii", 1.0, 2)]
    try:
        async with core.db.tx() as s:
            for mid, name, value, count in rows:
                await s.execute(
                    text("INSERT INTO label_summaries (message_id, name, value, count) VALUES (:m, :n, :v, :c)"),
                    {"m": mid.hex if core.db.is_sqlite else mid, "n": name, "v": value, "c": count},
                )
    finally:
        await core.close()

    await asyncio.to_thread(command.upgrade, cfg, "head")
    core = open_core(db_url)
    try:
        stored, ratings = await _means(core, root)
        # Names in code-point order; values exact (1/3 to the last bit).
        assert stored == ('{"quality": {"value": 0.3333333333333333, "count": 3}, "spam": {"value": 0.0, "count": 3}, '
                          '"ünïcode": {"value": ' + repr(-0.0 if not core.db.is_sqlite else 0.0) + ', "count": 1}}')  # fmt: skip
        assert ratings == 3 and label_means.parse(stored)["quality"] == (1 / 3, 3)
        assert await _means(core, other) == ('{"pii": {"value": 1.0, "count": 2}}', 2)
    finally:
        await core.close()

    await asyncio.to_thread(command.downgrade, cfg, "0003_task_speed")
    core = open_core(db_url)
    try:
        async with core.db.read() as s:
            back = (await s.execute(text("SELECT message_id, name, value, count FROM label_summaries"))).all()
        as_id = (lambda v: uuid.UUID(v)) if core.db.is_sqlite else (lambda v: v)
        assert sorted((as_id(m), n, v, c) for m, n, v, c in back) == sorted(rows, key=lambda r: (r[0], r[1]))
    finally:
        await core.close()
    await asyncio.to_thread(command.upgrade, cfg, "head")
