"""An agents' organization's payer cards: who pays, with a current account at a bank found
by its BIK; one of them the default. Removing one deactivates it: requests that named it
keep showing it. Editing a card requests name keeps it as they show it (deactivated) and
saves the edit as a new card.

Every change that can move the default first locks the organization's row, so two at once
(two "first payers", two "make default") queue one behind the other and exactly one
default remains (the partial unique index `uq_payers_default` guards it too)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp
from sqlalchemy import Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm import audit
from crm.auth.service import Actor
from crm.dadata import Bank, DadataUnavailable, find_bank
from crm.enums import PartyStatus
from crm.errors import Conflict, Invalid, NotFound
from crm.i18n import gettext as _
from crm.models import Organization, Request
from crm.organizations.accounts import account_matches, check_correspondent_account
from crm.organizations.models import Payer
from crm.organizations.schemas import PayerEdit, PayerIn
from crm.organizations.scope import item_scope, organization_in_scope
from ivr.config import DadataConfig

BankLookup = Callable[[str], Awaitable[Bank | None]]
"""DaData's bank of a checked BIK (`crm.dadata.find_bank` bound to the HTTP client)."""


CLOSING_BANKS = frozenset({PartyStatus.LIQUIDATING, PartyStatus.LIQUIDATED})
"""A bank in liquidation (its licence revoked) takes no payments: no payer card names it."""


def closing_bank_message() -> str:
    return _("this bank is liquidated or being liquidated: give the BIK of another bank")


def bank_lookup(http: aiohttp.ClientSession, settings: DadataConfig) -> BankLookup:
    """DaData's bank of a BIK, over the shared HTTP client."""

    async def lookup(bik: str) -> Bank | None:
        return await find_bank(http, settings, bik=bik)

    return lookup


@dataclass(frozen=True)
class BankDetails:
    name: str
    correspondent_account: str | None
    address: str | None
    found: bool
    """True: DaData's; False: typed by hand while DaData could not answer."""


async def bank_for(
    lookup: BankLookup,
    *,
    bik: str,
    name: str | None = None,
    correspondent_account: str | None = None,
    address: str | None = None,
) -> BankDetails:
    """The bank of a BIK already checked locally: DaData's, or what was typed when DaData
    cannot answer (Invalid naming `bank_name` when nothing was); Invalid naming `bik` when
    DaData knows no such bank or says it is liquidated."""
    try:
        bank = await lookup(bik)
    except DadataUnavailable as unavailable:
        if name:
            return BankDetails(name, correspondent_account, address, found=False)
        message = _("%(reason)s Type the bank's name yourself.") % {"reason": unavailable.message}
        raise Invalid.one("bank_name", message) from None
    if bank is None:
        raise Invalid.one("bik", _("no bank has this BIK"))
    if bank.status in CLOSING_BANKS:
        raise Invalid.one("bik", closing_bank_message())
    return BankDetails(
        bank.name or name or bik,
        bank.correspondent_account or correspondent_account,
        bank.address or address,
        found=True,
    )


async def bank_for_edit(
    lookup: BankLookup, *, stored: Payer, data: PayerEdit
) -> BankDetails | None:
    """The bank of the BIK an edit gives, when it is new and the account matches it (a
    mismatch is refused by `update_payer` without asking DaData); else None."""
    if data.bik is None or data.bik == stored.bik:
        return None
    if not account_matches(data.bik, data.account or stored.account):
        return None
    return await bank_for(
        lookup,
        bik=data.bik,
        name=data.bank_name,
        correspondent_account=data.correspondent_account,
        address=data.bank_address,
    )


async def lock_organization(session: AsyncSession, organization_id: int) -> Organization:
    """The organization's row, locked for the rest of the transaction (PostgreSQL: SELECT …
    FOR NO KEY UPDATE, which leaves rows referring to it free to be written; SQLite's
    transactions take the write lock as they begin, see crm/db.py)."""
    return await session.get_one(
        Organization,
        organization_id,
        with_for_update={"key_share": True},
        populate_existing=True,
    )


async def is_named(session: AsyncSession, payer_id: int) -> bool:
    """Whether a request names this payer (an edit must then leave it as it is)."""
    found = await session.scalar(select(Request.id).where(Request.payer_id == payer_id).limit(1))
    return found is not None


async def _locked_payer(
    session: AsyncSession,
    *,
    actor: Actor,
    payer_id: int,
    organization_id: int | None,
    active: bool = True,
) -> Payer:
    """`get_payer`, its organization locked first and the card read again after the lock
    (a concurrent change committed while waiting is seen)."""
    payer = await get_payer(
        session, actor=actor, payer_id=payer_id, organization_id=organization_id, active=active
    )
    await lock_organization(session, payer.organization_id)
    await session.refresh(payer, with_for_update=True)
    if active and not payer.is_active:
        raise NotFound(f"payer {payer_id}")
    return payer


