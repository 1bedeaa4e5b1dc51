"""The schema comes only from migrations, and the migrations match the models both ways."""

from __future__ import annotations

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from crm.schema import metadata
from ivr.migrate import alembic_config, schema_differences, upgrade


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    def _downgrade(connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, revision)

    async with engine.begin() as connection:
        await connection.run_sync(_downgrade)


async def table_names(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as connection:
        return set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as connection:
        return await connection.scalar(text("SELECT version_num FROM alembic_version"))


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def test_upgraded_database_matches_the_models(engine):
    assert await schema_differences(engine) == []
    assert await current_revision(engine) == head_revision()
    assert await table_names(engine) == {table.name for table in metadata.sorted_tables} | {
        "alembic_version"
    }


async def test_downgrade_to_base_then_upgrade_to_head(engine):
    await downgrade(engine, "base")
    assert await table_names(engine) <= {"alembic_version"}
    assert await schema_differences(engine) != []
    await upgrade(engine)
    assert await schema_differences(engine) == []
    assert await current_revision(engine) == head_revision()


async def test_each_revision_downgrades_one_step_and_back(engine):
    revisions = [
        script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()
    ]
    for _ in revisions:
        await downgrade(engine, "-1")
    assert await table_names(engine) <= {"alembic_version"}
    for revision in reversed(revisions):
        await upgrade(engine, revision)
        assert await current_revision(engine) == revision
    assert await schema_differences(engine) == []


async def test_calls_logged_before_dial_attempts_keep_their_history(engine, sessions, demo):
    from datetime import UTC, datetime

    from sqlalchemy import select

    from crm.models import Call, DialAttempt, Request

    async with sessions.begin() as session:
        request_id = await session.scalar(select(Request.id).limit(1))
        session.add(
            Call(
                call_sid="CA" + "5" * 32,
                caller="+79990000001",
                stage="ended",
                request_id=request_id,
                outcome="bridged",
                attempts=0,
                dials=1,
                client_accepted=False,
                bridged_seconds=61,
                started_at=datetime.now(UTC),
            )
        )
    await downgrade(engine, "0002_accounts")
    await upgrade(engine)
    async with sessions() as session:
        rows = (
            await session.execute(
                select(DialAttempt.request_id, DialAttempt.outcome, DialAttempt.talk_seconds)
            )
        ).all()
    assert [tuple(row) for row in rows] == [(request_id, "bridged", 61)]
