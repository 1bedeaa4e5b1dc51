"""Timestamps are aware UTC datetimes on every database, in and out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.exc import StatementError

from crm.models import Agent


async def test_a_stored_timestamp_comes_back_aware_and_in_utc(sessions):
    moscow = timezone(timedelta(hours=3))
    async with sessions.begin() as session:
        session.add(
            Agent(
                name="Tz",
                email="tz@example.com",
                created_at=datetime(2026, 3, 1, 12, 0, tzinfo=moscow),
            )
        )
    async with sessions() as session:
        created = await session.scalar(
            select(Agent.created_at).where(Agent.email == "tz@example.com")
        )
    assert created == datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    assert created.utcoffset() == timedelta(0)


async def test_a_naive_timestamp_is_refused_before_it_is_stored(sessions):
    with pytest.raises(StatementError, match="time zone"):
        async with sessions.begin() as session:
            session.add(
                Agent(
                    name="Naive", email="naive@example.com", created_at=datetime(2026, 3, 1, 12, 0)
                )
            )
