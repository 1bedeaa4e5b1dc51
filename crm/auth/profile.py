"""A person's own settings: the language and time zone their pages and emails use."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from crm import audit
from crm.auth.models import User
from crm.auth.service import Actor
from crm.errors import Invalid, NotFound
from crm.i18n import LANGUAGES, zone_or_none
from crm.i18n import gettext as _

ZONES = (
    "Europe/Kaliningrad",
    "Europe/Moscow",
    "Europe/Samara",
    "Asia/Yekaterinburg",
    "Asia/Omsk",
    "Asia/Novosibirsk",
    "Asia/Krasnoyarsk",
    "Asia/Irkutsk",
    "Asia/Yakutsk",
    "Asia/Vladivostok",
    "Asia/Magadan",
    "Asia/Kamchatka",
    "UTC",
)
"""The zones offered first: Russia's, west to east; any other IANA zone is accepted too."""


async def get_user(session: AsyncSession, *, actor: Actor) -> User:
    """The actor's own account."""
    user = await session.get(User, actor.user_id)
    if user is None:
        raise NotFound("no such user")
    return user


async def save_settings(
    session: AsyncSession,
    *,
    actor: Actor,
    language: str | None,
    timezone: str | None,
    now: datetime,
) -> User:
    """Store the actor's language and time zone (None: the configured default); audited."""
    errors: dict[str, str] = {}
    if language is not None and language not in LANGUAGES:
        errors["language"] = _("choose one from the list")
    if timezone is not None and zone_or_none(timezone) is None:
        errors["timezone"] = _("choose a time zone such as Europe/Moscow")
    if errors:
        raise Invalid(errors)
    user = await get_user(session, actor=actor)
    changes = {
        field: value
        for field, value in (("language", language), ("timezone", timezone))
        if getattr(user, field) != value
    }
    if changes:
        user.language, user.timezone = language, timezone
        await audit.record(
            session,
            actor=actor,
            action="settings",
            entity="user",
            entity_id=user.id,
            details=changes,
            now=now,
        )
    return user
