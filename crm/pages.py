"""What the CRM pages share beyond crm.web: rendering with a notice, page numbers, filters."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from aiohttp_session import get_session

from crm import i18n
from crm.errors import Invalid
from crm.i18n import N_, gettext
from crm.pagination import Page, clamp
from ivr.logging import hide_path_secrets

NOTICE = "notice"


def setup_pages(app: web.Application) -> None:
    """Template filters for dates and durations (on the reader's clock), numbers and labels."""
    env = aiohttp_jinja2.get_env(app)
    env.filters.update(
        when=i18n.when,
        date=i18n.date,
        iso=iso,
        duration=i18n.duration,
        label=label,
        number=i18n.number,
        when_zone=i18n.zone_label,
        hide_secrets=hide_path_secrets,
    )
    env.globals.update(page_window=page_window)


async def render(
    request: web.Request, template: str, context: dict[str, Any], *, status: int = 200
) -> web.Response:
    """A page with the one-time notice left by the previous action, if any."""
    session = await get_session(request)
    notice = session.pop(NOTICE, None)
    return aiohttp_jinja2.render_template(
        template, request, {NOTICE: notice, **context}, status=status
    )


async def flash(request: web.Request, message: str) -> None:
    """A notice shown once on the next page (after a redirect)."""
    (await get_session(request))[NOTICE] = message


def page_arg(request: web.Request) -> int:
    return clamp(request.query.get("page"))[0]


# What a validator says of an empty or unchosen field, in the words of a person filling a form.
_REWORDED = {
    "missing": N_("fill this in"),
    "empty": N_("fill this in"),
    "int_parsing": N_("choose one from the list"),
}


def field_errors(invalid: Invalid) -> dict[str, str]:
    """Errors keyed by form field: an item of a list field counts as the field itself."""
    errors: dict[str, str] = {}
    for key, message in invalid.errors.items():
        kind = invalid.kinds.get(key, "")
        reworded = gettext(_REWORDED[kind]) if kind in _REWORDED else message
        errors.setdefault(key.split(".")[0], reworded)
    return errors


def int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def iso(moment: datetime | None) -> str:
    return moment.isoformat(timespec="seconds") if moment else ""


def label(value: Any) -> str:
    """An enum value as words in the reader's language: 'client_no_answer' -> 'client no
    answer' (the words are message ids, listed in crm/labels.py)."""
    return "—" if value is None else gettext(str(value).replace("_", " "))


def page_window(items: Page, around: int = 2) -> list[int | None]:
    """Page numbers to link, None where a gap is skipped: 1 … 4 5 [6] 7 8 … 20."""
    shown = {1, items.pages, *range(items.page - around, items.page + around + 1)}
    numbers = sorted(n for n in shown if 1 <= n <= items.pages)
    window: list[int | None] = []
    for number in numbers:
        if window and number - (window[-1] or 0) > 1:
            window.append(None)
        window.append(number)
    return window
