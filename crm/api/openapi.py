"""The OpenAPI document, built from the routes and the same pydantic models the handlers use."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from crm.api.schemas import MAX_ID, ErrorOut
from crm.pagination import MAX_PAGE, MAX_PER_PAGE, PER_PAGE

REF = "#/components/schemas/{model}"
ABOUT = """\
The JSON API of the masked-call CRM, for a platform site that files requests for its agents.

**Keys.** Every call but this document, the three sign-up calls and
`POST /api/v1/password/forgot` needs `Authorization: Bearer <key>`. An admin issues a
key for a user (`POST /api/v1/api-keys`); the key acts as that user, with that user's role.
A missing, unknown or revoked key answers 401 with `WWW-Authenticate: Bearer`.

**Roles**, exactly as on the web pages:

- *agent*: its own clients and requests only. Anyone else's client or request answers 404,
  as if it did not exist. An agent may list the partner companies, to file requests for them.
- *admin*: everything, including partner companies, their managers and API keys.
- *manager* (a partner company's): only `GET /api/v1/partner/requests`, the company's open
  requests with the client's first name and city, never the phone, email, street or house.
  Every other call answers 403.

**Errors** are `{"error": {"code", "message", "fields"}}`; `fields` maps each offending field
(`body` for an unreadable body) to what is wrong with it. 400: the body is not JSON;
409: a unique value is taken; 422: a field's value is wrong.

**Lists** take `page` (1-1,000,000) and `per_page` (1-100); a value outside those or not a
whole number answers 422 naming it. They answer `{items, page, per_page, total, pages}`.

**Sign-up** (`/api/v1/signup/…`, no key): a site's own form for agents. `code` sends a code
by SMS, `verify` trades the right code for a single-use `signup_token`, `complete` opens the
account. Limits answer 429 with `Retry-After`; while the service-wide maximum holds, 503.

A URL longer than 8 KiB answers 414.
"""
PATH_PARAMS: dict[str, dict[str, Any]] = {
    "client_id": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
    "organization_id": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
    "key_id": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
    "rule_id": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
    "lockout_id": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
    "manager_id": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
    "agent_id": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
    "user_id": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
    "recording_id": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
    "payer_id": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
    "address_id": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
    "number": {
        "type": "string",
        "pattern": "^[0-9]+$",
        "description": "The request's 8-digit keypad number.",
    },
}

DOCUMENT = web.AppKey("openapi_document", str)
"""The document as JSON text, built once at start-up when every route is in place."""


@dataclass(frozen=True)
class Param:
    name: str
    schema: dict[str, Any]
    description: str


PAGING = (
    Param(
        "page",
        {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1},
        "Page number, from 1.",
    ),
    Param(
        "per_page",
        {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE, "default": PER_PAGE},
        "Items per page.",
    ),
)


def sort_param(values: list[str], default: str) -> Param:
    """The `sort` query parameter of a list: a column, or `-column` for the reverse."""
    return Param(
        "sort",
        {"type": "string", "enum": values, "default": default},
        "The column to sort by, `-` first for descending order; ties are broken by id. "
        "Another value answers 422 naming `sort`.",
    )


@dataclass(frozen=True)
class Operation:
    """What a handler takes and answers, for the document."""

    summary: str
    tag: str
    answer: type[BaseModel] | None
    description: str = ""
    status: int = 200
    body: type[BaseModel] | None = None
    query: tuple[Param, ...] = ()
    errors: tuple[int, ...] = ()
    location: bool = False
    public: bool = False
    media: str | None = None
    """The answer's content type when it is not JSON (audio, say): a binary body."""


def operation(
    summary: str, *, tag: str, answer: type[BaseModel] | None, **details: Any
) -> Callable[[Callable], Callable]:
    """Describe a handler for the OpenAPI document (the handler itself is unchanged)."""

    def describe(handler: Callable) -> Callable:
        handler.api_operation = Operation(summary, tag, answer, **details)  # type: ignore
        return handler

    return describe


def _api_routes(app: web.Application) -> Iterator[tuple[web.AbstractRoute, str, Operation]]:
    """Each described route with its path (the sub-application's prefix included)."""
    for route in app.router.routes():
        if (route.name or "").startswith("api.") and route.method != "HEAD" and route.resource:
            described: Operation = route.handler.api_operation  # type: ignore[attr-defined]
            yield route, route.resource.canonical, described


def _path_params(path: str) -> list[dict[str, Any]]:
    names = [part[1:-1] for part in path.split("/") if part.startswith("{")]
    return [
        {"name": name, "in": "path", "required": True, "schema": PATH_PARAMS[name]}
        for name in names
    ]


_WHY = {
    400: "The body is not JSON (`fields.body`).",
    401: "No key, or an unknown or revoked one.",
    403: "The key's role may not do this.",
    404: "Missing, or not this key's user's to see.",
    409: "A unique value is taken (`fields` names it).",
    410: "The code or token can no longer be used: start again.",
    413: "The body is too large.",
    414: "The URL is longer than 8 KiB (`fields.url`).",
    422: "A value is wrong (`fields` names each one).",
    429: "A limit was reached; `Retry-After` says when to try again.",
    502: "An outside service did not answer as it should (the SMS provider: nothing was "
    "counted; Twilio, for a recording: nothing was changed).",
    503: "Not now: sign-up is suspended for everyone (`Retry-After` says for how long), or "
    "an outside service (DaData) did not answer; `code` says which.",
}


def _responses(op: Operation, path: str, refs: dict) -> dict[str, Any]:
    ok: dict[str, Any] = {"description": op.summary}
    if op.media:
        ok["content"] = {op.media: {"schema": {"type": "string", "format": "binary"}}}
    elif op.status != 204:
        content = refs[(op.answer, "serialization")] if op.answer else {"type": "object"}
        ok["content"] = {"application/json": {"schema": content}}
    if op.location:
        ok["headers"] = {
            "Location": {"description": "Where the new record lives.", "schema": {"type": "string"}}
        }
    responses = {str(op.status): ok}
    codes = set(op.errors)
    if not op.public:
        codes |= {401, 403, 414}
    if op.query:
        codes.add(422)
    if "{" in path:
        codes.add(404)
    if op.body:
        codes |= {400, 413, 422}
    error = {"application/json": {"schema": refs[(ErrorOut, "serialization")]}}
    for code in sorted(codes):
        responses[str(code)] = {"description": _WHY[code], "content": error}
    if 401 in codes:
        responses["401"]["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}}}
    for code in {429, 503} & codes:
        responses[str(code)]["headers"] = {
            "Retry-After": {
                "description": "Seconds to wait (a limit or a suspension; not when an outside "
                "service did not answer).",
                "schema": {"type": "integer"},
            }
        }
    return responses


def _operation(op: Operation, route: web.AbstractRoute, path: str, refs: dict) -> dict[str, Any]:
    params = _path_params(path) + [
        {
            "name": p.name,
            "in": "query",
            "required": False,
            "schema": p.schema,
            "description": p.description,
        }
        for p in op.query
    ]
    document: dict[str, Any] = {
        "operationId": route.name,
        "summary": op.summary,
        "tags": [op.tag],
        "responses": _responses(op, path, refs),
    }
    if op.description:
        document["description"] = op.description
    if params:
        document["parameters"] = params
    if op.body:
        document["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": refs[(op.body, "validation")]}},
        }
    if op.public:
        document["security"] = []
    return document


def build_document(app: web.Application) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every `api.*` route of `app`."""
    routes = list(_api_routes(app))
    wanted: set[tuple[type[BaseModel], JsonSchemaMode]] = {(ErrorOut, "serialization")}
    for _, _, op in routes:
        if op.answer:
            wanted.add((op.answer, "serialization"))
        if op.body:
            wanted.add((op.body, "validation"))
    refs, definitions = models_json_schema(
        sorted(wanted, key=lambda pair: pair[0].__name__), ref_template=REF
    )
    paths: dict[str, dict[str, Any]] = {}
    for route, path, op in routes:
        paths.setdefault(path, {})[route.method.lower()] = _operation(op, route, path, refs)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Masked-call CRM API", "version": "1", "description": ABOUT},
        "paths": paths,
        "components": {
            "schemas": definitions.get("$defs", {}),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "An API key."}
            },
        },
        "security": [{"bearer": []}],
    }


@operation("This document", tag="meta", answer=None, public=True)
async def openapi_json(request: web.Request) -> web.Response:
    return web.Response(text=request.app[DOCUMENT], content_type="application/json")


async def build_on_startup(app: web.Application) -> None:
    app[DOCUMENT] = json.dumps(build_document(app))
