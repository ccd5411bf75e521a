"""A bare database handle for the import and export tests."""

from __future__ import annotations

import pytest

from core.db import Database


@pytest.fixture
async def db(db_url):
    """The Database of a fresh, migrated database (SQLite file or PostgreSQL)."""
    database = Database(db_url)
    yield database
    await database.dispose()
