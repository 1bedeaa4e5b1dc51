"""Mounts the CRM: pages for each role, then the JSON API."""

from __future__ import annotations

from aiohttp import web

from crm.auth import views as auth_views
from crm.web import setup_web


def add_crm(app: web.Application) -> None:
    setup_web(app)
    auth_views.add_routes(app)
