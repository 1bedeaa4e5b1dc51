"""The JSON API under /api (version 1 at /api/v1): bearer keys, JSON errors, an OpenAPI document."""

from __future__ import annotations

from aiohttp import web

from crm.api import (
    access,
    blacklist,
    clients,
    editing,
    keys,
    lockouts,
    loyalty,
    membership,
    organization,
    partners,
    passwords,
    recordings,
    requests,
    signup,
)
from crm.api.auth import api_language, bearer_auth
from crm.api.errors import api_errors
from crm.api.http import V1
from crm.api.openapi import build_on_startup, openapi_json


def create_api_app() -> web.Application:
    """Every API route; its errors are JSON, in the caller's language, and all but the
    document need a key."""
    app = web.Application(middlewares=[api_language, api_errors, bearer_auth])
    app.router.add_get(f"{V1}/openapi.json", openapi_json, name="api.openapi")
    for module in (
        clients,
        requests,
        partners,
        keys,
        signup,
        blacklist,
        lockouts,
        recordings,
        access,
        editing,
        passwords,
        loyalty,
        organization,
        membership,
    ):
        app.router.add_routes(module.routes)
    app.on_startup.append(build_on_startup)
    return app
