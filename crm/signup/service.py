"""Agent sign-up by phone: a code by SMS, its check, then the account.

A code is reserved under every limit in one transaction (limits.py), handed to the SMS
provider outside any transaction, then marked sent or refused; a refused code counts toward
nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import aiohttp
import phonenumbers
import structlog
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm.auth.models import User
from crm.auth.service import Actor, actor_for
from crm.enums import OrganizationKind
from crm.errors import Conflict, DomainError, Invalid
from crm.i18n import N_, gettext, ngettext
from crm.i18n import gettext as _
from crm.models import Agent
from crm.organizations import service as organizations
from crm.partners.service import add_agent_account
from crm.schemas import SignupCompleteIn
from crm.signup.errors import CodeGone, NotDelivered, WrongCode
from crm.signup.limits import address_key, mark_sent, reserve
from crm.signup.models import COUNTED, CodeStatus, SignupCode, SignupToken
from ivr.config import DadataConfig, SignupConfig, WebConfig
from ivr.sms import SmsRefused, SmsSender

log = structlog.get_logger("crm.signup")
Clock = Callable[[], datetime]


@dataclass(frozen=True)
class CodeSent:
    expires_in: int
    resend_after: int


SELF_SIGNUP = "sign-up"
"""Who the audit log names for an account an agent opened for themselves."""
NOT_SENT = N_(
    "The text message could not be sent just now. Nothing was counted: try again in a minute."
)


@dataclass(frozen=True)
class SignedUp:
    actor: Actor
    agent_id: int
    phone: str


@dataclass(frozen=True)
class CodeKey:
    """The key codes are hashed with: a code's hash in the database tells nothing alone."""

    key: bytes

    @classmethod
    def from_secret(cls, secret: str) -> CodeKey:
        return cls(hashlib.sha256(b"signup-code:" + secret.encode()).digest())

    def code_hash(self, phone: str, code: str) -> str:
        return hmac.new(self.key, f"{phone}:{code}".encode(), hashlib.sha256).hexdigest()


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def code_message(code: str, minutes: int) -> str:
    """The text message carrying a code, in the reader's language: one SMS segment (70
    characters in Cyrillic, 160 in Latin letters), since every segment is paid for."""
    return ngettext(
        "Your sign-up code: %(code)s. It is valid for %(num)d minute. Do not tell it to anyone.",
        "Your sign-up code: %(code)s. It is valid for %(num)d minutes. Do not tell it to anyone.",
        minutes,
    ) % {"code": code, "num": minutes}


