"""Call-back requests end to end: a real Application polling the fake Bot API over loopback, real
SQLite files, the web chat over real HTTP, and an injected clock for expiry, caps and the 7 days."""

from __future__ import annotations

import datetime as dt
import logging
import re
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, CookieJar

from bot.callback import CallBacks, parse_phone
from bot.config import Settings, load_settings
from bot.engine import Engine
from bot.guide import Guide, Resident
from bot.i18n import LANGUAGES, Catalogs
from bot.logs import RedactingFormatter
from bot.services import Services
from bot.stats import IsoWeek, to_csv, to_json, to_table, weekly_report
from bot.telegram import build_application
from bot.telegram import callback as telegram_callback
from bot.telegram.context import GuideApplication
from bot.web import WebChat, start
from tests import e2e_helpers
from tests.botapi import Json
from tests.botapi import Resident as User
from tests.conftest import TOKEN
from tests.e2e_helpers import Personal, RecordingBotAPI, botapi, find_personal

__all__ = ["botapi"]

pytestmark = pytest.mark.timeout(120)

STAFF_CHAT = -100777
STAFF = User(4242, "Birgitte", "birgitte_staff")
NUMBER = "+45 20 30 40 50"  # as the bot writes it
# Every way the number could be written down somewhere.
NUMBER_FORMS = ("+45 20 30 40 50", "4520304050", "20304050", "20 30 40 50", "+4520304050")


class Clock:
    """A settable clock for the call-backs (expiry, caps, the 7 days)."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 12, 2, 10, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


@contextmanager
def bot_log(path: Path) -> Iterator[None]:
    """The bot's log at DEBUG (as `run` sets it up) written to a file, for the privacy audit."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level, logging.getLogger("bot").level
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(RedactingFormatter("%(levelname)s %(name)s: %(message)s", TOKEN))
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    logging.getLogger("bot").setLevel(logging.DEBUG)
    try:
        yield
    finally:
        handler.close()
        root.handlers[:], root.level = saved[0], saved[1]
        logging.getLogger("bot").setLevel(saved[2])


def callback_settings(tmp_path: Path, api_url: str, **extra: Any) -> Settings:
    return load_settings(
        telegram_bot_token=TOKEN,
        telegram_api_url=api_url,
        bot_database=tmp_path / "data" / "bot.sqlite3",
        bot_staff_ids=str(STAFF.id),
        bot_staff_chat_id=STAFF_CHAT,
        **extra,
    )


@asynccontextmanager
async def polling(
    settings: Settings, engine: Engine, clock: Clock
) -> AsyncIterator[GuideApplication]:
    """`run` in this process: the Application long-polling the Bot API server over HTTP."""
    services = await Services.open(settings)
    application = build_application(settings, engine, services, rate_limit=False)
    assert application.parts.guide.callbacks is not None
    application.parts.guide.callbacks.clock = clock
    async with e2e_helpers.polling(application, services) as running:
        yield running


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def bot(
    botapi: RecordingBotAPI, tmp_path: Path, engine: Engine, clock: Clock
) -> AsyncIterator[GuideApplication]:
    with bot_log(tmp_path / "bot.log"):
        async with polling(callback_settings(tmp_path, botapi.url), engine, clock) as app:
            yield app


def callbacks_of(app: GuideApplication) -> CallBacks:
    callbacks = app.parts.guide.callbacks
    assert callbacks is not None
    return callbacks


# -- pressing through the steps -------------------------------------------------------------------


def buttons(message: Json) -> list[tuple[str, str]]:
    """(label, target) of every inline button of a message."""
    markup = message.get("reply_markup") or {}
    return [
        (b["text"], Engine.parse(b.get("callback_data"))[0])
        for row in markup.get("inline_keyboard", [])
        for b in row
    ]


def latest_with_buttons(botapi: RecordingBotAPI, chat_id: int) -> Json:
    for snapshot in reversed(botapi.messages_to(chat_id)):
        if "reply_markup" in snapshot:
            current = botapi.message(chat_id, snapshot["message_id"])
            assert current is not None
            return current
    raise AssertionError("no message with buttons")


