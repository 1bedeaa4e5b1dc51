"""JSON API tests' helpers: bearer keys for demo users, calls over real HTTP."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
from sqlalchemy import select

from crm.auth.models import User
from crm.auth.service import Actor, issue_api_key, load_actor
from crm.demo import ACCOUNTS, CLIENTS
from crm.enums import Role
from crm.partners.service import create_agent
from crm.schemas import AgentIn

ADMIN = ACCOUNTS[Role.ADMIN]["email"]
AGENT = ACCOUNTS[Role.AGENT]["email"]
MANAGER = ACCOUNTS[Role.MANAGER]["email"]
OTHER_AGENT = "other.agent@example.com"
IVAN = CLIENTS[0]
MARIA = CLIENTS[1]
NEW_CLIENT = {
    "first_name": "Olga",
    "last_name": "Ivanova",
    "phone": "8 (912) 345-67-89",
    "email": "Olga@Example.com",
    "street": "Lenina",
    "house": "5",
    "postal_code": "620014",
    "city": "Yekaterinburg",
}


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Any
    text: str

    @property
    def json(self) -> Any:
        return json.loads(self.text)

    @property
    def fields(self) -> dict[str, str]:
        """The `fields` of an error answer."""
        return self.json["error"]["fields"]


class Api:
    """One caller of the API: a bearer key (or none) over a shared HTTP session."""

    def __init__(self, http: aiohttp.ClientSession, base: str, key: str | None) -> None:
        self.http, self.base, self.key = http, base.rstrip("/"), key

    async def call(
        self, method: str, path: str, *, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> Reply:
        sent = {"Authorization": f"Bearer {self.key}"} if self.key else {}
        async with self.http.request(
            method,
            self.base + path,
            headers={**sent, **(headers or {})},
            allow_redirects=False,
            **kwargs,
        ) as reply:
            return Reply(reply.status, reply.headers, await reply.text())

    async def get(self, path: str, **kwargs: Any) -> Reply:
        return await self.call("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> Reply:
        return await self.call("POST", path, **kwargs)

    async def put(self, path: str, **kwargs: Any) -> Reply:
        return await self.call("PUT", path, **kwargs)


async def account_actor(sessions, email: str) -> Actor:
    async with sessions() as session:
        user_id = await session.scalar(select(User.id).where(User.email == email))
        actor = await load_actor(session, user_id=user_id) if user_id else None
    if actor is None:
        raise LookupError(f"no active account {email}")
    return actor


async def issue_key(sessions, email: str) -> str:
    """A fresh key for the account with this email, issued by the demo admin."""
    admin = await account_actor(sessions, ADMIN)
    async with sessions.begin() as session:
        user_id = await session.scalar(select(User.id).where(User.email == email))
        _, plain = await issue_api_key(
            session, actor=admin, user_id=user_id, name="tests", now=datetime.now(UTC)
        )
    return plain


class Apis:
    """Callers for the demo accounts, a second agent, a given key or no key at all."""

    def __init__(self, server, http: aiohttp.ClientSession, sessions) -> None:
        self.base, self.http, self.sessions = str(server.make_url("")), http, sessions

    def with_key(self, key: str | None) -> Api:
        return Api(self.http, self.base, key)

    async def as_user(self, email: str) -> Api:
        return self.with_key(await issue_key(self.sessions, email))

    async def other_agent(self) -> Api:
        """A second agent, with no clients or requests of its own."""
        admin = await account_actor(self.sessions, ADMIN)
        async with self.sessions.begin() as session:
            await create_agent(
                session,
                actor=admin,
                now=datetime.now(UTC),
                data=AgentIn(name="Other Agent", email=OTHER_AGENT, password="other-agent-pass"),
            )
        return await self.as_user(OTHER_AGENT)


def demo_client_id(items: list[dict], spec: dict) -> int:
    return next(item["id"] for item in items if item["phone"] == spec["phone"])
