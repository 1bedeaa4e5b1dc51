"""Agent sign-up on the pages over real HTTP: the flow, what each refusal keeps, the admin page."""

from __future__ import annotations

import pytest

from tests.crm_client import ADMIN, AGENT, CrmClient, has_text
from tests.logcapture import captured_logs, log_events
from tests.signup_helpers import CODE, PHONE

pytest_plugins = ("tests.signup_fixtures",)

TYPED = "8 916 123-45-67"
MASKED = "+7******4567"
ACCOUNT = {
    "name": "Pavel Orlov",
    "email": "pavel@example.com",
    "password": "orlov-secret-2026",
    # No DaData key in these tests: the organization is typed by hand (not verified).
    "inn": "7728168971",
    "organization_name": "Orlov Agency",
}


@pytest.fixture
async def browsers():
    """`browsers(rig)`: a new browser on the rig's server, with no cookies yet."""
    opened: list[CrmClient] = []

    def open_browser(rig) -> CrmClient:
        opened.append(CrmClient(str(rig.server.make_url(""))))
        return opened[-1]

    yield open_browser
    for browser in opened:
        await browser.close()


async def post_form(
    browser: CrmClient, page: str, data: dict[str, str], *, action: str | None = None
) -> tuple[int, str | None, str]:
    """Post the form of `page`: the status, Retry-After and the page's text."""
    form = {"_csrf": await browser.token(page), **data}
    url = browser.base_url + (action or page)
    async with browser.http.post(url, data=form, allow_redirects=False) as response:
        return response.status, response.headers.get("Retry-After"), await response.text()


async def verified(rig, browser: CrmClient) -> None:
    """Take `browser` through the phone and its code, to the account form."""
    sent = await browser.submit("/signup", {"phone": TYPED})
    assert sent.path == "/signup/verify", sent.text
    done = await browser.submit("/signup/verify", {"code": rig.last_code()})
    assert done.path == "/signup/complete", done.text


async def test_a_typed_russian_number_ends_logged_in_on_the_agents_home(start_signup, browsers):
    rig = await start_signup()
    browser = browsers(rig)
    assert has_text((await browser.get("/login")).text, 'href="/signup">Sign up')
    with captured_logs() as logs:
        sent = await browser.submit("/signup", {"phone": TYPED})
        assert (sent.status, sent.path) == (200, "/signup/verify")
        assert MASKED in sent.text and 'data-countdown="600"' in sent.text
        assert 'src="/static/countdown.js"' in sent.text
        assert "data-countdown" in (await browser.get("/static/countdown.js")).text
        (message,) = rig.twilio.messages
        assert message["to"] == PHONE
        code = await browser.submit("/signup/verify", {"code": rig.last_code()})
        assert (code.status, code.path) == (200, "/signup/complete")
        home = await browser.submit("/signup/complete", ACCOUNT)
    assert (home.status, home.path) == (200, "/requests")
    assert "<h1>Requests</h1>" in home.text and "Pavel Orlov (agent)" in home.text
    lines = logs.getvalue().splitlines()
    assert any("/signup/complete" in line for line in lines), "the access log was not captured"
    assert not [line for line in lines if PHONE.removeprefix("+") in line]
    # The sign-up is over: its pages start again, and the agent can log in later.
    assert (await browser.get("/signup/complete")).path == "/signup"
    again = browsers(rig)
    assert (await again.login(ACCOUNT["email"], ACCOUNT["password"])).path == "/requests"


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        ("8 916 12", "this is not a valid phone number"),
        ("+7 495 123-45-67", "this is a landline number"),
        ("", "fill this in"),
    ],
)
async def test_a_bad_phone_keeps_the_typed_text_and_names_the_problem(
    start_signup, browsers, typed, problem
):
    rig = await start_signup()
    reply = await browsers(rig).submit("/signup", {"phone": typed})
    assert (reply.status, reply.path) == (422, "/signup")
    assert has_text(reply.text, problem)
    assert f'name="phone" type="tel" value="{typed}"' in reply.text
    assert rig.twilio.messages == []


async def test_a_second_request_within_the_cooldown_is_refused_with_the_countdown_anywhere(
    start_signup, browsers
):
    rig = await start_signup()
    first = browsers(rig)
    assert (await first.submit("/signup", {"phone": TYPED})).path == "/signup/verify"
    rig.clock.advance(100)
    status, retry_after, page = await post_form(first, "/signup", {"phone": TYPED})
    assert (status, retry_after) == (429, "500")
    assert 'data-countdown="500"' in page and "8:20" in page
    assert f'value="{TYPED}"' in page
    status, retry_after, page = await post_form(browsers(rig), "/signup", {"phone": "+79161234567"})
    assert (status, retry_after) == (429, "500") and 'data-countdown="500"' in page
    status, retry_after, page = await post_form(
        first, "/signup/verify", {}, action="/signup/resend"
    )
    assert (status, retry_after) == (429, "500") and 'data-countdown="500"' in page
    assert len(rig.twilio.messages) == 1
    rig.clock.advance(500)
    again = await first.submit("/signup/verify", {}, action="/signup/resend")
    assert (again.status, again.path) == (200, "/signup/verify")
    assert has_text(again.text, f"A new code was sent to {MASKED}.")
    assert 'data-countdown="600"' in again.text
    assert len(rig.codes_to(PHONE)) == 2


