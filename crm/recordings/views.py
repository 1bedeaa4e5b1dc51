"""A request's recordings on its page: listened to through the service, and deleted."""

from __future__ import annotations

from aiohttp import web

from crm.enums import Role
from crm.i18n import N_, gettext
from crm.pages import flash
from crm.recordings.service import get_recording, mark_deleted
from crm.recordings.twilio import TwilioUnavailable, delete_at_twilio, stream_audio
from crm.web import actor_of, form_data, redirect, requires
from ivr.keys import CLOCK, CONFIG, HTTP, SESSIONS, TWILIO

NUMBER = r"{number:\d{8}}"
ONE = f"/requests/{NUMBER}/recordings/{{recording_id:\\d{{1,9}}}}"
NOT_REACHED = N_("Twilio could not be reached for the recording; nothing was changed. Try again.")


def _ids(request: web.Request) -> tuple[str, int]:
    return request.match_info["number"], int(request.match_info["recording_id"])


@requires(Role.AGENT, Role.ADMIN)
async def recording_audio(request: web.Request) -> web.StreamResponse:
    number, recording_id = _ids(request)
    async with request.config_dict[SESSIONS]() as db:
        recording = await get_recording(
            db, actor=actor_of(request), number=number, recording_id=recording_id
        )
    try:
        return await stream_audio(
            request,
            request.config_dict[HTTP],
            request.config_dict[CONFIG],
            recording.recording_sid,
            filename=f"request-{number}-{recording.id}.mp3",
        )
    except TwilioUnavailable:
        raise web.HTTPBadGateway(text=gettext(NOT_REACHED)) from None


@requires(Role.AGENT, Role.ADMIN)
async def recording_delete(request: web.Request) -> web.StreamResponse:
    number, recording_id = _ids(request)
    form = await form_data(request)
    if form.get("confirm") != "yes":
        await flash(
            request, gettext("Tick “Yes, delete it” to delete the recording: it cannot be undone.")
        )
        raise redirect(request, "requests.detail", number=number)
    actor = actor_of(request)
    async with request.config_dict[SESSIONS]() as db:
        recording = await get_recording(db, actor=actor, number=number, recording_id=recording_id)
    try:  # outside any transaction: the database is not held while Twilio answers
        await delete_at_twilio(request.config_dict[TWILIO], recording.recording_sid)
    except TwilioUnavailable:
        await flash(request, gettext(NOT_REACHED))
        raise redirect(request, "requests.detail", number=number) from None
    async with request.config_dict[SESSIONS].begin() as db:
        recording = await get_recording(db, actor=actor, number=number, recording_id=recording_id)
        await mark_deleted(
            db, actor=actor, recording=recording, number=number, now=request.config_dict[CLOCK]()
        )
    await flash(request, gettext("The recording is deleted, here and at Twilio."))
    raise redirect(request, "requests.detail", number=number)


def add_routes(app: web.Application) -> None:
    app.router.add_get(ONE, recording_audio, name="requests.recording")
    app.router.add_post(ONE + "/delete", recording_delete, name="requests.recording.delete")
