"""`ivr call`: the simulator in a terminal, scripted by flags or answered at the keyboard."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import PurePosixPath

import aiohttp

from crm.schemas import normalize_phone
from ivr.config import Config
from ivr.flows.prompts import PROMPTS, SAY_LANGUAGE
from ivr.simulator import (
    CLIENT_RESULTS,
    HANG_UP,
    ClientLeg,
    Heard,
    ScriptedCaller,
    SimulatorError,
    TwilioSimulator,
)

CHOICES = {result[0]: result for result in CLIENT_RESULTS if result != "canceled"} | {
    "c": "canceled"
}


class TerminalCaller:
    """Reads the manager's keys and the client's fate from the terminal."""

    async def keypad(self, heard: list[Heard]) -> str | None:
        line = await _ask("keys (end with #; empty = silence; h = hang up)> ")
        if line is None or line.strip().lower() in ("h", "hangup"):
            return HANG_UP
        return line.strip() or None

    async def client_leg(self, masked_number: str) -> ClientLeg:
        menu = ", ".join(f"{key}={name}" for key, name in CHOICES.items())
        while True:
            line = await _ask(f"client {masked_number} rings. How does it end? [{menu}]> ")
            result = CHOICES.get((line or "a").strip().lower()[:1])
            if result:
                return ClientLeg(result=result, talk_seconds=42)  # type: ignore[arg-type]


async def _ask(prompt: str) -> str | None:
    try:
        return await asyncio.to_thread(input, prompt)
    except EOFError:
        return None


def describe(heard: Heard, language: str) -> str:
    """One printed line for what happened on the line."""
    who = "IVR" if heard.leg == "caller" else "IVR to the client"
    match heard.kind:
        case "say":
            return f"{who} says: {heard.text}"
        case "play":
            path = PurePosixPath(heard.url)
            # /sounds/{language}/{key}.wav: the recording's own language, whatever ours is.
            spoken_in = path.parent.name if path.parent.name in SAY_LANGUAGE else language
            key = path.stem
            sentence = PROMPTS.get(key, {}).get(spoken_in, "")
            return f"{who} plays {key}.wav: {sentence}"
        case "gather":
            return f"(waiting for {heard.text})"
        case "dial":
            return f"Dialing the client {heard.text} (the manager never hears this number)"
        case "client":
            return f"Client leg: {heard.text}"
        case "bridged":
            return f"Bridged: manager and client talk for {heard.text}"
        case _:
            return "Call ended."


DEFAULT_CALLER = "+79990000001"
PROMPT_TRIES = 3


class BadCaller(Exception):
    """The caller's number cannot be read; the message says which and why."""


async def caller_number(typed: str | None, *, interactive: bool) -> str:
    """The caller's number in E.164, from `--from` or asked at the terminal (Russian `8 …` too)."""
    if typed is not None:
        try:
            return normalize_phone(typed)
        except ValueError as error:
            raise BadCaller(f"--from {typed!r}: {error}") from None
    if not interactive:
        return DEFAULT_CALLER
    for _ in range(PROMPT_TRIES):
        line = ((await _ask(f"calling from [{DEFAULT_CALLER}]> ")) or "").strip()
        if not line:
            return DEFAULT_CALLER
        try:
            return normalize_phone(line)
        except ValueError as error:
            print(f"{line!r}: {error}", flush=True)
    raise BadCaller(f"no readable caller number in {PROMPT_TRIES} tries (or pass --from)")


async def run_call(config: Config, args: argparse.Namespace) -> int:
    interactive = not (args.press or args.dial_result) and sys.stdin.isatty()
    try:
        from_number = await caller_number(args.from_number, interactive=interactive)
    except BadCaller as error:
        print(f"ivr call: {error}", file=sys.stderr)
        return 2
    caller = (
        TerminalCaller()
        if interactive
        else ScriptedCaller(
            presses=args.press, dial_results=args.dial_result, talk_seconds=args.talk_seconds
        )
    )
    url = args.url or f"http://{config.server.host}:{config.server.port}"
    language = config.ivr.language
    async with aiohttp.ClientSession() as session:
        simulator = TwilioSimulator(
            session,
            server_url=url,
            auth_token=config.twilio.auth_token,
            public_url=config.public_url,
            service_number=config.twilio.service_number,
            on_heard=lambda heard: print(describe(heard, language), flush=True),
        )
        # The server tells no caller its language before it speaks: this is our config's.
        print(
            f"Calling {config.twilio.service_number} from {from_number} via {url}"
            f" (config language: {language})",
            flush=True,
        )
        try:
            record = await simulator.call(caller, from_number=from_number)
        except (SimulatorError, aiohttp.ClientError) as error:
            print(f"ivr call: {error}", file=sys.stderr)
            return 1
    ender = "you" if record.hung_up_by == "caller" else "the IVR"
    print(f"Call {record.call_sid} ended by {ender} after {record.seconds} simulated seconds.")
    return 0
