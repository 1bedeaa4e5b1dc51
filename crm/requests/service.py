"""Requests: filing, listing, closing, reopening, repeating; the calls made about them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from crm import audit
from crm.auth.service import Actor
from crm.blacklist import normalize
from crm.blacklist.screening import screen
from crm.clients.service import get_client
from crm.enums import UNUSABLE, CallKind, CallOutcome, OrganizationKind, RequestStatus, Role
from crm.errors import Forbidden, Invalid, NotFound
from crm.i18n import gettext
from crm.i18n import gettext as _
from crm.labels import WORDS
from crm.models import Call, Client, DialAttempt, Manager, Organization, Request
from crm.numbers import new_request_number
from crm.organizations.models import DeliveryAddress, Payer
from crm.organizations.scope import agent_organization_id, check_request_choices
from crm.pagination import Page, page_of_ids, paginate
from crm.schemas import RequestIn
from crm.search import fold
from crm.sorting import Sort, Sorting


@dataclass(frozen=True)
class RequestRow:
    """A request as the agent or admin sees it in lists and on its page."""

    request: Request
    client: Client
    organization: Organization
    last_call_at: datetime | None
    last_outcome: CallOutcome | None
    payer: Payer | None = None
    delivery_address: DeliveryAddress | None = None


@dataclass(frozen=True)
class PartnerRequestRow:
    """What a partner manager may see: no phone, email, street or house."""

    number: str
    product: str
    client_first_name: str
    city: str | None
    created_at: datetime
    payer: Payer | None = None
    """Who pays, with the bank details: the agent's side's, never the client's."""
    delivery_address: DeliveryAddress | None = None
    """Where the documents go: the agent's side, never the client."""


@dataclass(frozen=True)
class CallRow:
    """One time a manager's call dialed this request's client, or the client called back."""

    kind: str
    """`manager_call`, or `client_callback` (the manager named is the one who was rung)."""
    started_at: datetime
    ended_at: datetime | None
    manager_name: str | None
    organization_name: str | None
    outcome: CallOutcome | None
    bridged_seconds: int


HISTORY_KINDS = {CallKind.MANAGER: "manager_call", CallKind.CALLBACK: "client_callback"}
SORTS = Sorting(
    columns={
        "created": (Request.created_at,),
        "number": (Request.number,),
        "product": (Request.product,),
        "status": (Request.status,),
    },
    tie=Request.id,
    default=Sort("created", descending=True),
)
"""What the requests list sorts by: each column indexed with the id (crm/models.py)."""


def _rows(actor: Actor) -> Select:
    last = aliased(DialAttempt)
    last_dial = (
        select(last.id)
        .where(last.request_id == Request.id)
        .order_by(last.started_at.desc(), last.id.desc())
        .limit(1)
        .correlate(Request)
        .scalar_subquery()
    )
    query = (
        select(
            Request,
            Client,
            Organization,
            DialAttempt.started_at,
            DialAttempt.outcome,
            Payer,
            DeliveryAddress,
        )
        .join(Client, Client.id == Request.client_id)
        .join(Organization, Organization.id == Request.organization_id)
        .outerjoin(DialAttempt, DialAttempt.id == last_dial)
        .outerjoin(Payer, Payer.id == Request.payer_id)
        .outerjoin(DeliveryAddress, DeliveryAddress.id == Request.delivery_address_id)
    )
    return query.where(*_scope(actor))


def _scope(actor: Actor) -> list[ColumnElement[bool]]:
    """Which requests the actor may list: an admin every one, an agent their own."""
    match actor.role:
        case Role.ADMIN:
            return []
        case Role.AGENT:
            return [Request.agent_id == actor.agent_id]
    raise Forbidden(_("managers see requests on their company page only"))


def _row(row: Row[Any]) -> RequestRow:
    return RequestRow(
        request=row[0],
        client=row[1],
        organization=row[2],
        last_call_at=row[3],
        last_outcome=row[4],
        payer=row[5],
        delivery_address=row[6],
    )


