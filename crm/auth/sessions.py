"""Page sessions that end on the server: logout, a new password and deactivation end them.

The session cookie holds the user's `session_generation` from login; the pages accept it
only while it equals the user's (crm.web.actor_middleware), so bumping it ends them all.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from crm import audit
from crm.auth.models import User
from crm.auth.passwords import check_password, hash_password
from crm.auth.service import Actor
from crm.errors import NotFound


async def end_sessions(session: AsyncSession, *, user_id: int) -> None:
    """Every page session of this user signed in so far stops working (logout does this)."""
    await session.execute(
        update(User)
        .where(User.id == user_id)
        .values(session_generation=User.session_generation + 1)
    )


async def set_password(
    session: AsyncSession, *, user_id: int, password: str, now: datetime, actor: Actor | None
) -> None:
    """A new password for the user; every session signed in with the old one ends."""
    check_password(password)
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id}")
    user.password_hash = hash_password(password)
    await session.flush()
    await end_sessions(session, user_id=user_id)
    await audit.record(
        session, actor=actor, action="set_password", entity="user", entity_id=user_id, now=now
    )


async def deactivate_user(
    session: AsyncSession, *, user_id: int, now: datetime, actor: Actor | None
) -> None:
    """The user can no longer log in, and every open session of theirs ends."""
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id}")
    user.is_active = False
    await session.flush()
    await end_sessions(session, user_id=user_id)
    await audit.record(
        session, actor=actor, action="deactivate", entity="user", entity_id=user_id, now=now
    )
