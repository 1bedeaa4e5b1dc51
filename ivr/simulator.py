"""A Twilio-behaving caller: signed form posts, TwiML verbs executed the way Twilio does.

One engine for `ivr call` in a terminal and for the test suite. The caller's keypad and
the fate of the client's leg come from a `Caller` (scripted or interactive).
"""

from __future__ import annotations

import secrets
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal, Protocol
from urllib.parse import urljoin, urlsplit

import aiohttp
from twilio.request_validator import RequestValidator

from ivr.logging import mask_phone

MAX_DOCUMENTS = 60
ClientResult = Literal["answered", "busy", "no-answer", "failed", "canceled", "voicemail"]
CLIENT_RESULTS: tuple[str, ...] = (
    "answered",
    "busy",
    "no-answer",
    "failed",
    "canceled",
    "voicemail",
)
HANG_UP = "hangup"


class SimulatorError(Exception):
    """The server answered something Twilio could not use."""


@dataclass(frozen=True)
class Heard:
    """One thing that happened on the line, in order."""

    kind: Literal["say", "play", "gather", "dial", "bridged", "client", "hangup"]
    text: str = ""
    url: str = ""
    leg: Literal["caller", "client"] = "caller"


@dataclass(frozen=True)
class ClientLeg:
    result: ClientResult
    talk_seconds: int = 0


class Caller(Protocol):
    async def keypad(self, heard: list[Heard]) -> str | None:
        """Keys typed at a `<Gather>` ('#' finishes), None for silence, HANG_UP to hang up."""

    async def client_leg(self, masked_number: str) -> ClientLeg:
        """How the client's phone answers this `<Dial>`."""


@dataclass
class ScriptedCaller:
    """Presses and dial results given up front; silence and an answer once they run out."""

    presses: Iterable[str | None] = ()
    """Keys for each <Gather> in turn; None is silence, `HANG_UP` hangs up."""
    dial_results: Iterable[str] = ()
    talk_seconds: int = 42

    def __post_init__(self) -> None:
        self._presses = iter(list(self.presses))
        self._dials = iter(list(self.dial_results))

    async def keypad(self, heard: list[Heard]) -> str | None:
        return next(self._presses, None)

    async def client_leg(self, masked_number: str) -> ClientLeg:
        result = next(self._dials, "answered")
        if result not in CLIENT_RESULTS:
            raise ValueError(f"dial result must be one of {', '.join(CLIENT_RESULTS)}")
        return ClientLeg(result=result, talk_seconds=self.talk_seconds)  # type: ignore[arg-type]


@dataclass
class CallRecord:
    call_sid: str
    heard: list[Heard] = field(default_factory=list)
    documents: list[tuple[str, str]] = field(default_factory=list)
    """(URL, TwiML text) of every answer, the client's leg included."""
    hung_up_by: Literal["ivr", "caller"] = "ivr"
    seconds: int = 0

    def spoken(self, leg: str = "caller") -> list[str]:
        return [h.text or h.url for h in self.heard if h.kind in ("say", "play") and h.leg == leg]


def new_sid(prefix: str = "CA") -> str:
    return prefix + secrets.token_hex(16)