async def press(botapi: RecordingBotAPI, user: User, target: str) -> Json:
    """Press the button leading to target (a prefix is enough) on the latest message with
    buttons; return the bot's next message (sent or edited)."""
    message = latest_with_buttons(botapi, user.id)
    for button in message["reply_markup"]["inline_keyboard"]:
        for b in button:
            if "callback_data" in b and Engine.parse(b["callback_data"])[0].startswith(target):
                count = len(botapi.messages_to(user.id))
                botapi.push_callback(user, message["message_id"], b["callback_data"])
                # The first answer that is not a card's venue pin (it may come late).
                return await botapi.wait_for(lambda n=count: answer(botapi, user, n))
    raise AssertionError(f"no button to {target} in {buttons(message)}")


def answer(botapi: RecordingBotAPI, user: User, count: int) -> Json | None:
    """The first message sent or edited after the first `count`, leaving out venue pins."""
    return next((m for m in botapi.messages_to(user.id)[count:] if "venue" not in m), None)


async def say(botapi: RecordingBotAPI, user: User, text: str, count: int = 1) -> list[Json]:
    """Send text; return the bot's next `count` messages, leaving out venue pins (the pin of
    the card before may come late: counted, it was taken for the answer)."""
    before = len(botapi.messages_to(user.id))
    botapi.push_message(user, text)

    def said() -> list[Json]:
        return [m for m in botapi.messages_to(user.id)[before:] if "venue" not in m]

    await botapi.wait_for(lambda: len(said()) >= count)
    return said()


async def to_phone_step(botapi: RecordingBotAPI, user: User, interpreter: str = "none") -> Json:
    """/menu, the fritidsjob pathway's card, the call-back button, topic and interpreter."""
    await say(botapi, user, "/menu")
    await press(botapi, user, "fritidsjob")
    await press(botapi, user, "fritidsjob.age13")
    await press(botapi, user, "@fritidsjob-hjaelp")
    await press(botapi, user, "call")
    await press(botapi, user, "call.topic:")
    return await press(botapi, user, "call.lang:" + interpreter)


async def send_request(botapi: RecordingBotAPI, user: User, number: str = "20 30 40 50") -> Json:
    """Go through every step and press Send; return the resident's answer."""
    await to_phone_step(botapi, user)
    await say(botapi, user, number, count=2)
    return await press(botapi, user, "call.send")


def staff_messages(botapi: RecordingBotAPI) -> list[Json]:
    """The current state of every call-back request in the staff chat (not the weekly report)."""
    ids = dict.fromkeys(m["message_id"] for m in botapi.messages_to(STAFF_CHAT))
    current = [botapi.message(STAFF_CHAT, i) for i in ids]
    return [m for m in current if m is not None and m.get("text", "").startswith("📞")]


def rows(database: Path, query: str) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(database)
    try:
        return db.execute(query).fetchall()
    finally:
        db.close()


def audit(tmp_path: Path, botapi: RecordingBotAPI) -> None:
    """No phone number, resident or staff id, name or typed text in any file the bot wrote (the
    database, its journal, the key) or in its log."""
    personal = Personal()
    personal.collect(botapi.history)
    personal.texts.update(NUMBER_FORMS)
    files = [p for p in (tmp_path / "data").iterdir() if p.is_file()] + [tmp_path / "bot.log"]
    assert len(files) >= 3  # database, journal, key and the log
    found = find_personal(files, personal)
    assert not found, "personal data on disk:\n" + "\n".join(found)


# -- Telegram -------------------------------------------------------------------------------------


