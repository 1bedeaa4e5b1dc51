"""The OpenAPI document: complete, built from the pydantic models, and true to the server."""

from __future__ import annotations

import asyncio
import copy
import re
from collections.abc import Callable

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig
from schemathesis.errors import FailureGroup
from sqlalchemy import select

from crm.api.openapi import REF
from crm.api.schemas import ClientOut, ErrorOut, NewClient
from crm.enums import RecordingPolicy
from crm.models import Agent, Organization
from crm.partners.service import set_recording_policy
from ivr.simulator import ScriptedCaller
from tests.api_helpers import ADMIN, AGENT, MANAGER, NEW_CLIENT, account_actor, issue_key
from tests.conftest import AUTH_TOKEN, make_config
from tests.fake_dadata import KEY as DADATA_KEY
from tests.fake_twilio import ACCOUNT, FakeTwilio
from tests.helpers import ANNA, BORIS, open_polis, signed_post
from tests.logcapture import captured_logs, log_events
from tests.org_helpers import SBER, SBER_ACCOUNT, give_organization
from tests.signup_helpers import T0

pytest_plugins = ("tests.api_fixtures", "tests.dadata_fixtures")


@pytest.fixture
async def fake_twilio(aiohttp_server) -> FakeTwilio:
    fake = FakeTwilio(account_sid=ACCOUNT, auth_token=AUTH_TOKEN)
    server = await aiohttp_server(fake.app())
    fake.url = str(server.make_url("")).rstrip("/")
    return fake


ADDRESS = {"address": "Tula, Lenina 1", "contact_name": "Vera", "contact_phone": "+79160000008"}


@pytest.fixture
def config(database_url, fake_twilio, fake_dadata):
    twilio = {"auth_token": AUTH_TOKEN, "account_sid": ACCOUNT, "api_base_url": fake_twilio.url}
    dadata = {"base_url": fake_dadata.url, "api_key": DADATA_KEY, "timeout_seconds": 0.5}
    return make_config(database_url, twilio=twilio, dadata=dadata)


# `validate_response` with no list of checks runs every check schemathesis has that the
# config enables, and this config disables none.
ACCEPTED = ["2xx", "401", "403", "404", "409", "422"]
SETTINGS = SchemathesisConfig.from_dict(
    {
        "checks": {
            # A well-formed body can still break a rule JSON Schema cannot state: a phone
            # number of no numbering plan, an INN whose check digits are wrong, a client or
            # partner that is not the caller's. Those answer the documented 422 naming the
            # field; every other rejection of valid data still fails the check.
            "positive_data_acceptance": {"expected-statuses": ACCEPTED}
        },
        "operations": [
            {
                # Sign-up's limits answer good data 429 and 503 once reached, and a made-up
                # code or token 410: for those three operations only; "forgot your password"
                # is counted per client address, so fuzzing it reaches 429 too.
                "include-path-regex": "/signup/|/password/forgot",
                "checks": {
                    "positive_data_acceptance": {
                        "expected-statuses": [*ACCEPTED, "410", "429", "503"]
                    }
                },
            }
        ],
    }
)
EXAMPLES = 12
ROLES = {"agent": AGENT, "admin": ADMIN, "manager": MANAGER}


@pytest.fixture
async def document(apis) -> dict:
    reply = await apis.with_key(None).get("/api/v1/openapi.json")
    assert reply.status == 200
    return reply.json


def operations(document: dict):
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            yield method.upper(), path, operation


async def test_document_covers_every_api_route_of_the_server(server, document):
    routes = {
        (route.method, route.resource.canonical)
        for route in server.app.router.routes()
        if (route.name or "").startswith("api.") and route.method != "HEAD"
    }
    assert {(method, path) for method, path, _ in operations(document)} == routes
    assert len(routes) == 58 + 2 + 1 + 10 + 2  # + loyalty + refresh + payers/addresses + membership


