"""Statuses and outcomes shared by the CRM and the IVR."""

from __future__ import annotations

from enum import StrEnum


class RequestStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class OrganizationKind(StrEnum):
    PARTNER = "partner"
    AGENCY = "agency"


class RecordingPolicy(StrEnum):
    """Whether a partner company's conversations with clients are recorded (both told)."""

    OFF = "off"
    ON = "on"


class CallKind(StrEnum):
    """Who called the service number: a manager, or a client calling back."""

    MANAGER = "manager"
    CALLBACK = "callback"


class CallStage(StrEnum):
    """Where a manager's call is in its flow; kept on the call's row between webhooks."""

    GREETING = "greeting"
    AWAITING_NUMBER = "awaiting_number"
    DIALING = "dialing"
    UNREACHABLE = "unreachable"
    CALLBACK = "callback"
    """A client's call back: the manager's phone rings, or they talk."""
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
    ACCESS_ENDED = "access_ended"
    """The caller was deactivated during the call; nothing more was looked up or dialed."""
    LOCKED_OUT = "locked_out"
    """The caller typed too many wrong request numbers across calls; the line is locked."""
    CALLBACK_MISSED = "callback_missed"
    """A client called back and the manager did not take the call."""
    CALLBACK_NONE = "callback_none"
    """A client called back with no open request a manager had called about lately."""
    CALLBACK_AMBIGUOUS = "callback_ambiguous"
    """A client called back with more than one such request: not put through."""
    CALLER_HUNG_UP = "caller_hung_up"
    LOST = "lost"
    """Twilio never sent the call's final status; it was closed after a long silence."""


class Role(StrEnum):
    ADMIN = "admin"
    AGENT = "agent"
    MANAGER = "manager"


class PartyType(StrEnum):
    """What an organization is, as DaData says (`crm.dadata`)."""

    LEGAL = "legal"
    """A legal entity: a 10-digit INN and a KPP."""
    INDIVIDUAL = "individual"
    """A sole proprietor: a 12-digit INN, no KPP."""


class PartyStatus(StrEnum):
    ACTIVE = "active"
    LIQUIDATING = "liquidating"
    LIQUIDATED = "liquidated"
    BANKRUPT = "bankrupt"
    REORGANIZING = "reorganizing"


UNUSABLE = frozenset({PartyStatus.LIQUIDATING, PartyStatus.LIQUIDATED, PartyStatus.BANKRUPT})
"""Organizations shown with a warning that no new request may name."""


class BranchType(StrEnum):
    MAIN = "main"
    """The head office (a sole proprietor too)."""
    BRANCH = "branch"
    """Same INN, its own KPP; linked to its head office."""
