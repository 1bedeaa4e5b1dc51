"""How an email leaves the service: over SMTP, or into the log (development's default)."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol

import aiosmtplib
import structlog

from ivr.config import EmailConfig

log = structlog.get_logger("ivr.mail")


@dataclass(frozen=True)
class Letter:
    """One message as the outbox keeps it."""

    to: tuple[str, ...]
    subject: str
    body: str


class Mailer(Protocol):
    async def send(self, letter: Letter) -> None:
        """Hand the letter over; raise on any failure so the outbox tries again later."""


class LogMailer:
    """Writes every letter to the log, whole and readable, and never fails."""

    async def send(self, letter: Letter) -> None:
        log.info("email_logged", to=list(letter.to), subject=letter.subject, body=letter.body)


class SmtpMailer:
    """Sends through an SMTP server with aiosmtplib; one connection per letter."""

    def __init__(self, config: EmailConfig) -> None:
        self._config = config

    def _message(self, letter: Letter) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self._config.from_
        message["To"] = ", ".join(letter.to)
        message["Subject"] = letter.subject
        message.set_content(letter.body)
        return message

    async def send(self, letter: Letter) -> None:
        smtp = self._config.smtp
        await aiosmtplib.send(
            self._message(letter),
            hostname=smtp.host,
            port=smtp.port,
            username=smtp.user or None,
            password=smtp.password or None,
            use_tls=smtp.tls == "tls",
            start_tls=True if smtp.tls == "starttls" else False,
            timeout=smtp.timeout_seconds,
        )


def create_mailer(config: EmailConfig) -> Mailer:
    """The mailer `email.backend` names."""
    return SmtpMailer(config) if config.backend == "smtp" else LogMailer()
