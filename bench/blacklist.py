"""The blacklist at scale: one request's check among 10,000 and 1,000,000 rules, a linear
scan of the same rules, and filing a request with the rules and with none."""

from __future__ import annotations

import asyncio
import gc
import json
import random
import statistics
import time
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from bench.report import BlacklistFigure, Report
from bench.steps import new_database
from crm.auth.models import User
from crm.auth.service import Actor, load_actor
from crm.blacklist import normalize
from crm.blacklist.matching import RecordValues, check
from crm.blacklist.models import BlacklistRule, BlacklistRuleValue
from crm.blacklist.normalize import FIELDS
from crm.blacklist.service import rule_row, shape_of, shapes_insert
from crm.db import create_engine, create_sessionmaker
from crm.demo import ACCOUNTS, seed_demo
from crm.enums import OrganizationKind, Role
from crm.models import Client, Organization
from crm.requests.service import create_request
from crm.schema import metadata
from crm.schemas import RequestIn
from ivr.migrate import upgrade

SIZES = (10_000, 1_000_000)
BATCH = 10_000
PROBES = 200
LINEAR_PROBES = 3
FILINGS = 300
SEED = 11
KINDS = {
    "email": 25,
    "phone": 20,
    "name": 15,
    "address": 10,
    "ipv4": 10,
    "ipv4/24": 7,
    "ipv6/64": 7,
    "city+ip": 5,
    "ipv4/16": 1,
}
"""What the rules hold, per hundred; IPv4 rules lie in 1.0.0.0–126.255.255.255 and IPv6 in
2001:db8::/32, so the probes meant to match nothing take their addresses elsewhere."""
SYLLABLES = ("ka", "lo", "mi", "ne", "ro", "sa", "ti", "vo", "ze", "du", "po", "ri", "sha", "ya")
FIRST_NAMES = (
    *("Alexander", "Александр", "Sergey", "Дмитрий", "Andrey", "Алексей", "Maxim", "Евгений"),
    *("Ivan", "Михаил", "Artem", "Никита", "Elena", "Ольга", "Natalia", "Татьяна", "Anna"),
    *("Мария", "Irina", "Екатерина", "Svetlana", "Юлия", "Пётр", "Алёна", "Семён", "Фёдор"),
    *("Viktor", "Pavel", "Roman", "Oleg"),
)
"""Common first names, as on real requests: each is in thousands of a million rules."""
CITIES = (
    *("Moscow", "Санкт-Петербург", "Novosibirsk", "Екатеринбург", "Kazan", "Нижний Новгород"),
    *("Chelyabinsk", "Самара", "Omsk", "Ростов-на-Дону", "Ufa", "Красноярск", "Voronezh"),
    *("Пермь", "Volgograd", "Краснодар", "Saratov", "Тюмень", "Орёл", "Sochi"),
)
FILING_SOURCES = ("198.18.0.7", "2a02:6b8::7")
"""Where the timed filings come from: addresses no rule holds."""

Rule = tuple[dict[str, Any], list[dict[str, Any]]]
"""A rule's row and its value rows, as `create_rule` writes them."""


def at_scale(report: Report, home: Path, backends: Sequence[str], *, postgres: str | None) -> None:
    """Each backend's figures, over the same generated rules and probes."""
    print(f"blacklist: generating {SIZES[-1]:,} rules", flush=True)
    started = time.monotonic()
    rng = random.Random(SEED)
    typed = [_typed(rng, n) for n in range(SIZES[-1])]
    now = datetime.now(UTC)
    rules = [_rows(n + 1, fields, now) for n, fields in enumerate(typed)]
    probes = _probes(rng, typed[: SIZES[0]])
    # A million rules stay in memory for every backend: keep the collector's passes off them.
    gc.freeze()
    mix = ", ".join(f"{kind} {share} %" for kind, share in KINDS.items())
    report.notes.append(
        f"blacklist: {SIZES[-1]:,} rules generated in {time.monotonic() - started:.0f} s"
        f" ({mix}); {PROBES} records checked, half of them holding a rule's fields;"
        f" the linear scan compares every rule with `rule_matches` ({LINEAR_PROBES} records);"
        f" {FILINGS} requests filed by the demo agent on each database, taking turns."
    )
    for backend in backends:
        with (
            new_database(home, backend, postgres) as url,
            new_database(home, backend, postgres) as empty_url,
        ):
            figure = asyncio.run(_measure(report, backend, url, empty_url, rules, probes))
        report.blacklist.append(figure)


def _word(rng: random.Random, syllables: int) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(syllables)).capitalize()


def _ipv4(rng: random.Random) -> str:
    return f"{rng.randint(1, 126)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randint(1, 254)}"


