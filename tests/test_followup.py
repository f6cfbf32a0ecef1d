"""The opt-in follow-up over the Bot API server on loopback: a real Application polling over HTTP,
a real SQLite file, a settable clock for the follow-ups (the weekly batch is run as its job runs
it). The resident opts in, is asked in the weekly batch, answers into counters only; the row is
gone, /forget removes it, 14 days is the most a row lives, and no file holds the chat id."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot import followup
from bot.config import Settings, load_settings
from bot.engine import Engine
from bot.followup import FollowUps
from bot.guide import Guide, Resident
from bot.i18n import LANGUAGES, Catalogs
from bot.privacy import ResidentKey
from bot.services import Services
from bot.stats import IsoWeek, to_csv, to_json, to_table, weekly_report
from bot.storage import Storage
from bot.telegram import build_application
from bot.telegram import followups as face
from bot.telegram.context import GuideApplication
from tests.botapi import Resident as Person
from tests.conftest import TOKEN
from tests.e2e_helpers import (
    RecordingBotAPI,
    _data,
    _menu_message,
    _press,
    assert_nothing_personal,
    polling,
)

COPENHAGEN = ZoneInfo("Europe/Copenhagen")
pytestmark = pytest.mark.timeout(120)


class Clock:
    """A settable clock for the follow-ups."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, days: int) -> None:
        self.now += dt.timedelta(days=days)


@pytest.fixture
async def botapi() -> AsyncIterator[RecordingBotAPI]:
    async with RecordingBotAPI(token=TOKEN) as server:
        yield server


@pytest.fixture
def clock() -> Clock:
    """Tuesday 1 December 2026, 14:00 in Copenhagen."""
    return Clock(dt.datetime(2026, 12, 1, 14, 0, tzinfo=COPENHAGEN))


@pytest.fixture
async def bot(
    botapi: RecordingBotAPI,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    engine: Engine,
    clock: Clock,
) -> AsyncIterator[GuideApplication]:
    """The Telegram face polling the loopback Bot API over HTTP, on a database in tmp_path."""
    monkeypatch.chdir(tmp_path)
    settings = load_settings(
        telegram_bot_token=TOKEN,
        telegram_api_url=botapi.url,
        bot_database=tmp_path / "data" / "bot.sqlite3",
    )
    services = await Services.open(settings)
    services.followups.clock = clock
    application = build_application(settings, engine, services, rate_limit=False)
    async with polling(application, services) as running:
        yield running


def rows(settings: Settings, query: str) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(settings.bot_database)
    try:
        return db.execute(query).fetchall()
    finally:
        db.close()


async def to_card(botapi: RecordingBotAPI, person: Person, language: str = "da") -> dict:
    """/start, a language, the parent counselling card."""
    botapi.push_message(person, "/start")
    await botapi.wait_for(lambda: botapi.last_message(person.id))
    await _press(botapi, person, "lang:" + language)
    await _press(botapi, person, "foraeldre")
    return await _press(botapi, person, "@familieraadgivning")


async def edit_by(botapi: RecordingBotAPI, person: Person, data: str) -> dict:
    """Press data on the resident's latest message with buttons; return that message edited."""
    message = _menu_message(botapi, person)
    before = len(botapi.calls_to("editMessageText"))
    botapi.push_callback(person, message["message_id"], data)
    await botapi.wait_for(lambda: len(botapi.calls_to("editMessageText")) > before)
    edited = botapi.message(person.id, message["message_id"])
    assert edited is not None
    return edited


async def press_again(botapi: RecordingBotAPI, person: Person, message_id: int, data: str) -> None:
    """Press data on a message (maybe edited since); return once the bot tried to edit it."""
    before = len(botapi.calls_to("editMessageText"))
    botapi.push_callback(person, message_id, data)
    await botapi.wait_for(lambda: len(botapi.calls_to("editMessageText")) > before)


def buttons(message: dict) -> list[str]:
    markup = message.get("reply_markup") or {"inline_keyboard": []}
    return [b["callback_data"] for row in markup["inline_keyboard"] for b in row if "url" not in b]


def opt_in_data(message: dict) -> str:
    (data,) = [d for d in buttons(message) if Engine.parse(d)[0].startswith("fu:in:")]
    return data


