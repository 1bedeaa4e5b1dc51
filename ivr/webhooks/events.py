"""Twilio's form posts parsed into typed events; garbage becomes None, never an exception."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
KEYPAD = re.compile(r"[^0-9*#]")
SID = re.compile(r"^[A-Za-z0-9]{2,64}$")
STATUS = re.compile(r"^[a-z][a-z-]{0,31}$")
COUNT_MAX = 2**31 - 1
"""The largest count a database integer column holds (PostgreSQL refuses more)."""


def _text(form: Mapping[str, Any], key: str, limit: int = 64) -> str:
    value = form.get(key, "")
    return value.strip()[:limit] if isinstance(value, str) else ""


def _count(value: str) -> int | None:
    if not (value.isascii() and value.isdigit()):
        return None
    number = int(value)
    return number if number <= COUNT_MAX else None


def _status(form: Mapping[str, Any], key: str) -> str:
    """A Twilio status word (`completed`, `no-answer`...), or "" for anything else (a NUL
    character included: PostgreSQL refuses it in text)."""
    value = _text(form, key, 32).lower()
    return value if STATUS.match(value) else ""


def _int(form: Mapping[str, Any], key: str) -> int:
    return _count(_text(form, key, 12)) or 0


def _phone(form: Mapping[str, Any], key: str) -> str | None:
    value = re.sub(r"[\s\-()]", "", _text(form, key, 40))
    return value if E164.match(value) else None


def _digits(form: Mapping[str, Any]) -> str | None:
    value = KEYPAD.sub("", _text(form, "Digits", 64))[:32]
    return value or None


@dataclass(frozen=True)
class CallEvent:
    """Any step of the manager's call."""

    call_sid: str
    caller: str | None
    digits: str | None

    @classmethod
    def parse(cls, form: Mapping[str, Any]) -> CallEvent:
        sid = _text(form, "CallSid", 65)
        return cls(
            call_sid=sid if SID.match(sid) else "",
            caller=_phone(form, "From"),
            digits=_digits(form),
        )


@dataclass(frozen=True)
class DialEvent:
    """The `<Dial action>` callback."""

    call_sid: str
    dial_status: str
    talk_seconds: int

    @classmethod
    def parse(cls, form: Mapping[str, Any]) -> DialEvent:
        return cls(
            call_sid=CallEvent.parse(form).call_sid,
            dial_status=_status(form, "DialCallStatus"),
            talk_seconds=_int(form, "DialCallDuration"),
        )


@dataclass(frozen=True)
class WhisperEvent:
    """The client's leg: `ParentCallSid` is the manager's call."""

    parent_call_sid: str
    digits: str | None

    @classmethod
    def parse(cls, form: Mapping[str, Any]) -> WhisperEvent:
        sid = _text(form, "ParentCallSid", 65)
        return cls(parent_call_sid=sid if SID.match(sid) else "", digits=_digits(form))


@dataclass(frozen=True)
class StatusEvent:
    call_sid: str
    status: str
    duration: int | None
    caller: str | None

    @classmethod
    def parse(cls, form: Mapping[str, Any]) -> StatusEvent:
        return cls(
            call_sid=CallEvent.parse(form).call_sid,
            status=_status(form, "CallStatus"),
            duration=_count(_text(form, "CallDuration", 12)),
            caller=_phone(form, "From"),
        )


@dataclass(frozen=True)
class MessageStatusEvent:
    """A message's delivery report (`StatusCallback` of a sent SMS)."""

    message_sid: str
    status: str
    error_code: str | None

    @classmethod
    def parse(cls, form: Mapping[str, Any]) -> MessageStatusEvent:
        sid = _text(form, "MessageSid", 65)
        return cls(
            message_sid=sid if SID.match(sid) else "",
            status=_status(form, "MessageStatus"),
            error_code=_text(form, "ErrorCode", 12) or None,
        )


RECORDING_SID = re.compile(r"^RE[0-9a-fA-F]{32}$")


@dataclass(frozen=True)
class RecordingEvent:
    """A recording's status callback (`recordingStatusCallback` of a recorded <Dial>)."""

    call_sid: str
    """The call the <Dial> belonged to (the manager's)."""
    recording_sid: str
    status: str
    duration: int
    channels: int

    @classmethod
    def parse(cls, form: Mapping[str, Any]) -> RecordingEvent:
        sid = _text(form, "RecordingSid", 65)
        return cls(
            call_sid=CallEvent.parse(form).call_sid,
            recording_sid=sid if RECORDING_SID.match(sid) else "",
            status=_status(form, "RecordingStatus"),
            duration=_int(form, "RecordingDuration"),
            channels=min(_int(form, "RecordingChannels") or 1, 2),
        )
