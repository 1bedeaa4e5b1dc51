"""Agent sign-up by phone: a code by SMS, its check, then the account.

Every limit is counted in the database under one lock (the gate row), so it holds with any
number of requests and server processes at once. A code is reserved in one transaction,
handed to the SMS provider outside any transaction, and then marked sent or refused; a
refused code counts toward nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import structlog
from sqlalchemy import ColumnElement, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm import audit
from crm.auth.service import Actor, actor_for, create_user, require_admin
from crm.enums import Role
from crm.errors import Conflict, DomainError, Invalid
from crm.models import Agent
from crm.outbox.service import enqueue
from crm.pagination import Page, paginate
from crm.schemas import SignupCompleteIn
from crm.signup.models import COUNTED, CodeStatus, SignupCode, SignupGate, SignupToken
from ivr.config import SignupConfig
from ivr.logging import mask_phone
from ivr.sms import SmsRefused, SmsSender

log = structlog.get_logger("crm.signup")
GATE = 1
DAY = timedelta(hours=24)
Clock = Callable[[], datetime]


class Throttled(DomainError):
    """Too many codes for this phone or address for now (429)."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Suspended(DomainError):
    """Sign-up is stopped for everyone: the service-wide maximum was reached (503)."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NotDelivered(DomainError):
    """The SMS provider refused the code or did not answer; nothing was counted (502)."""


class CodeGone(DomainError):
    """The code or token can no longer be used: expired, used or dead (410)."""


class WrongCode(Invalid):
    """The code does not match; `attempts_left` more tries remain (422)."""

    def __init__(self, attempts_left: int) -> None:
        plural = "try" if attempts_left == 1 else "tries"
        super().__init__({"code": f"wrong code: {attempts_left} {plural} left"})
        self.attempts_left = attempts_left


@dataclass(frozen=True)
class CodeSent:
    expires_in: int
    resend_after: int


@dataclass(frozen=True)
class Secrets:
    """The key codes are hashed with: a code's hash in the database tells nothing alone."""

    key: bytes

    @classmethod
    def from_secret(cls, secret: str) -> Secrets:
        return cls(hashlib.sha256(b"signup-code:" + secret.encode()).digest())

    def code_hash(self, phone: str, code: str) -> str:
        return hmac.new(self.key, f"{phone}:{code}".encode(), hashlib.sha256).hexdigest()


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _seconds_until(moment: datetime, now: datetime) -> int:
    return max(1, int((moment - now).total_seconds() + 0.999))


def _wait_text(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} seconds"
    if seconds < 2 * 3600:
        return f"{(seconds + 59) // 60} minutes"
    return f"{(seconds + 3599) // 3600} hours"


async def _lock_gate(session: AsyncSession) -> SignupGate:
    """The gate row, locked until this transaction ends (made on first use)."""
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    await session.execute(insert(SignupGate).values(id=GATE).on_conflict_do_nothing())
    gate = await session.get(SignupGate, GATE, with_for_update=True, populate_existing=True)
    if gate is None:
        raise RuntimeError("the sign-up gate row neither inserted nor found")
    return gate


def _window_start(gate: SignupGate, settings: SignupConfig, now: datetime) -> datetime:
    """Codes after this count toward the service-wide window (an admin's lift restarts it)."""
    start = now - timedelta(seconds=settings.window_seconds)
    return max(start, gate.lifted_at) if gate.lifted_at else start


