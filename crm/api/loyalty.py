"""Loyalty points: an agent's organization's standing and history, every one's for admins."""

from __future__ import annotations

from aiohttp import web
from pydantic import Field

from crm.api.auth import actor_of
from crm.api.http import V1, page_args, respond
from crm.api.openapi import PAGING, operation
from crm.api.schemas import Timestamp, _Out, _Page
from crm.organizations.loyalty import (
    HistoryEntry,
    Standing,
    agent_organization,
    history,
    list_standings,
    standing,
)
from crm.pagination import Page
from ivr.config import LoyaltyConfig
from ivr.keys import CONFIG, SESSIONS

routes = web.RouteTableDef()


class LoyaltyTierOut(_Out):
    name: str = Field(description="As configured (`loyalty.tiers`).")
    points: int = Field(description="The points from which an organization is in this tier.")


class LoyaltyStandingOut(_Out):
    """Where a head office stands; its branches' requests count toward it."""

    organization_id: int = Field(description="The head office the points are pooled at.")
    organization_name: str
    points: int
    requests: int = Field(description="Requests credited.")
    tier: str
    next_tier: str | None = Field(description="None at the highest tier.")
    points_to_next: int | None = Field(description="Points still needed for the next tier.")

    @classmethod
    def of(cls, found: Standing) -> LoyaltyStandingOut:
        return cls(
            organization_id=found.organization_id,
            organization_name=found.organization_name,
            points=found.points,
            requests=found.requests,
            tier=found.tier.name,
            next_tier=found.next_tier.name if found.next_tier else None,
            points_to_next=found.points_to_next,
        )


class LoyaltyEntryOut(_Out):
    request_number: str | None = Field(
        description="Null for a request of another office of the pool (a branch or the head)."
    )
    agent_name: str | None = Field(
        description="The agent who filed the request; null like the number elsewhere."
    )
    points: int
    credited_at: Timestamp


class LoyaltyHistoryPage(_Page):
    items: list[LoyaltyEntryOut]


class OrganizationLoyaltyOut(_Out):
    standing: LoyaltyStandingOut | None = Field(
        description="None while the agent belongs to no organization: nothing accrues then."
    )
    history: LoyaltyHistoryPage = Field(description="Credited requests, newest first.")
    points_per_request: int
    tiers: list[LoyaltyTierOut]


class LoyaltyStandingPage(_Page):
    items: list[LoyaltyStandingOut]


def _tiers(settings: LoyaltyConfig) -> list[LoyaltyTierOut]:
    return [LoyaltyTierOut(name=tier.name, points=tier.points) for tier in settings.tiers]


@routes.get(f"{V1}/organization/loyalty", name="api.organization.loyalty")
@operation(
    "My organization's loyalty points",
    tag="loyalty",
    answer=OrganizationLoyaltyOut,
    query=PAGING,
    description="Agents only. Each request of the organization's agents, or of its branches' "
    "agents, that reached its client (a bridged call) earns `points_per_request` once, "
    "pooled at the head office; `page` and `per_page` page the history.",
)
async def mine(request: web.Request) -> web.Response:
    settings = request.config_dict[CONFIG].loyalty
    paging = page_args(request)
    async with request.config_dict[SESSIONS]() as db:
        organization_id = await agent_organization(db, actor=actor_of(request))
        found = None
        entries: Page[HistoryEntry] = Page(items=[], total=0, **paging)
        if organization_id is not None:
            found = await standing(db, organization_id=organization_id, settings=settings)
            entries = await history(db, organization_id=organization_id, **paging)
    answer = OrganizationLoyaltyOut(
        standing=LoyaltyStandingOut.of(found) if found else None,
        history=LoyaltyHistoryPage.model_validate(entries, from_attributes=True),
        points_per_request=settings.points_per_request,
        tiers=_tiers(settings),
    )
    return respond(answer)


@routes.get(f"{V1}/loyalty", name="api.loyalty.list")
@operation(
    "Every organization's loyalty points",
    tag="loyalty",
    answer=LoyaltyStandingPage,
    query=PAGING,
    description="Admins only. Every agents' head office, the most points first.",
)
async def every(request: web.Request) -> web.Response:
    settings = request.config_dict[CONFIG].loyalty
    async with request.config_dict[SESSIONS]() as db:
        found = await list_standings(
            db, actor=actor_of(request), settings=settings, **page_args(request)
        )
    items = [LoyaltyStandingOut.of(row) for row in found.items]
    return respond(
        LoyaltyStandingPage(
            items=items,
            page=found.page,
            per_page=found.per_page,
            total=found.total,
            pages=found.pages,
        )
    )
