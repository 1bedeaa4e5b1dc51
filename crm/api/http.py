"""Reading an API call (JSON body, path ids, query) and writing its answer."""

from __future__ import annotations

import json
from enum import Enum
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel

from crm.api.errors import BadRequest
from crm.api.schemas import MAX_ID
from crm.errors import Invalid, NotFound
from crm.i18n import gettext as _
from crm.pagination import MAX_PAGE, MAX_PER_PAGE, PER_PAGE
from crm.schemas import storable

V1 = "/v1"
"""The version of every route; the API's sub-application is mounted at /api."""

E = TypeVar("E", bound=Enum)
# Past this, OFFSET would overflow a 64-bit integer long before any list is that long.
MAX_QUERY = 200


def _unstorable_field(data: Any) -> str | None:
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str) and not storable(value):
            return path or "body"
        if isinstance(value, dict):
            for key, item in value.items():
                if not storable(key):
                    return path or "body"
                stack.append((f"{path}.{key}" if path else key, item))
        elif isinstance(value, list):
            stack.extend(
                (f"{path}.{index}" if path else str(index), item)
                for index, item in enumerate(value)
            )
    return None


async def json_body(request: web.Request) -> Any:
    """The decoded JSON body; BadRequest naming `body` when it is empty or not JSON."""
    raw = await request.read()
    if not raw.strip():
        raise BadRequest({"body": _("send a JSON object")})
    try:
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):
        raise BadRequest({"body": _("this is not valid JSON")}) from None
    field = _unstorable_field(data)
    if field is not None:
        raise Invalid.one(
            field, _("contains characters that cannot be stored (NUL or broken Unicode)")
        )
    return data


def path_id(request: web.Request, name: str) -> int:
    """A numeric id from the path (the route allows digits only); too large is not found."""
    value = int(request.match_info[name])
    if not 0 < value <= MAX_ID:
        raise NotFound(f"{name} {value}")
    return value


def query_text(request: web.Request, name: str) -> str | None:
    """A text query parameter (None when blank); Invalid naming it when unusable."""
    value = request.query.get(name)
    if value is None or not value.strip():
        return None
    if len(value) > MAX_QUERY or not storable(value):
        raise Invalid.one(
            name, _("use at most %(count)d ordinary characters") % {"count": MAX_QUERY}
        )
    return value


def query_enum(request: web.Request, name: str, enum: type[E]) -> E | None:
    """A query parameter that must be one of `enum`'s values (None when absent; blank is
    not one of them)."""
    if name not in request.query:
        return None
    value = request.query[name]
    try:
        return enum(value)
    except ValueError:
        choices = ", ".join(member.value for member in enum)
        raise Invalid.one(name, _("use one of: %(choices)s") % {"choices": choices}) from None


def query_choice(request: web.Request, name: str, choices: list[str]) -> str | None:
    """A query parameter that must be one of `choices` (None when absent)."""
    if name not in request.query:
        return None
    value = request.query[name]
    if value not in choices:
        allowed = ", ".join(choices)
        raise Invalid.one(name, _("use one of: %(choices)s") % {"choices": allowed})
    return value


def query_bool(request: web.Request, name: str) -> bool | None:
    """`true` or `false` (None when absent); Invalid naming it for anything else."""
    value = request.query.get(name)
    if value is None:
        return None
    if value not in ("true", "false"):
        raise Invalid.one(name, _("use true or false"))
    return value == "true"


def query_int(request: web.Request, name: str, *, default: int, low: int, high: int) -> int:
    """A whole-number query parameter from `low` to `high` (`default` when absent).

    Invalid naming it for anything else: the API says what it refused instead of guessing.
    """
    value = request.query.get(name)
    if value is None:
        return default
    number = int(value) if value.isascii() and value.isdigit() and len(value) <= 18 else None
    if number is None or not low <= number <= high:
        raise Invalid.one(
            name, _("use a whole number from %(low)d to %(high)d") % {"low": low, "high": high}
        )
    return number


def page_args(request: web.Request) -> dict[str, int]:
    """`page` and `per_page` from the query; Invalid naming each one out of range."""
    args: dict[str, int] = {}
    errors: dict[str, str] = {}
    for name, default, high in (("page", 1, MAX_PAGE), ("per_page", PER_PAGE, MAX_PER_PAGE)):
        try:
            args[name] = query_int(request, name, default=default, low=1, high=high)
        except Invalid as invalid:
            errors.update(invalid.errors)
    if errors:
        raise Invalid(errors)
    return args


def respond(model: BaseModel, *, status: int = 200, location: str | None = None) -> web.Response:
    """The model as the JSON answer."""
    headers = {"Location": location} if location else None
    return web.json_response(text=model.model_dump_json(), status=status, headers=headers)
