"""The email outbox: written with its cause, delivered once through a real SMTP server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from crm.clients.service import create_client
from crm.db import create_engine, create_sessionmaker
from crm.models import Client
from crm.outbox.models import OutboxMessage, OutboxStatus
from crm.outbox.sender import Delivery, SenderSettings, deliver_due
from crm.outbox.service import RetryPolicy, claim_next, enqueue, mark_failed, mark_sent
from crm.schemas import ClientIn
from ivr.app import create_app
from ivr.config import EmailConfig
from ivr.mail import Letter, LogMailer, SmtpMailer
from tests.conftest import make_config
from tests.crm_client import AGENT, account_actor
from tests.logcapture import captured_logs
from tests.smtp import SmtpServer

pytest_plugins = ("tests.crm_fixtures",)

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
ADMINS = ("alerts@example.com", "duty@example.com")


def at(moment: datetime) -> Callable[[], datetime]:
    """A clock that stands still at `moment`."""
    return lambda: moment


def email_config(port: int, **overrides) -> EmailConfig:
    values = {
        "backend": "smtp",
        "admin_to": list(ADMINS),
        "smtp": {"host": "127.0.0.1", "port": port, "timeout_seconds": 5},
        "retry_seconds": 30,
        "max_attempts": 3,
        **overrides,
    }
    return EmailConfig.model_validate(values)


@pytest.fixture
def smtp():
    server = SmtpServer()
    yield server
    server.stop()


async def queue_letters(sessions, count: int = 1, *, now: datetime = T0) -> list[int]:
    async with sessions.begin() as session:
        letters = [
            await enqueue(session, to=ADMINS, subject=f"Alert {n}", body=f"Body {n}", now=now)
            for n in range(count)
        ]
        return [letter.id for letter in letters]


async def letter(sessions, letter_id: int) -> OutboxMessage:
    async with sessions() as session:
        return await session.get(OutboxMessage, letter_id)


async def test_a_letter_exists_only_if_the_change_that_caused_it_commits(sessions, demo):
    ivan = ClientIn(first_name="Ivan", last_name="Outboxov", phone="+79161230001")
    with pytest.raises(RuntimeError):
        async with sessions.begin() as session:
            actor = await account_actor(session, AGENT[0])
            await create_client(session, actor=actor, data=ivan, now=T0)
            await enqueue(session, to=ADMINS, subject="New client", body="Ivan", now=T0)
            raise RuntimeError("the change fails after both were written")
    async with sessions() as session:
        assert await session.scalar(select(Client).where(Client.last_name == "Outboxov")) is None
        assert list(await session.scalars(select(OutboxMessage))) == []
    async with sessions.begin() as session:
        actor = await account_actor(session, AGENT[0])
        await create_client(session, actor=actor, data=ivan, now=T0)
        await enqueue(session, to=ADMINS, subject="New client", body="Ivan", now=T0)
    async with sessions() as session:
        stored = list(await session.scalars(select(OutboxMessage)))
    assert [(m.subject, m.status, m.recipients) for m in stored] == [
        ("New client", OutboxStatus.QUEUED, "alerts@example.com, duty@example.com")
    ]


async def test_smtp_down_the_letter_waits_smtp_back_it_is_delivered_once(sessions, smtp):
    settings = SenderSettings.from_config(email_config(smtp.port))
    mailer = SmtpMailer(email_config(smtp.port))
    (letter_id,) = await queue_letters(sessions)

    assert await deliver_due(sessions, mailer, clock=at(T0), settings=settings) == Delivery(
        retrying=1
    )
    waiting = await letter(sessions, letter_id)
    assert (waiting.status, waiting.attempts) == (OutboxStatus.QUEUED, 1)
    assert waiting.next_attempt_at == T0 + timedelta(seconds=30)
    assert waiting.last_error and "SMTP" in waiting.last_error

    smtp.start()
    early = T0 + timedelta(seconds=10)
    assert await deliver_due(sessions, mailer, clock=at(early), settings=settings) == Delivery()
    assert smtp.inbox.messages == []

    later = T0 + timedelta(seconds=31)
    assert await deliver_due(sessions, mailer, clock=at(later), settings=settings) == Delivery(
        sent=1
    )
    for minutes in (1, 60, 600):
        again = later + timedelta(minutes=minutes)
        assert await deliver_due(sessions, mailer, clock=at(again), settings=settings) == Delivery()
    assert len(smtp.inbox.messages) == 1
    recipients, message = smtp.inbox.messages[0]
    assert recipients == list(ADMINS)
    assert (message["Subject"], message.get_payload().strip()) == ("Alert 0", "Body 0")
    sent = await letter(sessions, letter_id)
    assert (sent.status, sent.attempts, sent.sent_at, sent.last_error) == (
        OutboxStatus.SENT,
        2,
        later,
        None,
    )


async def test_a_letter_failing_every_try_is_failed_with_its_last_error(sessions, smtp):
    config = email_config(smtp.port, max_attempts=3, retry_seconds=10, retry_max_seconds=15)
    settings, mailer = SenderSettings.from_config(config), SmtpMailer(config)
    (letter_id,) = await queue_letters(sessions)
    moments = [T0, T0 + timedelta(seconds=10), T0 + timedelta(seconds=25)]
    results = [
        await deliver_due(sessions, mailer, clock=at(moment), settings=settings)
        for moment in moments
    ]
    assert results == [Delivery(retrying=1), Delivery(retrying=1), Delivery(failed=1)]
    failed = await letter(sessions, letter_id)
    assert (failed.status, failed.attempts) == (OutboxStatus.FAILED, 3)
    assert failed.last_error and "SMTP" in failed.last_error
    smtp.start()
    assert await deliver_due(
        sessions, mailer, clock=at(T0 + timedelta(days=1)), settings=settings
    ) == (Delivery())
    assert smtp.inbox.messages == []


async def test_two_senders_at_once_never_send_one_letter_twice(sessions, database_url, smtp):
    smtp.start()
    config = email_config(smtp.port)
    settings = SenderSettings.from_config(config)
    await queue_letters(sessions, 40)
    engines = [create_engine(database_url) for _ in range(2)]
    try:
        deliveries = await asyncio.gather(
            *(
                deliver_due(
                    create_sessionmaker(engine), SmtpMailer(config), clock=at(T0), settings=settings
                )
                for engine in engines
            )
        )
    finally:
        for engine in engines:
            await engine.dispose()
    assert sum(delivery.sent for delivery in deliveries) == 40
    assert sorted(smtp.inbox.subjects) == sorted(f"Alert {n}" for n in range(40))
    async with sessions() as session:
        statuses = set(await session.scalars(select(OutboxMessage.status)))
    assert statuses == {OutboxStatus.SENT}


async def test_without_admin_addresses_the_letter_is_kept_as_failed_and_says_why(sessions):
    async with sessions.begin() as session:
        stored = await enqueue(session, to=(), subject="Lockout", body="…", now=T0)
    assert (stored.status, stored.last_error) == (
        OutboxStatus.FAILED,
        "no recipient: set email.admin_to in the configuration",
    )


async def test_the_log_backend_writes_the_whole_letter_to_the_log():
    with captured_logs() as stream:
        await LogMailer().send(Letter(to=ADMINS, subject="Hello", body="Line one\nLine two"))
    (line,) = [json.loads(text) for text in stream.getvalue().splitlines()]
    assert (line["event"], line["subject"], line["body"], line["to"]) == (
        "email_logged",
        "Hello",
        "Line one\nLine two",
        list(ADMINS),
    )


async def test_the_running_service_delivers_the_outbox_in_the_background(
    aiohttp_server, database_url, engine, sessions, smtp
):
    smtp.start()
    config = make_config(
        database_url,
        email=email_config(smtp.port).model_dump(by_alias=True),
        background={"enabled": True, "interval_seconds": 0.05},
    )
    await aiohttp_server(create_app(config, clock=lambda: T0 + timedelta(minutes=1)))
    await queue_letters(sessions)
    assert await asyncio.to_thread(smtp.inbox.arrived.wait, 10)
    assert smtp.inbox.subjects == ["Alert 0"]


async def test_the_admin_sees_each_letter_and_sends_a_failed_one_again(admin, sessions, smtp):
    config = email_config(smtp.port, max_attempts=1)
    settings, mailer = SenderSettings.from_config(config), SmtpMailer(config)
    async with sessions.begin() as session:
        await enqueue(session, to=ADMINS, subject="Sent one", body="a", now=T0)
    smtp.start()
    await deliver_due(sessions, mailer, clock=at(T0), settings=settings)
    smtp.stop()
    async with sessions.begin() as session:
        failing = await enqueue(session, to=ADMINS, subject="Failing one", body="b", now=T0)
        await enqueue(session, to=ADMINS, subject="Queued one", body="c", now=T0 + timedelta(1))
    await deliver_due(sessions, mailer, clock=at(T0), settings=settings)

    page = await admin.get("/admin/outbox")
    assert page.status == 200
    for subject in ("Sent one", "Failing one", "Queued one"):
        assert subject in page.text
    assert "queued: 1" in page.text and "sent: 1" in page.text and "failed: 1" in page.text
    assert "SMTPConnectError" in page.text
    only_failed = await admin.get("/admin/outbox?status=failed")
    assert "Failing one" in only_failed.text and "Sent one" not in only_failed.text

    reply = await admin.submit(
        "/admin/outbox?status=failed", {}, action=f"/admin/outbox/{failing.id}/requeue"
    )
    assert reply.status == 200 and "is queued again" in reply.text
    assert (await letter(sessions, failing.id)).status is OutboxStatus.QUEUED


async def test_the_outbox_page_is_for_admins_only(agent):
    reply = await agent.get("/admin/outbox")
    assert reply.status == 403


class ShiftingClock:
    """A clock that moves only when a test (or a slow mailer) moves it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class SlowMailer:
    """Each hand-over takes `seconds` of the shared clock; after the `after`-th, `then` runs."""

    def __init__(
        self,
        clock: ShiftingClock,
        seconds: int,
        *,
        after: int = 0,
        then: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        self.clock, self.seconds, self.after, self.then = clock, seconds, after, then
        self.letters: list[str] = []

    async def send(self, letter: Letter) -> None:
        self.clock.now += timedelta(seconds=self.seconds)
        self.letters.append(letter.subject)
        if self.then is not None and len(self.letters) == self.after:
            await self.then()


async def test_a_long_pass_claims_each_letter_with_a_lease_from_when_it_took_it(sessions):
    clock = ShiftingClock(T0)
    settings = SenderSettings(
        policy=RetryPolicy(3, timedelta(seconds=30), timedelta(minutes=5)),
        lease=timedelta(seconds=100),
    )
    await queue_letters(sessions, 3)
    other = SlowMailer(clock, 0)

    async def another_sender_starts() -> Delivery:
        # 140 s into the first pass: the second letter was taken at 70 s; its lease holds.
        return await deliver_due(sessions, other, clock=clock, settings=settings)

    first = SlowMailer(clock, 70, after=2, then=another_sender_starts)
    await deliver_due(sessions, first, clock=clock, settings=settings)
    assert (first.letters, other.letters) == (["Alert 0", "Alert 1"], ["Alert 2"])


async def test_a_sender_whose_lease_ran_out_cannot_undo_the_next_senders_delivery(sessions):
    (letter_id,) = await queue_letters(sessions)
    policy = RetryPolicy(3, timedelta(seconds=30), timedelta(minutes=5))
    async with sessions.begin() as session:
        late = await claim_next(session, now=T0, lease=timedelta(minutes=1))
    async with sessions.begin() as session:
        taken_over = await claim_next(session, now=T0 + timedelta(minutes=2), lease=timedelta(1))
    assert late and taken_over and late.message_id == taken_over.message_id == letter_id
    async with sessions.begin() as session:
        assert await mark_sent(session, claimed=taken_over, now=T0 + timedelta(minutes=2))
    async with sessions.begin() as session:
        status = await mark_failed(
            session, claimed=late, error="timeout", now=T0 + timedelta(minutes=3), policy=policy
        )
        assert status is None
        assert not await mark_sent(session, claimed=late, now=T0 + timedelta(minutes=3))
    sent = await letter(sessions, letter_id)
    assert (sent.status, sent.attempts, sent.last_error) == (OutboxStatus.SENT, 1, None)


async def test_a_stopping_sender_ends_its_pass_after_the_letter_in_hand(sessions):
    await queue_letters(sessions, 5)
    clock = ShiftingClock(T0)
    mailer = SlowMailer(clock, 1)
    settings = SenderSettings.from_config(email_config(25))
    delivery = await deliver_due(
        sessions, mailer, clock=clock, settings=settings, stopping=lambda: len(mailer.letters) >= 2
    )
    assert (delivery, mailer.letters) == (Delivery(sent=2), ["Alert 0", "Alert 1"])
    async with sessions() as session:
        queued = await session.scalar(
            select(func.count()).where(OutboxMessage.status == OutboxStatus.QUEUED)
        )
    assert queued == 3


async def test_a_line_break_in_a_subject_cannot_break_the_letters_headers(sessions, smtp):
    smtp.start()
    async with sessions.begin() as session:
        await enqueue(
            session, to=ADMINS, subject="Lockout\r\nBcc: x@evil.example", body="b", now=T0
        )
    config = email_config(smtp.port)
    delivery = await deliver_due(
        sessions, SmtpMailer(config), clock=at(T0), settings=SenderSettings.from_config(config)
    )
    assert delivery == Delivery(sent=1)
    ((recipients, message),) = smtp.inbox.messages
    assert recipients == list(ADMINS) and message["Bcc"] is None
    assert message["Subject"] == "Lockout Bcc: x@evil.example"


async def test_sending_again_a_letter_that_is_not_failed_says_so(admin, sessions, smtp):
    smtp.start()
    config = email_config(smtp.port)
    (letter_id,) = await queue_letters(sessions)
    await deliver_due(
        sessions, SmtpMailer(config), clock=at(T0), settings=SenderSettings.from_config(config)
    )
    reply = await admin.submit("/admin/outbox", {}, action=f"/admin/outbox/{letter_id}/requeue")
    assert "is sent: nothing to send again" in reply.text
    assert (await letter(sessions, letter_id)).status is OutboxStatus.SENT
    assert len(smtp.inbox.messages) == 1
