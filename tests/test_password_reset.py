"""Password reset links: sent by an admin or asked for on the login page, mailed through the
outbox to a real SMTP server, working once and only until they expire."""

from __future__ import annotations

import asyncio
import re
from email.header import decode_header, make_header
from email.message import Message

import pytest
from sqlalchemy import select, update
from yarl import URL

from crm.auth.models import PasswordReset, User
from crm.auth.resets import TooManyTries, request_reset
from crm.models import Manager
from crm.outbox.models import OutboxMessage
from crm.outbox.sender import SenderSettings, deliver_due
from ivr.app import create_app
from ivr.mail import SmtpMailer
from tests.api_helpers import Apis
from tests.conftest import make_config
from tests.crm_client import ADMIN, AGENT, CSRF, MANAGER, CrmClient, has_text
from tests.logcapture import captured_logs
from tests.signup_helpers import Clock
from tests.smtp import SmtpServer

pytest_plugins = ("tests.crm_fixtures",)

NEW = "violet-harbour-2026"
LINK = re.compile(r"https?://\S+?(/password/reset/([A-Za-z0-9_-]{43}))\s")
USED = "This link was used already, or a newer one was sent. Ask for a new one."


@pytest.fixture
def smtp():
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def config(database_url, smtp):
    email = {"backend": "smtp", "smtp": {"host": "127.0.0.1", "port": smtp.port}}
    return make_config(database_url, email=email)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def log_stream():
    """What the service logs, the real logging configured before it starts (like `ivr serve`)."""
    with captured_logs() as stream:
        yield stream


@pytest.fixture
async def server(aiohttp_server, config, engine, clock, log_stream):
    return await aiohttp_server(create_app(config, clock=clock))


async def deliver(sessions, config, clock) -> None:
    """Run the outbox job once, as the background task would."""
    settings = SenderSettings.from_config(config.email)
    await deliver_due(sessions, SmtpMailer(config.email), clock=clock, settings=settings)


def text_of(message: Message) -> tuple[str, str]:
    """The subject and the body of a received letter, decoded."""
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    body = payload.decode(message.get_content_charset() or "utf-8")
    return str(make_header(decode_header(message["Subject"]))), body


async def mail_to(sessions, config, clock, smtp, email: str) -> list[str]:
    """Deliver the outbox; the bodies of the letters received since the last call, each of
    them sent to `email` alone."""
    await deliver(sessions, config, clock)
    received = [(to, text_of(message)[1]) for to, message in smtp.inbox.messages]
    smtp.inbox.messages.clear()
    assert [to for to, _ in received] == [[email]] * len(received)
    return [body for _, body in received]


def link_in(body: str) -> str:
    found = LINK.search(body)
    assert found, body
    return found.group(1)


async def user_id(sessions, email: str) -> int:
    async with sessions() as session:
        return await session.scalar(select(User.id).where(User.email == email))


async def send_link(admin: CrmClient, sessions, email: str):
    uid = await user_id(sessions, email)
    return await admin.submit("/admin/agents", {}, action=f"/admin/users/{uid}/password-reset")


async def reset(browser: CrmClient, link: str, password: str, repeat: str | None = None):
    data = {"password": password, "password_repeat": password if repeat is None else repeat}
    return await browser.submit(link, data)


async def test_an_admins_link_arrives_and_works_exactly_once(
    admin, browser, sessions, config, clock, smtp
):
    signed_in = await browser(AGENT)
    sent = await send_link(admin, sessions, AGENT[0])
    assert sent.path == "/admin/agents"
    assert has_text(sent.text, f"A link to set a new password is on its way to {AGENT[0]}.")
    (body,) = await mail_to(sessions, config, clock, smtp, AGENT[0])
    assert "An admin has sent you a link" in body
    assert "The link works once and expires today, 10:00, time zone UTC (UTC+00:00)." in body
    link = link_in(body)

    visitor = await browser()
    done = await reset(visitor, link, NEW)
    assert (done.status, done.path) == (200, "/password/done")
    assert has_text(done.text, "Your new password is set. Log in with it.")
    assert (await signed_in.get("/requests")).path.startswith("/login")
    assert (await (await browser()).login(AGENT[0], NEW)).path == "/requests"
    assert (await (await browser()).login(*AGENT)).path.startswith("/login")

    again = await visitor.get(link)
    assert again.status == 410 and has_text(again.text, USED)
    assert 'href="/password/forgot"' in again.text
    form = {"password": "other-pass-2026", "password_repeat": "other-pass-2026"}
    replayed = await visitor.post(link, {"_csrf": await visitor.token("/password/forgot"), **form})
    assert replayed.status == 410
    assert (await (await browser()).login(AGENT[0], "other-pass-2026")).path.startswith("/login")


