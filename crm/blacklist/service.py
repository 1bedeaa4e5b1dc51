"""Blacklist rules: admins keep them (the matching is `crm/blacklist/matching.py`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Executable, delete, insert, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from crm import audit
from crm.auth.service import Actor, require_admin
from crm.blacklist import normalize
from crm.blacklist.models import BlacklistRule, BlacklistRuleValue, BlacklistShape
from crm.blacklist.normalize import FIELDS
from crm.blacklist.schemas import BlacklistRuleIn
from crm.errors import NotFound
from crm.pagination import Page, paginate


def rule_row(typed: Mapping[str, str], note: str | None) -> tuple[dict[str, Any], dict[str, str]]:
    """A rule's row (typed fields, IP range, lookup key) and its normalized values, from
    its filled fields as typed (ValueError for a phone or network the schema refuses)."""
    comparable = normalize.comparable_rule(typed)
    row: dict[str, Any] = {field: typed.get(field) for field in FIELDS}
    network = comparable.network
    row.update(
        note=note,
        ip_family=network.version if network else None,
        ip_first=normalize.key(network.network_address) if network else None,
        ip_last=normalize.key(network.broadcast_address) if network else None,
        ip_prefix=network.prefixlen if network else None,
        field_count=len(comparable.values) + (network is not None),
        normalized=comparable.values,
        value_key=None if network else normalize.value_key(comparable.values),
    )
    return row, comparable.values


def _columns(data: BlacklistRuleIn) -> tuple[dict[str, Any], dict[str, str]]:
    return rule_row(data.filled(), data.note)


def shape_of(row: Mapping[str, Any], values: Mapping[str, str]) -> str:
    """The shape the check finds a rule by: its network's size, or the fields it fills."""
    if row["ip_family"] is not None:
        return f"ipv{row['ip_family']}/{row['ip_prefix']}"
    return normalize.shape(values)


def shapes_insert(dialect: str, shapes: Iterable[str]) -> Executable:
    """The statement noting which fields rules fill, leaving the shapes already noted."""
    insert_ = postgresql.insert if dialect == "postgresql" else sqlite.insert
    rows = [{"fields": shape} for shape in sorted(set(shapes))]
    return insert_(BlacklistShape).values(rows).on_conflict_do_nothing()


async def _index(
    session: AsyncSession, rule_id: int, row: dict[str, Any], values: dict[str, str]
) -> None:
    """The rule's values for the search, and its shape for the check."""
    dialect = session.get_bind().dialect.name
    await session.execute(shapes_insert(dialect, [shape_of(row, values)]))
    await session.execute(delete(BlacklistRuleValue).where(BlacklistRuleValue.rule_id == rule_id))
    if values:
        await session.execute(
            insert(BlacklistRuleValue),
            [
                {"rule_id": rule_id, "field": field, "value": value}
                for field, value in values.items()
            ],
        )


async def get_rule(session: AsyncSession, *, actor: Actor, rule_id: int) -> BlacklistRule:
    """The rule (admins only), or NotFound."""
    require_admin(actor)
    rule = await session.get(BlacklistRule, rule_id)
    if rule is None:
        raise NotFound(f"blacklist rule {rule_id}")
    return rule


async def create_rule(
    session: AsyncSession, *, actor: Actor, data: BlacklistRuleIn, now: datetime
) -> BlacklistRule:
    """A new rule (admins only), indexed at once."""
    require_admin(actor)
    row, values = _columns(data)
    rule = BlacklistRule(created_at=now, **row)
    session.add(rule)
    await session.flush()
    await _index(session, rule.id, row, values)
    await audit.record(
        session,
        actor=actor,
        action="create",
        entity="blacklist_rule",
        entity_id=rule.id,
        details={"fields": sorted(data.filled()), "note": rule.note},
        now=now,
    )
    return rule


async def update_rule(
    session: AsyncSession, *, actor: Actor, rule_id: int, data: BlacklistRuleIn, now: datetime
) -> BlacklistRule:
    """The rule with new fields (admins only), its values indexed anew."""
    rule = await get_rule(session, actor=actor, rule_id=rule_id)
    row, values = _columns(data)
    changed = sorted(key for key in (*FIELDS, "note") if getattr(rule, key) != row[key])
    for key, value in row.items():
        setattr(rule, key, value)
    await _index(session, rule.id, row, values)
    if changed:
        await audit.record(
            session,
            actor=actor,
            action="update",
            entity="blacklist_rule",
            entity_id=rule.id,
            details={"fields": changed},
            now=now,
        )
    return rule


async def delete_rule(session: AsyncSession, *, actor: Actor, rule_id: int, now: datetime) -> None:
    """Remove a rule (admins only); the audit keeps what it held."""
    rule = await get_rule(session, actor=actor, rule_id=rule_id)
    held = {field: value for field in (*FIELDS, "note") if (value := getattr(rule, field))}
    await session.execute(delete(BlacklistRuleValue).where(BlacklistRuleValue.rule_id == rule_id))
    await session.delete(rule)
    await audit.record(
        session,
        actor=actor,
        action="delete",
        entity="blacklist_rule",
        entity_id=rule_id,
        details=held,
        now=now,
    )


async def list_rules(
    session: AsyncSession,
    *,
    actor: Actor,
    search: str | None = None,
    page: int = 1,
    per_page: int = 20,
) -> Page[BlacklistRule]:
    """A page of the rules, newest first; `search` finds a part of any value or the note.

    Values are searched in their normalized form, so case and `ё` do not matter on SQLite
    either (its LIKE folds only ASCII letters).
    """
    require_admin(actor)
    query = select(BlacklistRule).order_by(BlacklistRule.id.desc())
    if search and search.strip():
        words = normalize.text(search) or ""
        compact = words.replace(" ", "")
        matching_values = select(BlacklistRuleValue.rule_id).where(
            or_(
                BlacklistRuleValue.value.contains(words, autoescape=True),
                BlacklistRuleValue.value.contains(compact, autoescape=True),
            )
        )
        query = query.where(
            or_(
                BlacklistRule.id.in_(matching_values),
                BlacklistRule.ip.contains(compact, autoescape=True),
                BlacklistRule.note.icontains(search.strip(), autoescape=True),
            )
        )
    return await paginate(session, query, page=page, per_page=per_page)


async def existing_rule_ids(
    session: AsyncSession, *, actor: Actor, rule_ids: Iterable[int]
) -> set[int]:
    """Which of these rules still exist (admins only), so a page links only to those."""
    require_admin(actor)
    wanted = set(rule_ids)
    if not wanted:
        return set()
    return set(await session.scalars(select(BlacklistRule.id).where(BlacklistRule.id.in_(wanted))))
