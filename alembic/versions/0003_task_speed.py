"""Messages awaiting review are indexed by language, so a label task is found from that index alone.

Revision ID: 0003_task_speed
Revises: 0002_oasst_speed
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_task_speed"
down_revision = "0002_oasst_speed"
branch_labels = None
depends_on = None

SQLITE_WHERE = sa.text("review_result IS NULL AND deleted = 0")
PG_WHERE = sa.text("review_result IS NULL AND deleted = false")


def upgrade() -> None:
    op.drop_index("ix_messages_under_review", table_name="messages")
    op.create_index(
        "ix_messages_under_review", "messages", ["lang", "created_at"],
        sqlite_where=SQLITE_WHERE, postgresql_where=PG_WHERE,
    )  # fmt: skip


def downgrade() -> None:
    op.drop_index("ix_messages_under_review", table_name="messages")
    op.create_index(
        "ix_messages_under_review", "messages", ["created_at"], sqlite_where=SQLITE_WHERE, postgresql_where=PG_WHERE
    )
