"""The audio lives at Twilio: streamed through the service with the account's credentials
(the browser never gets a Twilio URL), and deleted there."""

from __future__ import annotations

import aiohttp
import structlog
from aiohttp import web
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client as TwilioClient

from ivr.config import Config, TwilioConfig

log = structlog.get_logger("crm.recordings")
CHUNK = 64 * 1024


class TwilioUnavailable(Exception):
    """Twilio did not answer as it should; nothing was changed here."""


def audio_url(config: TwilioConfig, recording_sid: str) -> str:
    base = config.api_base_url.rstrip("/")
    return f"{base}/2010-04-01/Accounts/{config.account_sid}/Recordings/{recording_sid}.mp3"


async def stream_audio(
    request: web.Request,
    http: aiohttp.ClientSession,
    config: Config,
    recording_sid: str,
    *,
    filename: str,
) -> web.StreamResponse:
    """The recording's MP3, piped from Twilio to the browser chunk by chunk; a `Range` asked
    for is passed on, so players can seek. TwilioUnavailable only before the first byte."""
    twilio = config.twilio
    auth = aiohttp.BasicAuth(twilio.account_sid, twilio.auth_token)
    # The whole-request limit of the shared session would cut a long recording off.
    timeout = aiohttp.ClientTimeout(
        total=None,
        connect=config.http.connect_timeout_seconds,
        sock_read=config.http.timeout_seconds,
    )
    wanted = {"Range": request.headers["Range"]} if "Range" in request.headers else {}
    response: web.StreamResponse | None = None
    try:
        async with http.get(
            audio_url(twilio, recording_sid), auth=auth, headers=wanted, timeout=timeout
        ) as upstream:
            if upstream.status not in (200, 206):
                log.warning("recording_fetch_failed", status=upstream.status)
                raise TwilioUnavailable(f"Twilio answered {upstream.status}")
            headers = {
                "Content-Type": "audio/mpeg",
                "Cache-Control": "private, no-store",
                "Content-Disposition": f'inline; filename="{filename}"',
                "Accept-Ranges": "bytes",
            }
            if "Content-Range" in upstream.headers:
                headers["Content-Range"] = upstream.headers["Content-Range"]
            response = web.StreamResponse(status=upstream.status, headers=headers)
            if upstream.content_length is not None:
                response.content_length = upstream.content_length
            await response.prepare(request)
            async for chunk in upstream.content.iter_chunked(CHUNK):
                await response.write(chunk)
            await response.write_eof()
            return response
    except ConnectionResetError:  # the listener went away (a player seeking, a closed tab)
        if response is None:
            raise
        return response
    except (aiohttp.ClientError, TimeoutError) as error:
        log.warning("recording_fetch_failed", error=type(error).__name__)
        if response is None:
            raise TwilioUnavailable(str(error)) from None
        # Headers and part of the audio are out: no error page can follow them. Cut the
        # connection, so the player sees a broken download rather than a short song.
        if request.transport is not None:
            request.transport.close()
        return response


async def delete_at_twilio(twilio: TwilioClient, recording_sid: str) -> None:
    """Delete the recording at Twilio; one that is gone there already counts as deleted."""
    try:
        await twilio.recordings(recording_sid).delete_async()
    except TwilioRestException as error:
        if error.status == 404:
            return
        log.warning("recording_delete_failed", status=error.status, code=error.code)
        raise TwilioUnavailable(f"Twilio answered {error.status}") from None
    except (aiohttp.ClientError, TimeoutError) as error:
        log.warning("recording_delete_failed", error=type(error).__name__)
        raise TwilioUnavailable(str(error)) from None
