"""The blacklist's core: normalized values, matching by index lookups, rules kept by admins."""

from __future__ import annotations

import ipaddress
import json
from dataclasses import asdict
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.audit import AuditEntry
from crm.blacklist import normalize
from crm.blacklist.matching import (
    SHAPES_SEEN,
    Match,
    RecordValues,
    candidates_query,
    check,
    dry_run,
)
from crm.blacklist.models import (
    IP_INDEX,
    VALUE_KEY_INDEX,
    BlacklistRule,
    BlacklistRuleValue,
    BlacklistShape,
)
from crm.blacklist.schemas import BlacklistRuleIn, parse_rule
from crm.blacklist.service import create_rule, delete_rule, list_rules, update_rule
from crm.db import create_engine, create_sessionmaker
from crm.errors import Forbidden, Invalid
from tests.crm_client import ADMIN, AGENT, MANAGER, account_actor

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


async def add_rules(sessions, *rules: dict[str, str]) -> list[int]:
    """Save each rule as the demo admin; their ids in order."""
    async with sessions.begin() as session:
        admin = await account_actor(session, ADMIN[0])
        saved = [
            await create_rule(session, actor=admin, data=BlacklistRuleIn(**rule), now=NOW)
            for rule in rules
        ]
        return [rule.id for rule in saved]


async def matched_ids(sessions, **values: str) -> list[int]:
    async with sessions() as session:
        return [match.rule_id for match in await check(session, values=RecordValues(**values))]


# Normalization, each field's rule (no database).


def test_names_and_addresses_ignore_case_spaces_and_yo():
    assert (
        normalize.text("  Фёдор   СЕМЁНОВ ") == normalize.text("федор семенов") == "федор семенов"
    )
    assert normalize.text("Wrocław") == normalize.text("WROCŁAW")
    assert normalize.text("Nevsky  prospekt") == normalize.text("nevsky prospekt")
    assert normalize.text("Kraków") != normalize.text("Wrocław")
    assert normalize.text("   ") is None


def test_a_letter_with_a_combining_mark_is_the_letter_typed_at_once():
    assert normalize.text("Семе\u0308нов") == normalize.text("Семёнов") == "семенов"
    assert normalize.text("Jose\u0301") == normalize.text("José")


def test_email_is_lower_cased_and_trimmed():
    assert normalize.email("  Ivan.Petrov@Example.COM ") == "ivan.petrov@example.com"
    assert normalize.email(" ") is None


@pytest.mark.parametrize(
    "typed", ["8 916 123-45-67", "+7 (916) 123 45 67", "89161234567", "9161234567", "+79161234567"]
)
def test_phones_are_compared_in_e164(typed):
    assert normalize.phone(typed) == "+79161234567"


def test_a_phone_that_is_no_number_is_refused_and_blank_is_none():
    with pytest.raises(ValueError):
        normalize.phone("12345")
    assert normalize.phone("  ") is None


def test_postal_codes_are_compared_without_spaces():
    assert normalize.postal_code(" 125 009 ") == normalize.postal_code("125009") == "125009"
    assert normalize.postal_code("SW1A 1AA") == normalize.postal_code("sw1a1aa")


def test_an_ip_is_one_address_or_a_cidr_network():
    assert normalize.network("1.1.1.1") == ipaddress.ip_network("1.1.1.1/32")
    assert normalize.network(" 10.0.0.0/24 ") == ipaddress.ip_network("10.0.0.0/24")
    assert normalize.network("2001:db8::1") == ipaddress.ip_network("2001:db8::1/128")
    assert normalize.network("2001:DB8::/32") == ipaddress.ip_network("2001:db8::/32")
    assert normalize.network("") is None
    with pytest.raises(ValueError, match=r"10\.0\.0\.0/24"):
        normalize.network("10.0.0.5/24")
    with pytest.raises(ValueError):
        normalize.network("10.0.0.256")
    # A dual-stack server reports an IPv4 client as ::ffff:a.b.c.d.
    assert normalize.address("::ffff:1.1.1.1") == ipaddress.ip_address("1.1.1.1")


