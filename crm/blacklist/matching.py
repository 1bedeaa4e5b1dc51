"""What a record matches: `check` by index lookups alone, and an admin's dry run."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Select, and_, func, literal, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import contains_eager

from crm.auth.service import Actor, require_admin
from crm.blacklist import normalize
from crm.blacklist.models import BlacklistRule, BlacklistRuleValue
from crm.blacklist.normalize import FIELDS, Comparable
from crm.blacklist.schemas import BlacklistRuleIn
from crm.models import Client, Request

CLIENT_FIELDS = tuple(field for field in FIELDS if field != "ip")
"""What a request's client tells of it; the request itself keeps its source address."""


@dataclass(frozen=True)
class RecordValues:
    """The nine fields of a record to check, as they came (None where unknown)."""

    first_name: str | None = None
    last_name: str | None = None
    street: str | None = None
    house: str | None = None
    postal_code: str | None = None
    city: str | None = None
    email: str | None = None
    ip: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class Match:
    """A rule a record matched, and each of its fields with the record's value there."""

    rule_id: int
    note: str | None
    fields: dict[str, str]


@dataclass(frozen=True)
class DryRun:
    """What a rule would have matched among past requests."""

    count: int
    requests: list[Request]
    """The most recent of them, newest first, each with its client loaded."""


def matching_rules_query(values: RecordValues) -> Select[tuple[int]] | None:
    """The ids of the rules `values` match, one statement of index lookups; None if no values.

    Each value row of the record's (field, value) pairs, and each IP rule whose network holds
    the record's address, counts one matched field of its rule; a rule matches when all of its
    fields did. The networks holding an address are found by their first address, one per
    prefix length (at most 33 for IPv4, 129 for IPv6), each an equality on `ix_blacklist_rules_ip`.
    A rule's field count is read by its primary key for each rule that matched a field, so no
    join can be planned as a walk over all the rules.
    """
    record = normalize.comparable_record(asdict(values))
    parts: list[Select[Any]] = []
    if record.values:
        value = BlacklistRuleValue
        # One equality per pair: an IN of row values makes SQLite scan instead of search.
        pairs = [and_(value.field == f, value.value == v) for f, v in record.values.items()]
        parts.append(select(value.rule_id, value.field).where(or_(*pairs)))
    if record.address is not None:
        rule = BlacklistRule
        parts.append(
            select(rule.id.label("rule_id"), literal("ip").label("field")).where(
                rule.ip_family == record.address.version,
                rule.ip_first.in_(normalize.containing_firsts(record.address)),
                rule.ip_last >= normalize.key(record.address),
            )
        )
    if not parts:
        return None
    matched = (parts[0] if len(parts) == 1 else union_all(*parts)).subquery()
    counts = (
        select(matched.c.rule_id, func.count().label("matched"))
        .group_by(matched.c.rule_id)
        .subquery()
    )
    field_count = (
        select(BlacklistRule.field_count)
        .where(BlacklistRule.id == counts.c.rule_id)
        .scalar_subquery()
    )
    return (
        select(counts.c.rule_id).where(counts.c.matched == field_count).order_by(counts.c.rule_id)
    )


async def check(session: AsyncSession, *, values: RecordValues) -> list[Match]:
    """Every rule the record matches, with the fields that matched and the record's values."""
    query = matching_rules_query(values)
    ids = [] if query is None else list(await session.scalars(query))
    if not ids:
        return []
    rules = await session.scalars(
        select(BlacklistRule).where(BlacklistRule.id.in_(ids)).order_by(BlacklistRule.id)
    )
    given = asdict(values)
    return [
        Match(
            rule_id=rule.id,
            note=rule.note,
            fields={field: given[field] for field in FIELDS if getattr(rule, field) is not None},
        )
        for rule in rules
    ]


async def _matching_requests(session: AsyncSession, rule: Comparable) -> list[int]:
    """The ids of past requests whose client and source address match the rule, newest first.

    Read in batches and compared as `check` compares: this is an admin's question before
    saving a rule, not the check of a new request.
    """
    query = (
        select(Request.id, Request.source_ip, *(getattr(Client, f) for f in CLIENT_FIELDS))
        .join(Client, Client.id == Request.client_id)
        .order_by(Request.created_at.desc(), Request.id.desc())
    )
    # Clients are saved with the phone in E.164 and the email trimmed and lower-cased
    # (crm.schemas.ClientIn), the rule's normalized forms: the database narrows on those.
    for field in ("phone", "email"):
        if field in rule.values:
            query = query.where(getattr(Client, field) == rule.values[field])
    if rule.network is not None:
        query = query.where(Request.source_ip.is_not(None))
    found = []
    rows = await session.stream(query.execution_options(yield_per=1000))
    async for row in rows:
        values = dict(zip(CLIENT_FIELDS, row[2:], strict=True))
        record = normalize.comparable_record({**values, "ip": row[1]})
        if normalize.rule_matches(rule, record):
            found.append(row[0])
    return found


async def dry_run(
    session: AsyncSession, *, actor: Actor, data: BlacklistRuleIn, limit: int = 20
) -> DryRun:
    """How many past requests the rule would have flagged, and the `limit` most recent.

    Nothing changes: past requests keep their flags. Requests filed before their source
    address was kept have none, so a rule with an `ip` does not match them.
    """
    require_admin(actor)
    rule = normalize.comparable_rule(data.filled())
    ids = await _matching_requests(session, rule)
    recent = await session.scalars(
        select(Request)
        .join(Request.client)
        .options(contains_eager(Request.client))
        .where(Request.id.in_(ids[:limit]))
        .order_by(Request.created_at.desc(), Request.id.desc())
    )
    return DryRun(count=len(ids), requests=list(recent))