def _typed(rng: random.Random, n: int) -> dict[str, str]:
    """Rule `n`'s fields as an admin might type them (case, spaces and `ё` vary)."""
    kind = rng.choices(list(KINDS), weights=list(KINDS.values()))[0]
    a, b, c = rng.randint(1, 126), rng.randrange(256), rng.randrange(256)
    match kind:
        case "email":
            address = f"{_word(rng, 2)}.{n}@example{n % 97}.com"
            return {"email": address if n % 3 else address.upper()}
        case "phone":
            digits = f"{rng.choice(('916', '903', '926'))}{n:07d}"
            return {"phone": f"+7{digits}" if n % 4 else f"8 {digits[:3]} {digits[3:]}"}
        case "name":
            return {"first_name": rng.choice(FIRST_NAMES), "last_name": _word(rng, 4)}
        case "address":
            return {
                "street": f"{_word(rng, 3)} {rng.choice(('street', 'avenue', 'lane'))}",
                "house": str(rng.randint(1, 300)),
                "postal_code": str(rng.randint(100_000, 999_999)),
            }
        case "ipv4":
            return {"ip": _ipv4(rng)}
        case "ipv4/24":
            return {"ip": f"{a}.{b}.{c}.0/24"}
        case "ipv6/64":
            return {"ip": f"2001:db8:{rng.randrange(65536):x}:{rng.randrange(65536):x}::/64"}
        case "city+ip":
            return {"city": rng.choice(CITIES), "ip": _ipv4(rng)}
        case _:
            return {"ip": f"{a}.{b}.0.0/16"}


def _rows(rule_id: int, typed: dict[str, str], now: datetime) -> Rule:
    """The rows `create_rule` writes for a rule of these fields (without its schema's parse)."""
    row, normalized = rule_row(typed, None)
    row.update(id=rule_id, created_at=now)
    values = [{"rule_id": rule_id, "field": f, "value": v} for f, v in normalized.items()]
    return row, values


