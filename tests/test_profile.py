"""The profile page: each person's language and time zone, and the defaults before login."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from crm.audit import AuditEntry
from crm.auth.models import User
from tests.conftest import SESSION_KEY, make_config
from tests.crm_client import AGENT, CrmClient, has_text
from tests.helpers import open_polis

pytest_plugins = ("tests.crm_fixtures",)


async def stored_user(sessions, email: str) -> User:
    async with sessions() as session:
        return await session.scalar(select(User).where(User.email == email))


async def test_an_agent_switches_to_russian_and_every_next_page_follows(agent, sessions):
    page = await agent.get("/profile")
    assert page.status == 200 and '<html lang="en">' in page.text
    saved = await agent.submit("/profile", {"language": "ru", "timezone": ""})
    assert saved.status == 200 and saved.path == "/profile"
    assert '<html lang="ru">' in saved.text and has_text(saved.text, "Настройки сохранены.")
    requests = await agent.get("/requests")
    assert '<html lang="ru">' in requests.text and has_text(requests.text, "Выйти")
    user = await stored_user(sessions, AGENT[0])
    assert (user.language, user.timezone) == ("ru", None)
    async with sessions() as session:
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "settings"))
    assert entry is not None and json.loads(entry.details) == {"language": "ru"}


async def test_back_to_the_default_language_follows_the_config(agent, sessions):
    await agent.submit("/profile", {"language": "ru", "timezone": ""})
    back = await agent.submit("/profile", {"language": "", "timezone": ""})
    assert '<html lang="en">' in back.text  # the test config's web.language
    assert (await stored_user(sessions, AGENT[0])).language is None


async def test_a_chosen_time_zone_dates_every_page(agent, sessions, demo):
    saved = await agent.submit("/profile", {"language": "", "timezone": "Asia/Vladivostok"})
    assert saved.status == 200
    assert (await stored_user(sessions, AGENT[0])).timezone == "Asia/Vladivostok"
    assert 'value="Asia/Vladivostok" selected' in saved.text
    request = await agent.get(f"/requests/{open_polis(demo)['number']}")
    assert 'title="Asia/Vladivostok (UTC+10:00)"' in request.text


@pytest.mark.parametrize(
    ("field", "value"), [("timezone", "Mars/Olympus_Mons"), ("language", "de")]
)
async def test_an_unknown_choice_is_refused_naming_the_field(agent, sessions, field, value):
    form = {"language": "", "timezone": "", field: value}
    refused = await agent.submit("/profile", form)
    assert refused.status == 422
    assert f'id="error-{field}"' in refused.text
    user = await stored_user(sessions, AGENT[0])
    assert (user.language, user.timezone) == (None, None)


async def test_anonymous_pages_follow_the_browser_language(server, demo):
    for header, language in (("ru-RU,ru;q=0.9", "ru"), ("en-GB,en;q=0.8", "en")):
        client = CrmClient(str(server.make_url("")), headers={"Accept-Language": header})
        try:
            page = await client.get("/login")
        finally:
            await client.close()
        assert f'<html lang="{language}">' in page.text, header


class TestRussianByDefault:
    """With the shipped defaults (web.language: ru, Europe/Moscow)."""

    @pytest.fixture
    def config(self, database_url):
        return make_config(database_url, web={"session_key": SESSION_KEY})

    async def test_the_login_page_is_russian_without_any_choice(self, server, demo):
        client = CrmClient(str(server.make_url("")))
        try:
            page = await client.get("/login")
        finally:
            await client.close()
        assert '<html lang="ru">' in page.text and has_text(page.text, "Войти")

    async def test_a_person_who_chose_english_reads_english(self, agent):
        assert '<html lang="ru">' in (await agent.get("/requests")).text
        saved = await agent.submit("/profile", {"language": "en", "timezone": ""})
        assert '<html lang="en">' in saved.text and has_text(saved.text, "Your settings are saved.")