def _in_organization(organization_id: int) -> Select[tuple[Payer]]:
    return (
        select(Payer)
        .where(Payer.organization_id == organization_id)
        .order_by(Payer.is_default.desc(), Payer.name, Payer.id)
    )


async def list_payers(
    session: AsyncSession, *, actor: Actor, organization_id: int | None = None
) -> list[Payer]:
    """The organization's active payers, the default first."""
    scope = await organization_in_scope(session, actor=actor, organization_id=organization_id)
    return list(await session.scalars(_in_organization(scope).where(Payer.is_active)))


async def get_payer(
    session: AsyncSession,
    *,
    actor: Actor,
    payer_id: int,
    organization_id: int | None = None,
    active: bool = True,
) -> Payer:
    """One payer of the actor's organization (`active`: not removed); NotFound otherwise."""
    scope = await item_scope(session, actor=actor, organization_id=organization_id)
    payer = await session.get(Payer, payer_id)
    if (
        payer is None
        or (scope is not None and payer.organization_id != scope)
        or (active and not payer.is_active)
    ):
        raise NotFound(f"payer {payer_id}")
    return payer


async def create_payer(
    session: AsyncSession,
    *,
    actor: Actor,
    data: PayerIn,
    bank: BankDetails,
    now: datetime,
    organization_id: int | None = None,
) -> Payer:
    """A payer card (name, INN and KPP the organization's unless given); the first one, or
    one marked so, is the default. A removed card of the same account that no request names
    comes back with these details; one that requests name stays as they show it, and the
    card is a new one."""
    scope = await organization_in_scope(session, actor=actor, organization_id=organization_id)
    organization = await lock_organization(session, scope)
    inn = data.inn or organization.inn or ""
    if not inn:
        raise Invalid.one("inn", _("fill this in"))
    kpp = data.kpp if data.kpp is not None else organization.kpp if inn == organization.inn else ""
    same_account = select(Payer).where(
        Payer.organization_id == scope, Payer.bik == data.bik, Payer.account == data.account
    )
    if await session.scalar(same_account.where(Payer.is_active)) is not None:
        raise Conflict.one("account", _("this account is already one of your payers"))
    payer = None
    for removed in await session.scalars(same_account.order_by(Payer.id.desc())):
        if not await is_named(session, removed.id):
            payer = removed
            break
    details = {
        "name": data.name or organization.name,
        "inn": inn,
        "kpp": kpp or "",
        "bank_name": bank.name,
        "correspondent_account": bank.correspondent_account,
        "bank_address": bank.address,
    }
    if payer is None:
        payer = Payer(organization_id=scope, bik=data.bik, account=data.account, created_at=now)
        session.add(payer)
    for name, value in details.items():
        setattr(payer, name, value)
    payer.is_active = True
    payer.is_default = False
    await session.flush()
    has_default = await session.scalar(
        select(Payer.id).where(
            Payer.organization_id == scope, Payer.is_active, Payer.is_default, Payer.id != payer.id
        )
    )
    if data.is_default or has_default is None:
        await _make_default(session, payer)
    await audit.record(
        session,
        actor=actor,
        action="create",
        entity="payer",
        entity_id=payer.id,
        details={**_facts(payer), "bank_found": bank.found},
        now=now,
    )
    return payer


async def update_payer(
    session: AsyncSession,
    *,
    actor: Actor,
    payer_id: int,
    data: PayerEdit,
    bank: BankDetails | None,
    now: datetime,
    organization_id: int | None = None,
) -> Payer:
    """Change the fields given; `bank` is the new BIK's (looked up by the caller: a changed
    BIK needs it). The account and BIK must match, whichever of them changes.

    A card a request names is not changed: it is deactivated as the requests show it, and
    the edited card is a new active one (the default if the old one was), which is returned;
    an account is on one active card at most. Making it the default alone changes nothing
    the requests show."""
    payer = await _locked_payer(
        session, actor=actor, payer_id=payer_id, organization_id=organization_id
    )
    changes = data.changes()
    want_default = changes.pop("is_default", None)
    if want_default is False and payer.is_default:
        raise Invalid.one("is_default", _("make another payer the default instead"))
    bik, account = changes.get("bik", payer.bik), changes.get("account", payer.account)
    if not account_matches(bik, account):
        field = "account" if "account" in changes else "bik"
        raise Invalid.one(
            field,
            _("this account does not belong to the bank of this BIK (its control key is wrong)"),
        )
    if bik != payer.bik:
        if bank is None:
            raise ValueError("a new BIK needs its bank looked up")
        changes.update(
            bank_name=bank.name,
            correspondent_account=bank.correspondent_account,
            bank_address=bank.address,
        )
    for name in ("correspondent_account", "bank_address"):
        if changes.get(name) == "":
            changes[name] = None
    if changes.get("correspondent_account"):
        try:
            check_correspondent_account(bik, changes["correspondent_account"])
        except ValueError as wrong:
            raise Invalid.one("correspondent_account", str(wrong)) from None
    if (bik, account) != (payer.bik, payer.account) and await session.scalar(
        select(Payer.id).where(
            Payer.organization_id == payer.organization_id,
            Payer.bik == bik,
            Payer.account == account,
            Payer.is_active,
            Payer.id != payer.id,
        )
    ):
        raise Conflict.one("account", _("this account is already one of your payers"))
    changed = {
        name: {"from": getattr(payer, name), "to": value}
        for name, value in changes.items()
        if getattr(payer, name) != value
    }
    if changed and await is_named(session, payer.id):
        return await _replace(
            session,
            actor=actor,
            payer=payer,
            changes=changes,
            changed=changed,
            want_default=bool(want_default),
            now=now,
        )
    for name, value in changes.items():
        setattr(payer, name, value)
    if want_default and not payer.is_default:
        await _make_default(session, payer)
        changed["is_default"] = {"from": False, "to": True}
    if changed:
        await audit.record(
            session,
            actor=actor,
            action="update",
            entity="payer",
            entity_id=payer.id,
            details=changed,
            now=now,
        )
        await session.flush()
    return payer


