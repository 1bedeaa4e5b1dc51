"""What admins see and do about sign-up: the window's state, recent codes, lifting a stop."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm import audit
from crm.auth.service import Actor, require_admin
from crm.pagination import Page, paginate
from crm.signup.limits import GATE, counted, lock_gate, stop_ends, window_start
from crm.signup.models import SignupCode, SignupGate, SignupToken
from ivr.config import SignupConfig


class GateStatus(StrEnum):
    OPEN = "open"
    SUSPICIOUS = "suspicious"
    STOPPED = "stopped"


@dataclass(frozen=True)
class GateState:
    status: GateStatus
    sent_in_window: int
    window_started_at: datetime
    reopens_at: datetime | None
    lifted_at: datetime | None
    settings: SignupConfig


async def gate_state(session: AsyncSession, *, settings: SignupConfig, now: datetime) -> GateState:
    """The service-wide count of the window (codes sent or being sent) and what it means."""
    gate = await session.get(SignupGate, GATE, populate_existing=True) or SignupGate(id=GATE)
    start = window_start(gate, settings, now)
    count = await counted(session, SignupCode.created_at > start)
    reopens = stop_ends(gate, settings, now)
    status = GateStatus.OPEN
    if reopens is not None:
        status = GateStatus.STOPPED
    elif count >= settings.suspicious_per_window:
        status = GateStatus.SUSPICIOUS
    return GateState(status, count, start, reopens, gate.lifted_at, settings)


async def recent_codes(
    session: AsyncSession, *, actor: Actor, page: int = 1, per_page: int = 20
) -> Page[SignupCode]:
    """Every code asked for, newest first (admins; the page masks the phones)."""
    require_admin(actor)
    query = select(SignupCode).order_by(SignupCode.created_at.desc(), SignupCode.id.desc())
    return await paginate(session, query, page=page, per_page=per_page)


async def lift_stop(
    session: AsyncSession, *, actor: Actor, settings: SignupConfig, now: datetime
) -> GateState | None:
    """Reopen a stopped sign-up: the window counts again from now (admins; audited). None,
    and nothing recorded, when sign-up is not stopped."""
    require_admin(actor)
    gate = await lock_gate(session)
    before = await gate_state(session, settings=settings, now=now)
    if before.status is not GateStatus.STOPPED:
        return None
    gate.lifted_at = now
    await audit.record(
        session,
        actor=actor,
        action="lift",
        entity="signup",
        entity_id=GATE,
        details={"status": before.status.value, "sent_in_window": before.sent_in_window},
        now=now,
    )
    await session.flush()
    return await gate_state(session, settings=settings, now=now)


async def forget_old_codes(session: AsyncSession, *, now: datetime, keep: timedelta) -> int:
    """Delete the codes (and their tokens) older than `keep`: they hold the phones of people
    who may never have signed up. Safe in several processes at once."""
    old = select(SignupCode.id).where(SignupCode.created_at < now - keep)
    await session.execute(delete(SignupToken).where(SignupToken.code_id.in_(old)))
    done = await session.execute(delete(SignupCode).where(SignupCode.created_at < now - keep))
    return int(done.rowcount or 0)  # type: ignore[attr-defined]  # a CursorResult
