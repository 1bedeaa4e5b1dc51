"""Recording with consent, per company: announced to both sides, only an accepted
conversation kept, listened to through the service by the agent and the admins, deleted at
Twilio too. Twilio's REST side is the fake server of `tests/fake_twilio.py`."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import aiohttp
import pytest
from sqlalchemy import select

from crm.audit import AuditEntry
from crm.models import Organization
from ivr.background import run_jobs
from ivr.simulator import HANG_UP, ScriptedCaller, new_sid
from tests.conftest import make_config
from tests.crm_client import has_text
from tests.fake_twilio import ACCOUNT, FakeTwilio
from tests.helpers import ANNA, open_polis, prompt_keys, signed_post

pytest_plugins = ("tests.api_fixtures", "tests.crm_fixtures")


@pytest.fixture
async def fake_twilio(aiohttp_server) -> FakeTwilio:
    from tests.conftest import AUTH_TOKEN

    fake = FakeTwilio(account_sid=ACCOUNT, auth_token=AUTH_TOKEN)
    server = await aiohttp_server(fake.app())
    fake.url = str(server.make_url("")).rstrip("/")
    return fake


@pytest.fixture
def config(database_url, fake_twilio):
    from tests.conftest import AUTH_TOKEN

    twilio = {
        "auth_token": AUTH_TOKEN,
        "account_sid": ACCOUNT,
        "service_number": "+15005550006",
        "api_base_url": fake_twilio.url,
    }
    return make_config(database_url, twilio=twilio)


async def polis_id(sessions) -> int:
    async with sessions() as session:
        return await session.scalar(
            select(Organization.id).where(Organization.name == "Polis Insurance")
        )


async def record_polis(api_admin, sessions, policy: str = "on") -> None:
    reply = await api_admin.put(
        f"/api/v1/organizations/{await polis_id(sessions)}/recording-policy",
        json={"recording_policy": policy},
    )
    assert reply.status == 200, reply.text
    assert reply.json["recording_policy"] == policy


async def listen(api, path: str) -> tuple[int, str, bytes]:
    """GET an audio answer as bytes: status, content type, body."""
    headers = {"Authorization": f"Bearer {api.key}"}
    async with api.http.get(api.base + path, headers=headers) as reply:
        return reply.status, reply.headers.get("Content-Type", ""), await reply.read()


def the_dial(record) -> ET.Element:
    for url, body in record.documents:
        if url.endswith("/ivr/number"):
            dial = ET.fromstring(body).find("Dial")
            if dial is not None:
                return dial
    raise AssertionError("no <Dial> in the call")


async def recorded_call(simulator, demo, *, leg: str = "answered"):
    """A manager's call to the Polis client; the client answers, or a voicemail does."""
    number = open_polis(demo)["number"]
    presses = [f"{number}#"] if leg == "answered" else [f"{number}#", HANG_UP]
    return await simulator.call(ScriptedCaller(presses, [leg]), from_number=ANNA)


async def twilio_reports(server, http, record, sid: str, *, dial: int | str = 1) -> None:
    """Twilio's recording status callback for the call's `dial`-th <Dial>."""
    status, _, _ = await signed_post(
        http,
        str(server.make_url("")),
        f"/ivr/recording?dial={dial}",
        {
            "CallSid": record.call_sid,
            "AccountSid": ACCOUNT,
            "RecordingSid": sid,
            "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Recordings/{sid}",
            "RecordingStatus": "completed",
            "RecordingDuration": "37",
            "RecordingChannels": "2",
        },
    )
    assert status == 200


async def test_without_a_policy_nothing_is_announced_or_recorded(simulator, demo):
    record = await recorded_call(simulator, demo)
    assert "recording_notice" not in prompt_keys(record)
    assert prompt_keys(record, leg="client") == ["client_whisper"]
    assert "record" not in the_dial(record).attrib


