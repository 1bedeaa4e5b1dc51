"""Every Twilio webhook passes here: signature check, log binding, TwiML even on failure."""

from __future__ import annotations

import secrets

import structlog
from aiohttp import web
from twilio.twiml.voice_response import VoiceResponse

from ivr.config import Config
from ivr.flows.manager_call import apology
from ivr.keys import CONFIG, VALIDATOR
from ivr.webhooks.context import public_base, voice_for

log = structlog.get_logger("ivr.webhooks")
PREFIX = "/ivr/"


def twiml(response: VoiceResponse) -> web.Response:
    return web.Response(text=str(response), content_type="text/xml", charset="utf-8")


def signed_url(request: web.Request, config: Config) -> str:
    """The URL Twilio signed: the public base as Twilio saw it, with this path and query."""
    return public_base(request, config) + request.path_qs


@web.middleware
async def twilio_guard(request: web.Request, handler):
    if not request.path.startswith(PREFIX):
        return await handler(request)
    config = request.app[CONFIG]
    try:
        form = await request.post() if request.method == "POST" else {}
    except web.HTTPException:  # too large or unreadable: Twilio never sends such a body
        form = {}
    params = {key: form[key] for key in form}
    signature = request.headers.get("X-Twilio-Signature", "")
    url = signed_url(request, config)
    if not signature or not request.app[VALIDATOR].validate(url, params, signature):
        log.warning(
            "twilio_signature_rejected",
            path=request.path,
            signed=bool(signature),
            remote=request.remote,
        )
        raise web.HTTPForbidden(text="invalid Twilio signature")
    call_sid = str(params.get("ParentCallSid") or params.get("CallSid") or "")
    # Left bound on purpose: the access-log line written after this handler carries it too;
    # `request_context` clears it before the next request on the same connection.
    structlog.contextvars.bind_contextvars(call_sid=call_sid[:64])
    try:
        return await handler(request)
    except web.HTTPException as error:
        log.warning("webhook_http_error", path=request.path, status=error.status)
        return twiml(apology(voice_for(request)))
    except Exception:
        log.exception("webhook_failed", path=request.path)
        return twiml(apology(voice_for(request)))


@web.middleware
async def request_context(request: web.Request, handler):
    """A fresh logging context per request, with an id to tie its lines together."""
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=secrets.token_hex(6))
    return await handler(request)
