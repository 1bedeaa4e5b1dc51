"""Languages and time zones of the people reading: gettext catalogues, Babel formats.

Message ids are English; `crm/locale/<language>/LC_MESSAGES/messages.po` holds each
language's translations (`make messages` extracts the ids from the code and templates).
The catalogues are compiled in memory the first time they are used. Whoever is being
answered (a page, an API call, an email's recipient) is *active* for the code that runs on
their behalf: `gettext` and the formats below read it, so a service can raise
`Invalid.one("email", _("enter a valid email address"))` in its reader's language.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import date as day
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import structlog
from babel import Locale
from babel.dates import format_date, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations

LANGUAGES = ("ru", "en")
"""What a person may choose; English is the language of the message ids."""
SOURCE = "en"
LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"
log = structlog.get_logger("crm.i18n")


UTC_ZONE = ZoneInfo("UTC")


@dataclass(frozen=True)
class Reader:
    """Whom the code is answering: their language and time zone."""

    language: str
    zone: ZoneInfo


NOBODY = Reader(SOURCE, UTC_ZONE)
"""Code answering no one in particular (the command line, the log)."""
_reader: ContextVar[Reader | None] = ContextVar("reader", default=None)


def reader() -> Reader:
    return _reader.get() or NOBODY


@contextmanager
def reading(language: str, zone: ZoneInfo | str | None = None) -> Iterator[Reader]:
    """Code inside answers in `language` and shows times in `zone` (an email's recipient)."""
    token = _reader.set(make_reader(language, zone))
    try:
        yield reader()
    finally:
        _reader.reset(token)


def activate(language: str, zone: ZoneInfo | str | None = None) -> None:
    """The rest of this task (one page or API request) answers in `language`, in `zone`."""
    _reader.set(make_reader(language, zone))


def make_reader(language: str, zone: ZoneInfo | str | None = None) -> Reader:
    if isinstance(zone, str):
        zone = ZoneInfo(zone)
    return Reader(language if language in LANGUAGES else SOURCE, zone or UTC_ZONE)


@dataclass(frozen=True)
class Catalogue:
    translations: Translations
    known: frozenset[str]
    """Message ids with a translation; a lookup of any other id is logged as missing."""


@functools.cache
def catalogue(language: str) -> Catalogue | None:
    """The compiled catalogue of `language` (None for English, the language of the ids)."""
    if language == SOURCE:
        return None
    with (LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as po:
        catalog = read_po(po, locale=language, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    known = frozenset(
        str(message.id[0] if isinstance(message.id, (tuple, list)) else message.id)
        for message in catalog
        if message.id
        and not message.fuzzy
        and (all(message.string) if isinstance(message.string, tuple) else message.string)
    )
    return Catalogue(Translations(compiled, domain=DOMAIN), known)


def _translations(message: str) -> Translations | None:
    found = catalogue(reader().language)
    if found is None:
        return None
    if message not in found.known:
        log.warning("translation_missing", language=reader().language, msgid=message)
        return None
    return found.translations


def gettext(message: str) -> str:
    """`message` in the active language."""
    translations = _translations(message)
    return message if translations is None else translations.gettext(message)


def ngettext(singular: str, plural: str, number: int) -> str:
    """The form of `singular`/`plural` for `number` in the active language (Russian has 3)."""
    translations = _translations(singular)
    if translations is None:
        return singular if number == 1 else plural
    return translations.ngettext(singular, plural, number)


def N_(message: str) -> str:
    """Marks a message id for extraction; translate it where it is shown, with `gettext`."""
    return message


def negotiate(accept_language: str, default: str) -> str:
    """The best of LANGUAGES for an Accept-Language header, or `default`."""
    weighted: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept_language.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        primary = tag.strip().split("-")[0].lower()
        if primary in LANGUAGES and quality > 0:
            weighted.append((-quality, position, primary))
    return min(weighted)[2] if weighted else default


def zone_or_none(name: str | None) -> ZoneInfo | None:
    """The zone of an IANA name ('Europe/Moscow'), or None for an unknown one."""
    if not name or name not in available_zones():
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


@functools.cache
def available_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def local(moment: datetime) -> datetime:
    """`moment` on the reader's clock."""
    return moment.astimezone(reader().zone)


def today(now: datetime) -> datetime:
    """The start of the reader's day holding `now`, as an aware datetime in their zone."""
    here = local(now)
    return here.replace(hour=0, minute=0, second=0, microsecond=0)


def when(moment: datetime | None, now: datetime | None = None) -> str:
    """'today, 14:05', 'yesterday, 09:30' or '3 Mar 2025, 14:05', on the reader's clock."""
    if moment is None:
        return "—"
    language = reader().language
    here = local(moment)
    day = local(now or datetime.now(UTC)).date()
    clock = format_time(here, "HH:mm", locale=language)
    if here.date() == day:
        return gettext("today, %(time)s") % {"time": clock}
    if here.date() == day - timedelta(days=1):
        return gettext("yesterday, %(time)s") % {"time": clock}
    return f"{format_date(here.date(), 'd MMM y', locale=language)}, {clock}"


def date(moment: datetime | day | None) -> str:
    """'3 Mar 2025' (a moment on the reader's clock; a calendar day as it is), or '—'."""
    if moment is None:
        return "—"
    when_ = local(moment).date() if isinstance(moment, datetime) else moment
    return format_date(when_, "d MMM y", locale=reader().language)


def number(value: int | float) -> str:
    """12,345 in English, 12 345 in Russian."""
    return format_decimal(value, locale=reader().language)


def duration(seconds: int | None) -> str:
    """'1 min 35 s', '42 s', or '—' when nothing was said."""
    if not seconds:
        return "—"
    minutes, rest = divmod(int(seconds), 60)
    if minutes:
        return gettext("%(minutes)d min %(seconds)d s") % {"minutes": minutes, "seconds": rest}
    return gettext("%(seconds)d s") % {"seconds": rest}


def language_name(language: str) -> str:
    """A language as its own speakers write it: 'Русский', 'English'."""
    return (Locale.parse(language).get_display_name(language) or language).capitalize()


def zone_label(moment: datetime | None = None) -> str:
    """The reader's zone as a hover text says it: 'Europe/Moscow (UTC+03:00)'."""
    zone = reader().zone
    offset = (moment or datetime.now(UTC)).astimezone(zone).strftime("%z")
    return f"{zone.key} (UTC{offset[:3]}:{offset[3:]})"


def moment(at: datetime) -> str:
    """'3 Mar 2025, 14:05, Europe/Moscow (UTC+03:00)': a time in a letter, on the reader's
    clock with the zone named, since a letter may be read anywhere."""
    return f"{date(at)}, {local(at):%H:%M}, {zone_label(at)}"
