"""The schema comes only from migrations, and the migrations match the models both ways."""

from __future__ import annotations

import stat
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from crm.blacklist.matching import RecordValues, check
from crm.blacklist.models import BlacklistShape
from crm.db import create_engine, create_sessionmaker
from crm.enums import OrganizationKind
from crm.models import Agent, Organization, Request
from crm.organizations.models import Payer
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
    return ScriptDirectory.from_config(alembic_config()).get_current_head() or ""


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


# The calls table as revisions before 0005_dial_facts knew it, and their dial rows.
OLD_CALLS = sa.table(
    "calls",
    sa.column("id", sa.Integer()),
    sa.column("call_sid", sa.String()),
    sa.column("caller", sa.String()),
    sa.column("request_id", sa.Integer()),
    sa.column("stage", sa.String()),
    sa.column("outcome", sa.String()),
    sa.column("attempts", sa.Integer()),
    sa.column("dials", sa.Integer()),
    sa.column("client_accepted", sa.Boolean()),
    sa.column("dial_status", sa.String()),
    sa.column("bridged_seconds", sa.Integer()),
    sa.column("started_at", sa.DateTime(timezone=True)),
)
OLD_DIALS = sa.table(
    "dial_attempts",
    sa.column("call_id", sa.Integer()),
    sa.column("request_id", sa.Integer()),
    sa.column("started_at", sa.DateTime(timezone=True)),
    sa.column("outcome", sa.String()),
    sa.column("talk_seconds", sa.Integer()),
)
DIALS = sa.table(
    "dial_attempts",
    sa.column("id", sa.Integer()),
    sa.column("call_id", sa.Integer()),
    sa.column("outcome", sa.String()),
    sa.column("client_accepted", sa.Boolean()),
    sa.column("dial_status", sa.String()),
    sa.column("talk_seconds", sa.Integer()),
)


async def insert_old_call(engine: AsyncEngine, *, sid: str, dials: list[tuple], **values) -> int:
    """A call row with the pre-0005 columns, and its dials as (outcome, talk_seconds)."""
    now = datetime.now(UTC)
    async with engine.begin() as connection:
        request_id = await connection.scalar(text("SELECT min(id) FROM requests"))
        row = {
            "call_sid": sid,
            "caller": "+79990000001",
            "request_id": request_id,
            "stage": "ended",
            "attempts": 0,
            "dials": len(dials),
            "started_at": now,
            **values,
        }
        inserted = await connection.execute(
            OLD_CALLS.insert().values(row).returning(OLD_CALLS.c.id)
        )
        call_id: int = inserted.scalar_one()
        for outcome, talk in dials:
            await connection.execute(
                OLD_DIALS.insert().values(
                    call_id=call_id,
                    request_id=request_id,
                    started_at=now,
                    outcome=outcome,
                    talk_seconds=talk,
                )
            )
    return call_id


async def old_call_facts(engine: AsyncEngine, call_id: int) -> tuple:
    columns = OLD_CALLS.c
    query = sa.select(columns.client_accepted, columns.dial_status, columns.bridged_seconds)
    async with engine.connect() as connection:
        return tuple((await connection.execute(query.where(columns.id == call_id))).one())


async def dial_facts(engine: AsyncEngine, call_id: int) -> list[tuple]:
    columns = DIALS.c
    query = (
        sa.select(
            columns.outcome, columns.dial_status, columns.client_accepted, columns.talk_seconds
        )
        .where(columns.call_id == call_id)
        .order_by(columns.id)
    )
    async with engine.connect() as connection:
        return [tuple(row) for row in await connection.execute(query)]


async def test_calls_logged_before_dial_attempts_keep_their_history(engine, demo):
    await downgrade(engine, "0002_accounts")
    call_id = await insert_old_call(
        engine,
        sid="CA" + "5" * 32,
        dials=[],
        outcome="bridged",
        client_accepted=False,
        dial_status="completed",
        bridged_seconds=61,
    )
    await upgrade(engine)
    assert await dial_facts(engine, call_id) == [("bridged", "completed", False, 61)]


