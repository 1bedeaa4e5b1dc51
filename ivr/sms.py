"""How a text message leaves the service: through Twilio's Messages API, or into the log.

`sms.provider: console` (development's default) writes the whole message to the log, so a
newcomer can read a sign-up code offline; `twilio` sends it with the shared REST client.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import aiohttp
import structlog
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client as TwilioClient

from ivr.config import SmsConfig

log = structlog.get_logger("ivr.sms")


class SmsRefused(Exception):
    """The message was not accepted for delivery; `reason` says why (no phone number in it)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class SentSms:
    sid: str
    """Twilio's MessageSid, or a made-up one for the console."""


class SmsSender(Protocol):
    async def send(self, *, to: str, body: str) -> SentSms:
        """Hand the message over; SmsRefused when it is not accepted."""


class ConsoleSms:
    """Writes every message to the log, readable (the phone masked like every number)."""

    def __init__(self) -> None:
        self._count = 0

    async def send(self, *, to: str, body: str) -> SentSms:
        self._count += 1
        log.info("sms_console", to=to, body=body)
        return SentSms(sid=f"console-{self._count}")


class TwilioSms:
    """Sends through Twilio's Messages API, from `sms.from` or `sms.messaging_service_sid`."""

    def __init__(self, client: TwilioClient, config: SmsConfig) -> None:
        self._client, self._config = client, config

    async def send(self, *, to: str, body: str) -> SentSms:
        sender = (
            {"messaging_service_sid": self._config.messaging_service_sid}
            if self._config.messaging_service_sid
            else {"from_": self._config.from_}
        )
        try:
            message = await self._client.messages.create_async(to=to, body=body, **sender)
        except TwilioRestException as error:
            raise SmsRefused(f"Twilio refused the message: error {error.code}") from None
        except (TwilioException, OSError, TimeoutError, aiohttp.ClientError) as error:
            raise SmsRefused(f"Twilio could not be reached: {type(error).__name__}") from None
        except ValueError as error:  # an answer that is not Twilio's JSON (a proxy's page)
            raise SmsRefused(f"Twilio's answer could not be read: {type(error).__name__}") from None
        return SentSms(sid=str(message.sid))


def create_sms_sender(config: SmsConfig, client: TwilioClient) -> SmsSender:
    """The sender `sms.provider` names."""
    return TwilioSms(client, config) if config.provider == "twilio" else ConsoleSms()
