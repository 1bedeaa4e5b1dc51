"""Confirming an agent who joined an organization by its INN, or refusing them."""

from __future__ import annotations

from aiohttp import web
from pydantic import Field

from crm.api.auth import actor_of
from crm.api.http import V1, path_id, respond
from crm.api.openapi import operation
from crm.api.schemas import _Out
from crm.models import Agent
from crm.organizations import membership
from ivr.keys import CLOCK, SESSIONS

routes = web.RouteTableDef()
MEMBER = V1 + r"/agents/{agent_id:\d+}/organization"
WHO = (
    "An admin's key, or the key of an agent confirmed in the same organization (an agent "
    "of another organization answers 404). Only an agent waiting to be confirmed is "
    "decided on: 409 naming `agent_id` otherwise. Audited."
)


class MembershipOut(_Out):
    agent_id: int
    organization_id: int | None = Field(description="None once refused: they left it.")
    organization_confirmed: bool = Field(
        description="False while waiting: they see none of the organization's payers, "
        "addresses, points or colleagues."
    )


def _answer(agent: Agent) -> MembershipOut:
    return MembershipOut(
        agent_id=agent.id,
        organization_id=agent.organization_id,
        organization_confirmed=agent.organization_confirmed,
    )


@routes.post(MEMBER + "/confirm", name="api.agents.organization.confirm")
@operation(
    "Confirm an agent in the organization they joined",
    tag="organization",
    answer=MembershipOut,
    errors=(409,),
    description="An agent who gave the INN of an organization stored already waits until "
    "confirmed; then they see its payers, delivery addresses, points and colleagues. " + WHO,
)
async def confirm(request: web.Request) -> web.Response:
    async with request.config_dict[SESSIONS].begin() as db:
        agent = await membership.confirm(
            db,
            actor=actor_of(request),
            agent_id=path_id(request, "agent_id"),
            now=request.config_dict[CLOCK](),
        )
        answer = _answer(agent)
    return respond(answer)


@routes.post(MEMBER + "/refuse", name="api.agents.organization.refuse")
@operation(
    "Refuse an agent waiting in an organization",
    tag="organization",
    answer=MembershipOut,
    errors=(409,),
    description="They leave the organization (`organization_id: null`) and may give "
    "another INN. " + WHO,
)
async def refuse(request: web.Request) -> web.Response:
    async with request.config_dict[SESSIONS].begin() as db:
        agent = await membership.refuse(
            db,
            actor=actor_of(request),
            agent_id=path_id(request, "agent_id"),
            now=request.config_dict[CLOCK](),
        )
        answer = _answer(agent)
    return respond(answer)
