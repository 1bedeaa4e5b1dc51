"""Sign-up codes, the tokens a verified phone finishes with, and the service-wide gate."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from crm.models import Base, Timestamp, enum_column


class CodeStatus(StrEnum):
    SENDING = "sending"
    """Reserved and being handed to the SMS provider: it counts toward every limit."""
    SENT = "sent"
    REFUSED = "refused"
    """The provider refused it or did not answer: it counts toward nothing."""
    TAKEN = "taken"
    """No code: the phone has an account. Counted per address, so probing which phones have
    accounts costs as much as asking for codes."""


COUNTED = (CodeStatus.SENDING, CodeStatus.SENT)
"""The codes the limits count (and the ones that may be typed in)."""
ADDRESS_COUNTED = (*COUNTED, CodeStatus.TAKEN)
"""What the per-address limit counts."""


class SignupCode(Base):
    """One code sent (or being sent) to a phone; only its keyed hash is kept."""

    __tablename__ = "signup_codes"
    __table_args__ = (
        Index("ix_signup_codes_phone_created", "phone", "created_at"),
        Index("ix_signup_codes_address_created", "address", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(64))
    """The client address that asked for it (the browser's, or the proxy's X-Forwarded-For)."""
    code_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[CodeStatus] = mapped_column(enum_column(CodeStatus))
    created_at: Mapped[datetime] = mapped_column(Timestamp, index=True)
    expires_at: Mapped[datetime] = mapped_column(Timestamp)
    wrong_attempts: Mapped[int] = mapped_column(Integer, default=0)
    verified_at: Mapped[datetime | None] = mapped_column(Timestamp)
    refusal: Mapped[str | None] = mapped_column(String(200))
    """Why the provider did not take it (no phone number in it)."""


class SignupToken(Base):
    """Proof that a phone was verified: single use, short-lived, kept as a SHA-256."""

    __tablename__ = "signup_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    phone: Mapped[str] = mapped_column(String(16))
    code_id: Mapped[int] = mapped_column(ForeignKey("signup_codes.id", ondelete="CASCADE"))
    expires_at: Mapped[datetime] = mapped_column(Timestamp)
    used_at: Mapped[datetime | None] = mapped_column(Timestamp)


class SignupGate(Base):
    """The one row every code request locks: the service-wide counts and alerts hang on it.

    Counting happens under this row's lock, so the limits hold with any number of requests
    and server processes at once.
    """

    __tablename__ = "signup_gate"

    id: Mapped[int] = mapped_column(primary_key=True)
    stopped_at: Mapped[datetime | None] = mapped_column(Timestamp)
    """The maximum was reached here: sign-up stays stopped for a window from then."""
    lifted_at: Mapped[datetime | None] = mapped_column(Timestamp)
    """An admin lifted the stop here: codes sent before no longer count toward the window."""
    suspicious_alerted_at: Mapped[datetime | None] = mapped_column(Timestamp)
    stopped_alerted_at: Mapped[datetime | None] = mapped_column(Timestamp)