async def request_code(
    sessions: async_sessionmaker[AsyncSession],
    *,
    phone: str,
    address: str | None,
    sms: SmsSender,
    settings: SignupConfig,
    key: CodeKey,
    admin_to: tuple[str, ...],
    web: WebConfig,
    clock: Clock,
) -> CodeSent:
    """Send a new code to `phone` (E.164) within every limit, or raise why not; the admins'
    alerts are written in `web.language`."""
    region = phonenumbers.region_code_for_number(phonenumbers.parse(phone))
    if region not in settings.allowed_regions:
        raise Invalid.one(
            "phone",
            _("sign-up takes mobile numbers of %(regions)s")
            % {"regions": ", ".join(settings.allowed_regions)},
        )
    address = address_key(address)
    code = f"{secrets.randbelow(10**6):06d}"
    async with sessions.begin() as session:
        code_id = await reserve(
            session,
            phone=phone,
            address=address,
            code_hash=key.code_hash(phone, code),
            settings=settings,
            now=clock(),
        )
    if code_id is None:
        raise Conflict.one("phone", _("an account with this phone number exists already: log in"))
    body = code_message(code, settings.code_ttl_seconds // 60)
    try:
        sent = await sms.send(to=phone, body=body)
    except Exception as error:
        # Whatever went wrong, the person got no code from us: it counts toward nothing. (A
        # cancelled request leaves it counted, since it may have gone out; it can be typed.)
        reason = (
            error.reason
            if isinstance(error, SmsRefused)
            else f"the SMS provider failed: {type(error).__name__}"
        )
        async with sessions.begin() as session:
            await session.execute(
                update(SignupCode)
                .where(SignupCode.id == code_id)
                .values(status=CodeStatus.REFUSED, refusal=reason[:200])
            )
        log.warning("signup_sms_refused", phone=phone, address=address, reason=reason)
        raise NotDelivered(gettext(NOT_SENT)) from None
    async with sessions.begin() as session:
        await mark_sent(
            session,
            code_id=code_id,
            settings=settings,
            admin_to=admin_to,
            web=web,
            now=clock(),
        )
    log.info("signup_code_sent", phone=phone, address=address, sms_sid=sent.sid)
    return CodeSent(expires_in=settings.code_ttl_seconds, resend_after=settings.cooldown_seconds)


async def verify_code(
    sessions: async_sessionmaker[AsyncSession],
    *,
    phone: str,
    code: str,
    settings: SignupConfig,
    key: CodeKey,
    now: datetime,
) -> str:
    """A single-use sign-up token for the phone's latest code, or why the code is refused."""
    refusal: DomainError | None = None
    async with sessions.begin() as session:
        latest = await session.scalar(
            select(SignupCode)
            # A code still being marked sent may have arrived: it can be typed in too.
            .where(SignupCode.phone == phone, SignupCode.status.in_(COUNTED))
            .order_by(SignupCode.created_at.desc(), SignupCode.id.desc())
            .limit(1)
        )
        if latest is None or latest.verified_at is not None:
            raise CodeGone(_("No code is waiting for this number: request a new code."))
        if now >= latest.expires_at:
            raise CodeGone(_("This code has expired: request a new code."))
        if latest.wrong_attempts >= settings.max_code_attempts:
            raise CodeGone(_("Too many wrong codes: this one no longer works. Request a new code."))
        if hmac.compare_digest(latest.code_hash, key.code_hash(phone, code)):
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
            else CodeGone(_("Wrong code, and that was the last try. Request a new code."))
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
        raise CodeGone(_("This code was used already: request a new code."))
    # One way to finish per phone: the tokens of its earlier codes stop working.
    await session.execute(
        update(SignupToken)
        .where(SignupToken.phone == phone, SignupToken.used_at.is_(None))
        .values(used_at=now)
    )
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


async def complete_signup(
    sessions: async_sessionmaker[AsyncSession],
    *,
    data: SignupCompleteIn,
    now: datetime,
    http: aiohttp.ClientSession,
    dadata: DadataConfig,
) -> SignedUp:
    """The agent's account for a verified phone, in the organization of `data.inn` (found
    through DaData and created, or joined: then pending until a member or an admin confirms
    them); the token is spent only if this commits. DaData is asked between a short read
    session that checks everything and the write transaction, which checks again."""
    async with sessions() as session:
        token = await _usable_token(session, data=data, now=now)
        await _refuse_taken(session, phone=token.phone, email=data.email)
    found = await _organization(sessions, data=data, http=http, dadata=dadata)
    async with sessions.begin() as session:
        token = await _usable_token(session, data=data, now=now, lock=True)
        await _refuse_taken(session, phone=token.phone, email=data.email)
        settled = None
        if found is not None:
            settled = await organizations.settle(
                session, found=found, name=data.organization_name,
                kind=OrganizationKind.AGENCY, now=now, actor=SELF_SIGNUP, join=True,
            )  # fmt: skip
        token.used_at = now
        try:
            async with session.begin_nested():
                agent, user = await add_agent_account(
                    session, data=data, phone=token.phone, actor=SELF_SIGNUP, now=now
                )
        except IntegrityError:
            # Another sign-up took the phone or the email at this very moment.
            await _refuse_taken(session, phone=token.phone, email=data.email)
            raise
        if settled is not None:
            await organizations.join(
                session, agent_id=agent.id, organization=settled.organization,
                confirmed=settled.created, actor=SELF_SIGNUP, now=now,
            )  # fmt: skip
        log.info("signup_completed", agent_id=agent.id, user_id=user.id)
        return SignedUp(await actor_for(session, user), agent.id, token.phone)


async def _usable_token(
    session: AsyncSession, *, data: SignupCompleteIn, now: datetime, lock: bool = False
) -> SignupToken:
    """The sign-up token given, or why it no longer works."""
    query = select(SignupToken).where(SignupToken.token_hash == _token_hash(data.signup_token))
    token = await session.scalar(query.with_for_update() if lock else query)
    if token is None:
        raise Invalid.one("signup_token", _("unknown: verify your phone number again"))
    if token.used_at is not None:
        raise CodeGone(
            _("This sign-up was finished already: log in, or verify your phone again."),
            field="signup_token",
        )
    if now >= token.expires_at:
        raise CodeGone(
            _("This sign-up took too long and has expired: verify your phone again."),
            field="signup_token",
        )
    return token


async def _organization(
    sessions: async_sessionmaker[AsyncSession],
    *,
    data: SignupCompleteIn,
    http: aiohttp.ClientSession,
    dadata: DadataConfig,
) -> organizations.Found | None:
    """What the INN given is (stored already, or DaData's); None without one."""
    if not data.inn:
        return None
    return await organizations.find(
        sessions,
        http,
        dadata,
        number=data.inn,
        kpp=data.kpp,
        name=data.organization_name,
        kind=OrganizationKind.AGENCY,
        join=True,
        name_field="organization_name",
    )


async def _refuse_taken(session: AsyncSession, *, phone: str, email: str) -> None:
    """Conflict naming the field when the phone or the email has an account already."""
    if await session.scalar(select(Agent.id).where(Agent.phone == phone)):
        raise Conflict.one("phone", _("an account with this phone number exists already: log in"))
    if await session.scalar(select(Agent.id).where(Agent.email == email)) or await session.scalar(
        select(User.id).where(User.email == email)
    ):
        raise Conflict.one("email", _("an account with this email already exists"))