async def test_opt_in_weekly_question_answer_counted_and_row_gone(
    bot: GuideApplication, botapi: RecordingBotAPI, engine: Engine, clock: Clock
) -> None:
    """A resident opts in (twice: one row), the weekly batch asks a week later, the answer is
    counted once (a repeated and a forged press count nothing), the row is gone, a blocked
    resident counts as asked and not answered, and no file holds a chat id."""
    settings = bot.parts.settings
    hodan = Person(7_410_000_001, "Hodan", "hodan_fu", "so")
    card = await to_card(botapi, hodan)
    assert card["text"] == engine.card("familieraadgivning", "da").text
    offer = opt_in_data(card)
    assert Engine.parse(offer) == ("fu:in:familieraadgivning", "uddannelse")

    confirmed = await edit_by(botapi, hodan, offer)
    assert confirmed["text"].startswith(engine.card("familieraadgivning", "da").text)
    assert "krypteret" in confirmed["text"]
    assert not [d for d in buttons(confirmed) if "fu:" in d]
    await press_again(botapi, hodan, confirmed["message_id"], offer)  # from an old copy
    kept = rows(settings, "SELECT resident, service, goal, due FROM followups")
    assert [(service, goal, due) for _r, service, goal, due in kept] == [
        ("familieraadgivning", "uddannelse", "2026-12-08")
    ]

    # A second resident opts in and blocks the bot before the question.
    omar = Person(7_410_000_002, "Omar", "omar_fu", "ar")
    await edit_by(botapi, omar, opt_in_data(await to_card(botapi, omar)))
    botapi.block(omar.id)

    clock.advance(6)  # Monday 7 December: not yet a week
    assert await face.send_questions(bot) == 0
    assert len(rows(settings, "SELECT * FROM followups")) == 2
    clock.advance(7)  # Monday 14 December, the batch's day
    assert await face.send_questions(bot) == 1
    assert rows(settings, "SELECT * FROM followups") == []
    question = botapi.last_message(hodan.id)
    assert question is not None
    name = engine.catalogs["da"].gettext(engine.content.services["familieraadgivning"].name)
    assert name in question["text"]
    targets = [Engine.parse(d)[0] for d in buttons(question)]
    assert targets == [f"fu:{a}:familieraadgivning" for a in ("y", "n", "c", "s")]

    answered = await edit_by(botapi, hodan, _data(question, "fu:y:familieraadgivning"))
    assert answered["message_id"] == question["message_id"]
    assert not [d for d in buttons(answered) if "fu:" in d]  # the answers are gone
    # The same answer again (a double tap) and forged answers count nothing more.
    yes = _data(question, "fu:y:familieraadgivning")
    for data in (yes, "v000000:fu:y:no-such-service~uddannelse", "v000000:fu:y:mentor~tryghed"):
        await press_again(botapi, hodan, answered["message_id"], data)
    assert botapi.last_message(hodan.id)["text"] == engine.updated("da").text  # type: ignore[index]
    await bot.parts.services.storage.flush()
    assert sorted(
        rows(settings, "SELECT week, goal, service, outcome, n FROM followup_counts")
    ) == [
        ("2026-W51", "uddannelse", "familieraadgivning", "asked", 2),
        ("2026-W51", "uddannelse", "familieraadgivning", "reached", 1),
    ]

    files = [p for p in settings.bot_database.parent.iterdir() if p.is_file()]
    assert {p.name for p in files} >= {"bot.sqlite3", "bot.secret"}
    assert_nothing_personal(files, botapi.history)


async def test_forget_removes_pending_followups(
    bot: GuideApplication, botapi: RecordingBotAPI, engine: Engine
) -> None:
    """/forget deletes the resident's pending follow-ups and no one else's."""
    settings = bot.parts.settings
    amina, yusuf = Person(7_410_000_011, "Amina", None, "da"), Person(7_410_000_012, "Yusuf")
    for person in (amina, yusuf):
        await edit_by(botapi, person, opt_in_data(await to_card(botapi, person)))
    assert len(rows(settings, "SELECT * FROM followups")) == 2
    before = len(botapi.messages_to(amina.id))
    botapi.push_message(amina, "/forget")
    await botapi.wait_for(lambda: len(botapi.messages_to(amina.id)) > before)
    assert len(rows(settings, "SELECT * FROM followups")) == 1
    followups = bot.parts.guide.followups
    assert followups is not None
    week_later = followups.today() + dt.timedelta(days=7)
    followups.clock = lambda: dt.datetime.combine(week_later, dt.time(10), tzinfo=COPENHAGEN)
    assert await face.send_questions(bot) == 1
    due = followup.Due(f"tg:{yusuf.id}", "familieraadgivning", "uddannelse")
    assert botapi.last_message(yusuf.id)["text"] == followup.question(engine, due, "da").text  # type: ignore[index]
    assert botapi.last_message(amina.id)["text"] == engine.forgotten("da").text  # type: ignore[index]