async def test_every_keyed_operation_documents_its_errors(document):
    assert document["openapi"] == "3.1.0"
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key.",
    }
    public = set()
    for method, path, operation in operations(document):
        codes = set(operation["responses"])
        if operation.get("security") == []:
            public.add(path)
            assert not {"401", "403"} & codes, path
            if path.endswith("openapi.json"):
                assert codes == {"200"}
            else:
                assert {"400", "413", "422"} <= codes, path
            continue
        assert {"401", "403"} <= codes, (method, path)
        assert ("404" in codes) == ("{" in path), (method, path)
        assert ("requestBody" in operation) == ({"400", "422"} <= codes), (method, path)
        error = operation["responses"]["401"]["content"]["application/json"]["schema"]
        assert error == {"$ref": "#/components/schemas/ErrorOut"}
    assert public == {
        "/api/v1/openapi.json",
        "/api/v1/signup/code",
        "/api/v1/signup/verify",
        "/api/v1/signup/complete",
        "/api/v1/password/forgot",
    }


async def test_sign_up_documents_its_limits_and_retry_after(document):
    code = document["paths"]["/api/v1/signup/code"]["post"]["responses"]
    assert {"202", "409", "429", "502", "503"} <= set(code)
    for status in ("429", "503"):
        assert "Retry-After" in code[status]["headers"]
    verify = document["paths"]["/api/v1/signup/verify"]["post"]["responses"]
    assert {"200", "410", "422"} <= set(verify)


async def test_creations_document_201_with_location(document):
    created = {
        (method, path)
        for method, path, operation in operations(document)
        if "Location" in operation["responses"].get("201", {}).get("headers", {})
    }
    assert created == {
        ("POST", "/api/v1/clients"),
        ("POST", "/api/v1/requests"),
        ("POST", "/api/v1/requests/{number}/repeat"),
        ("POST", "/api/v1/organizations"),
        ("POST", "/api/v1/blacklist/rules"),
        ("POST", "/api/v1/requests/{number}/blacklist"),
        ("POST", "/api/v1/clients/{client_id}/blacklist"),
        ("POST", "/api/v1/organization/payers"),
        ("POST", "/api/v1/organization/addresses"),
    }


async def test_component_schemas_are_the_pydantic_models(document):
    schemas = document["components"]["schemas"]
    cases: list[tuple[type[BaseModel], JsonSchemaMode]] = [
        (NewClient, "validation"),
        (ClientOut, "serialization"),
        (ErrorOut, "serialization"),
    ]
    for model, mode in cases:
        expected = model.model_json_schema(ref_template=REF, mode=mode)
        expected.pop("$defs", None)
        assert schemas[model.__name__] == expected


async def test_parameters_and_bodies_are_documented(document):
    listing = document["paths"]["/api/v1/requests"]["get"]
    assert [p["name"] for p in listing["parameters"]] == [
        "status",
        "search",
        "suspicious",
        "sort",
        "page",
        "per_page",
    ]
    sort = listing["parameters"][3]["schema"]
    assert sort["default"] == "-created" and {"product", "-product"} <= set(sort["enum"])
    create = document["paths"]["/api/v1/clients"]["post"]["requestBody"]
    assert create["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/NewClient"
    }
    managers = document["paths"]["/api/v1/organizations/{organization_id}/managers"]["post"]
    assert "409" in managers["responses"]


def fuzz_one(
    operation, mode: GenerationMode, key: str, http: requests.Session, base_url: str
) -> None:
    """Call `operation` with generated data as the key's user; raise on the first failure."""

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        case=operation.as_strategy(generation_mode=mode, headers={"Authorization": f"Bearer {key}"})
    )
    def check(case) -> None:
        response = case.call(base_url=base_url, session=http)
        case.validate_response(response)

    check()


def fuzz(document: dict, base_url: str, fresh_key: Callable[[str], str]) -> list[str]:
    """Every operation, as every role, with valid and invalid data; the failures found."""
    schema = schemathesis.openapi.from_dict(document, config=SETTINGS)
    failures = []
    with requests.Session() as http:
        for result in schema.get_all_operations():
            operation = result.ok()
            for role in ROLES:
                # A fresh key per operation: fuzzing the revoke call may revoke the last one.
                key = fresh_key(role)
                for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                    try:
                        fuzz_one(operation, mode, key, http, base_url)
                    except Unsatisfiable:
                        assert mode is GenerationMode.NEGATIVE  # nothing there to make invalid
                    except (AssertionError, FailureGroup) as error:
                        failures.append(f"{operation.label} as {role} ({mode.value}): {error}")
    return failures


