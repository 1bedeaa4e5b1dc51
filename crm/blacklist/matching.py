"""What a record matches: `check` by index lookups alone, and an admin's dry run."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import CompoundSelect, Row, Select, bindparam, func, select, true, union_all
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import contains_eager

from crm.auth.service import Actor, require_admin
from crm.blacklist import normalize
from crm.blacklist.models import BlacklistRule, BlacklistShape
from crm.blacklist.normalize import FIELDS, VALUE_FIELDS, Comparable
from crm.blacklist.schemas import BlacklistRuleIn
from crm.models import Client, Request


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


_RULE = BlacklistRule
CANDIDATE = (_RULE.id, _RULE.note, _RULE.normalized, _RULE.ip, *(getattr(_RULE, f) for f in FIELDS))
BY_VALUES = select(*CANDIDATE).where(_RULE.value_key.in_(bindparam("keys", expanding=True)))
"""Rules without an IP whose values are exactly one part of the record's: equalities on
`ix_blacklist_rules_value_key`, each finding only rules that match."""
BY_ADDRESS = select(*CANDIDATE).where(
    _RULE.ip_family == bindparam("family"),
    _RULE.ip_first.in_(bindparam("firsts", expanding=True)),
    _RULE.ip_last >= bindparam("address"),
)
"""Rules whose network holds the record's address: one equality on `ix_blacklist_rules_ip`
for each prefix length rules use; their other fields are compared after."""
SHAPES = select(BlacklistShape.fields)
KNOWN = select(func.count().label("known")).select_from(BlacklistShape).subquery("known")
"""How many shapes there are: shapes are only ever added, so the count tells whether the
shapes a connection remembers are still all of them."""
SHAPES_SEEN = "blacklist_shapes"
"""Where a connection remembers the shapes (`Connection.info`, kept with the connection)."""


def _counted(candidates: Select[Any] | CompoundSelect) -> Select[Any]:
    """The candidates, each with the shapes' count, and the count alone when none is found."""
    found = candidates.subquery("found")
    return select(KNOWN.c.known, *found.c).select_from(KNOWN.outerjoin(found, true()))


STATEMENTS = {
    (True, False): _counted(BY_VALUES),
    (False, True): _counted(BY_ADDRESS),
    (True, True): _counted(union_all(BY_VALUES, BY_ADDRESS)),
    (False, False): select(KNOWN.c.known),
}
"""Built once for each kind of record (values, an address, both): only parameters change."""


def candidates_query(
    record: Comparable, shapes: Iterable[str]
) -> tuple[Select[Any], dict[str, Any]]:
    """The statement finding the rules a record may match, with its parameters."""
    params: dict[str, Any] = {}
    keys = normalize.part_keys(record.values, shapes)
    if keys:
        params["keys"] = keys
    address = record.address
    sizes = normalize.prefixes(shapes, address.version) if address is not None else []
    if address is not None and sizes:
        params.update(
            family=address.version,
            firsts=normalize.containing_firsts(address, sizes),
            address=normalize.key(address),
        )
    return STATEMENTS[bool(keys), bool(sizes)], params


async def _candidates(connection: AsyncConnection, record: Comparable) -> list[Row[Any]]:
    """The rules the record may match, in one statement while the shapes stay the same.

    The statement carries the shapes' count; when it differs from what this connection
    remembers, the shapes are read anew and the statement runs again.
    """
    info = connection.info
    shapes: tuple[str, ...] = info.get(SHAPES_SEEN, ())
    rows = list(await connection.execute(*candidates_query(record, shapes)))
    if rows[0].known != len(shapes):
        info[SHAPES_SEEN] = shapes = tuple(await connection.scalars(SHAPES))
        rows = list(await connection.execute(*candidates_query(record, shapes)))
    return [row for row in rows if getattr(row, "id", None) is not None]


async def check(session: AsyncSession, *, values: RecordValues) -> list[Match]:
    """Every rule the record matches, with the fields that matched and the record's values.

    One statement of index lookups, never a scan over the rules: the record's value keys
    for the shapes of the rules, and the networks of the rules' sizes holding its address.
    A rule with an IP, found by its network, has its other fields compared here, as
    `rule_matches` does.
    """
    record = normalize.comparable_record(asdict(values))
    if not record.values and record.address is None:
        return []
    rows = await _candidates(await session.connection(), record)
    given = asdict(values)
    matches = []
    for row in rows:
        rule = Comparable(values=row.normalized, network=normalize.network(row.ip))
        if normalize.rule_matches(rule, record):
            fields = {field: given[field] for field in FIELDS if getattr(row, field) is not None}
            matches.append(Match(rule_id=row.id, note=row.note, fields=fields))
    return sorted(matches, key=lambda match: match.rule_id)


async def _matching_requests(session: AsyncSession, rule: Comparable) -> list[int]:
    """The ids of past requests whose client and source address match the rule, newest first.

    Read in batches and compared as `check` compares: this is an admin's question before
    saving a rule, not the check of a new request.
    """
    query = (
        select(Request.id, Request.source_ip, *(getattr(Client, f) for f in VALUE_FIELDS))
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
        values = dict(zip(VALUE_FIELDS, row[2:], strict=True))
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
