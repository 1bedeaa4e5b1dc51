"""Bearer keys: every API route but the public ones needs `Authorization: Bearer <key>`."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from aiohttp import web

from crm import i18n
from crm.api import signup
from crm.api.errors import Unauthorized
from crm.auth.service import Actor, actor_for_api_key
from crm.i18n import gettext as _
from ivr.keys import CLOCK, CONFIG, SESSIONS
from ivr.logging import Handler

API_ACTOR = web.RequestKey("api_actor", Actor)
PUBLIC = frozenset({"api.openapi", "api.password.forgot"}) | signup.PUBLIC


def bearer_key(request: web.Request) -> str:
    """The key of the Authorization header, or Unauthorized when there is none."""
    scheme, _space, key = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Unauthorized(_("send the API key as `Authorization: Bearer <key>`"), invalid=False)
    return key.strip()


@web.middleware
async def api_language(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer the call in the language of its `Accept-Language` (else `web.language`), times
    in `web.timezone`; once the key is known, `bearer_auth` switches to its owner's own."""
    web_config = request.config_dict[CONFIG].web
    i18n.activate(
        i18n.negotiate(request.headers.get("Accept-Language", ""), web_config.language),
        ZoneInfo(web_config.timezone),
    )
    return await handler(request)


@web.middleware
async def bearer_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Load the key's actor into the request, and answer in its owner's language and time
    zone when they chose them; unknown routes fall through to a 404."""
    match = request.match_info
    if match.http_exception is not None or match.route.name in PUBLIC:
        return await handler(request)
    key = bearer_key(request)
    actor = None
    if key.isascii() and key.isprintable():
        async with request.config_dict[SESSIONS].begin() as db:
            actor = await actor_for_api_key(db, plain=key, now=request.config_dict[CLOCK]())
    if actor is None:
        raise Unauthorized(_("this API key is unknown or revoked"), invalid=True)
    request[API_ACTOR] = actor
    # The key owner's own choice wins over the header; without one, the header's stays.
    i18n.activate(
        actor.language or i18n.reader().language,
        i18n.zone_or_none(actor.timezone) or ZoneInfo(request.config_dict[CONFIG].web.timezone),
    )
    return await handler(request)


def actor_of(request: web.Request) -> Actor:
    """Who the bearer key of this (authenticated) call acts as."""
    return request[API_ACTOR]
