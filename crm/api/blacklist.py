"""The blacklist (admins only): rules, the dry run, re-checks, "add to blacklist", settings."""

from __future__ import annotations

from aiohttp import web

from crm.api.auth import actor_of
from crm.api.http import V1, json_body, page_args, path_id, query_text, respond
from crm.api.openapi import PAGING, Param, operation
from crm.api.schemas import (
    BlacklistMatchOut,
    BlacklistRuleOut,
    BlacklistRulePage,
    BlacklistSettingsIn,
    BlacklistSettingsOut,
    DryRunOut,
    DryRunRequestOut,
    FromRecordIn,
    RecheckedOut,
    RecheckIn,
    RecheckOut,
)
from crm.auth.service import require_admin
from crm.blacklist.matching import dry_run
from crm.blacklist.models import BlacklistRule
from crm.blacklist.records import copy_fields, rule_from_client, rule_from_request, set_copy_fields
from crm.blacklist.schemas import BlacklistRuleIn, parse_rule
from crm.blacklist.screening import recheck
from crm.blacklist.service import create_rule, delete_rule, get_rule, list_rules, update_rule
from crm.schemas import parse
from ivr.keys import CLOCK, SESSIONS, url_for

routes = web.RouteTableDef()
RULES = V1 + "/blacklist/rules"
ONE = RULES + r"/{rule_id:\d+}"
ADMINS = "Admins only."
RULE_BODY = (
    " Any of first_name, last_name, street, house, postal_code, city, email, ip (an address "
    "or a CIDR network) and phone, at least one (else 422 naming `rule`), and a `note`."
)
SEARCH = Param(
    "search",
    {"type": "string", "maxLength": 200},
    "Part of any of a rule's values, its address or its note.",
)


def _created(request: web.Request, rule: BlacklistRule) -> web.Response:
    return respond(
        BlacklistRuleOut.model_validate(rule),
        status=201,
        location=url_for(request, "api.blacklist.rules.get", rule_id=str(rule.id)),
    )


@routes.get(RULES, name="api.blacklist.rules.list")
@operation(
    "List blacklist rules, newest first",
    tag="blacklist",
    answer=BlacklistRulePage,
    description=ADMINS,
    query=(SEARCH, *PAGING),
)
async def list_(request: web.Request) -> web.Response:
    async with request.config_dict[SESSIONS]() as db:
        page = await list_rules(
            db, actor=actor_of(request), search=query_text(request, "search"), **page_args(request)
        )
    return respond(BlacklistRulePage.model_validate(page, from_attributes=True))


@routes.post(RULES, name="api.blacklist.rules.create")
@operation(
    "Add a blacklist rule",
    tag="blacklist",
    answer=BlacklistRuleOut,
    status=201,
    body=BlacklistRuleIn,
    location=True,
    description=ADMINS
    + RULE_BODY
    + " It flags requests filed from now on; re-check older ones to flag them.",
)
async def create(request: web.Request) -> web.Response:
    actor = actor_of(request)
    require_admin(actor)
    data = parse_rule(await json_body(request))
    async with request.config_dict[SESSIONS].begin() as db:
        rule = await create_rule(db, actor=actor, data=data, now=request.config_dict[CLOCK]())
    return _created(request, rule)


@routes.get(ONE, name="api.blacklist.rules.get")
@operation("One blacklist rule", tag="blacklist", answer=BlacklistRuleOut, description=ADMINS)
async def get(request: web.Request) -> web.Response:
    async with request.config_dict[SESSIONS]() as db:
        rule = await get_rule(db, actor=actor_of(request), rule_id=path_id(request, "rule_id"))
    return respond(BlacklistRuleOut.model_validate(rule))


@routes.put(ONE, name="api.blacklist.rules.update")
@operation(
    "Replace a blacklist rule's fields",
    tag="blacklist",
    answer=BlacklistRuleOut,
    body=BlacklistRuleIn,
    description=ADMINS + RULE_BODY + " Fields left out are emptied.",
)
async def update(request: web.Request) -> web.Response:
    actor = actor_of(request)
    require_admin(actor)
    rule_id = path_id(request, "rule_id")
    data = parse_rule(await json_body(request))
    async with request.config_dict[SESSIONS].begin() as db:
        rule = await update_rule(
            db, actor=actor, rule_id=rule_id, data=data, now=request.config_dict[CLOCK]()
        )
    return respond(BlacklistRuleOut.model_validate(rule))


@routes.delete(ONE, name="api.blacklist.rules.delete")
@operation(
    "Delete a blacklist rule",
    tag="blacklist",
    answer=None,
    status=204,
    description=ADMINS + " Requests it flagged keep their flag and its explanation.",
)
async def delete(request: web.Request) -> web.Response:
    rule_id = path_id(request, "rule_id")
    async with request.config_dict[SESSIONS].begin() as db:
        await delete_rule(
            db, actor=actor_of(request), rule_id=rule_id, now=request.config_dict[CLOCK]()
        )
    return web.Response(status=204)