async def test_an_expired_link_is_refused(admin, browser, sessions, config, clock, smtp):
    await send_link(admin, sessions, AGENT[0])
    (body,) = await mail_to(sessions, config, clock, smtp, AGENT[0])
    visitor = await browser()
    token = await visitor.token(link_in(body))  # the form opened in time...
    clock.advance(60 * 60)  # ... and sent when the hour (web.password_reset_minutes) is over
    late = await visitor.post(
        link_in(body), {"_csrf": token, "password": NEW, "password_repeat": NEW}
    )
    assert late.status == 410
    assert has_text(late.text, "This link has expired. Ask for a new one.")
    assert (await visitor.get(link_in(body))).status == 410
    assert (await (await browser()).login(*AGENT)).path == "/requests"


async def test_a_newer_link_voids_the_older_one(admin, browser, sessions, config, clock, smtp):
    await send_link(admin, sessions, AGENT[0])
    await send_link(admin, sessions, AGENT[0])
    older, newer = await mail_to(sessions, config, clock, smtp, AGENT[0])
    visitor = await browser()
    assert has_text((await visitor.get(link_in(older))).text, USED)
    assert (await reset(visitor, link_in(newer), NEW)).path == "/password/done"


async def test_a_common_password_is_refused_and_the_link_still_works(
    admin, browser, sessions, config, clock, smtp
):
    await send_link(admin, sessions, AGENT[0])
    (body,) = await mail_to(sessions, config, clock, smtp, AGENT[0])
    visitor = await browser()
    common = await reset(visitor, link_in(body), "password123")
    assert common.status == 422
    assert 'id="error-password"' in common.text
    assert has_text(common.text, "one of the most common ones")
    mismatch = await reset(visitor, link_in(body), NEW, NEW + "!")
    assert mismatch.status == 422 and 'id="error-password_repeat"' in mismatch.text
    assert (await reset(visitor, link_in(body), NEW)).path == "/password/done"


async def test_two_uses_of_one_link_at_once_set_one_password(
    admin, browser, sessions, config, clock, smtp
):
    await send_link(admin, sessions, AGENT[0])
    (body,) = await mail_to(sessions, config, clock, smtp, AGENT[0])
    link = link_in(body)
    first, second = await browser(), await browser()
    forms = [(first, "first-choice-2026"), (second, "second-choice-2026")]
    tokens = [await visitor.token(link) for visitor, _ in forms]
    replies = await asyncio.gather(
        *(
            visitor.post(link, {"_csrf": token, "password": word, "password_repeat": word})
            for (visitor, word), token in zip(forms, tokens, strict=True)
        )
    )
    assert sorted(reply.status for reply in replies) == [200, 410]
    winner = next(
        word for (_, word), reply in zip(forms, replies, strict=True) if reply.status == 200
    )
    loser = next(
        word for (_, word), reply in zip(forms, replies, strict=True) if reply.status == 410
    )
    assert (await (await browser()).login(AGENT[0], winner)).path == "/requests"
    assert (await (await browser()).login(AGENT[0], loser)).path.startswith("/login")


def without_csrf(page: str) -> str:
    return CSRF.sub('name="_csrf" value=""', page)


