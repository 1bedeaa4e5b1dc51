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

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# With a "+": 7 to 15 digits; without: 10 to 15 (8-digit request numbers stay readable);
# never inside a word (Twilio SIDs) or an ISO date.
PHONE = re.compile(
    r"(?<![\w+])(?!\d{4}-\d\d-\d\d)"
    r"(?:\+\d(?:[\s\-().]{0,2}\d){6,14}|\d(?:[\s\-().]{0,2}\d){9,14})(?![\w])"
)


def mask_phone(text: str) -> str:
    """Mask every phone-like number: `+79161234567` -> `+7******4567`."""

    def _mask(match: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", match.group())
        plus = "+" if match.group().startswith("+") else ""
        return plus + digits[0] + "*" * (len(digits) - 5) + digits[-4:]

    return PHONE.sub(_mask, text)


def _mask_value(value: Any) -> Any:
    if isinstance(value, str):
        return mask_phone(value)
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


def configure_logging(
    *, format: str = "console", level: str = "info", stream: TextIO | None = None
) -> None:
    """Route structlog and standard-library logging through one masked renderer."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if format == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            mask_phones,
            renderer,
        ],
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


@web.middleware
async def request_context(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A fresh logging context per request, with an id to tie its lines together."""
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=secrets.token_hex(6))
    return await handler(request)
