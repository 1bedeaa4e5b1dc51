"""A real browser (Playwright driving Debian's Chromium) walks an agent's day end to end, in
Russian as the CRM is shipped."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.async_api import async_playwright, expect

from ivr.simulator import ScriptedCaller
from tests.conftest import SESSION_KEY, make_config
from tests.helpers import ANNA
from tests.signup_helpers import PHONE

pytest_plugins = ("tests.signup_fixtures",)

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(os.environ.get("IVR_SCREENSHOTS", "var/screenshots"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason=f"{CHROMIUM} missing: apt-get install -y chromium (.ci/run does it)",
)


@pytest.fixture
async def browser_page():
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = await browser.new_page(viewport={"width": 1100, "height": 900}, locale="ru-RU")
        page.set_default_timeout(10_000)
        yield page
        await browser.close()


@pytest.fixture
def config(database_url):
    """The CRM as shipped: Russian, on Moscow time."""
    return make_config(
        database_url,
        web={"session_key": SESSION_KEY, "language": "ru", "timezone": "Europe/Moscow"},
    )


async def test_agent_files_a_request_and_sees_the_managers_call(
    server, simulator, demo, browser_page, database_url
):
    page, base = browser_page, str(server.make_url("")).rstrip("/")
    await page.goto(f"{base}/login")
    await page.get_by_label("Эл. почта").fill("agent@example.com")
    await page.get_by_label("Пароль").fill("demo-agent-pass")
    await page.get_by_role("button", name="Войти").click()
    await expect(page).to_have_url(f"{base}/requests")
    assert await page.locator("html").get_attribute("lang") == "ru"

    await page.goto(f"{base}/clients/new")
    await page.get_by_label("Имя").fill("Ольга")
    await page.get_by_label("Фамилия").fill("Браузерова")
    await page.get_by_label("Телефон").fill("8 912 345-67-89")
    await page.get_by_label("Город").fill("Казань")
    await page.get_by_role("button", name="Добавить клиента").click()
    await expect(page.get_by_role("status")).to_contain_text("Клиент Ольга Браузерова добавлен")

    await page.goto(f"{base}/requests/new")
    await page.get_by_label("Клиент").fill("браузерова")  # the search offers the matches
    await expect(page.locator("#client-options option")).to_have_count(1)
    await page.get_by_label("Клиент").fill("Браузерова Ольга, Казань")
    await page.get_by_label("Компания-партнёр").select_option(label="Polis Insurance")
    await page.get_by_label("Продукт").fill("КАСКО на новый автомобиль")
    await page.get_by_role("button", name="Подать заявку").click()
    number = (await page.locator(".number").inner_text()).strip()
    assert len(number) == 8 and number.isdigit()
    await expect(page.get_by_text("Звонков пока не было.")).to_be_visible()

    record = await simulator.call(ScriptedCaller([f"{number}#"], talk_seconds=95), from_number=ANNA)
    assert [h.kind for h in record.heard if h.kind == "bridged"] == ["bridged"]

    await page.reload()
    history = page.locator("table").filter(has_text="Anna Sokolova")
    await expect(history).to_contain_text("Polis Insurance")
    await expect(history).to_contain_text("соединён")
    await expect(history).to_contain_text("1 мин 35 с")
    assert "+79123456789" not in await history.inner_text()

    backend = database_url.split(":", 1)[0].split("+", 1)[0]
    shot = SCREENSHOTS / f"request-page-{backend}.png"
    await page.screenshot(path=str(shot), full_page=True)  # creates the folder
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


async def test_a_new_agent_signs_up_and_the_resend_countdown_runs(start_signup, browser_page):
    russian = {"web": {"session_key": SESSION_KEY, "language": "ru", "timezone": "Europe/Moscow"}}
    rig = await start_signup(cooldown_seconds=600, config_overrides=russian)
    page, base = browser_page, str(rig.server.make_url("")).rstrip("/")
    await page.clock.install()  # the page's own time, moved below instead of waited for
    await page.goto(f"{base}/login")
    await page.get_by_role("link", name="Зарегистрироваться").click()
    await page.get_by_label("Мобильный телефон").fill("8 916 123-45-67")
    await page.get_by_role("button", name="Отправить код").click()
    await expect(page).to_have_url(f"{base}/signup/verify")
    resend = page.get_by_role("button", name="Отправить новый код")
    await expect(resend).to_be_disabled()
    await expect(page.locator("[data-countdown-left]")).to_have_text("10:00")
    await page.clock.run_for(61_000)
    await expect(page.locator("[data-countdown-left]")).to_have_text("8:59")
    await page.clock.run_for(540_000)
    await expect(resend).to_be_enabled()

    await page.get_by_label("Код из SMS").fill(rig.last_code(PHONE))
    await page.get_by_role("button", name="Продолжить").click()
    await page.get_by_label("Ваше имя").fill("Павел Орлов")
    await page.get_by_label("Эл. почта").fill("pavel@example.com")
    await page.get_by_label("Пароль").fill("orlov-secret-2026")
    # No DaData key here: the organization's name is typed by hand (it is then not verified).
    await page.get_by_label("ИНН").fill("7728168971")
    await page.get_by_label("Название организации").fill("Агентство Орлова")
    await page.get_by_role("button", name="Открыть учётную запись").click()
    await expect(page).to_have_url(f"{base}/requests")
    assert PHONE not in await page.content()
