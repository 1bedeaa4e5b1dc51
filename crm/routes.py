"""The CRM's two areas: the pages of each role, and the JSON API."""

from __future__ import annotations

import asyncio

from aiohttp import web

from crm.admin import views as admin_views
from crm.api import create_api_app
from crm.auth import password_views, profile_views
from crm.auth import views as auth_views
from crm.auth.passwords import dummy_hash
from crm.blacklist import record_views as blacklist_record_views
from crm.blacklist import views as blacklist_views
from crm.clients import views as client_views
from crm.lockout import views as lockout_views
from crm.organizations import address_views, loyalty_views, payer_views
from crm.organizations import views as organization_views
from crm.outbox import views as outbox_views
from crm.pages import setup_pages
from crm.partners import access_views, edit_views
from crm.partners import views as partner_views
from crm.recordings import views as recording_views
from crm.requests import partner_views as manager_views
from crm.requests import views as request_views
from crm.signup import admin_views as signup_admin_views
from crm.signup import views as signup_views
from crm.web import setup_web
from ivr.config import Config

__all__ = ["create_api_app", "create_pages_app"]


async def _prepare_login(app: web.Application) -> None:
    """Make the stand-in hash of unknown accounts before the first login, not during it."""
    await asyncio.to_thread(dummy_hash)


def create_pages_app(config: Config) -> web.Application:
    """Every CRM page: sessions, CSRF, the signed-in user and friendly error pages."""
    app = web.Application()
    setup_web(app, config)
    setup_pages(app)
    for views in (
        auth_views,
        profile_views,
        password_views,
        client_views,
        request_views,
        manager_views,
        partner_views,
        admin_views,
        outbox_views,
        signup_views,
        signup_admin_views,
        blacklist_views,
        blacklist_record_views,
        lockout_views,
        recording_views,
        access_views,
        edit_views,
        loyalty_views,
        organization_views,
        payer_views,
        address_views,
    ):
        views.add_routes(app)
    app.on_startup.append(_prepare_login)
    return app
