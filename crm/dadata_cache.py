"""DaData's answers kept in memory for `dadata.cache_seconds`: the same INN or BIK asked again
within that time costs no request (DaData counts each one against the daily limit).

One memory per shared HTTP client, so it lives and ends with the application that opened the
client. It reads the time from a clock (`ivr.keys.Clock`): the system's unless `remember_with`
gives another, as tests do to move time instead of waiting. Only answers are kept, never the
errors of a register that did not give one.
"""

from __future__ import annotations

import weakref
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime, timedelta

import aiohttp

from ivr.keys import Clock, utc_now

SIZE = 10_000
"""Answers kept at most: the oldest go first."""


@dataclass(frozen=True)
class Kept:
    value: object
    until: datetime


class Answers:
    """Answers by what was asked, each until its time is up."""

    def __init__(self, clock: Clock = utc_now) -> None:
        self.clock = clock
        self._kept: dict[Hashable, Kept] = {}

    def recall(self, key: Hashable) -> Kept | None:
        """The answer kept for `key`, None when there is none or its time is up."""
        kept = self._kept.get(key)
        if kept is None:
            return None
        if kept.until <= self.clock():
            del self._kept[key]
            return None
        return kept

    def keep(self, key: Hashable, value: object, *, seconds: float) -> None:
        """Keep `value` for `seconds` (0: not at all)."""
        self._kept.pop(key, None)
        if seconds <= 0:
            return
        while len(self._kept) >= SIZE:
            del self._kept[next(iter(self._kept))]
        self._kept[key] = Kept(value, self.clock() + timedelta(seconds=seconds))


_MEMORIES: weakref.WeakKeyDictionary[aiohttp.ClientSession, Answers] = weakref.WeakKeyDictionary()


def memory_of(http: aiohttp.ClientSession) -> Answers:
    """The answers kept beside this HTTP client (a new memory on the system clock at first)."""
    memory = _MEMORIES.get(http)
    if memory is None:
        memory = _MEMORIES[http] = Answers()
    return memory


def remember_with(http: aiohttp.ClientSession, clock: Clock) -> Answers:
    """A new, empty memory beside this HTTP client, reading the time from `clock`."""
    memory = _MEMORIES[http] = Answers(clock)
    return memory
