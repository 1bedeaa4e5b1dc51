"""Searching what people typed, in any alphabet: text folded the same way when it is kept
and when it is looked for, so «Казань» finds «казань» on SQLite as on PostgreSQL.

SQLite's LIKE folds only Latin letters, PostgreSQL's is case-sensitive; a column of folded
text searched with a folded term behaves the same on both.
"""

from __future__ import annotations

import unicodedata

SEPARATOR = "\n"
"""Between the fields of one record: a folded term has no line breaks, so a match never
runs from one field into the next."""


def fold(value: str | None) -> str:
    """Letters in any case, spaces collapsed, `ё` as `е`, combining marks composed."""
    if not value:
        return ""
    words = unicodedata.normalize("NFC", value).split()
    return " ".join(words).casefold().replace("ё", "е")


def folded(*values: str | None) -> str:
    """The search text of a record's fields."""
    return SEPARATOR.join(part for part in (fold(value) for value in values) if part)
