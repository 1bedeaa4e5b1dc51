"""The blacklist's fields as pages name them."""

from __future__ import annotations

from collections.abc import Sequence

WORDS = {
    "first_name": "first name",
    "last_name": "last name",
    "street": "street",
    "house": "house / flat",
    "city": "city",
    "postal_code": "postal code",
    "email": "email",
    "ip": "IP address",
    "phone": "phone",
}
"""Each field as a sentence names it, in the order of `normalize.FIELDS`."""
LABELS = {field: words[:1].upper() + words[1:] for field, words in WORDS.items()}
"""As a form labels it: "First name", "IP address"."""


def named(fields: Sequence[str]) -> str:
    """'email' or 'last name, city': the fields as a sentence names them."""
    return ", ".join(WORDS[field] for field in fields)
