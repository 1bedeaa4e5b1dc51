"""A real browser (Playwright driving Debian's Chromium) walks an agent's day end to end."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.async_api import async_playwright, expect

from ivr.simulator import ScriptedCaller
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
        page = await browser.new_page(viewport={"width": 1100, "height": 900})
        page.set_default_timeout(10_000)
        yield page
        await browser.close()


async def test_agent_files_a_request_and_sees_the_managers_call(
    server, simulator, demo, browser_page, database_url
):
    page, base = browser_page, str(server.make_url("")).rstrip("/")
    await page.goto(f"{base}/login")
    await page.get_by_label("Email").fill("agent@example.com")
    await page.get_by_label("Password").fill("demo-agent-pass")
    await page.get_by_role("button", name="Log in").click()
    await expect(page).to_have_url(f"{base}/requests")

    await page.goto(f"{base}/clients/new")
    await page.get_by_label("First name").fill("Olga")
    await page.get_by_label("Last name").fill("Browserova")
    await page.get_by_label("Phone").fill("8 912 345-67-89")
    await page.get_by_label("City").fill("Kazan")
    await page.get_by_role("button", name="Add client").click()
    await expect(page.get_by_role("status")).to_contain_text("Olga Browserova added")

    await page.goto(f"{base}/requests/new")
    await page.get_by_label("Client").fill("Browserova")  # the search offers the matches
    await expect(page.locator("#client-options option")).to_have_count(1)
    await page.get_by_label("Client").fill("Browserova Olga, Kazan")
    await page.get_by_label("Partner company").select_option(label="Polis Insurance")
    await page.get_by_label("Product").fill("CASCO for a new car")
    await page.get_by_role("button", name="File request").click()
    number = (await page.locator(".number").inner_text()).strip()
    assert len(number) == 8 and number.isdigit()
    await expect(page.get_by_text("No calls yet.")).to_be_visible()

    record = await simulator.call(ScriptedCaller([f"{number}#"], talk_seconds=95), from_number=ANNA)
    assert [h.kind for h in record.heard if h.kind == "bridged"] == ["bridged"]

    await page.reload()
    history = page.locator("table").filter(has_text="Anna Sokolova")
    await expect(history).to_contain_text("Polis Insurance")
    await expect(history).to_contain_text("bridged")
    await expect(history).to_contain_text("1 min 35 s")
    assert "+79123456789" not in await history.inner_text()

    backend = database_url.split(":", 1)[0].split("+", 1)[0]
    shot = SCREENSHOTS / f"request-page-{backend}.png"
    await page.screenshot(path=str(shot), full_page=True)  # creates the folder
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


async def test_a_new_agent_signs_up_and_the_resend_countdown_runs(start_signup, browser_page):
    rig = await start_signup(cooldown_seconds=600)
    page, base = browser_page, str(rig.server.make_url("")).rstrip("/")
    await page.clock.install()  # the page's own time, moved below instead of waited for
    await page.goto(f"{base}/login")
    await page.get_by_role("link", name="Sign up").click()
    await page.get_by_label("Mobile phone").fill("8 916 123-45-67")
    await page.get_by_role("button", name="Send me a code").click()
    await expect(page).to_have_url(f"{base}/signup/verify")
    resend = page.get_by_role("button", name="Send a new code")
    await expect(resend).to_be_disabled()
    await expect(page.locator("[data-countdown-left]")).to_have_text("10:00")
    await page.clock.run_for(61_000)
    await expect(page.locator("[data-countdown-left]")).to_have_text("8:59")
    await page.clock.run_for(540_000)
    await expect(resend).to_be_enabled()

    await page.get_by_label("Code from the text message").fill(rig.last_code(PHONE))
    await page.get_by_role("button", name="Continue").click()
    await page.get_by_label("Your name").fill("Pavel Orlov")
    await page.get_by_label("Email").fill("pavel@example.com")
    await page.get_by_label("Password").fill("orlov-secret-2026")
    await page.get_by_role("button", name="Open my account").click()
    await expect(page).to_have_url(f"{base}/requests")
    assert PHONE not in await page.content()
