"""The lockout across two real `ivr serve` processes on one database: nothing is counted in
a process's memory, so guesses spread over both lock the caller exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import aiohttp
import pytest
import yaml
from sqlalchemy import func, select

from crm.lockout.models import Lockout, WrongNumber
from ivr.flows.prompts import text
from ivr.simulator import new_sid
from tests.helpers import ANNA, signed_post
from tests.processes import service_env, serving


@pytest.fixture
def two_processes(database_url, engine, demo, tmp_path) -> Iterator[list[str]]:
    config = {"background": {"enabled": False}, "ivr": {"lockout": {"max_wrong": 10}}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    env = service_env(tmp_path, database_url, IVR_CONFIG=str(tmp_path / "config.yaml"))
    with (
        serving(tmp_path, env, name="first") as (_, first),
        serving(tmp_path, env, name="second") as (_, second),
    ):
        yield [first, second]


async def test_guesses_spread_over_two_processes_lock_the_caller_once(two_processes, sessions):
    calls = [(two_processes[n % 2], new_sid()) for n in range(30)]
    async with aiohttp.ClientSession() as http:
        for url, sid in calls:
            status, _, _ = await signed_post(
                http, url, "/ivr/voice", {"CallSid": sid, "From": ANNA}
            )
            assert status == 200
        answers = await asyncio.gather(
            *(
                signed_post(http, url, "/ivr/number", {"CallSid": sid, "Digits": "1#"})
                for url, sid in calls
            )
        )
        assert [status for status, _, _ in answers] == [200] * 30
        locked = [body for _, _, body in answers if "Gather" not in body]
        assert len(locked) == 30 - 10
        assert all("line_locked" in body or text("line_locked", "en") in body for body in locked), (
            "a lock, not an apology"
        )
        for url in two_processes:
            _, _, greeting = await signed_post(
                http, url, "/ivr/voice", {"CallSid": new_sid(), "From": ANNA}
            )
            assert "Gather" not in greeting
            assert "line_locked" in greeting or text("line_locked", "en") in greeting
    async with sessions() as session:
        assert await session.scalar(select(func.count(WrongNumber.id))) == 11
        assert await session.scalar(select(func.count(Lockout.id))) == 1