async def test_a_calls_dial_facts_move_to_its_dials_and_back(engine, demo):
    await downgrade(engine, "0004_outbox")
    bridged = await insert_old_call(
        engine,
        sid="CA" + "6" * 32,
        dials=[("bridged", 64)],
        outcome="bridged",
        client_accepted=False,
        dial_status="completed",
        bridged_seconds=64,
    )
    # Busy, then a bridge the dial row missed: the status callback had closed the dial first.
    late_bridge = await insert_old_call(
        engine,
        sid="CA" + "7" * 32,
        dials=[("client_busy", 0), ("caller_hung_up", 0)],
        outcome="bridged",
        client_accepted=False,
        dial_status="completed",
        bridged_seconds=30,
    )
    # Busy, then dialing again: the client accepted and the dial result has not come yet.
    dialing = await insert_old_call(
        engine,
        sid="CA" + "8" * 32,
        dials=[("client_busy", 0), (None, 0)],
        stage="dialing",
        outcome="client_busy",
        client_accepted=True,
        dial_status="busy",
        bridged_seconds=0,
    )
    await upgrade(engine)
    assert await schema_differences(engine) == []
    assert await dial_facts(engine, bridged) == [("bridged", "completed", False, 64)]
    assert await dial_facts(engine, late_bridge) == [
        ("client_busy", None, False, 0),
        ("bridged", "completed", False, 30),
    ]
    assert await dial_facts(engine, dialing) == [
        ("client_busy", None, False, 0),
        (None, None, True, 0),
    ]

    await downgrade(engine, "0004_outbox")
    assert await old_call_facts(engine, bridged) == (False, "completed", 64)
    assert await old_call_facts(engine, late_bridge) == (False, "completed", 30)
    # The first dial's "busy" was only ever kept on the call, so it cannot come back.
    assert await old_call_facts(engine, dialing) == (True, None, 0)
    await upgrade(engine)
    assert await current_revision(engine) == head_revision()


async def test_rules_saved_before_value_keys_are_found_after_the_upgrade(engine, demo):
    await downgrade(engine, "0009_blacklist")
    saved = datetime(2026, 12, 1, tzinfo=UTC)
    async with engine.begin() as connection:
        for rule_id, rule, values in (
            (
                1,
                {"first_name": "Jan", "last_name": "Kowalski", "field_count": 2},
                {"first_name": "jan", "last_name": "kowalski"},
            ),
            (
                2,
                {
                    "city": "Wrocław",
                    "ip": "1.1.1.1",
                    "ip_family": 4,
                    "ip_first": "01010101",
                    "ip_last": "01010101",
                    "ip_prefix": 32,
                    "field_count": 2,
                },
                {"city": "wrocław"},
            ),
        ):
            columns = {"id": rule_id, "created_at": saved, **rule}
            await connection.execute(
                text(
                    f"INSERT INTO blacklist_rules ({', '.join(columns)}) "
                    f"VALUES ({', '.join(':' + name for name in columns)})"
                ),
                columns,
            )
            for field, value in values.items():
                await connection.execute(
                    text(
                        "INSERT INTO blacklist_rule_values (rule_id, field, value) "
                        "VALUES (:rule_id, :field, :value)"
                    ),
                    {"rule_id": rule_id, "field": field, "value": value},
                )
    await upgrade(engine)
    assert await schema_differences(engine) == []
    async with create_sessionmaker(engine)() as session:
        jan = RecordValues(first_name="JAN", last_name="kowalski", city="Kraków")
        assert [match.rule_id for match in await check(session, values=jan)] == [1]
        wroclaw = RecordValues(first_name="Ewa", city="Wrocław", ip="1.1.1.1")
        assert [match.rule_id for match in await check(session, values=wroclaw)] == [2]
        krakow = RecordValues(first_name="Ewa", city="Kraków", ip="1.1.1.1")
        assert await check(session, values=krakow) == []
        shapes = await session.scalars(sa.select(BlacklistShape.fields))
        assert sorted(shapes) == ["first_name,last_name", "ipv4/32"]


