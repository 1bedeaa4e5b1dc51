"""A request's recordings (its agent and the admins; never a manager): list, listen, delete."""

from __future__ import annotations

from aiohttp import web

from crm.api.auth import actor_of
from crm.api.http import V1, path_id
from crm.api.openapi import operation
from crm.api.schemas import RecordingList, RecordingOut
from crm.recordings.models import CallRecording
from crm.recordings.service import get_recording, list_recordings, mark_deleted
from crm.recordings.twilio import delete_at_twilio, stream_audio
from ivr.keys import CLOCK, CONFIG, HTTP, SESSIONS, TWILIO, url_for

routes = web.RouteTableDef()
LIST = V1 + "/requests/{number:[0-9]+}/recordings"
ONE = LIST + r"/{recording_id:\d+}"
WHO = " For the request's agent and the admins; a manager's key answers 403 whatever the request."


def _out(request: web.Request, number: str, recording: CallRecording) -> RecordingOut:
    return RecordingOut(
        id=recording.id,
        created_at=recording.created_at,
        duration_seconds=recording.duration_seconds,
        audio_url=url_for(
            request, "api.recordings.audio", number=number, recording_id=str(recording.id)
        ),
    )


@routes.get(LIST, name="api.recordings.list")
@operation(
    "A request's recorded conversations, newest first",
    tag="recordings",
    answer=RecordingList,
    description="Only conversations of companies that record (`recording: on`)." + WHO,
)
async def list_(request: web.Request) -> web.Response:
    number = request.match_info["number"]
    async with request.config_dict[SESSIONS]() as db:
        found = await list_recordings(db, actor=actor_of(request), number=number)
    items = [_out(request, number, recording) for recording in found]
    return web.json_response(text=RecordingList(items=items).model_dump_json())


@routes.get(ONE + "/audio", name="api.recordings.audio")
@operation(
    "Listen to a recording (MP3)",
    tag="recordings",
    answer=None,
    media="audio/mpeg",
    errors=(502,),
    description="Streamed from Twilio through the service; no Twilio URL is ever given out." + WHO,
)
async def audio(request: web.Request) -> web.StreamResponse:
    number = request.match_info["number"]
    async with request.config_dict[SESSIONS]() as db:
        recording = await get_recording(
            db,
            actor=actor_of(request),
            number=number,
            recording_id=path_id(request, "recording_id"),
        )
    return await stream_audio(
        request,
        request.config_dict[HTTP],
        request.config_dict[CONFIG],
        recording.recording_sid,
        filename=f"request-{number}-{recording.id}.mp3",
    )


@routes.delete(ONE, name="api.recordings.delete")
@operation(
    "Delete a recording, here and at Twilio",
    tag="recordings",
    answer=None,
    status=204,
    errors=(502,),
    description="Audited. If Twilio cannot be reached, 502 and nothing changes." + WHO,
)
async def delete(request: web.Request) -> web.Response:
    actor, number = actor_of(request), request.match_info["number"]
    recording_id = path_id(request, "recording_id")
    async with request.config_dict[SESSIONS]() as db:
        recording = await get_recording(db, actor=actor, number=number, recording_id=recording_id)
    # Outside any transaction: the database is not held while Twilio answers.
    await delete_at_twilio(request.config_dict[TWILIO], recording.recording_sid)
    async with request.config_dict[SESSIONS].begin() as db:
        recording = await get_recording(db, actor=actor, number=number, recording_id=recording_id)
        await mark_deleted(
            db, actor=actor, recording=recording, number=number, now=request.config_dict[CLOCK]()
        )
    return web.Response(status=204)