async def test_a_recording_company_tells_both_sides_and_records_the_dial(
    simulator, demo, sessions, api_admin
):
    await record_polis(api_admin, sessions)
    record = await recorded_call(simulator, demo)
    assert prompt_keys(record)[:3] == ["rules", "recording_notice", "enter_number"]
    assert prompt_keys(record, leg="client") == ["client_whisper_recorded"]
    dial = the_dial(record)
    assert dial.get("record") == "record-from-answer-dual"
    assert dial.get("recordingStatusCallback").endswith("/ivr/recording?dial=1")
    assert dial.get("recordingStatusCallbackEvent") == "completed"

    await record_polis(api_admin, sessions, "off")
    after = await recorded_call(simulator, demo)
    assert "recording_notice" not in prompt_keys(after) and "record" not in the_dial(after).attrib


async def test_the_agent_lists_and_streams_a_recording_the_manager_cannot(
    simulator,
    demo,
    sessions,
    api_admin,
    api_agent,
    api_manager,
    server,
    http,
    fake_twilio,
    agent,
    manager,
):
    await record_polis(api_admin, sessions)
    record = await recorded_call(simulator, demo)
    audio = b"ID3\x04" + bytes(range(256)) * 300
    sid = fake_twilio.record(audio)
    await twilio_reports(server, http, record, sid)
    await twilio_reports(server, http, record, sid)  # Twilio retries: still one recording
    number = open_polis(demo)["number"]

    for who in (api_agent, api_admin):
        listed = await who.get(f"/api/v1/requests/{number}/recordings")
        assert listed.status == 200, listed.text
        (item,) = listed.json["items"]
        assert item["duration_seconds"] == 37
        assert sid not in listed.text and "twilio" not in listed.text.lower()
        assert await listen(who, item["audio_url"]) == (200, "audio/mpeg", audio)

    for path in (f"/api/v1/requests/{number}/recordings", item["audio_url"]):
        assert (await api_manager.get(path)).status == 403, path
    assert (
        await api_manager.call("DELETE", f"/api/v1/requests/{number}/recordings/{item['id']}")
    ).status == 403

    page = await agent.get(f"/requests/{number}")
    assert has_text(page.text, "Recordings") and "<audio" in page.text
    assert sid not in page.text and fake_twilio.url not in page.text
    async with agent.http.get(
        f"{agent.base_url}/requests/{number}/recordings/{item['id']}"
    ) as heard:
        assert (heard.status, await heard.read()) == (200, audio)
    assert (await manager.get(f"/requests/{number}/recordings/{item['id']}")).status == 403


async def test_a_voicemails_recording_is_not_kept_and_is_deleted_at_twilio(
    simulator, demo, sessions, api_admin, api_agent, server, http, fake_twilio
):
    await record_polis(api_admin, sessions)
    record = await recorded_call(simulator, demo, leg="voicemail")
    sid = fake_twilio.record()
    await twilio_reports(server, http, record, sid)
    assert fake_twilio.deleted_recordings == [], "not while Twilio waits for the answer"
    await run_jobs(server.app)
    assert fake_twilio.deleted_recordings == [sid]
    number = open_polis(demo)["number"]
    assert (await api_agent.get(f"/api/v1/requests/{number}/recordings")).json["items"] == []
    await run_jobs(server.app)
    assert fake_twilio.deleted_recordings == [sid], "deleted once"


async def test_a_voicemails_recording_reported_after_an_accepted_redial_is_not_kept(
    simulator, demo, sessions, api_admin, api_agent, server, http, fake_twilio
):
    await record_polis(api_admin, sessions)
    number = open_polis(demo)["number"]
    record = await simulator.call(
        ScriptedCaller([f"{number}#", "1"], ["voicemail", "answered"]), from_number=ANNA
    )
    voicemail, conversation = fake_twilio.record(b"ID3 voicemail"), fake_twilio.record()
    await twilio_reports(server, http, record, conversation, dial=2)
    await twilio_reports(server, http, record, voicemail, dial=1)  # late, as Twilio may be
    await run_jobs(server.app)
    assert fake_twilio.deleted_recordings == [voicemail]
    (item,) = (await api_agent.get(f"/api/v1/requests/{number}/recordings")).json["items"]
    assert await listen(api_agent, item["audio_url"]) == (
        200,
        "audio/mpeg",
        b"ID3\x04fake mp3 audio",
    )
    for garbage in ("7", "0", "x", ""):
        sid = fake_twilio.record()
        await twilio_reports(server, http, record, sid, dial=garbage)
    await run_jobs(server.app)
    assert len(fake_twilio.deleted_recordings) == 5, "a dial it cannot name is never kept"


