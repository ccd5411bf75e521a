"""label_means: one row per message holding its labels object's JSON text, instead of a row per label

oasst1's 161k messages carry 1.9 M label name/value/count triples. As rows, they were most of an
import's writes and of an export's reads; as one row per message in the export format's own text,
an import writes what it read and an export copies what it stored. `ratings` keeps, for
statistics, how many label sets the means hold: the largest count (every set answers spam).
Values are written with repr(): the shortest text that reads back as the same double. The text
is built here rather than by core.label_means so that this migration keeps meaning what it
meant when it was written.

Revision ID: 0004_label_means
Revises: 0003_task_speed
Create Date: 2026-11-21
"""

import json
from itertools import groupby

import sqlalchemy as sa
from alembic import op

revision = "0004_label_means"
down_revision = "0003_task_speed"
branch_labels = None
depends_on = None

PAGE = 5000  # messages converted per round


def _means_table() -> sa.Table:
    return op.create_table(
        "label_means",
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column("labels", sa.Text(), nullable=False),
        sa.Column("ratings", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("message_id"),
    )


def _summaries_table() -> sa.Table:
    return op.create_table(
        "label_summaries",
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("message_id", "name"),
        sqlite_with_rowid=False,
    )


def _text(rows) -> str:
    pieces = [f'{json.dumps(name, ensure_ascii=False)}: {{"value": {float(value)!r}, "count": {count}}}'
              for name, value, count in sorted(rows)]  # fmt: skip
    return "{" + ", ".join(pieces) + "}"


def _pages(bind, table: sa.Table):
    """(first, last) message ids of `table`'s rows, PAGE messages at a time, in id order."""
    after = None
    while True:
        query = sa.select(table.c.message_id).distinct().order_by(table.c.message_id).limit(PAGE)
        if after is not None:
            query = query.where(table.c.message_id > after)
        ids = bind.execute(query).scalars().all()
        if not ids:
            return
        yield ids[0], ids[-1]
        after = ids[-1]


def upgrade() -> None:
    bind = op.get_bind()
    means = _means_table()
    old = sa.table("label_summaries", sa.column("message_id", sa.Uuid()), sa.column("name"), sa.column("value"), sa.column("count"))
    for first, last in _pages(bind, old):
        rows = bind.execute(
            sa.select(old.c.message_id, old.c.name, old.c.value, old.c["count"])
            .where(old.c.message_id.between(first, last))
            .order_by(old.c.message_id)
        ).all()
        batch = []
        for message_id, group in groupby(rows, key=lambda r: r[0]):
            labels = [(name, value, count) for _, name, value, count in group]
            batch.append({"message_id": message_id, "labels": _text(labels), "ratings": max(c for _, _, c in labels)})
        bind.execute(means.insert(), batch)
    op.drop_table("label_summaries")


def downgrade() -> None:
    bind = op.get_bind()
    summaries = _summaries_table()
    means = sa.table("label_means", sa.column("message_id", sa.Uuid()), sa.column("labels"))
    for first, last in _pages(bind, means):
        batch = [
            {"message_id": message_id, "name": name, "value": float(v["value"]), "count": v["count"]}
            for message_id, text in bind.execute(sa.select(means.c.message_id, means.c.labels).where(means.c.message_id.between(first, last)))
            for name, v in json.loads(text).items()
        ]  # fmt: skip
        if batch:
            bind.execute(summaries.insert(), batch)
    op.drop_table("label_means")
