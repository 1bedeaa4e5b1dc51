"""Catalogues and formats: complete translations, Russian plurals, the reader's clock."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po

from crm import i18n
from crm.enums import CallOutcome, Role
from crm.labels import WORDS
from crm.outbox.models import OutboxStatus
from crm.signup.models import CodeStatus
from crm.signup.service import code_message
from tests.logcapture import captured_logs, log_events

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")


def extracted_ids() -> dict[str, tuple[str, ...]]:
    """Every message id in the CRM's code and templates, as `make messages` extracts them."""
    method_map = [("crm/**.py", "python"), ("crm/templates/**.html", "jinja2")]
    options = {"crm/templates/**.html": {"trimmed": "true"}}
    found: dict[str, tuple[str, ...]] = {}
    for _filename, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options, keywords={**DEFAULT_KEYWORDS, "N_": None}
    ):
        ids = message if isinstance(message, tuple) else (message,)
        found[ids[0]] = ids
    return found


def russian() -> dict[str, tuple[str, ...]]:
    with (i18n.LOCALE_DIR / "ru" / "LC_MESSAGES" / "messages.po").open("rb") as po:
        catalog = read_po(po, locale="ru")
    found: dict[str, tuple[str, ...]] = {}
    for message in catalog:
        if not message.id or message.fuzzy:
            continue
        key = message.id[0] if isinstance(message.id, (tuple, list)) else message.id
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        found[str(key)] = tuple(str(one or "") for one in strings)
    return found


def test_every_message_of_code_and_templates_has_a_russian_translation():
    catalogue = russian()
    ids = extracted_ids()
    assert len(ids) > 50
    untranslated = [key for key in ids if not all(catalogue.get(key, ("",)))]
    assert not untranslated, f"run `make messages` and translate: {untranslated}"


def test_translations_keep_the_placeholders_of_their_ids():
    catalogue = russian()
    for key, ids in extracted_ids().items():
        wanted = set().union(*(PLACEHOLDER.findall(one) for one in ids))
        for form in catalogue.get(key, ()):
            if len(ids) == 1:
                assert set(PLACEHOLDER.findall(form)) == wanted, (key, form)
            else:
                assert set(PLACEHOLDER.findall(form)) <= wanted, (key, form)


def test_russian_plurals_take_the_form_of_one_few_and_many():
    plurals = [forms for forms in russian().values() if len(forms) == 3]
    assert plurals, "the catalogue has plural messages"
    singular, plural = "%(num)d call", "%(num)d calls"
    with i18n.reading("ru"):
        said = {n: i18n.ngettext(singular, plural, n) % {"num": n} for n in (1, 2, 5, 21, 11, 0)}
    assert said == {
        1: "1 звонок",
        2: "2 звонка",
        5: "5 звонков",
        21: "21 звонок",
        11: "11 звонков",
        0: "0 звонков",
    }
    with i18n.reading("en"):
        assert i18n.ngettext(singular, plural, 1) == "%(num)d call"
        assert i18n.ngettext(singular, plural, 21) == "%(num)d calls"


def test_an_unknown_id_is_answered_as_itself_and_logged_as_missing():
    with captured_logs(level="warning") as stream, i18n.reading("ru"):
        assert i18n.gettext("A sentence nobody translated") == "A sentence nobody translated"
    missing = [e for e in log_events(stream) if e["event"] == "translation_missing"]
    assert [e["msgid"] for e in missing] == ["A sentence nobody translated"]


def test_reading_puts_the_previous_reader_back():
    with i18n.reading("ru", "Europe/Moscow"):
        with i18n.reading("en", "Asia/Vladivostok"):
            assert i18n.reader().language == "en"
        assert i18n.reader() == i18n.Reader("ru", i18n.ZoneInfo("Europe/Moscow"))
    assert i18n.reader() == i18n.NOBODY


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("ru-RU,ru;q=0.9,en-US;q=0.8,en;q=0.7", "ru"),
        ("en-US,en;q=0.9,ru;q=0.8", "en"),
        ("de-DE,de;q=0.9,en;q=0.5", "en"),
        ("de-DE,fr", "ru"),
        ("en;q=0,ru", "ru"),
        ("en;q=0.2,ru;q=0.8", "ru"),
        ("en;q=abc", "ru"),
        ("", "ru"),
        ("*", "ru"),
    ],
)
def test_accept_language_picks_the_best_known_language(header, language):
    assert i18n.negotiate(header, "ru") == language


def test_today_is_counted_on_the_readers_clock():
    now = datetime(2026, 12, 1, 22, 0, tzinfo=UTC)  # 01:00 on 2 December in Moscow
    late = datetime(2026, 12, 1, 21, 30, tzinfo=UTC)  # 00:30 on 2 December in Moscow
    evening = datetime(2026, 12, 1, 20, 30, tzinfo=UTC)  # 23:30 on 1 December in Moscow
    with i18n.reading("ru", "Europe/Moscow"):
        assert i18n.when(late, now) == "сегодня, 00:30"
        assert i18n.when(evening, now) == "вчера, 23:30"
        assert i18n.when(datetime(2025, 3, 3, 11, 5, tzinfo=UTC), now) == "3 мар. 2025, 14:05"
        assert i18n.date(late) == "2 дек. 2026"
    with i18n.reading("en", "UTC"):
        assert i18n.when(late, now) == "today, 21:30"
        assert i18n.when(evening, now) == "today, 20:30"
        assert i18n.when(datetime(2025, 3, 3, 11, 5, tzinfo=UTC), now) == "3 Mar 2025, 11:05"


def test_numbers_and_durations_read_as_each_language_writes_them():
    with i18n.reading("ru"):
        assert i18n.number(1234567) == "1\xa0234\xa0567"
        assert i18n.duration(95) == "1 мин 35 с"
        assert i18n.duration(42) == "42 с"
    with i18n.reading("en"):
        assert i18n.number(1234567) == "1,234,567"
        assert i18n.duration(95) == "1 min 35 s"
    assert i18n.duration(0) == "—"


def test_every_status_a_page_labels_has_words():
    for enum in (CallOutcome, CodeStatus, OutboxStatus, Role):
        for value in enum:
            assert value in WORDS, value


def test_the_zone_label_names_the_offset():
    with i18n.reading("ru", "Europe/Moscow"):
        assert i18n.zone_label(datetime(2026, 12, 1, tzinfo=UTC)) == "Europe/Moscow (UTC+03:00)"
    with i18n.reading("en", "Asia/Kolkata"):
        assert i18n.zone_label(datetime(2026, 12, 1, tzinfo=UTC)) == "Asia/Kolkata (UTC+05:30)"


@pytest.mark.parametrize("minutes", [1, 2, 5, 10, 21, 30, 60])
def test_a_sign_up_code_fits_one_text_message_in_either_language(minutes):
    with i18n.reading("ru"):
        russian_text = code_message("123456", minutes)
    with i18n.reading("en"):
        english_text = code_message("123456", minutes)
    assert "123456" in russian_text and len(russian_text) <= 70, russian_text
    assert english_text.isascii() and len(english_text) <= 160, english_text
    if minutes == 21:
        assert "21 минуту" in russian_text
