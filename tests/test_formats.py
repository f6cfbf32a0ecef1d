"""Times and dates on contact cards: a 24-hour clock in every language, and weekdays and dates
written the way the resident's language writes them."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest

from bot.content import Content
from bot.engine import Engine
from bot.i18n import LANGUAGES, Catalogs

COPENHAGEN = ZoneInfo("Europe/Copenhagen")
# Thursday 26 November 2026, 20:00: the fritidsjob team next opens on Monday 30 November, 14:00.
EVENING = dt.datetime(2026, 11, 26, 20, 0, tzinfo=COPENHAGEN)


@pytest.fixture(scope="module")
def evening(content: Content, catalogs: Catalogs) -> Engine:
    return Engine(content, catalogs, COPENHAGEN, lambda: EVENING)


@pytest.mark.parametrize(
    ("language", "written"),
    [
        ("da", "mandag den 30. november"),
        ("en", "Monday, November 30"),
        ("tr", "30 Kasım Pazartesi"),
        ("so", "Isniin, Noofeembar 30"),
        ("ar", "الاثنين، 30 نوفمبر"),
    ],
)
def test_next_opening_names_the_day_in_the_residents_language(
    evening: Engine, language: str, written: str
) -> None:
    text = (
        evening.card("fritidsjob-hjaelp", language).text.replace("\u2066", "").replace("\u2069", "")
    )
    [closed] = [line for line in text.splitlines() if line.startswith("🔴")]
    assert written in closed
    assert str(EVENING.year) not in closed  # the next opening is within two weeks


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_language_keeps_a_24_hour_clock(evening: Engine, language: str) -> None:
    """Opening hours and the next opening read as on the service's door: 14:00, never 2 PM."""
    text = evening.card("fritidsjob-hjaelp", language).text
    assert re.search(r"14[.:]00", text), language
    assert re.search(r"17[.:]00", text), language
    assert not re.search(r"\b(AM|PM|am|pm)\b|\bص\b|\bم\b", text), language