class ChangesPolicyAtTheKeypad(ScriptedCaller):
    """A manager who types the request number while an admin switches recording."""

    def __init__(self, presses, dials, *, switch) -> None:
        super().__init__(presses, dials)
        self.switch = switch

    async def keypad(self, heard):
        if self.switch is not None:
            switch, self.switch = self.switch, None
            await switch()
        return await super().keypad(heard)


@pytest.mark.parametrize(("at_greeting", "at_dial"), [("on", "off"), ("off", "on")])
async def test_a_dial_records_only_if_the_call_began_recorded_and_still_is(
    simulator, demo, sessions, api_admin, at_greeting, at_dial
):
    await record_polis(api_admin, sessions, at_greeting)
    number = open_polis(demo)["number"]

    async def switch() -> None:
        await record_polis(api_admin, sessions, at_dial)

    record = await simulator.call(
        ChangesPolicyAtTheKeypad([f"{number}#"], ["answered"], switch=switch), from_number=ANNA
    )
    assert ("recording_notice" in prompt_keys(record)) is (at_greeting == "on")
    assert "record" not in the_dial(record).attrib
    assert prompt_keys(record, leg="client") == ["client_whisper"], "the client is told the truth"


async def test_a_retried_first_webhook_repeats_the_notice(server, http, demo, sessions, api_admin):
    await record_polis(api_admin, sessions)
    url, params = str(server.make_url("")), {"CallSid": new_sid(), "From": ANNA}
    first = await signed_post(http, url, "/ivr/voice", params)
    again = await signed_post(http, url, "/ivr/voice", params)
    assert first[2] == again[2] and "recording_notice" in again[2]


async def test_a_player_may_ask_for_part_and_a_broken_download_stays_broken(
    simulator, demo, sessions, api_admin, api_agent, server, http, fake_twilio
):
    await record_polis(api_admin, sessions)
    record = await recorded_call(simulator, demo)
    audio = bytes(range(256)) * 40
    await twilio_reports(server, http, record, fake_twilio.record(audio))
    number = open_polis(demo)["number"]
    (item,) = (await api_agent.get(f"/api/v1/requests/{number}/recordings")).json["items"]
    headers = {"Authorization": f"Bearer {api_agent.key}", "Range": "bytes=100-199"}
    async with http.get(api_agent.base + item["audio_url"], headers=headers) as part:
        assert (part.status, part.headers["Content-Range"]) == (206, f"bytes 100-199/{len(audio)}")
        assert part.headers["Accept-Ranges"] == "bytes" and await part.read() == audio[100:200]

    fake_twilio.cut_audio = True
    headers = {"Authorization": f"Bearer {api_agent.key}"}
    with pytest.raises(aiohttp.ClientPayloadError):
        async with http.get(api_agent.base + item["audio_url"], headers=headers) as broken:
            assert broken.status == 200
            await broken.read()
    assert await listen(api_agent, item["audio_url"]) == (200, "audio/mpeg", audio)


async def test_another_agents_request_has_no_recordings_to_show(
    simulator, demo, sessions, api_admin, api_agent, apis, server, http, fake_twilio
):
    await record_polis(api_admin, sessions)
    record = await recorded_call(simulator, demo)
    await twilio_reports(server, http, record, fake_twilio.record())
    number = open_polis(demo)["number"]
    (item,) = (await api_agent.get(f"/api/v1/requests/{number}/recordings")).json["items"]
    other = await apis.other_agent()
    assert (await other.get(f"/api/v1/requests/{number}/recordings")).status == 404
    assert (await listen(other, item["audio_url"]))[0] == 404
    assert (
        await other.call("DELETE", f"/api/v1/requests/{number}/recordings/{item['id']}")
    ).status == 404


