"""argon2 password hashes."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from crm.errors import Invalid
from crm.i18n import gettext as _

_hasher = PasswordHasher()
MIN_LENGTH = 10
MAX_LENGTH = 200
COMMON = Path(__file__).with_name("common_passwords.txt")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when `password` matches; a malformed hash is a mismatch, not a crash."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


@cache
def dummy_hash() -> str:
    """Verified against when the account does not exist, so timing does not reveal accounts.

    Made on first use, not at import: argon2 is slow on purpose, and every process (each `ivr`
    command too) imports this module.
    """
    return hash_password("not a real password")


@cache
def common_passwords() -> frozenset[str]:
    """The shipped list of most-chosen passwords, lower case."""
    lines = COMMON.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().casefold() for line in lines if line and line[0] != "#")


def password_problem(password: str) -> str | None:
    """Why this password may not be set (too short, too long, too common), or None.

    The password is judged exactly as typed: spaces count like any other character.
    """
    if len(password) < MIN_LENGTH:
        return _("use at least %(count)d characters") % {"count": MIN_LENGTH}
    if len(password) > MAX_LENGTH:
        return _("use at most %(count)d characters") % {"count": MAX_LENGTH}
    if len(set(password)) < 3:
        return _("use more than two different characters")
    if password.casefold() in common_passwords():
        return _("this password is one of the most common ones; choose a less guessable one")
    return None


def check_password(password: str) -> None:
    """Invalid naming `password` unless the password may be set."""
    problem = password_problem(password)
    if problem is not None:
        raise Invalid.one("password", problem)
