"""Twilio messaging webhooks under /sms: the same signature check, messaging TwiML answers."""

from __future__ import annotations

import structlog
from aiohttp import web
from twilio.twiml.messaging_response import MessagingResponse

from ivr.webhooks.events import MessageStatusEvent
from ivr.webhooks.guard import twilio_app, twiml_response

log = structlog.get_logger("ivr.sms")


def _empty(request: web.Request | None = None) -> web.Response:
    """Messaging TwiML that sends nothing: what Twilio gets on success and on failure."""
    return twiml_response(str(MessagingResponse()))


async def message_status(request: web.Request) -> web.Response:
    """Twilio's delivery report for a message the service sent (an SMS code, later)."""
    event = MessageStatusEvent.parse(await request.post())
    log.info("sms_status", status=event.status, error_code=event.error_code)
    return _empty()


def create_messaging_app() -> web.Application:
    """The messaging webhooks: signed by Twilio, an empty `<Response/>` on any failure."""
    app = twilio_app(_empty)
    app.router.add_post("/status", message_status, name="sms.status")
    return app
