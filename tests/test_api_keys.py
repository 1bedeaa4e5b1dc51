"""API keys over real HTTP: the bearer challenge, issuing, revoking, storing only a hash."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select, text

from crm.auth.models import User
from tests.api_helpers import AGENT, MANAGER, issue_key

pytest_plugins = ("tests.api_fixtures",)


async def user_id(sessions, email: str) -> int:
    async with sessions() as session:
        return await session.scalar(select(User.id).where(User.email == email))


async def test_missing_key_is_401_with_a_bearer_challenge(apis):
    reply = await apis.with_key(None).get("/api/v1/clients")
    assert reply.status == 401
    assert reply.headers["WWW-Authenticate"].startswith("Bearer")
    assert reply.headers["Content-Type"].startswith("application/json")
    assert reply.json["error"]["code"] == "unauthorized"


@pytest.mark.parametrize(
    "header",
    [
        "Bearer ivr_this-key-was-never-issued",
        "Bearer not-even-our-prefix",
        "Basic YWJjOmRlZg==",
        "Bearer",
        "Bearer ivr_ключ",
    ],
)
async def test_unknown_or_malformed_key_is_401(apis, header):
    reply = await apis.with_key(None).get("/api/v1/clients", headers={"Authorization": header})
    assert reply.status == 401
    assert reply.headers["WWW-Authenticate"].startswith("Bearer")
    assert reply.json["error"]["code"] == "unauthorized"


async def test_admin_issues_a_key_that_acts_as_its_user(apis, api_admin, sessions):
    reply = await api_admin.post(
        "/api/v1/api-keys",
        json={"user_id": await user_id(sessions, AGENT), "name": "platform site"},
    )
    assert reply.status == 201
    issued = reply.json
    assert issued["key"].startswith("ivr_") and issued["key"][:12] == issued["prefix"]
    assert issued["revoked_at"] is None
    listed = await apis.with_key(issued["key"]).get("/api/v1/clients")
    assert listed.status == 200 and listed.json["total"] == 2


async def test_key_is_stored_only_as_its_hash(apis, sessions):
    plain = await issue_key(sessions, AGENT)
    async with sessions() as session:
        rows = (await session.execute(text("SELECT * FROM api_keys"))).all()
    stored = " ".join(str(value) for row in rows for value in row)
    assert plain not in stored
    assert hashlib.sha256(plain.encode()).hexdigest() in stored


async def test_revoked_key_is_401_from_then_on(apis, api_admin):
    issued = (
        await api_admin.post(
            "/api/v1/api-keys",
            json={"user_id": await user_id(apis.sessions, AGENT), "name": "to revoke"},
        )
    ).json
    agent = apis.with_key(issued["key"])
    assert (await agent.get("/api/v1/requests")).status == 200
    revoked = await api_admin.post(f"/api/v1/api-keys/{issued['id']}/revoke")
    assert revoked.status == 200 and revoked.json["revoked_at"] is not None
    assert "key" not in revoked.json
    reply = await agent.get("/api/v1/requests")
    assert reply.status == 401
    assert 'error="invalid_token"' in reply.headers["WWW-Authenticate"]
    again = await api_admin.post(f"/api/v1/api-keys/{issued['id']}/revoke")
    assert again.status == 200 and again.json["revoked_at"] == revoked.json["revoked_at"]


async def test_only_admins_issue_or_revoke_keys(apis, api_agent, api_manager, sessions):
    body = {"user_id": await user_id(sessions, AGENT), "name": "self-service"}
    assert (await api_agent.post("/api/v1/api-keys", json=body)).status == 403
    assert (await api_manager.post("/api/v1/api-keys", json=body)).status == 403
    assert (await api_agent.post("/api/v1/api-keys/1/revoke")).status == 403


async def test_issuing_for_an_unknown_user_names_user_id(api_admin):
    reply = await api_admin.post("/api/v1/api-keys", json={"user_id": 999999, "name": "x"})
    assert reply.status == 422
    assert reply.fields == {"user_id": "no such user"}


async def test_issuing_without_a_name_names_name(api_admin, sessions):
    reply = await api_admin.post(
        "/api/v1/api-keys", json={"user_id": await user_id(sessions, MANAGER), "name": "  "}
    )
    assert reply.status == 422
    assert set(reply.fields) == {"name"}


async def test_revoking_an_unknown_key_is_404(api_admin):
    assert (await api_admin.post("/api/v1/api-keys/999999/revoke")).status == 404
    assert (await api_admin.post("/api/v1/api-keys/99999999999999/revoke")).status == 404


async def test_openapi_document_needs_no_key(apis):
    reply = await apis.with_key(None).get("/api/v1/openapi.json")
    assert reply.status == 200
    assert reply.json["openapi"].startswith("3.")
