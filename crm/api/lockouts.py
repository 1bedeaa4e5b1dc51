"""Callers locked out of the line for guessing request numbers (admins only): list, unlock."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web

from crm.api.auth import actor_of
from crm.api.http import V1, page_args, path_id, query_bool, respond
from crm.api.openapi import PAGING, Param, operation
from crm.api.schemas import LockoutOut, LockoutPage
from crm.lockout.service import LockoutView, get_lockout, list_lockouts, unlock
from ivr.keys import CLOCK, SESSIONS

routes = web.RouteTableDef()
LOCKOUTS = V1 + "/lockouts"
ONE = LOCKOUTS + r"/{lockout_id:\d+}"
ADMINS = "Admins only."
ACTIVE = Param(
    "active",
    {"type": "string", "enum": ["true", "false"]},
    "true: only lockouts in force now; false: only those unlocked or over.",
)


def lockout_out(view: LockoutView, now: datetime) -> LockoutOut:
    lockout = view.lockout
    return LockoutOut(
        id=lockout.id,
        caller=lockout.caller,
        manager_id=lockout.manager_id,
        manager=view.manager,
        company=view.company,
        wrong_count=lockout.wrong_count,
        locked_at=lockout.locked_at,
        locked_until=lockout.locked_until,
        unlocked_at=lockout.unlocked_at,
        unlocked_by=lockout.unlocked_by,
        active=view.active(now),
    )


@routes.get(LOCKOUTS, name="api.lockouts.list")
@operation(
    "List lockouts of callers, newest first",
    tag="lockouts",
    answer=LockoutPage,
    description=ADMINS
    + " A caller is locked out after more than `ivr.lockout.max_wrong` wrong request numbers"
    " in `ivr.lockout.window_minutes`, counted per caller number and per manager.",
    query=(ACTIVE, *PAGING),
)
async def list_(request: web.Request) -> web.Response:
    now = request.config_dict[CLOCK]()
    async with request.config_dict[SESSIONS]() as db:
        page = await list_lockouts(
            db,
            actor=actor_of(request),
            now=now,
            active=query_bool(request, "active"),
            **page_args(request),
        )
    items = [lockout_out(view, now) for view in page.items]
    return respond(
        LockoutPage(
            items=items, page=page.page, per_page=page.per_page, total=page.total, pages=page.pages
        )
    )


@routes.get(ONE, name="api.lockouts.get")
@operation("One lockout", tag="lockouts", answer=LockoutOut, description=ADMINS)
async def get(request: web.Request) -> web.Response:
    async with request.config_dict[SESSIONS]() as db:
        view = await get_lockout(
            db, actor=actor_of(request), lockout_id=path_id(request, "lockout_id")
        )
    return respond(lockout_out(view, request.config_dict[CLOCK]()))


@routes.post(ONE + "/unlock", name="api.lockouts.unlock")
@operation(
    "Unlock a caller now",
    tag="lockouts",
    answer=LockoutOut,
    description=ADMINS
    + " The caller's wrong numbers count afresh from now. Audited. 422 naming `lockout` when"
    " it is not in force any more.",
)
async def unlock_(request: web.Request) -> web.Response:
    now = request.config_dict[CLOCK]()
    async with request.config_dict[SESSIONS].begin() as db:
        view = await unlock(
            db, actor=actor_of(request), lockout_id=path_id(request, "lockout_id"), now=now
        )
    return respond(lockout_out(view, now))
