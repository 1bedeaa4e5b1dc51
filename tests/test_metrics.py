"""/metrics: Prometheus text, the app's counts, the outbox and pool read when scraped, no
phone number anywhere, and one sum over every worker of `ivr serve --workers N`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime

import phonenumbers
import pytest
from prometheus_client.parser import text_string_to_metric_families

from crm.demo import CLIENTS, PARTNERS
from crm.outbox.service import enqueue
from ivr.keys import ENGINE
from ivr.metrics import METRICS, MULTIPROC_DIR, Metrics
from ivr.simulator import ScriptedCaller
from tests.helpers import ANNA, open_polis, signed_post
from tests.processes import children, service_env, serving
from tests.test_workers import PUBLIC, postgres  # noqa: F401  (a module fixture)

FAMILIES = {
    "ivr_webhook_seconds",
    "ivr_webhook_answers",
    "ivr_apologies",
    "ivr_calls",
    "ivr_dials",
    "ivr_sms",
    "ivr_outbox_messages",
    "ivr_db_pool_connections",
}
"""Every family /metrics answers (the parser names a counter without `_total`)."""

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> tuple[set[str], Samples]:
    """The family names and every sample's value by (name, labels)."""
    families = list(text_string_to_metric_families(text))
    samples = {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in families
        for sample in family.samples
    }
    return {family.name for family in families}, samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


async def scrape(http, server) -> tuple[int, str, str]:
    async with http.get(server.make_url("/metrics"), allow_redirects=False) as reply:
        return reply.status, reply.headers["Content-Type"], await reply.text()


def scrape_url(base: str) -> Samples:
    with urllib.request.urlopen(base + "/metrics", timeout=5) as reply:
        return parse(reply.read().decode())[1]


def personal_number_forms() -> set[str]:
    """Each demo client's and manager's number: E.164, without the plus, national."""
    phones = [client["phone"] for client in CLIENTS]
    phones += [phone for partner in PARTNERS for m in partner["managers"] for phone in m["phones"]]
    forms: set[str] = set()
    for phone in phones:
        forms |= {phone, phone[1:], str(phonenumbers.parse(phone).national_number)}
    return forms


async def test_metrics_answer_prometheus_text_with_every_family_without_login(server, http):
    status, content_type, text = await scrape(http, server)
    assert (status, content_type) == (200, "text/plain; version=0.0.4; charset=utf-8")
    families, samples = parse(text)
    assert families >= FAMILIES
    assert value(samples, "ivr_sms_total", result="refused") == 0
    assert value(samples, "ivr_calls_total", outcome="lost") == 0


async def test_recorded_events_show_with_their_labels(server, http):
    metrics = server.app[METRICS]
    metrics.webhook("number", 0.02, 200)
    metrics.webhook("number", 0.004, 200)
    metrics.webhook("number", 3.0, 500)
    metrics.apology("number")
    metrics.call_ended("bridged")
    metrics.dial("busy")
    metrics.dial("accepted")
    metrics.sms("sent")
    metrics.sms("refused")
    metrics.sms("refused")
    _, _, text = await scrape(http, server)
    _, samples = parse(text)
    assert value(samples, "ivr_webhook_answers_total", step="number", status="200") == 2
    assert value(samples, "ivr_webhook_answers_total", step="number", status="500") == 1
    assert value(samples, "ivr_webhook_seconds_count", step="number") == 3
    assert value(samples, "ivr_webhook_seconds_sum", step="number") == pytest.approx(3.024)
    assert value(samples, "ivr_webhook_seconds_bucket", step="number", le="0.005") == 1
    assert value(samples, "ivr_webhook_seconds_bucket", step="number", le="0.025") == 2
    assert value(samples, "ivr_webhook_seconds_bucket", step="number", le="2.5") == 2
    assert value(samples, "ivr_webhook_seconds_bucket", step="number", le="5.0") == 3
    assert value(samples, "ivr_apologies_total", step="number") == 1
    assert value(samples, "ivr_calls_total", outcome="bridged") == 1
    assert value(samples, "ivr_calls_total", outcome="client_busy") == 0
    assert value(samples, "ivr_dials_total", result="busy") == 1
    assert value(samples, "ivr_dials_total", result="accepted") == 1
    assert value(samples, "ivr_sms_total", result="sent") == 1
    assert value(samples, "ivr_sms_total", result="refused") == 2


async def test_a_result_nobody_expected_is_counted_as_other_not_as_a_label(server, http):
    metrics = server.app[METRICS]
    metrics.dial("+79161234567")
    metrics.call_ended("Ivan Petrov")
    _, _, text = await scrape(http, server)
    _, samples = parse(text)
    assert value(samples, "ivr_dials_total", result="other") == 1
    assert value(samples, "ivr_calls_total", outcome="other") == 1
    assert "+7916" not in text and "Ivan" not in text


