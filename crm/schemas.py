"""Input schemas shared by the web forms and the JSON API; errors name the field."""

from __future__ import annotations

import re
from typing import Annotated, Any, TypeVar

import phonenumbers
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.ru import inn as ru_inn

from crm.auth.passwords import password_problem
from crm.enums import RecordingPolicy
from crm.errors import Invalid

Model = TypeVar("Model", bound=BaseModel)

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
DEFAULT_REGION = "RU"


def normalize_phone(value: str) -> str:
    """E.164 form of a phone number typed any usual way; ValueError if it is not one."""
    try:
        parsed = phonenumbers.parse(value, DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        raise ValueError("enter a phone number such as +7 916 123-45-67") from None
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError("this is not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def storable(text: str) -> bool:
    """False for text no database column takes: NUL characters, lone surrogates."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


class _Input(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        texts = value if isinstance(value, list) else [value]
        if any(isinstance(text, str) and not storable(text) for text in texts):
            raise ValueError("contains characters that cannot be stored (NUL or broken Unicode)")
        return value


def _blank_to_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


class ClientIn(_Input):
    first_name: str = Field(min_length=1, max_length=100)
    last_name: str = Field(min_length=1, max_length=100)
    phone: str = Field(min_length=1, max_length=40)
    email: str | None = Field(None, max_length=254)
    street: str | None = Field(None, max_length=200)
    house: str | None = Field(None, max_length=50)
    postal_code: str | None = Field(None, max_length=20)
    city: str | None = Field(None, max_length=100)

    _blanks = field_validator("email", "street", "house", "postal_code", "city", mode="before")(
        _blank_to_none
    )

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        return normalize_phone(value)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not EMAIL.match(value):
            raise ValueError("enter a valid email address")
        return value.lower() if value else value


class RequestIn(_Input):
    client_id: int = Field(gt=0)
    organization_id: int = Field(gt=0)
    product: str = Field(min_length=1, max_length=200)
    comment: str | None = Field(None, max_length=2000)

    _blanks = field_validator("comment", mode="before")(_blank_to_none)


class OrganizationIn(_Input):
    name: str = Field(min_length=1, max_length=300)
    inn: str = Field(min_length=1, max_length=20)
    recording_policy: RecordingPolicy = Field(
        RecordingPolicy.OFF,
        description="`on`: its managers' conversations with clients are recorded, both told.",
    )

    @field_validator("inn")
    @classmethod
    def _inn(cls, value: str) -> str:
        try:
            return ru_inn.validate(value)
        except StdnumError:
            raise ValueError(
                "this is not a valid INN (10 or 12 digits with check digits)"
            ) from None


class RecordingPolicyIn(_Input):
    recording_policy: RecordingPolicy


class ManagerIn(_Input):
    name: str = Field(min_length=1, max_length=200)
    phones: list[str] = Field(min_length=1, max_length=10)
    email: str | None = Field(None, max_length=254)

    _blanks = field_validator("email", mode="before")(_blank_to_none)

    @field_validator("phones")
    @classmethod
    def _phones(cls, values: list[str]) -> list[str]:
        normalized = [normalize_phone(value) for value in values if value.strip()]
        if not normalized:
            raise ValueError("give at least one phone number")
        if len(set(normalized)) != len(normalized):
            raise ValueError("the same phone number is listed twice")
        return normalized


class PhoneIn(_Input):
    phone: str = Field(
        max_length=40, description="One of the manager's numbers, as typed (`8 916 …` too)."
    )

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        return normalize_phone(value)


Password = Annotated[str, StringConstraints(strip_whitespace=False)]
"""Kept exactly as typed: a space is part of a password like any other character."""


class AgentIn(_Input):
    name: str = Field(min_length=1, max_length=200)
    email: str = Field(min_length=3, max_length=254)
    password: Password

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if not EMAIL.match(value):
            raise ValueError("enter a valid email address")
        return value.lower()

    @field_validator("password")
    @classmethod
    def _password(cls, value: str) -> str:
        problem = password_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value


MOBILE = (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)


class SignupPhoneIn(_Input):
    phone: str = Field(
        min_length=1,
        max_length=40,
        description="A mobile number in any usual form: +7 916 123-45-67, 8 916 123 45 67.",
    )

    @field_validator("phone")
    @classmethod
    def _mobile(cls, value: str) -> str:
        phone = normalize_phone(value)
        kind = phonenumbers.number_type(phonenumbers.parse(phone))
        if kind == phonenumbers.PhoneNumberType.FIXED_LINE:
            raise ValueError("this is a landline number: a text message cannot reach it")
        if kind not in MOBILE:
            raise ValueError("enter a mobile number: the code comes by text message")
        return phone


class SignupVerifyIn(SignupPhoneIn):
    code: str = Field(min_length=1, max_length=20, description="The 6 digits of the message.")

    @field_validator("code")
    @classmethod
    def _six_digits(cls, value: str) -> str:
        digits = value.replace(" ", "").replace("-", "")
        if not (digits.isascii() and digits.isdigit() and len(digits) == 6):
            raise ValueError("enter the 6 digits from the text message")
        return digits


class SignupCompleteIn(AgentIn):
    """The account of a verified phone (the password: 10 characters or more, not a common one)."""

    signup_token: str = Field(
        min_length=1, max_length=100, description="From POST /api/v1/signup/verify."
    )


def parse(schema: type[Model], data: Any) -> Model:
    """Validate `data` into `schema`, or raise Invalid with a message per offending field."""
    try:
        return schema.model_validate(data)
    except ValidationError as error:
        errors: dict[str, str] = {}
        kinds: dict[str, str] = {}
        for item in error.errors():
            field = ".".join(str(part) for part in item["loc"]) or "body"
            if field in errors:
                continue
            errors[field] = item["msg"].removeprefix("Value error, ")
            typed = item.get("input")
            empty = (
                item["type"] == "string_too_short" and isinstance(typed, str) and not typed.strip()
            )
            kinds[field] = "empty" if empty else item["type"]
        raise Invalid(errors, kinds) from None