def _probes(rng: random.Random, typed: Sequence[dict[str, str]]) -> list[RecordValues]:
    """Records to check: half hold a rule's fields (retyped), half match nothing but share
    first names and cities with many rules; the sources alternate between IPv4 and IPv6."""
    probes = []
    for n in range(PROBES):
        fields = {
            "first_name": rng.choice(FIRST_NAMES),
            "last_name": _word(rng, 5),
            "street": "Probe lane",
            "house": str(n),
            "postal_code": "000000",
            "city": rng.choice(CITIES),
            "email": f"probe{n}@probe.example",
            "phone": f"+7925{n:07d}",
            "ip": f"198.18.{n}.{rng.randint(1, 254)}" if n // 2 % 2 else f"2a02:6b8::{n:x}",
        }
        if n % 2 == 0:
            fields.update(
                {field: value.upper() for field, value in typed[n * len(typed) // PROBES].items()}
            )
            network = normalize.network(fields["ip"])
            if network is not None:
                inside = network.network_address + rng.randrange(network.num_addresses)
                fields["ip"] = str(inside)
        probes.append(RecordValues(**fields))
    return probes


async def _measure(
    report: Report,
    backend: str,
    url: str,
    empty_url: str,
    rules: Sequence[Rule],
    probes: Sequence[RecordValues],
) -> BlacklistFigure:
    print(f"blacklist on {backend}", flush=True)
    engine, empty = await _prepared(url), await _prepared(empty_url)
    try:
        checks, loading, loaded = {}, [], 0
        for size in SIZES:
            started = time.monotonic()
            await _load(engine, rules[loaded:size])
            took = time.monotonic() - started
            loading.append(f"{size:,} in {took:.1f} s ({(size - loaded) / took:,.0f} rules/s)")
            loaded = size
            await _steady(engine)
            checks[size] = await _checks(create_sessionmaker(engine), probes)
            print(f"  check, {size:,} rules: {checks[size][0]:.2f} ms median", flush=True)
        report.notes.append(
            f"blacklist, {backend}: rules loaded up to " + ", then ".join(loading) + "."
        )
        linear = [await _linear_ms(engine, values) for values in probes[:LINEAR_PROBES]]
        print(f"  linear scan, {loaded:,} rules: {statistics.median(linear):,.0f} ms", flush=True)
        filing = await _filings(engine, empty)
        print(f"  filing: {filing[0][0]:.2f} ms, {filing[1][0]:.2f} ms without rules", flush=True)
    finally:
        await engine.dispose()
        await empty.dispose()
    return BlacklistFigure(
        backend=backend,
        checks=checks,
        linear_ms=statistics.median(linear),
        filing=filing[0],
        filing_empty=filing[1],
    )


async def _prepared(url: str) -> AsyncEngine:
    """An engine on the database at `url`, migrated and seeded with the demo data."""
    engine = create_engine(url)
    await upgrade(engine)
    async with create_sessionmaker(engine).begin() as session:
        await seed_demo(session)
    return engine


async def _load(engine: AsyncEngine, rules: Sequence[Rule]) -> None:
    """The rules and their values, one transaction per batch."""
    for start in range(0, len(rules), BATCH):
        batch = rules[start : start + BATCH]
        tables = {
            BlacklistRule.__tablename__: [row for row, _ in batch],
            BlacklistRuleValue.__tablename__: [value for _, values in batch for value in values],
        }
        async with engine.connect() as connection:
            if engine.dialect.name == "postgresql":
                await _copy(connection, tables)
            else:
                for table, rows in tables.items():
                    await connection.execute(insert(metadata.tables[table]), rows)
                await connection.commit()
    # What `create_rule` notes of each rule: the fields it fills, or its network's size.
    shapes = [
        shape_of(row, {value["field"]: value["value"] for value in values}) for row, values in rules
    ]
    async with engine.begin() as connection:
        await connection.execute(shapes_insert(engine.dialect.name, shapes))


async def _copy(connection: AsyncConnection, tables: dict[str, list[dict[str, Any]]]) -> None:
    """asyncpg's COPY: some ten times the rows per second of an executemany."""
    driver = (await connection.get_raw_connection()).driver_connection
    assert driver is not None
    async with driver.transaction():
        for table, rows in tables.items():
            columns = list(rows[0])
            records = [tuple(_copied(row[column]) for column in columns) for row in rows]
            await driver.copy_records_to_table(table, columns=columns, records=records)


def _copied(value: Any) -> Any:
    """A value as COPY takes it: a JSON column's as its text."""
    return json.dumps(value) if isinstance(value, dict) else value


async def _steady(engine: AsyncEngine) -> None:
    """What autovacuum would have done by now: statistics, and the visibility map."""
    steady = "VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE"
    async with engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.execute(text(steady))


def _spread(took: list[float]) -> tuple[float, float]:
    """Median and p90, ms."""
    return statistics.median(took), statistics.quantiles(took, n=10)[-1]


async def _checks(
    sessions: async_sessionmaker[AsyncSession], probes: Sequence[RecordValues]
) -> tuple[float, float]:
    """Each probe's check in a session of its own, its transaction begun as a filing's is."""
    took = []
    for values in [*probes[:20], *probes]:
        async with sessions() as session:
            await session.connection()
            started = time.perf_counter()
            await check(session, values=values)
            took.append((time.perf_counter() - started) * 1000)
    return _spread(took[20:])


async def _linear_ms(engine: AsyncEngine, values: RecordValues) -> float:
    """Every rule read and compared with `rule_matches`, one by one; checked against `check`."""
    record = normalize.comparable_record(asdict(values))
    columns = [getattr(BlacklistRule, field) for field in FIELDS]
    found = []
    started = time.perf_counter()
    async with engine.connect() as connection:
        rows = await connection.stream(
            select(BlacklistRule.id, *columns).execution_options(yield_per=BATCH)
        )
        async for partition in rows.partitions():
            for row in partition:
                typed = {f: v for f, v in zip(FIELDS, row[1:], strict=True) if v is not None}
                if normalize.rule_matches(normalize.comparable_rule(typed), record):
                    found.append(row[0])
    took = (time.perf_counter() - started) * 1000
    async with create_sessionmaker(engine)() as session:
        indexed = [match.rule_id for match in await check(session, values=values)]
    assert sorted(found) == indexed, f"linear scan found {found}, the check {indexed}"
    return took


async def _filings(
    engine: AsyncEngine, empty: AsyncEngine
) -> tuple[tuple[float, float], tuple[float, float]]:
    """Filing a request as the demo agent with the rules and with none, taking turns."""
    filers = [await _filer(create_sessionmaker(each)) for each in (engine, empty)]
    took: list[list[float]] = [[], []]
    for n in range(FILINGS):
        for (sessions, actor, requests), times in zip(filers, took, strict=True):
            started = time.perf_counter()
            async with sessions.begin() as session:
                await create_request(
                    session,
                    actor=actor,
                    data=requests[n % len(requests)],
                    source_ip=FILING_SOURCES[n // 2 % 2],
                    now=datetime.now(UTC),
                )
            times.append((time.perf_counter() - started) * 1000)
    return _spread(took[0]), _spread(took[1])


async def _filer(
    sessions: async_sessionmaker[AsyncSession],
) -> tuple[async_sessionmaker[AsyncSession], Actor, list[RequestIn]]:
    """The demo agent, and a request for each of its clients with the first partner."""
    email = ACCOUNTS[Role.AGENT]["email"]
    async with sessions() as session:
        user_id = await session.scalar(select(User.id).where(User.email == email))
        actor = await load_actor(session, user_id=user_id) if user_id else None
        assert actor is not None, f"no account {email}"
        partner = await session.scalar(
            select(Organization.id)
            .where(Organization.kind == OrganizationKind.PARTNER)
            .order_by(Organization.id)
            .limit(1)
        )
        assert partner is not None, "no partner company"
        clients = await session.scalars(
            select(Client.id).where(Client.agent_id == actor.agent_id).order_by(Client.id)
        )
        requests = [
            RequestIn(client_id=client, organization_id=partner, product="Bench filing")
            for client in clients
        ]
    return sessions, actor, requests
