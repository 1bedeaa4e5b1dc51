"""Changing your own password on the profile page: the current one first, the rules, the
other sessions signed out, this one kept."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from crm.audit import AuditEntry
from ivr.app import create_app
from tests.crm_client import AGENT, has_text
from tests.signup_helpers import Clock

pytest_plugins = ("tests.crm_fixtures",)

NEW = "violet-harbour-2026"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def server(aiohttp_server, config, engine, clock):
    return await aiohttp_server(create_app(config, clock=clock))


async def change(browser, current: str, password: str, repeat: str | None = None):
    data = {
        "current_password": current,
        "password": password,
        "password_repeat": password if repeat is None else repeat,
    }
    return await browser.submit("/profile", data, action="/profile/password")


def field_errors(page: str) -> set[str]:
    """The fields a page marks as wrong."""
    return {
        name
        for name in ("current_password", "password", "password_repeat", "language", "timezone")
        if f'id="error-{name}"' in page
    }


async def test_a_wrong_current_password_is_refused_naming_the_field(agent, browser):
    reply = await change(agent, "not-my-password", NEW)
    assert reply.status == 422
    assert field_errors(reply.text) == {"current_password"}
    assert has_text(reply.text, "this is not your current password")
    assert (await (await browser()).login(*AGENT)).path == "/requests"  # unchanged


async def test_the_new_password_must_follow_the_rules_and_be_typed_twice(agent):
    common = await change(agent, AGENT[1], "password123")
    assert (common.status, field_errors(common.text)) == (422, {"password"})
    assert has_text(common.text, "one of the most common ones")
    short = await change(agent, AGENT[1], "short")
    assert (short.status, field_errors(short.text)) == (422, {"password"})
    mismatch = await change(agent, AGENT[1], NEW, NEW + "!")
    assert (mismatch.status, field_errors(mismatch.text)) == (422, {"password_repeat"})


async def test_a_change_ends_every_other_session_but_not_this_one(browser, sessions):
    here, elsewhere = await browser(AGENT), await browser(AGENT)
    reply = await change(here, AGENT[1], NEW)
    assert (reply.status, reply.path) == (200, "/profile")
    assert has_text(reply.text, "Your password is changed. Every other session is signed out.")
    assert (await here.get("/requests")).path == "/requests"
    assert (await elsewhere.get("/requests")).path.startswith("/login")
    assert (await (await browser()).login(*AGENT)).path.startswith("/login")
    assert (await (await browser()).login(AGENT[0], NEW)).path == "/requests"
    async with sessions() as session:
        entry = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "change_password")
        )
    assert entry is not None and entry.actor == AGENT[0]
    assert NEW not in entry.details and AGENT[1] not in entry.details
    assert json.loads(entry.details) == {}


async def test_wrong_current_passwords_are_throttled_like_logins(agent, clock):
    for _ in range(4):  # three are free, the fourth earns a short wait
        assert (await change(agent, "not-my-password", NEW)).status == 422
    refused = await change(agent, AGENT[1], NEW)
    assert refused.status == 429
    assert field_errors(refused.text) == {"current_password"}
    assert has_text(refused.text, "Too many wrong passwords. Try again in 2 seconds.")
    clock.advance(60)
    assert (await change(agent, AGENT[1], NEW)).path == "/profile"
