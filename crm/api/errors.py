"""Every answer under /api/ that is not a success: one JSON shape, naming the field at fault."""

from __future__ import annotations

import structlog
from aiohttp import web
from sqlalchemy.exc import IntegrityError

from crm.dadata import DadataUnavailable
from crm.errors import Conflict, Forbidden, Invalid, NotFound
from crm.i18n import gettext as _
from crm.recordings.twilio import TwilioUnavailable
from crm.signup.errors import CodeGone, NotDelivered, Suspended, Throttled, WrongCode
from ivr.logging import Handler

log = structlog.get_logger("crm.api")
CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    410: "gone",
    413: "too_large",
    414: "uri_too_long",
    422: "invalid",
    429: "too_many_requests",
    502: "sms_not_sent",
    503: "suspended",
}
MAX_URL = 8 * 1024
"""The longest request target (path and query) a call may have, in bytes.

aiohttp's own parser refuses a request line over `max_line_size` (8190 bytes unless the
server is given more) before any route or middleware, in plain text; below that, this is
the limit, answered in JSON."""
REALM = 'Bearer realm="api"'


class BadRequest(Exception):
    """The request itself is unreadable (400); `fields` names the part, usually `body`."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("; ".join(f"{name}: {text}" for name, text in fields.items()))
        self.fields = fields


class Unauthorized(Exception):
    """No usable bearer key (401); `invalid` when a key was given but is unknown or revoked."""

    def __init__(self, message: str, *, invalid: bool) -> None:
        super().__init__(message)
        self.invalid = invalid


def error_response(
    status: int,
    message: str,
    fields: dict[str, str] | None = None,
    *,
    headers: dict[str, str] | None = None,
    retry_after: int | None = None,
    code: str | None = None,
    **extra: int,
) -> web.Response:
    """The one JSON shape of every API error."""
    error: dict[str, object] = {
        "code": code or CODES.get(status, "server_error" if status >= 500 else "error"),
        "message": message,
        "fields": fields or {},
        **extra,
    }
    if retry_after is not None:
        error["retry_after"] = retry_after
        headers = {**(headers or {}), "Retry-After": str(retry_after)}
    return web.json_response({"error": error}, status=status, headers=headers)


def _from_http(error: web.HTTPException) -> web.Response:
    headers = {
        name: error.headers[name] for name in ("Allow", "WWW-Authenticate") if name in error.headers
    }
    messages = {
        404: _("there is no such API route"),
        405: _("this route does not take that method"),
        413: _("the body is too large"),
    }
    message = messages.get(error.status, error.reason)
    return error_response(error.status, message, headers=headers)


@web.middleware
async def api_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Domain and HTTP errors of an API call become JSON; nothing escapes as an HTML page."""
    if len(request.raw_path) > MAX_URL:
        return error_response(
            414,
            _("the URL is longer than %(size)d bytes") % {"size": MAX_URL},
            {"url": _("send a shorter URL")},
        )
    try:
        return await handler(request)
    except WrongCode as error:
        return error_response(
            422, _("the code is wrong"), error.errors, attempts_left=error.attempts_left
        )
    except CodeGone as error:
        return error_response(410, str(error), {error.field: str(error)})
    except Throttled as error:
        return error_response(429, str(error), retry_after=error.retry_after)
    except Suspended as error:
        return error_response(503, str(error), retry_after=error.retry_after)
    except NotDelivered as error:
        return error_response(502, str(error))
    except DadataUnavailable as error:
        return error_response(503, error.message, code="dadata_unavailable")
    except TwilioUnavailable:
        return error_response(
            502,
            _("Twilio could not be reached for the recording; nothing was changed: try again"),
            code="twilio_unavailable",
        )
    except Conflict as error:
        return error_response(409, _("the value is already taken"), error.errors)
    except Invalid as error:
        return error_response(422, _("check the fields named in `fields`"), error.errors)
    except BadRequest as error:
        return error_response(400, _("the request could not be read"), error.fields)
    except Unauthorized as error:
        challenge = REALM + (', error="invalid_token"' if error.invalid else "")
        return error_response(401, str(error), headers={"WWW-Authenticate": challenge})
    except Forbidden as error:
        return error_response(403, _("your role may not do this: %(reason)s") % {"reason": error})
    except NotFound:
        return error_response(404, _("there is nothing here, or it is not yours"))
    except web.HTTPException as error:
        if error.status < 400:
            raise
        return _from_http(error)
    except IntegrityError:
        log.warning("api_conflict", method=request.method, path=request.path)
        return error_response(409, _("the same record changed at the same moment: send again"))
    except Exception:
        log.exception("api_failed", method=request.method, path=request.path)
        return error_response(500, _("something went wrong on our side; it has been logged"))
