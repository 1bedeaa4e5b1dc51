"""Taking access away at once, and giving it back: a deactivated manager, phone or company
is an unknown caller from the next call on and cannot dial in a call in progress; logins
and keys of deactivated people stop working; the history stays; everything is audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from crm.audit import AuditEntry
from crm.auth.models import User
from crm.models import Agent, Manager, Organization
from ivr.app import create_app
from ivr.simulator import ScriptedCaller, new_sid
from tests.api_helpers import MANAGER
from tests.crm_client import AGENT
from tests.crm_client import MANAGER as MANAGER_LOGIN
from tests.helpers import (
    ANNA,
    ANNA_SECOND_PHONE,
    BORIS,
    open_polis,
    prompt_keys,
    signed_post,
    verbs,
)
from tests.signup_helpers import T0, Clock

pytest_plugins = ("tests.api_fixtures", "tests.crm_fixtures")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def server(aiohttp_server, config, engine, clock):
    return await aiohttp_server(create_app(config, clock=clock))


async def one_id(sessions, column, *where) -> int:
    async with sessions() as session:
        return await session.scalar(select(column).where(*where))


async def anna_id(sessions) -> int:
    return await one_id(sessions, Manager.id, Manager.name == "Anna Sokolova")


async def polis_id(sessions) -> int:
    return await one_id(sessions, Organization.id, Organization.name == "Polis Insurance")


async def greeting(simulator, phone: str) -> list[str]:
    record = await simulator.call(ScriptedCaller([None]), from_number=phone)
    return prompt_keys(record)[:2]


GREETED = ["rules", "enter_number"]


async def test_a_deactivated_manager_is_an_unknown_caller_until_reactivated(
    simulator, demo, sessions, api_admin, api_manager
):
    manager_id = await anna_id(sessions)
    assert (await api_manager.get("/api/v1/partner/requests")).status == 200
    off = await api_admin.post(f"/api/v1/managers/{manager_id}/deactivate")
    assert off.status == 200, off.text
    assert off.json["is_active"] is False
    for phone in (ANNA, ANNA_SECOND_PHONE):
        assert await greeting(simulator, phone) == ["unknown_caller"], phone
    assert await greeting(simulator, BORIS) == GREETED, "another company's manager still calls"
    assert (await api_manager.get("/api/v1/partner/requests")).status == 401

    on = await api_admin.post(f"/api/v1/managers/{manager_id}/reactivate")
    assert on.json["is_active"] is True
    assert await greeting(simulator, ANNA) == GREETED
    assert (await api_manager.get("/api/v1/partner/requests")).status == 200


async def test_a_deactivated_phone_alone_stops_calling(simulator, demo, sessions, api_admin):
    manager_id = await anna_id(sessions)
    path = f"/api/v1/managers/{manager_id}/phones"
    off = await api_admin.post(f"{path}/deactivate", json={"phone": ANNA})
    assert off.status == 200, off.text
    assert (off.json["inactive_phones"], off.json["is_active"]) == ([ANNA], True)
    assert await greeting(simulator, ANNA) == ["unknown_caller"]
    assert await greeting(simulator, ANNA_SECOND_PHONE) == GREETED
    russian = await api_admin.post(f"{path}/reactivate", json={"phone": "8 999 000-00-01"})
    assert (russian.status, russian.json["inactive_phones"]) == (200, [])
    await api_admin.post(f"{path}/deactivate", json={"phone": ANNA})
    listed = await api_admin.get(f"/api/v1/organizations/{await polis_id(sessions)}/managers")
    assert [m["inactive_phones"] for m in listed.json["items"]] == [[ANNA]]
    wrong = await api_admin.post(f"{path}/deactivate", json={"phone": BORIS})
    assert (wrong.status, list(wrong.fields)) == (422, ["phone"])
    await api_admin.post(f"{path}/reactivate", json={"phone": ANNA})
    assert await greeting(simulator, ANNA) == GREETED


async def test_a_deactivated_company_cuts_off_all_its_managers_and_its_new_requests(
    simulator, demo, sessions, api_admin, api_agent, api_manager, browser
):
    manager = await browser(MANAGER_LOGIN)
    idle = await browser(MANAGER_LOGIN)  # signed in, and makes no request until the end
    assert (await manager.get("/partner/requests")).status == 200
    organization_id = await polis_id(sessions)
    off = await api_admin.post(f"/api/v1/organizations/{organization_id}/deactivate")
    assert (off.status, off.json["is_active"]) == (200, False)
    for phone in (ANNA, ANNA_SECOND_PHONE):
        assert await greeting(simulator, phone) == ["unknown_caller"]
    assert (await api_manager.get("/api/v1/partner/requests")).status == 401
    signed_out = await manager.get("/partner/requests")
    assert signed_out.path.startswith("/login"), "signed out on the next request"
    client_id = (await api_agent.get("/api/v1/clients")).json["items"][0]["id"]
    refused = await api_agent.post(
        "/api/v1/requests",
        json={"client_id": client_id, "organization_id": organization_id, "product": "KASKO"},
    )
    assert (refused.status, refused.fields) == (
        422,
        {"organization_id": "this partner company is deactivated"},
    )
    assert (await api_agent.get(f"/api/v1/requests/{open_polis(demo)['number']}")).status == 200
    number = open_polis(demo)["number"]
    repeated = await api_agent.post(f"/api/v1/requests/{number}/repeat")
    assert (repeated.status, list(repeated.fields)) == (422, ["organization_id"])
    agent = await browser(AGENT)
    page = await agent.submit(f"/requests/{number}", {}, action=f"/requests/{number}/repeat")
    assert page.status == 400 and "this partner company is deactivated" in page.text

    await api_admin.post(f"/api/v1/organizations/{organization_id}/reactivate")
    assert await greeting(simulator, ANNA) == GREETED
    assert (await idle.get("/partner/requests")).path.startswith("/login"), (
        "a session ended by the deactivation stays ended"
    )
    again = await browser(MANAGER_LOGIN)
    assert (await again.get("/partner/requests")).status == 200


async def test_a_call_in_progress_cannot_dial_once_its_manager_is_deactivated(
    server, http, demo, sessions, api_admin
):
    url, number = str(server.make_url("")), open_polis(demo)["number"]
    manager_id = await anna_id(sessions)
    typing = new_sid()
    await signed_post(http, url, "/ivr/voice", {"CallSid": typing, "From": ANNA})
    redialing = new_sid()
    await signed_post(http, url, "/ivr/voice", {"CallSid": redialing, "From": ANNA})
    await signed_post(http, url, "/ivr/number", {"CallSid": redialing, "Digits": f"{number}#"})
    busy = {"CallSid": redialing, "DialCallStatus": "busy"}
    await signed_post(http, url, "/ivr/dial-result", busy)

    dialing = new_sid()
    await signed_post(http, url, "/ivr/voice", {"CallSid": dialing, "From": ANNA_SECOND_PHONE})
    await signed_post(http, url, "/ivr/number", {"CallSid": dialing, "Digits": f"{number}#"})

    await api_admin.post(f"/api/v1/managers/{manager_id}/deactivate")
    for path, params in (
        ("/ivr/number", {"CallSid": typing, "Digits": f"{number}#"}),
        ("/ivr/after-unreachable", {"CallSid": redialing, "Digits": "1"}),
        ("/ivr/number", {"CallSid": dialing, "Digits": f"{number}#"}),  # Twilio's retry
    ):
        _, _, body = await signed_post(http, url, path, params)
        assert "Dial" not in verbs(body), path
        assert "access_ended" in body, path
    leg = {"CallSid": new_sid(), "ParentCallSid": dialing}
    _, _, whisper = await signed_post(http, url, "/ivr/whisper", leg)
    assert verbs(whisper) == ["Hangup"], "the client is never put through"
    _, _, result = await signed_post(
        http, url, "/ivr/dial-result", {"CallSid": dialing, "DialCallStatus": "busy"}
    )
    assert "access_ended" in result and "Gather" not in verbs(result), "no press 1 to redial"


async def test_a_deactivated_agent_is_signed_out_and_their_keys_stop(
    demo, sessions, api_admin, api_agent, browser
):
    agent = await browser(AGENT)
    agent_id = await one_id(sessions, Agent.id, Agent.email == AGENT[0])
    off = await api_admin.post(f"/api/v1/agents/{agent_id}/deactivate")
    assert (off.status, off.json["is_active"]) == (200, False)
    assert (await agent.get("/requests")).path.startswith("/login")
    assert (await api_agent.get("/api/v1/requests")).status == 401
    refused = await (await browser()).login(*AGENT)
    assert refused.path.startswith("/login"), "a deactivated agent cannot sign in"
    await api_admin.post(f"/api/v1/agents/{agent_id}/reactivate")
    assert (await api_agent.get("/api/v1/requests")).status == 200


async def test_any_login_is_deactivated_but_an_admin_never_their_own(
    demo, sessions, api_admin, api_manager
):
    user_id = await one_id(sessions, User.id, User.email == MANAGER)
    off = await api_admin.post(f"/api/v1/users/{user_id}/deactivate")
    assert (off.status, off.json["is_active"], off.json["role"]) == (200, False, "manager")
    assert (await api_manager.get("/api/v1/partner/requests")).status == 401
    me = await one_id(sessions, User.id, User.email == "admin@example.com")
    own = await api_admin.post(f"/api/v1/users/{me}/deactivate")
    assert (own.status, list(own.fields)) == (422, ["user_id"])
    assert (await api_manager.post(f"/api/v1/users/{me}/deactivate")).status == 401
    await api_admin.post(f"/api/v1/users/{user_id}/reactivate")
    assert (await api_manager.get("/api/v1/partner/requests")).status == 200


async def test_only_admins_take_access_away(demo, sessions, api_agent, api_manager, simulator):
    manager_id, organization_id = await anna_id(sessions), await polis_id(sessions)
    agent_id = await one_id(sessions, Agent.id, Agent.email == AGENT[0])
    user_id = await one_id(sessions, User.id, User.email == MANAGER)
    paths = [
        (f"/api/v1/organizations/{organization_id}/deactivate", None),
        (f"/api/v1/managers/{manager_id}/deactivate", None),
        (f"/api/v1/managers/{manager_id}/phones/deactivate", {"phone": ANNA}),
        (f"/api/v1/agents/{agent_id}/deactivate", None),
        (f"/api/v1/users/{user_id}/deactivate", None),
    ]
    for who in (api_agent, api_manager):
        for path, body in paths:
            assert (await who.post(path, json=body)).status == 403, path
    assert await greeting(simulator, ANNA) == GREETED, "nothing was deactivated"
    assert (await api_agent.get("/api/v1/requests")).status == 200


async def test_the_last_active_admin_stays(demo, sessions, api_admin, apis):
    from crm.auth.service import create_user
    from crm.enums import Role
    from tests.api_helpers import account_actor

    me = await one_id(sessions, User.id, User.email == "admin@example.com")
    actor = await account_actor(sessions, "admin@example.com")
    async with sessions.begin() as session:
        second = await create_user(
            session,
            email="second-admin@example.com",
            name="Second Admin",
            password="second-admin-pass-2026",
            role=Role.ADMIN,
            now=T0,
            actor=actor,
        )
        second_id = second.id
    other = await apis.as_user("second-admin@example.com")
    assert (await other.post(f"/api/v1/users/{me}/deactivate")).status == 200
    last = await other.post(f"/api/v1/users/{second_id}/deactivate")
    assert (last.status, list(last.fields)) == (422, ["user_id"])


async def test_a_client_calling_back_a_deactivated_manager_is_told_politely(
    simulator, demo, sessions, api_admin
):
    polis = open_polis(demo)
    await simulator.call(ScriptedCaller([f"{polis['number']}#"]), from_number=ANNA)
    await api_admin.post(f"/api/v1/managers/{await anna_id(sessions)}/deactivate")
    record = await simulator.call(ScriptedCaller([]), from_number=polis["client_phone"])
    assert prompt_keys(record) == ["callback_nothing_open"]


async def test_every_change_is_audited(demo, sessions, api_admin, clock):
    manager_id = await anna_id(sessions)
    await api_admin.post(f"/api/v1/managers/{manager_id}/deactivate")
    await api_admin.post(f"/api/v1/managers/{manager_id}/deactivate")  # twice: once recorded
    clock.advance(60)
    await api_admin.post(f"/api/v1/managers/{manager_id}/reactivate")
    async with sessions() as session:
        entries = list(
            await session.scalars(
                select(AuditEntry)
                .where(
                    AuditEntry.entity == "manager",
                    AuditEntry.action.in_(("deactivate", "reactivate")),
                )
                .order_by(AuditEntry.id)
            )
        )
    assert [(e.action, e.entity_id, e.actor, e.at) for e in entries] == [
        ("deactivate", str(manager_id), "admin@example.com", T0),
        ("reactivate", str(manager_id), "admin@example.com", T0 + timedelta(seconds=60)),
    ]


async def test_the_admin_pages_take_access_away_and_give_it_back(simulator, demo, sessions, admin):
    organization_id, manager_id = await polis_id(sessions), await anna_id(sessions)
    page = f"/admin/organizations/{organization_id}"
    unticked = await admin.submit(page, {}, action=f"{page}/deactivate")
    assert "Tick" in unticked.text and await greeting(simulator, ANNA) == GREETED
    ticked = await admin.submit(page, {"confirm": "yes"}, action=f"{page}/deactivate")
    assert "is deactivated" in ticked.text and await greeting(simulator, ANNA) == ["unknown_caller"]
    await admin.submit(page, {}, action=f"{page}/reactivate")
    assert await greeting(simulator, ANNA) == GREETED

    await admin.submit(page, {}, action=f"/admin/managers/{manager_id}/deactivate")
    assert await greeting(simulator, ANNA_SECOND_PHONE) == ["unknown_caller"]
    await admin.submit(page, {}, action=f"/admin/managers/{manager_id}/reactivate")
    off = await admin.submit(
        page, {"phone": ANNA}, action=f"/admin/managers/{manager_id}/phones/deactivate"
    )
    assert "calls from it are unknown callers" in off.text
    assert await greeting(simulator, ANNA) == ["unknown_caller"]
    assert await greeting(simulator, ANNA_SECOND_PHONE) == GREETED

    agent_id = await one_id(sessions, Agent.id, Agent.email == AGENT[0])
    agents = await admin.submit("/admin/agents", {}, action=f"/admin/agents/{agent_id}/deactivate")
    assert "is deactivated and signed out" in agents.text and "Reactivate" in agents.text