async def test_a_wrong_code_shows_the_tries_left_and_keeps_what_was_typed(start_signup, browsers):
    rig = await start_signup()
    browser = browsers(rig)
    await browser.submit("/signup", {"phone": TYPED})
    wrong = "000000" if rig.last_code() != "000000" else "000001"
    reply = await browser.submit("/signup/verify", {"code": wrong})
    assert reply.status == 422
    assert has_text(reply.text, "wrong code: 4 tries left") and f'value="{wrong}"' in reply.text
    reply = await browser.submit("/signup/verify", {"code": "12a"})
    assert reply.status == 422
    assert has_text(reply.text, "enter the 6 digits") and 'value="12a"' in reply.text
    done = await browser.submit("/signup/verify", {"code": rig.last_code()})
    assert done.path == "/signup/complete"


async def test_an_expired_code_answers_410_with_the_resend_form(start_signup, browsers):
    rig = await start_signup()
    browser = browsers(rig)
    await browser.submit("/signup", {"phone": TYPED})
    rig.clock.advance(601)
    reply = await browser.submit("/signup/verify", {"code": rig.last_code()})
    assert reply.status == 410
    assert has_text(reply.text, "This code has expired: request a new code.")
    assert 'action="/signup/resend"' in reply.text and 'data-countdown="0"' in reply.text


async def test_the_pages_after_the_first_send_the_browser_there(start_signup, browsers):
    rig = await start_signup()
    browser = browsers(rig)
    for page in ("/signup/verify", "/signup/complete"):
        reply = await browser.get(page, follow=False)
        assert (reply.status, reply.location) == (303, "/signup"), page
    await browser.submit("/signup", {"phone": TYPED})
    assert (await browser.get("/signup/complete", follow=False)).location == "/signup"


async def test_the_account_form_keeps_name_and_email_and_the_token_stays_usable(
    start_signup, demo, browsers
):
    rig = await start_signup()
    browser = browsers(rig)
    await verified(rig, browser)
    weak = await browser.submit("/signup/complete", {**ACCOUNT, "password": "short-pw"})
    assert weak.status == 422
    assert f'value="{ACCOUNT["name"]}"' in weak.text
    assert f'value="{ACCOUNT["email"]}"' in weak.text and "short-pw" not in weak.text
    taken = await browser.submit("/signup/complete", {**ACCOUNT, "email": AGENT[0]})
    assert taken.status == 409
    assert has_text(taken.text, "an account with this email already exists")
    assert 'href="/login"' in taken.text
    home = await browser.submit("/signup/complete", ACCOUNT)
    assert (home.status, home.path) == (200, "/requests")


async def test_signup_is_suspended_for_everyone_once_the_maximum_went_out(start_signup, browsers):
    rig = await start_signup(max_per_window=1, suspicious_per_window=1)
    assert (await browsers(rig).submit("/signup", {"phone": TYPED})).path == "/signup/verify"
    stranger = browsers(rig)
    async with stranger.http.get(stranger.base_url + "/signup") as response:
        assert (response.status, response.headers["Retry-After"]) == (503, "3600")
        assert has_text(await response.text(), "Registration is temporarily suspended")
    rig.clock.advance(600)
    status, retry_after, page = await post_form(
        stranger, "/login", {"phone": "+79161112233"}, action="/signup"
    )
    assert (status, retry_after) == (503, "3000")
    assert has_text(page, "Registration is temporarily suspended")
    assert len(rig.twilio.messages) == 1


async def test_the_admin_page_shows_the_state_and_masked_phones_and_lifts_the_stop(
    start_signup, demo, browsers
):
    rig = await start_signup(max_per_window=1, suspicious_per_window=1)
    await browsers(rig).submit("/signup", {"phone": TYPED})
    admin = browsers(rig)
    await admin.login(*ADMIN)
    page = await admin.get("/admin/signup")
    assert page.status == 200
    assert 'class="status-stopped">stopped</strong>' in page.text
    assert "Codes sent or being sent in the last 60 minutes: 1 of 1" in page.text
    assert MASKED in page.text and PHONE.removeprefix("+") not in page.text
    assert 'action="/admin/signup/lift"' in page.text
    lifted = await admin.submit("/admin/signup", {}, action="/admin/signup/lift")
    assert lifted.path == "/admin/signup"
    assert has_text(lifted.text, "The stop is lifted: sign-up is open")
    assert 'class="status-open">open</strong>' in lifted.text
    assert "Codes sent or being sent in the last 60 minutes: 0 of 1" in lifted.text
    assert 'action="/admin/signup/lift"' not in lifted.text
    assert (await browsers(rig).get("/signup")).status == 200
    audit = await admin.get("/admin/audit")
    assert has_text(audit.text, '<td data-label="Did">lift</td>')
    assert has_text(audit.text, '"status": "stopped"') and ADMIN[0] in audit.text


async def test_the_admin_page_is_refused_to_an_agent(start_signup, demo, browsers):
    rig = await start_signup()
    agent = browsers(rig)
    await agent.login(*AGENT)
    assert (await agent.get("/admin/signup")).status == 403
    status, _, _ = await post_form(agent, "/requests", {}, action="/admin/signup/lift")
    assert status == 403


async def test_with_the_console_provider_the_code_is_read_from_the_log(start_signup, browsers):
    rig = await start_signup(config_overrides={"sms": {"provider": "console"}})
    browser = browsers(rig)
    with captured_logs() as logs:
        assert (await browser.submit("/signup", {"phone": TYPED})).path == "/signup/verify"
    (sms,) = [event for event in log_events(logs) if event["event"] == "sms_console"]
    assert sms["to"] == MASKED and rig.twilio.messages == []
    code = CODE.search(sms["body"])
    assert code, sms
    assert (await browser.submit("/signup/verify", {"code": code.group(1)})).path == (
        "/signup/complete"
    )
    assert (await browser.submit("/signup/complete", ACCOUNT)).path == "/requests"
