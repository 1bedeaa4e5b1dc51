"""Signed garbage in every field of every voice webhook: never a 5xx, always TwiML."""

from __future__ import annotations

import json
import time
import xml.etree.ElementTree as ET
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from ivr.simulator import new_sid
from tests.conftest import AUTH_TOKEN
from tests.helpers import ANNA, open_polis, signed_post
from tests.helpers import VOICE_ROUTES as ROUTES
from tests.logcapture import captured_logs

EXAMPLES = 1100
"""Requests per database (one per example); both databases together send over 2,000."""
FIELDS = [
    "CallSid",
    "ParentCallSid",
    "From",
    "To",
    "Digits",
    "DialCallStatus",
    "DialCallDuration",
    "CallStatus",
    "CallDuration",
    "AccountSid",
]
NASTY = [
    "\x00",
    "busy\x00",
    "CA\x00" + "1" * 32,
    "+7999\x000000001",
    str(2**31 - 1),
    str(2**31),
    str(2**63),
    "99999999999",
    "-1",
    "1e9",
    " 7 ",
    "²",
    "①",
    "١٢٣#",
    "\U0001f600",
    "%00",
    "'; DROP TABLE calls; --",
    "<Response/>",
    "]]>",
    "completed",
    "in-progress",
    "no-answer",
    "busy",
    "answered",
    "1",
    "2",
    "#",
    ANNA,
]
values = st.one_of(
    st.text(max_size=40),
    st.text(st.characters(codec="utf-8"), max_size=300),
    st.sampled_from(NASTY),
    st.integers(-(2**70), 2**70).map(str),
    st.text(alphabet="0123456789*#", max_size=40),
    st.integers(1_000, 20_000).map(lambda n: "9" * n),
)
forms = st.dictionaries(
    st.one_of(st.sampled_from(FIELDS), st.text(min_size=1, max_size=30)), values, max_size=8
)


@pytest.fixture
async def live_calls(server, http, demo) -> list[str]:
    """Calls in every stage: awaiting a number, dialing, unreachable, ended, a stranger's."""
    url, number = str(server.make_url("")), open_polis(demo)["number"]
    sids = [new_sid() for _ in range(5)]
    for sid in sids[:4]:
        await signed_post(http, url, "/ivr/voice", {"CallSid": sid, "From": ANNA})
    for sid in sids[1:4]:
        await signed_post(http, url, "/ivr/number", {"CallSid": sid, "Digits": f"{number}#"})
    for sid in sids[2:4]:
        await signed_post(http, url, "/ivr/dial-result", {"CallSid": sid, "DialCallStatus": "busy"})
    await signed_post(http, url, "/ivr/status", {"CallSid": sids[3], "CallStatus": "completed"})
    await signed_post(http, url, "/ivr/voice", {"CallSid": sids[4], "From": "+15550001111"})
    return sids


@pytest.fixture
def sent():
    """Every answer's status, and the log lines so far; checks at the end that all were sent."""
    replies: list[int] = []
    started = time.monotonic()
    with captured_logs() as stream:
        yield replies, stream
    print(f"\nfuzz: {len(replies)} requests in {time.monotonic() - started:.1f} s")
    assert len(replies) >= EXAMPLES


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(
    route=st.sampled_from(ROUTES),
    form=forms,
    call=st.one_of(st.none(), st.integers(0, 4)),
    as_parent=st.booleans(),
)
async def test_signed_garbage_on_every_route_never_gets_a_server_error(
    server, http, live_calls, sent, route, form, call, as_parent
):
    replies, stream = sent
    logged = len(stream.getvalue())
    if call is not None:
        form = {**form, ("ParentCallSid" if as_parent else "CallSid"): live_calls[call]}
    url = str(server.make_url(route))
    signature = RequestValidator(AUTH_TOKEN).compute_signature(url, form)
    async with http.post(
        url,
        data=urlencode(form),
        headers={
            "X-Twilio-Signature": signature,
            "Content-Type": "application/x-www-form-urlencoded",
        },
    ) as reply:
        body = await reply.text()
    replies.append(reply.status)
    assert reply.status < 500, body[:300]
    assert (reply.status, reply.content_type) == (200, "text/xml"), body[:300]
    assert ET.fromstring(body).tag == "Response"
    # Garbage is the sender's fault: at most a warning, never an error with a traceback.
    lines = [json.loads(line) for line in stream.getvalue()[logged:].split("\n") if line]
    assert [line["event"] for line in lines if line["level"] in ("error", "critical")] == []
