"""What the CRM pages share beyond crm.web: rendering with a notice, page numbers, filters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from aiohttp_session import get_session

from crm.errors import Invalid
from crm.pagination import Page, clamp

NOTICE = "notice"


def setup_pages(app: web.Application) -> None:
    """Template filters for dates, durations and enum labels."""
    env = aiohttp_jinja2.get_env(app)
    env.filters.update(when=when, iso=iso, duration=duration, label=label)
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
    "missing": "fill this in",
    "empty": "fill this in",
    "int_parsing": "choose one from the list",
}


def field_errors(invalid: Invalid) -> dict[str, str]:
    """Errors keyed by form field: an item of a list field counts as the field itself."""
    errors: dict[str, str] = {}
    for key, message in invalid.errors.items():
        reworded = _REWORDED.get(invalid.kinds.get(key, ""), message)
        errors.setdefault(key.split(".")[0], reworded)
    return errors


def int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def when(moment: datetime | None, now: datetime | None = None) -> str:
    """'today, 14:05', 'yesterday, 09:30' or '3 Mar 2025, 14:05' (UTC)."""
    if moment is None:
        return "—"
    today = (now or datetime.now(UTC)).date()
    clock = moment.strftime("%H:%M")
    if moment.date() == today:
        return f"today, {clock}"
    if moment.date() == today - timedelta(days=1):
        return f"yesterday, {clock}"
    return f"{moment.day} {moment.strftime('%b %Y')}, {clock}"


def iso(moment: datetime | None) -> str:
    return moment.isoformat(timespec="seconds") if moment else ""


def duration(seconds: int | None) -> str:
    """'1 min 35 s', '42 s', or '—' when nothing was said."""
    if not seconds:
        return "—"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"


def label(value: Any) -> str:
    """An enum value as words: 'client_no_answer' -> 'client no answer'."""
    return "—" if value is None else str(value).replace("_", " ")


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
