"""Every sign-up limit, counted in the database under one lock: the gate row.

A code request locks the gate first, then counts: so the limits hold with any number of
requests and server processes at once (SQLite's transactions begin IMMEDIATE, PostgreSQL
waits on the row lock). The service-wide window slides; reaching its maximum stops sign-up
for a whole window from then, until it passes or an admin lifts the stop.
"""

from __future__ import annotations

import ipaddress
import math
from datetime import datetime, timedelta

import structlog
from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from crm import i18n
from crm.auth.service import wait_text
from crm.i18n import N_, gettext
from crm.i18n import gettext as _
from crm.models import Agent
from crm.outbox.service import enqueue
from crm.signup.errors import Suspended, Throttled
from crm.signup.models import ADDRESS_COUNTED, COUNTED, CodeStatus, SignupCode, SignupGate
from ivr.config import SignupConfig, WebConfig
from ivr.logging import mask_phone

log = structlog.get_logger("crm.signup")
GATE = 1
DAY = timedelta(hours=24)
SUSPENDED = N_("Registration is temporarily suspended. Please try again later.")


def seconds_until(moment: datetime, now: datetime) -> int:
    """Whole seconds from `now` until `moment`, rounded up (at least 1)."""
    return max(1, math.ceil((moment - now).total_seconds()))


def address_key(address: str | None) -> str:
    """What the per-address limit counts by: an IPv4 address, or an IPv6 address's /64 (one
    subscriber's network: its addresses are free to change)."""
    if not address:
        return "unknown"
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if parsed.version == 6:
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


async def lock_gate(session: AsyncSession) -> SignupGate:
    """The gate row, locked until this transaction ends (made on first use)."""
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    await session.execute(insert(SignupGate).values(id=GATE).on_conflict_do_nothing())
    gate = await session.get(SignupGate, GATE, with_for_update=True, populate_existing=True)
    if gate is None:
        raise RuntimeError("the sign-up gate row neither inserted nor found")
    return gate


def window_start(gate: SignupGate, settings: SignupConfig, now: datetime) -> datetime:
    """Codes after this count toward the service-wide window (an admin's lift restarts it)."""
    start = now - timedelta(seconds=settings.window_seconds)
    return max(start, gate.lifted_at) if gate.lifted_at else start


def stop_ends(gate: SignupGate, settings: SignupConfig, now: datetime) -> datetime | None:
    """When the stop in force ends; None when sign-up is not stopped."""
    stopped, lifted = gate.stopped_at, gate.lifted_at
    if stopped is None or (lifted is not None and lifted >= stopped):
        return None
    ends = stopped + timedelta(seconds=settings.window_seconds)
    return ends if now < ends else None


async def counted(
    session: AsyncSession,
    *conditions: ColumnElement[bool],
    statuses: tuple[CodeStatus, ...] = COUNTED,
) -> int:
    """How many codes match."""
    found = await session.scalar(
        select(func.count()).where(SignupCode.status.in_(statuses), *conditions)
    )
    return int(found or 0)


async def _frees_at(
    session: AsyncSession,
    *conditions: ColumnElement[bool],
    limit: int,
    since: datetime,
    period: timedelta,
    statuses: tuple[CodeStatus, ...] = COUNTED,
) -> datetime | None:
    """When fewer than `limit` codes matching `conditions` will be in the period again;
    None when there are fewer now. (The (count − limit + 1)-th oldest must age out first.)"""
    window = (SignupCode.status.in_(statuses), *conditions, SignupCode.created_at > since)
    count = int(await session.scalar(select(func.count()).where(*window)) or 0)
    if count < limit:
        return None
    nth = await session.scalar(
        select(SignupCode.created_at)
        .where(*window)
        .order_by(SignupCode.created_at, SignupCode.id)
        .offset(count - limit)
        .limit(1)
    )
    return None if nth is None else nth + period


async def _within_a_day(
    session: AsyncSession,
    condition: ColumnElement[bool],
    *,
    limit: int,
    now: datetime,
    refusal: str,
    statuses: tuple[CodeStatus, ...] = COUNTED,
) -> None:
    """Throttled when `limit` codes matching `condition` were made in the last 24 hours;
    `refusal` says so, with `%(wait)s` for the wait."""
    frees = await _frees_at(
        session, condition, limit=limit, since=now - DAY, period=DAY, statuses=statuses
    )
    if frees is not None:
        wait = seconds_until(frees, now)
        raise Throttled(refusal % {"wait": wait_text(wait)}, wait)


