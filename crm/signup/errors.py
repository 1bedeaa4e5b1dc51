"""What refuses a sign-up step; the pages and the API each answer them their own way."""

from __future__ import annotations

from crm.errors import DomainError, Invalid
from crm.i18n import ngettext


class Throttled(DomainError):
    """Too many codes for this phone or address for now (429)."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Suspended(DomainError):
    """Sign-up is stopped for everyone: the service-wide maximum was reached (503)."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NotDelivered(DomainError):
    """The SMS provider refused the code or did not answer; nothing was counted (502)."""


class CodeGone(DomainError):
    """The code or token can no longer be used: expired, used or dead (410); `field` names
    what was sent (`code` or `signup_token`)."""

    def __init__(self, message: str, *, field: str = "code") -> None:
        super().__init__(message)
        self.field = field


class WrongCode(Invalid):
    """The code does not match; `attempts_left` more tries remain (422)."""

    def __init__(self, attempts_left: int) -> None:
        message = ngettext(
            "wrong code: %(num)d try left", "wrong code: %(num)d tries left", attempts_left
        ) % {"num": attempts_left}
        super().__init__({"code": message})
        self.attempts_left = attempts_left
