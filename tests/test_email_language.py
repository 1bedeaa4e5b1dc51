"""The admins' letters are written in `web.language`, their times on `web.timezone`'s clock:
they go to `email.admin_to` addresses, not to a user with a choice of their own."""

from __future__ import annotations

from email.header import decode_header, make_header

import pytest

from ivr.app import create_app
from ivr.background import run_jobs
from ivr.simulator import ScriptedCaller
from tests.api_helpers import NEW_CLIENT
from tests.conftest import SESSION_KEY, make_config
from tests.helpers import ANNA
from tests.signup_helpers import Clock, phone
from tests.smtp import SmtpServer

pytest_plugins = ("tests.api_fixtures", "tests.signup_fixtures")

ADMINS = ["alerts@example.com"]
RUSSIAN = {"session_key": SESSION_KEY, "language": "ru", "timezone": "Europe/Moscow"}
"""The clock's start, 09:00 UTC, is 12:00 in Moscow."""


@pytest.fixture
def smtp():
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def config(database_url, smtp):
    email = {
        "backend": "smtp",
        "admin_to": ADMINS,
        "smtp": {"host": "127.0.0.1", "port": smtp.port, "timeout_seconds": 5},
    }
    return make_config(database_url, email=email, web=RUSSIAN)


@pytest.fixture
async def server(aiohttp_server, config, engine, clock):
    return await aiohttp_server(create_app(config, clock=clock))


def letter_text(smtp) -> tuple[str, str]:
    ((recipients, letter),) = smtp.inbox.messages
    assert recipients == ADMINS
    subject = str(make_header(decode_header(letter["Subject"])))
    return subject, letter.get_payload(decode=True).decode()


async def test_the_lockout_letter_is_in_russian_on_moscow_time(simulator, demo, server, smtp):
    for _ in range(5):
        await simulator.call(ScriptedCaller(["1#", "12345#", "99999999#"]), from_number=ANNA)
    await run_jobs(server.app)
    subject, body = letter_text(smtp)
    assert subject.startswith("Звонящий заблокирован: ") and "Polis Insurance" in subject
    assert f"Звонящий: {ANNA}" in body and "Неверных номеров за 60 мин.: 11" in body
    assert "Время блокировки: 1 дек. 2026, 12:00, Europe/Moscow (UTC+03:00)" in body
    assert "UTC\n" not in body and "Caller" not in body


async def test_the_sign_up_alert_is_in_russian_on_moscow_time(start_signup):
    rig = await start_signup(
        cooldown_seconds=0,
        window_seconds=3600,
        suspicious_per_window=3,
        max_per_window=100,
        config_overrides={"web": RUSSIAN},
    )
    for n in range(3):
        assert (await rig.ask(phone(n))).status == 202
    await run_jobs(rig.server.app)
    subject, body = letter_text(rig.smtp)
    assert subject == "Регистрация: подозрительная частота SMS"
    assert "За последние 60 мин. отправлено кодов регистрации: 3" in body
    assert "Самые активные адреса:" in body
    assert "Подсчитано: 1 дек. 2026, 12:00, Europe/Moscow (UTC+03:00)." in body


async def test_the_blacklist_letter_is_in_russian_on_moscow_time(
    api_agent, api_admin, server, smtp
):
    rule = await api_admin.post("/api/v1/blacklist/rules", json={"email": "olga@example.com"})
    assert rule.status == 201, rule.text
    client = await api_agent.post("/api/v1/clients", json=NEW_CLIENT)
    partners = (await api_agent.get("/api/v1/organizations")).json["items"]
    polis = next(p["id"] for p in partners if p["name"] == "Polis Insurance")
    filed = await api_agent.post(
        "/api/v1/requests",
        json={"client_id": client.json["id"], "organization_id": polis, "product": "OSAGO"},
    )
    assert filed.status == 201, filed.text
    await run_jobs(server.app)
    subject, body = letter_text(smtp)
    number = filed.json["number"]
    assert subject == f"Подозрительная заявка {number}"
    assert f"Заявка {number} подана 1 дек. 2026, 12:00, Europe/Moscow (UTC+03:00)" in body
    assert "совпала с 1 правилом чёрного списка" in body and "Агенту об этом не сообщили" in body