async def test_a_request_reaches_the_staff_chat_and_done_removes_the_number(
    botapi: RecordingBotAPI, bot: GuideApplication, engine: Engine, tmp_path: Path
) -> None:
    """From a fritidsjob card (topic preselected) with an Arabic interpreter and a shared contact,
    one message reaches the staff chat; Done takes the number out of it; nothing is on disk."""
    hodan = User(5550101, "Hodan", "hodan_call", "da")
    menu = (await say(botapi, hodan, "/menu"))[0]
    assert ("📞 Bed om at blive ringet op", "call") in buttons(menu)
    await press(botapi, hodan, "fritidsjob")
    await press(botapi, hodan, "fritidsjob.age13")
    card = await press(botapi, hodan, "@fritidsjob-hjaelp")
    assert ("📞 Bed om at blive ringet op", "call:fritidsjob") in buttons(card)
    topics = await press(botapi, hodan, "call")
    assert buttons(topics)[0] == ("✓ Fritidsjob", "call.topic:fritidsjob")
    await press(botapi, hodan, "call.topic:fritidsjob")
    phone_step = await press(botapi, hodan, "call.lang:ar")
    assert "telefonnummer" in phone_step["text"]
    keyboard = botapi.calls_to("sendMessage")[-1].params["reply_markup"]["keyboard"]
    assert keyboard[0][0]["request_contact"] is True

    before = len(botapi.messages_to(hodan.id))
    botapi.push_contact(hodan, "4520304050")
    await botapi.wait_for(lambda: len(botapi.messages_to(hodan.id)) >= before + 2)
    _notice, confirm = botapi.messages_to(hodan.id)[before : before + 2]
    assert "remove_keyboard" in botapi.calls_to("sendMessage")[-2].params["reply_markup"]
    assert NUMBER in confirm["text"]
    assert "Fritidsjob" in confirm["text"]
    assert "arabisk" in confirm["text"]
    assert "personales chat" in confirm["text"]  # told to whom it goes, before it goes

    sent = await press(botapi, hodan, "call.send")
    assert "sendt" in sent["text"]
    [request] = staff_messages(botapi)
    assert NUMBER in request["text"]
    assert "arabisk" in request["text"]
    assert "Flere i arbejde" in request["text"]
    [(label, data)] = [
        (b["text"], b["callback_data"])
        for r in request["reply_markup"]["inline_keyboard"]
        for b in r
    ]
    assert label == "✅ Færdig"
    database = tmp_path / "data" / "bot.sqlite3"
    assert rows(database, "SELECT message_id FROM callback_scrubs") == [(request["message_id"],)]

    botapi.push_callback(STAFF, request["message_id"], data, chat_id=STAFF_CHAT)
    await botapi.wait_for(lambda: "reply_markup" not in staff_messages(botapi)[0])
    [done] = staff_messages(botapi)
    assert not any(form in done["text"] for form in NUMBER_FORMS)
    assert "Fritidsjob" in done["text"]
    assert "✅" in done["text"]
    await botapi.wait_for(lambda: not rows(database, "SELECT * FROM callback_scrubs"))
    counts = rows(database, "SELECT dimension, key, n FROM usage WHERE dimension LIKE 'callback%'")
    assert sorted(counts) == [("callback_goal", "arbejde", 1), ("callback_interpreter", "ar", 1)]
    audit(tmp_path, botapi)


async def test_seven_days_without_done_scrub_the_number(
    botapi: RecordingBotAPI, bot: GuideApplication, clock: Clock, tmp_path: Path
) -> None:
    """A typed number (a wrong one first, answered kindly and not repeated); six days later the
    number is still there for staff, after seven it is gone, with the row that said so."""
    amina = User(5550102, "Amina", "amina_call", "en")
    await to_phone_step(botapi, amina)
    [wrong] = await say(botapi, amina, "12 34")
    assert "does not look like a phone number" in wrong["text"]
    assert "12 34" not in wrong["text"]
    await say(botapi, amina, "20304050", count=2)
    await press(botapi, amina, "call.send")
    [request] = staff_messages(botapi)
    assert NUMBER in request["text"]

    clock.now += dt.timedelta(days=6)
    await telegram_callback.scrub(bot)
    assert NUMBER in staff_messages(botapi)[0]["text"]
    clock.now += dt.timedelta(days=1)
    await telegram_callback.scrub(bot)
    [scrubbed] = staff_messages(botapi)
    assert not any(form in scrubbed["text"] for form in NUMBER_FORMS)
    assert "7" in scrubbed["text"]
    assert "reply_markup" not in scrubbed
    assert not rows(tmp_path / "data" / "bot.sqlite3", "SELECT * FROM callback_scrubs")
    audit(tmp_path, botapi)