def test_addresses_are_fixed_width_hex_in_address_order():
    assert normalize.key(ipaddress.ip_address("1.1.1.1")) == "01010101"
    assert normalize.key(ipaddress.ip_address("2001:db8::1")) == "20010db8" + "0" * 23 + "1"
    low, high = ipaddress.ip_address("9.255.255.255"), ipaddress.ip_address("10.0.0.0")
    assert normalize.key(low) < normalize.key(high)
    firsts = normalize.containing_firsts(ipaddress.ip_address("10.0.0.7"), range(33))
    assert set(firsts) == {"0a000007", "0a000006", "0a000004", "0a000000", "08000000", "00000000"}
    assert normalize.containing_firsts(ipaddress.ip_address("10.0.0.7"), [24, 32]) == [
        "0a000000",
        "0a000007",
    ]


def test_the_linear_check_needs_every_filled_field():
    rule = normalize.comparable_rule({"first_name": "Jan", "city": "Wrocław"})
    assert normalize.rule_matches(
        rule, normalize.comparable_record({"first_name": "jan", "city": "WROCŁAW"})
    )
    assert not normalize.rule_matches(rule, normalize.comparable_record({"first_name": "Jan"}))
    assert not normalize.rule_matches(
        rule, normalize.comparable_record({"first_name": "Jan", "city": "Kraków"})
    )


# Input.


def test_a_rule_without_any_field_is_refused_naming_the_rule():
    for data in ({}, {"note": "why not"}, {"city": "  ", "phone": ""}):
        with pytest.raises(Invalid) as refused:
            parse_rule(data)
        assert refused.value.errors == {"rule": "fill in at least one field"}


def test_a_wrong_field_is_named():
    with pytest.raises(Invalid) as phone:
        parse_rule({"phone": "12345"})
    assert set(phone.value.errors) == {"phone"}
    with pytest.raises(Invalid) as ip:
        parse_rule({"ip": "10.0.0.5/24"})
    assert set(ip.value.errors) == {"ip"} and "10.0.0.0/24" in ip.value.errors["ip"]
    with pytest.raises(Invalid) as email:
        parse_rule({"email": "not an address"})
    assert set(email.value.errors) == {"email"}


# Matching against saved rules, on each database.


async def test_the_product_briefs_example(sessions, demo):
    by_ip_and_city, by_name = await add_rules(
        sessions,
        {"ip": "1.1.1.1", "city": "Wrocław"},
        {"first_name": "Jan", "last_name": "Kowalski"},
    )
    assert await matched_ids(sessions, ip="1.1.1.1", city="Wrocław", first_name="Anna") == [
        by_ip_and_city
    ]
    assert await matched_ids(
        sessions, first_name="Jan", last_name="Kowalski", city="Kraków", ip="5.6.7.8"
    ) == [by_name]
    assert await matched_ids(sessions, ip="1.1.1.1", city="Kraków") == []


async def test_a_record_matching_one_of_two_fields_is_not_flagged(sessions, demo):
    (rule,) = await add_rules(sessions, {"first_name": "Jan", "city": "Wrocław"})
    assert await matched_ids(sessions, first_name="Jan", city="Kraków") == []
    assert await matched_ids(sessions, first_name="Jan") == []
    assert await matched_ids(sessions, city="Wrocław", ip="1.1.1.1") == []
    assert await matched_ids(sessions, first_name="Jan", city="Wrocław") == [rule]


