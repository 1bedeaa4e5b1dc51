"""Input schemas shared by the web forms and the JSON API; errors name the field."""

from __future__ import annotations

import re
from typing import Annotated, Any, TypeVar

import phonenumbers
from babel.lists import format_list
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from crm import i18n
from crm.auth.passwords import password_problem
from crm.dadata import check_inn
from crm.enums import RecordingPolicy
from crm.errors import Invalid
from crm.i18n import N_, gettext, ngettext
from crm.i18n import gettext as _
from crm.organizations.lookup import checked_kpp, checked_number

Model = TypeVar("Model", bound=BaseModel)

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
DEFAULT_REGION = "RU"


def normalize_phone(value: str) -> str:
    """E.164 form of a phone number typed any usual way; ValueError if it is not one."""
    try:
        parsed = phonenumbers.parse(value, DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        raise ValueError(_("enter a phone number such as +7 916 123-45-67")) from None
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError(_("this is not a valid phone number"))
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
            raise ValueError(_("contains characters that cannot be stored (NUL or broken Unicode)"))
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
            raise ValueError(_("enter a valid email address"))
        return value.lower() if value else value


class RequestIn(_Input):
    client_id: int = Field(gt=0)
    organization_id: int = Field(gt=0)
    product: str = Field(min_length=1, max_length=200)
    comment: str | None = Field(None, max_length=2000)
    payer_id: int | None = Field(
        None, gt=0, le=2**31 - 1, description="One of the agent's organization's active payers."
    )
    delivery_address_id: int | None = Field(
        None,
        gt=0,
        le=2**31 - 1,
        description="One of the agent's organization's active delivery addresses.",
    )

    _blanks = field_validator("comment", "payer_id", "delivery_address_id", mode="before")(
        _blank_to_none
    )


class OrganizationIn(_Input):
    """A partner company by its INN (or OGRN): DaData fills the rest."""

    inn: str = Field(
        min_length=1,
        max_length=20,
        description="The INN (10 digits, 12 for a sole proprietor) or the OGRN (13 or 15), "
        "with right check digits.",
    )
    kpp: str | None = Field(None, max_length=9, description="A branch's KPP; else the head office.")
    name: str | None = Field(
        None,
        min_length=1,
        max_length=300,
        description="Only when DaData cannot tell (unavailable, or the INN unknown to it): "
        "the company is then stored not verified.",
    )
    recording_policy: RecordingPolicy = Field(
        RecordingPolicy.OFF,
        description="`on`: its managers' conversations with clients are recorded, both told.",
    )

    _blanks = field_validator("kpp", "name", mode="before")(_blank_to_none)

    @field_validator("inn")
    @classmethod
    def _inn(cls, value: str) -> str:
        return checked_number(value)

    @field_validator("kpp")
    @classmethod
    def _kpp(cls, value: str | None) -> str | None:
        return checked_kpp(value)


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
            raise ValueError(_("give at least one phone number"))
        if len(set(normalized)) != len(normalized):
            raise ValueError(_("the same phone number is listed twice"))
        return normalized


class PhoneIn(_Input):
    phone: str = Field(
        max_length=40, description="One of the manager's numbers, as typed (`8 916 …` too)."
    )

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        return normalize_phone(value)


def _given_only(schema: dict[str, Any]) -> None:
    """Document an edit's field as what it takes: a value, or the field left out (not null)."""
    schema.pop("default", None)
    kinds = schema.pop("anyOf", None)
    if kinds:
        schema.update(next(kind for kind in kinds if kind.get("type") != "null"))


class _Edit(_Input):
    """A partial edit: only the fields given change; at least one, and none of them null."""

    @field_validator("*", mode="before")
    @classmethod
    def _given(cls, value: Any) -> Any:
        if value is None:
            raise ValueError(_("give a value, or leave the field out"))
        return value

    @model_validator(mode="after")
    def _anything(self) -> _Edit:
        if not self.model_fields_set:
            raise ValueError(_("give at least one field to change"))
        return self

    def changes(self) -> dict[str, Any]:
        """The fields given, with their checked values."""
        return self.model_dump(include=self.model_fields_set)


class OrganizationEdit(_Edit):
    """A partner company's new name or INN (its access: …/deactivate, …/reactivate)."""

    name: str | None = Field(None, min_length=1, max_length=300, json_schema_extra=_given_only)
    inn: str | None = Field(
        None,
        min_length=1,
        max_length=20,
        description="10 or 12 digits with check digits; no other company's.",
        json_schema_extra=_given_only,
    )

    @field_validator("inn")
    @classmethod
    def _inn(cls, value: str) -> str:
        return check_inn(value)


class PersonEdit(_Edit):
    """A person's new name or login email (the role and the password are not changed here)."""

    name: str | None = Field(None, min_length=1, max_length=200, json_schema_extra=_given_only)
    email: str | None = Field(
        None,
        min_length=3,
        max_length=254,
        description="The web login's; no other account's.",
        json_schema_extra=_given_only,
    )

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if not EMAIL.match(value):
            raise ValueError(_("enter a valid email address"))
        return value.lower()


class ManagerEdit(PersonEdit):
    """A manager's new name, or the email of their web login (422 naming `email` without one)."""


class AgentEdit(PersonEdit):
    """An agent's new name or email (their login's too)."""


class UserEdit(PersonEdit):
    """A login's new name or email (the agent's or manager's it is follows)."""


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
            raise ValueError(_("enter a valid email address"))
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
            raise ValueError(_("this is a landline number: a text message cannot reach it"))
        if kind not in MOBILE:
            raise ValueError(_("enter a mobile number: the code comes by text message"))
        return phone


class SignupVerifyIn(SignupPhoneIn):
    code: str = Field(min_length=1, max_length=20, description="The 6 digits of the message.")

    @field_validator("code")
    @classmethod
    def _six_digits(cls, value: str) -> str:
        digits = value.replace(" ", "").replace("-", "")
        if not (digits.isascii() and digits.isdigit() and len(digits) == 6):
            raise ValueError(_("enter the 6 digits from the text message"))
        return digits


class SignupCompleteIn(AgentIn):
    """The account of a verified phone (the password: 10 characters or more, not a common one)."""

    signup_token: str = Field(
        min_length=1, max_length=100, description="From POST /api/v1/signup/verify."
    )
    inn: str | None = Field(
        None,
        max_length=20,
        description="The INN (or OGRN) of the agent's own organization: found through DaData "
        "and created, or joined when another agent gave it already. Optional here.",
    )
    kpp: str | None = Field(None, max_length=9, description="A branch's KPP, with `inn`.")
    organization_name: str | None = Field(
        None,
        max_length=300,
        description="With `inn`, only when DaData cannot tell: stored not verified.",
    )

    _organization_blanks = field_validator("inn", "kpp", "organization_name", mode="before")(
        _blank_to_none
    )

    @field_validator("inn")
    @classmethod
    def _inn(cls, value: str | None) -> str | None:
        return None if value is None else checked_number(value)

    @field_validator("kpp")
    @classmethod
    def _kpp(cls, value: str | None) -> str | None:
        return checked_kpp(value)


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
            errors[field] = validation_message(item)
            typed = item.get("input")
            empty = (
                item["type"] == "string_too_short" and isinstance(typed, str) and not typed.strip()
            )
            kinds[field] = "empty" if empty else item["type"]
        raise Invalid(errors, kinds) from None


MESSAGES: dict[str, str] = {
    "missing": N_("Field required"),
    "extra_forbidden": N_("Extra inputs are not permitted"),
    "string_type": N_("Input should be a valid string"),
    "int_type": N_("Input should be a valid integer"),
    "int_parsing": N_("Input should be a valid integer, unable to parse string as an integer"),
    "int_parsing_size": N_("Unable to parse input string as an integer, exceeded maximum size"),
    "int_from_float": N_("Input should be a valid integer, got a number with a fractional part"),
    "float_type": N_("Input should be a valid number"),
    "float_parsing": N_("Input should be a valid number, unable to parse string as a number"),
    "bool_type": N_("Input should be a valid boolean"),
    "bool_parsing": N_("Input should be a valid boolean, unable to interpret input"),
    "greater_than": N_("Input should be greater than %(gt)s"),
    "greater_than_equal": N_("Input should be greater than or equal to %(ge)s"),
    "less_than": N_("Input should be less than %(lt)s"),
    "less_than_equal": N_("Input should be less than or equal to %(le)s"),
    "enum": N_("Input should be %(expected)s"),
    "literal_error": N_("Input should be %(expected)s"),
    "string_pattern_mismatch": N_("String should match pattern '%(pattern)s'"),
    "list_type": N_("Input should be a valid list"),
    "dict_type": N_("Input should be a valid dictionary"),
    "model_type": N_("Input should be a valid dictionary or instance of %(class_name)s"),
    "json_invalid": N_("Invalid JSON: %(error)s"),
    "json_type": N_("JSON input should be string, bytes or bytearray"),
    "date_type": N_("Input should be a valid date"),
    "date_parsing": N_("Input should be a valid date in the format YYYY-MM-DD, %(error)s"),
    "date_from_datetime_parsing": N_("Input should be a valid date or datetime, %(error)s"),
    "datetime_type": N_("Input should be a valid datetime"),
    "datetime_parsing": N_("Input should be a valid datetime, %(error)s"),
    "datetime_from_date_parsing": N_("Input should be a valid datetime or date, %(error)s"),
}
"""Pydantic's own messages (English) as our ids, by error type; each is formatted with the
error's `ctx`. The plurals (lengths) are in `validation_message`."""


def _shown(value: Any) -> Any:
    """A limit as pydantic shows it: 1.0 as 1."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _choices(expected: str) -> str:
    """pydantic's "'on' or 'off'" joined the reader's way ('on' или 'off')."""
    language = i18n.reader().language
    if language == i18n.SOURCE:
        return expected
    choices = re.findall(r"'(?:[^'\\]|\\.)*'", expected)
    return format_list(choices, style="or", locale=language) if choices else expected


def validation_message(item: ErrorDetails) -> str:
    """A pydantic error as the reader reads it: our own validators' messages (`value_error`,
    translated when raised) as they are, pydantic's own translated by type; an unknown type
    keeps pydantic's English."""
    kind, ctx = item["type"], {key: _shown(value) for key, value in item.get("ctx", {}).items()}
    if kind in ("value_error", "assertion_error"):
        return item["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if kind == "string_too_short":
        count = ctx["min_length"]
        return ngettext(
            "String should have at least %(num)d character",
            "String should have at least %(num)d characters",
            count,
        ) % {"num": count}
    if kind == "string_too_long":
        count = ctx["max_length"]
        return ngettext(
            "String should have at most %(num)d character",
            "String should have at most %(num)d characters",
            count,
        ) % {"num": count}
    if kind in ("too_short", "too_long") and ctx.get("field_type") == "List":
        count, actual = (
            ctx["min_length" if kind == "too_short" else "max_length"],
            ctx["actual_length"],
        )
        if kind == "too_short":
            template = ngettext(
                "List should have at least %(num)d item after validation, not %(actual)d",
                "List should have at least %(num)d items after validation, not %(actual)d",
                count,
            )
        else:
            template = ngettext(
                "List should have at most %(num)d item after validation, not %(actual)d",
                "List should have at most %(num)d items after validation, not %(actual)d",
                count,
            )
        return template % {"num": count, "actual": actual}
    message = MESSAGES.get(kind)
    if message is None:
        return item["msg"]
    if "expected" in ctx:
        ctx["expected"] = _choices(str(ctx["expected"]))
    try:
        return gettext(message) % ctx
    except (KeyError, TypeError, ValueError):
        return item["msg"]