def test_the_weekly_job_runs_at_the_set_hour(bot: GuideApplication) -> None:
    """One job, on BOT_FOLLOWUP_AT's weekday and time in BOT_TIMEZONE; the purge runs daily."""
    queue = bot.job_queue
    assert queue is not None
    (job,) = queue.get_jobs_by_name(face.JOB_NAME)
    next_run = job.next_t
    assert next_run is not None
    local = next_run.astimezone(COPENHAGEN)
    assert (local.weekday(), local.time()) == (0, dt.time(10, 0))
    (purge,) = queue.get_jobs_by_name(face.PURGE_JOB)
    assert purge.next_t is not None


# -- the rules without Telegram ----------------------------------------------------------------


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[Storage]:
    opened = await Storage.open(tmp_path / "bot.sqlite3")
    try:
        yield opened
    finally:
        await opened.close()


@pytest.mark.parametrize("pressed", range(7))
async def test_a_row_never_outlives_14_days(storage: Storage, pressed: int) -> None:
    """Pressed on any weekday, a row is asked in the first batch at least 7 days later; with the
    bot down on that batch's day, the daily purge deletes it 14 days after the press."""
    for down in (False, True):
        clock = Clock(dt.datetime(2026, 11, 30, 16, 0, tzinfo=COPENHAGEN) + dt.timedelta(pressed))
        followups = FollowUps(storage, b"k" * 32, COPENHAGEN, clock)
        await followups.opt_in("tg:1", "beskaeftigelsesmentor", "arbejde")
        asked_on, skipped = None, False
        for day in range(1, 22):
            clock.advance(1)
            await followups.purge()  # every night
            if clock().weekday() == 0:  # the batch, Mondays
                if down and day >= 7 and not skipped:
                    skipped = True  # the bot was down during the batch that would ask it
                elif await followups.take_due():
                    asked_on = day
            if not await storage.followups():
                break
        assert 7 <= day <= 14, (pressed, down, day)
        assert asked_on == (None if down else day), (pressed, down)


async def test_a_copy_of_the_database_alone_names_no_one(storage: Storage, tmp_path: Path) -> None:
    """The resident is encrypted under a key derived from .secret (not the key itself), with a
    nonce per row: two rows of one resident differ, another key opens nothing, pressing again
    for one service keeps one row."""
    key = ResidentKey.from_file(tmp_path / "bot.secret")
    assert key.derive(followup.KEY_INFO) != bytes.fromhex((tmp_path / "bot.secret").read_text())
    followups = FollowUps.under(storage, key, COPENHAGEN)
    mentor, leisure = ("beskaeftigelsesmentor", "arbejde"), ("fritidsjob-hjaelp", "arbejde")
    for service, goal in (mentor, mentor, leisure):
        await followups.opt_in("tg:987654321", service, goal)
    kept = await storage.followups()
    assert len(kept) == 2
    assert kept[0][0][12:-16] != kept[1][0][12:-16]  # one plaintext, two nonces
    data = (tmp_path / "bot.sqlite3").read_bytes()
    assert b"987654321" not in data
    assert (987654321).to_bytes(8, "big") not in data
    stranger = FollowUps(storage, ResidentKey.random().derive(followup.KEY_INFO), COPENHAGEN)
    assert await stranger.forget("tg:987654321") == 0
    assert await followups.forget("tg:987654321") == 2


async def test_the_web_chat_offers_no_followup(
    engine: Engine, storage: Storage, tmp_path: Path
) -> None:
    """Only the face that can write later offers the button; the emergency cards never do."""
    from bot.residents import Residents

    key = ResidentKey.from_file(tmp_path / "bot.secret")
    residents = Residents(storage, key, COPENHAGEN)
    guide = Guide(engine, residents, "da", followups=FollowUps.under(storage, key, COPENHAGEN))

    class Memory:
        async def language(self, resident: str) -> str | None:
            return "da"

        async def choose(self, resident: str, language: str) -> None: ...

        async def forget(self, resident: str) -> None: ...

    card = engine.data("@beskaeftigelsesmentor", "mentor")
    telegram = await guide.press(Resident("tg:1"), card)
    web = await guide.with_memory(Memory()).press(Resident("web:x"), card)
    assert any("fu:in:" in b.data for row in telegram.buttons for b in row)
    assert not any("fu:" in b.data for row in web.buttons for b in row)
    emergency = await guide.press(Resident("tg:1"), engine.data("@alarm-112", "tryghed.numbers"))
    assert emergency.referral is not None
    assert not any("fu:" in b.data for row in emergency.buttons for b in row)