async def test_deleting_a_recording_deletes_it_at_twilio_and_is_audited(
    simulator, demo, sessions, api_admin, api_agent, server, http, fake_twilio
):
    await record_polis(api_admin, sessions)
    record = await recorded_call(simulator, demo)
    sid = fake_twilio.record()
    await twilio_reports(server, http, record, sid)
    number = open_polis(demo)["number"]
    (item,) = (await api_agent.get(f"/api/v1/requests/{number}/recordings")).json["items"]
    one = f"/api/v1/requests/{number}/recordings/{item['id']}"

    fake_twilio.refuse_next(500, 20500, "Internal Server Error")
    refused = await api_agent.call("DELETE", one)
    assert (refused.status, refused.json["error"]["code"]) == (502, "twilio_unavailable")
    assert len((await api_agent.get(f"/api/v1/requests/{number}/recordings")).json["items"]) == 1

    deleted = await api_agent.call("DELETE", one)
    assert deleted.status == 204
    assert fake_twilio.deleted_recordings == [sid]
    assert (await api_agent.get(f"/api/v1/requests/{number}/recordings")).json["items"] == []
    assert (await api_agent.get(item["audio_url"])).status == 404
    async with sessions() as session:
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.entity == "recording"))
    assert (entry.action, entry.actor) == ("delete", "agent@example.com")


async def test_deleting_from_the_page_needs_the_tick(
    simulator, demo, sessions, api_admin, agent, server, http, fake_twilio
):
    await record_polis(api_admin, sessions)
    record = await recorded_call(simulator, demo)
    sid = fake_twilio.record()
    await twilio_reports(server, http, record, sid)
    number = open_polis(demo)["number"]
    page = f"/requests/{number}"
    (recording_id,) = re.findall(r"/recordings/(\d+)/delete", (await agent.get(page)).text)
    action = f"{page}/recordings/{recording_id}/delete"
    unticked = await agent.submit(page, {}, action=action)
    assert has_text(unticked.text, "Tick “Yes, delete it”") and fake_twilio.deleted_recordings == []
    ticked = await agent.submit(page, {"confirm": "yes"}, action=action)
    assert has_text(ticked.text, "The recording is deleted") and fake_twilio.deleted_recordings == [
        sid
    ]


async def test_twilio_down_while_streaming_answers_502(
    simulator, demo, sessions, api_admin, api_agent, server, http, fake_twilio
):
    await record_polis(api_admin, sessions)
    record = await recorded_call(simulator, demo)
    sid = fake_twilio.record()
    await twilio_reports(server, http, record, sid)
    number = open_polis(demo)["number"]
    (item,) = (await api_agent.get(f"/api/v1/requests/{number}/recordings")).json["items"]
    fake_twilio.refuse_next(503, 20503, "Service Unavailable")
    reply = await api_agent.get(item["audio_url"])
    assert (reply.status, reply.json["error"]["code"]) == (502, "twilio_unavailable")


async def test_the_organization_page_sets_the_policy(admin, sessions, simulator, demo):
    organization_id = await polis_id(sessions)
    page = f"/admin/organizations/{organization_id}"
    reply = await admin.submit(page, {"recording_policy": "on"}, action=f"{page}/recording-policy")
    assert has_text(reply.text, "Conversations are recorded from the next call on")
    wrong = await admin.submit(
        page, {"recording_policy": "sometimes"}, action=f"{page}/recording-policy"
    )
    assert wrong.status == 400 and has_text(wrong.text, "choose on or off")
    record = await recorded_call(simulator, demo)
    assert "recording_notice" in prompt_keys(record)
    async with sessions() as session:
        entry = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "recording_policy")
        )
    assert (entry.entity, entry.entity_id, entry.actor) == (
        "organization",
        str(organization_id),
        "admin@example.com",
    )
