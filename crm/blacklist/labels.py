"""The blacklist's fields as pages name them (message ids: translate them where shown)."""

from __future__ import annotations

from collections.abc import Sequence

from crm.i18n import N_, gettext

WORDS = {
    "first_name": N_("first name"),
    "last_name": N_("last name"),
    "street": N_("street"),
    "house": N_("house / flat"),
    "city": N_("city"),
    "postal_code": N_("postal code"),
    "email": N_("email"),
    "ip": N_("IP address"),
    "phone": N_("phone"),
}
"""Each field as a sentence names it, in the order of `normalize.FIELDS`."""
LABELS = {
    "first_name": N_("First name"),
    "last_name": N_("Last name"),
    "street": N_("Street"),
    "house": N_("House / flat"),
    "city": N_("City"),
    "postal_code": N_("Postal code"),
    "email": N_("Email"),
    "ip": N_("IP address"),
    "phone": N_("Phone"),
}
"""As a form labels it: "First name", "IP address" (English ids; `labels()` translates)."""


def labels() -> dict[str, str]:
    """LABELS in the reader's language."""
    return {field: gettext(words) for field, words in LABELS.items()}


def named(fields: Sequence[str]) -> str:
    """'email' or 'last name, city': the fields as a sentence names them, translated."""
    return ", ".join(gettext(WORDS[field]) for field in fields)
