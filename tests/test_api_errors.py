"""API errors over real HTTP: always JSON, always naming the field or part at fault."""

from __future__ import annotations

import pytest

from crm.api.errors import MAX_URL
from ivr.app import create_app
from tests.api_helpers import AGENT, NEW_CLIENT, Apis, issue_key

pytest_plugins = ("tests.api_fixtures",)


@pytest.mark.parametrize("raw", [b"{not json", b"", b"   ", b"\xff\xfe{}", b"[" * 100_000])
async def test_unreadable_body_is_400_naming_body(api_agent, raw):
    reply = await api_agent.post(
        "/api/v1/clients", data=raw, headers={"Content-Type": "application/json"}
    )
    assert reply.status == 400
    assert reply.json["error"]["code"] == "bad_request"
    assert set(reply.fields) == {"body"}


@pytest.mark.parametrize("raw", [b'[{"first_name": "Olga"}]', b'"a client"', b"42", b"null"])
async def test_body_that_is_not_an_object_is_422_naming_body(api_agent, raw):
    reply = await api_agent.post("/api/v1/clients", data=raw)
    assert reply.status == 422
    assert set(reply.fields) == {"body"}


async def test_every_wrong_field_is_named_with_its_message(api_agent):
    reply = await api_agent.post(
        "/api/v1/clients",
        json={**NEW_CLIENT, "phone": "12345", "email": "nobody", "first_name": "", "nickname": "x"},
    )
    assert reply.status == 422
    assert reply.json["error"]["code"] == "invalid"
    assert reply.fields["phone"] == "this is not a valid phone number"
    assert reply.fields["email"] == "enter a valid email address"
    assert set(reply.fields) == {"phone", "email", "first_name", "nickname"}


@pytest.mark.parametrize("field", ["first_name", "city"])
async def test_nul_character_is_422_naming_the_field(api_agent, field):
    reply = await api_agent.post("/api/v1/clients", json={**NEW_CLIENT, field: "Ol\x00ga"})
    assert reply.status == 422
    assert set(reply.fields) == {field}


async def test_lone_surrogate_is_422_naming_the_field(api_agent):
    raw = b'{"first_name": "\\ud800", "last_name": "X", "phone": "+79123456789"}'
    reply = await api_agent.post("/api/v1/clients", data=raw)
    assert reply.status == 422
    assert set(reply.fields) == {"first_name"}


async def test_nul_in_search_is_422_naming_search(api_agent):
    reply = await api_agent.get("/api/v1/clients", params={"search": "Iv\x00an"})
    assert reply.status == 422
    assert set(reply.fields) == {"search"}


async def test_ids_beyond_any_column_are_422_not_a_crash(api_agent):
    reply = await api_agent.post(
        "/api/v1/requests", json={"client_id": 2**63, "organization_id": 2**40, "product": "OSAGO"}
    )
    assert reply.status == 422
    assert set(reply.fields) == {"client_id", "organization_id"}


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/nothing-here",
        "/api/v2/clients",
        "/api/",
        "/api/v1/clients/abc",
        "/api/v1/requests/12ab/close",
    ],
)
async def test_unknown_api_route_is_a_json_404(apis, api_agent, path):
    for caller in (api_agent, apis.with_key(None)):
        reply = await caller.get(path)
        assert reply.status == 404
        assert reply.headers["Content-Type"].startswith("application/json")
        assert reply.json["error"]["code"] == "not_found"


async def test_wrong_method_is_a_json_405_with_allow(api_agent):
    reply = await api_agent.call("DELETE", "/api/v1/clients")
    assert reply.status == 405
    assert reply.json["error"]["code"] == "method_not_allowed"
    assert "POST" in reply.headers["Allow"]


async def test_body_over_the_size_limit_is_a_json_413(api_agent):
    reply = await api_agent.post("/api/v1/clients", json={**NEW_CLIENT, "street": "x" * 300_000})
    assert reply.status == 413
    assert reply.json["error"]["code"] == "too_large"


async def test_page_errors_stay_html_outside_the_api(apis):
    reply = await apis.with_key(None).get("/no-such-page")
    assert reply.status == 404
    assert not reply.headers["Content-Type"].startswith("application/json")


async def test_a_url_over_8_kb_is_a_json_414(aiohttp_server, config, engine, demo, http, sessions):
    # The app lets such a line through to the API (its `handler_args`): aiohttp's parser
    # alone refuses a request line over 8 KiB in plain text, before any route is chosen.
    server = await aiohttp_server(create_app(config))
    api = Apis(server, http, sessions).with_key(await issue_key(sessions, AGENT))
    for path in ("/api/v1/clients?search=" + "x" * MAX_URL, "/api/v1/nothing/" + "x" * MAX_URL):
        reply = await api.get(path)
        assert reply.status == 414
        assert reply.headers["Content-Type"].startswith("application/json")
        assert reply.json["error"]["code"] == "uri_too_long" and set(reply.fields) == {"url"}
