"""label_summaries and emoji_counts WITHOUT ROWID on SQLite

Both tables are looked up and scanned only by their primary key (message_id, name/emoji). As
ordinary rowid tables SQLite keeps each row twice, once in the table and once in the key's index;
WITHOUT ROWID keeps the rows in the key's own B-tree: half the size, one insert instead of two,
and a scan in message order without a look-up per row. PostgreSQL has no such distinction and is
left as it is.

Revision ID: 0002_oasst_speed
Revises: 0001
Create Date: 2026-11-21
"""

import sqlalchemy as sa

from alembic import op

revision = "0002_oasst_speed"
down_revision = "0001"
branch_labels = None
depends_on = None

TABLES = {
    "label_summaries": ("name", lambda: [sa.Column("value", sa.Float(), nullable=False),
                                         sa.Column("count", sa.Integer(), nullable=False)]),
    "emoji_counts": ("emoji", lambda: [sa.Column("count", sa.Integer(), nullable=False)]),
}  # fmt: skip


def _rebuild(with_rowid: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table, (key, columns) in TABLES.items():
        tmp = f"_{table}_rebuilt"
        op.create_table(
            tmp,
            sa.Column("message_id", sa.Uuid(), nullable=False),
            sa.Column(key, sa.String(length=32), nullable=False),
            *columns(),
            sa.ForeignKeyConstraint(["message_id"], ["messages.id"], ondelete="CASCADE"),
            sa.PrimaryKeyConstraint("message_id", key),
            sqlite_with_rowid=with_rowid,
        )
        op.execute(f"INSERT INTO {tmp} SELECT * FROM {table} ORDER BY message_id, {key}")
        op.drop_table(table)
        op.rename_table(tmp, table)


def upgrade() -> None:
    _rebuild(with_rowid=False)


def downgrade() -> None:
    _rebuild(with_rowid=True)
