"""Shared fixtures: a real SQLite file and, when configured, a fresh PostgreSQL database per run."""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest
from sqlalchemy.engine import make_url

from core.config import load_settings
from core.db import upgrade
from core.service import Chorus

PG_URL = os.environ.get("CHORUS_TEST_PG_URL", "")  # e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/postgres


def _backends() -> list:
    params = [pytest.param("sqlite", id="sqlite")]
    params.append(
        pytest.param("postgres", id="postgres", marks=pytest.mark.skipif(not PG_URL, reason="CHORUS_TEST_PG_URL not set"))
    )
    return params


async def _pg_admin(sql: str) -> None:
    import asyncpg

    url = make_url(PG_URL)
    conn = await asyncpg.connect(
        host=url.host or "127.0.0.1", port=url.port or 5432, user=url.username or "postgres",
        password=url.password, database=url.database or "postgres",
    )  # fmt: skip
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def pg_template():
    """One migrated PostgreSQL database per test run; each test copies it (fast and isolated)."""
    if not PG_URL:
        pytest.skip("CHORUS_TEST_PG_URL not set")
    name = f"chorus_test_{uuid.uuid4().hex[:10]}"

    async def make():
        await _pg_admin(f'CREATE DATABASE "{name}"')
        await upgrade(make_url(PG_URL).set(database=name).render_as_string(hide_password=False))

    asyncio.run(make())
    yield name
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    """One migrated SQLite file per run; each test gets a copy."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    asyncio.run(upgrade(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(params=_backends())
def db_url(request, tmp_path):
    """The URL of a fresh, migrated database: a SQLite file, or a PostgreSQL database."""
    if request.param == "sqlite":
        import shutil

        template = request.getfixturevalue("sqlite_template")
        path = tmp_path / "chorus.db"
        shutil.copy(template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    template = request.getfixturevalue("pg_template")
    name = f"chorus_t_{uuid.uuid4().hex[:12]}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def make_settings(db_url: str, **overrides):
    """Settings for a test: the defaults, a database, and CHORUS_* style overrides."""
    env = {"CHORUS_DATABASE_URL": db_url}
    env.update({f"CHORUS_{k.upper()}": str(v) for k, v in overrides.items()})
    return load_settings(env, dotenv=None)


@pytest.fixture
async def chorus(db_url):
    """A Chorus core on a fresh database, with Open-Assistant's defaults and a fixed seed."""
    core = Chorus.open_on(make_settings(db_url), seed=1234)
    yield core
    await core.close()
