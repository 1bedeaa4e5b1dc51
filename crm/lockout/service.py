"""What admins see and do about lockouts: the list, unlocking, and the letter of each."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import ColumnElement, Select, delete, func, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from crm import audit, i18n
from crm.auth.service import Actor, require_admin
from crm.errors import Invalid, NotFound
from crm.i18n import gettext as _
from crm.lockout.models import CallerGuard, Lockout, WrongNumber
from crm.models import Manager, Organization
from crm.outbox.service import enqueue
from crm.pagination import Page
from ivr.config import LockoutConfig, WebConfig

log = structlog.get_logger("crm.lockout")
ALERTS_PER_PASS = 50


@dataclass(frozen=True)
class LockoutView:
    """A lockout with who it was: the manager and the company, by name."""

    lockout: Lockout
    manager: str | None
    company: str | None

    def active(self, now: datetime) -> bool:
        return self.lockout.unlocked_at is None and self.lockout.locked_until > now


def _query() -> Select:
    return (
        select(Lockout, Manager.name, Organization.name)
        .outerjoin(Manager, Manager.id == Lockout.manager_id)
        .outerjoin(Organization, Organization.id == Manager.organization_id)
    )


def _view(row: Row) -> LockoutView:
    return LockoutView(lockout=row[0], manager=row[1], company=row[2])


async def list_lockouts(
    session: AsyncSession,
    *,
    actor: Actor,
    now: datetime,
    active: bool | None = None,
    page: int = 1,
    per_page: int = 20,
) -> Page[LockoutView]:
    """Lockouts, newest first; `active` keeps those still in force (or only the others)."""
    require_admin(actor)
    conditions: list[ColumnElement[bool]] = []
    in_force = Lockout.unlocked_at.is_(None) & (Lockout.locked_until > now)
    if active is True:
        conditions.append(in_force)
    elif active is False:
        conditions.append(~in_force)
    total = await session.scalar(select(func.count(Lockout.id)).where(*conditions))
    rows = await session.execute(
        _query()
        .where(*conditions)
        .order_by(Lockout.locked_at.desc(), Lockout.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    items = [_view(row) for row in rows]
    return Page(items=items, page=page, per_page=per_page, total=int(total or 0))


async def get_lockout(session: AsyncSession, *, actor: Actor, lockout_id: int) -> LockoutView:
    require_admin(actor)
    row = (await session.execute(_query().where(Lockout.id == lockout_id))).first()
    if row is None:
        raise NotFound("lockout")
    return _view(row)


async def unlock(
    session: AsyncSession, *, actor: Actor, lockout_id: int, now: datetime
) -> LockoutView:
    """End a lockout now: the caller's wrong numbers count afresh from now (audited).
    Invalid naming `lockout` when it is not in force any more."""
    require_admin(actor)
    lockout = await session.get(Lockout, lockout_id, with_for_update=True, populate_existing=True)
    if lockout is None:
        raise NotFound("lockout")
    if lockout.unlocked_at is not None or lockout.locked_until <= now:
        raise Invalid.one("lockout", _("this lockout is not in force any more"))
    lockout.unlocked_at, lockout.unlocked_by = now, actor.email
    await session.execute(
        update(CallerGuard)
        .where(CallerGuard.lockout_id == lockout_id)
        .values(locked_until=None, counted_since=now)
        .execution_options(synchronize_session=False)
    )
    await audit.record(
        session,
        actor=actor,
        action="unlock",
        entity="lockout",
        entity_id=lockout_id,
        details={"caller": lockout.caller, "manager_id": lockout.manager_id},
        now=now,
    )
    await session.flush()
    return await get_lockout(session, actor=actor, lockout_id=lockout_id)


def _alert_subject(view: LockoutView) -> str:
    who = view.manager or view.lockout.caller
    if view.company:
        return _("Caller locked out: %(who)s (%(company)s)") % {
            "who": who,
            "company": view.company,
        }
    return _("Caller locked out: %(who)s") % {"who": who}


def _alert_body(view: LockoutView, settings: LockoutConfig) -> str:
    lockout = view.lockout
    unknown = _("(unknown)")
    return "\n".join(
        [
            _("A caller typed too many wrong request numbers and is locked out of the line."),
            "",
            _("Caller: %(caller)s") % {"caller": lockout.caller},
            _("Manager: %(manager)s") % {"manager": view.manager or unknown},
            _("Company: %(company)s") % {"company": view.company or unknown},
            _("Wrong numbers in %(minutes)d minutes: %(count)d")
            % {"minutes": settings.window_minutes, "count": lockout.wrong_count},
            _("Locked at: %(moment)s") % {"moment": i18n.moment(lockout.locked_at)},
            _("Locked until: %(moment)s") % {"moment": i18n.moment(lockout.locked_until)},
            "",
            _("An admin can unlock the caller sooner under Admin → Lockouts."),
        ]
    )


async def alert_admins(
    session: AsyncSession,
    *,
    to: Sequence[str],
    settings: LockoutConfig,
    web: WebConfig,
    now: datetime,
) -> int:
    """Write the admins' letter of each new lockout (a background job), once: each is
    claimed by an UPDATE only one of several processes can win. The letters are in
    `web.language`, their times in `web.timezone`."""
    pending = await session.execute(
        _query().where(Lockout.alert_pending).order_by(Lockout.id).limit(ALERTS_PER_PASS)
    )
    written = 0
    for view in [_view(row) for row in pending]:
        claimed = await session.execute(
            update(Lockout)
            .where(Lockout.id == view.lockout.id, Lockout.alert_pending)
            .values(alert_pending=False)
            .execution_options(synchronize_session=False)
        )
        if not claimed.rowcount:  # type: ignore[attr-defined]
            continue
        with i18n.reading(web.language, web.timezone):
            subject, body = _alert_subject(view), _alert_body(view, settings)
        await enqueue(session, to=to, subject=subject, body=body, now=now)
        log.warning("caller_locked_out", lockout=view.lockout.id, count=view.lockout.wrong_count)
        written += 1
    return written


async def forget_wrong_numbers(
    session: AsyncSession, *, settings: LockoutConfig, now: datetime
) -> int:
    """Delete the wrong numbers that no longer count (older than the window)."""
    cutoff = now - timedelta(minutes=settings.window_minutes)
    deleted = await session.execute(
        delete(WrongNumber)
        .where(WrongNumber.at < cutoff)
        .execution_options(synchronize_session=False)
    )
    return int(deleted.rowcount or 0)  # type: ignore[attr-defined]
