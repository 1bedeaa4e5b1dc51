"""Many calls at once (not timed: speed is `make bench`'s): every one answered, none lost."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from crm.models import Call
from ivr.simulator import ScriptedCaller
from tests.conftest import make_config
from tests.helpers import ANNA, open_polis

CALLS = 200
APOLOGY = ("something went wrong", "/error.wav")


@pytest.fixture
def config(database_url):
    # Here the 200 callers share the server's one process and its two cores, so a webhook
    # may wait behind every other caller's turn as well: a pool wait and an answer far
    # longer than a server alone would see (Twilio waits 15 s). This test counts answers
    # and outcomes; how long they take is the bench's.
    return make_config(
        database_url,
        database={"pool_timeout_seconds": 12},
        ivr={"gather_timeout": 5, "max_attempts": 3, "answer_budget_ms": 14000},
    )


async def test_two_hundred_calls_at_once_are_all_bridged_and_final(simulator, demo, sessions):
    number = open_polis(demo)["number"]
    records = await asyncio.gather(
        *(
            simulator.call(ScriptedCaller([f"{number}#"], talk_seconds=20), from_number=ANNA)
            for _ in range(CALLS)
        )
    )
    heard = [[h.text + h.url for h in record.heard] for record in records]
    assert not [text for call in heard for text in call if any(m in text for m in APOLOGY)]
    assert all(any(h.kind == "bridged" for h in record.heard) for record in records)
    async with sessions() as session:
        open_calls = await session.scalar(
            select(func.count()).select_from(Call).where(Call.ended_at.is_(None))
        )
        bridged = await session.scalar(
            select(func.count()).select_from(Call).where(Call.outcome == "bridged")
        )
    assert (open_calls, bridged) == (0, CALLS)
