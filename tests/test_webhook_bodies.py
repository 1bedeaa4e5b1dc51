"""A body no Twilio request has is refused with 403 and one warning, never a 500."""

from __future__ import annotations

import pytest

from tests.logcapture import captured_logs, log_events

FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data; boundary=XX"
BODIES = {
    "invalid_utf8": (FORM, b"CallSid=\xff"),
    "invalid_utf8_value": (FORM, b"CallSid=CA1&From=%2B7999\xfe\xff"),
    "unknown_charset": (f"{FORM}; charset=no-such-charset", b"CallSid=CA1"),
    "multipart_file_part": (
        MULTIPART,
        b'--XX\r\nContent-Disposition: form-data; name="CallSid"; filename="a.txt"\r\n'
        b"Content-Type: text/plain\r\n\r\nCA1\r\n--XX--\r\n",
    ),
    "multipart_part_without_name": (
        MULTIPART,
        b"--XX\r\nContent-Disposition: form-data\r\n\r\nCA1\r\n--XX--\r\n",
    ),
    "multipart_invalid_utf8": (
        MULTIPART,
        b'--XX\r\nContent-Disposition: form-data; name="CallSid"\r\n\r\nCA\xff\r\n--XX--\r\n',
    ),
}


@pytest.mark.parametrize("path", ["/ivr/voice", "/ivr/status", "/sms/status"])
@pytest.mark.parametrize("signed", [False, True], ids=["unsigned", "signed"])
@pytest.mark.parametrize("body", list(BODIES))
async def test_malformed_body_is_forbidden_with_one_warning(server, http, path, signed, body):
    content_type, data = BODIES[body]
    headers = {"Content-Type": content_type}
    if signed:
        headers["X-Twilio-Signature"] = "bm90IGEgcmVhbCBzaWduYXR1cmU="
    with captured_logs() as stream:
        async with http.post(server.make_url(path), data=data, headers=headers) as reply:
            text = await reply.text()
    assert reply.status == 403, text[:300]
    assert "<Response" not in text
    lines = [e for e in log_events(stream) if e.get("logger") != "aiohttp.access"]
    assert [(e["event"], e["level"]) for e in lines] == [("twilio_signature_rejected", "warning")]
    [rejected] = lines
    assert (rejected["path"], rejected["signed"], rejected["readable"]) == (path, signed, False)
    assert not [e for e in log_events(stream) if e["level"] in ("error", "critical")]
    assert not [e for e in log_events(stream) if "exception" in e]