async def test_values_are_normalized_on_both_sides(sessions, demo):
    (rule,) = await add_rules(
        sessions,
        {
            "last_name": "  Семёнов ",
            "street": "Nevsky   Prospekt",
            "phone": "8 916 123-45-67",
            "postal_code": "125 009",
            "email": " Ivan@Example.COM ",
        },
    )
    record = {
        "last_name": "СЕМЕНОВ",
        "street": "nevsky prospekt",
        "phone": "+7 916 1234567",
        "postal_code": "125009",
        "email": "ivan@example.com",
    }
    assert await matched_ids(sessions, **record) == [rule]
    assert await matched_ids(sessions, **{**record, "phone": "+79161234568"}) == []
    assert await matched_ids(sessions, **{**record, "phone": "no number"}) == []


async def test_an_ipv4_network_matches_every_address_inside_and_none_outside(sessions, demo):
    network, wide, host = await add_rules(
        sessions, {"ip": "10.0.0.0/24"}, {"ip": "10.0.0.0/16"}, {"ip": "10.0.0.0"}
    )
    assert await matched_ids(sessions, ip="10.0.0.0") == [network, wide, host]
    assert await matched_ids(sessions, ip="10.0.0.255") == [network, wide]
    assert await matched_ids(sessions, ip="::ffff:10.0.0.7") == [network, wide]
    assert await matched_ids(sessions, ip="10.0.1.0") == [wide]
    assert await matched_ids(sessions, ip="10.1.0.0") == []
    assert await matched_ids(sessions, ip="9.255.255.255") == []
    assert await matched_ids(sessions, ip="::a00:7") == []  # IPv6 with the same bits


async def test_an_ipv4_network_written_in_ipv6_holds_the_ipv4_addresses(sessions, demo):
    (mapped,) = await add_rules(sessions, {"ip": "::ffff:1.2.3.0/120"})
    assert await matched_ids(sessions, ip="1.2.3.5") == [mapped]
    assert await matched_ids(sessions, ip="::ffff:1.2.3.200") == [mapped]
    assert await matched_ids(sessions, ip="1.2.4.0") == []


async def test_a_rule_that_gains_or_loses_its_ip_is_found_the_new_way(sessions, demo):
    (rule,) = await add_rules(sessions, {"city": "Tula"})
    async with sessions.begin() as session:
        admin = await account_actor(session, ADMIN[0])
        data = BlacklistRuleIn(city="Tula", ip="10.0.0.0/8")
        await update_rule(session, actor=admin, rule_id=rule, data=data, now=NOW)
    assert await matched_ids(sessions, city="Tula") == []
    assert await matched_ids(sessions, city="Tula", ip="10.1.1.1") == [rule]
    async with sessions.begin() as session:
        data = BlacklistRuleIn(city="Tula", last_name="Orlov")
        await update_rule(session, actor=admin, rule_id=rule, data=data, now=NOW)
    assert await matched_ids(sessions, city="Tula", ip="10.1.1.1") == []
    assert await matched_ids(sessions, city="tula", last_name="ORLOV", ip="192.0.2.1") == [rule]


async def test_an_ipv6_network_matches_every_address_inside_and_none_outside(sessions, demo):
    network, host = await add_rules(sessions, {"ip": "2001:db8::/32"}, {"ip": "2001:db8::1"})
    assert await matched_ids(sessions, ip="2001:db8::1") == [network, host]
    assert await matched_ids(sessions, ip="2001:db8:ffff:ffff:ffff:ffff:ffff:ffff") == [network]
    assert await matched_ids(sessions, ip="2001:db9::") == []
    assert await matched_ids(sessions, ip="2001:db7:ffff:ffff:ffff:ffff:ffff:ffff") == []
    assert await matched_ids(sessions, ip="32.1.13.184") == []  # IPv4 with the same bits


