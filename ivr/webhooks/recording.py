"""Twilio's report of a finished recording: kept on the request its conversation was about,
or marked to be deleted at Twilio when that dial was no announced, accepted conversation."""

from __future__ import annotations

from aiohttp import web
from twilio.twiml.voice_response import VoiceResponse

from crm import calls
from crm.recordings.service import keep_recording
from ivr.keys import CLOCK, ENGINE
from ivr.logging import log_step
from ivr.webhooks.events import RecordingEvent
from ivr.webhooks.guard import UnknownCall, twiml_response


def _dial_ordinal(request: web.Request) -> int | None:
    """`dial=N` of the callback URL (signed with it): which dial of the call was recorded."""
    value = request.query.get("dial", "")
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 3 else None


async def recording_status(request: web.Request) -> web.Response:
    event = RecordingEvent.parse(await request.post())
    async with request.config_dict[ENGINE].begin() as db:
        call = await calls.get_call(db, call_sid=event.call_sid) if event.call_sid else None
        if call is None:
            raise UnknownCall(event.call_sid)
        kept = None
        if event.recording_sid and event.status == "completed":
            kept = await keep_recording(
                db,
                call_id=call.id,
                dial_ordinal=_dial_ordinal(request),
                recording_sid=event.recording_sid,
                duration=event.duration,
                channels=event.channels,
                now=request.config_dict[CLOCK](),
            )
    log_step(request, "recording_status", recording_status=event.status, kept=kept)
    return twiml_response(str(VoiceResponse()))
