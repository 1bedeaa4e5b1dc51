"""Storing what DaData says of an organization, or what was typed by hand instead.

A branch (same INN, its own KPP) is linked to its head office of the same kind, stored too
when it is not yet; a partner company's head office stored so is kept out of service (no
request names it) until an admin adds it themselves. Nothing here asks DaData: what it said
is asked before the write transaction opens (`crm.organizations.service`), so a slow answer
holds no lock. A partner company and an agents' organization of one INN are two records:
every lookup names the kind.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm import audit
from crm.auth.service import Actor
from crm.dadata import Party
from crm.enums import BranchType, OrganizationKind
from crm.models import Organization
from crm.organizations.lookup import is_inn

Who = Actor | str
"""An actor, or who acted without an account (a sign-up)."""


async def stored(
    session: AsyncSession, *, number: str, kpp: str | None, kind: OrganizationKind
) -> Organization | None:
    """The organization of a kind, INN (or OGRN) and KPP, if one is stored."""
    by = Organization.inn if is_inn(number) else Organization.ogrn
    return await session.scalar(
        select(Organization)
        .where(by == number, Organization.kpp == (kpp or ""), Organization.kind == kind)
        .limit(1)
    )


async def head_of(
    session: AsyncSession, *, number: str, kind: OrganizationKind
) -> Organization | None:
    """The stored head office of an INN (or OGRN) of a kind: its main organization, or its
    only record; None when neither (nothing stored, or branches only and several)."""
    by = Organization.inn if is_inn(number) else Organization.ogrn
    found = list(
        await session.scalars(
            select(Organization)
            .where(by == number, Organization.kind == kind)
            .order_by(Organization.id)
            .limit(50)
        )
    )
    main = [one for one in found if one.branch_type is BranchType.MAIN]
    if main:
        return main[0]
    return found[0] if len(found) == 1 else None


async def stored_head(
    session: AsyncSession, *, inn: str, kind: OrganizationKind, besides: int | None = None
) -> Organization | None:
    """The stored main organization of an INN of a kind (not `besides`)."""
    query = select(Organization).where(
        Organization.inn == inn,
        Organization.kind == kind,
        Organization.branch_type == BranchType.MAIN,
    )
    if besides is not None:
        query = query.where(Organization.id != besides)
    return await session.scalar(query.order_by(Organization.id).limit(1))


async def _insert(session: AsyncSession, organization: Organization) -> bool:
    """Add `organization`; False when another transaction stored its kind, INN and KPP first
    (the caller selects that one again)."""
    try:
        async with session.begin_nested():
            session.add(organization)
            await session.flush()
    except IntegrityError:
        return False
    return True


def _fields(party: Party) -> dict[str, Any]:
    return {
        "name": party.short_name[:300],
        "full_name": party.full_name[:500],
        "inn": party.inn,
        "kpp": party.kpp or "",
        "ogrn": party.ogrn,
        "ogrn_date": party.ogrn_date,
        "party_type": party.type,
        "legal_address": party.address,
        "head_name": party.head_name,
        "head_post": party.head_post,
        "status": party.status,
        "registered_on": party.registered_on,
        "liquidated_on": party.liquidated_on,
        "status_date": party.status_date,
        "dadata_hid": party.hid,
        "branch_type": party.branch_type,
    }


def _apply(organization: Organization, values: dict[str, Any]) -> dict[str, Any]:
    """Set `values`; each changed field with its previous value, for the audit log."""
    changed = {}
    for field, value in values.items():
        before = getattr(organization, field)
        if before != value:
            setattr(organization, field, value)
            changed[field] = {"from": before, "to": value}
    return changed


async def adoptable(
    session: AsyncSession, *, party: Party, kind: OrganizationKind
) -> Organization | None:
    """One typed by hand under the party's INN with no KPP: the same company, now found."""
    return await session.scalar(
        select(Organization)
        .where(
            Organization.inn == party.inn,
            Organization.kpp == "",
            Organization.kind == kind,
            Organization.verified_at.is_(None),
        )
        .limit(1)
    )