class TwilioSimulator:
    """Plays Twilio against a running server at `server_url`."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        server_url: str,
        auth_token: str,
        public_url: str | None = None,
        service_number: str = "+15005550006",
        account_sid: str = "AC" + "0" * 32,
        fetch_media: bool = True,
        on_heard: Callable[[Heard], None] | None = None,
    ) -> None:
        self.session = session
        self.server_url = server_url.rstrip("/")
        self.public_url = (public_url or server_url).rstrip("/")
        self.validator = RequestValidator(auth_token)
        self.service_number = service_number
        self.account_sid = account_sid
        self.fetch_media = fetch_media
        self.on_heard = on_heard

    async def call(
        self,
        caller: Caller,
        *,
        from_number: str,
        call_sid: str | None = None,
        voice_path: str = "/ivr/voice",
        status_path: str = "/ivr/status",
    ) -> CallRecord:
        """One whole inbound call, ended by a status callback as Twilio sends it."""
        record = CallRecord(call_sid=call_sid or new_sid())
        base = {
            "CallSid": record.call_sid,
            "AccountSid": self.account_sid,
            "From": from_number,
            "To": self.service_number,
            "Direction": "inbound",
            "ApiVersion": "2010-04-01",
        }
        url = self.public_url + voice_path
        document = await self._post(record, url, {**base, "CallStatus": "ringing"})
        for _ in range(MAX_DOCUMENTS):
            next_url, params = await self._run(record, url, document, caller, base)
            if next_url is None:
                break
            url = next_url
            document = await self._post(
                record, url, {**base, "CallStatus": "in-progress", **params}
            )
        else:
            raise SimulatorError(f"more than {MAX_DOCUMENTS} TwiML documents in one call")
        await self._post(
            record,
            self.public_url + status_path,
            {**base, "CallStatus": "completed", "CallDuration": str(record.seconds)},
        )
        return record

    async def _run(
        self,
        record: CallRecord,
        url: str,
        document: ET.Element,
        caller: Caller,
        base: dict[str, str],
    ) -> tuple[str | None, dict[str, str]]:
        """Execute one document; return the next URL to post (and its extra params)."""
        for verb in document:
            match verb.tag:
                case "Say" | "Play":
                    await self._speak(record, verb, "caller")
                case "Pause":
                    record.seconds += int(verb.get("length", "1"))
                case "Gather":
                    for child in verb:
                        await self._speak(record, child, "caller")
                    wanted = (
                        f"{verb.get('numDigits')} key"
                        if verb.get("numDigits")
                        else f"keys ending with {verb.get('finishOnKey', '#')}"
                    )
                    self._hear(record, Heard("gather", text=wanted))
                    keys = await caller.keypad(record.heard)
                    if keys == HANG_UP:
                        record.hung_up_by = "caller"
                        return None, {}
                    digits = _gathered(keys, verb)
                    record.seconds += 3
                    if digits:
                        return urljoin(url, verb.get("action") or url), {"Digits": digits}
                    record.seconds += int(verb.get("timeout", "5"))
                case "Redirect":
                    return urljoin(url, (verb.text or "").strip()), {}
                case "Dial":
                    params = await self._dial(record, url, verb, caller, base)
                    if verb.get("action"):
                        return urljoin(url, verb.get("action")), params
                case "Hangup" | "Reject":
                    self._hear(record, Heard("hangup"))
                    return None, {}
        self._hear(record, Heard("hangup"))
        return None, {}

    async def _dial(
        self, record: CallRecord, url: str, dial: ET.Element, caller: Caller, base: dict[str, str]
    ) -> dict[str, str]:
        number = dial.find("Number")
        if number is None or not (number.text or "").strip():
            raise SimulatorError("<Dial> without a <Number>")
        client_number = (number.text or "").strip()
        self._hear(record, Heard("dial", text=mask_phone(client_number)))
        leg = await caller.client_leg(mask_phone(client_number))
        child_sid = new_sid()
        params = {"DialCallSid": child_sid}
        if leg.result not in ("answered", "voicemail"):
            self._hear(record, Heard("client", text=leg.result))
            record.seconds += int(dial.get("timeout", "30")) if leg.result == "no-answer" else 2
            return {**params, "DialCallStatus": leg.result}
        accepted, whisper_seconds = True, 0
        if number.get("url"):
            child = {
                "CallSid": child_sid,
                "ParentCallSid": record.call_sid,
                "AccountSid": self.account_sid,
                "From": dial.get("callerId", ""),
                "To": client_number,
                "Direction": "outbound-dial",
                "CallStatus": "in-progress",
                "ApiVersion": "2010-04-01",
            }
            whisper_url = urljoin(url, number.get("url"))
            document = await self._post(record, whisper_url, child)
            accepted, whisper_seconds = await self._client_screen(
                record, whisper_url, document, child, leg
            )
        if not accepted:
            self._hear(record, Heard("client", text="not accepted (voicemail)"))
            return {
                **params,
                "DialCallStatus": "completed",
                "DialCallDuration": str(whisper_seconds),
            }
        self._hear(record, Heard("bridged", text=f"{leg.talk_seconds} s"))
        record.seconds += leg.talk_seconds
        return {**params, "DialCallStatus": "completed", "DialCallDuration": str(leg.talk_seconds)}

    async def _client_screen(
        self,
        record: CallRecord,
        url: str,
        document: ET.Element,
        child: dict[str, str],
        leg: ClientLeg,
    ) -> tuple[bool, int]:
        """Run the whisper on the client's leg; a person presses 1, a voicemail stays silent."""
        seconds = 0
        for _ in range(5):
            next_url = None
            for verb in document:
                match verb.tag:
                    case "Say" | "Play":
                        await self._speak(record, verb, "client")
                    case "Gather":
                        for item in verb:
                            await self._speak(record, item, "client")
                        seconds += int(verb.get("timeout", "5"))
                        if leg.result == "answered":
                            next_url = urljoin(url, verb.get("action") or url)
                            break
                    case "Redirect":
                        next_url = urljoin(url, (verb.text or "").strip())
                        break
                    case "Hangup" | "Reject":
                        return False, seconds
            if next_url is None:
                return True, seconds
            extra = {"Digits": "1"} if leg.result == "answered" else {}
            url = next_url
            document = await self._post(record, url, {**child, **extra})
        raise SimulatorError("the client's screening never ended")

    async def _speak(
        self, record: CallRecord, verb: ET.Element, leg: Literal["caller", "client"]
    ) -> None:
        if verb.tag == "Say":
            self._hear(record, Heard("say", text=(verb.text or "").strip(), leg=leg))
        elif verb.tag == "Play":
            media = urljoin(self.public_url + "/", (verb.text or "").strip())
            if self.fetch_media:
                async with self.session.get(self._to_server(media)) as response:
                    kind = response.headers.get("Content-Type", "")
                    if response.status != 200 or not kind.startswith("audio/"):
                        raise SimulatorError(f"<Play> {media}: {response.status} {kind}")
                    await response.read()
            self._hear(record, Heard("play", url=media, leg=leg))

    def _hear(self, record: CallRecord, heard: Heard) -> None:
        record.heard.append(heard)
        if self.on_heard:
            self.on_heard(heard)

    def _to_server(self, url: str) -> str:
        if url.startswith(self.public_url):
            return self.server_url + url[len(self.public_url) :]
        parts = urlsplit(url)
        return self.server_url + parts.path + (f"?{parts.query}" if parts.query else "")

    async def _post(self, record: CallRecord, url: str, params: dict[str, str]) -> ET.Element:
        signature = self.validator.compute_signature(url, params)
        async with self.session.post(
            self._to_server(url), data=params, headers={"X-Twilio-Signature": signature}
        ) as response:
            body = await response.text()
            if response.status != 200:
                raise SimulatorError(f"POST {url}: HTTP {response.status}: {body[:200]}")
            if not response.headers.get("Content-Type", "").startswith("text/xml"):
                raise SimulatorError(f"POST {url}: not TwiML ({response.content_type})")
        record.documents.append((url, body))
        try:
            root = ET.fromstring(body)
        except ET.ParseError as error:
            raise SimulatorError(f"POST {url}: invalid XML: {error}") from None
        if root.tag != "Response":
            raise SimulatorError(f"POST {url}: root element is <{root.tag}>, not <Response>")
        return root


def _gathered(keys: str | None, gather: ET.Element) -> str:
    """What Twilio posts as Digits: up to the finish key, at most numDigits, keys only."""
    if not keys:
        return ""
    finish = gather.get("finishOnKey", "#")
    typed = "".join(key for key in keys if key in "0123456789*#")
    if finish and finish in typed:
        typed = typed[: typed.index(finish)]
    limit = gather.get("numDigits")
    return typed[: int(limit)] if limit else typed
