"""Small helpers the tests share: demo lookups, signed posts, TwiML parsing."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import aiohttp
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from crm.models import Call, CallEvent, DialAttempt
from tests.conftest import AUTH_TOKEN

VOICE_ROUTES = [
    "/ivr/voice",
    "/ivr/number",
    "/ivr/no-input",
    "/ivr/whisper",
    "/ivr/whisper/answer",
    "/ivr/dial-result",
    "/ivr/after-unreachable",
    "/ivr/callback/whisper",
    "/ivr/callback/whisper/answer",
    "/ivr/callback/result",
    "/ivr/recording",
    "/ivr/status",
]
"""Every webhook of the voice area."""

ANNA = "+79990000001"
ANNA_SECOND_PHONE = "+79990000011"
BORIS = "+79990000002"


def request_number(demo: dict, *, partner: str, status: str) -> str:
    return next(
        r["number"] for r in demo["requests"] if r["partner"] == partner and r["status"] == status
    )


def open_polis(demo: dict) -> dict:
    return next(
        r for r in demo["requests"] if r["partner"] == "Polis Insurance" and r["status"] == "open"
    )


async def signed_post(
    http: aiohttp.ClientSession,
    server_url: str,
    path: str,
    params: dict[str, str],
    *,
    signed_url: str | None = None,
    token: str = AUTH_TOKEN,
    headers: dict[str, str] | None = None,
) -> tuple[int, str, str]:
    """POST a form signed like Twilio over `signed_url` (default: the URL posted to)."""
    url = server_url.rstrip("/") + path
    signature = RequestValidator(token).compute_signature(signed_url or url, params)
    async with http.post(
        url, data=params, headers={"X-Twilio-Signature": signature, **(headers or {})}
    ) as reply:
        return reply.status, reply.headers.get("Content-Type", ""), await reply.text()


def verbs(twiml: str) -> list[str]:
    return [element.tag for element in ET.fromstring(twiml)]


async def call_row(sessions, call_sid: str) -> Call:
    async with sessions() as session:
        return await session.scalar(select(Call).where(Call.call_sid == call_sid))


async def call_dials(sessions, call_sid: str) -> list[DialAttempt]:
    """The call's dials of a client, in the order they were made."""
    async with sessions() as session:
        return list(
            await session.scalars(
                select(DialAttempt)
                .join(Call, Call.id == DialAttempt.call_id)
                .where(Call.call_sid == call_sid)
                .order_by(DialAttempt.id)
            )
        )


async def talk_seconds(sessions, call_sid: str) -> int:
    """The call's talk time: the sum of its dials' talk seconds."""
    async with sessions() as session:
        return await session.scalar(
            select(func.coalesce(func.sum(DialAttempt.talk_seconds), 0))
            .join(Call, Call.id == DialAttempt.call_id)
            .where(Call.call_sid == call_sid)
        )


async def call_steps(sessions, call_sid: str) -> list[tuple[str, str]]:
    async with sessions() as session:
        rows = await session.execute(
            select(CallEvent.step, CallEvent.result)
            .join(Call)
            .where(Call.call_sid == call_sid)
            .order_by(CallEvent.id)
        )
        return [tuple(row) for row in rows]


def prompt_keys(record, *, leg: str = "caller", language: str = "en") -> list[str]:
    """The catalogue keys the caller heard, in order, whether played or said."""
    from pathlib import PurePosixPath

    from ivr.flows.prompts import PROMPTS

    by_text = {texts[language]: key for key, texts in PROMPTS.items()}
    keys = []
    for heard in record.heard:
        if heard.leg != leg:
            continue
        if heard.kind == "play":
            keys.append(PurePosixPath(heard.url).stem)
        elif heard.kind == "say":
            keys.append(by_text.get(heard.text, heard.text))
    return keys