async def run_fuzz(server, sessions, document: dict) -> list[str]:
    loop = asyncio.get_running_loop()

    def fresh_key(role: str) -> str:
        return asyncio.run_coroutine_threadsafe(issue_key(sessions, ROLES[role]), loop).result()

    # Schemathesis sends with blocking `requests`: a thread keeps this loop free to serve them.
    return await asyncio.to_thread(fuzz, document, str(server.make_url("")).rstrip("/"), fresh_key)


async def test_fuzzed_calls_never_fail_and_match_the_document(server, document, sessions):
    # Not timed: on a slow machine the same fuzzing takes longer (speed is `make bench`'s).
    failures = await run_fuzz(server, sessions, document)
    assert not failures, "\n\n".join(failures)


def _undocumented_422(document: dict) -> dict:
    operation = copy.deepcopy(document["paths"]["/api/v1/clients"]["post"])
    del operation["responses"]["422"]
    return {"/api/v1/clients": {"post": operation}}


def _total_as_text(document: dict) -> dict:
    document["components"]["schemas"]["ClientPage"]["properties"]["total"] = {"type": "string"}
    return {"/api/v1/clients": {"get": document["paths"]["/api/v1/clients"]["get"]}}


@pytest.mark.parametrize("tamper", [_undocumented_422, _total_as_text])
async def test_fuzzing_catches_a_document_that_lies(server, document, sessions, tamper):
    lying = copy.deepcopy(document)
    lying["paths"] = tamper(lying)
    failures = await run_fuzz(server, sessions, lying)
    assert failures and all("/api/v1/clients" in failure for failure in failures)


def walk_access(
    call: Callable[..., dict], *, organization: dict, user_id: int, agent_id: int | None
) -> None:
    """Taking access away and giving it back, an admin's key each, with good data."""
    for verb in ("deactivate", "reactivate"):
        path = "/api/v1/organizations/{organization_id}/" + verb
        call("admin", "POST", path, 200, path_parameters=organization)
    managers = call(
        "admin",
        "GET",
        "/api/v1/organizations/{organization_id}/managers",
        200,
        path_parameters=organization,
    )
    manager = managers["items"][0]
    one = {"manager_id": manager["id"]}
    for verb in ("deactivate", "reactivate"):
        call("admin", "POST", "/api/v1/managers/{manager_id}/" + verb, 200, path_parameters=one)
        call(
            "admin",
            "POST",
            "/api/v1/managers/{manager_id}/phones/" + verb,
            200,
            path_parameters=one,
            body={"phone": manager["phones"][0]},
        )
    agent = {"agent_id": agent_id}
    for verb in ("deactivate", "reactivate"):
        call("admin", "POST", "/api/v1/agents/{agent_id}/" + verb, 200, path_parameters=agent)
        path = "/api/v1/users/{user_id}/" + verb
        call("admin", "POST", path, 200, path_parameters={"user_id": user_id})


def walk_editing(
    call: Callable[..., dict], *, organization: dict, user_id: int, agent_id: int | None
) -> None:
    """Editing a company, a manager and their phones, an agent and a login, an admin's key each."""
    path = "/api/v1/organizations/{organization_id}"
    body = {"name": "Volga Leasing Group"}
    call("admin", "PATCH", path, 200, path_parameters=organization, body=body)
    managers = "/api/v1/organizations/{organization_id}/managers"
    listed = call("admin", "GET", managers, 200, path_parameters=organization)
    manager = {"manager_id": listed["items"][0]["id"]}
    body = {"name": "Vera Lisova"}
    call("admin", "PATCH", "/api/v1/managers/{manager_id}", 200, path_parameters=manager, body=body)
    path, body = "/api/v1/managers/{manager_id}/phones", {"phone": "+79160000008"}
    call("admin", "POST", path, 201, path_parameters=manager, body=body)
    agent, body = {"agent_id": agent_id}, {"name": "Demo Agent"}
    call("admin", "PATCH", "/api/v1/agents/{agent_id}", 200, path_parameters=agent, body=body)
    user, body = {"user_id": user_id}, {"name": "Anna Sokolova"}
    call("admin", "PATCH", "/api/v1/users/{user_id}", 200, path_parameters=user, body=body)


