"""Schema migrations (Alembic), applied by ``init`` and ``db upgrade`` and checked at start-up."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from store.engine import Database

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    """Alembic config pointing at the packaged migrations (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    """The newest migration shipped with this code."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


async def upgrade(database: Database) -> str:
    """Applies every pending migration; returns the revision now in place."""
    config = alembic_config()

    def _upgrade(connection: Connection) -> None:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")

    async with database.writer.connect() as conn:
        await conn.run_sync(_upgrade)
        await conn.commit()
    return head_revision()


async def current_revision(database: Database) -> str | None:
    """The revision the database is at (None for an empty database)."""

    def _current(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with database.reader.connect() as conn:
        return await conn.run_sync(_current)


class SchemaOutOfDate(RuntimeError):
    """The database is behind (or ahead of) this code's migrations."""


async def check_current(database: Database) -> None:
    """Raises SchemaOutOfDate with the command that fixes it."""
    current = await current_revision(database)
    head = head_revision()
    if current is None:
        raise SchemaOutOfDate("the database has no schema yet; run `recon-bot init` first")
    if current != head:
        raise SchemaOutOfDate(
            f"the database schema is at {current} but this version needs {head}; "
            "run `recon-bot db upgrade`"
        )