async def test_the_explanation_names_each_rule_its_note_and_the_matched_values(sessions, demo):
    by_ip_and_city, by_name, _other = await add_rules(
        sessions,
        {"ip": "1.1.1.0/24", "city": "Wrocław", "note": "chargebacks in May"},
        {"first_name": "Jan", "last_name": "Kowalski"},
        {"email": "jan@example.com"},
    )
    async with sessions() as session:
        matches = await check(
            session,
            values=RecordValues(
                first_name="JAN", last_name="Kowalski", city="wrocław", ip="1.1.1.9"
            ),
        )
    assert matches == [
        Match(
            rule_id=by_ip_and_city,
            note="chargebacks in May",
            fields={"city": "wrocław", "ip": "1.1.1.9"},
        ),
        Match(rule_id=by_name, note=None, fields={"first_name": "JAN", "last_name": "Kowalski"}),
    ]


async def test_a_rule_of_new_fields_from_another_process_is_found_at_once(
    engine, database_url, demo
):
    (email,) = await add_rules(create_sessionmaker(engine), {"email": "a@example.com"})
    other = create_engine(database_url)  # a second server process, as far as the rules go
    try:
        async with engine.connect() as connection:
            async with AsyncSession(bind=connection) as session:
                found = await check(session, values=RecordValues(email="a@example.com"))
                assert [match.rule_id for match in found] == [email]
                await session.commit()
            assert connection.info[SHAPES_SEEN] == ("email",)  # what it remembers
            (phone,) = await add_rules(create_sessionmaker(other), {"phone": "+79161234567"})
            record = RecordValues(email="b@example.com", phone="8 916 123-45-67")
            async with AsyncSession(bind=connection) as session:
                assert [m.rule_id for m in await check(session, values=record)] == [phone]
            assert set(connection.info[SHAPES_SEEN]) == {"email", "phone"}
    finally:
        await other.dispose()


async def test_a_record_with_nothing_to_compare_matches_nothing(sessions, demo):
    await add_rules(sessions, {"city": "Moscow"})
    assert await matched_ids(sessions) == []
    assert await matched_ids(sessions, ip="not an address", phone="12") == []


# Keeping the rules.


async def test_only_admins_keep_rules(sessions, demo):
    (rule,) = await add_rules(sessions, {"city": "Moscow"})
    data = BlacklistRuleIn(city="Kazan")
    async with sessions() as session:
        for email in (AGENT[0], MANAGER[0]):
            actor = await account_actor(session, email)
            with pytest.raises(Forbidden):
                await create_rule(session, actor=actor, data=data, now=NOW)
            with pytest.raises(Forbidden):
                await update_rule(session, actor=actor, rule_id=rule, data=data, now=NOW)
            with pytest.raises(Forbidden):
                await delete_rule(session, actor=actor, rule_id=rule, now=NOW)
            with pytest.raises(Forbidden):
                await list_rules(session, actor=actor)
            with pytest.raises(Forbidden):
                await dry_run(session, actor=actor, data=data)
    assert await matched_ids(sessions, city="Moscow") == [rule]


async def test_an_empty_rule_is_not_saved(sessions, demo):
    async with sessions() as session:
        admin = await account_actor(session, ADMIN[0])
        with pytest.raises(Invalid) as refused:
            await create_rule(session, actor=admin, data=BlacklistRuleIn(note="x"), now=NOW)
        assert set(refused.value.errors) == {"rule"}
        assert await session.scalar(select(func.count()).select_from(BlacklistRule)) == 0