async def _counted(
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


async def request_code(
    sessions: async_sessionmaker[AsyncSession],
    *,
    phone: str,
    address: str | None,
    sms: SmsSender,
    settings: SignupConfig,
    secrets_: Secrets,
    admin_to: tuple[str, ...],
    clock: Clock,
) -> CodeSent:
    """Send a new code to `phone` (E.164) within every limit, or raise why not."""
    address = (address or "unknown")[:64]
    code = f"{secrets.randbelow(10**6):06d}"
    async with sessions.begin() as session:
        code_id = await _reserve(
            session,
            phone=phone,
            address=address,
            code_hash=secrets_.code_hash(phone, code),
            settings=settings,
            now=clock(),
        )
    body = (
        f"Your sign-up code: {code}. It is valid for {settings.code_ttl_seconds // 60} minutes. "
        "Do not tell it to anyone."
    )
    try:
        sent = await sms.send(to=phone, body=body)
    except SmsRefused as refused:
        async with sessions.begin() as session:
            await session.execute(
                update(SignupCode)
                .where(SignupCode.id == code_id)
                .values(status=CodeStatus.REFUSED, refusal=refused.reason[:200])
            )
        log.warning("signup_sms_refused", phone=phone, address=address, reason=refused.reason)
        raise NotDelivered(
            "The text message could not be sent just now. Nothing was counted: try again "
            "in a minute."
        ) from None
    async with sessions.begin() as session:
        await _mark_sent(
            session, code_id=code_id, settings=settings, admin_to=admin_to, now=clock()
        )
    log.info("signup_code_sent", phone=phone, address=address, sms_sid=sent.sid)
    return CodeSent(expires_in=settings.code_ttl_seconds, resend_after=settings.cooldown_seconds)


async def _reserve(
    session: AsyncSession,
    *,
    phone: str,
    address: str,
    code_hash: str,
    settings: SignupConfig,
    now: datetime,
) -> int:
    """Check every limit under the gate's lock and reserve the code; its id."""
    gate = await _lock_gate(session)
    in_window, oldest = await _counted(
        session, SignupCode.created_at > _window_start(gate, settings, now)
    )
    if in_window >= settings.max_per_window and oldest is not None:
        reopens = oldest + timedelta(seconds=settings.window_seconds)
        raise Suspended(
            "Registration is temporarily suspended. Please try again later.",
            _seconds_until(reopens, now),
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
        count, first = await _counted(session, condition, SignupCode.created_at > day_ago)
        if count >= limit and first is not None:
            wait = _seconds_until(first + DAY, now)
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


async def _mark_sent(
    session: AsyncSession,
    *,
    code_id: int,
    settings: SignupConfig,
    admin_to: tuple[str, ...],
    now: datetime,
) -> None:
    """The code went out; email the admins once per window at either threshold."""
    gate = await _lock_gate(session)
    await session.execute(
        update(SignupCode).where(SignupCode.id == code_id).values(status=CodeStatus.SENT)
    )
    start = _window_start(gate, settings, now)
    sent, _ = await _counted(session, SignupCode.created_at > start, statuses=(CodeStatus.SENT,))
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


async def verify_code(
    sessions: async_sessionmaker[AsyncSession],
    *,
    phone: str,
    code: str,
    settings: SignupConfig,
    secrets_: Secrets,
    now: datetime,
) -> str:
    """A single-use sign-up token for the phone's latest code, or why the code is refused."""
    refusal: DomainError | None = None
    async with sessions.begin() as session:
        latest = await session.scalar(
            select(SignupCode)
            .where(SignupCode.phone == phone, SignupCode.status == CodeStatus.SENT)
            .order_by(SignupCode.created_at.desc(), SignupCode.id.desc())
            .limit(1)
        )
        if latest is None or latest.verified_at is not None:
            raise CodeGone("No code is waiting for this number: request a new code.")
        if now >= latest.expires_at:
            raise CodeGone("This code has expired: request a new code.")
        if latest.wrong_attempts >= settings.max_code_attempts:
            raise CodeGone("Too many wrong codes: this one no longer works. Request a new code.")
        if hmac.compare_digest(latest.code_hash, secrets_.code_hash(phone, code)):
            return await _grant_token(
                session, code_id=latest.id, phone=phone, settings=settings, now=now
            )
        tries = await session.scalar(
            update(SignupCode)
            .where(
                SignupCode.id == latest.id,
                SignupCode.wrong_attempts < settings.max_code_attempts,
            )
            .values(wrong_attempts=SignupCode.wrong_attempts + 1)
            .returning(SignupCode.wrong_attempts)
        )
        left = settings.max_code_attempts - (tries or settings.max_code_attempts)
        # Raised after the commit: the wrong try must stay counted.
        refusal = (
            WrongCode(left)
            if left
            else CodeGone("Wrong code, and that was the last try. Request a new code.")
        )
    raise refusal


async def _grant_token(
    session: AsyncSession, *, code_id: int, phone: str, settings: SignupConfig, now: datetime
) -> str:
    used = await session.execute(
        update(SignupCode)
        .where(
            SignupCode.id == code_id,
            SignupCode.verified_at.is_(None),
            SignupCode.wrong_attempts < settings.max_code_attempts,
        )
        .values(verified_at=now)
    )
    if used.rowcount != 1:  # type: ignore[attr-defined]  # a CursorResult
        raise CodeGone("This code was used already: request a new code.")
    token = secrets.token_urlsafe(32)
    session.add(
        SignupToken(
            token_hash=_token_hash(token),
            phone=phone,
            code_id=code_id,
            expires_at=now + timedelta(seconds=settings.token_ttl_seconds),
        )
    )
    await session.flush()
    return token


async def complete_signup(session: AsyncSession, *, data: SignupCompleteIn, now: datetime) -> Actor:
    """The agent's account for a verified phone; the token is spent only if this commits."""
    token = await session.scalar(
        select(SignupToken)
        .where(SignupToken.token_hash == _token_hash(data.signup_token))
        .with_for_update()
    )
    if token is None:
        raise Invalid.one("signup_token", "unknown: verify your phone number again")
    if token.used_at is not None:
        raise CodeGone("This sign-up was finished already: log in, or verify your phone again.")
    if now >= token.expires_at:
        raise CodeGone("This sign-up took too long and has expired: verify your phone again.")
    if await session.scalar(select(Agent.id).where(Agent.phone == token.phone)):
        raise Conflict.one("phone", "an account with this phone number exists already: log in")
    if await session.scalar(select(Agent.id).where(Agent.email == data.email)):
        raise Conflict.one("email", "an account with this email already exists")
    token.used_at = now
    agent = Agent(name=data.name, email=data.email, phone=token.phone, created_at=now)
    session.add(agent)
    await session.flush()
    user = await create_user(
        session,
        email=data.email,
        name=data.name,
        password=data.password,
        role=Role.AGENT,
        agent_id=agent.id,
        now=now,
        actor=SELF_SIGNUP,
    )
    log.info("signup_completed", agent_id=agent.id, user_id=user.id)
    return await actor_for(session, user)


SELF_SIGNUP = "sign-up"
"""Who the audit log names for an account an agent opened for themselves."""


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
    """The service-wide count of the window and what it means now."""
    gate = await session.get(SignupGate, GATE) or SignupGate(id=GATE)
    start = _window_start(gate, settings, now)
    count, oldest = await _counted(session, SignupCode.created_at > start)
    status = GateStatus.OPEN
    reopens = None
    if count >= settings.max_per_window:
        status = GateStatus.STOPPED
        reopens = oldest + timedelta(seconds=settings.window_seconds) if oldest else None
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
) -> GateState:
    """Reopen sign-up: the window counts again from now (admins; audited)."""
    require_admin(actor)
    gate = await _lock_gate(session)
    before = await gate_state(session, settings=settings, now=now)
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
    return _seconds_until(ready, now) if now < ready else 0


async def forget_old_codes(session: AsyncSession, *, now: datetime, keep: timedelta) -> int:
    """Delete the codes (and their tokens) older than `keep`: they hold the phones of people
    who may never have signed up. Safe in several processes at once."""
    old = select(SignupCode.id).where(SignupCode.created_at < now - keep)
    await session.execute(delete(SignupToken).where(SignupToken.code_id.in_(old)))
    done = await session.execute(delete(SignupCode).where(SignupCode.created_at < now - keep))
    return int(done.rowcount or 0)  # type: ignore[attr-defined]  # a CursorResult
