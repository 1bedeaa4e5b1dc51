"""New passwords: your own (the current one required), or through a single-use emailed link.

A link carries `secrets.token_urlsafe(32)`; only its SHA-256 is stored. A newer link voids
the older unused ones of the same person, and setting a password ends every other session.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm import audit, i18n
from crm.auth import throttle
from crm.auth.models import PasswordReset, User
from crm.auth.passwords import hash_password, password_problem, verify_password
from crm.auth.service import Actor, actor_for, find_user, in_service, require_admin, wait_text
from crm.auth.sessions import end_sessions
from crm.errors import DomainError, Invalid, NotFound
from crm.i18n import N_, gettext
from crm.i18n import gettext as _
from crm.outbox.service import enqueue
from ivr.config import WebConfig

ResetUrl = Callable[[str], str]
"""The absolute URL of the reset page for a token (the pages build it from the route name)."""
USED = N_("This link was used already, or a newer one was sent. Ask for a new one.")
FORGOT_FORM = "forgot-password form"
"""The audit log's actor of a link somebody asked for without signing in."""
FORGOT_KEY = "forgot:"
"""Prefix of the login throttle's rows counting "forgot your password" per client address."""


class TooManyTries(Invalid):
    """Refused by the throttle before anything was checked; `retry_after` in seconds."""

    def __init__(self, field: str, message: str, retry_after: int) -> None:
        super().__init__({field: message})
        self.retry_after = retry_after


class LinkRefused(DomainError):
    """The reset link is unknown, used, replaced or expired; the message is safe to show."""


@dataclass(frozen=True)
class LinkSent:
    user: User
    expires_at: datetime


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_new_password(password: str, repeat: str) -> None:
    """Invalid naming `password` (the rules) and `password_repeat` (not the same)."""
    errors: dict[str, str] = {}
    problem = password_problem(password)
    if problem is not None:
        errors["password"] = problem
    if password != repeat:
        errors["password_repeat"] = _("type the same new password twice")
    if errors:
        raise Invalid(errors)


async def change_password(
    session: AsyncSession,
    *,
    actor: Actor,
    current: str,
    password: str,
    repeat: str,
    ip: str | None,
    now: datetime,
) -> Actor:
    """Set the actor's new password; every session but the one signed in again ends.

    Wrong current passwords count in the login throttle; the caller commits even when this
    raises Invalid, so the count is kept (nothing else is written before the checks pass).
    """
    keys = throttle.keys_for(actor.email, ip)
    wait = await throttle.retry_after(session, keys=keys, now=now)
    if wait:
        message = _("Too many wrong passwords. Try again in %(wait)s.") % {"wait": wait_text(wait)}
        raise TooManyTries("current_password", message, wait)
    user = await session.get(User, actor.user_id)
    if user is None:
        raise NotFound("no such user")
    if not verify_password(user.password_hash, current):
        lock = await throttle.register_failure(session, keys=keys, now=now)
        message = _("this is not your current password")
        if lock:
            message = _("this is not your current password; wait %(wait)s before the next try") % {
                "wait": wait_text(lock)
            }
        raise Invalid.one("current_password", message)
    check_new_password(password, repeat)
    await throttle.clear(session, keys=keys)
    await _store(session, user=user, password=password)
    await audit.record(
        session, actor=actor, action="change_password", entity="user", entity_id=user.id, now=now
    )
    await session.refresh(user, ["session_generation"])
    return await actor_for(session, user)


async def _store(session: AsyncSession, *, user: User, password: str) -> None:
    user.password_hash = hash_password(password)
    await session.flush()
    await end_sessions(session, user_id=user.id)


async def send_reset(
    session: AsyncSession,
    *,
    actor: Actor,
    user_id: int,
    now: datetime,
    web: WebConfig,
    reset_url: ResetUrl,
) -> LinkSent:
    """An admin emails a user a link to set a new password; Invalid for a disabled login."""
    require_admin(actor)
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id}")
    if not await in_service(session, user):
        raise Invalid.one(
            "user_id",
            _("the account %(email)s is disabled: a link would not work") % {"email": user.email},
        )
    expires_at = await _issue(
        session, user=user, requested_by=actor, now=now, web=web, reset_url=reset_url
    )
    return LinkSent(user, expires_at)