async def test_the_caps_answer_kindly_with_a_number_to_phone(
    botapi: RecordingBotAPI, tmp_path: Path, engine: Engine, clock: Clock
) -> None:
    """One open request per resident, a daily cap per resident, an hourly cap for everyone: each
    answered with a kind sentence and a contact card to phone; an hour later it works again."""
    settings = callback_settings(
        tmp_path, botapi.url, bot_callback_daily_limit=1, bot_callback_hourly_limit=2
    )
    hodan, yusuf, mette = (User(5550110 + i, n, None, "en") for i, n in enumerate("HYM"))
    with bot_log(tmp_path / "bot.log"):
        async with polling(settings, engine, clock):
            await send_request(botapi, hodan)
            again = await press(botapi, hodan, "call")
            assert "Staff already have your request" in again["text"]
            assert "+45 65 00 00" in again["text"]  # a card with a number to phone

            [request] = staff_messages(botapi)
            done = request["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
            botapi.push_callback(STAFF, request["message_id"], done, chat_id=STAFF_CHAT)
            database = tmp_path / "data" / "bot.sqlite3"
            await botapi.wait_for(lambda: not rows(database, "SELECT * FROM callback_scrubs"))
            await say(botapi, hodan, "/menu")
            daily = await press(botapi, hodan, "call")
            assert "as often as the bot allows in one day" in daily["text"]
            assert "+45 65 00 00" in daily["text"]

            await send_request(botapi, yusuf, "+45 20 30 40 51")
            await say(botapi, mette, "/menu")
            hourly = await press(botapi, mette, "call")
            assert "in the last hour" in hourly["text"]
            assert "+45 65 00 00" in hourly["text"]

            clock.now += dt.timedelta(minutes=61)
            await say(botapi, mette, "/menu")
            topics = await press(botapi, mette, "call")
            assert "What should the call be about?" in topics["text"]
    assert len(staff_messages(botapi)) == 2


async def test_an_unreachable_staff_chat_gives_the_resident_the_numbers(
    botapi: RecordingBotAPI, bot: GuideApplication, tmp_path: Path
) -> None:
    """The bot was removed from the staff chat: the operator reads one plain sentence, the
    resident is asked to phone and shown the numbers; nothing is counted or kept."""
    botapi.forbid(STAFF_CHAT)
    mette = User(5550120, "Mette", "mette_call", "en")
    answer = await send_request(botapi, mette)
    assert "could not be passed on" in answer["text"]
    assert "☎️ +45 65 00 00 01" in answer["text"]  # the fritidsjob team's card
    assert not callbacks_of(bot).waiting_for_phone(f"tg:{mette.id}")
    log = (tmp_path / "bot.log").read_text()
    lines = [line for line in log.splitlines() if "BOT_STAFF_CHAT_ID" in line]
    assert len(lines) == 1, log
    assert "removed" in lines[0]
    assert "Traceback" not in log
    database = tmp_path / "data" / "bot.sqlite3"
    assert not rows(database, "SELECT * FROM callback_scrubs")
    assert not rows(database, "SELECT * FROM usage WHERE dimension LIKE 'callback%'")
    audit(tmp_path, botapi)


async def test_a_forged_done_outside_the_staff_chat_does_nothing(
    botapi: RecordingBotAPI, bot: GuideApplication, tmp_path: Path
) -> None:
    """Done's data pressed in a resident's chat is an unknown button there: the request in the
    staff chat keeps its number and its row."""
    hodan = User(5550130, "Hodan", None, "en")
    await send_request(botapi, hodan)
    [request] = staff_messages(botapi)
    done = request["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    message = latest_with_buttons(botapi, hodan.id)
    botapi.push_callback(hodan, message["message_id"], done)
    await botapi.wait_for(
        lambda: "updated" in (botapi.last_message(hodan.id) or {}).get("text", "")
    )
    assert NUMBER in staff_messages(botapi)[0]["text"]
    assert rows(tmp_path / "data" / "bot.sqlite3", "SELECT count(*) FROM callback_scrubs") == [(1,)]


async def test_a_pending_request_expires_and_leaving_it_forgets_it(
    botapi: RecordingBotAPI, bot: GuideApplication, clock: Clock
) -> None:
    """A request left at the phone step is forgotten after its minutes, and at once when the
    resident goes elsewhere (the phone keyboard is taken away with a word)."""
    yusuf = User(5550140, "Yusuf", None, "en")
    resident = f"tg:{yusuf.id}"
    callbacks = callbacks_of(bot)
    await to_phone_step(botapi, yusuf)
    assert callbacks.waiting_for_phone(resident)
    clock.now += dt.timedelta(minutes=16)
    assert not callbacks.waiting_for_phone(resident)
    [menu] = await say(botapi, yusuf, "20 30 40 50")  # now just typed text, read as a question
    assert NUMBER not in menu["text"]

    await to_phone_step(botapi, yusuf)
    notice, _menu = await say(botapi, yusuf, "/menu", count=2)
    assert "not sent" in notice["text"]
    assert "remove_keyboard" in botapi.calls_to("sendMessage")[-2].params["reply_markup"]
    assert not callbacks.waiting_for_phone(resident)


async def test_privacy_describes_the_call_back_in_every_language(
    botapi: RecordingBotAPI, bot: GuideApplication, catalogs: Catalogs
) -> None:
    """/privacy says where the number goes and when it is removed, translated in all seven."""
    guide = bot.parts.guide
    paragraphs = set()
    for language in LANGUAGES:
        reply = await guide.command(Resident(f"tg:{language}", language), "privacy")
        paragraph = callbacks_of(bot).privacy(catalogs[language])
        assert catalogs[language].bidi(paragraph) in reply.text
        assert "7" in paragraph
        paragraphs.add(paragraph)
    assert len(paragraphs) == len(LANGUAGES), "a language shows the English text"
    danish = User(5550150, "Mette", None, "da")
    [shown] = await say(botapi, danish, "/privacy")
    assert "telefonnummer" in shown["text"]


async def test_no_staff_chat_no_button(
    botapi: RecordingBotAPI, tmp_path: Path, engine: Engine, clock: Clock
) -> None:
    """Without BOT_STAFF_CHAT_ID neither the menu nor a card offers a call."""
    settings = load_settings(
        telegram_bot_token=TOKEN,
        telegram_api_url=botapi.url,
        bot_database=tmp_path / "data" / "bot.sqlite3",
    )
    services = await Services.open(settings)
    try:
        application = build_application(settings, engine, services, rate_limit=False)
        guide = application.parts.guide
        assert guide.callbacks is None
        menu = await guide.command(Resident("tg:1", "en"), "menu")
        card = await guide.press(Resident("tg:1", "en"), engine.data("@fritidsjob-hjaelp"))
        for reply in (menu, card):
            assert not any(
                Engine.parse(b.data)[0].startswith("call") for r in reply.buttons for b in r
            )
    finally:
        await services.close()


# -- the web chat --------------------------------------------------------------------------------


def _web_buttons(html: str) -> dict[str, str]:
    return {
        Engine.parse(unescape(value))[0]: unescape(value)
        for value in re.findall(r'<button type="submit" name="b" value="([^"]*)"', html)
    }


async def test_the_web_chat_sends_a_request_from_its_phone_field(
    botapi: RecordingBotAPI, bot: GuideApplication, tmp_path: Path, engine: Engine
) -> None:
    """The web face on the same call-backs: the phone step is a form field; a bad number gets a
    kind answer, a Turkish one is summed up and, sent, reaches the staff chat."""
    settings = bot.parts.settings
    services = bot.parts.services
    guide = Guide(engine, services.residents, "da", callbacks=bot.parts.guide.callbacks)
    runner = await start(WebChat(settings, guide), "127.0.0.1", 0)
    port = runner.addresses[0][1]
    try:
        async with ClientSession(
            base_url=f"http://127.0.0.1:{port}", cookie_jar=CookieJar(unsafe=True)
        ) as client:

            async def post(html: str, **fields: str) -> str:
                token = re.search(r'name="t" value="([^"]+)"', html)
                assert token
                async with client.post("/", data={"t": token.group(1), **fields}) as response:
                    assert response.status == 200
                    return await response.text()

            async def tap(html: str, target: str) -> str:
                data = next(v for t, v in _web_buttons(html).items() if t.startswith(target))
                return await post(html, b=data)

            async with client.get("/") as response:
                page = await response.text()
            page = await tap(page, "lang:en")
            page = await tap(page, "call")
            assert "What should the call be about?" in unescape(page)
            page = await tap(page, "call.topic:hverdag")
            page = await tap(page, "call.lang:tr")
            assert 'type="tel"' in page
            assert 'name="p"' in page
            assert "call.share" not in str(_web_buttons(page))
            assert 'name="q"' not in page  # the question field gives way to the phone field
            page = await post(page, p="not a number")
            assert "does not look like a phone number" in unescape(page)
            page = await post(page, p="+90 532 123 45 67")
            assert "+90 532 123 45 67" in page
            assert "Turkish" in unescape(page)
            page = await tap(page, "call.send")
            assert "Your request was sent" in unescape(page)
    finally:
        await runner.cleanup()
    [request] = staff_messages(botapi)
    assert "+90 532 123 45 67" in request["text"]
    assert "tyrkisk" in request["text"]
    audit(tmp_path, botapi)


# -- the report and the number itself -------------------------------------------------------------


async def test_the_report_counts_call_backs_with_suppression(
    services: Services, engine: Engine, catalogs: Catalogs
) -> None:
    """Per week, requests by goal and by interpreter language, small counts hidden as for other
    attributes of residents, in the table, CSV and JSON."""
    storage = services.storage
    day = dt.date(2026, 11, 30)
    for goal, n in (("arbejde", 9), ("tryghed", 6), ("uddannelse", 2)):
        for _ in range(n):
            await storage.count_usage(day, "callback_goal", goal)
    for code, n in (("none", 8), ("ar", 3), ("so", 6)):
        for _ in range(n):
            await storage.count_usage(day, "callback_interpreter", code)
    week = IsoWeek.containing(day)
    report = await weekly_report(storage, engine.content, "Europe/Copenhagen", [week], 5)
    [data] = __import__("json").loads(to_json(report))["weeks"]
    assert data["callbacks"] == {
        "goals": {"tryghed": "x", "uddannelse": "<5", "arbejde": 9},
        "interpreters": {"none": 8, "ar": "<5", "so": "x"},
    }
    csv = to_csv(report)
    assert f"{week},callback_goal,uddannelse,<5," in csv
    assert f"{week},callback_goal,tryghed,x," in csv
    assert f"{week},callback_interpreter,ar,<5," in csv
    table = to_table(report, catalogs["en"])
    assert re.search(r"Call-back requests\s+Count", table)
    assert re.search(r"More people in work\s+9", table) or "9" in table
    assert re.search(r"Arabic\s+<5", table)
    assert re.search(r"No interpreter\s+8", table)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("20 30 40 50", NUMBER),
        ("20304050", NUMBER),
        ("+45 20 30 40 50", NUMBER),
        ("0045 2030 4050", NUMBER),
        ("4520304050", NUMBER),  # as Telegram shares a contact
        ("+90 532 123 45 67", "+90 532 123 45 67"),
        ("+252 61 234 5678", "+252 61 234 5678"),
        ("12 34", None),
        ("hello", None),
        ("", None),
        ("2030405", None),
    ],
)
def test_phone_numbers_are_read_kindly(typed: str, expected: str | None) -> None:
    assert parse_phone(typed) == expected


