"""Requests against the blacklist: checked once at filing, re-checked on an admin's demand.

The filing side never learns the result, not even by timing: a flagged request is filed
with the same statements as a clean one (the check, then the request's own INSERT holding
the result), and the admins' letter is written later by a background job.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm import i18n
from crm.auth.service import Actor, require_admin
from crm.blacklist.labels import WORDS
from crm.blacklist.matching import Match, RecordValues, check
from crm.errors import Invalid
from crm.i18n import gettext, ngettext
from crm.i18n import gettext as _
from crm.models import Client, Request
from crm.outbox.service import enqueue
from ivr.config import WebConfig

log = structlog.get_logger(__name__)
MAX_RECHECK = 500
"""Requests one re-check may name: a page of the list many times over."""
ALERTS_PER_PASS = 100
"""Letters one background pass writes; the rest wait for the next pass."""


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


def stored(matches: list[Match]) -> list[dict[str, Any]]:
    """Matches as a request keeps them (`Request.blacklist_matches`)."""
    return [asdict(match) for match in matches]


@dataclass(frozen=True)
class Screening:
    """The columns a new request is filed with: the check's result (a suspicious one's
    letter is still to be written)."""

    suspicious: bool
    blacklist_matches: list[dict[str, Any]]


async def screen(session: AsyncSession, *, client: Client, source_ip: str | None) -> Screening:
    """Check a request about to be filed; the caller files it with these columns."""
    matches = await check(session, values=record_values(client, source_ip))
    return Screening(suspicious=bool(matches), blacklist_matches=stored(matches))


def _alert_body(request: Request) -> str:
    rules = len(request.blacklist_matches)
    lines = [
        ngettext(
            "Request %(number)s was filed at %(moment)s and matched %(num)d blacklist rule.",
            "Request %(number)s was filed at %(moment)s and matched %(num)d blacklist rules.",
            rules,
        )
        % {"number": request.number, "moment": i18n.moment(request.created_at), "num": rules},
        _("The agent was not told. Open the request in the CRM to see it."),
        "",
    ]
    for match in request.blacklist_matches:
        note = match.get("note")
        rule = match["rule_id"]
        lines.append(
            _("Rule %(rule)s: %(note)s") % {"rule": rule, "note": note}
            if note
            else _("Rule %(rule)s") % {"rule": rule}
        )
        lines.extend(
            f"  {gettext(WORDS.get(field, field))}: {value}"
            for field, value in match["fields"].items()
        )
        lines.append("")
    return "\n".join(lines)


async def alert_admins(
    session: AsyncSession, *, to: Sequence[str], web: WebConfig, now: datetime
) -> int:
    """Write the admins' letter of each request flagged at filing (a background job), in
    `web.language` with times in `web.timezone`.

    Each request is claimed by an UPDATE that only one of several processes can win, in
    the transaction that queues its letter: a letter is written once, or not at all.
    """
    pending = await session.scalars(
        select(Request).where(Request.alert_pending).order_by(Request.id).limit(ALERTS_PER_PASS)
    )
    written = 0
    for request in list(pending):
        claimed = await session.execute(
            update(Request)
            .where(Request.id == request.id, Request.alert_pending)
            .values(alert_pending=False)
            .execution_options(synchronize_session=False)
        )
        if not claimed.rowcount:  # type: ignore[attr-defined]
            continue
        with i18n.reading(web.language, web.timezone):
            subject = _("Suspicious request %(number)s") % {"number": request.number}
            body = _alert_body(request)
        await enqueue(session, to=to, subject=subject, body=body, now=now)
        rules = [match["rule_id"] for match in request.blacklist_matches]
        log.warning("blacklist_match", number=request.number, rules=rules)
        written += 1
    return written


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


def _wanted(numbers: Sequence[str]) -> list[str]:
    if not numbers:
        raise Invalid.one("numbers", _("name at least one request"))
    if len(numbers) > MAX_RECHECK:
        raise Invalid.one(
            "numbers", _("name at most %(count)d requests at once") % {"count": MAX_RECHECK}
        )
    return list(dict.fromkeys(numbers))


async def recheck(
    session: AsyncSession, *, actor: Actor, numbers: Sequence[str]
) -> list[Rechecked]:
    """Run today's rules on the named requests and update their flags (admins only).

    All or nothing: a number of no request is refused, naming its place in `numbers`,
    before anything changes. The requests are locked while they are checked, so two
    re-checks at once report each change once. No letter is sent: the admin asking reads
    the answer.
    """
    require_admin(actor)
    wanted = _wanted(numbers)
    rows = await session.execute(
        select(Request, Client)
        .join(Client, Client.id == Request.client_id)
        .where(Request.number.in_(wanted))
        .order_by(Request.id)
        .with_for_update(of=Request)
    )
    found = {request.number: (request, client) for request, client in rows}
    missing = {
        f"numbers.{index}": _("no such request")
        for index, number in enumerate(numbers)
        if number not in found
    }
    if missing:
        raise Invalid(missing)
    results = []
    for number in wanted:
        request, client = found[number]
        before = {match["rule_id"] for match in request.blacklist_matches}
        was = request.suspicious
        matches = await check(session, values=record_values(client, request.source_ip))
        request.suspicious, request.blacklist_matches = bool(matches), stored(matches)
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
    changed = sum(1 for result in results if result.added or result.removed)
    log.info("blacklist_recheck", requests=len(results), changed=changed)
    return results
