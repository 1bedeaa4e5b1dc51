"""Run Alembic migrations from code: the CLI and the test suite share this."""

from __future__ import annotations

from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from crm.schema import metadata
from ivr.config import PROJECT_ROOT


def alembic_config(database_url: str | None = None) -> AlembicConfig:
    config = AlembicConfig(str(PROJECT_ROOT / "alembic.ini"))
    if database_url:
        config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the database behind `engine` to `revision`."""

    def _upgrade(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    async with engine.begin() as connection:
        await connection.run_sync(_upgrade)


async def schema_differences(engine: AsyncEngine) -> list[Any]:
    """What autogenerate would add to make the database match the models (empty when in sync)."""

    def _compare(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, metadata)

    async with engine.connect() as connection:
        return await connection.run_sync(_compare)


def script_heads() -> frozenset[str]:
    """The head revisions of the migrations in `migrations/` (read from disk each call)."""
    return frozenset(ScriptDirectory.from_config(alembic_config()).get_heads())


async def database_heads(connection: AsyncConnection) -> frozenset[str]:
    """The revisions recorded in the database's `alembic_version` (empty before any)."""

    def _heads(sync: Connection) -> frozenset[str]:
        return frozenset(MigrationContext.configure(sync).get_current_heads())

    return await connection.run_sync(_heads)
