"""A local stand-in for Twilio's REST API, answering in Twilio's documented shapes.

The real `twilio` client is pointed at it through `twilio.api_base_url`. It knows the
Messages resource (create and fetch) and the Recordings resource (the audio, and delete),
checks HTTP basic auth like Twilio, and can be told to refuse the next requests with a
Twilio error.
"""

from __future__ import annotations

import asyncio
import base64
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
API = "/2010-04-01/Accounts/{account_sid}"
ACCOUNT = "AC" + "1" * 32
"""The account SID the tests give the service and the fake."""


@dataclass
class FakeTwilio:
    account_sid: str
    auth_token: str
    url: str = ""
    """Where the fake listens, once started."""
    messages: list[dict[str, Any]] = field(default_factory=list)
    recordings: dict[str, bytes] = field(default_factory=dict)
    """Recording SID -> its MP3 audio, as Twilio keeps it after a recorded call."""
    deleted_recordings: list[str] = field(default_factory=list)
    cut_audio: bool = False
    """The next recording's audio breaks off halfway (the connection drops)."""
    refusals: list[tuple[int, int, str]] = field(default_factory=list)
    """(HTTP status, Twilio error code, message) for the next requests, first first."""
    stalls: int = 0
    """How many of the next requests get no answer at all (until the client gives up)."""
    drops: int = 0
    """How many of the next requests have their connection closed without an answer."""

    def refuse_next(self, status: int, code: int, message: str) -> None:
        self.refusals.append((status, code, message))

    def stall_next(self, count: int = 1) -> None:
        self.stalls += count

    def drop_next(self, count: int = 1) -> None:
        self.drops += count

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._basic_auth])
        app.router.add_post(API + "/Messages.json", self._create_message)
        app.router.add_get(API + "/Messages/{sid}.json", self._fetch_message)
        app.router.add_get(API + "/Recordings/{sid}.mp3", self._recording_audio)
        app.router.add_delete(API + "/Recordings/{sid}.json", self._delete_recording)
        return app

    @staticmethod
    def _error(status: int, code: int, message: str) -> web.Response:
        body = {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        }
        return web.json_response(body, status=status)

    @web.middleware
    async def _basic_auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        if request.headers.get("Authorization") != f"Basic {expected}" or (
            request.match_info.get("account_sid") != self.account_sid
        ):
            return self._error(401, 20003, "Authenticate")
        if self.refusals:
            return self._error(*self.refusals.pop(0))
        if self.drops:
            self.drops -= 1
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=500)  # never reaches the client: the line is gone
        if self.stalls:
            self.stalls -= 1
            await asyncio.Event().wait()  # never set: the client's timeout ends the wait
        return await handler(request)

    def _resource(self, form: dict[str, str]) -> dict[str, Any]:
        sid = "SM" + secrets.token_hex(16)
        return {
            "sid": sid,
            "account_sid": self.account_sid,
            "to": form["To"],
            "from": form.get("From"),
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "body": form["Body"],
            "status": "queued" if "From" in form else "accepted",
            "num_segments": "1",
            "direction": "outbound-api",
            "api_version": "2010-04-01",
            "price": None,
            "error_code": None,
            "error_message": None,
            "date_created": "Tue, 01 Dec 2026 09:00:00 +0000",
            "date_updated": "Tue, 01 Dec 2026 09:00:00 +0000",
            "date_sent": None,
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json",
            "status_callback": form.get("StatusCallback"),
        }

    async def _create_message(self, request: web.Request) -> web.Response:
        form = {key: str(value) for key, value in (await request.post()).items()}
        if not E164.match(form.get("To", "")):
            return self._error(
                400, 21211, f"The 'To' number {form.get('To', '')} is not a valid phone number."
            )
        if "From" not in form and "MessagingServiceSid" not in form:
            return self._error(400, 21603, "A 'From' or 'MessagingServiceSid' is required.")
        if not form.get("Body"):
            return self._error(400, 21602, "Message body is required.")
        resource = self._resource(form)
        self.messages.append(resource)
        return web.json_response(resource, status=201)

    async def _fetch_message(self, request: web.Request) -> web.Response:
        for resource in self.messages:
            if resource["sid"] == request.match_info["sid"]:
                return web.json_response(resource)
        return self._error(404, 20404, "The requested resource was not found")

    def record(self, audio: bytes = b"ID3\x04fake mp3 audio") -> str:
        """A recording Twilio made of a call: its new SID (the test posts the callback)."""
        sid = "RE" + secrets.token_hex(16)
        self.recordings[sid] = audio
        return sid

    async def _recording_audio(self, request: web.Request) -> web.StreamResponse:
        audio = self.recordings.get(request.match_info["sid"])
        if audio is None:
            return self._error(404, 20404, "The requested resource was not found")
        wanted = re.fullmatch(r"bytes=(\d+)-(\d*)", request.headers.get("Range", ""))
        if wanted:
            first = int(wanted.group(1))
            last = int(wanted.group(2)) if wanted.group(2) else len(audio) - 1
            part = audio[first : last + 1]
            headers = {"Content-Range": f"bytes {first}-{first + len(part) - 1}/{len(audio)}"}
            return web.Response(body=part, status=206, content_type="audio/mpeg", headers=headers)
        if self.cut_audio:
            self.cut_audio = False
            response = web.StreamResponse(headers={"Content-Type": "audio/mpeg"})
            response.content_length = len(audio)
            await response.prepare(request)
            await response.write(audio[: len(audio) // 2])
            if request.transport is not None:
                request.transport.close()
            return response
        return web.Response(body=audio, content_type="audio/mpeg")

    async def _delete_recording(self, request: web.Request) -> web.Response:
        sid = request.match_info["sid"]
        if self.recordings.pop(sid, None) is None:
            return self._error(404, 20404, "The requested resource was not found")
        self.deleted_recordings.append(sid)
        return web.Response(status=204)
