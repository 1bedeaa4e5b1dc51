"""Clients: an agent reaches only its own; an admin all; a manager none."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm import audit
from crm.auth.service import Actor
from crm.enums import Role
from crm.errors import Forbidden, Invalid, NotFound
from crm.i18n import gettext as _
from crm.models import Agent, Client
from crm.pagination import Page, paginate
from crm.schemas import ClientIn
from crm.search import fold
from crm.sorting import Sort, Sorting

SORTS = Sorting(
    columns={
        "name": (Client.last_name, Client.first_name),
        "email": (Client.email,),
        "city": (Client.city,),
        "phone": (Client.phone,),
    },
    tie=Client.id,
    default=Sort("name"),
)
"""What the clients list sorts by: each column indexed with the id (crm/models.py)."""
LOOKUP_LIMIT = 20


def _scope(actor: Actor) -> Select[tuple[Client]]:
    match actor.role:
        case Role.ADMIN:
            return select(Client)
        case Role.AGENT:
            return select(Client).where(Client.agent_id == actor.agent_id)
    raise Forbidden(_("managers have no access to clients"))


async def list_clients(
    session: AsyncSession,
    *,
    actor: Actor,
    search: str | None = None,
    sort: Sort | None = None,
    page: int = 1,
    per_page: int = 20,
) -> Page[Client]:
    """A page of the actor's clients in `sort`'s order (by name), filtered by `search`."""
    query = _searched(_scope(actor), search).order_by(*SORTS.order_by(sort))
    return await paginate(session, query, page=page, per_page=per_page)


def _searched(query: Select[tuple[Client]], search: str | None) -> Select[tuple[Client]]:
    """The clients whose name, email or city holds `search`, or whose phone its 3+ digits."""
    if not search or not search.strip():
        return query
    digits = "".join(ch for ch in search if ch.isdigit())
    # Folded on both sides, so any alphabet's case matches on either database;
    # autoescape: a typed `%`, `_` or `/` matches itself, not any text.
    conditions: list[ColumnElement[bool]] = [
        Client.search_text.contains(fold(search), autoescape=True)
    ]
    if len(digits) >= 3:
        conditions.append(Client.phone.contains(digits, autoescape=True))
    return query.where(or_(*conditions))


async def lookup_clients(
    session: AsyncSession, *, actor: Actor, search: str | None, limit: int = LOOKUP_LIMIT
) -> list[Client]:
    """At most `limit` of the actor's clients matching `search` as the list does, by name."""
    query = _searched(_scope(actor), search).order_by(*SORTS.order_by(SORTS.default))
    return list(await session.scalars(query.limit(limit)))


def client_label(client: Client) -> str:
    """How the request form names a client: 'Petrov Ivan, Moscow' (never a phone or email)."""
    name = f"{client.last_name} {client.first_name}"
    return f"{name}, {client.city}" if client.city else name


async def client_labels(
    session: AsyncSession, *, actor: Actor, clients: list[Client]
) -> dict[int, str]:
    """Each client's label, one of namesakes (the actor's clients of one name and city)
    told apart by the last four digits of the phone: 'Petrov Ivan, Moscow · …4567'."""
    labels = {client.id: client_label(client) for client in clients}
    if not clients:
        return labels
    same = _scope(actor).where(Client.last_name.in_({client.last_name for client in clients}))
    seen: dict[str, int] = {}
    for other in await session.scalars(same):
        seen[client_label(other)] = seen.get(client_label(other), 0) + 1
    return {
        client.id: f"{label} · …{client.phone[-4:]}" if seen.get(label, 0) > 1 else label
        for client, label in ((client, labels[client.id]) for client in clients)
    }


async def get_client(session: AsyncSession, *, actor: Actor, client_id: int) -> Client:
    """The client, or NotFound when it is missing or someone else's."""
    client = await session.scalar(_scope(actor).where(Client.id == client_id))
    if client is None:
        raise NotFound(f"client {client_id}")
    return client


async def create_client(
    session: AsyncSession,
    *,
    actor: Actor,
    data: ClientIn,
    now: datetime,
    agent_id: int | None = None,
) -> Client:
    """A new client of the acting agent (an admin names the agent)."""
    if actor.role is Role.AGENT:
        agent_id = actor.agent_id
    elif actor.role is not Role.ADMIN:
        raise Forbidden(_("managers cannot create clients"))
    if agent_id is None:
        raise Invalid.one("agent_id", _("choose the agent this client belongs to"))
    if actor.role is Role.ADMIN and await session.get(Agent, agent_id) is None:
        raise Invalid.one("agent_id", _("no such agent"))
    client = Client(agent_id=agent_id, created_at=now, **data.model_dump())
    session.add(client)
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action="create",
        entity="client",
        entity_id=client.id,
        details={"name": _name(client)},
        now=now,
    )
    return client


async def update_client(
    session: AsyncSession, *, actor: Actor, client_id: int, data: ClientIn, now: datetime
) -> Client:
    client = await get_client(session, actor=actor, client_id=client_id)
    changed = {
        key: value for key, value in data.model_dump().items() if getattr(client, key) != value
    }
    for key, value in changed.items():
        setattr(client, key, value)
    if changed:
        await audit.record(
            session,
            actor=actor,
            action="update",
            entity="client",
            entity_id=client.id,
            details={"fields": sorted(changed)},
            now=now,
        )
    return client


def _name(client: Client) -> str:
    return f"{client.first_name} {client.last_name}"
