"""Login throttling kept in the database, so every server process sees the same counts.

Up to SLOW_AFTER failures in a window are free; then each failure locks the key for a
doubling delay; at LOCK_AFTER failures the key is locked for LOCK_FOR.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.auth.models import LoginThrottle

WINDOW = timedelta(minutes=15)
SLOW_AFTER = 3
LOCK_AFTER = 10
LOCK_FOR = timedelta(minutes=15)


def keys_for(email: str, ip: str | None) -> list[str]:
    """Throttle keys of fixed length: whatever was typed as the email, it fits the column."""
    account = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
    return [f"account:{account}"] + ([f"ip:{ip[:64]}"] if ip else [])


async def retry_after(session: AsyncSession, *, keys: list[str], now: datetime) -> int:
    """Seconds until a login may be tried again for these keys (0: now)."""
    rows = await session.scalars(select(LoginThrottle).where(LoginThrottle.key.in_(keys)))
    waits = [
        (row.locked_until - now).total_seconds()
        for row in rows
        if row.locked_until is not None and row.locked_until > now
    ]
    return int(max(waits, default=0) + 0.999)


async def register_failure(session: AsyncSession, *, keys: list[str], now: datetime) -> int:
    """Count a failed login against every key; return the lock it earned in seconds."""
    longest = 0
    for key in keys:
        row = await session.get(LoginThrottle, key, with_for_update=True)
        if row is None:
            row = LoginThrottle(key=key, failures=0, window_started_at=now)
            session.add(row)
        elif now - row.window_started_at > WINDOW:
            row.failures, row.window_started_at = 0, now
        row.failures += 1
        lock = _lock_for(row.failures)
        row.locked_until = now + lock if lock else None
        longest = max(longest, int(lock.total_seconds()))
    await session.flush()
    return longest


async def clear(session: AsyncSession, *, keys: list[str]) -> None:
    await session.execute(delete(LoginThrottle).where(LoginThrottle.key.in_(keys)))


def _lock_for(failures: int) -> timedelta:
    if failures >= LOCK_AFTER:
        return LOCK_FOR
    if failures > SLOW_AFTER:
        return timedelta(seconds=2 ** (failures - SLOW_AFTER))
    return timedelta(0)
