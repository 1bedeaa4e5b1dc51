"""A CRM user over real HTTP: logs in through the form, sends forms with their CSRF token."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

import aiohttp
from sqlalchemy import select

from crm.auth.models import User
from crm.auth.service import Actor, load_actor
from crm.demo import CLIENTS
from crm.models import Client

AGENT = ("agent@example.com", "demo-agent-pass")
ADMIN = ("admin@example.com", "demo-admin-pass")
MANAGER = ("anna@polis.example.com", "demo-manager-pass")
OTHER_AGENT = ("other.agent@example.com", "other-agent-pass")
IVAN = dict(CLIENTS[0])
"""The demo agent's first client, with every field a manager must never see."""
CSRF = re.compile(r'name="_csrf" value="([^"]+)"')


@dataclass(frozen=True)
class Reply:
    status: int
    text: str
    path: str
    """The path (and query) of the last URL, after any redirects."""
    location: str = ""


class CrmClient:
    """One browser: its own cookies, forms posted with the token read from their page."""

    def __init__(self, base_url: str, *, headers: dict[str, str] | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = aiohttp.ClientSession(
            cookie_jar=aiohttp.CookieJar(unsafe=True), headers=headers
        )

    async def close(self) -> None:
        await self.http.close()

    async def _reply(self, response: aiohttp.ClientResponse) -> Reply:
        return Reply(
            status=response.status,
            text=await response.text(),
            path=response.url.path_qs,
            location=response.headers.get("Location", ""),
        )

    async def get(self, path: str, *, follow: bool = True) -> Reply:
        async with self.http.get(self.base_url + path, allow_redirects=follow) as response:
            return await self._reply(response)

    async def token(self, page: str) -> str:
        """The CSRF token of the form on `page` (as a browser would have it)."""
        reply = await self.get(page)
        found = CSRF.search(reply.text)
        assert found, f"no CSRF field on {page} (status {reply.status})"
        return html.unescape(found.group(1))

    async def submit(
        self, page: str, data: dict[str, str], *, action: str | None = None, follow: bool = True
    ) -> Reply:
        """Open `page`, then post `data` with its token to `action` (default: the page)."""
        form = {"_csrf": await self.token(page), **data}
        return await self.post(action or page, form, follow=follow)

    async def post(
        self, path: str, data: dict[str, str] | list[tuple[str, str]], *, follow: bool = True
    ) -> Reply:
        """A raw post: no token unless `data` carries one (pairs for a repeated field)."""
        async with self.http.post(
            self.base_url + path, data=data, allow_redirects=follow
        ) as response:
            return await self._reply(response)

    async def login(self, email: str, password: str) -> Reply:
        return await self.submit("/login", {"email": email, "password": password})


def has_text(page: str, text: str) -> bool:
    """Whether `text` shows on the page as a user reads it (entities decoded)."""
    return text in html.unescape(page)


async def account_actor(session, email: str) -> Actor:
    """The actor of a demo account, for setting data up through the services."""
    user_id = await session.scalar(select(User.id).where(User.email == email))
    actor = await load_actor(session, user_id=user_id) if user_id else None
    if actor is None:
        raise LookupError(f"no active account {email}")
    return actor


async def client_id(sessions, *, phone: str) -> int:
    async with sessions() as session:
        return await session.scalar(select(Client.id).where(Client.phone == phone))