async def store_party(
    session: AsyncSession,
    *,
    party: Party,
    head: Party | None = None,
    kind: OrganizationKind,
    now: datetime,
    actor: Who,
    listed: bool = True,
) -> tuple[Organization, bool]:
    """The organization of `party` and whether it is new: created, or the stored one updated
    with all DaData said (verified now); a branch is linked to its head office of this kind,
    stored from `head` (DaData's, asked beforehand) when it is not yet. A partner company
    created not `listed` (a branch's head office) is out of service, with no managers."""
    organization = await stored(session, number=party.inn, kpp=party.kpp, kind=kind)
    if organization is None and party.kpp and party.branch_type is BranchType.MAIN:
        organization = await adoptable(session, party=party, kind=kind)
    created = False
    out_of_service = not listed and kind is OrganizationKind.PARTNER
    if organization is None:
        organization = Organization(kind=kind, created_at=now, **_fields(party), verified_at=now)
        organization.is_active = not out_of_service
        created = await _insert(session, organization)
        if not created:  # another sign-up or admin stored it at this very moment
            organization = await stored(session, number=party.inn, kpp=party.kpp, kind=kind)
            if organization is None:
                raise RuntimeError("the organization taken at the same moment is not found")
    if created:
        details = {"name": organization.name, "inn": party.inn, "kpp": party.kpp, "verified": True}
        if out_of_service:
            details["head_office_only"] = True
        await audit.record(
            session,
            actor=actor,
            action="create",
            entity="organization",
            entity_id=organization.id,
            details=details,
            now=now,
        )
    else:
        await update(session, organization, party=party, actor=actor, now=now)
    await link_head(session, organization, party=party, head=head, kind=kind, now=now, actor=actor)
    return organization, created


async def update(
    session: AsyncSession, organization: Organization, *, party: Party, actor: Who, now: datetime
) -> None:
    """Set all DaData said, verified now; the audit keeps each changed field's previous value
    and the time of the check (`verified_at`, alone when nothing changed)."""
    changed = _apply(organization, _fields(party))
    organization.verified_at = now
    await audit.record(
        session,
        actor=actor,
        action="refresh",
        entity="organization",
        entity_id=organization.id,
        details={**changed, "verified_at": now.isoformat()},
        now=now,
    )
    await session.flush()


async def link_head(
    session: AsyncSession,
    organization: Organization,
    *,
    party: Party,
    head: Party | None,
    kind: OrganizationKind,
    now: datetime,
    actor: Who,
) -> None:
    """A branch linked to its stored head office of its own kind, or to `head` (DaData's
    head office, asked beforehand) stored now (a partner company's out of service: nobody
    asked for it as a partner); left unlinked till a refresh otherwise."""
    if party.branch_type is not BranchType.BRANCH:
        organization.main_organization_id = None
        return
    main = await stored_head(session, inn=party.inn, kind=kind, besides=organization.id)
    if main is None and head is not None and head.branch_type is BranchType.MAIN:
        main, _created = await store_party(
            session, party=head, kind=kind, now=now, actor=actor, listed=False
        )
    if main is not None and organization.main_organization_id != main.id:
        organization.main_organization_id = main.id
        await session.flush()


async def store_by_hand(
    session: AsyncSession,
    *,
    name: str,
    number: str,
    kpp: str | None,
    kind: OrganizationKind,
    now: datetime,
    actor: Who,
) -> tuple[Organization, bool]:
    """An organization typed by hand while DaData could not tell: "not verified" (no status)
    until a refresh finds it; and whether it is new (False: one stored at the same moment)."""
    inn, ogrn = (number, None) if is_inn(number) else (None, number)
    organization = Organization(
        name=name, kind=kind, inn=inn, ogrn=ogrn, kpp=kpp or "", created_at=now
    )
    if not await _insert(session, organization):
        taken = await stored(session, number=number, kpp=kpp, kind=kind)
        if taken is None:
            raise RuntimeError("the organization taken at the same moment is not found")
        return taken, False
    await audit.record(
        session,
        actor=actor,
        action="create",
        entity="organization",
        entity_id=organization.id,
        details={"name": name, "inn": number, "kpp": kpp, "verified": False},
        now=now,
    )
    return organization, True
