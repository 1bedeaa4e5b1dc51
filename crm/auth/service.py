"""Logging in, accounts and API keys."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm import audit
from crm.auth import throttle
from crm.auth.models import ApiKey, User
from crm.auth.passwords import check_password, dummy_hash, hash_password, verify_password
from crm.enums import Role
from crm.errors import Conflict, Forbidden, Invalid, NotFound
from crm.i18n import gettext as _
from crm.i18n import ngettext
from crm.models import Agent, Manager, Organization

API_KEY_PREFIX = "ivr_"
LAST_USED_PRECISION = timedelta(minutes=1)
"""A key's last use is written at most this often, not on every call."""


@dataclass(frozen=True)
class Actor:
    """Who is acting, with what reaches their data: an agent's id, a manager's company."""

    user_id: int
    email: str
    name: str
    role: Role
    agent_id: int | None = None
    organization_id: int | None = None
    session_generation: int = 0
    language: str | None = None
    """The person's own choice; None: the configured default."""
    timezone: str | None = None


class LoginRefused(Exception):
    """Wrong credentials or a lock; the message is safe to show."""

    def __init__(self, message: str, retry_after: int = 0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def wait_text(seconds: int) -> str:
    """A wait as people say it: seconds, minutes, or hours past two of them."""
    if seconds < 120:
        return ngettext("%(num)d second", "%(num)d seconds", seconds) % {"num": seconds}
    if seconds < 2 * 3600:
        minutes = (seconds + 59) // 60
        return ngettext("%(num)d minute", "%(num)d minutes", minutes) % {"num": minutes}
    hours = (seconds + 3599) // 3600
    return ngettext("%(num)d hour", "%(num)d hours", hours) % {"num": hours}


async def authenticate(
    session: AsyncSession, *, email: str, password: str, ip: str | None, now: datetime
) -> Actor:
    """The actor for these credentials; LoginRefused on a mismatch or while locked."""
    keys = throttle.keys_for(email, ip)
    wait = await throttle.retry_after(session, keys=keys, now=now)
    if wait:
        raise LoginRefused(
            _("Too many failed logins. Try again in %(wait)s.") % {"wait": wait_text(wait)}, wait
        )
    user = await session.scalar(select(User).where(User.email == email.strip().lower()))
    if not verify_password(user.password_hash if user else dummy_hash(), password) or (
        user is None or not await in_service(session, user)
    ):
        lock = await throttle.register_failure(session, keys=keys, now=now)
        message = _("Wrong email or password.")
        if lock:
            message = _(
                "Wrong email or password. Too many failed logins: "
                "wait %(wait)s before the next try."
            ) % {"wait": wait_text(lock)}
        raise LoginRefused(message, lock)
    await throttle.clear(session, keys=keys)
    return await actor_for(session, user)


async def in_service(session: AsyncSession, user: User) -> bool:
    """Whether the login may act: active itself, and its manager (with the company) or its
    agent active too (`crm.partners.access`)."""
    if not user.is_active:
        return False
    if user.manager_id is not None:
        row = (
            await session.execute(
                select(Manager.is_active, Organization.is_active)
                .join(Organization, Organization.id == Manager.organization_id)
                .where(Manager.id == user.manager_id)
            )
        ).first()
        return row is not None and all(row)
    if user.agent_id is not None:
        return bool(await session.scalar(select(Agent.is_active).where(Agent.id == user.agent_id)))
    return True


async def actor_for(session: AsyncSession, user: User) -> Actor:
    organization_id = None
    if user.manager_id is not None:
        organization_id = await session.scalar(
            select(Manager.organization_id).where(Manager.id == user.manager_id)
        )
    return Actor(
        user_id=user.id,
        email=user.email,
        name=user.name,
        role=user.role,
        agent_id=user.agent_id,
        organization_id=organization_id,
        session_generation=user.session_generation,
        language=user.language,
        timezone=user.timezone,
    )


async def load_actor(
    session: AsyncSession, *, user_id: int, generation: int | None = None
) -> Actor | None:
    """The actor of a user id, or None if the account is gone or disabled.

    With `generation` (a page session's), also None once that session was ended.
    """
    user = await session.get(User, user_id)
    if user is None or not await in_service(session, user):
        return None
    if generation is not None and generation != user.session_generation:
        return None
    return await actor_for(session, user)


async def create_user(
    session: AsyncSession,
    *,
    email: str,
    name: str,
    password: str,
    role: Role,
    now: datetime,
    agent_id: int | None = None,
    manager_id: int | None = None,
    actor: Actor | str | None = None,
    password_hash: str | None = None,
) -> User:
    """A new account; the email must be free and the password long enough."""
    email = email.strip().lower()
    if "@" not in email or len(email) > 254:
        raise Invalid.one("email", _("enter a valid email address"))
    check_password(password)
    if await session.scalar(select(User.id).where(User.email == email)):
        raise Conflict.one("email", _("an account with this email already exists"))
    user = User(
        email=email,
        name=name.strip() or email,
        password_hash=password_hash or hash_password(password),
        role=role,
        agent_id=agent_id,
        manager_id=manager_id,
        is_active=True,
        created_at=now,
    )
    session.add(user)
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action="create",
        entity="user",
        entity_id=user.id,
        details={"email": email, "role": role.value},
        now=now,
    )
    return user


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def find_user(session: AsyncSession, *, email: str) -> User | None:
    """The account with this email (any case, surrounding spaces ignored), or None."""
    return await session.scalar(select(User).where(User.email == email.strip().lower()))


