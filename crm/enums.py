"""Statuses and outcomes shared by the CRM and the IVR."""

from __future__ import annotations

from enum import StrEnum


class RequestStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class OrganizationKind(StrEnum):
    PARTNER = "partner"
    AGENCY = "agency"


class CallStage(StrEnum):
    """Where a manager's call is in its flow; kept on the call's row between webhooks."""

    GREETING = "greeting"
    AWAITING_NUMBER = "awaiting_number"
    DIALING = "dialing"
    UNREACHABLE = "unreachable"
    ENDED = "ended"


class CallOutcome(StrEnum):
    BRIDGED = "bridged"
    CLIENT_BUSY = "client_busy"
    CLIENT_NO_ANSWER = "client_no_answer"
    CLIENT_FAILED = "client_failed"
    VOICEMAIL = "voicemail"
    WRONG_INPUT = "wrong_input"
    NOT_FOUND = "not_found"
    REQUEST_CLOSED = "request_closed"
    UNKNOWN_CALLER = "unknown_caller"
    LOCKED_OUT = "locked_out"
    """The caller typed too many wrong request numbers across calls; the line is locked."""
    CALLER_HUNG_UP = "caller_hung_up"
    LOST = "lost"
    """Twilio never sent the call's final status; it was closed after a long silence."""


class Role(StrEnum):
    ADMIN = "admin"
    AGENT = "agent"
    MANAGER = "manager"
