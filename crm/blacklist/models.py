"""Blacklist rules and their normalized values, indexed so a check never scans the rules."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crm.models import Base, Timestamp

VALUES_INDEX = "ix_blacklist_rule_values_lookup"
IP_INDEX = "ix_blacklist_rules_ip"


class BlacklistRule(Base):
    """Flags a request whose every filled field matches; the fields are kept as typed."""

    __tablename__ = "blacklist_rules"
    __table_args__ = (Index(IP_INDEX, "ip_family", "ip_first", "ip_last"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    note: Mapped[str | None] = mapped_column(Text)
    """Why the rule exists, in the admin's words."""
    first_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    street: Mapped[str | None] = mapped_column(String(200))
    house: Mapped[str | None] = mapped_column(String(50))
    postal_code: Mapped[str | None] = mapped_column(String(20))
    city: Mapped[str | None] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(254))
    ip: Mapped[str | None] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(40))
    ip_family: Mapped[int | None] = mapped_column(Integer)
    """4 or 6 when the rule has an IP; then the network's first and last address follow."""
    ip_first: Mapped[str | None] = mapped_column(String(32))
    """Fixed-width hex (8 digits IPv4, 32 IPv6), so text order is address order."""
    ip_last: Mapped[str | None] = mapped_column(String(32))
    ip_prefix: Mapped[int | None] = mapped_column(Integer)
    field_count: Mapped[int] = mapped_column(Integer)
    """How many fields are filled: a rule matches when this many of them matched."""
    created_at: Mapped[datetime] = mapped_column(Timestamp)


class BlacklistRuleValue(Base):
    """One filled field of a rule but its IP, normalized: what the check looks up."""

    __tablename__ = "blacklist_rule_values"
    __table_args__ = (Index(VALUES_INDEX, "field", "value", "rule_id"),)

    rule_id: Mapped[int] = mapped_column(ForeignKey("blacklist_rules.id"), primary_key=True)
    field: Mapped[str] = mapped_column(String(16), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class BlacklistMatch(Base):
    """A rule a request matched when it was filed or last re-checked, and why.

    The rule's note and the matched fields with the request's values are kept as they were,
    so the explanation stays true when the rule is later edited or deleted.
    """

    __tablename__ = "blacklist_matches"

    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), primary_key=True)
    rule_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    """No foreign key: a deleted rule's matches stay as the record of what was seen."""
    note: Mapped[str | None] = mapped_column(Text)
    fields: Mapped[dict[str, str]] = mapped_column(JSON)
    checked_at: Mapped[datetime] = mapped_column(Timestamp)


class BlacklistSettings(Base):
    """The blacklist's one row of settings: which fields "add to blacklist" copies."""

    __tablename__ = "blacklist_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    copy_fields: Mapped[list[str]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(Timestamp)
