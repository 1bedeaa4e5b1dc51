"""What payer cards and delivery addresses take (pages and API alike) and what the API
answers about them; each error names its field."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from crm.dadata import check_bik, check_inn
from crm.organizations.accounts import (
    check_account,
    check_correspondent_account,
    check_kpp,
    clean_account,
)
from crm.schemas import _blank_to_none, _Edit, _given_only, _Input, normalize_phone

BANK_BY_HAND = (
    " Taken from DaData by the BIK; what is typed here is used only when DaData cannot answer."
)


def _account(value: str, info: ValidationInfo) -> str:
    account = clean_account(value)
    bik = info.data.get("bik")  # None: not given (an edit checks the stored one) or refused
    return account if bik is None else check_account(bik, account)


def _correspondent(value: str | None, info: ValidationInfo) -> str | None:
    bik = info.data.get("bik")
    if value is None or bik is None:
        return value
    return check_correspondent_account(bik, value)


class PayerIn(_Input):
    """A payer card. Name, INN and KPP default to the organization's; the bank comes from
    DaData by the BIK."""

    name: str | None = Field(
        None, min_length=1, max_length=500, description="Default: the organization's name."
    )
    inn: str | None = Field(None, max_length=20, description="Default: the organization's INN.")
    kpp: str | None = Field(
        None,
        max_length=9,
        description="Default: the organization's KPP when the INN is the organization's; '' none.",
    )
    bik: str = Field(max_length=20, description="9 digits starting with 04.")
    account: str = Field(
        max_length=30,
        description="The 20-digit current account; its control key must match the BIK.",
    )
    bank_name: str | None = Field(None, max_length=300, description="The bank." + BANK_BY_HAND)
    correspondent_account: str | None = Field(None, max_length=30, description=BANK_BY_HAND[1:])
    bank_address: str | None = Field(None, max_length=1000, description=BANK_BY_HAND[1:])
    is_default: bool = Field(False, description="The organization's default payer from now on.")

    _blanks = field_validator(
        "name", "inn", "bank_name", "correspondent_account", "bank_address", mode="before"
    )(_blank_to_none)

    @field_validator("inn")
    @classmethod
    def _inn(cls, value: str | None) -> str | None:
        return None if value is None else check_inn(value)

    @field_validator("kpp")
    @classmethod
    def _kpp(cls, value: str | None) -> str | None:
        return None if value is None else check_kpp(value)

    @field_validator("bik")
    @classmethod
    def _bik(cls, value: str) -> str:
        return check_bik(value)

    _account = field_validator("account")(_account)
    _correspondent = field_validator("correspondent_account")(_correspondent)


class PayerEdit(_Edit):
    """A payer card's changed fields; a new BIK or account is checked against the other one
    (the stored one when only one is given) and a new BIK is looked up again."""

    name: str | None = Field(None, min_length=1, max_length=500, json_schema_extra=_given_only)
    inn: str | None = Field(None, max_length=20, json_schema_extra=_given_only)
    kpp: str | None = Field(None, max_length=9, json_schema_extra=_given_only)
    bik: str | None = Field(None, max_length=20, json_schema_extra=_given_only)
    account: str | None = Field(None, max_length=30, json_schema_extra=_given_only)
    bank_name: str | None = Field(None, min_length=1, max_length=300, json_schema_extra=_given_only)
    correspondent_account: str | None = Field(None, max_length=30, json_schema_extra=_given_only)
    bank_address: str | None = Field(None, max_length=1000, json_schema_extra=_given_only)
    is_default: bool | None = Field(
        None,
        description="true: the organization's default payer from now on.",
        json_schema_extra=_given_only,
    )

    @field_validator("inn")
    @classmethod
    def _inn(cls, value: str) -> str:
        return check_inn(value)

    @field_validator("kpp")
    @classmethod
    def _kpp(cls, value: str) -> str:
        return check_kpp(value)

    @field_validator("bik")
    @classmethod
    def _bik(cls, value: str) -> str:
        return check_bik(value)

    _account = field_validator("account")(_account)
    _correspondent = field_validator("correspondent_account")(_correspondent)


class AddressIn(_Input):
    """Where documents go on the agent's side, and who accepts them there."""

    address: str = Field(min_length=1, max_length=1000)
    contact_name: str = Field(min_length=1, max_length=200, description="Who accepts documents.")
    contact_phone: str = Field(
        min_length=1, max_length=40, description="Their phone as typed (`8 916 …` too); E.164."
    )
    comment: str | None = Field(None, max_length=2000, description="Floor, hours, a pass…")

    _blanks = field_validator("comment", mode="before")(_blank_to_none)

    @field_validator("contact_phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        return normalize_phone(value)


class AddressEdit(_Edit):
    """A delivery address's changed fields (`comment: ""` clears the comment)."""

    address: str | None = Field(None, min_length=1, max_length=1000, json_schema_extra=_given_only)
    contact_name: str | None = Field(
        None, min_length=1, max_length=200, json_schema_extra=_given_only
    )
    contact_phone: str | None = Field(
        None, min_length=1, max_length=40, json_schema_extra=_given_only
    )
    comment: str | None = Field(None, max_length=2000, json_schema_extra=_given_only)

    @field_validator("contact_phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        return normalize_phone(value)


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class PayerDetails(_Out):
    """Who pays for a request, with the bank details a partner invoices."""

    id: int
    name: str
    inn: str
    kpp: str = Field(description="'' when none.")
    bik: str
    bank_name: str
    correspondent_account: str | None
    bank_address: str | None
    account: str


class PayerOut(PayerDetails):
    organization_id: int
    is_default: bool
    is_active: bool = Field(description="False: removed from the choices.")
    created_at: datetime


class PayerList(_Out):
    items: list[PayerOut]


class AddressDetails(_Out):
    """Where a request's documents go, on the agent's side; never a client's address."""

    id: int
    address: str
    contact_name: str
    contact_phone: str
    comment: str | None


class AddressOut(AddressDetails):
    organization_id: int
    is_active: bool = Field(description="False: removed from the choices.")
    created_at: datetime


class AddressList(_Out):
    items: list[AddressOut]
