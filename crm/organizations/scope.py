"""Whose payers and addresses an actor reaches: an agent its own organization's, an admin
the agents' organization it names; and which of them a new request may name."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.auth.service import Actor
from crm.enums import OrganizationKind, Role
from crm.errors import Forbidden, Invalid, NotFound
from crm.i18n import gettext as _
from crm.models import Agent, Organization
from crm.organizations.models import DeliveryAddress, Payer


async def agent_organization_id(session: AsyncSession, *, agent_id: int | None) -> int | None:
    """The agent's own organization, or None when they have not given its INN yet, or wait
    to be confirmed in it (a pending member sees none of its data), or it is no agents'."""
    if agent_id is None:
        return None
    return await session.scalar(
        select(Agent.organization_id)
        .join(Organization, Organization.id == Agent.organization_id)
        .where(
            Agent.id == agent_id,
            Agent.organization_confirmed,
            Organization.kind == OrganizationKind.AGENCY,
        )
    )


async def pending_organization(
    session: AsyncSession, *, agent_id: int | None
) -> Organization | None:
    """The organization the agent gave and waits to be confirmed in by a member or an admin;
    None when they are a member of theirs, or gave none."""
    if agent_id is None:
        return None
    return await session.scalar(
        select(Organization)
        .join(Agent, Agent.organization_id == Organization.id)
        .where(Agent.id == agent_id, ~Agent.organization_confirmed)
    )


async def organization_in_scope(
    session: AsyncSession, *, actor: Actor, organization_id: int | None = None
) -> int:
    """The agents' organization the actor acts on: an agent's own (`organization_id` is
    ignored), or the one an admin names; Invalid naming `organization_id` otherwise."""
    match actor.role:
        case Role.AGENT:
            own = await agent_organization_id(session, agent_id=actor.agent_id)
            if own is None:
                pending = await session.scalar(
                    select(Agent.organization_id).where(Agent.id == actor.agent_id)
                )
                raise Invalid.one(
                    "organization_id",
                    _("a colleague or an admin has yet to confirm you in your organization")
                    if pending is not None
                    else _("give your organization's INN on the organization page first"),
                )
            return own
        case Role.ADMIN:
            if organization_id is None:
                raise Invalid.one("organization_id", _("name the agents' organization"))
            kind = await session.scalar(
                select(Organization.kind).where(Organization.id == organization_id)
            )
            if kind is not OrganizationKind.AGENCY:
                raise Invalid.one("organization_id", _("no such agents' organization"))
            return organization_id
    raise Forbidden("payers and addresses are the agents' and the admins'")


async def item_scope(
    session: AsyncSession, *, actor: Actor, organization_id: int | None = None
) -> int | None:
    """The organization a payer or address must belong to for the actor to reach it; None:
    any (an admin who named none). Another's answers NotFound, as if it did not exist."""
    if actor.role is Role.ADMIN and organization_id is None:
        return None
    if actor.role is Role.AGENT:
        own = await agent_organization_id(session, agent_id=actor.agent_id)
        if own is None:
            raise NotFound("the agent has no organization yet")
        return own
    return await organization_in_scope(session, actor=actor, organization_id=organization_id)


async def check_request_choices(
    session: AsyncSession,
    *,
    agent_id: int,
    payer_id: int | None,
    delivery_address_id: int | None,
) -> None:
    """A request's payer and delivery address must be active ones of its agent's
    organization; Invalid naming each field that is not."""
    if payer_id is None and delivery_address_id is None:
        return
    organization_id = await agent_organization_id(session, agent_id=agent_id)
    errors: dict[str, str] = {}
    if payer_id is not None:
        # Shared locks: an edit of the card waits for this request (and then sees it names
        # the card), or this request waits for the edit (and sees the card replaced).
        payer = await session.get(Payer, payer_id, with_for_update={"read": True})
        if payer is None or payer.organization_id != organization_id:
            errors["payer_id"] = _("no such payer in your organization")
        elif not payer.is_active:
            errors["payer_id"] = _("this payer was removed; choose another")
    if delivery_address_id is not None:
        address = await session.get(
            DeliveryAddress, delivery_address_id, with_for_update={"read": True}
        )
        if address is None or address.organization_id != organization_id:
            errors["delivery_address_id"] = _("no such delivery address in your organization")
        elif not address.is_active:
            errors["delivery_address_id"] = _("this address was removed; choose another")
    if errors:
        raise Invalid(errors)


@dataclass(frozen=True)
class DocumentChoices:
    """The request form's payer and delivery address lists (an agent's only: an admin's
    client could be anyone's)."""

    shown: bool
    payers: list[Payer] = field(default_factory=list)
    addresses: list[DeliveryAddress] = field(default_factory=list)

    @property
    def default_payer_id(self) -> int | None:
        return next((payer.id for payer in self.payers if payer.is_default), None)


async def document_choices(session: AsyncSession, *, actor: Actor) -> DocumentChoices:
    """The active payers (the default first) and addresses of the agent's organization."""
    if actor.role is not Role.AGENT:
        return DocumentChoices(shown=False)
    organization_id = await agent_organization_id(session, agent_id=actor.agent_id)
    if organization_id is None:
        return DocumentChoices(shown=True)
    payers = await session.scalars(
        select(Payer)
        .where(Payer.organization_id == organization_id, Payer.is_active)
        .order_by(Payer.is_default.desc(), Payer.name, Payer.id)
    )
    addresses = await session.scalars(
        select(DeliveryAddress)
        .where(DeliveryAddress.organization_id == organization_id, DeliveryAddress.is_active)
        .order_by(DeliveryAddress.created_at, DeliveryAddress.id)
    )
    return DocumentChoices(shown=True, payers=list(payers), addresses=list(addresses))