async def test_privacy_describes_the_followup_in_every_language(
    engine: Engine, storage: Storage, catalogs: Catalogs
) -> None:
    """/privacy quotes the button, says encrypted and 14 days, in all seven languages, and what
    a stolen key opens of it."""
    from bot.residents import Residents

    guide = Guide(engine, Residents(storage, ResidentKey.random(), COPENHAGEN), "da")
    english = ""
    for language in LANGUAGES:
        reply = await guide.command(Resident("tg:5", language), "privacy")
        tr = catalogs[language]
        button = tr.gettext(followup.OFFER).removeprefix("🔔 ")
        assert tr.bidi(button) in reply.text or button in reply.text, language
        assert "14" in reply.text, language
        if language == "en":
            english = button
            # What a stolen database and key still open: the pending questions.
            assert "secret key could read these waiting questions" in reply.text
    for language in LANGUAGES:
        if language != "en":
            assert catalogs[language].gettext(followup.OFFER) != f"🔔 {english}", language


async def test_the_report_shows_outcomes_with_suppression(
    storage: Storage, content: Any, catalogs: Catalogs
) -> None:
    """Over months: cards shown exact, asked, answered and got in touch suppressed like other
    counts of residents, as "n answered of m asked" in the table, and in CSV and JSON."""
    day = dt.date(2026, 11, 10)
    for _ in range(12):
        await storage.count_referral(day, "uddannelse", "familieraadgivning")
    for _ in range(3):
        await storage.count_referral(day, "arbejde", "beskaeftigelsesmentor")
    counts = {
        ("uddannelse", "familieraadgivning"): {"asked": 12, "reached": 8, "not_yet": 2, "stop": 1},
        ("arbejde", "beskaeftigelsesmentor"): {"asked": 3, "reached": 2},
        ("arbejde", "fritidsjob-hjaelp"): {"asked": 7, "reached": 5, "not_yet": 1},
    }
    for (goal, service), outcomes in counts.items():
        for outcome, n in outcomes.items():
            for _ in range(n):
                await storage.count_followup("2026-W46", goal, service, outcome)
    await storage.count_followup("2026-W30", "arbejde", "beskaeftigelsesmentor", "asked")  # July
    report = await weekly_report(storage, content, "Europe/Copenhagen", [IsoWeek(2026, 49)])
    assert report.followups is not None
    assert (report.followups.first, report.followups.last) == ("2026-10", "2026-12")

    table = to_table(report, catalogs["en"])
    assert "Follow-up questions, 2026-10/2026-12" in table
    lines = {line.split("(")[0].strip(): line for line in table.splitlines() if "(" in line}
    # One small cell in a column hides a second one (x): a known total must not reveal it.
    parents = lines["Familierådgivning"]
    assert "11 answered of 12 asked" in parents
    assert parents.split()[-1] == "8"
    mentor = lines["Beskæftigelsesmentor"]
    assert "<5 answered of <5 asked" in mentor
    assert mentor.split()[-1] == "<5"
    assert " 3 " in mentor  # cards shown are exact
    leisure = lines["Fritidsjob-hjælp"]
    assert "x answered of x asked" in leisure
    assert leisure.split()[-1] == "x"

    csv_lines = to_csv(report).splitlines()
    period = "2026-10/2026-12"
    assert f"{period},followup_asked,uddannelse/familieraadgivning,12," in csv_lines
    assert f"{period},followup_answered,uddannelse/familieraadgivning,11," in csv_lines
    assert f"{period},followup_got_in_touch,uddannelse/familieraadgivning,8," in csv_lines
    assert f"{period},followup_asked,arbejde/beskaeftigelsesmentor,<5," in csv_lines
    assert f"{period},followup_asked,arbejde/fritidsjob-hjaelp,x," in csv_lines
    assert f"{period},followup_cards_shown,arbejde/beskaeftigelsesmentor,3," in csv_lines

    data = json.loads(to_json(report))["followups"]
    by_service = {row["service"]: row for row in data["rows"]}
    assert by_service["familieraadgivning"]["summary"] == "11 answered of 12 asked"
    assert by_service["beskaeftigelsesmentor"] | {"summary": ""} == {
        "goal": "arbejde",
        "service": "beskaeftigelsesmentor",
        "cards_shown": 3,
        "asked": "<5",
        "answered": "<5",
        "got_in_touch": "<5",
        "summary": "",
    }


