"""API keys: admins issue them for a user and revoke them."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from crm.api.auth import actor_of
from crm.api.http import V1, json_body, path_id, respond
from crm.api.openapi import operation
from crm.api.schemas import ApiKeyOut, IssuedApiKey, NewApiKey
from crm.auth.service import issue_api_key, revoke_api_key
from crm.errors import Invalid, NotFound
from crm.i18n import gettext as _
from crm.schemas import parse
from ivr.keys import SESSIONS

routes = web.RouteTableDef()


@routes.post(f"{V1}/api-keys", name="api.keys.issue")
@operation(
    "Issue an API key for a user",
    tag="api-keys",
    answer=IssuedApiKey,
    status=201,
    body=NewApiKey,
    description="Admins only. The key acts as the user, with the "
    "user's role. The answer is the only place the key "
    "is ever shown.",
)
async def issue(request: web.Request) -> web.Response:
    data = parse(NewApiKey, await json_body(request))
    async with request.config_dict[SESSIONS].begin() as db:
        try:
            key, plain = await issue_api_key(
                db,
                actor=actor_of(request),
                user_id=data.user_id,
                name=data.name,
                now=datetime.now(UTC),
            )
        except NotFound:
            raise Invalid.one("user_id", _("no such user")) from None
    return respond(
        IssuedApiKey.model_validate({**ApiKeyOut.model_validate(key).model_dump(), "key": plain}),
        status=201,
    )


@routes.post(V1 + r"/api-keys/{key_id:\d+}/revoke", name="api.keys.revoke")
@operation(
    "Revoke an API key",
    tag="api-keys",
    answer=ApiKeyOut,
    description="Admins only. The key stops working at once; revoking twice changes nothing.",
)
async def revoke(request: web.Request) -> web.Response:
    async with request.config_dict[SESSIONS].begin() as db:
        key = await revoke_api_key(
            db, actor=actor_of(request), key_id=path_id(request, "key_id"), now=datetime.now(UTC)
        )
    return respond(ApiKeyOut.model_validate(key))
