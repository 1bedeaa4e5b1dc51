"""Mounts the CRM: pages for each role, then the JSON API."""

from __future__ import annotations

from aiohttp import web

from crm.admin import views as admin_views
from crm.api import add_api
from crm.auth import views as auth_views
from crm.clients import views as client_views
from crm.pages import setup_pages
from crm.partners import views as partner_views
from crm.requests import partner_views as manager_views
from crm.requests import views as request_views
from crm.web import setup_web


def add_crm(app: web.Application) -> None:
    setup_web(app)
    setup_pages(app)
    auth_views.add_routes(app)
    client_views.add_routes(app)
    request_views.add_routes(app)
    manager_views.add_routes(app)
    partner_views.add_routes(app)
    admin_views.add_routes(app)
    add_api(app)
