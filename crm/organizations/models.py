"""What an agents' organization keeps: payers with bank details, delivery addresses, and the
loyalty points its requests earn (pooled at its head office)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    false,
    text,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from crm.models import Base, Timestamp


class Payer(Base):
    """Who pays for a request: a name, INN/KPP and a current account at a bank (by BIK)."""

    __tablename__ = "payers"
    __table_args__ = (
        # One active card per account; removed ones stay as the requests naming them show.
        Index(
            "uq_payers_account",
            "organization_id",
            "bik",
            "account",
            unique=True,
            sqlite_where=text("is_active"),
            postgresql_where=text("is_active"),
        ),
        # One default payer per organization, however many ask at once.
        Index(
            "uq_payers_default",
            "organization_id",
            unique=True,
            sqlite_where=text("is_default"),
            postgresql_where=text("is_default"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    name: Mapped[str] = mapped_column(String(500))
    inn: Mapped[str] = mapped_column(String(12))
    kpp: Mapped[str] = mapped_column(String(9), default="", server_default="")
    bik: Mapped[str] = mapped_column(String(9))
    bank_name: Mapped[str] = mapped_column(String(300))
    correspondent_account: Mapped[str | None] = mapped_column(String(20))
    bank_address: Mapped[str | None] = mapped_column(Text)
    account: Mapped[str] = mapped_column(String(20))
    """20 digits whose control key checks against the BIK (the Central Bank's algorithm)."""
    is_default: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    """False: removed from the choices; requests that named it keep showing it."""
    created_at: Mapped[datetime] = mapped_column(Timestamp)


class DeliveryAddress(Base):
    """Where documents go on the agent's side, and who accepts them there."""

    __tablename__ = "delivery_addresses"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    address: Mapped[str] = mapped_column(Text)
    contact_name: Mapped[str] = mapped_column(String(200))
    contact_phone: Mapped[str] = mapped_column(String(16))
    """E.164; the agent's side's contact, never a client's number."""
    comment: Mapped[str | None] = mapped_column(Text)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(Timestamp)


class LoyaltyEntry(Base):
    """Points a request earned once it reached the client, credited to the head office of
    its agent's organization; one entry per request, ever."""

    __tablename__ = "loyalty_entries"
    __table_args__ = (Index("ix_loyalty_entries_org_created", "organization_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    """The head office the points pool at."""
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), unique=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"), index=True)
    points: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