async def list_requests(
    session: AsyncSession,
    *,
    actor: Actor,
    status: RequestStatus | None = None,
    suspicious: bool | None = None,
    search: str | None = None,
    sort: Sort | None = None,
    page: int = 1,
    per_page: int = 20,
) -> Page[RequestRow]:
    """A page of the actor's requests in `sort`'s order (newest first), with each one's last call.

    `suspicious` is an admin's filter; for an agent it changes nothing, so the filing side
    cannot learn which of its requests are flagged. `search` finds a request by its number,
    its client's name or its product, in any case and alphabet.
    """
    order = SORTS.order_by(sort)
    filters = _scope(actor)  # refuses a manager before anything is read
    if status is not None:
        filters.append(Request.status == status)
    if suspicious is not None and actor.role is Role.ADMIN:
        filters.append(Request.suspicious == suspicious)
    ids_query = select(Request.id)
    total_query = select(func.count()).select_from(Request)
    if search and search.strip():
        term = fold(search)
        matches = [
            Request.search_text.contains(term, autoescape=True),
            Client.search_text.contains(term, autoescape=True),
        ]
        digits = "".join(ch for ch in search if ch.isdigit())
        if digits and len(digits) == len(search.strip()):
            matches.append(Request.number.startswith(digits, autoescape=True))
        filters.append(or_(*matches))
        ids_query = ids_query.join(Client, Client.id == Request.client_id)
        total_query = total_query.join(Client, Client.id == Request.client_id)
    ids, total = await page_of_ids(
        session,
        ids_query.where(*filters).order_by(*order),
        total=total_query.where(*filters),
        page=page,
        per_page=per_page,
    )
    rows = await session.execute(_rows(actor).where(Request.id.in_(ids)).order_by(*order))
    return Page(items=[_row(row) for row in rows], page=page, per_page=per_page, total=total)


async def get_request(session: AsyncSession, *, actor: Actor, number: str) -> RequestRow:
    """The request with this number, or NotFound when missing or not the actor's."""
    row = (await session.execute(_rows(actor).where(Request.number == number))).first()
    if row is None:
        raise NotFound(f"request {number}")
    return _row(row)


async def request_calls(session: AsyncSession, *, actor: Actor, number: str) -> list[CallRow]:
    """Every time a call dialed the request's client, newest first: who, when, what came of it.

    A manager may reach two requests in one call; each request lists its own dial.
    """
    request = (await get_request(session, actor=actor, number=number)).request
    rows = await session.execute(
        select(
            Call.kind,
            DialAttempt.started_at,
            Call.ended_at,
            Manager.name,
            Organization.name,
            DialAttempt.outcome,
            DialAttempt.talk_seconds,
        )
        .join(Call, Call.id == DialAttempt.call_id)
        .outerjoin(Manager, Manager.id == Call.manager_id)
        .outerjoin(Organization, Organization.id == Manager.organization_id)
        .where(DialAttempt.request_id == request.id)
        .order_by(DialAttempt.started_at.desc(), DialAttempt.id.desc())
    )
    return [
        CallRow(
            kind=HISTORY_KINDS[row[0]],
            started_at=row[1],
            ended_at=row[2],
            manager_name=row[3],
            organization_name=row[4],
            outcome=row[5],
            bridged_seconds=row[6],
        )
        for row in rows
    ]


async def partner_requests(
    session: AsyncSession, *, actor: Actor, page: int = 1, per_page: int = 20
) -> Page[PartnerRequestRow]:
    """A manager's company's open requests, without the client's contact details."""
    if actor.role is not Role.MANAGER or actor.organization_id is None:
        raise Forbidden(_("this list is for partner managers"))
    query = (
        select(
            Request.number,
            Request.product,
            Client.first_name,
            Client.city,
            Request.created_at,
            Payer,
            DeliveryAddress,
        )
        .join(Client, Client.id == Request.client_id)
        .outerjoin(Payer, Payer.id == Request.payer_id)
        .outerjoin(DeliveryAddress, DeliveryAddress.id == Request.delivery_address_id)
        .where(
            Request.organization_id == actor.organization_id, Request.status == RequestStatus.OPEN
        )
        .order_by(Request.created_at.desc(), Request.id.desc())
    )
    result = await paginate(session, query, page=page, per_page=per_page, scalars=False)
    items = [
        PartnerRequestRow(
            number=r[0],
            product=r[1],
            client_first_name=r[2],
            city=r[3],
            created_at=r[4],
            payer=r[5],
            delivery_address=r[6],
        )
        for r in result.items
    ]
    return Page(items=items, page=result.page, per_page=result.per_page, total=result.total)


