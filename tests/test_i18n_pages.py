"""Every page in Russian and in English, for every role: no message id left untranslated."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from sqlalchemy import select

from crm.blacklist.models import BlacklistRule
from crm.models import Client, Organization, Request
from crm.routes import create_pages_app
from ivr.simulator import ScriptedCaller
from tests.conftest import SESSION_KEY, make_config
from tests.crm_client import ADMIN, AGENT, MANAGER, CrmClient
from tests.helpers import ANNA, open_polis
from tests.logcapture import captured_logs, log_events

pytest_plugins = ("tests.crm_fixtures",)

ROLES = {"anonymous": None, "agent": AGENT, "manager": MANAGER, "admin": ADMIN}
ENGLISH_WORDS = frozenset(
    "the a an of to is are no not yet in for and or this that with by on from your you "
    "was were has have be been will can may none any all".split()
)
"""Words that mark an English sentence (names, products and emails rarely hold them)."""
LATIN_RUN = re.compile(r"[A-Za-z]+(?:[’'][a-z]+)?")
READ_ATTRIBUTES = ("title", "placeholder", "aria-label", "data-label", "alt")


@pytest.fixture(params=["ru", "en"])
def language(request) -> str:
    return request.param


@pytest.fixture
def config(database_url: str, language: str):
    return make_config(
        database_url,
        web={"session_key": SESSION_KEY, "language": language, "timezone": "Europe/Moscow"},
    )


class _Text(HTMLParser):
    """The text a person reads on a page: text nodes and the attributes shown to them."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        for name, value in attrs:
            if value and (
                name in READ_ATTRIBUTES
                or (tag == "input" and name == "value" and ("type", "submit") in attrs)
            ):
                self.parts.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip():
            self.parts.append(data.strip())


def english_sentences(page: str, data: frozenset[str] = frozenset()) -> list[str]:
    """Texts of the page that read as English (two Latin words, one of them a function word);
    `data` are stored values (a product, a note), which are shown as typed."""
    parser = _Text()
    parser.feed(page)
    found = []
    for text in parser.parts:
        for value in data:
            text = text.replace(value, "")
        words = [word.lower() for word in LATIN_RUN.findall(text)]
        if len(words) >= 2 and ENGLISH_WORDS & set(words):
            found.append(text)
    return found


async def page_paths(sessions, demo) -> list[str]:
    """Every GET page of the CRM, its parameters taken from the demo data."""
    async with sessions() as session:
        values = {
            "number": open_polis(demo)["number"],
            "client_id": str(await session.scalar(select(Client.id).limit(1))),
            "organization_id": str(await session.scalar(select(Organization.id).limit(1))),
            "rule_id": str(await session.scalar(select(BlacklistRule.id).limit(1))),
            "token": "a-link-that-was-never-sent",
        }
    paths = []
    for route in create_pages_app(make_config("sqlite+aiosqlite://")).router.routes():
        if route.method != "GET" or route.name in (
            "static",
            "requests.recording",
            "clients.lookup",
        ):
            continue
        canonical = route.resource.canonical if route.resource else ""
        names = re.findall(r"\{(\w+)\}", canonical)
        missing = [name for name in names if name not in values]
        assert not missing, f"give the walk a value for {missing} of {canonical}"
        paths.append(re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], canonical))
    return paths


@pytest.fixture
async def lived_in(simulator, admin, demo, sessions):
    """Demo data with a call made and a blacklist rule, so lists have rows to label."""
    await simulator.call(
        ScriptedCaller([f"{open_polis(demo)['number']}#"], talk_seconds=70), from_number=ANNA
    )
    form = await admin.submit("/admin/blacklist/new", {"last_name": "Sidorov", "note": "walk"})
    assert form.status == 200, form.text
    async with sessions() as session:
        assert await session.scalar(select(BlacklistRule.id).limit(1)) is not None


async def test_every_page_for_every_role_is_fully_translated(
    browser, server, sessions, demo, lived_in, language
):
    paths = await page_paths(sessions, demo)
    async with sessions() as session:
        stored = await session.execute(select(Request.product, Request.comment))
        data = frozenset(value for row in stored for value in row if value)
    for role, credentials in ROLES.items():
        client: CrmClient = await browser(credentials)
        with captured_logs(level="warning") as stream:
            for path in paths:
                reply = await client.get(path)
                assert reply.status in (200, 403, 404, 410), (role, path, reply.status)
                assert f'<html lang="{language}">' in reply.text, (role, path)
                if language == "ru":
                    assert not english_sentences(reply.text, data), (role, path)
        missing = [e for e in log_events(stream) if e["event"] == "translation_missing"]
        assert not missing, (role, sorted({e["msgid"] for e in missing}))


def test_the_english_detector_sees_english_and_passes_russian():
    assert english_sentences("<p>No calls yet.</p>") == ["No calls yet."]
    assert english_sentences('<td data-label="Last call">—</td>') == []
    assert english_sentences('<input placeholder="Travel insurance">') == []
    assert english_sentences('<input placeholder="Search in the list">')
    assert (
        english_sentences("<p>Звонков пока нет. Travel insurance, anna@polis.example.com</p>") == []
    )
    assert english_sentences("<script>if (a and b) {}</script>") == []
