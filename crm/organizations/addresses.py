"""An agents' organization's saved delivery addresses: where a request's documents go on
the agent's side, and who accepts them. Removing one deactivates it: requests that named
it keep showing it, and editing one they name keeps it as they show it (deactivated) and
saves the edit as a new address."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm import audit
from crm.auth.service import Actor
from crm.errors import NotFound
from crm.models import Request
from crm.organizations.models import DeliveryAddress
from crm.organizations.schemas import AddressEdit, AddressIn
from crm.organizations.scope import item_scope, organization_in_scope

FIELDS = ("address", "contact_name", "contact_phone", "comment")


async def is_named(session: AsyncSession, address_id: int) -> bool:
    """Whether a request names this address (an edit must then leave it as it is)."""
    found = await session.scalar(
        select(Request.id).where(Request.delivery_address_id == address_id).limit(1)
    )
    return found is not None


async def list_addresses(
    session: AsyncSession, *, actor: Actor, organization_id: int | None = None
) -> list[DeliveryAddress]:
    """The organization's active delivery addresses, in the order they were saved."""
    scope = await organization_in_scope(session, actor=actor, organization_id=organization_id)
    return list(
        await session.scalars(
            select(DeliveryAddress)
            .where(DeliveryAddress.organization_id == scope, DeliveryAddress.is_active)
            .order_by(DeliveryAddress.created_at, DeliveryAddress.id)
        )
    )


async def get_address(
    session: AsyncSession,
    *,
    actor: Actor,
    address_id: int,
    organization_id: int | None = None,
    active: bool = True,
) -> DeliveryAddress:
    """One delivery address of the actor's organization (`active`: not removed)."""
    scope = await item_scope(session, actor=actor, organization_id=organization_id)
    address = await session.get(DeliveryAddress, address_id)
    if (
        address is None
        or (scope is not None and address.organization_id != scope)
        or (active and not address.is_active)
    ):
        raise NotFound(f"delivery address {address_id}")
    return address


async def create_address(
    session: AsyncSession,
    *,
    actor: Actor,
    data: AddressIn,
    now: datetime,
    organization_id: int | None = None,
) -> DeliveryAddress:
    scope = await organization_in_scope(session, actor=actor, organization_id=organization_id)
    address = DeliveryAddress(organization_id=scope, **data.model_dump(), created_at=now)
    session.add(address)
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action="create",
        entity="delivery_address",
        entity_id=address.id,
        details={"address": address.address, "contact_name": address.contact_name},
        now=now,
    )
    return address


async def update_address(
    session: AsyncSession,
    *,
    actor: Actor,
    address_id: int,
    data: AddressEdit,
    now: datetime,
    organization_id: int | None = None,
) -> DeliveryAddress:
    """Change the fields given (an empty comment clears it), audited with old and new.

    An address a request names is not changed: it is deactivated as the requests show it,
    and the edited one is a new active address, which is returned."""
    address = await get_address(
        session, actor=actor, address_id=address_id, organization_id=organization_id
    )
    # Locked before asking whether a request names it (a request filed meanwhile waits).
    await session.refresh(address, with_for_update=True)
    if not address.is_active:
        raise NotFound(f"address {address_id}")
    changes = data.changes()
    if changes.get("comment") == "":
        changes["comment"] = None
    changed = {
        name: {"from": getattr(address, name), "to": value}
        for name, value in changes.items()
        if getattr(address, name) != value
    }
    if changed and await is_named(session, address.id):
        address.is_active = False
        kept = {name: getattr(address, name) for name in FIELDS}
        edited = DeliveryAddress(
            organization_id=address.organization_id, **{**kept, **changes}, created_at=now
        )
        session.add(edited)
        await session.flush()
        await audit.record(
            session,
            actor=actor,
            action="update",
            entity="delivery_address",
            entity_id=address.id,
            details={**changed, "replaced_by": edited.id},
            now=now,
        )
        return edited
    for name, value in changes.items():
        setattr(address, name, value)
    if changed:
        await audit.record(
            session,
            actor=actor,
            action="update",
            entity="delivery_address",
            entity_id=address.id,
            details=changed,
            now=now,
        )
        await session.flush()
    return address


async def deactivate_address(
    session: AsyncSession,
    *,
    actor: Actor,
    address_id: int,
    now: datetime,
    organization_id: int | None = None,
) -> DeliveryAddress:
    """Remove an address from the choices (again: nothing changes)."""
    address = await get_address(
        session, actor=actor, address_id=address_id, organization_id=organization_id, active=False
    )
    if address.is_active:
        address.is_active = False
        await audit.record(
            session,
            actor=actor,
            action="deactivate",
            entity="delivery_address",
            entity_id=address.id,
            details={"address": address.address},
            now=now,
        )
        await session.flush()
    return address