async def create_request(
    session: AsyncSession,
    *,
    actor: Actor,
    data: RequestIn,
    source_ip: str | None,
    now: datetime,
) -> Request:
    """A new open request with a fresh keypad number, for one of the actor's clients.

    It is checked against the blacklist as it is filed, from `source_ip` (the address it
    came from); the result is filed with it, and the filer is not told.
    """
    try:
        client = await get_client(session, actor=actor, client_id=data.client_id)
    except NotFound:
        raise Invalid.one("client_id", _("no such client")) from None
    partner = await session.get(Organization, data.organization_id)
    if partner is None or partner.kind is not OrganizationKind.PARTNER:
        raise Invalid.one("organization_id", _("no such partner company"))
    if not partner.is_active:
        raise Invalid.one("organization_id", _("this partner company is deactivated"))
    if partner.status in UNUSABLE:
        message = _("the register says this partner company is %(status)s: choose another")
        status = gettext(WORDS[partner.status])
        raise Invalid.one("organization_id", message % {"status": status})
    await check_request_choices(
        session,
        agent_id=client.agent_id,
        payer_id=data.payer_id,
        delivery_address_id=data.delivery_address_id,
    )
    source = normalize.source(source_ip)
    screening = await screen(session, client=client, source_ip=source)
    request = Request(
        number=await _free_number(session),
        agent_id=client.agent_id,
        client_id=client.id,
        organization_id=partner.id,
        product=data.product,
        comment=data.comment,
        payer_id=data.payer_id,
        delivery_address_id=data.delivery_address_id,
        status=RequestStatus.OPEN,
        created_at=now,
        source_ip=source,
        suspicious=screening.suspicious,
        blacklist_matches=screening.blacklist_matches,
        alert_pending=screening.suspicious,
    )
    session.add(request)
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action="create",
        entity="request",
        entity_id=request.number,
        details={"partner": partner.name, "product": request.product},
        now=now,
    )
    return request


async def set_status(
    session: AsyncSession, *, actor: Actor, number: str, status: RequestStatus, now: datetime
) -> Request:
    """Close (the IVR refuses it from now on) or reopen a request; repeating is a no-op."""
    request = (await get_request(session, actor=actor, number=number)).request
    match request.status, status:
        case RequestStatus.OPEN, RequestStatus.CLOSED:
            request.status, request.closed_at = status, now
        case RequestStatus.CLOSED, RequestStatus.OPEN:
            request.status, request.closed_at = status, None
        case _:
            return request
    action = "close" if status is RequestStatus.CLOSED else "reopen"
    await audit.record(
        session, actor=actor, action=action, entity="request", entity_id=request.number, now=now
    )
    return request


async def repeat_request(
    session: AsyncSession,
    *,
    actor: Actor,
    number: str,
    source_ip: str | None,
    now: datetime,
) -> Request:
    """A new open request with the same client, partner and product (a renewal), and the
    same payer and delivery address while they are still active ones of the organization
    of the client's agent (else none).

    It is filed, and checked, as a new request from `source_ip`.
    """
    past = (await get_request(session, actor=actor, number=number)).request
    payer_id, address_id = await _still_choosable(session, past)
    data = RequestIn(
        client_id=past.client_id,
        organization_id=past.organization_id,
        product=past.product,
        comment=past.comment,
        payer_id=payer_id,
        delivery_address_id=address_id,
    )
    request = await create_request(session, actor=actor, data=data, source_ip=source_ip, now=now)
    await audit.record(
        session,
        actor=actor,
        action="repeat",
        entity="request",
        entity_id=request.number,
        details={"from": past.number},
        now=now,
    )
    return request


async def _still_choosable(session: AsyncSession, past: Request) -> tuple[int | None, int | None]:
    """The past request's payer and delivery address if a new request may name them still:
    active, and of the organization the client's agent belongs to now."""
    if past.payer_id is None and past.delivery_address_id is None:
        return None, None
    agent_id = await session.scalar(select(Client.agent_id).where(Client.id == past.client_id))
    organization_id = await agent_organization_id(session, agent_id=agent_id)
    if organization_id is None:
        return None, None
    payer = await session.get(Payer, past.payer_id) if past.payer_id else None
    address = (
        await session.get(DeliveryAddress, past.delivery_address_id)
        if past.delivery_address_id
        else None
    )

    def usable(item: Payer | DeliveryAddress | None) -> int | None:
        if item is None or not item.is_active or item.organization_id != organization_id:
            return None
        return item.id

    return usable(payer), usable(address)


async def _free_number(session: AsyncSession) -> str:
    for _attempt in range(20):
        number = new_request_number()
        if not await session.scalar(select(func.count()).where(Request.number == number)):
            return number
    raise RuntimeError("no free request number after 20 tries")