def walk_loyalty(call: Callable[..., dict]) -> None:
    """Loyalty standings: the agent's organization's, and every one's for an admin."""
    call("agent", "GET", "/api/v1/organization/loyalty", 200, query={"per_page": 5})
    call("admin", "GET", "/api/v1/loyalty", 200)


def walk_organizations_by_inn(call: Callable[..., dict]) -> None:
    """A sole proprietor found by INN through the fake DaData, then refreshed."""
    found = call("admin", "POST", "/api/v1/organizations", 201, body={"inn": "771234567859"})
    one = {"organization_id": found["id"]}
    path = "/api/v1/organizations/{organization_id}/refresh"
    call("admin", "POST", path, 200, path_parameters=one)


def walk_payers_and_addresses(call: Callable[..., dict], *, client_id: int) -> None:
    """The agent's organization's payer and address, named on a request its partner sees."""
    payers, addresses = "/api/v1/organization/payers", "/api/v1/organization/addresses"
    payer = call("agent", "POST", payers, 201, body={"bik": SBER, "account": SBER_ACCOUNT})
    address = call("agent", "POST", addresses, 201, body=ADDRESS)
    call("agent", "GET", payers, 200)
    call("agent", "GET", addresses, 200)
    mine = {"payer_id": payer["id"]}
    call("agent", "GET", payers + "/{payer_id}", 200, path_parameters=mine)
    call("agent", "PATCH", payers + "/{payer_id}", 200, path_parameters=mine, body={"kpp": ""})
    there = {"address_id": address["id"]}
    call("agent", "GET", addresses + "/{address_id}", 200, path_parameters=there)
    body = {"comment": "Ring twice"}
    call("agent", "PATCH", addresses + "/{address_id}", 200, path_parameters=there, body=body)
    partners = call("agent", "GET", "/api/v1/organizations", 200, query={"per_page": 100})
    polis = next(item["id"] for item in partners["items"] if item["name"] == "Polis Insurance")
    request = {
        "client_id": client_id,
        "organization_id": polis,
        "product": "Fleet CASCO",
        "payer_id": payer["id"],
        "delivery_address_id": address["id"],
    }
    call("agent", "POST", "/api/v1/requests", 201, body=request)
    call("manager", "GET", "/api/v1/partner/requests", 200, query={"per_page": 100})
    call("agent", "DELETE", payers + "/{payer_id}", 204, path_parameters=mine)
    call("agent", "DELETE", addresses + "/{address_id}", 204, path_parameters=there)


def walk_membership(call: Callable[..., dict], *, waiting: tuple[int, ...]) -> None:
    """Two agents waiting in the demo agent's organization: an admin confirms one, the demo
    agent (a member) refuses the other."""
    first, second = waiting
    path = "/api/v1/agents/{agent_id}/organization/"
    call("admin", "POST", path + "confirm", 200, path_parameters={"agent_id": first})
    call("agent", "POST", path + "refuse", 200, path_parameters={"agent_id": second})


def walk_the_blacklist(call: Callable[..., dict], *, client_id: int, number: str) -> None:
    """The blacklist's operations, an admin's key each, with good data."""
    rule = call("admin", "POST", "/api/v1/blacklist/rules", 201, body={"city": "Tula"})
    one = {"rule_id": rule["id"]}
    call("admin", "GET", "/api/v1/blacklist/rules", 200, query={"search": "tula"})
    call("admin", "GET", "/api/v1/blacklist/rules/{rule_id}", 200, path_parameters=one)
    body = {"city": "Tula", "note": "seen twice"}
    call("admin", "PUT", "/api/v1/blacklist/rules/{rule_id}", 200, path_parameters=one, body=body)
    call("admin", "POST", "/api/v1/blacklist/rules/dry-run", 200, body={"city": "Tula"})
    call("admin", "POST", "/api/v1/blacklist/check", 200, body={"numbers": [number]})
    settings = {"copy_fields": ["email", "phone"]}
    call("admin", "PUT", "/api/v1/blacklist/settings", 200, body=settings)
    call("admin", "GET", "/api/v1/blacklist/settings", 200)
    mine = {"number": number}
    call("admin", "POST", "/api/v1/requests/{number}/blacklist", 201, path_parameters=mine)
    client = {"client_id": client_id}
    call("admin", "POST", "/api/v1/clients/{client_id}/blacklist", 201, path_parameters=client)
    call("admin", "DELETE", "/api/v1/blacklist/rules/{rule_id}", 204, path_parameters=one)