async def test_each_answer_counts_its_outcome_once(
    engine: Engine, storage: Storage, tmp_path: Path
) -> None:
    """Not yet offers the card one tap away, the card again is the card (counted as a card
    shown), stop asking says so; each answer counts once per resident and week."""
    from bot.residents import Residents

    key = ResidentKey.from_file(tmp_path / "bot.secret")
    clock = Clock(dt.datetime(2026, 12, 14, 10, 0, tzinfo=COPENHAGEN))
    followups = FollowUps(storage, key.derive(followup.KEY_INFO), COPENHAGEN, clock)
    guide = Guide(engine, Residents(storage, key, COPENHAGEN), "da", followups=followups)
    due = followup.Due("tg:1", "beskaeftigelsesmentor", "arbejde")
    question = followup.question(engine, due, "da")
    answers = {
        Engine.parse(b.data)[0].split(":")[1]: b.data for row in question.buttons for b in row
    }
    assert sorted(answers) == ["c", "n", "s", "y"]

    not_yet = await guide.press(Resident("tg:1"), answers["n"])
    assert next(b.data for row in not_yet.buttons for b in row) == engine.data(
        "@beskaeftigelsesmentor"
    )
    card = await guide.press(Resident("tg:2"), answers["c"])
    assert card.text == engine.card("beskaeftigelsesmentor", "da").text
    assert card.referral is not None
    stop = await guide.press(Resident("tg:3"), answers["s"])
    assert stop.text == engine.catalogs["da"].gettext("All right, I will not ask again.")
    again = await guide.press(Resident("tg:3"), answers["y"])  # the same resident, same week
    assert not any("fu:" in b.data for row in (*not_yet.buttons, *stop.buttons) for b in row)
    assert again.screen == "fu:y"
    counted = {row[3]: row[4] for row in await storage.followup_counts()}
    assert counted == {"not_yet": 1, "card": 1, "stop": 1}
    shown = await storage.referrals(dt.date(2000, 1, 1), dt.date(2100, 1, 1))
    assert [(goal, service, n) for _day, goal, service, n in shown] == [
        ("arbejde", "beskaeftigelsesmentor", 1)
    ]


def test_stats_command_prints_followups_over_months(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`vollsmose-bot stats --months 6` reads the follow-ups of six months, in every format."""
    import argparse
    import asyncio

    from bot.stats import add_arguments, run_cli

    database = tmp_path / "bot.sqlite3"

    async def fill() -> None:
        storage = await Storage.open(database)
        for week, outcome, n in (("2026-W28", "asked", 6), ("2026-W28", "reached", 5)):
            for _ in range(n):
                await storage.count_followup(week, "uddannelse", "familieraadgivning", outcome)
        await storage.close()

    asyncio.run(fill())
    settings = load_settings(bot_database=database)
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    now = dt.datetime(2026, 12, 2, 12, 0, tzinfo=COPENHAGEN)
    assert run_cli(settings, parser.parse_args(["--language", "en"]), now) == 0
    assert "Follow-up questions" not in capsys.readouterr().out  # July is not in the last 3
    assert run_cli(settings, parser.parse_args(["--months", "6", "--language", "en"]), now) == 0
    assert "5 answered of 6 asked" in capsys.readouterr().out
    assert run_cli(settings, parser.parse_args(["--months", "6", "--format", "json"]), now) == 0
    (row,) = json.loads(capsys.readouterr().out)["followups"]["rows"]
    assert (row["asked"], row["answered"], row["got_in_touch"]) == (6, 5, 5)
    assert run_cli(settings, parser.parse_args(["--months", "6", "--format", "csv"]), now) == 0
    assert (
        "2026-07/2026-12,followup_asked,uddannelse/familieraadgivning,6," in capsys.readouterr().out
    )
    assert parser.parse_args(["--months", "6"]).months == 6
    with pytest.raises(SystemExit):
        parser.parse_args(["--months", "0"])


def test_every_followup_button_fits_telegram(engine: Engine) -> None:
    """Every opt-in and answer button of every service and goal fits Telegram's 64 bytes and
    reads back as itself."""
    for service_id, service in engine.content.services.items():
        for goal in service.goals:
            for action in (followup.OPT_IN, *followup.ANSWERS):
                data = followup.data(engine, action, service_id, goal)
                assert len(data.encode()) <= 64, data
                assert followup.parse(engine, data) == followup.Action(action, service_id, goal)


def test_a_wrong_followup_time_names_the_setting() -> None:
    from bot.config import ConfigError

    with pytest.raises(ConfigError, match=r"^BOT_FOLLOWUP_AT: 'monday 25:00' is not a weekday"):
        load_settings(bot_followup_at="monday 25:00")
    settings = load_settings(bot_followup_at="Fri 9:30")
    assert (settings.followup_weekday, settings.followup_time.hour) == (4, 9)
