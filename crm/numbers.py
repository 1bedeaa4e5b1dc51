"""Request numbers made for a keypad: 8 digits, random, the last a Damm check digit."""

from __future__ import annotations

import secrets

from stdnum import damm

LENGTH = 8


def new_request_number() -> str:
    """A fresh random number; the first digit is never 0 so it reads like a number."""
    body = str(secrets.randbelow(9) + 1) + "".join(
        str(secrets.randbelow(10)) for _ in range(LENGTH - 2)
    )
    return body + damm.calc_check_digit(body)


def with_check_digit(body: str) -> str:
    """Append the check digit to a 7-digit body (used for fixed demo numbers)."""
    if len(body) != LENGTH - 1 or not body.isdigit():
        raise ValueError(f"a request number body has {LENGTH - 1} digits")
    return body + damm.calc_check_digit(body)


def parse_request_number(digits: str | None) -> str | None:
    """The request number typed on the keypad, or None if its format or check digit is wrong."""
    if not digits:
        return None
    cleaned = digits.strip().rstrip("#")
    if len(cleaned) != LENGTH or not cleaned.isdigit() or cleaned[0] == "0":
        return None
    return cleaned if damm.is_valid(cleaned) else None