def operation_media(schema, path: str, method: str) -> str:
    """The content type the document gives the operation's success answer."""
    responses = schema[path][method].definition.raw["responses"]
    success = next(answer for code, answer in responses.items() if code.startswith("2"))
    return next(iter(success.get("content", {"": None})))


def walk_every_success(
    document: dict,
    base_url: str,
    keys: dict[str, str],
    number: str,
    user_id: int,
    sent_code: Callable[[], str],
    agent_id: int | None,
    waiting: tuple[int, ...] = (),
) -> list[tuple[str, int]]:
    """Each operation once with good data, each answer checked against the document."""
    schema = schemathesis.openapi.from_dict(document, config=SETTINGS)
    seen = []

    with requests.Session() as http:

        def call(role: str, method: str, path: str, expected: int, **parts) -> dict:
            case = schema[path][method].Case(
                headers={"Authorization": f"Bearer {keys[role]}"}, **parts
            )
            response = case.call(base_url=base_url, session=http)
            case.validate_response(response)
            assert response.status_code == expected, (method, path, response.text)
            seen.append((f"{method} {path}", response.status_code))
            if operation_media(schema, path, method) != "application/json":
                return {}  # audio, or no body
            return response.json()

        client = call("agent", "POST", "/api/v1/clients", 201, body=NEW_CLIENT)
        one = {"client_id": client["id"]}
        call("agent", "GET", "/api/v1/clients", 200, query={"search": "olga", "per_page": 5})
        call("agent", "GET", "/api/v1/clients/{client_id}", 200, path_parameters=one)
        call(
            "agent",
            "PUT",
            "/api/v1/clients/{client_id}",
            200,
            path_parameters=one,
            body={**NEW_CLIENT, "city": "Tula"},
        )
        partner = call(
            "admin",
            "POST",
            "/api/v1/organizations",
            201,
            body={"name": "Volga Leasing", "inn": "7728168971"},
        )
        org = {"organization_id": partner["id"]}
        call("agent", "GET", "/api/v1/organizations", 200)
        call("admin", "GET", "/api/v1/organizations/{organization_id}", 200, path_parameters=org)
        call(
            "admin",
            "POST",
            "/api/v1/organizations/{organization_id}/managers",
            201,
            path_parameters=org,
            body={"name": "Vera Lis", "phones": ["+79160000007"]},
        )
        call(
            "admin",
            "GET",
            "/api/v1/organizations/{organization_id}/managers",
            200,
            path_parameters=org,
        )
        filed = call(
            "agent",
            "POST",
            "/api/v1/requests",
            201,
            body={
                "client_id": client["id"],
                "organization_id": partner["id"],
                "product": "Leasing",
            },
        )
        call("agent", "GET", "/api/v1/requests", 200, query={"status": "open"})
        for suffix in ("", "/calls"):
            call(
                "agent",
                "GET",
                "/api/v1/requests/{number}" + suffix,
                200,
                path_parameters={"number": number},
            )
        mine = {"number": filed["number"]}
        call("agent", "POST", "/api/v1/requests/{number}/close", 200, path_parameters=mine)
        call("agent", "POST", "/api/v1/requests/{number}/reopen", 200, path_parameters=mine)
        call("agent", "POST", "/api/v1/requests/{number}/repeat", 201, path_parameters=mine)
        call("manager", "GET", "/api/v1/partner/requests", 200)
        issued = call(
            "admin", "POST", "/api/v1/api-keys", 201, body={"user_id": user_id, "name": "site"}
        )
        call(
            "admin",
            "POST",
            "/api/v1/api-keys/{key_id}/revoke",
            200,
            path_parameters={"key_id": issued["id"]},
        )
        call("agent", "GET", "/api/v1/openapi.json", 200)
        walk_the_blacklist(call, client_id=client["id"], number=filed["number"])
        call(
            "admin",
            "PUT",
            "/api/v1/organizations/{organization_id}/recording-policy",
            200,
            path_parameters=org,
            body={"recording_policy": "on"},
        )
        request = {"number": number}
        (recording,) = call(
            "agent", "GET", "/api/v1/requests/{number}/recordings", 200, path_parameters=request
        )["items"]
        one = {**request, "recording_id": recording["id"]}
        call(
            "agent",
            "GET",
            "/api/v1/requests/{number}/recordings/{recording_id}/audio",
            200,
            path_parameters=one,
        )
        call(
            "agent",
            "DELETE",
            "/api/v1/requests/{number}/recordings/{recording_id}",
            204,
            path_parameters=one,
        )
        walk_access(call, organization=org, user_id=user_id, agent_id=agent_id)
        walk_editing(call, organization=org, user_id=user_id, agent_id=agent_id)
        walk_loyalty(call)
        walk_organizations_by_inn(call)
        walk_payers_and_addresses(call, client_id=client["id"])
        walk_membership(call, waiting=waiting)
        path = "/api/v1/users/{user_id}/password-reset"
        call("admin", "POST", path, 202, path_parameters={"user_id": user_id})
        call("agent", "POST", "/api/v1/password/forgot", 202, body={"email": "nobody@example.com"})
        locked = call("admin", "GET", "/api/v1/lockouts", 200, query={"active": "true"})
        lockout = {"lockout_id": locked["items"][0]["id"]}
        call("admin", "GET", "/api/v1/lockouts/{lockout_id}", 200, path_parameters=lockout)
        call("admin", "POST", "/api/v1/lockouts/{lockout_id}/unlock", 200, path_parameters=lockout)
        phone = {"phone": "+79167770011"}
        call("agent", "POST", "/api/v1/signup/code", 202, body=phone)
        verified = call(
            "agent", "POST", "/api/v1/signup/verify", 200, body={**phone, "code": sent_code()}
        )
        call(
            "agent",
            "POST",
            "/api/v1/signup/complete",
            201,
            body={
                "signup_token": verified["signup_token"],
                "name": "Lev Gromov",
                "email": "lev@example.com",
                "password": "gromov-pass-2026",
            },
        )
    return seen


