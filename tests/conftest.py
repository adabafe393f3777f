"""Shared fixtures: a migrated store on SQLite always, and on PostgreSQL when configured.

PostgreSQL tests need ``RECON_TEST_POSTGRES_URL`` (e.g.
``postgresql+asyncpg://postgres@127.0.0.1:5432/test``); each test gets its own schema, so
runs never see each other's rows. Without the variable they skip, saying so.

Hypothesis profiles, for every test: ``unit`` (default, fast enough for every run) and
``thorough`` (for a nightly job: ``HYPOTHESIS_PROFILE=thorough pytest``). Neither has a
deadline: the tests are about correctness, never time (DESIGN.md "Testing").
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy import text
from sqlalchemy.engine import make_url

from store.engine import Database, create_database
from store.migrate import upgrade

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_POLICY = ROOT / "bot" / "policy.example.yml"
POSTGRES_ENV = "RECON_TEST_POSTGRES_URL"

settings.register_profile(
    "unit",
    max_examples=60,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile(
    "thorough",
    max_examples=2000,
    stateful_step_count=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "unit"))


def postgres_url() -> str | None:
    """The PostgreSQL URL for store tests, if configured."""
    return os.environ.get(POSTGRES_ENV) or None


def skip_without_postgres(backend: str) -> None:
    """Skips the test, saying why, when it wants PostgreSQL and none is configured."""
    if backend == "postgres" and postgres_url() is None:
        pytest.skip(f"{POSTGRES_ENV} not set: PostgreSQL store tests skipped")


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    """Which database a store test runs on."""
    skip_without_postgres(str(request.param))
    return str(request.param)


@asynccontextmanager
async def open_database(
    backend: str, tmp_path: Path, *, pool_size: int = 5
) -> AsyncIterator[Database]:
    """An empty database (no schema) on ``backend``: a SQLite file in ``tmp_path``, or a
    PostgreSQL schema of its own, dropped on exit. ``pool_size`` as in ``create_database``."""
    if backend == "sqlite":
        db = create_database(f"sqlite+aiosqlite:///{tmp_path / 'recon.db'}", pool_size=pool_size)
        try:
            yield db
        finally:
            await db.dispose()
        return
    url = postgres_url()
    assert url is not None
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_database(url)
    async with admin.writer.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    db = create_database(url, pool_size=pool_size, search_path=schema)
    try:
        yield db
    finally:
        await db.dispose()
        async with admin.writer.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


@asynccontextmanager
async def fresh_postgres_database(url: str) -> AsyncIterator[str]:
    """A new, empty PostgreSQL database on ``url``'s server (a random name), dropped on
    exit; yields its URL. For several processes (replicas), which cannot share a schema
    search path the way one test's engines can."""
    name = f"recon_{uuid.uuid4().hex[:12]}"
    admin = create_database(url)
    try:
        async with admin.writer.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.writer.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


@pytest.fixture
async def database(backend: str, tmp_path: Path) -> AsyncIterator[Database]:
    """An empty database (no schema) on the selected backend."""
    async with open_database(backend, tmp_path) as db:
        yield db


@pytest.fixture
async def migrated(database: Database) -> Database:
    """The database with every migration applied."""
    await upgrade(database)
    return database
