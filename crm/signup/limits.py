"""Every sign-up limit, counted in the database under one lock: the gate row.

A code request locks the gate first, then counts: so the limits hold with any number of
requests and server processes at once (SQLite's transactions begin IMMEDIATE, PostgreSQL
waits on the row lock). The service-wide window is sliding; an admin's lift restarts it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog
from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from crm.errors import Conflict
from crm.models import Agent
from crm.outbox.service import enqueue
from crm.signup.errors import Suspended, Throttled
from crm.signup.models import COUNTED, CodeStatus, SignupCode, SignupGate
from ivr.config import SignupConfig
from ivr.logging import mask_phone

log = structlog.get_logger("crm.signup")
GATE = 1


DAY = timedelta(hours=24)


def seconds_until(moment: datetime, now: datetime) -> int:
    return max(1, int((moment - now).total_seconds() + 0.999))


def _wait_text(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} seconds"
    if seconds < 2 * 3600:
        return f"{(seconds + 59) // 60} minutes"
    return f"{(seconds + 3599) // 3600} hours"


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


async def counted(
    session: AsyncSession,
    *conditions: ColumnElement[bool],
    statuses: tuple[CodeStatus, ...] = COUNTED,
) -> tuple[int, datetime | None]:
    """How many codes match, and when the oldest of them was made."""
    found = await session.execute(
        select(func.count(), func.min(SignupCode.created_at)).where(
            SignupCode.status.in_(statuses), *conditions
        )
    )
    count, oldest = found.one()
    return int(count), oldest


async def reserve(
    session: AsyncSession,
    *,
    phone: str,
    address: str,
    code_hash: str,
    settings: SignupConfig,
    now: datetime,
) -> int:
    """Check every limit under the gate's lock and reserve the code; its id."""
    gate = await lock_gate(session)
    in_window, oldest = await counted(
        session, SignupCode.created_at > window_start(gate, settings, now)
    )
    if in_window >= settings.max_per_window and oldest is not None:
        reopens = oldest + timedelta(seconds=settings.window_seconds)
        raise Suspended(
            "Registration is temporarily suspended. Please try again later.",
            seconds_until(reopens, now),
        )
    if await session.scalar(select(Agent.id).where(Agent.phone == phone)):
        raise Conflict.one("phone", "an account with this phone number exists already: log in")
    day_ago = now - DAY
    wait = await resend_wait(session, phone=phone, settings=settings, now=now)
    if wait:
        raise Throttled(
            f"A code was sent to this number just now. A new one can be requested in "
            f"{_wait_text(wait)}.",
            wait,
        )
    for condition, limit, whose in (
        (SignupCode.phone == phone, settings.per_phone_daily, "this number"),
        (SignupCode.address == address, settings.per_ip_daily, "your address"),
    ):
        count, first = await counted(session, condition, SignupCode.created_at > day_ago)
        if count >= limit and first is not None:
            wait = seconds_until(first + DAY, now)
            raise Throttled(
                f"Too many codes were sent to {whose} today. Try again in {_wait_text(wait)}.",
                wait,
            )
    reserved = SignupCode(
        phone=phone,
        address=address,
        code_hash=code_hash,
        status=CodeStatus.SENDING,
        created_at=now,
        expires_at=now + timedelta(seconds=settings.code_ttl_seconds),
        wrong_attempts=0,
    )
    session.add(reserved)
    await session.flush()
    return reserved.id


async def resend_wait(
    session: AsyncSession, *, phone: str, settings: SignupConfig, now: datetime
) -> int:
    """Seconds until a new code may be asked for this phone (0: now), for the countdown."""
    last = await session.scalar(
        select(func.max(SignupCode.created_at)).where(
            SignupCode.phone == phone, SignupCode.status.in_(COUNTED)
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
    now: datetime,
) -> None:
    """The code went out; email the admins once per window at either threshold."""
    gate = await lock_gate(session)
    await session.execute(
        update(SignupCode).where(SignupCode.id == code_id).values(status=CodeStatus.SENT)
    )
    start = window_start(gate, settings, now)
    sent, _ = await counted(session, SignupCode.created_at > start, statuses=(CodeStatus.SENT,))
    minutes = settings.window_seconds // 60
    if sent >= settings.max_per_window and not _alerted_since(gate.stopped_alerted_at, start):
        gate.stopped_alerted_at = now
        await _alert(
            session,
            to=admin_to,
            subject="Sign-up stopped: the maximum of text messages was reached",
            opening=(
                f"{sent} sign-up codes were sent within the last {minutes} minutes, the "
                f"maximum (signup.max_per_window: {settings.max_per_window}). Sign-up is "
                "stopped for everyone until the window passes or an admin lifts the stop "
                "on the sign-up page."
            ),
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
            subject="Sign-up: suspicious frequency of text messages",
            opening=(
                f"{sent} sign-up codes were sent within the last {minutes} minutes "
                f"(signup.suspicious_per_window: {settings.suspicious_per_window}; sign-up "
                f"stops at {settings.max_per_window})."
            ),
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
    subject: str,
    opening: str,
    start: datetime,
    now: datetime,
) -> None:
    """A letter to the admins with the busiest addresses and phones of the window."""
    lines = [opening, ""]
    for column, title, shown in (
        (SignupCode.address, "Busiest addresses", str),
        (SignupCode.phone, "Busiest numbers", mask_phone),
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
    lines.append(f"Counted at {now:%Y-%m-%d %H:%M} UTC.")
    await enqueue(session, to=to, subject=subject, body="\n".join(lines), now=now)
    log.warning("signup_alert", subject=subject)