async def test_forgot_password_answers_alike_and_mails_only_an_account(
    browser, sessions, config, clock, smtp
):
    visitor = await browser()
    login = await visitor.get("/login")
    assert 'href="/password/forgot"' in login.text and has_text(login.text, "Forgot your password?")
    known = await visitor.submit("/password/forgot", {"email": AGENT[0].upper()})
    other = await (await browser()).submit("/password/forgot", {"email": "nobody@example.com"})
    assert (known.status, known.path) == (other.status, other.path) == (200, "/password/forgot")
    assert without_csrf(known.text) == without_csrf(other.text)
    assert has_text(known.text, "If an account with this email exists, we have sent a link")
    await deliver(sessions, config, clock)
    assert [to for to, _ in smtp.inbox.messages] == [[AGENT[0]]]
    subject, body = text_of(smtp.inbox.messages[0][1])
    assert subject == "Set a new password"
    assert "Someone asked to set a new password" in body
    assert (await reset(visitor, link_in(body), NEW)).path == "/password/done"


async def test_forgot_password_is_throttled_per_client_address(browser, clock):
    visitor = await browser()
    for n in range(4):  # three are free, the fourth earns a short wait
        reply = await visitor.submit("/password/forgot", {"email": f"someone{n}@example.com"})
        assert reply.status == 200
    refused = await visitor.submit("/password/forgot", {"email": AGENT[0]})
    assert refused.status == 429
    assert has_text(refused.text, "Too many links were asked for just now. Try again in 2 seconds.")
    clock.advance(2)
    assert (await visitor.submit("/password/forgot", {"email": AGENT[0]})).status == 200


async def test_a_deactivated_login_gets_no_letter(admin, browser, sessions, config, clock, smtp):
    async with sessions.begin() as session:
        await session.execute(update(User).where(User.email == AGENT[0]).values(is_active=False))
    asked = await (await browser()).submit("/password/forgot", {"email": AGENT[0]})
    assert asked.status == 200
    refused = await send_link(admin, sessions, AGENT[0])
    assert has_text(refused.text, f"the account {AGENT[0]} is disabled: a link would not work")
    await deliver(sessions, config, clock)
    assert smtp.inbox.messages == []
    async with sessions() as session:
        assert list(await session.scalars(select(PasswordReset))) == []


async def test_the_letter_is_in_the_users_own_language(admin, sessions, config, clock, smtp):
    async with sessions.begin() as session:
        await session.execute(
            update(User)
            .where(User.email == AGENT[0])
            .values(language="ru", timezone="Europe/Moscow")
        )
    await send_link(admin, sessions, AGENT[0])
    await deliver(sessions, config, clock)
    ((to, message),) = smtp.inbox.messages
    subject, body = text_of(message)
    assert (to, subject) == ([AGENT[0]], "Задать новый пароль")
    assert "Администратор отправил вам ссылку" in body
    assert "действует до: сегодня, 13:00, часовой пояс Europe/Moscow (UTC+03:00)." in body


async def test_the_token_never_reaches_the_log(
    admin, browser, sessions, config, clock, smtp, server, log_stream
):
    await send_link(admin, sessions, AGENT[0])
    (body,) = await mail_to(sessions, config, clock, smtp, AGENT[0])
    link = link_in(body)
    secret = link.rsplit("/", 1)[1]
    visitor = await browser()
    page = await visitor.get(link)
    found = CSRF.search(page.text)
    assert found
    referer = {"Referer": str(server.make_url(link))}
    form = {"_csrf": found.group(1), "password": NEW, "password_repeat": NEW}
    async with visitor.http.post(
        server.make_url(link), data=form, headers=referer, allow_redirects=False
    ) as reply:
        assert reply.status == 303
    await visitor.get(link + "/and-more")  # a path no route has: 404, logged too
    output = log_stream.getvalue()
    assert output.count("/password/reset/…") >= 3
    assert secret not in output


async def test_the_api_sends_a_link_and_answers_forgot_alike(
    server, http, sessions, demo, config, clock, smtp
):
    apis = Apis(server, http, sessions)
    admin, agent = await apis.as_user(ADMIN[0]), await apis.as_user(AGENT[0])
    uid = await user_id(sessions, AGENT[0])
    sent = await admin.post(f"/api/v1/users/{uid}/password-reset")
    assert sent.status == 202
    assert sent.json == {"expires_at": "2026-12-01T10:00:00Z"}
    assert (await agent.post(f"/api/v1/users/{uid}/password-reset")).status == 403
    assert (await admin.post("/api/v1/users/999999/password-reset")).status == 404
    public = apis.with_key(None)
    known = await public.post("/api/v1/password/forgot", json={"email": AGENT[0]})
    other = await public.post("/api/v1/password/forgot", json={"email": "nobody@example.com"})
    assert (known.status, known.text) == (other.status, other.text)
    assert known.status == 202
    sent_by_admin, asked = await mail_to(sessions, config, clock, smtp, AGENT[0])
    assert "An admin has sent you a link" in sent_by_admin
    assert "Someone asked to set a new password" in asked
    assert URL(server.make_url(link_in(asked))).path.startswith("/password/reset/")


