"""Agent sign-up through the JSON API: the flow, each limit at its edge, exactness under load."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from crm.audit import AuditEntry
from crm.models import Agent
from crm.outbox.sender import SenderSettings, deliver_due
from crm.signup.admin import GateStatus, lift_stop
from crm.signup.models import SignupCode, SignupToken
from ivr.background import run_jobs
from ivr.keys import CONFIG, MAILER, SESSIONS
from tests.api_helpers import ADMIN, account_actor
from tests.crm_client import CrmClient
from tests.logcapture import captured_logs, log_events
from tests.signup_helpers import ADMINS, PHONE, SENDER, SignupRig, phone

pytest_plugins = ("tests.signup_fixtures",)


async def test_a_russian_number_gets_a_code_verifies_and_the_agent_logs_in(start_signup):
    rig = await start_signup()
    reply = await rig.ask("8 (916) 123-45-67")
    assert (reply.status, reply.json) == (202, {"expires_in": 600, "resend_after": 600})
    (message,) = rig.twilio.messages
    assert (message["to"], message["from"]) == (PHONE, SENDER)
    verified = await rig.verify(rig.last_code())
    assert verified.status == 200, verified.text
    done = await rig.complete(verified.json["signup_token"])
    assert done.status == 201, done.text
    assert done.json["phone"] == PHONE and done.json["email"] == "pavel@example.com"
    browser = CrmClient(str(rig.server.make_url("")))
    try:
        page = await browser.login("pavel@example.com", "orlov-secret-2026")
    finally:
        await browser.close()
    assert page.status == 200 and page.path == "/requests"


async def test_a_bad_or_landline_phone_is_refused_naming_phone_and_nothing_is_sent(start_signup):
    rig = await start_signup()
    for typed in ("12", "not a phone", "+7 495 123-45-67"):
        reply = await rig.ask(typed)
        assert reply.status == 422 and set(reply.fields) == {"phone"}, typed
    assert "landline" in reply.fields["phone"]
    assert rig.twilio.messages == []


async def test_a_phone_that_has_an_account_is_told_so_and_gets_no_code(start_signup):
    rig = await start_signup(cooldown_seconds=0)
    await signed_up(rig)
    sent_before = len(rig.twilio.messages)
    reply = await rig.ask("+7 916 123 45 67")
    assert reply.status == 409 and "log in" in reply.fields["phone"]
    assert len(rig.twilio.messages) == sent_before


async def test_the_cooldown_refuses_a_second_before_its_end_and_sends_at_the_edge(start_signup):
    rig = await start_signup(cooldown_seconds=600)
    assert (await rig.ask()).status == 202
    rig.clock.advance(599)
    early = await rig.ask()
    assert early.status == 429
    assert early.headers["Retry-After"] == "1" and early.json["error"]["retry_after"] == 1
    rig.clock.advance(1)
    assert (await rig.ask()).status == 202
    assert len(rig.codes_to(PHONE)) == 2


async def test_the_nth_code_per_phone_a_day_is_sent_the_next_refused_until_a_day_passed(
    start_signup,
):
    rig = await start_signup(cooldown_seconds=60, per_phone_daily=3)
    for _ in range(3):
        assert (await rig.ask()).status == 202
        rig.clock.advance(60)
    refused = await rig.ask()
    assert refused.status == 429 and "today" in refused.json["error"]["message"]
    # The first code was sent 180 s ago: the count frees up one day after it.
    assert int(refused.headers["Retry-After"]) == 24 * 3600 - 180
    assert (await rig.ask(phone(2))).status == 202  # another number is not affected
    rig.clock.advance(24 * 3600 - 180)
    assert (await rig.ask()).status == 202


async def test_the_nth_code_per_address_a_day_is_sent_the_next_refused(start_signup):
    rig = await start_signup(per_ip_daily=3, config_overrides={"trust_proxy": True})
    first = {"X-Forwarded-For": "203.0.113.7"}
    for n in range(3):
        assert (await rig.ask(phone(n), headers=first)).status == 202
    refused = await rig.ask(phone(3), headers=first)
    assert refused.status == 429 and "your address" in refused.json["error"]["message"]
    # What the proxy says the browser is, not a header the browser adds before it.
    spoofed = {"X-Forwarded-For": "198.51.100.1, 203.0.113.7"}
    assert (await rig.ask(phone(3), headers=spoofed)).status == 429
    assert (await rig.ask(phone(3), headers={"X-Forwarded-For": "203.0.113.8"})).status == 202


async def test_without_a_trusted_proxy_a_forwarded_header_changes_no_address(start_signup):
    rig = await start_signup(per_ip_daily=2)
    for n in range(2):
        assert (await rig.ask(phone(n), headers={"X-Forwarded-For": f"10.0.0.{n}"})).status == 202
    refused = await rig.ask(phone(2), headers={"X-Forwarded-For": "10.0.0.9"})
    assert refused.status == 429


async def test_a_refused_or_unanswered_message_counts_for_nothing_and_says_so(start_signup):
    rig = await start_signup(cooldown_seconds=600, per_phone_daily=1)
    rig.twilio.refuse_next(400, 21610, "Attempt to send to unsubscribed recipient")
    with captured_logs() as stream:
        refused = await rig.ask()
        rig.twilio.stall_next()
        timed_out = await rig.ask()
    assert (refused.status, timed_out.status) == (502, 502)
    assert refused.json["error"]["code"] == "sms_not_sent"
    reasons = [
        line["reason"] for line in log_events(stream) if line["event"] == "signup_sms_refused"
    ]
    assert reasons == [
        "Twilio refused the message: error 21610",
        "Twilio could not be reached: TimeoutError",
    ]
    assert PHONE not in stream.getvalue()
    # No cooldown started and the daily limit of one is still free.
    assert (await rig.ask()).status == 202
    assert len(rig.codes_to(PHONE)) == 1


async def test_a_wrong_code_tells_the_tries_left_and_the_fifth_kills_it(start_signup):
    rig = await start_signup()
    await rig.ask()
    right = rig.last_code()
    wrong = f"{(int(right) + 1) % 10**6:06d}"
    for left in (4, 3, 2, 1):
        reply = await rig.verify(wrong)
        assert reply.status == 422 and reply.json["error"]["attempts_left"] == left
        assert reply.fields == {
            "code": f"wrong code: {left} {'try' if left == 1 else 'tries'} left"
        }
    last = await rig.verify(wrong)
    assert last.status == 410 and "last try" in last.json["error"]["message"]
    dead = await rig.verify(right)
    assert dead.status == 410 and "Too many wrong codes" in dead.json["error"]["message"]


async def test_a_code_not_six_digits_is_refused_without_using_a_try(start_signup):
    rig = await start_signup()
    await rig.ask()
    for typed in ("12345", "abcdef", "1234567"):
        reply = await rig.verify(typed)
        assert reply.status == 422 and "attempts_left" not in reply.json["error"], typed
    assert (await rig.verify(" ".join([rig.last_code()[:3], rig.last_code()[3:]]))).status == 200


async def test_an_expired_code_is_refused_and_a_new_one_works(start_signup):
    rig = await start_signup(cooldown_seconds=600, code_ttl_seconds=600)
    await rig.ask()
    old = rig.last_code()
    rig.clock.advance(600)
    expired = await rig.verify(old)
    assert expired.status == 410 and "expired" in expired.json["error"]["message"]
    await rig.ask()
    assert (await rig.verify(rig.last_code())).status == 200


async def test_a_used_code_and_a_used_token_cannot_be_used_again(start_signup):
    rig = await start_signup()
    await rig.ask()
    code = rig.last_code()
    token = (await rig.verify(code)).json["signup_token"]
    again = await rig.verify(code)
    assert again.status == 410
    assert (await rig.complete(token)).status == 201
    reused = await rig.complete(token, email="second@example.com")
    assert reused.status == 410


async def test_only_the_latest_code_of_a_phone_works(start_signup):
    rig = await start_signup(cooldown_seconds=60)
    await rig.ask()
    rig.clock.advance(60)
    await rig.ask()
    first, latest = rig.codes_to(PHONE)
    # Only the latest is checked: the first, unless the same digits came twice, is wrong.
    earlier = first if first != latest else f"{(int(latest) + 1) % 10**6:06d}"
    assert (await rig.verify(earlier)).status == 422
    assert (await rig.verify(latest)).status == 200


async def test_a_refused_field_keeps_the_token_usable(start_signup, demo):
    rig = await start_signup()
    await rig.ask()
    token = (await rig.verify(rig.last_code())).json["signup_token"]
    weak = await rig.complete(token, password="short")
    assert weak.status == 422 and set(weak.fields) == {"password"}
    taken = await rig.complete(token, email="agent@example.com")
    assert taken.status == 409 and set(taken.fields) == {"email"}
    unknown = await rig.complete("no-such-token")
    assert unknown.status == 422 and set(unknown.fields) == {"signup_token"}
    assert (await rig.complete(token)).status == 201


async def test_a_token_expires(start_signup):
    rig = await start_signup(token_ttl_seconds=900)
    await rig.ask()
    token = (await rig.verify(rig.last_code())).json["signup_token"]
    rig.clock.advance(900)
    late = await rig.complete(token)
    assert late.status == 410 and "expired" in late.json["error"]["message"]


async def test_the_suspicious_email_arrives_once_per_window(start_signup):
    rig = await start_signup(
        cooldown_seconds=0, window_seconds=3600, suspicious_per_window=3, max_per_window=100
    )
    for n in range(6):
        assert (await rig.ask(phone(n))).status == 202
    await deliver(rig)
    assert rig.smtp.inbox.subjects == ["Sign-up: suspicious frequency of text messages"]
    ((recipients, letter),) = rig.smtp.inbox.messages
    assert recipients == ADMINS
    body = letter.get_payload(decode=True).decode()
    assert "3 sign-up codes were sent within the last 60 minutes" in body
    assert "127.0.0.1: 3" in body and phone(0) not in body
    rig.clock.advance(3600)
    for n in range(6, 8):
        assert (await rig.ask(phone(n))).status == 202
    await deliver(rig)
    assert len(rig.smtp.inbox.messages) == 1  # two in the new window: below the threshold
    assert (await rig.ask(phone(8))).status == 202
    await deliver(rig)
    assert len(rig.smtp.inbox.messages) == 2


async def test_at_the_maximum_sign_up_stops_for_everyone_until_the_window_passes(start_signup):
    rig = await start_signup(
        cooldown_seconds=0, window_seconds=3600, suspicious_per_window=2, max_per_window=4
    )
    for n in range(4):
        assert (await rig.ask(phone(n))).status == 202
        rig.clock.advance(60)
    stopped = await rig.ask(phone(4))
    assert stopped.status == 503 and stopped.json["error"]["code"] == "suspended"
    assert "temporarily suspended" in stopped.json["error"]["message"]
    # The fourth, sent 60 s ago, reached the maximum: the stop lasts a window from then,
    # however the sliding count moves meanwhile.
    assert stopped.headers["Retry-After"] == str(3600 - 60)
    await deliver(rig)
    assert rig.smtp.inbox.subjects == [
        "Sign-up: suspicious frequency of text messages",
        "Sign-up stopped: the maximum of text messages was reached",
    ]
    assert len(rig.twilio.messages) == 4
    rig.clock.advance(3600 - 61)  # all but the fourth code aged out; still stopped
    assert (await rig.ask(phone(4))).status == 503
    rig.clock.advance(1)
    assert (await rig.ask(phone(4))).status == 202


async def test_an_admins_lift_reopens_sign_up_and_is_audited(start_signup, sessions, demo):
    rig = await start_signup(cooldown_seconds=0, suspicious_per_window=1, max_per_window=2)
    for n in range(2):
        await rig.ask(phone(n))
    assert (await rig.ask(phone(2))).status == 503
    admin = await account_actor(sessions, ADMIN)
    async with sessions.begin() as session:
        state = await lift_stop(
            session, actor=admin, settings=rig.server.app[CONFIG].signup, now=rig.clock()
        )
    assert state.status is GateStatus.OPEN and state.sent_in_window == 0
    rig.clock.advance(1)
    assert (await rig.ask(phone(2))).status == 202
    async with sessions() as session:
        entries = list(
            await session.scalars(select(AuditEntry).where(AuditEntry.entity == "signup"))
        )
    assert [(entry.action, entry.actor) for entry in entries] == [("lift", ADMIN)]


async def test_fifty_requests_at_once_for_one_phone_send_exactly_one_code(start_signup):
    rig = await start_signup(cooldown_seconds=600)
    replies = await asyncio.gather(*(rig.ask() for _ in range(50)))
    statuses = sorted(reply.status for reply in replies)
    assert statuses == [202] + [429] * 49
    assert len(rig.twilio.messages) == 1


async def test_a_burst_over_many_phones_at_the_maximum_sends_exactly_the_maximum(start_signup):
    first = await start_signup(cooldown_seconds=0, suspicious_per_window=5, max_per_window=12)
    second = await start_signup(cooldown_seconds=0, suspicious_per_window=5, max_per_window=12)
    # Two servers on one database, as two processes would be.
    replies = await asyncio.gather(*((first if n % 2 else second).ask(phone(n)) for n in range(40)))
    statuses = [reply.status for reply in replies]
    assert statuses.count(202) == 12 and statuses.count(503) == 28
    assert len(first.twilio.messages) == 12
    await deliver(first)
    assert len(first.smtp.inbox.subjects) == 2  # suspicious once, stopped once


async def test_no_code_and_no_whole_phone_reach_the_log_with_twilio_sending(start_signup):
    rig = await start_signup(cooldown_seconds=0)
    with captured_logs("debug") as stream:
        await rig.ask("8 916 123-45-67")
        code = rig.last_code()
        await rig.verify(f"{(int(code) + 1) % 10**6:06d}")
        token = (await rig.verify(code)).json["signup_token"]
        await rig.complete(token)
        await rig.ask()  # 409: the phone has an account now
    logged = stream.getvalue()
    events = [line["event"] for line in log_events(stream)]
    assert "signup_code_sent" in events and "signup_completed" in events
    for secret in (code, token, PHONE, PHONE[1:], "9161234567"):
        assert secret not in logged, secret


async def signed_up(rig: SignupRig, to: str = PHONE) -> None:
    await rig.ask(to)
    token = (await rig.verify(rig.last_code(to))).json["signup_token"]
    assert (await rig.complete(token)).status == 201


async def deliver(rig: SignupRig) -> None:
    """Hand every queued letter to the local SMTP server, as the background task would."""
    app = rig.server.app
    settings = SenderSettings.from_config(app[CONFIG].email)
    await deliver_due(app[SESSIONS], app[MAILER], clock=rig.clock, settings=settings)


async def test_codes_are_forgotten_after_keep_days_by_the_background_pass(start_signup, sessions):
    rig = await start_signup(cooldown_seconds=0, keep_days=30)
    await rig.ask(phone(1))
    assert (await rig.verify(rig.last_code(phone(1)), phone(1))).status == 200  # and a token
    rig.clock.advance(24 * 3600)
    await rig.ask(phone(2))
    rig.clock.advance(29 * 24 * 3600)
    await run_jobs(rig.server.app)
    async with sessions() as session:
        assert len(list(await session.scalars(select(SignupToken.phone)))) == 1  # 30 days: kept
    rig.clock.advance(1)
    await run_jobs(rig.server.app)
    async with sessions() as session:
        kept = list(await session.scalars(select(SignupCode.phone)))
        tokens = list(await session.scalars(select(SignupToken.phone)))
    assert (kept, tokens) == ([phone(2)], [])


async def test_a_dropped_connection_to_twilio_counts_for_nothing(start_signup):
    rig = await start_signup(cooldown_seconds=600)
    rig.twilio.drop_next()
    with captured_logs() as stream:
        dropped = await rig.ask()
    assert dropped.status == 502
    (reason,) = [e["reason"] for e in log_events(stream) if e["event"] == "signup_sms_refused"]
    assert reason.startswith("Twilio could not be reached: ")
    assert (await rig.ask()).status == 202  # no cooldown was started


async def test_asking_for_phones_that_have_accounts_costs_the_address_like_codes(start_signup):
    rig = await start_signup(cooldown_seconds=0, per_ip_daily=3)
    await signed_up(rig)  # one code from this address
    probes = [(await rig.ask()).status for _ in range(3)]
    assert probes == [409, 409, 429]
    assert (await rig.ask(phone(9))).status == 429  # the address is spent, whatever it asks


async def test_only_mobile_numbers_of_the_allowed_countries_sign_up(start_signup):
    rig = await start_signup(allowed_regions=["RU"])
    for typed, problem in (
        ("+7 800 555-35-35", "enter a mobile number"),
        ("+44 7400 123456", "sign-up takes mobile numbers of RU"),
    ):
        reply = await rig.ask(typed)
        assert reply.status == 422 and problem in reply.fields["phone"], typed
    assert rig.twilio.messages == []
    wider = await start_signup(allowed_regions=["RU", "GB"])
    assert (await wider.ask("+44 7400 123456")).status == 202


async def test_the_address_limit_frees_up_a_day_after_the_code_that_filled_it(start_signup):
    rig = await start_signup(cooldown_seconds=0, per_ip_daily=2)
    assert (await rig.ask(phone(1))).status == 202
    rig.clock.advance(100)
    assert (await rig.ask(phone(2))).status == 202
    rig.clock.advance(100)
    refused = await rig.ask(phone(3))
    assert (refused.status, refused.headers["Retry-After"]) == (429, str(24 * 3600 - 200))
    rig.clock.advance(24 * 3600 - 201)
    assert (await rig.ask(phone(3))).status == 429
    rig.clock.advance(1)
    assert (await rig.ask(phone(3))).status == 202


async def test_an_ipv6_subscriber_is_one_address_for_its_whole_network(start_signup):
    rig = await start_signup(per_ip_daily=2, config_overrides={"trust_proxy": True})
    for n, host in enumerate(("2001:db8:1:2::1", "2001:db8:1:2::ffff")):
        assert (await rig.ask(phone(n), headers={"X-Forwarded-For": host})).status == 202
    same_net = {"X-Forwarded-For": "2001:db8:1:2:aaaa::9"}
    assert (await rig.ask(phone(2), headers=same_net)).status == 429
    other_net = {"X-Forwarded-For": "2001:db8:1:3::1"}
    assert (await rig.ask(phone(2), headers=other_net)).status == 202


async def test_a_verified_code_starts_no_cooldown_and_the_newest_token_alone_works(start_signup):
    rig = await start_signup(cooldown_seconds=600)
    await rig.ask()
    first = (await rig.verify(rig.last_code())).json["signup_token"]
    # The answer with the token was lost: the person asks again at once.
    assert (await rig.ask()).status == 202
    second = (await rig.verify(rig.last_code())).json["signup_token"]
    old = await rig.complete(first)
    assert old.status == 410 and set(old.fields) == {"signup_token"}
    assert (await rig.complete(second)).status == 201


async def test_ten_wrong_codes_at_once_use_exactly_the_five_tries(start_signup):
    rig = await start_signup()
    await rig.ask()
    right = rig.last_code()
    wrong = f"{(int(right) + 1) % 10**6:06d}"
    replies = await asyncio.gather(*(rig.verify(wrong) for _ in range(10)))
    left = sorted(r.json["error"].get("attempts_left") for r in replies if r.status == 422)
    assert left == [1, 2, 3, 4]
    assert sorted(r.status for r in replies) == [410] * 6 + [422] * 4
    assert (await rig.verify(right)).status == 410


async def test_the_right_code_sent_ten_times_at_once_gives_one_token(start_signup):
    rig = await start_signup()
    await rig.ask()
    replies = await asyncio.gather(*(rig.verify(rig.last_code()) for _ in range(10)))
    assert sorted(r.status for r in replies) == [200] + [410] * 9


async def test_one_token_completed_ten_times_at_once_opens_one_account(start_signup, sessions):
    rig = await start_signup()
    await rig.ask()
    token = (await rig.verify(rig.last_code())).json["signup_token"]
    replies = await asyncio.gather(
        *(rig.complete(token, email=f"agent{n}@example.com") for n in range(10))
    )
    assert sorted(r.status for r in replies) == [201] + [410] * 9
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Agent)) == 1


async def test_two_sign_ups_racing_for_one_email_open_one_account(start_signup):
    first_rig = await start_signup(cooldown_seconds=0)
    await first_rig.ask()
    first = (await first_rig.verify(first_rig.last_code())).json["signup_token"]
    other = phone(5)
    await first_rig.ask(other)
    second = (await first_rig.verify(first_rig.last_code(other), other)).json["signup_token"]
    replies = await asyncio.gather(
        first_rig.complete(first, email="same@example.com"),
        first_rig.complete(second, email="same@example.com"),
    )
    assert sorted(r.status for r in replies) == [201, 409]
    (conflict,) = [r for r in replies if r.status == 409]
    assert set(conflict.fields) == {"email"}


async def test_lifting_a_sign_up_that_is_not_stopped_records_nothing(start_signup, sessions, demo):
    rig = await start_signup()
    admin = await account_actor(sessions, ADMIN)
    async with sessions.begin() as session:
        lifted = await lift_stop(
            session, actor=admin, settings=rig.server.app[CONFIG].signup, now=rig.clock()
        )
    assert lifted is None
    async with sessions() as session:
        entries = await session.scalars(select(AuditEntry).where(AuditEntry.entity == "signup"))
        assert list(entries) == []
