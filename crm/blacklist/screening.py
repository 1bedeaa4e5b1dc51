"""Requests against the blacklist: checked once at filing, re-checked on an admin's demand.

The filing side never learns the result: `screen` runs for every request, flagged or not,
in the filing's own transaction, and only admins read what it stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import structlog
from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.auth.service import Actor, require_admin
from crm.blacklist.matching import Match, RecordValues, check
from crm.blacklist.models import BlacklistMatch
from crm.errors import Invalid
from crm.models import Client, Request
from crm.outbox.service import enqueue

log = structlog.get_logger(__name__)
MAX_RECHECK = 500
"""Requests one re-check may name: a page of the list many times over."""


def record_values(client: Client, source_ip: str | None) -> RecordValues:
    """What a request is checked on: its client's eight fields and its source address."""
    return RecordValues(
        first_name=client.first_name,
        last_name=client.last_name,
        street=client.street,
        house=client.house,
        postal_code=client.postal_code,
        city=client.city,
        email=client.email,
        ip=source_ip,
        phone=client.phone,
    )


async def _store(
    session: AsyncSession, request: Request, matches: list[Match], now: datetime
) -> None:
    """The request's matches replace whatever an earlier check stored."""
    await session.execute(delete(BlacklistMatch).where(BlacklistMatch.request_id == request.id))
    if matches:
        await session.execute(
            insert(BlacklistMatch),
            [
                {
                    "request_id": request.id,
                    "rule_id": match.rule_id,
                    "note": match.note,
                    "fields": match.fields,
                    "checked_at": now,
                }
                for match in matches
            ],
        )
    request.suspicious = bool(matches)


def _alert_body(request: Request, matches: list[Match]) -> str:
    lines = [
        f"Request {request.number} was filed at {request.created_at:%Y-%m-%d %H:%M} UTC "
        f"and matched {len(matches)} blacklist rule(s).",
        "The agent was not told. Open the request in the CRM to see it.",
        "",
    ]
    for match in matches:
        lines.append(f"Rule {match.rule_id}" + (f": {match.note}" if match.note else ""))
        lines.extend(f"  {field}: {value}" for field, value in match.fields.items())
        lines.append("")
    return "\n".join(lines)


async def screen(
    session: AsyncSession,
    *,
    request: Request,
    client: Client,
    alert_to: Sequence[str],
    now: datetime,
) -> list[Match]:
    """Check a request as it is filed, store the result, and tell the admins if it matched."""
    matches = await check(session, values=record_values(client, request.source_ip))
    if matches:
        await _store(session, request, matches, now)
        await enqueue(
            session,
            to=alert_to,
            subject=f"Suspicious request {request.number}",
            body=_alert_body(request, matches),
            now=now,
        )
        log.warning("blacklist_match", number=request.number, rules=[m.rule_id for m in matches])
    return matches


async def stored_matches(session: AsyncSession, *, request_id: int) -> list[BlacklistMatch]:
    """What the last check of the request found, by rule."""
    return (await matches_by_request(session, request_ids=[request_id]))[request_id]


@dataclass(frozen=True)
class Rechecked:
    """What a re-check changed on one request."""

    number: str
    was_suspicious: bool
    suspicious: bool
    added: list[int]
    """Rules it matches now and did not before."""
    removed: list[int]
    """Rules it matched before and does not now (changed, deleted, or no longer matching)."""
    matches: list[Match]


def _numbers(numbers: Sequence[str]) -> list[str]:
    unique = list(dict.fromkeys(number.strip() for number in numbers))
    if not unique:
        raise Invalid.one("numbers", "name at least one request")
    if len(unique) > MAX_RECHECK:
        raise Invalid.one("numbers", f"name at most {MAX_RECHECK} requests at once")
    return unique


async def recheck(
    session: AsyncSession, *, actor: Actor, numbers: Sequence[str], now: datetime
) -> list[Rechecked]:
    """Run today's rules on the named requests and update their flags (admins only).

    All or nothing: a number of no request is refused, naming its place in `numbers`,
    before anything changes. No letter is sent: the admin asking reads the answer.
    """
    require_admin(actor)
    wanted = _numbers(numbers)
    rows = await session.execute(
        select(Request, Client)
        .join(Client, Client.id == Request.client_id)
        .where(Request.number.in_(wanted))
    )
    found = {request.number: (request, client) for request, client in rows}
    missing = {
        f"numbers.{index}": "no such request"
        for index, number in enumerate(wanted)
        if number not in found
    }
    if missing:
        raise Invalid(missing)
    results = []
    for number in wanted:
        request, client = found[number]
        before = {match.rule_id for match in await stored_matches(session, request_id=request.id)}
        was = request.suspicious
        matches = await check(session, values=record_values(client, request.source_ip))
        await _store(session, request, matches, now)
        after = {match.rule_id for match in matches}
        results.append(
            Rechecked(
                number=number,
                was_suspicious=was,
                suspicious=bool(matches),
                added=sorted(after - before),
                removed=sorted(before - after),
                matches=matches,
            )
        )
    changed = [result.number for result in results if result.added or result.removed]
    log.info("blacklist_recheck", requests=len(results), changed=len(changed))
    return results


async def matches_by_request(
    session: AsyncSession, *, request_ids: Sequence[int]
) -> dict[int, list[BlacklistMatch]]:
    """What the last checks of these requests found (a page's worth), by request and rule."""
    found: dict[int, list[BlacklistMatch]] = {request_id: [] for request_id in request_ids}
    if request_ids:
        rows = await session.scalars(
            select(BlacklistMatch)
            .where(BlacklistMatch.request_id.in_(request_ids))
            .order_by(BlacklistMatch.request_id, BlacklistMatch.rule_id)
        )
        for match in rows:
            found[match.request_id].append(match)
    return found
