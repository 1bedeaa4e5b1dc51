"""The Twilio signature check, one middleware for every area Twilio posts to."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web
from yarl import URL

from ivr.keys import CONFIG, VALIDATOR
from ivr.logging import Handler, forget_step
from ivr.metrics import METRICS
from ivr.webhooks.context import public_base

log = structlog.get_logger("ivr.webhooks")
Failure = Callable[[web.Request], web.Response]
"""What Twilio hears when a handler fails: spoken TwiML for a call, an empty reply for SMS."""
ABANDONED: web.AppKey[set[asyncio.Task[web.StreamResponse]]] = web.AppKey("abandoned_webhooks")
"""Handlers answered for when over budget, still unwinding (a database call to return)."""
DRAIN_SECONDS = 15


def _step_name(request: web.Request) -> str:
    """The route's name without its area: "voice", "dial_result" (a fixed set of labels)."""
    name = request.match_info.route.name or "unknown"
    return name.split(".", 1)[-1]


class UnknownCall(Exception):
    """A step arrived for a call this service never answered, or one already over."""


def twiml_response(text: str) -> web.Response:
    return web.Response(text=text, content_type="text/xml", charset="utf-8")


def signed_url(request: web.Request) -> str:
    """The URL Twilio signed: the public base as Twilio saw it, with the request target
    exactly as sent (re-encoding it would change `%7e`, `~` or `[]` and break the check)."""
    target = request.raw_path
    if not target.startswith("/"):  # an absolute-form target: its path and query
        target = URL(target, encoded=True).raw_path_qs
    return public_base(request, request.config_dict[CONFIG]) + target


async def _form(request: web.Request) -> dict[str, str] | None:
    """The posted form as text fields, or None when no Twilio request has such a body."""
    if request.method != "POST":
        return {}
    try:
        form = await request.post()
    # Too large, not UTF-8, an unknown charset, a multipart part without a name...
    except (web.HTTPException, ValueError, LookupError):
        return None
    if not all(isinstance(value, str) for value in form.values()):
        return None  # a file part
    return {key: str(form[key]) for key in form}


async def _signed_params(request: web.Request) -> dict[str, str] | None:
    """The posted form when its `X-Twilio-Signature` is right, else None (logged once)."""
    params = await _form(request)
    signature = request.headers.get("X-Twilio-Signature", "")
    if (
        params is not None
        and signature
        and request.config_dict[VALIDATOR].validate(signed_url(request), params, signature)
    ):
        return params
    log.warning(
        "twilio_signature_rejected",
        path=request.path,
        signed=bool(signature),
        readable=params is not None,
        remote=request.remote,
    )
    return None


def _forget(task: asyncio.Task[web.StreamResponse]) -> None:
    """A handler abandoned over budget: its late outcome is noted, never left unretrieved."""
    if not task.cancelled() and task.exception() is not None:
        log.warning("webhook_abandoned_failed", error=type(task.exception()).__name__)


def twilio_app(on_failure: Failure) -> web.Application:
    """An area Twilio posts to: the signature middleware, and a shutdown that lets handlers
    abandoned over budget unwind before the database they wait on is closed."""
    app = web.Application(middlewares=[twilio_signature(on_failure)])
    app[ABANDONED] = set()
    app.on_shutdown.append(_drain)
    return app


async def _drain(app: web.Application) -> None:
    abandoned = app[ABANDONED]
    if abandoned:
        await asyncio.wait(abandoned, timeout=DRAIN_SECONDS)


def twilio_signature(on_failure: Failure) -> Callable[..., Awaitable[web.StreamResponse]]:
    """A middleware: 403 without a valid signature; any failure inside, or no answer within
    `ivr.answer_budget_ms`, → `on_failure`. Each answer is counted in the metrics."""

    def _failed(request: web.Request, step: str) -> web.Response:
        request.config_dict[METRICS].apology(step)
        # What the handler said it did was not kept: the usual access line is written.
        forget_step(request)
        return on_failure(request)

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        step = _step_name(request)
        metrics = request.config_dict[METRICS]
        response = await _answer(request, handler, step)
        metrics.webhook(step, time.perf_counter() - started, response.status)
        return response

    async def _answer(request: web.Request, handler: Handler, step: str) -> web.StreamResponse:
        params = await _signed_params(request)
        if params is None:
            return web.Response(status=403, text="invalid Twilio signature")
        call_sid = params.get("ParentCallSid") or params.get("CallSid") or ""
        # Left bound on purpose: the access-log line written after this handler carries it
        # too; `request_context` clears it before the next request on the same connection.
        structlog.contextvars.bind_contextvars(call_sid=call_sid[:64])
        if "MessageSid" in params:
            structlog.contextvars.bind_contextvars(message_sid=params["MessageSid"][:64])
        budget_ms = request.config_dict[CONFIG].ivr.answer_budget_ms
        # The handler runs as a task of its own: cancelling it does not end it at once when
        # it waits on a database (a blocked SQLite call still holds its thread), and Twilio
        # must hear the apology before its own 15 s are up.
        task = asyncio.ensure_future(handler(request))
        try:
            async with asyncio.timeout(budget_ms / 1000) as budget:
                return await asyncio.shield(task)
        except TimeoutError:
            if not budget.expired():
                log.exception("webhook_failed", path=request.path)
                return _failed(request, step)
            task.cancel()
            abandoned = request.app[ABANDONED]
            abandoned.add(task)
            task.add_done_callback(abandoned.discard)
            task.add_done_callback(_forget)
            log.error("webhook_over_budget", path=request.path, budget_ms=budget_ms)
            return _failed(request, step)
        except UnknownCall:
            log.warning("webhook_unknown_call", path=request.path)
            return _failed(request, step)
        except web.HTTPException as error:
            log.warning("webhook_http_error", path=request.path, status=error.status)
            return _failed(request, step)
        except Exception:
            log.exception("webhook_failed", path=request.path)
            return _failed(request, step)

    return guard