async def test_a_web_page_with_a_number_is_not_shown_after_the_request_expired(
    botapi: RecordingBotAPI, bot: GuideApplication, engine: Engine, clock: Clock
) -> None:
    """Reloaded after the request's minutes, the summary page no longer holds the number."""
    guide = Guide(engine, bot.parts.services.residents, "da", callbacks=bot.parts.guide.callbacks)
    runner = await start(WebChat(bot.parts.settings, guide), "127.0.0.1", 0)
    try:
        async with ClientSession(
            base_url=f"http://127.0.0.1:{runner.addresses[0][1]}",
            cookie_jar=CookieJar(unsafe=True),
        ) as client:
            page = ""

            async def post(**fields: str) -> str:
                token = re.search(r'name="t" value="([^"]+)"', page)
                assert token
                async with client.post("/", data={"t": token.group(1), **fields}) as response:
                    return await response.text()

            async def tap(target: str) -> str:
                data = next(v for t, v in _web_buttons(page).items() if t.startswith(target))
                return await post(b=data)

            async with client.get("/") as response:
                page = await response.text()
            for target in ("lang:en", "call", "call.topic:", "call.lang:none"):
                page = await tap(target)
            page = await post(p="20 30 40 50")
            assert NUMBER in page
            clock.now += dt.timedelta(minutes=16)
            async with client.get("/") as response:
                page = await response.text()
            assert NUMBER not in page
            assert "not finished in time" in unescape(page)
    finally:
        await runner.cleanup()
    assert not staff_messages(botapi)


async def test_a_staff_chat_id_telegram_does_not_know_is_named_in_the_log(
    botapi: RecordingBotAPI, bot: GuideApplication, tmp_path: Path
) -> None:
    """A mistyped BOT_STAFF_CHAT_ID ("chat not found"): one line naming the setting, and the
    resident gets a number to phone."""
    amina = User(5550160, "Amina", None, "en")
    await to_phone_step(botapi, amina)
    await say(botapi, amina, "20 30 40 50", count=2)
    botapi.fail_next("sendMessage", status=400, description="Bad Request: chat not found")
    answer = await press(botapi, amina, "call.send")
    assert "could not be passed on" in answer["text"]
    assert "☎️ +45 65 00 00 01" in answer["text"]
    lines = [
        line
        for line in (tmp_path / "bot.log").read_text().splitlines()
        if "BOT_STAFF_CHAT_ID" in line
    ]
    assert len(lines) == 1
    assert "no such chat" in lines[0]
    audit(tmp_path, botapi)