async def test_the_admin_pages_send_links_to_agents_and_managers(
    admin, sessions, config, clock, smtp
):
    async with sessions() as session:
        agent_id = await session.scalar(select(User.agent_id).where(User.email == AGENT[0]))
        manager_id = await session.scalar(select(User.manager_id).where(User.email == MANAGER[0]))
        organization_id = await session.scalar(
            select(Manager.organization_id).where(Manager.id == manager_id)
        )
    agents_page = await admin.get("/admin/agents")
    button = f"/admin/agents/{agent_id}/password-reset"
    assert f'action="{button}"' in agents_page.text
    assert has_text(agents_page.text, "Send password reset link")
    back = await admin.submit("/admin/agents", {}, action=button)
    assert back.path == "/admin/agents"
    assert has_text(back.text, f"A link to set a new password is on its way to {AGENT[0]}.")
    (body,) = await mail_to(sessions, config, clock, smtp, AGENT[0])
    assert "An admin has sent you a link" in body

    page = f"/admin/organizations/{organization_id}"
    button = f"/admin/managers/{manager_id}/password-reset"
    assert f'action="{button}"' in (await admin.get(page)).text
    back = await admin.submit(page, {}, action=button)
    assert back.path == page
    assert has_text(back.text, f"A link to set a new password is on its way to {MANAGER[0]}.")
    (body,) = await mail_to(sessions, config, clock, smtp, MANAGER[0])
    assert link_in(body).startswith("/password/reset/")


async def test_no_admin_reads_a_link_in_the_outbox(admin, browser, sessions, config, clock, smtp):
    await send_link(admin, sessions, ADMIN[0])
    queued = await admin.get("/admin/outbox")
    assert "/password/reset/…" in queued.text
    (body,) = await mail_to(sessions, config, clock, smtp, ADMIN[0])
    token = link_in(body).rsplit("/", 1)[1]
    assert token not in queued.text
    assert token not in (await admin.get("/admin/outbox")).text
    async with sessions() as session:
        stored = await session.scalars(select(OutboxMessage.body))
        assert all(token not in kept for kept in stored)
    assert (await reset(await browser(), link_in(body), NEW)).path == "/password/done"


async def test_a_new_email_voids_the_links_sent_to_the_old_one(
    admin, browser, sessions, config, clock, smtp
):
    await send_link(admin, sessions, AGENT[0])
    (body,) = await mail_to(sessions, config, clock, smtp, AGENT[0])
    async with sessions() as session:
        agent_id = await session.scalar(select(User.agent_id).where(User.email == AGENT[0]))
    edited = await admin.submit(
        "/admin/agents",
        {"name": "Demo Agent", "email": "new.agent@example.com"},
        action=f"/admin/agents/{agent_id}/edit",
    )
    assert edited.status == 200
    refused = await (await browser()).get(link_in(body))
    assert refused.status == 410 and has_text(refused.text, USED)


async def test_forgot_password_is_throttled_per_mailbox_from_any_address(sessions, config, clock):
    async def ask(ip: str | None) -> None:
        async with sessions.begin() as session:
            await request_reset(
                session,
                email=AGENT[0].upper(),
                ip=ip,
                now=clock(),
                web=config.web,
                reset_url=lambda token: f"https://ivr.example.com/password/reset/{token}",
            )

    for n in range(4):  # three are free, the fourth earns a short wait
        await ask(f"203.0.113.{n}")
    with pytest.raises(TooManyTries):
        await ask("198.51.100.7")
    with pytest.raises(TooManyTries):
        await ask(None)
    clock.advance(2)
    await ask("198.51.100.7")
