"""Request numbers made for a keypad: 8 digits, random, the last a Damm check digit."""

from __future__ import annotations

import re
import secrets

from stdnum import damm

LENGTH = 8
BODY = re.compile(r"[0-9]{7}")
NUMBER = re.compile(r"[1-9][0-9]{7}")


def new_request_number() -> str:
    """A fresh random number; the first digit is never 0 so it reads like a number."""
    body = str(secrets.randbelow(9) + 1) + "".join(
        str(secrets.randbelow(10)) for _ in range(LENGTH - 2)
    )
    return body + damm.calc_check_digit(body)


def with_check_digit(body: str) -> str:
    """Append the check digit to a 7-digit body (used for fixed demo numbers)."""
    if not BODY.fullmatch(body):
        raise ValueError(f"a request number body has {LENGTH - 1} digits")
    return body + damm.calc_check_digit(body)


def parse_request_number(digits: str | None) -> str | None:
    """The request number typed on the keypad, or None if its format or check digit is wrong."""
    if not digits:
        return None
    cleaned = digits.strip().rstrip("#")
    if not NUMBER.fullmatch(cleaned):
        return None
    return cleaned if damm.is_valid(cleaned) else None
