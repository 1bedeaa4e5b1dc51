"""A blacklist rule as an admin types it; errors name the field, or `rule` when none is filled."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from crm.blacklist import normalize
from crm.blacklist.normalize import FIELDS
from crm.errors import Invalid
from crm.i18n import gettext as _
from crm.schemas import EMAIL, _Input, parse


def _blank_to_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


class BlacklistRuleIn(_Input):
    """Any of the nine fields (at least one) and why; each is kept as typed, matched normalized."""

    first_name: str | None = Field(None, max_length=100)
    last_name: str | None = Field(None, max_length=100)
    street: str | None = Field(None, max_length=200)
    house: str | None = Field(None, max_length=50)
    postal_code: str | None = Field(None, max_length=20)
    city: str | None = Field(None, max_length=100)
    email: str | None = Field(None, max_length=254)
    ip: str | None = Field(
        None, max_length=64, description="An address, or a network in CIDR form: 10.0.0.0/24."
    )
    phone: str | None = Field(None, max_length=40)
    note: str | None = Field(None, max_length=2000, description="Why the rule exists.")

    _blanks = field_validator(*FIELDS, "note", mode="before")(_blank_to_none)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not EMAIL.match(value):
            raise ValueError(_("enter a valid email address"))
        return value

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        normalize.phone(value)
        return value

    @field_validator("ip")
    @classmethod
    def _ip(cls, value: str | None) -> str | None:
        normalize.network(value)
        return value

    def filled(self) -> dict[str, str]:
        """The rule's filled fields as typed; Invalid naming `rule` when there are none."""
        found = {field: value for field in FIELDS if (value := getattr(self, field)) is not None}
        if not found:
            raise Invalid.one("rule", _("fill in at least one field"))
        return found


def parse_rule(data: Any) -> BlacklistRuleIn:
    """A rule from a form or JSON body: Invalid per offending field, or naming `rule`."""
    rule = parse(BlacklistRuleIn, data)
    rule.filled()
    return rule