async def reserve(
    session: AsyncSession,
    *,
    phone: str,
    address: str,
    code_hash: str,
    settings: SignupConfig,
    now: datetime,
) -> int | None:
    """Check every limit under the gate's lock and reserve the code: its id; None when the
    phone has an account (kept as a probe of this address, and no code goes out)."""
    gate = await lock_gate(session)
    window = timedelta(seconds=settings.window_seconds)
    stopped = stop_ends(gate, settings, now) or await _frees_at(
        session,
        limit=settings.max_per_window,
        since=window_start(gate, settings, now),
        period=window,
    )
    if stopped is not None:
        raise Suspended(gettext(SUSPENDED), seconds_until(stopped, now))
    await _within_a_day(
        session,
        SignupCode.address == address,
        limit=settings.per_ip_daily,
        now=now,
        statuses=ADDRESS_COUNTED,
        refusal=_("Too many codes were asked for from your address today. Try again in %(wait)s."),
    )
    taken = bool(await session.scalar(select(Agent.id).where(Agent.phone == phone)))
    if not taken:
        wait = await resend_wait(session, phone=phone, settings=settings, now=now)
        if wait:
            raise Throttled(
                _(
                    "A code was sent to this number just now. A new one can be requested in "
                    "%(wait)s."
                )
                % {"wait": wait_text(wait)},
                wait,
            )
        await _within_a_day(
            session,
            SignupCode.phone == phone,
            limit=settings.per_phone_daily,
            now=now,
            refusal=_("Too many codes were sent to this number today. Try again in %(wait)s."),
        )
    reserved = SignupCode(
        phone=phone,
        address=address,
        code_hash="" if taken else code_hash,
        status=CodeStatus.TAKEN if taken else CodeStatus.SENDING,
        created_at=now,
        expires_at=now + timedelta(seconds=settings.code_ttl_seconds),
        wrong_attempts=0,
    )
    session.add(reserved)
    await session.flush()
    return None if taken else reserved.id


async def resend_wait(
    session: AsyncSession, *, phone: str, settings: SignupConfig, now: datetime
) -> int:
    """Seconds until a new code may be asked for this phone (0: now), for the countdown.

    A code that was typed in right starts no wait: when its answer was lost on the way, the
    person may ask again at once (the daily limit still counts it)."""
    last = await session.scalar(
        select(func.max(SignupCode.created_at)).where(
            SignupCode.phone == phone,
            SignupCode.status.in_(COUNTED),
            SignupCode.verified_at.is_(None),
        )
    )
    if last is None:
        return 0
    ready = last + timedelta(seconds=settings.cooldown_seconds)
    return seconds_until(ready, now) if now < ready else 0


async def mark_sent(
    session: AsyncSession,
    *,
    code_id: int,
    settings: SignupConfig,
    admin_to: tuple[str, ...],
    web: WebConfig,
    now: datetime,
) -> None:
    """The code went out. At the maximum sign-up stops and the admins are emailed (in
    `web.language`, times in `web.timezone`); at the suspicious count they are emailed once
    per window."""
    gate = await lock_gate(session)
    await session.execute(
        update(SignupCode).where(SignupCode.id == code_id).values(status=CodeStatus.SENT)
    )
    start = window_start(gate, settings, now)
    sent = await counted(session, SignupCode.created_at > start, statuses=(CodeStatus.SENT,))
    minutes = max(1, math.ceil((now - start).total_seconds() / 60))
    if sent >= settings.max_per_window and stop_ends(gate, settings, now) is None:
        gate.stopped_at = now
        await _alert(
            session,
            to=admin_to,
            web=web,
            subject=N_("Sign-up stopped: the maximum of text messages was reached"),
            opening=N_(
                "%(sent)d sign-up codes were sent within the last %(minutes)d minutes, the "
                "maximum (signup.max_per_window: %(maximum)d). Sign-up is stopped for everyone "
                "for %(window)d minutes, or until an admin lifts the stop on the sign-up page."
            ),
            values={
                "sent": sent,
                "minutes": minutes,
                "maximum": settings.max_per_window,
                "window": settings.window_seconds // 60,
            },
            start=start,
            now=now,
        )
    elif sent >= settings.suspicious_per_window and not _alerted_since(
        gate.suspicious_alerted_at, start
    ):
        gate.suspicious_alerted_at = now
        await _alert(
            session,
            to=admin_to,
            web=web,
            subject=N_("Sign-up: suspicious frequency of text messages"),
            opening=N_(
                "%(sent)d sign-up codes were sent within the last %(minutes)d minutes "
                "(signup.suspicious_per_window: %(suspicious)d; sign-up stops at %(maximum)d)."
            ),
            values={
                "sent": sent,
                "minutes": minutes,
                "suspicious": settings.suspicious_per_window,
                "maximum": settings.max_per_window,
            },
            start=start,
            now=now,
        )
    await session.flush()


def _alerted_since(alerted_at: datetime | None, start: datetime) -> bool:
    return alerted_at is not None and alerted_at > start


async def _alert(
    session: AsyncSession,
    *,
    to: tuple[str, ...],
    web: WebConfig,
    subject: str,
    opening: str,
    values: dict[str, int],
    start: datetime,
    now: datetime,
) -> None:
    """A letter to the admins with the busiest addresses and phones of the window, in the
    admins' language (`subject` and `opening` are message ids; `opening` takes `values`)."""
    with i18n.reading(web.language, web.timezone):
        lines = [gettext(opening) % values, ""]
        for column, title, shown in (
            (SignupCode.address, _("Busiest addresses"), str),
            (SignupCode.phone, _("Busiest numbers"), mask_phone),
        ):
            rows = await session.execute(
                select(column, func.count())
                .where(SignupCode.created_at > start, SignupCode.status.in_(COUNTED))
                .group_by(column)
                .order_by(func.count().desc(), column)
                .limit(5)
            )
            lines.append(f"{title}:")
            lines.extend(f"  {shown(value)}: {count}" for value, count in rows)
            lines.append("")
        lines.append(_("Counted at %(moment)s.") % {"moment": i18n.moment(now)})
        letter_subject = gettext(subject)
    await enqueue(session, to=to, subject=letter_subject, body="\n".join(lines), now=now)
    log.warning("signup_alert", subject=subject)