async def find_api_key(session: AsyncSession, *, key_id: int) -> tuple[ApiKey, User] | None:
    """The key and its owner, or None."""
    found = await session.execute(
        select(ApiKey, User).join(User, User.id == ApiKey.user_id).where(ApiKey.id == key_id)
    )
    row = found.first()
    return None if row is None else (row[0], row[1])


@dataclass(frozen=True)
class Operator:
    """The operator at the `ivr` command on the server: no account, but an admin's reach."""


OPERATOR = Operator()


def _admin_or_operator(actor: Actor | Operator) -> Actor | str:
    """Who the audit log names for an admin's action; Forbidden unless an admin or operator."""
    if isinstance(actor, Operator):
        return audit.OPERATOR
    require_admin(actor)
    return actor


async def issue_api_key(
    session: AsyncSession, *, actor: Actor | Operator, user_id: int, name: str, now: datetime
) -> tuple[ApiKey, str]:
    """A new key for `user_id` (admins and the operator); the plain key is returned once."""
    by = _admin_or_operator(actor)
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id}")
    if not user.is_active:
        raise Invalid.one(
            "user_id",
            _("the account %(email)s is disabled: a key would not work") % {"email": user.email},
        )
    if not name.strip():
        raise Invalid.one("name", _("name the key after who will use it"))
    plain = API_KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        user_id=user_id,
        name=name.strip()[:100],
        prefix=plain[:12],
        key_hash=_digest(plain),
        created_at=now,
    )
    session.add(key)
    await session.flush()
    await audit.record(
        session,
        actor=by,
        action="issue",
        entity="api_key",
        entity_id=key.id,
        details={"user_id": user_id, "name": key.name},
        now=now,
    )
    return key, plain


async def revoke_api_key(
    session: AsyncSession, *, actor: Actor | Operator, key_id: int, now: datetime
) -> ApiKey:
    """Stop a key from working (admins and the operator); revoking twice changes nothing."""
    by = _admin_or_operator(actor)
    key = await session.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"API key {key_id}")
    if key.revoked_at is None:
        key.revoked_at = now
        await audit.record(
            session, actor=by, action="revoke", entity="api_key", entity_id=key.id, now=now
        )
    return key


async def actor_for_api_key(session: AsyncSession, *, plain: str, now: datetime) -> Actor | None:
    """The actor behind a bearer key, or None for an unknown or revoked key."""
    if not plain.startswith(API_KEY_PREFIX):
        return None
    key = await session.scalar(select(ApiKey).where(ApiKey.key_hash == _digest(plain)))
    if key is None or key.revoked_at is not None:
        return None
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_PRECISION:
        key.last_used_at = now
    return await load_actor(session, user_id=key.user_id)


def require_admin(actor: Actor) -> None:
    """Forbidden unless the actor is an admin."""
    if actor.role is not Role.ADMIN:
        raise Forbidden(_("admins only"))


async def list_users(session: AsyncSession, *, actor: Actor) -> list[User]:
    """Every active account by role and email, for choosing who gets an API key."""
    require_admin(actor)
    return list(
        await session.scalars(
            select(User).where(User.is_active.is_(True)).order_by(User.role, User.email)
        )
    )


async def list_api_keys(session: AsyncSession, *, actor: Actor) -> list[tuple[ApiKey, User]]:
    """Every API key with its owner, newest first (only prefixes, never the keys)."""
    require_admin(actor)
    rows = await session.execute(
        select(ApiKey, User)
        .join(User, User.id == ApiKey.user_id)
        .order_by(ApiKey.created_at.desc(), ApiKey.id.desc())
    )
    return [(key, user) for key, user in rows]
