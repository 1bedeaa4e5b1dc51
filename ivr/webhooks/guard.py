"""The Twilio signature check, one middleware for every area Twilio posts to."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web

from ivr.keys import CONFIG
from ivr.logging import Handler
from ivr.webhooks.context import VALIDATOR, public_base

log = structlog.get_logger("ivr.webhooks")
Failure = Callable[[web.Request], web.Response]
"""What Twilio hears when a handler fails: spoken TwiML for a call, an empty reply for SMS."""


def twiml_response(text: str) -> web.Response:
    return web.Response(text=text, content_type="text/xml", charset="utf-8")


def signed_url(request: web.Request) -> str:
    """The URL Twilio signed: the public base as Twilio saw it, with this path and query."""
    return public_base(request, request.config_dict[CONFIG]) + request.path_qs


async def _signed_params(request: web.Request) -> dict[str, str] | None:
    """The posted form when its `X-Twilio-Signature` is right, else None."""
    try:
        form = await request.post() if request.method == "POST" else {}
    except web.HTTPException:  # too large or unreadable: Twilio never sends such a body
        form = {}
    params = {key: str(form[key]) for key in form}
    signature = request.headers.get("X-Twilio-Signature", "")
    if signature and request.config_dict[VALIDATOR].validate(
        signed_url(request), params, signature
    ):
        return params
    log.warning(
        "twilio_signature_rejected",
        path=request.path,
        signed=bool(signature),
        remote=request.remote,
    )
    return None


def twilio_signature(on_failure: Failure) -> Callable[..., Awaitable[web.StreamResponse]]:
    """A middleware: 403 without a valid signature; any failure inside → `on_failure`."""

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        params = await _signed_params(request)
        if params is None:
            raise web.HTTPForbidden(text="invalid Twilio signature")
        call_sid = params.get("ParentCallSid") or params.get("CallSid") or ""
        # Left bound on purpose: the access-log line written after this handler carries it
        # too; `request_context` clears it before the next request on the same connection.
        structlog.contextvars.bind_contextvars(call_sid=call_sid[:64])
        if "MessageSid" in params:
            structlog.contextvars.bind_contextvars(message_sid=params["MessageSid"][:64])
        try:
            return await handler(request)
        except web.HTTPException as error:
            log.warning("webhook_http_error", path=request.path, status=error.status)
            return on_failure(request)
        except Exception:
            log.exception("webhook_failed", path=request.path)
            return on_failure(request)

    return guard
