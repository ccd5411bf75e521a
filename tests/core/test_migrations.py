"""The migrations build the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys

from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

from core.models import Base


async def test_migrated_schema_matches_the_models(db_url):
    engine = create_async_engine(db_url)
    try:
        async with engine.connect() as conn:
            tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
            indexes = await conn.run_sync(lambda c: {i["name"] for i in inspect(c).get_indexes("messages")})
            task_idx = await conn.run_sync(lambda c: {i["name"] for i in inspect(c).get_indexes("tasks")})
        assert set(Base.metadata.tables) <= tables
        assert {"ix_messages_parent_id", "ix_messages_tree_id", "ix_messages_under_review"} <= indexes
        assert {"ix_tasks_user_state", "ix_tasks_user_message", "ix_tasks_message_state"} <= task_idx
    finally:
        await engine.dispose()


def test_chorus_db_upgrade_command(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'new.db'}"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("CHORUS_")}, "CHORUS_DATABASE_URL": url,
           "PYTHONPATH": os.getcwd()}  # fmt: skip
    for _ in range(2):  # upgrading an up-to-date database is a no-op
        done = subprocess.run([sys.executable, "-m", "bots.cli", "db", "upgrade"], env=env, capture_output=True, text=True, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert "up to date" in done.stdout


def test_bad_setting_stops_the_command_with_a_sentence(tmp_path):
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("CHORUS_")}, "CHORUS_TREE_MAX_CHILDREN": "lots",
           "PYTHONPATH": os.getcwd()}  # fmt: skip
    done = subprocess.run([sys.executable, "-m", "bots.cli", "db", "upgrade"], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 2
    assert "CHORUS_TREE_MAX_CHILDREN='lots' is not valid" in done.stderr
    assert "Traceback" not in done.stderr