async def test_every_success_answer_matches_the_document(
    server, document, sessions, demo, simulator, fake_twilio, http
):
    number = open_polis(demo)["number"]
    admin = await account_actor(sessions, ADMIN)
    async with sessions.begin() as session:  # Polis records: the call below is recorded
        polis = await session.scalar(
            select(Organization.id).where(Organization.name == "Polis Insurance")
        )
        await set_recording_policy(
            session, actor=admin, organization_id=polis, policy=RecordingPolicy.ON, now=T0
        )
    record = await simulator.call(ScriptedCaller([f"{number}#"], talk_seconds=30), from_number=ANNA)
    recording = {  # Twilio's report of a recording of that conversation
        "CallSid": record.call_sid,
        "RecordingSid": fake_twilio.record(),
        "RecordingStatus": "completed",
        "RecordingDuration": "30",
    }
    await signed_post(http, str(server.make_url("")), "/ivr/recording?dial=1", recording)
    for _ in range(4):  # a lockout to list and unlock
        await simulator.call(ScriptedCaller(["1#", "2#", "3#"]), from_number=BORIS)
    keys = {role: await issue_key(sessions, email) for role, email in ROLES.items()}
    user_id = (await account_actor(sessions, MANAGER)).user_id
    agency = await give_organization(sessions, AGENT)  # its payers and addresses
    async with sessions.begin() as session:  # two agents waiting to be confirmed in it
        joiners = [
            Agent(
                name=f"Joiner {n}",
                email=f"joiner{n}@example.com",
                organization_id=agency,
                organization_confirmed=False,
                created_at=T0,
            )
            for n in (1, 2)
        ]
        session.add_all(joiners)
        await session.flush()
        waiting = tuple(joiner.id for joiner in joiners)

    def sent_code() -> str:
        (body,) = [line["body"] for line in log_events(stream) if line["event"] == "sms_console"]
        return re.findall(r"\d{6}", body)[0]

    with captured_logs() as stream:  # the console SMS sender writes the code there
        seen = await asyncio.to_thread(
            walk_every_success,
            document,
            str(server.make_url("")).rstrip("/"),
            keys,
            number,
            user_id,
            sent_code,
            (await account_actor(sessions, AGENT)).agent_id,
            waiting,
        )
    assert {operation for operation, _ in seen} == {
        f"{method} {path}" for method, path, _ in operations(document)
    }
