"""What the sign-up pages and the API both do with a request: the shared objects it needs."""

from __future__ import annotations

from aiohttp import web

from crm.signup.errors import NotDelivered
from crm.signup.service import CodeKey, CodeSent, request_code, verify_code
from crm.web import client_address
from ivr.keys import CLOCK, CONFIG, SESSIONS, SMS
from ivr.metrics import METRICS


def _key(request: web.Request) -> CodeKey:
    return CodeKey.from_secret(request.config_dict[CONFIG].web.session_key)


async def send_code(request: web.Request, phone: str) -> CodeSent:
    """A code to `phone` (E.164) for whoever sent this request, within every limit."""
    config = request.config_dict[CONFIG]
    try:
        sent = await request_code(
            request.config_dict[SESSIONS],
            phone=phone,
            address=client_address(request),
            sms=request.config_dict[SMS],
            settings=config.signup,
            key=_key(request),
            admin_to=config.email.admin_to,
            web=config.web,
            clock=request.config_dict[CLOCK],
        )
    except NotDelivered:
        request.config_dict[METRICS].sms("refused")
        raise
    request.config_dict[METRICS].sms("sent")
    return sent


async def check_code(request: web.Request, phone: str, code: str) -> str:
    """The sign-up token for a right code."""
    return await verify_code(
        request.config_dict[SESSIONS],
        phone=phone,
        code=code,
        settings=request.config_dict[CONFIG].signup,
        key=_key(request),
        now=request.config_dict[CLOCK](),
    )
