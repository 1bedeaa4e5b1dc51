"""The call's row -> the flow's state, and a request target -> what the flow may know.

The way back, the flow's next state onto the row, is `crm.calls.record_step`.
"""

from __future__ import annotations

from crm.calls import CallRow
from crm.directory import RequestTarget
from crm.enums import RequestStatus
from ivr.flows.manager_call import CallState, Lookup, OpenRequest, RequestLookup, Stage


def state_of(call: CallRow) -> CallState:
    return CallState(
        stage=Stage(call.stage),
        attempts=call.attempts,
        dials=call.dials,
        request_id=call.request_id,
        outcome=call.outcome,
    )


def as_lookup(target: RequestTarget | None, *, recording: bool = False) -> RequestLookup:
    """What the flow may know of a request: missing, closed, or open with its client.

    A dial records only when `recording` (the call's manager was told at its start) and the
    request's company records still."""
    if target is None:
        return Lookup.NOT_FOUND
    if target.status is RequestStatus.CLOSED:
        return Lookup.CLOSED
    return OpenRequest(
        request_id=target.request_id,
        client_phone=target.client_phone,
        recorded=recording and target.recorded,
    )
