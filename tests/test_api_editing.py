"""Editing through the API: PATCH a partner company, a manager, an agent or a login, and add a
manager's phone. Partial bodies change only the fields given, answers are the GETs' shapes,
each edit is audited with who and the old and new values, and only admins may."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from crm.audit import AuditEntry
from crm.auth.models import User
from crm.models import Agent, Manager, Organization
from ivr.simulator import ScriptedCaller
from tests.api_helpers import ADMIN, AGENT, MANAGER, Api, Reply
from tests.helpers import ANNA, ANNA_SECOND_PHONE, BORIS, prompt_keys

pytest_plugins = ("tests.api_fixtures",)

NEW_PHONE = "+79990000041"


async def one(sessions, column, *where):
    async with sessions() as session:
        return await session.scalar(select(column).where(*where))


async def polis_id(sessions) -> int:
    return await one(sessions, Organization.id, Organization.name == "Polis Insurance")


async def anna_id(sessions) -> int:
    return await one(sessions, Manager.id, Manager.name == "Anna Sokolova")


async def agent_id(sessions) -> int:
    return await one(sessions, Agent.id, Agent.email == AGENT)


async def user_id(sessions, email: str) -> int:
    return await one(sessions, User.id, User.email == email)


async def anna_id_of(sessions) -> int:
    """Anna's manager id by her login, whatever her name is now."""
    return await one(sessions, User.manager_id, User.email == MANAGER)


async def edits(sessions, entity: str) -> list[tuple[str, str, str, dict]]:
    """(actor, action, entity id, details) of each edit of `entity`, oldest first."""
    async with sessions() as session:
        rows = await session.scalars(
            select(AuditEntry)
            .where(AuditEntry.entity == entity, AuditEntry.action.in_(["update", "add_phone"]))
            .order_by(AuditEntry.id)
        )
        return [(r.actor, r.action, r.entity_id or "", json.loads(r.details)) for r in rows]


async def patch(api: Api, path: str, body: object) -> Reply:
    return await api.call("PATCH", path, json=body)


async def test_a_company_patch_changes_the_fields_given_only(api_admin, sessions):
    organization_id = await polis_id(sessions)
    path = f"/api/v1/organizations/{organization_id}"
    before = (await api_admin.get(path)).json
    reply = await patch(api_admin, path, {"name": "Polis Group"})
    assert reply.status == 200, reply.text
    assert reply.json == {**before, "name": "Polis Group"}
    assert (await api_admin.get(path)).json == reply.json
    reply = await patch(api_admin, path, {"inn": " 7728168971 "})
    assert reply.json == {**before, "name": "Polis Group", "inn": "7728168971"}
    assert await edits(sessions, "organization") == [
        (
            ADMIN,
            "update",
            str(organization_id),
            {"name": {"from": "Polis Insurance", "to": "Polis Group"}},
        ),
        (
            ADMIN,
            "update",
            str(organization_id),
            {"inn": {"from": "7707083893", "to": "7728168971"}},
        ),
    ]
    same = await patch(api_admin, path, {"name": "Polis Group"})
    assert same.status == 200 and len(await edits(sessions, "organization")) == 2


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"inn": "7736207543"}, 409, "inn"),  # Sunny Tours'
        ({"inn": "7707083894"}, 422, "inn"),  # a wrong check digit
        ({"name": ""}, 422, "name"),
        ({"name": None}, 422, "name"),
        ({"is_active": False}, 422, "is_active"),
        ({"recording_policy": "on"}, 422, "recording_policy"),
        ({}, 422, "body"),
    ],
)
async def test_a_company_patch_refuses_naming_the_field(api_admin, sessions, body, status, field):
    path = f"/api/v1/organizations/{await polis_id(sessions)}"
    before = (await api_admin.get(path)).json
    reply = await patch(api_admin, path, body)
    assert (reply.status, list(reply.fields)) == (status, [field]), reply.text
    assert (await api_admin.get(path)).json == before
    assert await edits(sessions, "organization") == []


