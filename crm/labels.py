"""The words of the statuses pages show (`| label`): message ids, one per enum value."""

from __future__ import annotations

from crm.enums import CallOutcome, PartyStatus, Role
from crm.i18n import N_
from crm.outbox.models import OutboxStatus
from crm.signup.models import CodeStatus

WORDS: dict[str, str] = {
    Role.ADMIN: N_("admin"),
    Role.AGENT: N_("agent"),
    Role.MANAGER: N_("manager"),
    CallOutcome.BRIDGED: N_("bridged"),
    CallOutcome.CLIENT_BUSY: N_("client busy"),
    CallOutcome.CLIENT_NO_ANSWER: N_("client no answer"),
    CallOutcome.CLIENT_FAILED: N_("client failed"),
    CallOutcome.VOICEMAIL: N_("voicemail"),
    CallOutcome.WRONG_INPUT: N_("wrong input"),
    CallOutcome.NOT_FOUND: N_("not found"),
    CallOutcome.REQUEST_CLOSED: N_("request closed"),
    CallOutcome.UNKNOWN_CALLER: N_("unknown caller"),
    CallOutcome.ACCESS_ENDED: N_("access ended"),
    CallOutcome.LOCKED_OUT: N_("locked out"),
    CallOutcome.CALLBACK_MISSED: N_("callback missed"),
    CallOutcome.CALLBACK_NONE: N_("callback none"),
    CallOutcome.CALLBACK_AMBIGUOUS: N_("callback ambiguous"),
    CallOutcome.CALLER_HUNG_UP: N_("caller hung up"),
    CallOutcome.LOST: N_("lost"),
    CodeStatus.SENDING: N_("sending"),
    CodeStatus.SENT: N_("sent"),
    CodeStatus.REFUSED: N_("refused"),
    CodeStatus.TAKEN: N_("taken"),
    OutboxStatus.QUEUED: N_("queued"),
    OutboxStatus.SENT: N_("sent"),
    OutboxStatus.FAILED: N_("failed"),
    PartyStatus.ACTIVE: N_("active"),
    PartyStatus.LIQUIDATING: N_("liquidating"),
    PartyStatus.LIQUIDATED: N_("liquidated"),
    PartyStatus.BANKRUPT: N_("bankrupt"),
    PartyStatus.REORGANIZING: N_("reorganizing"),
}
"""Every value `label` shows; a test checks none is missing."""
