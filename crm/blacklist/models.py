"""Blacklist rules and their normalized values, indexed so a check never scans the rules."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crm.models import Base, Timestamp

VALUES_INDEX = "ix_blacklist_rule_values_lookup"
IP_INDEX = "ix_blacklist_rules_ip"
VALUE_KEY_INDEX = "ix_blacklist_rules_value_key"


class BlacklistRule(Base):
    """Flags a request whose every filled field matches; the fields are kept as typed."""

    __tablename__ = "blacklist_rules"
    __table_args__ = (
        Index(IP_INDEX, "ip_family", "ip_first", "ip_last"),
        Index(VALUE_KEY_INDEX, "value_key"),
    )

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
    """How many fields are filled (the IP counts as one)."""
    normalized: Mapped[dict[str, str]] = mapped_column(JSON)
    """Every filled field but the IP in comparable form (`normalize.comparable_rule`)."""
    value_key: Mapped[str | None] = mapped_column(String(32))
    """`normalize.value_key` of `normalized`, by which the check finds a rule without an IP
    (one with an IP is found by its range)."""
    created_at: Mapped[datetime] = mapped_column(Timestamp)


class BlacklistShape(Base):
    """How rules are found: the fields a rule without an IP fills ("first_name,last_name")
    or the size of a rule's network ("ipv4/24"). Kept as rules are saved and never removed:
    the check builds a record's lookups for these alone."""

    __tablename__ = "blacklist_shapes"

    fields: Mapped[str] = mapped_column(String(200), primary_key=True)


class BlacklistRuleValue(Base):
    """One filled field of a rule but its IP, normalized: what the rules' search looks in."""

    __tablename__ = "blacklist_rule_values"
    __table_args__ = (Index(VALUES_INDEX, "field", "value", "rule_id"),)

    rule_id: Mapped[int] = mapped_column(ForeignKey("blacklist_rules.id"), primary_key=True)
    field: Mapped[str] = mapped_column(String(16), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class BlacklistSettings(Base):
    """The blacklist's one row of settings: which fields "add to blacklist" copies."""

    __tablename__ = "blacklist_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    copy_fields: Mapped[list[str]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(Timestamp)