async def test_a_manager_patch_renames_them_and_their_login_and_leaves_access_alone(
    api_admin, sessions
):
    manager_id = await anna_id(sessions)
    await api_admin.post(f"/api/v1/managers/{manager_id}/deactivate")
    reply = await patch(api_admin, f"/api/v1/managers/{manager_id}", {"name": "Anna Petrova"})
    assert reply.status == 200, reply.text
    assert (reply.json["name"], reply.json["is_active"]) == ("Anna Petrova", False)
    assert reply.json["phones"] == [ANNA, ANNA_SECOND_PHONE]
    login = await one(sessions, User, User.manager_id == manager_id)
    assert (login.name, login.email) == ("Anna Petrova", MANAGER)
    email = await patch(
        api_admin, f"/api/v1/managers/{manager_id}", {"email": "Anna.P@Polis.example.com"}
    )
    assert email.json["is_active"] is False
    assert (
        await one(sessions, User.email, User.manager_id == manager_id) == "anna.p@polis.example.com"
    )
    assert await edits(sessions, "manager") == [
        (
            ADMIN,
            "update",
            str(manager_id),
            {"name": {"from": "Anna Sokolova", "to": "Anna Petrova"}},
        ),
        (
            ADMIN,
            "update",
            str(manager_id),
            {"email": {"from": MANAGER, "to": "anna.p@polis.example.com"}},
        ),
    ]


async def test_a_manager_patch_refuses_a_taken_email_and_an_email_without_a_login(
    api_admin, sessions
):
    anna, boris = (
        await anna_id(sessions),
        await one(sessions, Manager.id, Manager.name == "Boris Orlov"),
    )
    taken = await patch(api_admin, f"/api/v1/managers/{anna}", {"email": AGENT})
    assert (taken.status, list(taken.fields)) == (409, ["email"])
    none = await patch(api_admin, f"/api/v1/managers/{boris}", {"email": "boris@example.com"})
    assert (none.status, list(none.fields)) == (422, ["email"])
    wrong = await patch(api_admin, f"/api/v1/managers/{anna}", {"phones": [NEW_PHONE]})
    assert (wrong.status, list(wrong.fields)) == (422, ["phones"])
    assert await one(sessions, User.email, User.manager_id == anna) == MANAGER
    assert await edits(sessions, "manager") == []


async def test_an_added_phone_calls_in_as_the_manager_at_once(api_admin, sessions, simulator):
    manager_id = await anna_id(sessions)
    before = await simulator.call(ScriptedCaller([None]), from_number=NEW_PHONE)
    assert prompt_keys(before)[:1] == ["unknown_caller"]
    reply = await api_admin.post(
        f"/api/v1/managers/{manager_id}/phones", json={"phone": "8 999 000-00-41"}
    )
    assert reply.status == 201, reply.text
    assert reply.json["phones"] == [ANNA, ANNA_SECOND_PHONE, NEW_PHONE]
    after = await simulator.call(ScriptedCaller([None]), from_number=NEW_PHONE)
    assert prompt_keys(after)[:2] == ["rules", "enter_number"]
    assert await edits(sessions, "manager") == [
        (
            ADMIN,
            "add_phone",
            str(manager_id),
            {
                "phones": {
                    "from": [ANNA, ANNA_SECOND_PHONE],
                    "to": [ANNA, ANNA_SECOND_PHONE, NEW_PHONE],
                }
            },
        )
    ]


async def test_a_turned_off_phone_added_again_is_turned_on_not_doubled(
    api_admin, sessions, simulator
):
    manager_id = await anna_id(sessions)
    phones = f"/api/v1/managers/{manager_id}/phones"
    await api_admin.post(f"{phones}/deactivate", json={"phone": ANNA})
    again = await api_admin.post(phones, json={"phone": ANNA})
    assert again.status == 201, again.text
    assert (again.json["phones"], again.json["inactive_phones"]) == ([ANNA, ANNA_SECOND_PHONE], [])
    heard = await simulator.call(ScriptedCaller([None]), from_number=ANNA)
    assert prompt_keys(heard)[:2] == ["rules", "enter_number"]
    for phone in (ANNA, BORIS):  # already theirs and on; another manager's
        refused = await api_admin.post(phones, json={"phone": phone})
        assert (refused.status, list(refused.fields)) == (409, ["phone"]), phone
    bad = await api_admin.post(phones, json={"phone": "12"})
    assert (bad.status, list(bad.fields)) == (422, ["phone"])
    assert len(await edits(sessions, "manager")) == 1


async def test_a_deactivated_manager_given_a_phone_still_cannot_call(
    api_admin, sessions, simulator
):
    manager_id = await anna_id(sessions)
    await api_admin.post(f"/api/v1/managers/{manager_id}/deactivate")
    reply = await api_admin.post(f"/api/v1/managers/{manager_id}/phones", json={"phone": NEW_PHONE})
    assert (reply.status, reply.json["is_active"]) == (201, False)
    heard = await simulator.call(ScriptedCaller([None]), from_number=NEW_PHONE)
    assert prompt_keys(heard)[:1] == ["unknown_caller"]


