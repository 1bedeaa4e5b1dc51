"""The outbox: letters written with the change that caused them, claimed one at a time."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm import audit
from crm.auth.service import Actor, require_admin
from crm.errors import Invalid, NotFound
from crm.outbox.models import OutboxMessage, OutboxStatus
from crm.pagination import Page, paginate
from ivr.logging import hide_path_secrets
from ivr.mail import Letter

NO_ADMIN_ADDRESS = "no recipient: set email.admin_to in the configuration"


@dataclass(frozen=True)
class RetryPolicy:
    """How often a letter is tried, and how long to wait between tries."""

    max_attempts: int
    first_wait: timedelta
    longest_wait: timedelta

    def wait_after(self, attempts: int) -> timedelta:
        """The wait after the `attempts`-th failed try: doubled each time, capped."""
        return min(self.first_wait * 2 ** max(0, attempts - 1), self.longest_wait)


@dataclass(frozen=True)
class Claimed:
    message_id: int
    letter: Letter
    until: datetime
    """The end of this sender's lease; it also tells this claim from a later one."""


def _one_line(text: str) -> str:
    """A header value: line breaks would end the header (SMTP refuses them)."""
    return " ".join(text.split())


async def enqueue(
    session: AsyncSession, *, to: Sequence[str], subject: str, body: str, now: datetime
) -> OutboxMessage:
    """A queued letter, written in the caller's transaction: it exists only if that commits."""
    recipients = [_one_line(address) for address in to if address.strip()]
    if not subject.strip():
        raise Invalid.one("subject", "a letter needs a subject")
    message = OutboxMessage(
        recipients=", ".join(recipients),
        subject=_one_line(subject)[:300],
        body=body,
        status=OutboxStatus.QUEUED if recipients else OutboxStatus.FAILED,
        attempts=0,
        next_attempt_at=now,
        last_error=None if recipients else NO_ADMIN_ADDRESS,
        created_at=now,
    )
    session.add(message)
    await session.flush()
    return message


async def claim_next(session: AsyncSession, *, now: datetime, lease: timedelta) -> Claimed | None:
    """The oldest letter due now, taken for `lease`; no other sender takes it meanwhile."""
    message = await session.scalar(
        select(OutboxMessage)
        .where(
            OutboxMessage.status == OutboxStatus.QUEUED,
            OutboxMessage.next_attempt_at <= now,
            or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until <= now),
        )
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    if message is None:
        return None
    message.claimed_until = now + lease
    to = tuple(address.strip() for address in message.recipients.split(","))
    letter = Letter(to=to, subject=message.subject, body=message.body)
    return Claimed(message.id, letter, until=message.claimed_until)


async def _still_claimed(session: AsyncSession, claimed: Claimed) -> OutboxMessage | None:
    """The letter, if this sender's claim on it still holds (its lease was not taken over)."""
    message = await session.get(OutboxMessage, claimed.message_id, with_for_update=True)
    if message is None or message.claimed_until != claimed.until:
        return None
    return message


async def mark_sent(session: AsyncSession, *, claimed: Claimed, now: datetime) -> bool:
    """Whether the claim still held: the letter was handed over and is never sent again."""
    message = await _still_claimed(session, claimed)
    if message is None:
        return False
    message.status = OutboxStatus.SENT
    # A link that works once (a password reset) is not kept once it was handed over.
    message.body = hide_path_secrets(message.body)
    message.attempts += 1
    message.sent_at = now
    message.claimed_until = None
    message.last_error = None
    return True


async def mark_failed(
    session: AsyncSession, *, claimed: Claimed, error: str, now: datetime, policy: RetryPolicy
) -> OutboxStatus | None:
    """A try failed: queued again after a wait, or failed for good; the new status.

    None when the claim no longer held: another sender has the letter now and decides.
    """
    message = await _still_claimed(session, claimed)
    if message is None:
        return None
    message.attempts += 1
    message.claimed_until = None
    message.last_error = error[:2000]
    if message.attempts >= policy.max_attempts:
        message.status = OutboxStatus.FAILED
    else:
        message.next_attempt_at = now + policy.wait_after(message.attempts)
    return message.status


async def requeue(
    session: AsyncSession, *, actor: Actor, message_id: int, now: datetime
) -> tuple[OutboxMessage, bool]:
    """The letter, and whether it was failed and is now queued with fresh tries (audited)."""
    require_admin(actor)
    message = await session.get(OutboxMessage, message_id, with_for_update=True)
    if message is None:
        raise NotFound(f"outbox message {message_id}")
    if message.status is not OutboxStatus.FAILED or not message.recipients:
        return message, False
    message.status = OutboxStatus.QUEUED
    message.attempts = 0
    message.next_attempt_at = now
    await audit.record(
        session, actor=actor, action="requeue", entity="outbox", entity_id=message.id, now=now
    )
    return message, True


async def list_outbox(
    session: AsyncSession,
    *,
    actor: Actor,
    status: OutboxStatus | None = None,
    page: int = 1,
    per_page: int = 20,
) -> tuple[Page[OutboxMessage], dict[OutboxStatus, int]]:
    """Letters newest first, optionally of one status, and how many there are of each."""
    require_admin(actor)
    query = select(OutboxMessage).order_by(OutboxMessage.id.desc())
    if status is not None:
        query = query.where(OutboxMessage.status == status)
    rows = await session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    )
    counts = {OutboxStatus(value): count for value, count in rows}
    listed = await paginate(session, query, page=page, per_page=per_page)
    return listed, {member: counts.get(member, 0) for member in OutboxStatus}