async def test_changes_are_audited_and_an_update_indexes_the_new_values(sessions, demo):
    (rule,) = await add_rules(sessions, {"city": "Moscow", "note": "fraud ring"})
    assert await matched_ids(sessions, city="moscow") == [rule]
    async with sessions.begin() as session:
        admin = await account_actor(session, ADMIN[0])
        changed = BlacklistRuleIn(city="Kazan", first_name="Ivan", note="fraud ring")
        await update_rule(session, actor=admin, rule_id=rule, data=changed, now=NOW)
    assert await matched_ids(sessions, city="Moscow") == []
    assert await matched_ids(sessions, city="Kazan") == []
    assert await matched_ids(sessions, city="kazan", first_name="IVAN") == [rule]

    async with sessions.begin() as session:
        admin = await account_actor(session, ADMIN[0])
        await delete_rule(session, actor=admin, rule_id=rule, now=NOW)
    assert await matched_ids(sessions, city="kazan", first_name="IVAN") == []
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(BlacklistRuleValue)) == 0
        entries = list(
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.entity == "blacklist_rule")
                .order_by(AuditEntry.id)
            )
        )
    assert [(entry.action, entry.actor, entry.entity_id) for entry in entries] == [
        ("create", ADMIN[0], str(rule)),
        ("update", ADMIN[0], str(rule)),
        ("delete", ADMIN[0], str(rule)),
    ]
    assert json.loads(entries[1].details) == {"fields": ["city", "first_name"]}
    assert json.loads(entries[2].details) == {
        "city": "Kazan",
        "first_name": "Ivan",
        "note": "fraud ring",
    }


async def test_the_list_finds_rules_by_any_value_in_any_case(sessions, demo):
    moscow, card = await add_rules(
        sessions,
        {"city": "Москва", "street": "Тверская"},
        {"email": "x@example.com", "postal_code": "125 009", "note": "Chargeback"},
    )
    async with sessions() as session:
        admin = await account_actor(session, ADMIN[0])

        async def found(search: str | None) -> list[int]:
            page = await list_rules(session, actor=admin, search=search)
            return [rule.id for rule in page.items]

        assert await found(None) == [card, moscow]
        assert await found("МОСКВА") == [moscow]
        assert await found("твер") == [moscow]
        assert await found("125 00") == [card]
        assert await found("chargeback") == [card]
        assert await found("kazan") == []


# The dry run over past requests (the demo data: Ivan Petrov of Moscow has one request,
# Maria Smirnova of Saint Petersburg two).


async def test_the_dry_run_counts_the_past_requests_a_rule_would_flag(sessions, demo):
    async with sessions() as session:
        admin = await account_actor(session, ADMIN[0])

        async def run(limit: int = 20, **rule: str):
            return await dry_run(session, actor=admin, data=BlacklistRuleIn(**rule), limit=limit)

        petersburg = await run(city=" saint  PETERSBURG ")
        assert petersburg.count == 2
        assert {request.client.last_name for request in petersburg.requests} == {"Smirnova"}
        assert (await run(phone="8 903 765-43-21")).count == 2
        ivan = await run(first_name="IVAN", last_name="petrov", email="Ivan.Petrov@example.com")
        assert ivan.count == 1 and ivan.requests[0].client.first_name == "Ivan"
        assert (await run(first_name="Ivan", city="Saint Petersburg")).count == 0

        # The demo's requests were filed before their source address was kept.
        assert (await run(city="Moscow")).count == 1
        assert (await run(city="Moscow", ip="0.0.0.0/0")).count == 0

        newest = await run(limit=1, street="nevsky prospekt")
        assert newest.count == 2 and len(newest.requests) == 1
    assert await matched_ids(sessions, city="Moscow") == []  # nothing was saved


# Scale: the check looks rules up through the indexes, it does not scan them.

BULK = 20_000
FIRST_BULK_ID = 1_000_000