async def test_an_agent_patch_changes_their_login_with_them(api_admin, apis, sessions):
    agent = await agent_id(sessions)
    reply = await patch(api_admin, f"/api/v1/agents/{agent}", {"email": "Dina@Example.com"})
    assert reply.status == 200, reply.text
    assert reply.json == {
        "id": agent,
        "name": "Demo Agent",
        "email": "dina@example.com",
        "is_active": True,
    }
    login = await one(sessions, User, User.agent_id == agent)
    assert (login.email, login.name, login.is_active) == ("dina@example.com", "Demo Agent", True)
    assert await edits(sessions, "agent") == [
        (ADMIN, "update", str(agent), {"email": {"from": AGENT, "to": "dina@example.com"}})
    ]
    key = await apis.as_user("dina@example.com")
    assert (await key.get("/api/v1/clients")).status == 200
    taken = await patch(api_admin, f"/api/v1/agents/{agent}", {"email": ADMIN})
    assert (taken.status, list(taken.fields)) == (409, ["email"])
    wrong = await patch(api_admin, f"/api/v1/agents/{agent}", {"email": "not-an-email"})
    assert (wrong.status, list(wrong.fields)) == (422, ["email"])
    unknown = await patch(api_admin, f"/api/v1/agents/{agent}", {"password": "new-password-1"})
    assert (unknown.status, list(unknown.fields)) == (422, ["password"])


async def test_a_user_patch_changes_any_login_but_never_its_role(api_admin, sessions):
    manager_login = await user_id(sessions, MANAGER)
    path = f"/api/v1/users/{manager_login}"
    reply = await patch(api_admin, path, {"name": "Anna P."})
    assert reply.status == 200, reply.text
    assert reply.json == {
        "id": manager_login,
        "email": MANAGER,
        "name": "Anna P.",
        "role": "manager",
        "is_active": True,
    }
    assert await one(sessions, Manager.name, Manager.id == await anna_id_of(sessions)) == "Anna P."
    role = await patch(api_admin, path, {"role": "admin"})
    assert (role.status, list(role.fields)) == (422, ["role"])
    assert await one(sessions, User.role, User.id == manager_login) == "manager"
    taken = await patch(api_admin, path, {"email": AGENT})
    assert (taken.status, list(taken.fields)) == (409, ["email"])
    admin_login = await user_id(sessions, ADMIN)
    own = await patch(api_admin, f"/api/v1/users/{admin_login}", {"email": "boss@example.com"})
    assert (own.status, own.json["email"]) == (200, "boss@example.com")
    assert await edits(sessions, "user") == [
        (ADMIN, "update", str(manager_login), {"name": {"from": "Anna Sokolova", "to": "Anna P."}}),
        (ADMIN, "update", str(admin_login), {"email": {"from": ADMIN, "to": "boss@example.com"}}),
    ]


async def test_only_admins_edit(api_agent, api_manager, sessions):
    organization, manager = await polis_id(sessions), await anna_id(sessions)
    agent, user = await agent_id(sessions), await user_id(sessions, AGENT)
    calls = [
        ("PATCH", f"/api/v1/organizations/{organization}", {"name": "Mine"}),
        ("PATCH", f"/api/v1/managers/{manager}", {"name": "Mine"}),
        ("POST", f"/api/v1/managers/{manager}/phones", {"phone": NEW_PHONE}),
        ("PATCH", f"/api/v1/agents/{agent}", {"name": "Mine"}),
        ("PATCH", f"/api/v1/users/{user}", {"name": "Mine"}),
    ]
    for api in (api_agent, api_manager):
        for method, path, body in calls:
            reply = await api.call(method, path, json=body)
            assert reply.status == 403, (method, path, reply.text)
    for entity in ("organization", "manager", "agent", "user"):
        assert await edits(sessions, entity) == []


async def test_missing_records_answer_404(api_admin):
    for method, path, body in [
        ("PATCH", "/api/v1/organizations/999999", {"name": "X"}),
        ("PATCH", "/api/v1/managers/999999", {"name": "X"}),
        ("POST", "/api/v1/managers/999999/phones", {"phone": NEW_PHONE}),
        ("PATCH", "/api/v1/agents/999999", {"name": "X"}),
        ("PATCH", "/api/v1/users/999999", {"name": "X"}),
    ]:
        reply = await api_admin.call(method, path, json=body)
        assert reply.status == 404, (path, reply.text)
