"""Demo data for a newcomer: two partner companies, their managers, an agent, requests."""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.auth.models import User
from crm.auth.passwords import hash_password
from crm.auth.service import create_user
from crm.enums import OrganizationKind, RequestStatus, Role
from crm.models import Agent, Client, Manager, ManagerPhone, Organization, Request
from crm.numbers import with_check_digit
from crm.organizations.store import head_of, stored

PARTNERS: list[dict[str, Any]] = [
    {
        "name": "Polis Insurance",
        "inn": "7707083893",
        "managers": [{"name": "Anna Sokolova", "phones": ["+79990000001", "+79990000011"]}],
    },
    {
        "name": "Sunny Tours",
        "inn": "7736207543",
        "managers": [{"name": "Boris Orlov", "phones": ["+79990000002"]}],
    },
]
AGENT = {"name": "Demo Agent", "email": "agent@example.com"}
ACCOUNTS: dict[Role, dict[str, str]] = {
    Role.ADMIN: {"email": "admin@example.com", "password": "demo-admin-pass", "name": "Demo Admin"},
    Role.AGENT: {"email": "agent@example.com", "password": "demo-agent-pass", "name": "Demo Agent"},
    Role.MANAGER: {
        "email": "anna@polis.example.com",
        "password": "demo-manager-pass",
        "name": "Anna Sokolova",
    },
}
CLIENTS: list[dict[str, str]] = [
    {
        "first_name": "Ivan",
        "last_name": "Petrov",
        "phone": "+79161234567",
        "email": "ivan.petrov@example.com",
        "street": "Tverskaya",
        "house": "12",
        "postal_code": "125009",
        "city": "Moscow",
    },
    {
        "first_name": "Maria",
        "last_name": "Smirnova",
        "phone": "+79037654321",
        "email": "maria.smirnova@example.com",
        "street": "Nevsky prospekt",
        "house": "28",
        "postal_code": "191186",
        "city": "Saint Petersburg",
    },
]
REQUESTS: list[dict[str, Any]] = [
    {
        "body": "4812357",
        "partner": "Polis Insurance",
        "client": 0,
        "product": "CASCO renewal",
        "status": RequestStatus.OPEN,
    },
    {
        "body": "5120394",
        "partner": "Polis Insurance",
        "client": 1,
        "product": "OSAGO",
        "status": RequestStatus.CLOSED,
    },
    {
        "body": "6375021",
        "partner": "Sunny Tours",
        "client": 1,
        "product": "Package tour to Sochi",
        "status": RequestStatus.OPEN,
    },
]


async def seed_demo(session: AsyncSession, *, now: datetime | None = None) -> dict[str, Any]:
    """Insert what is missing of the demo data (idempotent) and describe all of it."""
    now = now or datetime.now(UTC)
    partners: dict[str, Organization] = {}
    summary_partners = []
    for spec in PARTNERS:
        # A partner company: an agents' organization of the same INN is another record.
        org = await head_of(
            session, number=spec["inn"], kind=OrganizationKind.PARTNER
        ) or await stored(session, number=spec["inn"], kpp=None, kind=OrganizationKind.PARTNER)
        if org is None:
            org = Organization(
                name=spec["name"], inn=spec["inn"], kind=OrganizationKind.PARTNER, created_at=now
            )
            session.add(org)
            await session.flush()
        partners[spec["name"]] = org
        managers = []
        for manager_spec in spec["managers"]:
            await _ensure_manager(session, org, manager_spec, now)
            managers.append({"name": manager_spec["name"], "phones": manager_spec["phones"]})
        summary_partners.append({"name": org.name, "inn": org.inn, "managers": managers})

    agent = await session.scalar(select(Agent).where(Agent.email == AGENT["email"]))
    if agent is None:
        agent = Agent(name=AGENT["name"], email=AGENT["email"], created_at=now)
        session.add(agent)
        await session.flush()
    clients = [await _ensure_client(session, agent, spec, now) for spec in CLIENTS]

    summary_requests = []
    for spec in REQUESTS:
        number = with_check_digit(spec["body"])
        request = await session.scalar(select(Request).where(Request.number == number))
        if request is None:
            client = clients[spec["client"]]
            request = Request(
                number=number,
                agent_id=agent.id,
                client_id=client.id,
                organization_id=partners[spec["partner"]].id,
                product=spec["product"],
                status=spec["status"],
                created_at=now,
                closed_at=now if spec["status"] is RequestStatus.CLOSED else None,
            )
            session.add(request)
            await session.flush()
        summary_requests.append(
            {
                "number": request.number,
                "status": request.status.value,
                "partner": spec["partner"],
                "product": request.product,
                "client_phone": clients[spec["client"]].phone,
            }
        )
    first_phone = PARTNERS[0]["managers"][0]["phones"][0]
    anna = await session.scalar(
        select(ManagerPhone.manager_id).where(ManagerPhone.phone == first_phone)
    )
    links: dict[Role, dict[str, Any]] = {
        Role.ADMIN: {},
        Role.AGENT: {"agent_id": agent.id},
        Role.MANAGER: {"manager_id": anna},
    }
    accounts = []
    for role, account in ACCOUNTS.items():
        if not await session.scalar(select(User.id).where(User.email == account["email"])):
            await create_user(
                session,
                role=role,
                now=now,
                email=account["email"],
                name=account["name"],
                password=account["password"],
                **links[role],
                password_hash=_demo_hash(account["password"]),
            )
        accounts.append({"role": role.value, **account})
    return {
        "agent": AGENT,
        "accounts": accounts,
        "partners": summary_partners,
        "requests": summary_requests,
    }


@functools.cache
def _demo_hash(password: str) -> str:
    """Demo passwords are public anyway; hashing each once per process keeps seeding fast."""
    return hash_password(password)


async def _ensure_manager(
    session: AsyncSession, org: Organization, spec: dict[str, Any], now: datetime
) -> None:
    known = set(
        (
            await session.scalars(
                select(ManagerPhone.phone).where(ManagerPhone.phone.in_(spec["phones"]))
            )
        ).all()
    )
    if known:
        return
    manager = Manager(organization_id=org.id, name=spec["name"], created_at=now)
    session.add(manager)
    await session.flush()
    session.add_all(ManagerPhone(manager_id=manager.id, phone=phone) for phone in spec["phones"])


async def _ensure_client(
    session: AsyncSession, agent: Agent, spec: dict[str, Any], now: datetime
) -> Client:
    client = await session.scalar(
        select(Client).where(Client.agent_id == agent.id, Client.phone == spec["phone"])
    )
    if client is None:
        client = Client(agent_id=agent.id, created_at=now, **spec)
        session.add(client)
        await session.flush()
    return client
