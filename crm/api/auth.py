"""Bearer keys: every API route but the public ones needs `Authorization: Bearer <key>`."""

from __future__ import annotations

from aiohttp import web

from crm.api import signup
from crm.api.errors import Unauthorized
from crm.auth.service import Actor, actor_for_api_key
from ivr.keys import CLOCK, SESSIONS
from ivr.logging import Handler

API_ACTOR = web.RequestKey("api_actor", Actor)
PUBLIC = frozenset({"api.openapi"}) | signup.PUBLIC


def bearer_key(request: web.Request) -> str:
    """The key of the Authorization header, or Unauthorized when there is none."""
    scheme, _, key = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Unauthorized("send the API key as `Authorization: Bearer <key>`", invalid=False)
    return key.strip()


@web.middleware
async def bearer_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Load the key's actor into the request; unknown routes fall through to a 404."""
    match = request.match_info
    if match.http_exception is not None or match.route.name in PUBLIC:
        return await handler(request)
    key = bearer_key(request)
    actor = None
    if key.isascii() and key.isprintable():
        async with request.config_dict[SESSIONS].begin() as db:
            actor = await actor_for_api_key(db, plain=key, now=request.config_dict[CLOCK]())
    if actor is None:
        raise Unauthorized("this API key is unknown or revoked", invalid=True)
    request[API_ACTOR] = actor
    return await handler(request)


def actor_of(request: web.Request) -> Actor:
    """Who the bearer key of this (authenticated) call acts as."""
    return request[API_ACTOR]