async def request_reset(
    session: AsyncSession,
    *,
    email: str,
    ip: str | None,
    now: datetime,
    web: WebConfig,
    reset_url: ResetUrl,
) -> None:
    """Forgot your password: a link to the account's email if it may log in, else nothing.

    Both cases make the same reads and writes but the link and its letter, and the caller
    answers them alike: nothing tells whether the email has an account. Counted per address.
    """
    # Per address (an unknown one counts as one address) and per email typed, so neither a
    # flood from one place nor one from many places at one mailbox gets far.
    keys = [FORGOT_KEY + key for key in throttle.keys_for(email, ip or "unknown")]
    wait = await throttle.retry_after(session, keys=keys, now=now)
    if wait:
        message = _("Too many links were asked for just now. Try again in %(wait)s.") % {
            "wait": wait_text(wait)
        }
        raise TooManyTries("email", message, wait)
    await throttle.register_failure(session, keys=keys, now=now)
    user = await find_user(session, email=email[:254])
    if user is not None and await in_service(session, user):
        await _issue(session, user=user, requested_by=None, now=now, web=web, reset_url=reset_url)
    else:
        await void_links(session, user_id=0, now=now)
        url = reset_url(secrets.token_urlsafe(32))
        _letter(user=None, by_admin=False, url=url, until=now, now=now)


async def void_links(session: AsyncSession, *, user_id: int, now: datetime) -> None:
    """Every unused reset link of the user stops working (a newer one, a new email)."""
    await session.execute(
        update(PasswordReset)
        .where(PasswordReset.user_id == user_id, PasswordReset.used_at.is_(None))
        .values(used_at=now)
    )


async def _issue(
    session: AsyncSession,
    *,
    user: User,
    requested_by: Actor | None,
    now: datetime,
    web: WebConfig,
    reset_url: ResetUrl,
) -> datetime:
    """A new link for `user` (the older ones stop working), emailed in the user's language."""
    await void_links(session, user_id=user.id, now=now)
    token = secrets.token_urlsafe(32)
    expires_at = now + timedelta(minutes=web.password_reset_minutes)
    session.add(
        PasswordReset(
            user_id=user.id,
            token_hash=_digest(token),
            created_at=now,
            expires_at=expires_at,
            requested_by=requested_by.user_id if requested_by else None,
        )
    )
    zone = i18n.zone_or_none(user.timezone) or web.timezone
    with i18n.reading(user.language or web.language, zone):
        subject, body = _letter(
            user=user,
            by_admin=requested_by is not None,
            url=reset_url(token),
            until=expires_at,
            now=now,
        )
    await enqueue(session, to=[user.email], subject=subject, body=body, now=now)
    await audit.record(
        session,
        actor=requested_by or FORGOT_FORM,
        action="send_password_reset" if requested_by else "forgot_password",
        entity="user",
        entity_id=user.id,
        details={"expires_at": expires_at.isoformat()},
        now=now,
    )
    return expires_at


def _letter(
    *, user: User | None, by_admin: bool, url: str, until: datetime, now: datetime
) -> tuple[str, str]:
    """The subject and body of a reset letter, in the active reader's language."""
    lines = [
        _("Hello, %(name)s.") % {"name": user.name if user else ""},
        "",
        _("An admin has sent you a link to set a new password for the Partner line CRM.")
        if by_admin
        else _("Someone asked to set a new password for your account in the Partner line CRM."),
        "",
        url,
        "",
        _("The link works once and expires %(moment)s, time zone %(zone)s.")
        % {"moment": i18n.when(until, now), "zone": i18n.zone_label(until)},
        _("If you did not ask for it, ignore this letter: your password stays as it is."),
    ]
    return _("Set a new password"), "\n".join(lines)


async def _open_link(
    session: AsyncSession, *, token: str, now: datetime
) -> tuple[PasswordReset, User]:
    """The usable link of this token (locked) and its user; LinkRefused saying why not."""
    link = await session.scalar(
        select(PasswordReset).where(PasswordReset.token_hash == _digest(token)).with_for_update()
    )
    user = None if link is None else await session.get(User, link.user_id)
    if link is None or user is None or not await in_service(session, user):
        raise LinkRefused(_("This link is not known. Ask for a new one."))
    if link.used_at is not None:
        raise LinkRefused(gettext(USED))
    if now >= link.expires_at:
        raise LinkRefused(_("This link has expired. Ask for a new one."))
    return link, user


async def check_link(session: AsyncSession, *, token: str, now: datetime) -> None:
    """LinkRefused unless the link of this token can still set a password."""
    await _open_link(session, token=token, now=now)


async def reset_password(
    session: AsyncSession, *, token: str, password: str, now: datetime, repeat: str | None = None
) -> None:
    """Set a new password through a link, once: the link is spent, every session ends.

    The link is spent by a conditional UPDATE, so of two uses at the same moment one wins.
    """
    link, user = await _open_link(session, token=token, now=now)
    check_new_password(password, password if repeat is None else repeat)
    spent = await session.execute(
        update(PasswordReset)
        .where(PasswordReset.id == link.id, PasswordReset.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]  # a CursorResult
        raise LinkRefused(gettext(USED))
    await _store(session, user=user, password=password)
    await audit.record(
        session,
        actor=await actor_for(session, user),
        action="reset_password",
        entity="user",
        entity_id=user.id,
        details={"link_id": link.id},
        now=now,
    )
