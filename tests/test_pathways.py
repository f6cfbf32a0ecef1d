"""The content as a resident meets it: the right figures per age, cards under the right goal,
opening hours that say when a service opens next, deep links, and the strict launch check."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import subprocess
import sys
from collections import deque
from zoneinfo import ZoneInfo

import pytest
from telegram.ext import Application

from bot.config import REPOSITORY, Settings
from bot.content import Content
from bot.engine import Engine, Reply
from bot.i18n import LANGUAGES, Catalogs

COPENHAGEN = ZoneInfo("Europe/Copenhagen")
DOMAIN_SOURCE = "arbejdstilsynet.dk"


def _english(content: Content, tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """An engine that shows the English source texts, the ones DOMAIN.md's figures are in."""
    return Engine(content, Catalogs(tmp_path_factory.mktemp("english")))


# Each age band's screen against ../shared/DOMAIN.md ("Young people and work").
FRITIDSJOB_BANDS = [
    ("fritidsjob.under13", ["may as a rule not work for an employer", "with a permit"]),
    (
        "fritidsjob.age13",
        [
            "School day: at most 2 hours",
            "Day without school: at most 7 hours",
            "Week with school: at most 12 hours",
            "Week without school: at most 35 hours",
            "No work between 20:00 and 06:00",
            "at least 14 hours in a row",
            "2 days off in a row",
            "at least 30 minutes if you work more than 4.5 hours",
        ],
    ),
    (
        "fritidsjob.age15school",
        [
            "School day: at most 2 hours",
            "Day without school: at most 8 hours",
            "Week with school: at most 12 hours",
            "Week without school: at most 40 hours",
            "No work between 20:00 and 06:00",
            "at least 14 hours in a row",
        ],
    ),
    (
        "fritidsjob.age15done",
        [
            "at most 8 hours a day and 40 hours a week",
            "at least 12 hours in a row",
            "Shops, offices, petrol stations: until 22:00",
            "Hotels, restaurants, cinemas and similar: until 24:00",
            "Bakeries: from 04:00",
            "Newspaper delivery: from 05:00",
        ],
    ),
    (
        "fritidsjob.age13.work",
        ["1 January 2025", "weekdays 18:00-06:00, weekends and holidays 14:00-06:00"],
    ),
]


@pytest.mark.parametrize(("screen", "facts"), FRITIDSJOB_BANDS)
def test_fritidsjob_band_states_the_rules_for_that_age(
    content: Content, tmp_path_factory: pytest.TempPathFactory, screen: str, facts: list[str]
) -> None:
    """A 13-year-old and a 16-year-old who finished school each get their own hours."""
    text = _english(content, tmp_path_factory).screen(screen, "en").text
    for fact in facts:
        assert fact in text


@pytest.mark.parametrize(
    "screen", ["fritidsjob.age13", "fritidsjob.age15school", "fritidsjob.age15done"]
)
def test_rules_screens_show_source_and_last_checked_date(engine: Engine, screen: str) -> None:
    """The legal figures carry their source link and the date they were last checked."""
    source = engine.content.screens[screen].source
    assert source is not None
    assert DOMAIN_SOURCE in source.url
    for language in ("da", "ar", "en"):
        text = engine.screen(screen, language).text
        assert source.url in text
        assert str(source.checked.year) in text


def _cards_from(engine: Engine, start: str) -> list[Reply]:
    """Every contact card reachable by pressing buttons from a screen, breadth-first."""
    seen, cards, queue = {start}, [], deque([engine.data(start)])
    while queue:
        reply = engine.press(queue.popleft(), "en")
        if reply.referral is not None:
            cards.append(reply)
            continue
        for row in reply.buttons:
            for button in row:
                target = engine.parse(button.data)[0]
                if target not in seen and target != engine.content.start:
                    seen.add(target)
                    queue.append(button.data)
    return cards


@pytest.mark.parametrize("pathway", ["foraeldre", "mentor", "fritidsjob", "foreninger", "tryghed"])
def test_each_pathway_reaches_a_card_counted_under_its_goal(engine: Engine, pathway: str) -> None:
    """From each pathway a resident reaches contact cards, and one counts under its goal."""
    cards = _cards_from(engine, pathway)
    goal = engine.content.pathways[pathway].goal
    assert cards
    assert goal in {card.referral.goal for card in cards if card.referral}


