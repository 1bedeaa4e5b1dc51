"""Agents' organizations, their requests and bridged calls, written straight to the database."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

from sqlalchemy import select, update

from crm.auth.models import User
from crm.enums import CallKind, CallOutcome, CallStage, OrganizationKind, RequestStatus
from crm.models import Agent, Call, Client, DialAttempt, Organization, Request
from crm.numbers import with_check_digit
from ivr.simulator import new_sid

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
_bodies = itertools.count(7_300_000)
_phones = itertools.count(79_260_000_000)


async def add_organization(
    session, name: str, *, inn: str = "7707083893", kpp: str = "", main: Organization | None = None
) -> Organization:
    organization = Organization(
        name=name,
        kind=OrganizationKind.AGENCY,
        inn=inn,
        kpp=kpp,
        main_organization_id=main.id if main else None,
        created_at=T0,
    )
    session.add(organization)
    await session.flush()
    return organization


async def add_agent(session, name: str, organization: Organization | None) -> Agent:
    email = name.lower().replace(" ", ".") + "@agents.example.com"
    agent = Agent(
        name=name,
        email=email,
        organization_id=organization.id if organization else None,
        created_at=T0,
    )
    session.add(agent)
    await session.flush()
    return agent


async def partner_id(session, name: str = "Polis Insurance") -> int:
    return await session.scalar(select(Organization.id).where(Organization.name == name))


async def add_request(session, agent_id: int, *, partner: int) -> Request:
    """An open request of a new client of the agent's, for the partner company."""
    client = Client(
        agent_id=agent_id,
        first_name="Pavel",
        last_name="Egorov",
        phone=f"+{next(_phones)}",
        created_at=T0,
    )
    session.add(client)
    await session.flush()
    request = Request(
        number=with_check_digit(str(next(_bodies))),
        agent_id=agent_id,
        client_id=client.id,
        organization_id=partner,
        product="Leasing",
        status=RequestStatus.OPEN,
        created_at=T0,
    )
    session.add(request)
    await session.flush()
    return request


async def add_dial(
    session, request: Request, *, outcome: CallOutcome = CallOutcome.BRIDGED
) -> DialAttempt:
    """A manager's call that dialed the request's client, as the call flow leaves it ended."""
    call = Call(
        call_sid=new_sid(),
        kind=CallKind.MANAGER,
        caller="+79990000001",
        request_id=request.id,
        stage=CallStage.ENDED,
        outcome=outcome,
        attempts=1,
        dials=1,
        started_at=T0,
        ended_at=T0,
    )
    session.add(call)
    await session.flush()
    bridged = outcome is CallOutcome.BRIDGED
    dial = DialAttempt(
        call_id=call.id,
        request_id=request.id,
        started_at=T0,
        outcome=outcome,
        client_accepted=bridged,
        dial_status="completed" if bridged else "no-answer",
        talk_seconds=60 if bridged else 0,
    )
    session.add(dial)
    await session.flush()
    return dial


async def join(sessions, email: str, organization_id: int | None) -> int:
    """Put the agent with this login into the organization; the agent's id."""
    async with sessions.begin() as session:
        agent_id = await session.scalar(select(User.agent_id).where(User.email == email))
        await session.execute(
            update(Agent).where(Agent.id == agent_id).values(organization_id=organization_id)
        )
    return agent_id
