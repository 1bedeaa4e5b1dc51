"""Delivering the outbox: claim a due letter, hand it to the mailer, record what happened.

Safe with any number of senders: a letter is claimed in a short transaction (row locks with
SKIP LOCKED on PostgreSQL, SQLite's single writer otherwise) and held by its lease while it
is handed over, so no two senders send it. The lease outlasts the mailer's own timeout.
Should the database fail right after a hand-over, the letter goes out again once its lease
ends: a duplicate is better than a lost alert.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm.outbox.models import OutboxStatus
from crm.outbox.service import RetryPolicy, claim_next, mark_failed, mark_sent
from ivr.config import EmailConfig
from ivr.mail import Mailer

log = structlog.get_logger("crm.outbox")


@dataclass(frozen=True)
class Delivery:
    """What one pass over the outbox did."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0


@dataclass(frozen=True)
class SenderSettings:
    policy: RetryPolicy
    lease: timedelta
    batch: int = 50

    @classmethod
    def from_config(cls, config: EmailConfig) -> SenderSettings:
        policy = RetryPolicy(
            max_attempts=config.max_attempts,
            first_wait=timedelta(seconds=config.retry_seconds),
            longest_wait=timedelta(seconds=config.retry_max_seconds),
        )
        return cls(policy=policy, lease=timedelta(seconds=2 * config.smtp.timeout_seconds + 60))


async def deliver_due(
    sessions: async_sessionmaker[AsyncSession],
    mailer: Mailer,
    *,
    clock: Callable[[], datetime],
    settings: SenderSettings,
    stopping: Callable[[], bool] = lambda: False,
) -> Delivery:
    """Send the letters due now, one by one, until none is due, `settings.batch` were tried
    or `stopping()` says so; the counts of each result.

    The clock is read at each claim and each outcome, so a long pass never claims with a
    lease that has already run out.
    """
    sent = retrying = failed = 0
    for _ in range(settings.batch):
        if stopping():
            break
        async with sessions.begin() as session:
            claimed = await claim_next(session, now=clock(), lease=settings.lease)
        if claimed is None:
            break
        try:
            await mailer.send(claimed.letter)
        except Exception as error:  # any failure of the hand-over is retried later
            reason = f"{type(error).__name__}: {error}"
            async with sessions.begin() as session:
                status = await mark_failed(
                    session, claimed=claimed, error=reason, now=clock(), policy=settings.policy
                )
            log.warning("email_failed", message_id=claimed.message_id, error=reason, status=status)
            if status is OutboxStatus.FAILED:
                failed += 1
            elif status is OutboxStatus.QUEUED:
                retrying += 1
            continue
        async with sessions.begin() as session:
            held = await mark_sent(session, claimed=claimed, now=clock())
        if held:
            log.info("email_sent", message_id=claimed.message_id)
        else:
            log.warning("email_sent_after_its_lease", message_id=claimed.message_id)
        sent += 1
    return Delivery(sent=sent, retrying=retrying, failed=failed)
