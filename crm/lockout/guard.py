"""The line's side of the lockout: is a caller locked, and counting a wrong number.

Webhooks run these on their connection, in the step's transaction. A wrong number locks
the caller's guards first (its number's and its manager's, in that order), then counts:
so the limit holds with any number of calls and server processes at once (SQLite's
transactions begin IMMEDIATE, PostgreSQL waits on the row locks).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import (
    ColumnElement,
    ScalarSelect,
    String,
    bindparam,
    cast,
    func,
    insert,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import Mapped

from crm.lockout.models import CallerGuard, Lockout, WrongNumber
from ivr.config import LockoutConfig


def phone_key(caller: str) -> str:
    return f"phone:{caller}"


def manager_key(manager_id: int) -> str:
    return f"manager:{manager_id}"


def locked_until_of(phone: ColumnElement, manager_id: ColumnElement | Mapped[int]) -> ScalarSelect:
    """The end of the latest lock of a caller number or its manager, in another query."""
    manager = literal("manager:") + cast(manager_id, String)
    return (
        select(func.max(CallerGuard.locked_until))
        .where(CallerGuard.key.in_([literal("phone:") + phone, manager]))
        .scalar_subquery()
    )


_GUARDS = (
    select(CallerGuard.key, CallerGuard.counted_since, CallerGuard.locked_until)
    .where(CallerGuard.key.in_(bindparam("keys", expanding=True)))
    .order_by(CallerGuard.key)
    .with_for_update()
)
_ADD_GUARD = text("INSERT INTO caller_guards (key) VALUES (:key) ON CONFLICT (key) DO NOTHING")
"""Text, the same on both databases: SQLAlchemy compiles its dialects' ON CONFLICT inserts
anew on every use (it caches none of them)."""
_WRONG_BY_CALLER = select(func.count(WrongNumber.id)).where(
    WrongNumber.caller == bindparam("caller"), WrongNumber.at > bindparam("since")
)
_WRONG_BY_MANAGER = select(func.count(WrongNumber.id)).where(
    WrongNumber.manager_id == bindparam("manager_id"), WrongNumber.at > bindparam("since")
)
_LOCK = (
    update(CallerGuard)
    .where(CallerGuard.key.in_(bindparam("keys", expanding=True)))
    .values(
        locked_until=bindparam("until"),
        counted_since=bindparam("now"),
        lockout_id=bindparam("lockout_id"),
    )
)


@dataclass(frozen=True)
class Caller:
    """Who is typing: the number calling and the manager it belongs to."""

    phone: str
    manager_id: int

    @property
    def keys(self) -> list[str]:
        return [phone_key(self.phone), manager_key(self.manager_id)]


async def count_wrong(
    db: AsyncConnection,
    caller: Caller,
    *,
    call_id: int,
    result: str,
    settings: LockoutConfig,
    now: datetime,
) -> bool:
    """Keep one wrong number of `caller`; whether the caller is locked out now (by this one,
    or by another call's that got the guards first)."""
    keys = caller.keys
    for key in sorted(keys):
        await db.execute(_ADD_GUARD, {"key": key})
    guards = {row.key: row for row in await db.execute(_GUARDS, {"keys": keys})}
    if any(row.locked_until is not None and row.locked_until > now for row in guards.values()):
        return True
    await db.execute(
        insert(WrongNumber),
        {
            "call_id": call_id,
            "caller": caller.phone,
            "manager_id": caller.manager_id,
            "at": now,
            "result": result,
        },
    )
    window_start = now - timedelta(minutes=settings.window_minutes)

    def since(*counted: str) -> datetime:
        marks = [guards[key].counted_since for key in counted]
        return max([window_start, *(mark for mark in marks if mark is not None)])

    # A lock or an unlock of the manager restarts the count of every phone of theirs, not
    # only of the phone that typed the last wrong number.
    by_phone = await db.scalar(_WRONG_BY_CALLER, {"caller": caller.phone, "since": since(*keys)})
    by_manager = await db.scalar(
        _WRONG_BY_MANAGER, {"manager_id": caller.manager_id, "since": since(keys[1])}
    )
    count = max(by_phone or 0, by_manager or 0)
    if count <= settings.max_wrong:
        return False
    until = now + timedelta(minutes=settings.lock_minutes)
    lockout_id = await db.scalar(
        insert(Lockout).returning(Lockout.id),
        {
            "caller": caller.phone,
            "manager_id": caller.manager_id,
            "wrong_count": count,
            "locked_at": now,
            "locked_until": until,
            "alert_pending": True,
        },
    )
    await db.execute(_LOCK, {"keys": keys, "until": until, "now": now, "lockout_id": lockout_id})
    return True
