"""Password reset links: an admin sends one to a user; anyone may ask for one by email."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from crm.api.auth import actor_of
from crm.api.errors import error_response
from crm.api.http import V1, json_body, path_id, respond
from crm.api.openapi import operation
from crm.auth.password_views import reset_url_for
from crm.auth.resets import TooManyTries, request_reset, send_reset
from crm.i18n import gettext as _
from crm.schemas import parse
from crm.web import client_address
from ivr.keys import CLOCK, CONFIG, SESSIONS


class ForgotIn(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    email: str = Field(max_length=254, description="The email the person logs in with.")


class ResetSentOut(BaseModel):
    expires_at: datetime = Field(description="Until when the emailed link works (once).")


class ForgotOut(BaseModel):
    message: str = Field(description="The same words whether or not the email has an account.")


routes = web.RouteTableDef()


@routes.post(V1 + r"/users/{user_id:\d+}/password-reset", name="api.users.password_reset")
@operation(
    "Email a user a link to set a new password",
    tag="passwords",
    answer=ResetSentOut,
    status=202,
    errors=(422,),
    description="Admins only. The letter goes out through the outbox, in the user's language; "
    "the link works once until `expires_at`, and a newer link voids the older ones. A "
    "deactivated login gets no link (422 naming `user_id`).",
)
async def send(request: web.Request) -> web.Response:
    async with request.config_dict[SESSIONS].begin() as db:
        sent = await send_reset(
            db,
            actor=actor_of(request),
            user_id=path_id(request, "user_id"),
            now=request.config_dict[CLOCK](),
            web=request.config_dict[CONFIG].web,
            reset_url=reset_url_for(request),
        )
    return respond(ResetSentOut(expires_at=sent.expires_at), status=202)


@routes.post(f"{V1}/password/forgot", name="api.password.forgot")
@operation(
    "Ask for a link to set a new password",
    tag="passwords",
    answer=ForgotOut,
    status=202,
    body=ForgotIn,
    public=True,
    errors=(429,),
    description="No key needed. The answer is the same whether or not the email has an "
    "account; only an account that may log in is sent a link. A few asks per client address "
    "are free, then each waits longer (429 with `Retry-After`).",
)
async def forgot(request: web.Request) -> web.Response:
    data = parse(ForgotIn, await json_body(request))
    try:
        async with request.config_dict[SESSIONS].begin() as db:
            await request_reset(
                db,
                email=data.email,
                ip=client_address(request),
                now=request.config_dict[CLOCK](),
                web=request.config_dict[CONFIG].web,
                reset_url=reset_url_for(request),
            )
    except TooManyTries as throttled:
        message = throttled.errors["email"]
        return error_response(429, message, retry_after=throttled.retry_after)
    message = _("If an account with this email exists, we have sent a link to set a new password.")
    return respond(ForgotOut(message=message), status=202)
