"""The client's phone number never reaches the manager: not in TwiML, not in the logs."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from crm.models import Client
from crm.numbers import with_check_digit
from ivr.app import create_app
from ivr.logging import mask_phone, mask_phones
from ivr.simulator import HANG_UP, ClientLeg, ScriptedCaller, TwilioSimulator, new_sid
from tests.conftest import AUTH_TOKEN
from tests.crm_client import AGENT, MANAGER, CrmClient
from tests.helpers import ANNA, open_polis, request_number
from tests.logcapture import captured_logs, log_events


def phone_forms(phone: str) -> set[str]:
    """The ways a number may be written: E.164, without the plus, national digits."""
    national = str(phonenumbers.parse(phone).national_number)
    return {phone, phone.lstrip("+"), national}


def client_phone_forms(demo: dict) -> set[str]:
    return set().union(*(phone_forms(r["client_phone"]) for r in demo["requests"]))


def scripts(demo: dict) -> dict[str, ScriptedCaller]:
    number = open_polis(demo)["number"]
    closed = request_number(demo, partner="Polis Insurance", status="closed")
    theirs = request_number(demo, partner="Sunny Tours", status="open")
    return {
        "bridged": ScriptedCaller([f"{number}#"]),
        "busy": ScriptedCaller([f"{number}#", None], ["busy"]),
        "voicemail": ScriptedCaller([f"{number}#", HANG_UP], ["voicemail"]),
        "closed": ScriptedCaller([f"{closed}#", HANG_UP]),
        "not found": ScriptedCaller([f"{theirs}#", f"{with_check_digit('1234567')}#", None]),
        "retry 1": ScriptedCaller([f"{number}#", "1"], ["no-answer", "answered"]),
        "another 2": ScriptedCaller([f"{number}#", "2", f"{number}#", "3"], ["failed", "canceled"]),
    }


def without_dial(twiml: str) -> str:
    root = ET.fromstring(twiml)
    for dial in root.findall("Dial"):
        root.remove(dial)
    return ET.tostring(root, encoding="unicode")


@pytest.mark.parametrize(
    "branch", ["bridged", "busy", "voicemail", "closed", "not found", "retry 1", "another 2"]
)
async def test_client_phone_is_only_inside_the_dial(simulator, demo, branch):
    record = await simulator.call(scripts(demo)[branch], from_number=ANNA)
    forms = client_phone_forms(demo)
    manager_leg = [body for url, body in record.documents if "/ivr/whisper" not in url]
    assert len(manager_leg) >= 2
    for body in manager_leg:
        visible = without_dial(body)
        assert [form for form in forms if form in visible] == []
    dialed = [body for body in manager_leg if "<Dial" in body]
    if branch not in ("closed", "not found"):
        assert dialed and all(open_polis(demo)["client_phone"] in body for body in dialed)
    else:
        assert dialed == []


async def test_logs_of_every_branch_hold_no_unmasked_phone(
    aiohttp_server, http, config, engine, demo
):
    with captured_logs(level="debug") as stream:
        server = await aiohttp_server(create_app(config))
        simulator = TwilioSimulator(
            http, server_url=str(server.make_url("")), auth_token=AUTH_TOKEN
        )
        for caller in scripts(demo).values():
            await simulator.call(caller, from_number=ANNA)
        output = stream.getvalue()
    events = log_events(stream)
    assert len([e for e in events if e["event"] == "call_step"]) >= 20
    assert {e["result"] for e in events if e["event"] == "call_step"} >= {
        "dialing",
        "bridged:42s",
        "client_busy",
        "voicemail",
        "request_closed",
        "not_found",
    }
    assert [form for form in client_phone_forms(demo) if form in output] == []
    assert [form for form in phone_forms(ANNA) if form in output] == []


EXAMPLE_NUMBERS = sorted(
    {
        phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
        for region in phonenumbers.SUPPORTED_REGIONS
        for kind in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE)
        if (example := phonenumbers.example_number_for_type(region, kind)) is not None
    }
)
e164 = st.one_of(
    st.sampled_from(EXAMPLE_NUMBERS),
    st.builds(
        lambda country, rest: f"+{country}{rest}",
        st.sampled_from(["1", "7", "44", "49", "86", "380", "971"]),
        st.text(alphabet="0123456789", min_size=9, max_size=12),
    ),
)
words = st.text(
    alphabet=st.characters(categories=["L", "Zs"]) | st.sampled_from(".,:;()\"'="), max_size=20
)
separators = st.sampled_from([" ", ": ", "=", "(", "'", '"', ", ", "\n", "tel: "])


@given(e164, words, separators, words)
def test_any_e164_number_in_text_is_masked_to_first_digit_and_last_four(number, before, sep, after):
    masked = mask_phone(f"{before}{sep}{number} {after}")
    digits = number[1:]
    expected = "+" + digits[0] + "*" * (len(digits) - 5) + digits[-4:]
    assert f"{sep}{expected} " in masked
    assert digits not in masked


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("+79161234567", "+7******4567"),
        ("call +7 916 123-45-67 now", "call +7******4567 now"),
        ("79161234567", "7******4567"),
        ("Andorra +376312345.", "Andorra +3****2345."),
        ("Niue +6837012", "Niue +6**7012"),
    ],
)
def test_mask_phone_examples(text, masked):
    assert mask_phone(text) == masked


@given(st.text(alphabet="0123456789", min_size=7, max_size=7).filter(lambda b: b[0] != "0"))
def test_request_numbers_are_left_alone(body):
    text = f"request {with_check_digit(body)} typed as {with_check_digit(body)}#"
    assert mask_phone(text) == text


@given(
    st.sampled_from(["CA", "AC", "PN", "RE"]),
    st.text(alphabet="0123456789abcdef", min_size=32, max_size=32),
)
def test_twilio_sids_are_left_alone(prefix, hex_digits):
    sid = prefix + hex_digits
    assert mask_phone(f"call_sid={sid}") == f"call_sid={sid}"


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-25 10:28:00",
        "(45, '2026-11-25 10:28:00.223537', 1)",
        "started 2026-11-25 10:28:00+00:00",
    ],
)
def test_timestamps_are_not_mistaken_for_phones(text):
    assert mask_phone(text) == text


def test_processor_masks_nested_values_and_big_integers():
    event = {
        "event": "call_status",
        "from": "+79161234567",
        "nested": {"to": ["+79037654321"]},
        "number": 79161234567,
        "attempts": 3,
        "call_sid": new_sid(),
    }
    masked = mask_phones(None, "info", dict(event))
    assert masked == {
        **event,
        "from": "+7******4567",
        "nested": {"to": ["+7******4321"]},
        "number": "7******4567",
    }


class EditsWhileRinging(ScriptedCaller):
    """A caller whose first dial rings while the agent gives the client a new number."""

    def __init__(self, presses: list[str | None], edit) -> None:
        super().__init__(presses, ["no-answer", "answered"])
        self.edit = edit
        self.masked: list[str] = []

    async def client_leg(self, masked_number: str) -> ClientLeg:
        self.masked.append(masked_number)
        if len(self.masked) == 1:
            await self.edit()
        return await super().client_leg(masked_number)


async def test_a_phone_edited_while_the_client_rings_reaches_no_manager(
    simulator, server, demo, sessions
):
    request = open_polis(demo)
    old, new = request["client_phone"], "+79167770011"
    agent = CrmClient(str(server.make_url("")))
    manager = CrmClient(str(server.make_url("")))
    await agent.login(*AGENT)
    await manager.login(*MANAGER)
    async with sessions() as session:
        client_id = await session.scalar(select(Client.id).where(Client.phone == old))

    async def edit() -> None:
        page = f"/clients/{client_id}/edit"
        form = await agent.get(page)
        values = dict(re.findall(r'name="(\w+)" type="\w+" value="([^"]*)"', form.text))
        saved = await agent.submit(page, {**values, "phone": "8 916 777-00-11"})
        assert saved.status == 200, saved.text
        seen = await manager.get("/partner/requests")
        shown = [form for form in phone_forms(old) | phone_forms(new) if form in seen.text]
        assert seen.status == 200 and shown == []

    caller = EditsWhileRinging([f"{request['number']}#", "1"], edit)
    try:
        record = await simulator.call(caller, from_number=ANNA)
    finally:
        await agent.close()
        await manager.close()
    assert len(caller.masked) == 2  # the edit happened while the first dial rang
    forms = phone_forms(old) | phone_forms(new)
    manager_leg = [body for url, body in record.documents if "/ivr/whisper" not in url]
    for body in manager_leg:
        assert [form for form in forms if form in without_dial(body)] == []
    dials = [body for body in manager_leg if "<Dial" in body]
    assert old in dials[0] and new in dials[1]  # the redial goes to the number now on file
    assert all(form not in "".join(caller.masked) for form in forms)
