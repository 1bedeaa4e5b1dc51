"""Domain errors; the web and API edges translate them into HTTP answers."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error a user can cause."""


class NotFound(DomainError):
    """Missing, or not this user's to see (both answer the same)."""


class Forbidden(DomainError):
    """The user's role may not do this."""


class Invalid(DomainError):
    """A field's value is wrong; `errors` maps each offending field to a message."""

    def __init__(self, errors: dict[str, str], kinds: dict[str, str] | None = None) -> None:
        super().__init__("; ".join(f"{field}: {message}" for field, message in errors.items()))
        self.errors = errors
        self.kinds = kinds or {}
        """Field -> what went wrong, as a word a page can reword: 'empty', 'int_parsing'."""

    @classmethod
    def one(cls, field: str, message: str) -> Invalid:
        return cls({field: message})


class Conflict(Invalid):
    """The value is taken by another record (a unique field)."""
