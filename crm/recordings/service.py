"""Recordings of bridged conversations: kept when Twilio reports one, listed and deleted by
the request's agent and the admins (never a manager)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from crm import audit
from crm.auth.service import Actor
from crm.enums import Role
from crm.errors import Forbidden, NotFound
from crm.i18n import gettext as _
from crm.models import DialAttempt
from crm.recordings.models import CallRecording
from crm.requests.service import get_request

MAX_DIALS = 100
"""More dials than any call makes (`ivr.max_dials` is at most 10): a larger N is garbage."""
DISCARDS_PER_PASS = 20
SYSTEM = "system (recording of no conversation)"
_INSERT = {
    dialect: insert_for(CallRecording).on_conflict_do_nothing(
        index_elements=[CallRecording.recording_sid]
    )
    for dialect, insert_for in (("postgresql", postgresql_insert), ("sqlite", sqlite_insert))
}


async def keep_recording(
    db: AsyncConnection,
    *,
    call_id: int,
    dial_ordinal: int | None,
    recording_sid: str,
    duration: int,
    channels: int,
    now: datetime,
) -> bool:
    """Note a finished recording of `call_id`'s `dial_ordinal`-th dial; whether it is kept.

    It is kept only when that dial was announced as recorded and its client accepted the
    call: a recording of a voicemail, or of a dial nobody was told of, is marked for
    deletion at Twilio (`discard_recordings`). A repeated report changes nothing.
    """
    dial = None
    if dial_ordinal is not None and 0 < dial_ordinal <= MAX_DIALS:
        dial = (
            await db.execute(
                select(
                    DialAttempt.id,
                    DialAttempt.request_id,
                    DialAttempt.client_accepted,
                    DialAttempt.recorded,
                )
                .where(DialAttempt.call_id == call_id)
                .order_by(DialAttempt.id)
                .offset(dial_ordinal - 1)
                .limit(1)
            )
        ).first()
    kept = dial is not None and dial.client_accepted and dial.recorded
    await db.execute(
        _INSERT[db.dialect.name],
        {
            "recording_sid": recording_sid,
            "call_id": call_id,
            "dial_id": dial.id if dial is not None else None,
            "request_id": dial.request_id if dial is not None else None,
            "kept": kept,
            "duration_seconds": duration,
            "channels": channels,
            "created_at": now,
        },
    )
    return kept


def _may_listen(actor: Actor) -> None:
    """Agents (their own requests) and admins; a manager never, whatever the request."""
    if actor.role not in (Role.AGENT, Role.ADMIN):
        raise Forbidden(_("recordings are for the request's agent and the admins"))


async def list_recordings(
    session: AsyncSession, *, actor: Actor, number: str
) -> list[CallRecording]:
    """The request's recordings that are not deleted, newest first."""
    _may_listen(actor)
    request = (await get_request(session, actor=actor, number=number)).request
    found = await session.scalars(
        select(CallRecording)
        .where(
            CallRecording.request_id == request.id,
            CallRecording.kept,
            CallRecording.deleted_at.is_(None),
        )
        .order_by(CallRecording.id.desc())
    )
    return list(found)


async def get_recording(
    session: AsyncSession, *, actor: Actor, number: str, recording_id: int
) -> CallRecording:
    """One recording of the request; NotFound when deleted, another request's, or missing."""
    _may_listen(actor)
    request = (await get_request(session, actor=actor, number=number)).request
    recording = await session.get(CallRecording, recording_id)
    if (
        recording is None
        or recording.request_id != request.id
        or not recording.kept
        or recording.deleted_at is not None
    ):
        raise NotFound(f"recording {recording_id}")
    return recording


async def mark_deleted(
    session: AsyncSession, *, actor: Actor, recording: CallRecording, number: str, now: datetime
) -> None:
    """The recording is gone at Twilio: say so here (audited); NotFound when another
    deletion got there first."""
    marked = await session.execute(
        update(CallRecording)
        .where(CallRecording.id == recording.id, CallRecording.deleted_at.is_(None))
        .values(deleted_at=now, deleted_by=actor.email)
        .execution_options(synchronize_session=False)
    )
    if not marked.rowcount:  # type: ignore[attr-defined]
        raise NotFound(f"recording {recording.id}")
    await audit.record(
        session,
        actor=actor,
        action="delete",
        entity="recording",
        entity_id=recording.id,
        details={"request": number, "recording_sid": recording.recording_sid},
        now=now,
    )
    await session.flush()


async def to_discard(
    session: AsyncSession, *, limit: int = DISCARDS_PER_PASS
) -> list[CallRecording]:
    """Recordings of no consented conversation not yet deleted at Twilio, oldest first."""
    found = await session.scalars(
        select(CallRecording)
        .where(~CallRecording.kept, CallRecording.deleted_at.is_(None))
        .order_by(CallRecording.id)
        .limit(limit)
    )
    return list(found)


async def discarded(session: AsyncSession, *, recording_id: int, now: datetime) -> bool:
    """Note one deleted at Twilio (audited as the service's own act); False if it was already."""
    marked = await session.execute(
        update(CallRecording)
        .where(CallRecording.id == recording_id, CallRecording.deleted_at.is_(None))
        .values(deleted_at=now, deleted_by=SYSTEM)
        .execution_options(synchronize_session=False)
    )
    if not marked.rowcount:  # type: ignore[attr-defined]
        return False
    await audit.record(
        session,
        actor=SYSTEM,
        action="discard",
        entity="recording",
        entity_id=recording_id,
        details={"why": "no accepted, announced conversation"},
        now=now,
    )
    return True