async def _replace(
    session: AsyncSession,
    *,
    actor: Actor,
    payer: Payer,
    changes: dict[str, Any],
    changed: dict[str, Any],
    want_default: bool,
    now: datetime,
) -> Payer:
    """The edited card as a new one; `payer` stays as the requests that name it show it,
    deactivated (the default flag cleared and flushed before the new card takes it)."""
    was_default = payer.is_default
    payer.is_active, payer.is_default = False, False
    await session.flush()
    kept = {name: getattr(payer, name) for name in EDITABLE}
    edited = Payer(
        organization_id=payer.organization_id,
        **{**kept, **changes},
        is_default=False,
        is_active=True,
        created_at=now,
    )
    session.add(edited)
    await session.flush()
    if was_default or want_default:
        await _make_default(session, edited)
        if not was_default:
            changed["is_default"] = {"from": False, "to": True}
    await audit.record(
        session,
        actor=actor,
        action="update",
        entity="payer",
        entity_id=payer.id,
        details={**changed, "replaced_by": edited.id},
        now=now,
    )
    return edited


EDITABLE = (
    "name",
    "inn",
    "kpp",
    "bik",
    "account",
    "bank_name",
    "correspondent_account",
    "bank_address",
)


async def make_default(
    session: AsyncSession,
    *,
    actor: Actor,
    payer_id: int,
    now: datetime,
    organization_id: int | None = None,
) -> Payer:
    """The organization's default payer from now on (the new request form preselects it)."""
    return await update_payer(
        session,
        actor=actor,
        payer_id=payer_id,
        data=PayerEdit(is_default=True),
        bank=None,
        now=now,
        organization_id=organization_id,
    )


async def deactivate_payer(
    session: AsyncSession,
    *,
    actor: Actor,
    payer_id: int,
    now: datetime,
    organization_id: int | None = None,
) -> Payer:
    """Remove a payer from the choices (again: nothing changes); if it was the default, the
    oldest other active payer becomes it."""
    payer = await _locked_payer(
        session, actor=actor, payer_id=payer_id, organization_id=organization_id, active=False
    )
    if not payer.is_active:
        return payer
    was_default = payer.is_default
    payer.is_active, payer.is_default = False, False
    await session.flush()
    if was_default:
        heir = await session.scalar(
            select(Payer)
            .where(Payer.organization_id == payer.organization_id, Payer.is_active)
            .order_by(Payer.created_at, Payer.id)
            .limit(1)
        )
        if heir is not None:
            await _make_default(session, heir)
    await audit.record(
        session,
        actor=actor,
        action="deactivate",
        entity="payer",
        entity_id=payer.id,
        details=_facts(payer),
        now=now,
    )
    return payer


async def _make_default(session: AsyncSession, payer: Payer) -> None:
    """`payer` the default: the old default cleared in the database first, then this one set
    (the organization is locked by the caller)."""
    await session.flush()
    await session.execute(
        update(Payer)
        .where(
            Payer.organization_id == payer.organization_id,
            Payer.id != payer.id,
            Payer.is_default,
        )
        .values(is_default=False)
        .execution_options(synchronize_session="fetch")
    )
    payer.is_default = True
    await session.flush()


def _facts(payer: Payer) -> dict[str, Any]:
    return {
        "name": payer.name,
        "inn": payer.inn,
        "kpp": payer.kpp,
        "bik": payer.bik,
        "account": payer.account,
    }