async def test_outbox_gauge_counts_the_letters_in_the_database_by_status(server, http, sessions):
    now = datetime.now(UTC)
    async with sessions.begin() as session:
        for subject in ("first", "second"):
            await enqueue(session, to=["admin@example.com"], subject=subject, body="", now=now)
        await enqueue(session, to=[], subject="nobody to send it to", body="", now=now)
    _, _, text = await scrape(http, server)
    _, samples = parse(text)
    assert value(samples, "ivr_outbox_messages", status="queued") == 2
    assert value(samples, "ivr_outbox_messages", status="failed") == 1
    assert value(samples, "ivr_outbox_messages", status="sent") == 0


async def test_pool_gauge_counts_the_connections_checked_out(server, http):
    engine = server.app[ENGINE]
    async with engine.connect():
        _, _, text = await scrape(http, server)
    _, held = parse(text)
    _, _, text = await scrape(http, server)
    _, released = parse(text)
    assert value(held, "ivr_db_pool_connections", state="checked_out") == 1
    assert value(released, "ivr_db_pool_connections", state="checked_out") == 0
    assert value(released, "ivr_db_pool_connections", state="size") == engine.pool.size()


async def test_no_phone_number_appears_after_a_call(server, http, simulator, demo):
    number = open_polis(demo)["number"]
    await simulator.call(ScriptedCaller([f"{number}#"]), from_number=ANNA)
    _, _, text = await scrape(http, server)
    assert [form for form in personal_number_forms() if form in text] == []


async def test_a_simulated_call_is_counted(server, http, simulator, demo):
    """Needs the webhooks to call `Metrics` (ivr/webhooks)."""
    number = open_polis(demo)["number"]
    await simulator.call(ScriptedCaller([f"{number}#"]), from_number=ANNA)
    _, _, text = await scrape(http, server)
    _, samples = parse(text)
    assert value(samples, "ivr_webhook_answers_total", step="voice", status="200") == 1
    assert value(samples, "ivr_webhook_answers_total", step="number", status="200") == 1
    assert value(samples, "ivr_webhook_seconds_count", step="voice") == 1
    assert value(samples, "ivr_calls_total", outcome="bridged") == 1


async def test_a_replayed_dial_result_is_not_counted_again(server, http, simulator, demo):
    number = open_polis(demo)["number"]
    record = await simulator.call(ScriptedCaller([f"{number}#"]), from_number=ANNA)
    replay = {
        "CallSid": record.call_sid,
        "AccountSid": "AC" + "0" * 32,
        "From": ANNA,
        "To": "+15005550006",
        "CallStatus": "completed",
        "DialCallStatus": "completed",
        "DialCallDuration": "42",
    }
    status, _, _ = await signed_post(http, str(server.make_url("")), "/ivr/dial-result", replay)
    assert status == 200
    _, samples = parse((await scrape(http, server))[2])
    assert value(samples, "ivr_dials_total", result="completed") == 1
    assert value(samples, "ivr_dials_total", result="accepted") == 1
    assert value(samples, "ivr_webhook_answers_total", step="dial_result", status="200") == 2


def test_processes_sharing_a_metrics_folder_are_summed(tmp_path, monkeypatch):
    monkeypatch.setenv(MULTIPROC_DIR, str(tmp_path))
    other = "from ivr.metrics import Metrics; m = Metrics(); m.sms('sent'); m.dial('busy')"
    subprocess.run([sys.executable, "-c", other], check=True, env=os.environ.copy())
    mine = Metrics()
    mine.sms("sent")
    mine.webhook("voice", 0.01, 200)
    _, samples = parse(mine.exposition(outbox=None).decode())
    assert value(samples, "ivr_sms_total", result="sent") == 2
    assert value(samples, "ivr_dials_total", result="busy") == 1
    assert value(samples, "ivr_webhook_answers_total", step="voice", status="200") == 1


def _pool_size(base: str) -> float:
    return value(scrape_url(base), "ivr_db_pool_connections", state="size")


def _until(condition, what: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what


def test_workers_answer_one_sum_and_forget_the_workers_that_stopped(postgres, tmp_path):  # noqa: F811
    url, _ = postgres
    env = service_env(tmp_path, url, IVR_PUBLIC_URL=PUBLIC)
    with serving(tmp_path, env, name="one") as (_, base):
        one = _pool_size(base)
    assert one >= 1
    with serving(tmp_path, env, "--workers", "2", name="workers") as (process, base):
        _until(lambda: _pool_size(base) == 2 * one, "the two workers' pools were not summed")
        before = set(children(process.pid))
        os.kill(process.pid, signal.SIGHUP)  # each worker replaced: its files stay behind
        _until(
            lambda: (
                set(children(process.pid)).isdisjoint(before) and len(children(process.pid)) == 2
            ),
            "the workers were not replaced",
        )
        # Four pools counted would mean the stopped workers' live gauges were kept.
        _until(lambda: _pool_size(base) == 2 * one, "stopped workers still counted")
