"""What the letters to the admins share: a moment as their reader reads it."""

from __future__ import annotations

from datetime import datetime

from crm import i18n


def moment(at: datetime) -> str:
    """'3 Mar 2025, 14:05, Europe/Moscow (UTC+03:00)': a time in a letter, on the clock of
    its reader (`i18n.reading`), with the zone named since the letter may be read anywhere."""
    return f"{i18n.date(at)}, {i18n.local(at):%H:%M}, {i18n.zone_label(at)}"
