"""Schema migrations (Alembic), applied by ``init`` and ``db upgrade`` and checked at start-up.

Alembic is imported only to migrate: every command checks the schema at start-up, and
importing Alembic (with Mako and Pygments) and scanning the migration scripts took a
tenth of a second of each. The check reads ``alembic_version`` itself and compares it
with :data:`HEAD`, which a test holds equal to the head of the migration scripts.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Final

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from store.engine import Database
from store.errors import StoreError

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"

#: The newest migration in ``store/migrations/versions`` (bump it with each new one).
HEAD: Final = "0015"


def alembic_config() -> Config:
    """Alembic config pointing at the packaged migrations (no alembic.ini needed)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


async def upgrade(database: Database) -> str:
    """Applies every pending migration; returns the revision now in place."""
    from alembic import command

    config = alembic_config()

    def _upgrade(connection: Connection) -> None:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")

    async with database.writer.connect() as conn:
        await conn.run_sync(_upgrade)
        await conn.commit()
    revision = await current_revision(database)
    assert revision is not None
    return revision


async def current_revision(database: Database) -> str | None:
    """The revision the database is at (None for an empty database)."""

    def _current(connection: Connection) -> str | None:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()

    async with database.reader.connect() as conn:
        return await conn.run_sync(_current)


class SchemaOutOfDate(StoreError, RuntimeError):
    """The database is behind (or ahead of) this code's migrations."""


async def check_current(database: Database) -> None:
    """Raises SchemaOutOfDate with the command that fixes it."""
    current = await current_revision(database)
    if current is None:
        raise SchemaOutOfDate("the database has no schema yet; run `recon-bot init` first")
    if current != HEAD:
        raise SchemaOutOfDate(
            f"the database schema is at {current} but this version needs {HEAD}; "
            "run `recon-bot db upgrade`"
        )
