"""Editing on the admin's pages over real HTTP: a partner company, a manager and their
phones, an agent. Each edit changes only what it should, is audited with who and the old and
new values, keeps what was typed when refused, and is for admins only."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from crm.audit import AuditEntry
from crm.auth.models import User
from crm.enums import RecordingPolicy
from crm.models import Agent, Manager, ManagerPhone, Organization
from ivr.simulator import ScriptedCaller
from tests.crm_client import ADMIN, AGENT, MANAGER, has_text
from tests.helpers import ANNA, BORIS, prompt_keys

pytest_plugins = ("tests.crm_fixtures",)

NEW_PHONE = "+79990000031"


async def one(sessions, column, *where):
    async with sessions() as session:
        return await session.scalar(select(column).where(*where))


async def polis(sessions) -> Organization:
    return await one(sessions, Organization, Organization.name == "Polis Insurance")


async def anna(sessions) -> Manager:
    return await one(sessions, Manager, Manager.name == "Anna Sokolova")


async def updates(sessions, entity: str) -> list[AuditEntry]:
    async with sessions() as session:
        return list(
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.entity == entity, AuditEntry.action.in_(["update", "add_phone"]))
                .order_by(AuditEntry.id)
            )
        )


def audited_by_admin(entry: AuditEntry, entity_id: int) -> dict:
    """The entry's details, once it is known to be the demo admin's, just now, about the id."""
    assert entry.actor == ADMIN[0] and entry.user_id is not None
    assert entry.entity_id == str(entity_id)
    assert abs(datetime.now(UTC) - entry.at) < timedelta(minutes=1)
    return json.loads(entry.details)


def field_error(page: str, form: str, name: str) -> str:
    return html.unescape(re.search(rf'id="error-{form}-{name}">([^<]+)<', page).group(1))


async def test_a_company_edit_changes_its_name_and_inn_only(admin, sessions):
    before = await polis(sessions)
    page = f"/admin/organizations/{before.id}"
    reply = await admin.submit(
        page, {"name": "Polis Group", "inn": "7728168971"}, action=page + "/edit"
    )
    assert (reply.status, reply.path) == (200, page)
    assert has_text(reply.text, "Polis Group: changes saved.")
    after = await one(sessions, Organization, Organization.id == before.id)
    assert (after.name, after.inn) == ("Polis Group", "7728168971")
    assert (after.is_active, after.recording_policy, after.created_at) == (
        True,
        RecordingPolicy.OFF,
        before.created_at,
    )
    (entry,) = await updates(sessions, "organization")
    assert audited_by_admin(entry, before.id) == {
        "name": {"from": "Polis Insurance", "to": "Polis Group"},
        "inn": {"from": "7707083893", "to": "7728168971"},
    }


async def test_a_company_edit_refuses_a_taken_or_wrong_inn_keeping_what_was_typed(admin, sessions):
    organization = await polis(sessions)
    page = f"/admin/organizations/{organization.id}"
    for inn, message in (
        ("7736207543", "a company with this INN already exists"),  # Sunny Tours'
        ("7728168972", "this is not a valid INN"),  # a wrong check digit
    ):
        reply = await admin.submit(page, {"name": "Polis Group", "inn": inn}, action=page + "/edit")
        assert reply.status == 400
        assert message in field_error(reply.text, "organization", "inn")
        assert 'value="Polis Group"' in reply.text and f'value="{inn}"' in reply.text
        assert '<details id="edit" open>' in reply.text
    unchanged = await one(sessions, Organization, Organization.id == organization.id)
    assert (unchanged.name, unchanged.inn) == ("Polis Insurance", "7707083893")
    assert await updates(sessions, "organization") == []


async def test_a_manager_edit_renames_them_and_their_login_and_keeps_them_deactivated(
    admin, browser, sessions
):
    manager = await anna(sessions)
    page = f"/admin/organizations/{manager.organization_id}"
    off = await admin.submit(page, {}, action=f"/admin/managers/{manager.id}/deactivate")
    assert off.status == 200
    reply = await admin.submit(
        page,
        {"name": "Anna Petrova", "email": "Anna.Petrova@Polis.example.com"},
        action=f"/admin/managers/{manager.id}/edit",
    )
    assert (reply.status, reply.path) == (200, page)
    assert has_text(reply.text, "Anna Petrova: changes saved.")
    after = await one(sessions, Manager, Manager.id == manager.id)
    assert (after.name, after.is_active) == ("Anna Petrova", False)
    login = await one(sessions, User, User.manager_id == manager.id)
    assert (login.name, login.email, login.is_active) == (
        "Anna Petrova",
        "anna.petrova@polis.example.com",
        True,
    )
    (entry,) = await updates(sessions, "manager")
    assert audited_by_admin(entry, manager.id) == {
        "name": {"from": "Anna Sokolova", "to": "Anna Petrova"},
        "email": {"from": MANAGER[0], "to": "anna.petrova@polis.example.com"},
    }
    await admin.submit(page, {}, action=f"/admin/managers/{manager.id}/reactivate")
    renamed = await browser(("anna.petrova@polis.example.com", MANAGER[1]))
    assert (await renamed.get("/partner/requests")).status == 200


async def test_a_manager_edit_refuses_an_email_another_account_has(admin, sessions):
    manager = await anna(sessions)
    page = f"/admin/organizations/{manager.organization_id}"
    reply = await admin.submit(
        page,
        {"name": "Anna Petrova", "email": AGENT[0]},
        action=f"/admin/managers/{manager.id}/edit",
    )
    assert reply.status == 400
    form = f"manager-{manager.id}"
    assert field_error(reply.text, form, "email") == "an account with this email already exists"
    assert 'value="Anna Petrova"' in reply.text and f'value="{AGENT[0]}"' in reply.text
    assert (await one(sessions, Manager.name, Manager.id == manager.id)) == "Anna Sokolova"
    assert await updates(sessions, "manager") == []


async def test_an_added_phone_calls_in_as_the_manager_at_once(admin, sessions, simulator):
    manager = await anna(sessions)
    page = f"/admin/organizations/{manager.organization_id}"
    unknown = await simulator.call(ScriptedCaller([None]), from_number=NEW_PHONE)
    assert prompt_keys(unknown)[:1] == ["unknown_caller"]
    reply = await admin.submit(
        page, {"phone": "8 999 000-00-31"}, action=f"/admin/managers/{manager.id}/phones"
    )
    assert (reply.status, reply.path) == (200, page)
    assert has_text(reply.text, f"{NEW_PHONE} added to the numbers of Anna Sokolova.")
    known = await simulator.call(ScriptedCaller([None]), from_number=NEW_PHONE)
    assert prompt_keys(known)[:2] == ["rules", "enter_number"]
    (entry,) = await updates(sessions, "manager")
    assert audited_by_admin(entry, manager.id) == {
        "phones": {"from": [ANNA, "+79990000011"], "to": [ANNA, "+79990000011", NEW_PHONE]}
    }


async def test_adding_another_managers_phone_is_refused_beside_the_field(admin, sessions):
    manager = await anna(sessions)
    page = f"/admin/organizations/{manager.organization_id}"
    reply = await admin.submit(
        page, {"phone": BORIS}, action=f"/admin/managers/{manager.id}/phones"
    )
    assert reply.status == 400
    form = f"phone-{manager.id}"
    assert field_error(reply.text, form, "phone") == "this is another manager's number"
    assert f'value="{BORIS}"' in reply.text
    owner = await one(
        sessions, Manager.name, Manager.id == ManagerPhone.manager_id, ManagerPhone.phone == BORIS
    )
    assert owner == "Boris Orlov"
    assert await updates(sessions, "manager") == []


async def test_an_agent_edit_changes_their_name_and_login(admin, browser, sessions):
    agent = await one(sessions, Agent, Agent.email == AGENT[0])
    reply = await admin.submit(
        "/admin/agents",
        {"name": "Dina Agent", "email": "dina@example.com"},
        action=f"/admin/agents/{agent.id}/edit",
    )
    assert (reply.status, reply.path) == (200, "/admin/agents")
    assert has_text(reply.text, "Dina Agent: changes saved.")
    after = await one(sessions, Agent, Agent.id == agent.id)
    assert (after.name, after.email, after.is_active, after.phone) == (
        "Dina Agent",
        "dina@example.com",
        True,
        agent.phone,
    )
    (entry,) = await updates(sessions, "agent")
    assert audited_by_admin(entry, agent.id) == {
        "name": {"from": "Demo Agent", "to": "Dina Agent"},
        "email": {"from": AGENT[0], "to": "dina@example.com"},
    }
    renamed = await browser(("dina@example.com", AGENT[1]))
    assert (await renamed.get("/requests")).status == 200


async def test_an_agent_edit_refuses_a_taken_email_and_an_empty_name(admin, sessions):
    agent = await one(sessions, Agent, Agent.email == AGENT[0])
    reply = await admin.submit(
        "/admin/agents", {"name": "", "email": ADMIN[0]}, action=f"/admin/agents/{agent.id}/edit"
    )
    assert reply.status == 400
    form = f"agent-{agent.id}"
    assert field_error(reply.text, form, "name") == "fill this in"
    assert f'value="{ADMIN[0]}"' in reply.text
    reply = await admin.submit(
        "/admin/agents",
        {"name": "Dina", "email": ADMIN[0]},
        action=f"/admin/agents/{agent.id}/edit",
    )
    assert field_error(reply.text, form, "email") == "an account with this email already exists"
    assert (await one(sessions, Agent.email, Agent.id == agent.id)) == AGENT[0]
    assert await updates(sessions, "agent") == []


async def test_only_admins_edit(agent, manager, sessions):
    organization = await polis(sessions)
    managed = await anna(sessions)
    agent_id = await one(sessions, Agent.id, Agent.email == AGENT[0])
    posts = [
        (f"/admin/organizations/{organization.id}/edit", {"name": "Mine", "inn": "7728168971"}),
        (f"/admin/managers/{managed.id}/edit", {"name": "Mine"}),
        (f"/admin/managers/{managed.id}/phones", {"phone": NEW_PHONE}),
        (f"/admin/agents/{agent_id}/edit", {"name": "Mine"}),
    ]
    for browser, home in ((agent, "/requests"), (manager, "/partner/requests")):
        for path, data in posts:
            reply = await browser.submit(home, data, action=path)
            assert reply.status == 403, (path, reply.status)
    assert (await one(sessions, Organization.name, Organization.id == organization.id)) == (
        "Polis Insurance"
    )
    assert await one(sessions, ManagerPhone.id, ManagerPhone.phone == NEW_PHONE) is None
    for entity in ("organization", "manager", "agent"):
        assert await updates(sessions, entity) == []
