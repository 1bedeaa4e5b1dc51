"""The admin's outbox page: every letter, queued, sent or failing with its last error."""

from __future__ import annotations

from aiohttp import web

from crm.enums import Role
from crm.i18n import gettext as _
from crm.outbox.models import OutboxStatus
from crm.outbox.service import list_outbox, requeue
from crm.pages import flash, label, page_arg, render
from crm.web import actor_of, redirect, requires
from ivr.keys import CLOCK, SESSIONS


@requires(Role.ADMIN)
async def outbox(request: web.Request) -> web.StreamResponse:
    value = request.query.get("status", "")
    status = OutboxStatus(value) if value in set(OutboxStatus) else None
    async with request.config_dict[SESSIONS]() as db:
        letters, counts = await list_outbox(
            db, actor=actor_of(request), status=status, page=page_arg(request)
        )
    return await render(
        request,
        "admin_outbox.html",
        {
            "letters": letters,
            "counts": counts,
            "status": status,
            "statuses": list(OutboxStatus),
            "query": {"status": status.value} if status else {},
        },
    )


@requires(Role.ADMIN)
async def outbox_requeue(request: web.Request) -> web.StreamResponse:
    async with request.config_dict[SESSIONS].begin() as db:
        letter, queued = await requeue(
            db,
            actor=actor_of(request),
            message_id=int(request.match_info["message_id"]),
            now=request.config_dict[CLOCK](),
        )
    if queued:
        message = _("“%(subject)s” is queued again; it goes out in a moment.")
        await flash(request, message % {"subject": letter.subject})
    else:
        message = _("“%(subject)s” is %(status)s: nothing to send again.")
        await flash(request, message % {"subject": letter.subject, "status": label(letter.status)})
    raise redirect(request, "admin.outbox")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/admin/outbox", outbox, name="admin.outbox")
    app.router.add_post(
        r"/admin/outbox/{message_id:\d{1,9}}/requeue", outbox_requeue, name="admin.outbox.requeue"
    )