def bulk_rules() -> tuple[list[dict], list[dict]]:
    """Rules of names, of cities with a /24 network, and of phones; and their values."""
    rules, values = [], []
    for n in range(BULK):
        rule_id = FIRST_BULK_ID + n
        kind = n % 3
        row = {"id": rule_id, "created_at": NOW - timedelta(days=1), "field_count": 2}
        if kind == 0:
            normalized = {"first_name": "jan", "last_name": f"nowak{n}"}
            row |= {"first_name": "Jan", "last_name": f"Nowak{n}", "normalized": normalized}
            row["value_key"] = normalize.value_key(normalized)
            values += [
                {"rule_id": rule_id, "field": "first_name", "value": "jan"},
                {"rule_id": rule_id, "field": "last_name", "value": f"nowak{n}"},
            ]
        elif kind == 1:
            network = ipaddress.ip_network(f"10.{n // 256 % 256}.{n % 256}.0/24")
            row |= {
                "city": f"City{n}",
                "normalized": {"city": f"city{n}"},
                "ip": str(network),
                "ip_family": 4,
                "ip_first": normalize.key(network.network_address),
                "ip_last": normalize.key(network.broadcast_address),
                "ip_prefix": 24,
            }
            values.append({"rule_id": rule_id, "field": "city", "value": f"city{n}"})
        else:
            normalized = {"phone": f"+7916{n:07}"}
            row |= {"phone": f"+7916{n:07}", "field_count": 1, "normalized": normalized}
            row["value_key"] = normalize.value_key(normalized)
            values.append({"rule_id": rule_id, "field": "phone", "value": f"+7916{n:07}"})
        rules.append(row)
    return rules, values


async def query_plan(session, values: RecordValues) -> str:
    shapes = list(await session.scalars(select(BlacklistShape.fields)))
    statement, params = candidates_query(normalize.comparable_record(asdict(values)), shapes)
    connection = await session.connection()
    sql = str(
        statement.params(params).compile(
            connection.engine.sync_engine, compile_kwargs={"literal_binds": True}
        )
    )
    if connection.dialect.name == "sqlite":
        rows = await connection.exec_driver_sql("EXPLAIN QUERY PLAN " + sql)
        return "\n".join(row[3] for row in rows)
    await connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
    return "\n".join(row[0] for row in await connection.exec_driver_sql("EXPLAIN " + sql))


async def test_twenty_thousand_rules_are_checked_through_the_indexes(sessions, demo):
    (target,) = await add_rules(sessions, {"first_name": "Jan", "last_name": "Kowalski"})
    rules, values = bulk_rules()
    async with sessions.begin() as session:
        await session.execute(insert(BlacklistRule), rules)
        await session.execute(insert(BlacklistRuleValue), values)
        # The names' shape came with the rule saved above; the phones' and networks' are new.
        await session.execute(insert(BlacklistShape), [{"fields": "phone"}, {"fields": "ipv4/24"}])
        await (await session.connection()).exec_driver_sql("ANALYZE")

    # The first name is that of a third of the rules and the address is in one network:
    # only the rule whose every field matched is read, and returned.
    request = RecordValues(first_name="Jan", last_name="Kowalski", city="Kraków", ip="10.0.4.7")
    async with sessions() as session:
        assert await check(session, values=request) == [
            Match(rule_id=target, note=None, fields={"first_name": "Jan", "last_name": "Kowalski"})
        ]
        assert [
            m.rule_id for m in await check(session, values=RecordValues(phone="+79160000005"))
        ] == [FIRST_BULK_ID + 5]
        assert [
            m.rule_id
            for m in await check(session, values=RecordValues(city="city4", ip="10.0.4.200"))
        ] == [FIRST_BULK_ID + 4]

    async with sessions.begin() as session:
        plan = await query_plan(session, request)
    if "SEARCH" in plan or "SCAN" in plan:  # SQLite
        assert f"USING INDEX {VALUE_KEY_INDEX} (value_key=?)" in plan, plan
        assert f"USING INDEX {IP_INDEX} (ip_family=? AND ip_first=?" in plan, plan
        # Only the shapes are counted whole: one row for each set of fields rules fill.
        assert not [line for line in plan.splitlines() if "SCAN blacklist_rules" in line], plan
    else:  # PostgreSQL
        assert VALUE_KEY_INDEX in plan and IP_INDEX in plan, plan
        assert "Seq Scan" not in plan, plan
        # Every index of the rules is searched by a condition, none walked whole (only the
        # shapes are counted whole).
        lines = plan.splitlines()
        for at, line in enumerate(lines):
            if "Scan" in line and "on blacklist_rules" in line:
                assert "Index Cond" in lines[at + 1], plan