@routes.post(RULES + "/dry-run", name="api.blacklist.rules.dry_run")
@operation(
    "What a rule would match among past requests",
    tag="blacklist",
    answer=DryRunOut,
    body=BlacklistRuleIn,
    description=ADMINS + RULE_BODY + " Nothing is saved and no request's flag changes.",
)
async def dry_run_(request: web.Request) -> web.Response:
    actor = actor_of(request)
    require_admin(actor)
    data = parse_rule(await json_body(request))
    async with request.config_dict[SESSIONS]() as db:
        found = await dry_run(db, actor=actor, data=data)
    return respond(
        DryRunOut(
            count=found.count,
            requests=[DryRunRequestOut.model_validate(r) for r in found.requests],
        )
    )


@routes.post(V1 + "/blacklist/check", name="api.blacklist.check")
@operation(
    "Re-check requests against today's rules",
    tag="blacklist",
    answer=RecheckOut,
    body=RecheckIn,
    description=ADMINS + " Updates each request's flag and says per request what changed. "
    "A number of no request is refused (422 naming `numbers.N`) and nothing changes.",
)
async def check(request: web.Request) -> web.Response:
    actor = actor_of(request)
    require_admin(actor)
    data = parse(RecheckIn, await json_body(request))
    async with request.config_dict[SESSIONS].begin() as db:
        results = await recheck(db, actor=actor, numbers=data.numbers)
    return respond(
        RecheckOut(
            items=[
                RecheckedOut(
                    number=result.number,
                    was_suspicious=result.was_suspicious,
                    suspicious=result.suspicious,
                    added=result.added,
                    removed=result.removed,
                    blacklist_matches=[BlacklistMatchOut.model_validate(m) for m in result.matches],
                )
                for result in results
            ]
        )
    )


async def _from_record_note(request: web.Request) -> str | None:
    """The optional `note` of an "add to blacklist": the body may be empty."""
    if not (await request.read()).strip():
        return None
    return parse(FromRecordIn, await json_body(request)).note


FROM_RECORD = (
    ADMINS + " The rule gets the record's values of the fields the blacklist's settings "
    "choose (`copy_fields`, by default only `email`); 422 naming `copy_fields` when the "
    'record has none of them. The body is optional: `{"note": ...}`.'
)


@routes.post(V1 + "/requests/{number:[0-9]+}/blacklist", name="api.requests.blacklist")
@operation(
    "Add a request's values to the blacklist",
    tag="blacklist",
    answer=BlacklistRuleOut,
    status=201,
    body=FromRecordIn,
    location=True,
    description=FROM_RECORD + " A request gives its client's fields and its source address.",
)
async def from_request(request: web.Request) -> web.Response:
    actor = actor_of(request)
    require_admin(actor)
    note = await _from_record_note(request)
    async with request.config_dict[SESSIONS].begin() as db:
        rule = await rule_from_request(
            db,
            actor=actor,
            number=request.match_info["number"],
            note=note,
            now=request.config_dict[CLOCK](),
        )
    return _created(request, rule)


@routes.post(V1 + r"/clients/{client_id:\d+}/blacklist", name="api.clients.blacklist")
@operation(
    "Add a client's values to the blacklist",
    tag="blacklist",
    answer=BlacklistRuleOut,
    status=201,
    body=FromRecordIn,
    location=True,
    description=FROM_RECORD + " A client has no address of its own: `ip` is never copied.",
)
async def from_client(request: web.Request) -> web.Response:
    actor = actor_of(request)
    require_admin(actor)
    client_id = path_id(request, "client_id")
    note = await _from_record_note(request)
    async with request.config_dict[SESSIONS].begin() as db:
        rule = await rule_from_client(
            db, actor=actor, client_id=client_id, note=note, now=request.config_dict[CLOCK]()
        )
    return _created(request, rule)


@routes.get(V1 + "/blacklist/settings", name="api.blacklist.settings.get")
@operation(
    "Which fields “add to blacklist” copies",
    tag="blacklist",
    answer=BlacklistSettingsOut,
    description=ADMINS,
)
async def settings(request: web.Request) -> web.Response:
    require_admin(actor_of(request))
    async with request.config_dict[SESSIONS]() as db:
        fields = await copy_fields(db)
    return respond(BlacklistSettingsOut.model_validate({"copy_fields": fields}))


@routes.put(V1 + "/blacklist/settings", name="api.blacklist.settings.update")
@operation(
    "Choose which fields “add to blacklist” copies",
    tag="blacklist",
    answer=BlacklistSettingsOut,
    body=BlacklistSettingsIn,
    description=ADMINS + " Rules already made keep their fields.",
)
async def update_settings(request: web.Request) -> web.Response:
    actor = actor_of(request)
    require_admin(actor)
    data = parse(BlacklistSettingsIn, await json_body(request))
    async with request.config_dict[SESSIONS].begin() as db:
        fields = await set_copy_fields(
            db, actor=actor, fields=data.copy_fields, now=request.config_dict[CLOCK]()
        )
    return respond(BlacklistSettingsOut.model_validate({"copy_fields": fields}))