async def test_a_new_sqlite_database_and_its_folder_are_private(tmp_path):
    path = tmp_path / "var" / "ivr.sqlite3"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


async def _write_organizations_at_head(sessions, demo) -> dict[str, int]:
    """A partner company and an agents' organization of one INN, a removed card whose account
    the active one repeats (a request names the removed one), and an agent still waiting."""
    now = datetime.now(UTC)
    inn = demo["partners"][0]["inn"]
    async with sessions.begin() as session:
        partner = await session.scalar(
            sa.select(Organization).where(
                Organization.inn == inn, Organization.kind == OrganizationKind.PARTNER
            )
        )
        agency = Organization(name="Agents of one INN", kind=OrganizationKind.AGENCY, inn=inn,
                              ogrn="1027700132195", created_at=now)  # fmt: skip
        session.add(agency)
        await session.flush()
        agent = await session.scalar(sa.select(Agent).where(Agent.email == demo["agent"]["email"]))
        agent.organization_id = agency.id
        waiting = Agent(name="Waiting Agent", email="waiting@example.com", created_at=now,
                        organization_id=agency.id, organization_confirmed=False)  # fmt: skip
        card = {"organization_id": agency.id, "name": "Agents of one INN", "inn": inn,
                "bik": "044525225", "bank_name": "Sberbank", "account": "40702810938000000001",
                "created_at": now}  # fmt: skip
        removed = Payer(**card, is_active=False)
        active = Payer(**card, is_default=True)
        other = Payer(**{**card, "account": "40702810938000000002"})
        session.add_all([waiting, removed, active, other])
        await session.flush()
        request = await session.scalar(sa.select(Request).order_by(Request.id).limit(1))
        request.payer_id = removed.id
        ids = {"partner": partner.id, "agency": agency.id, "waiting": waiting.id}
        return ids | {"removed": removed.id, "active": active.id, "request": request.id}


async def test_organizations_of_one_inn_payers_and_waiting_agents_survive_a_downgrade(
    engine, sessions, demo
):
    ids = await _write_organizations_at_head(sessions, demo)
    await downgrade(engine, "0019_organizations")
    assert await current_revision(engine) == "0019_organizations"
    async with engine.connect() as connection:
        inns = dict((await connection.execute(text("SELECT id, inn FROM organizations"))).all())
        waiting = await connection.scalar(
            text("SELECT organization_id FROM agents WHERE id = :id"), {"id": ids["waiting"]}
        )
    assert inns[ids["partner"]] == demo["partners"][0]["inn"]
    # 0019 holds one organization per INN and KPP, and members only: nothing of it is shown.
    assert inns[ids["agency"]] is None
    assert waiting is None

    await upgrade(engine)
    assert await schema_differences(engine) == []
    async with sessions() as session:
        agency = await session.get(Organization, ids["agency"])
        assert (agency.kind, agency.inn) == (OrganizationKind.AGENCY, demo["partners"][0]["inn"])
        removed = await session.get(Payer, ids["removed"])
        active = await session.get(Payer, ids["active"])
        assert (removed.account, removed.is_active) == ("40702810938000000001", False)
        assert (active.account, active.is_active, active.is_default) == (
            "40702810938000000001", True, True,
        )  # fmt: skip
        request = await session.get(Request, ids["request"])
        assert request.payer_id == ids["removed"]
        waiting_agent = await session.get(Agent, ids["waiting"])
        assert (waiting_agent.organization_id, waiting_agent.organization_confirmed) == (
            ids["agency"], False,
        )  # fmt: skip
        partner = await session.get(Organization, ids["partner"])
        assert partner.kind is OrganizationKind.PARTNER

    # A second round trip sets the same aside and puts it back again.
    await downgrade(engine, "0019_organizations")
    await upgrade(engine)
    async with sessions() as session:
        agency = await session.get(Organization, ids["agency"])
        assert agency.inn == demo["partners"][0]["inn"]
