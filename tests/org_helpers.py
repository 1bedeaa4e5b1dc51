"""Agents' organizations, payers and addresses set up straight in the test database."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from crm.auth.models import User
from crm.enums import OrganizationKind
from crm.models import Agent, Organization

AGENCY = {"inn": "7736207543", "kpp": "773601001", "name": "Agency Yandex"}
OTHER_AGENCY = {"inn": "7710140679", "kpp": "771301001", "name": "Agency Tinkoff"}

SBER = "044525225"
SBER_ACCOUNT = "40702810200000000001"
"""A current account at Sberbank (BIK 044525225) whose control key is right."""
TBANK = "044525974"
TBANK_ACCOUNT = "40702810500000000001"
"""The same account number at T-Bank: its control key is right for that BIK only."""


async def give_organization(sessions, email: str, spec: dict[str, str] = AGENCY) -> int:
    """The agent of this login belongs to the agents' organization of `spec` (made once)."""
    async with sessions.begin() as session:
        organization = await session.scalar(
            select(Organization).where(
                Organization.inn == spec["inn"], Organization.kpp == spec["kpp"]
            )
        )
        if organization is None:
            organization = Organization(
                name=spec["name"],
                inn=spec["inn"],
                kpp=spec["kpp"],
                kind=OrganizationKind.AGENCY,
                created_at=datetime.now(UTC),
            )
            session.add(organization)
            await session.flush()
        agent_id = await session.scalar(select(User.agent_id).where(User.email == email))
        agent = await session.get_one(Agent, agent_id)
        agent.organization_id = organization.id
        return organization.id


async def take_organization(sessions, email: str) -> None:
    """The agent of this login has no organization again."""
    async with sessions.begin() as session:
        agent_id = await session.scalar(select(User.agent_id).where(User.email == email))
        (await session.get_one(Agent, agent_id)).organization_id = None
