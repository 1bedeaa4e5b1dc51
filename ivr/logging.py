"""structlog set-up: one configuration for our lines and the standard library's, phones masked."""

from __future__ import annotations

import logging
import re
import secrets
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, TextIO

import structlog
from aiohttp import web
from aiohttp.web_log import AccessLogger
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ACCESS_LOGGER = "aiohttp.access"

# With a "+": 7 to 15 digits; without: 10 to 15 (8-digit request numbers stay readable);
# never inside a word (Twilio SIDs) or an ISO date. URL-encoded text counts too: "%2B" is a
# plus, "%20" a space, and a "%xx" escape ends a word, as in `q%3D%2B79161234567`.
_ESCAPED = r"%[0-9A-Fa-f]{2}"
_SEPARATOR = r"(?:[\s\-().]|%20|%2[89]|%2[Dd])"
PHONE = re.compile(
    rf"(?:(?<={_ESCAPED})|(?<![\w+%]))(?!\d{{4}}-\d\d-\d\d)"
    rf"(?:(?:\+|%2[Bb])\d(?:{_SEPARATOR}{{0,2}}\d){{6,14}}|\d(?:{_SEPARATOR}{{0,2}}\d){{9,14}})"
    r"(?![\w])"
)
_NOT_DIGIT = re.compile(rf"{_ESCAPED}|\D")


def mask_phone(text: str) -> str:
    """Mask every phone-like number: `+79161234567` -> `+7******4567`."""

    def _mask(match: re.Match[str]) -> str:
        found = match.group()
        digits = _NOT_DIGIT.sub("", found)
        plus = "+" if found[0] in "+%" else ""
        return plus + digits[0] + "*" * (len(digits) - 5) + digits[-4:]

    return PHONE.sub(_mask, text)


# The query of a URL in an access line (the request's and the Referer's): its values may be
# a client's number or a fragment of one (a search for "1234567"), so only names are kept.
_QUERY = re.compile(r"\?[^\s\"]*")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]{0,31}")


def hide_query_values(text: str) -> str:
    """`GET /clients?q=%2B7916&page=2 HTTP/1.1` -> `GET /clients?q=…&page=… HTTP/1.1`."""

    def _hide(match: re.Match[str]) -> str:
        names = (part.split("=", 1)[0] for part in match.group()[1:].split("&"))
        return "?" + "&".join(f"{name}=…" if _NAME.fullmatch(name) else "…" for name in names)

    return _QUERY.sub(_hide, text)


def hide_access_queries(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: aiohttp's access lines keep no query values (request, Referer)."""
    record = event_dict.get("_record")
    if (
        record is not None
        and record.name == ACCESS_LOGGER
        and isinstance(event_dict.get("event"), str)
    ):
        event_dict["event"] = hide_query_values(event_dict["event"])
    return event_dict


# The path segment after this prefix is a secret (a reset link's token): hidden in every
# logged value, so access lines, their Referer and a failed page's path never hold it.
_SECRET_SEGMENT = re.compile(r"(/password/reset/)[^\s\"'?#/]+")


def hide_path_secrets(text: str) -> str:
    """`GET /password/reset/Zx9… HTTP/1.1` -> `GET /password/reset/… HTTP/1.1`."""
    return _SECRET_SEGMENT.sub(r"\1…", text) if "/password/reset/" in text else text


def _mask_value(value: Any) -> Any:
    if isinstance(value, str):
        return mask_phone(hide_path_secrets(value))
    if isinstance(value, dict):
        return {key: _mask_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_mask_value(item) for item in value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 10**9:
        return mask_phone(str(value))
    return value


def mask_phones(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> dict[str, Any]:
    """structlog processor: no phone number leaves the process unmasked."""
    return {key: _mask_value(value) for key, value in event_dict.items()}


_SHARED: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    structlog.processors.format_exc_info,
]


def masked_formatter(format: str = "console") -> logging.Formatter:
    """The formatter of every log line: access queries hidden, phones masked, then rendered."""
    renderer: Any = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if format == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_SHARED,
        processors=[
            hide_access_queries,
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            mask_phones,
            renderer,
        ],
    )


def route_structlog_to_stdlib() -> None:
    """structlog lines go through the standard library's handlers (and their formatter)."""
    structlog.configure(
        processors=[*_SHARED, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )


def configure_logging(
    *, format: str = "console", level: str = "info", stream: TextIO | None = None
) -> None:
    """Route structlog and standard-library logging through one masked renderer."""
    route_structlog_to_stdlib()
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(masked_formatter(format))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # The SQLite driver's debug lines hold every statement's parameters: client data.
    logging.getLogger("aiosqlite").setLevel(max(logging.INFO, root.level))


STEP_LINE: web.RequestKey[tuple[str, dict[str, Any]]] = web.RequestKey("step_line")
"""A webhook's own log line (event, fields): written by the access logger, in place of the
usual access line, with the status and time added."""


ACCESS_FIELDS = frozenset({"status", "ms", "method", "path", "remote"})
"""What the access logger adds to a step line: a step's own fields may not take them."""


def log_step(request: web.Request, event: str, **fields: Any) -> None:
    """Say what this webhook did; it is logged once, with the answer's status and time."""
    clash = ACCESS_FIELDS & fields.keys()
    if clash:
        raise ValueError(f"log_step fields {sorted(clash)} are the access line's own")
    request[STEP_LINE] = (event, fields)


def forget_step(request: web.Request) -> None:
    """The step was not kept (its transaction failed, or it ran over budget): the usual
    access line is written for this webhook instead."""
    request.pop(STEP_LINE, None)


class OneLineAccessLogger(AccessLogger):
    """The access log, except that a webhook that said what it did gets one line for both."""

    _step_log = structlog.get_logger("ivr.webhooks")

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        line = request.get(STEP_LINE)
        if line is None:
            super().log(request, response, time)
            return
        event, fields = line
        try:
            self._step_log.info(
                event,
                **fields,
                method=request.method,
                path=request.path,
                remote=request.remote,
                status=response.status,
                ms=round(time * 1000, 1),
            )
        except Exception:
            self.logger.exception("Error in logging")


@web.middleware
async def request_context(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A fresh logging context per request, with an id to tie its lines together."""
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=secrets.token_hex(6))
    return await handler(request)
