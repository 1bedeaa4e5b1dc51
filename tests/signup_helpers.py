"""Sign-up tests' helpers: a settable clock, a service with its fakes, distinct phones."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.api_helpers import Api
from tests.conftest import AUTH_TOKEN, make_config
from tests.fake_twilio import ACCOUNT, FakeTwilio
from tests.smtp import SmtpServer

SENDER = "+15005550006"
ADMINS = ["alerts@example.com"]
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
PHONE = "+79161234567"
CODE = re.compile(r"\b(\d{6})\b")
LOOSE_LIMITS = {"per_ip_daily": 10_000, "suspicious_per_window": 10_000, "max_per_window": 10_000}
"""Limits that stay out of the way of a test about another one."""


class Clock:
    """The service's clock: it moves only when the test moves it."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def phone(n: int) -> str:
    """The n-th distinct Russian mobile number of a test."""
    return f"+7916{n:07d}"


@dataclass
class SignupRig:
    """One running service with its fakes around it."""

    api: Api
    clock: Clock
    twilio: FakeTwilio
    smtp: SmtpServer
    server: Any
    extra: list[Any] = field(default_factory=list)

    def codes_to(self, to: str) -> list[str]:
        """Every code the fake Twilio was asked to send to `to`, oldest first."""
        found = []
        for message in self.twilio.messages:
            match = CODE.search(message["body"])
            if message["to"] == to and match:
                found.append(match.group(1))
        return found

    def last_code(self, to: str = PHONE) -> str:
        codes = self.codes_to(to)
        assert codes, f"no code was sent to {to}"
        return codes[-1]

    async def ask(self, to: str = PHONE, **kwargs: Any):
        return await self.api.post("/api/v1/signup/code", json={"phone": to}, **kwargs)

    async def verify(self, code: str, to: str = PHONE):
        return await self.api.post("/api/v1/signup/verify", json={"phone": to, "code": code})

    async def complete(self, token: str, **fields: str):
        body = {
            "signup_token": token,
            "name": "Pavel Orlov",
            "email": "pavel@example.com",
            "password": "orlov-secret-2026",
            **fields,
        }
        return await self.api.post("/api/v1/signup/complete", json=body)


def signup_config(database_url: str, twilio_url: str, smtp_port: int, **overrides: Any):
    signup = {**LOOSE_LIMITS, **overrides.pop("signup", {})}
    values: dict[str, Any] = {
        "twilio": {"auth_token": AUTH_TOKEN, "account_sid": ACCOUNT, "api_base_url": twilio_url},
        "sms": {"provider": "twilio", "from": SENDER},
        "email": {
            "backend": "smtp",
            "admin_to": ADMINS,
            "smtp": {"host": "127.0.0.1", "port": smtp_port, "timeout_seconds": 5},
        },
        "http": {"timeout_seconds": 1, "connect_timeout_seconds": 1},
        # Bursts of 40 requests queue for the gate's lock holding their connections; the
        # limits are what is tested, not how long the queue takes on a slow machine.
        "database": {"pool_timeout_seconds": 10},
        "signup": signup,
        **overrides,
    }
    return make_config(database_url, **values)