def test_every_card_renders_in_every_language(engine: Engine) -> None:
    """Every directory entry's card renders in all seven languages with its phone number."""
    for service_id, service in engine.content.services.items():
        for language in LANGUAGES:
            card = engine.card(service_id, language)
            assert card.referral is not None
            if service.phone:
                assert service.phone in card.text


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # Thursday 26 November 2026, 15:30: inside Thursday's 15:00-18:00.
        (dt.datetime(2026, 11, 26, 15, 30), "Open now, until 18:00."),
        # Thursday evening: next opening is Monday 30 November at 14:00.
        (dt.datetime(2026, 11, 26, 20, 0), "Closed now. Opens Monday, November 30 at 14:00."),
        # Monday morning: later today.
        (dt.datetime(2026, 11, 30, 9, 0), "Closed now. Opens today at 14:00."),
        # Second Christmas Day falls on a Saturday; Christmas Eve (Thursday) is an ordinary day.
        (dt.datetime(2026, 12, 24, 19, 0), "Closed now. Opens Monday, December 28 at 14:00."),
        # Easter Monday 2026 (6 April) is a holiday: Wednesday is next.
        (dt.datetime(2026, 4, 5, 12, 0), "Closed now. Opens Wednesday, April 8 at 14:00."),
    ],
)
def test_card_says_when_the_service_opens_next(
    content: Content, tmp_path_factory: pytest.TempPathFactory, now: dt.datetime, expected: str
) -> None:
    """Outside opening hours the card says when it opens next, holidays taken into account."""
    hours = content.services["fritidsjob-hjaelp"].hours
    assert set(hours) == {"mon", "wed", "thu"}, "the test assumes the shipped sample hours"
    clock = now.replace(tzinfo=COPENHAGEN)
    engine = Engine(content, Catalogs(tmp_path_factory.mktemp("en")), COPENHAGEN, lambda: clock)
    assert expected in engine.card("fritidsjob-hjaelp", "en").text


def test_emergency_numbers_are_one_tap_from_every_screen(engine: Engine) -> None:
    """Every screen but the emergency screen itself, the main menu too, has a button to the
    emergency numbers, whose Back returns to that screen."""
    emergency = engine.content.emergency
    assert emergency is not None
    for screen_id in engine.content.screens:
        if screen_id == emergency.screen:
            continue
        buttons = [b.data for row in engine.screen(screen_id, "so").buttons for b in row]
        sos = [data for data in buttons if engine.parse(data)[0] == emergency.screen]
        assert sos, screen_id
        back = [b.data for b in engine.press(sos[-1], "so").buttons[-1]]
        if screen_id == engine.content.start:
            assert engine.data(screen_id) in back
        else:
            assert engine.parse(back[0])[0] == screen_id, screen_id
    numbers = [engine.content.services[s].phone for s in ("alarm-112", "politi-114")]
    assert numbers == ["112", "114"]


async def test_deep_link_sources_are_counted(
    app: Application, settings: Settings, engine: Engine
) -> None:
    """/start library counts under library, an unknown payload under other, once a day each."""
    from tests.conftest import Updates

    first, second = Updates(app.bot, user_id=9001), Updates(app.bot, user_id=9002)
    for update in (
        first.message("/start library"),
        first.message("/start library"),
        second.message("/start library"),
        second.message("/start x-unknown-flyer"),
    ):
        await app.process_update(update)
    db = sqlite3.connect(settings.bot_database)
    rows = db.execute("SELECT key, n FROM usage WHERE dimension = 'source' ORDER BY key")
    assert rows.fetchall() == [("library", 2), ("other", 1)]
    db.close()
    assert engine.source("library") == "library"


def test_strict_check_names_every_sample_entry(content: Content) -> None:
    """`check --strict` fails and names each entry whose contact details are not confirmed."""
    env = dict(os.environ)
    run = subprocess.run(
        [sys.executable, "-m", "bot", "check", "--strict"],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPOSITORY,
        timeout=120,
        check=False,
    )
    assert run.returncode == 1
    samples = [sid for sid, service in content.services.items() if service.sample]
    assert samples
    for service_id in samples:
        assert f"{service_id}: sample entry" in run.stderr
