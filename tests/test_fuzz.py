"""Fuzzing: thousands of generated hostile updates through the real Application.

Each test runs one Application (offline Bot API, storage on disk, the bot's own logging set-up)
and feeds it hypothesis-generated batches of updates. Per update: no error is logged, every
private message and button press is answered sensibly, nothing is posted into groups. After the
run: the database holds only counters, and no id, name, username or typed text is in the
database, its WAL or the log.
"""

from __future__ import annotations

import ast
import asyncio
import io
import itertools
import json
import logging
import os
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from telegram import Update
from telegram.ext import Application

from bot import followup
from bot.config import REPOSITORY, Settings
from bot.engine import Engine
from bot.flood import Throttle
from bot.i18n import LANGUAGES
from bot.logs import setup_logging
from bot.services import Services
from bot.telegram import build_application
from bot.telegram.offline import BOT_USER, OfflineRequest
from tests.botapi import _MEMBER_EXTRA
from tests.conftest import TOKEN
from tests.e2e_helpers import Personal, distinctive, find_personal

Json = dict[str, Any]
DATE = 1_790_000_000
STAFF_ID = 4242

# -- hostile text --------------------------------------------------------------------------------

# Right-to-left and bidi controls, zero-width characters, combining marks, control characters,
# line and paragraph separators, replacement characters.
ODD_CHARACTERS = (
    "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u061c"
    "\u200b\u200c\u200d\u2060\ufeff\u00ad"
    "\u0300\u0301\u0308\u0323\u0338\u20dd\u20e3\u0651\u064b"
    "\x00\x01\x07\x08\x1b\x7f\x85\u2028\u2029\ufffd\ufffc\t\r\n"
)
PIECES = (
    "مرحبا، أين أجد مساعدة؟",
    "שלום עולם",
    "Waxaan u baahanahay caawimaad",
    "یارمەتی کوردی",
    "Yardım lazım ığüşöç İ",
    "Z̴̡̢̛a̷̢͎l̸̨̛g̵̢̛o̶̡̧",
    "😀",
    "👨‍👩‍👧‍👦",
    "🇩🇰🇸🇴🇹🇷",
    "❤️‍🔥",
    "👍🏿",
    "🏴󠁧󠁢󠁳󠁣󠁴󠁿",
    "<b>bold</b> &amp; <a href='x'>",
    "*_`[markdown](x)`_*",
    "'; DROP TABLE referrals; --",
    "%s %d {0} {name} %(x)s",
    "\\u0000 \\n",
    "/start",
    "@vollsmose_guide_bot",
    "https://t.me/vollsmose_guide_bot?start=library",
)


def hostile_text(keywords: list[str], max_size: int = 4096) -> st.SearchStrategy[str]:
    """Unicode of every kind up to max_size characters, sometimes with words the bot knows."""
    chunk = st.one_of(
        st.text(max_size=40),
        st.text(alphabet=ODD_CHARACTERS, min_size=1, max_size=8),
        st.sampled_from(PIECES),
        st.sampled_from(keywords),
    )
    composed = st.lists(chunk, min_size=1, max_size=12).map("".join)
    # Long pastes: a generated piece repeated up to the limit (drawing 4,096 characters one by
    # one would make examples too large for hypothesis).
    paste = st.builds(
        lambda piece, size: (piece * size)[:size],
        composed.filter(bool),
        st.integers(min_value=1, max_value=max_size),
    )
    return st.one_of(composed, paste).map(lambda text: text[:max_size])


NAME = st.text(min_size=1, max_size=64)
USERNAME = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{4,31}", fullmatch=True)
LANGUAGE_CODE = st.one_of(
    st.none(),
    st.sampled_from([*LANGUAGES, "de", "ar-SA", "zh-hans", "pt-br", "", "xx", "EN", "ku-IQ"]),
    st.text(max_size=12),
)
# Canary residents: distinctive names that must never reach the disk.
CANARIES = [
    {"first_name": "Zainab Qwertyuiop", "last_name": "Xylophonesen", "username": "zainab_q_1987"},
    {"first_name": "محمد عبدالقادر", "last_name": "الصومالي", "username": "mohamed_sq_44"},
    {"first_name": "Ayşe Yıldırımoğlu", "username": "ayse_yildirim_x"},
]


@st.composite
def user(draw: st.DrawFn) -> Json:
    """A resident as Telegram describes them (never a bot; bots cannot write to bots)."""
    # Now and then the staff member of the settings fixture (BOT_STAFF_IDS=4242), for /stats.
    staff = draw(st.integers(0, 24)) == 0
    result: Json = {"id": STAFF_ID if staff else draw(st.integers(10**8, 2**52)), "is_bot": False}
    if draw(st.booleans()):
        result |= draw(st.sampled_from(CANARIES))
    else:
        result["first_name"] = draw(NAME)
        if draw(st.booleans()):
            result["last_name"] = draw(NAME)
        if draw(st.booleans()):
            result["username"] = draw(USERNAME)
    code = draw(LANGUAGE_CODE)
    if code is not None:
        result["language_code"] = code
    if draw(st.booleans()):
        result["is_premium"] = True
    return result


def private_chat(who: Json) -> Json:
    names = {k: who[k] for k in ("first_name", "last_name", "username") if k in who}
    return {"id": who["id"], "type": "private"} | names


# -- updates -------------------------------------------------------------------------------------


class Kinds:
    """Strategies for each kind of update, drawing residents from a small pool per example."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        content = engine.content
        words = {w for p in content.pathways.values() for ws in p.keywords.values() for w in ws}
        if content.crisis is not None:
            words |= {
                w for lists in content.crisis.signals.values() for ws in lists.values() for w in ws
            }
        self.keywords = sorted(words) or ["fritidsjob"]
        self.text = hostile_text(self.keywords)
        self.short_text = hostile_text(self.keywords, max_size=300)
        self.message_ids = st.integers(1, 2**31 - 1)
        # Built once: constructing strategies inside every draw would cost most of the run.
        self.data = self.callback_data()
        self.body = self.message_body()

    # Button data ---------------------------------------------------------------------------

    def targets(self) -> list[str]:
        """Every target a real button of the current content can have."""
        content = self.engine.content
        targets = [*content.screens, "lang", *(f"lang:{code}" for code in LANGUAGES)]
        targets += [f"@{service}" for service in content.services]
        directory = content.associations
        if directory is not None:
            targets.append("associations")
            for category in directory.categories:
                targets.append(f"associations.{category}")
                for age in ["all", *directory.age_groups]:
                    targets += [f"associations.{category}.{age}.{page}" for page in (0, 1, 5)]
        return targets

    def callback_data(self) -> st.SearchStrategy[str | None]:
        engine = self.engine
        version = engine.content.version
        wrong = [
            "associations.sport.youth.99",
            "associations.sport.youth.-1",
            "associations.sport.nope.0",
            "associations.nope",
            "associations.sport.youth.0.0",
            "associations.sport.youth.x",
            "associations..",
            "associations.sport.all.99999999999999999999",
            "@nope",
            "@",
            "lang:xx",
            "lang:",
            "lang:lang",
            "menu.",
            ".",
            ":",
            "v" + version,
        ]
        return st.one_of(
            st.sampled_from(self.targets()).map(engine.data),
            st.from_regex(r"[a-z0-9_.@:-]{1,60}", fullmatch=True).map(engine.data),
            st.sampled_from(wrong).map(engine.data),
            st.sampled_from(self.targets()).map(lambda t: f"v000000:{t}"),
            st.from_regex(r"v[0-9a-f]{6}:[a-z0-9_.@:-]{1,60}", fullmatch=True),
            st.text(max_size=64),
            st.text(min_size=65, max_size=1000),
            st.none(),
        )

    # Messages ------------------------------------------------------------------------------

    def media(self) -> st.SearchStrategy[Json]:
        """The fields of a message that is not plain text."""
        file = st.fixed_dictionaries(
            {"file_id": st.from_regex(r"[A-Za-z0-9_-]{10,40}", fullmatch=True),
             "file_unique_id": st.from_regex(r"[A-Za-z0-9_-]{5,16}", fullmatch=True)}
        )  # fmt: skip
        caption = st.fixed_dictionaries({}, optional={"caption": self.short_text})

        def with_file(**fields: Any) -> st.SearchStrategy[Json]:
            return st.builds(lambda f, extra: f | extra, file, st.fixed_dictionaries(fields))

        sticker = with_file(
            type=st.sampled_from(["regular", "mask", "custom_emoji"]),
            width=st.integers(1, 512), height=st.integers(1, 512),
            is_animated=st.booleans(), is_video=st.booleans(),
        ).map(lambda s: {"sticker": s})  # fmt: skip
        photo = st.builds(
            lambda sizes, extra: {"photo": sizes} | extra,
            st.lists(with_file(width=st.integers(1, 4096), height=st.integers(1, 4096)),
                     min_size=1, max_size=4),
            caption,
        )  # fmt: skip
        voice = with_file(duration=st.integers(0, 3600)).map(lambda v: {"voice": v})
        video_note = with_file(length=st.integers(1, 640), duration=st.integers(0, 60)).map(
            lambda v: {"video_note": v}
        )
        document = st.builds(
            lambda d, name, extra: {"document": d | {"file_name": name}} | extra,
            file, self.short_text, caption,
        )  # fmt: skip
        location = st.fixed_dictionaries(
            {"latitude": st.floats(-90, 90), "longitude": st.floats(-180, 180)}
        ).map(lambda loc: {"location": loc})
        contact = st.fixed_dictionaries(
            {"phone_number": st.from_regex(r"\+?[0-9 ]{6,16}", fullmatch=True),
             "first_name": NAME},
            optional={"last_name": NAME, "user_id": st.integers(10**8, 2**40),
                      "vcard": self.short_text},
        ).map(lambda c: {"contact": c})  # fmt: skip
        poll = st.builds(
            lambda question, options: {
                "poll": {
                    "id": "5" * 18, "question": question,
                    "options": [
                        {"text": o, "voter_count": 0, "persistent_id": str(n)}
                        for n, o in enumerate(options)
                    ],
                    "total_voter_count": 0, "is_closed": False, "is_anonymous": False,
                    "type": "regular", "allows_multiple_answers": False,
                    "allows_revoting": False, "members_only": False,
                }
            },
            self.short_text, st.lists(self.short_text, min_size=2, max_size=10),
        )  # fmt: skip
        dice = st.fixed_dictionaries(
            {"emoji": st.sampled_from(["🎲", "🎯", "🏀", "⚽", "🎰"]), "value": st.integers(1, 6)}
        ).map(lambda d: {"dice": d})
        venue = st.builds(
            lambda title, address: {
                "venue": {"location": {"latitude": 55.4, "longitude": 10.4},
                          "title": title, "address": address}
            },
            self.short_text, self.short_text,
        )  # fmt: skip
        return st.one_of(
            sticker, photo, voice, video_note, document, location, contact, poll, dice, venue
        )

    def command(self) -> st.SearchStrategy[str]:
        names = st.sampled_from(
            ["/start", "/menu", "/help", "/privacy", "/forget", "/language", "/stats",
             "/doesnotexist", "/START", "/start@vollsmose_guide_bot", "/menu@vollsmose_guide_bot",
             "/start@some_other_bot", "/"]
        )  # fmt: skip
        sources = sorted(self.engine.content.sources)
        arguments = st.one_of(
            st.just(""),
            st.text(min_size=64, max_size=64).map(lambda a: " " + a),
            st.sampled_from([" 😀", " 🇩🇰👨‍👩‍👧‍👦", " \u202e\u200b", " " + "x" * 65]),
            st.sampled_from(sources or ["library"]).map(lambda s: " " + s),
            st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True).map(lambda a: " " + a),
            self.short_text.map(lambda a: " " + a),
            self.short_text.map(lambda a: "\n" + a),
        )
        return st.builds(lambda name, argument: name + argument, names, arguments)

    def message_body(self) -> st.SearchStrategy[Json]:
        """Text (also commands) or media, sometimes forwarded from someone else."""
        text = st.one_of(self.text, self.command()).map(text_fields)
        body = st.one_of(text, text, self.media())
        forward = st.builds(
            lambda other, when: {
                "forward_origin": {"type": "user", "sender_user": other, "date": when}
            },
            user(),
            st.integers(DATE - 10**6, DATE),
        )
        return st.builds(
            lambda fields, extra: fields | extra,
            body,
            st.one_of(st.just({}), st.just({}), forward),
        )

    def private_message(self, pool: list[Json]) -> st.SearchStrategy[Json]:

        @st.composite
        def build(draw: st.DrawFn) -> Json:
            who = draw(st.sampled_from(pool))
            key = draw(st.sampled_from(["message", "message", "message", "edited_message"]))
            message = {
                "message_id": draw(self.message_ids), "date": DATE,
                "chat": private_chat(who), "from": who,
            } | draw(self.body)  # fmt: skip
            if key == "edited_message":
                message["edit_date"] = DATE + 60
            return {key: message}

        return build()

    def button(self, pool: list[Json]) -> st.SearchStrategy[Json]:

        @st.composite
        def build(draw: st.DrawFn) -> Json:
            who = draw(st.sampled_from(pool))
            query: Json = {
                "id": str(draw(st.integers(1, 2**63))),
                "from": who,
                "chat_instance": str(draw(st.integers(-(2**63), 2**63))),
            }
            data = draw(self.data)
            if data is None:
                query["game_short_name"] = "game"
            else:
                query["data"] = data
            where = draw(
                st.sampled_from(["message", "message", "message", "inaccessible", "inline"])
            )
            if where == "message":
                message: Json = {
                    "message_id": draw(self.message_ids), "date": DATE,
                    "chat": private_chat(who), "from": BOT_USER,
                }  # fmt: skip
                if draw(st.booleans()):
                    message["text"] = draw(self.short_text)
                query["message"] = message
            elif where == "inaccessible":
                query["message"] = {
                    "message_id": draw(self.message_ids),
                    "date": 0,
                    "chat": private_chat(who),
                }
            else:
                query["inline_message_id"] = draw(
                    st.from_regex(r"[A-Za-z0-9_-]{20,30}", fullmatch=True)
                )
            return {"callback_query": query}

        return build()

    def group_or_channel(self, pool: list[Json]) -> st.SearchStrategy[Json]:

        @st.composite
        def build(draw: st.DrawFn) -> Json:
            who = draw(st.sampled_from(pool))
            kind = draw(st.sampled_from(["group", "supergroup", "channel"]))
            chat_id = -draw(st.integers(1, 999_999_999))
            if kind != "group":
                chat_id = -(10**12) + chat_id
            chat = {"id": chat_id, "type": kind, "title": draw(self.short_text.filter(bool))}
            message: Json = {"message_id": draw(self.message_ids), "date": DATE, "chat": chat}
            if kind == "channel":
                message["sender_chat"] = chat
                key = draw(st.sampled_from(["channel_post", "edited_channel_post"]))
            else:
                message["from"] = who
                key = draw(st.sampled_from(["message", "message", "edited_message"]))
            if key.startswith("edited"):
                message["edit_date"] = DATE + 60
            if kind != "channel" and draw(st.booleans()):
                message["new_chat_members"] = [BOT_USER]
            else:
                message |= draw(self.body)
            return {key: message}

        return build()

    def membership(self, pool: list[Json]) -> st.SearchStrategy[Json]:

        @st.composite
        def build(draw: st.DrawFn) -> Json:
            who = draw(st.sampled_from(pool))
            kind = draw(st.sampled_from(["private", "group", "supergroup", "channel"]))
            if kind == "private":
                chat = private_chat(who)
                old, new = draw(st.sampled_from([("member", "kicked"), ("kicked", "member")]))
            else:
                chat = {"id": -draw(st.integers(10**9, 10**13)), "type": kind, "title": "A group"}
                statuses = ["member", "administrator", "restricted", "left", "kicked"]
                old, new = draw(st.sampled_from(statuses)), draw(st.sampled_from(statuses))

            def member(status: str) -> Json:
                return {"status": status, "user": BOT_USER} | _MEMBER_EXTRA.get(status, {})

            change = {
                "chat": chat, "from": who, "date": DATE,
                "old_chat_member": member(old), "new_chat_member": member(new),
            }  # fmt: skip
            return {"my_chat_member": change}

        return build()

    def other(self, pool: list[Json]) -> st.SearchStrategy[Json]:
        """Update types the bot has no handler for but receives with allowed_updates=ALL."""

        @st.composite
        def build(draw: st.DrawFn) -> Json:
            who = draw(st.sampled_from(pool))
            chat = private_chat(who)
            reaction = {"type": "emoji", "emoji": "👍"}
            return draw(
                st.sampled_from(
                    [
                        {"message_reaction": {
                            "chat": chat, "message_id": 1, "user": who, "date": DATE,
                            "old_reaction": [], "new_reaction": [reaction]}},
                        {"poll_answer": {"poll_id": "1", "user": who, "option_ids": [0],
                                         "option_persistent_ids": ["0"]}},
                        {"inline_query": {
                            "id": "1", "from": who, "query": "Secret inline Qx9", "offset": ""}},
                        {"chat_join_request": {
                            "chat": {"id": -100777, "type": "supergroup", "title": "G"},
                            "from": who, "user_chat_id": who["id"], "date": DATE}},
                    ]
                )
            )  # fmt: skip

        return build()

    def batch(self, *kinds: str) -> st.SearchStrategy[list[Json]]:
        """A few updates of the given kinds from a pool of one to three residents."""

        @st.composite
        def build(draw: st.DrawFn) -> list[Json]:
            pool = draw(st.lists(user(), min_size=1, max_size=3, unique_by=lambda u: u["id"]))
            choices = [getattr(self, kind)(pool) for kind in kinds]
            return draw(st.lists(st.one_of(choices), min_size=2, max_size=10))

        return build()


def text_fields(text: str) -> Json:
    """A text message's fields, with the bot_command entity Telegram adds to a leading command."""
    fields: Json = {"text": text}
    if command := re.match(r"/[A-Za-z0-9_]{1,64}(@[A-Za-z0-9_]{3,32})?", text):
        length = len(command.group().encode("utf-16-le")) // 2
        fields["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
    return fields


# -- the bot under test -------------------------------------------------------------------------


class FuzzBot:
    """A real Application (huge throttle burst, offline Bot API) in an event loop of its own, so
    that synchronous hypothesis tests can drive it; logging set up as `vollsmose-bot run` does."""

    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine
        self.offline = OfflineRequest()
        self.loop = asyncio.new_event_loop()
        self.log = io.StringIO()
        self.problems: list[str] = []
        self.personal = Personal()
        self.update_ids = itertools.count(1)
        self.handled = 0
        self.application: Application | None = None

    @contextmanager
    def running(self) -> Iterator[FuzzBot]:
        with _bot_logging(self.log, self.problems):
            self.application = self.loop.run_until_complete(self._open())
            try:
                yield self
            finally:
                self.loop.run_until_complete(self._close())
                self.loop.close()

    async def _open(self) -> Application:
        application = build_application(
            self.settings,
            self.engine,
            await Services.open(self.settings),
            request=self.offline,
            rate_limit=False,
            throttle=Throttle(burst=10**9),
        )
        await application.initialize()
        await application.post_init(application)  # type: ignore[misc]
        return application

    async def _close(self) -> None:
        assert self.application is not None
        await self.application.post_shutdown(self.application)  # type: ignore[misc]
        await self.application.shutdown()
        await self.application.parts.services.close()

    def feed(self, batch: list[Json]) -> None:
        """Process each update in turn and check what the bot did with it."""
        self.loop.run_until_complete(self._feed(batch))

    async def _feed(self, batch: list[Json]) -> None:
        application = self.application
        assert application is not None
        for raw in batch:
            raw = {"update_id": next(self.update_ids), **raw}
            self.personal.collect(raw)
            update = Update.de_json(json.loads(json.dumps(raw)), application.bot)
            start = len(self.offline.calls)
            await application.process_update(update)
            self.handled += 1
            assert not self.problems, f"logged while handling {raw}:\n" + "\n".join(self.problems)
            check_answer(self.engine, raw, self.offline.calls[start:])

    def database_files(self) -> list[Path]:
        database = self.settings.bot_database
        return [p for p in database.parent.iterdir() if p.name.startswith(database.name)]


@contextmanager
def _bot_logging(stream: io.StringIO, problems: list[str]) -> Iterator[None]:
    """The bot's logging set-up (setup_logging), writing into `stream`; records at ERROR level
    and above are also kept in `problems`. Everything is restored afterwards."""
    root = logging.getLogger()
    names = ("bot", "httpx", "httpcore", "apscheduler")
    saved = root.handlers[:], root.level, {n: logging.getLogger(n).level for n in names}

    class Spy(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            problems.append(self.format(record))

    setup_logging("DEBUG", TOKEN)
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    spy = Spy(logging.ERROR)
    spy.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root.addHandler(spy)
    try:
        yield
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        for name, level in saved[2].items():
            logging.getLogger(name).setLevel(level)


# -- what a sensible answer is ------------------------------------------------------------------


def _chat_id(call: Any) -> int | None:
    chat_id = call.params.get("chat_id")
    return None if chat_id is None else int(chat_id)


def _buttons(params: Json) -> list[Json]:
    markup = params.get("reply_markup")
    markup = json.loads(markup) if isinstance(markup, str) else markup
    return [button for row in (markup or {}).get("inline_keyboard", []) for button in row]


def check_answer(engine: Engine, raw: Json, calls: list[Any]) -> None:
    """What the bot sent in answer to one update makes sense for that update."""
    sent = [c for c in calls if c.method.startswith(("send", "edit"))]
    for call in [c for c in sent if c.method in ("sendMessage", "editMessageText")]:
        text = call.params.get("text") or ""
        assert text.strip(), f"empty text in answer to {raw}"
        assert len(text.encode("utf-16-le")) // 2 <= 4096
        buttons = _buttons(call.params)
        staff = _chat_id(call) == STAFF_ID  # reports to staff are text without buttons
        assert buttons or staff or call.method == "editMessageText", f"no buttons: {raw}"
        for button in buttons:
            if "url" in button:  # a card's map link
                assert button["url"].startswith("https://www.openstreetmap.org/"), button
                continue
            data = button["callback_data"]
            assert data.isascii(), data
            assert 1 <= len(data.encode()) <= 64, data
            # Every button the bot sends leads somewhere that exists.
            leads = engine.press(data, "da").screen != "updated"
            assert leads or followup.parse(engine, data), f"dead button {data}"
    # Never a message into a group or channel (no staff chat is configured here).
    assert all((_chat_id(c) or 0) > 0 for c in calls if c.method.startswith("send")), calls

    if (message := raw.get("message")) is not None:
        chat = message["chat"]
        if chat["type"] == "private":
            assert any(_chat_id(c) == chat["id"] for c in sent), f"no answer to {raw}"
        elif chat["type"] in ("group", "supergroup"):
            assert [_chat_id(c) for c in calls if c.method == "leaveChat"] == [chat["id"]]
    elif (query := raw.get("callback_query")) is not None:
        answers = [c for c in calls if c.method == "answerCallbackQuery"]
        assert [a.params["callback_query_id"] for a in answers] == [query["id"]]
        if "message" in query:
            chat_id = query["message"]["chat"]["id"]
            assert any(_chat_id(c) == chat_id for c in sent), f"no answer to {raw}"
    elif (change := raw.get("my_chat_member")) is not None:
        chat = change["chat"]
        joined = change["new_chat_member"]["status"] in ("member", "administrator", "restricted")
        left = [_chat_id(c) for c in calls if c.method == "leaveChat"]
        assert left == ([chat["id"]] if joined and chat["type"] != "private" else [])
        assert not sent


# -- what is on disk afterwards -----------------------------------------------------------------


def check_database(path: Path, engine: Engine) -> list[str]:
    """Only counters and hashed language choices are stored.

    Returns the text the database legitimately holds: each row's text columns joined, as SQLite
    writes them side by side ("language" + "so" holds "languages"), and the schema.
    """
    content = engine.content
    db = sqlite3.connect(path)
    try:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert tables == {
            "schema_version",
            "referrals",
            "usage",
            "preferences",
            "reports_sent",
            "callback_scrubs",
            "followups",
            "followup_counts",
        }
        day = re.compile(r"\d{4}-\d{2}-\d{2}")
        values: list[str] = []
        for d, goal, service, n in db.execute("SELECT * FROM referrals"):
            assert day.fullmatch(d)
            assert goal in content.goals
            assert service in content.services
            assert n >= 1
            values.append(d + goal + service)
        allowed = {
            "language": set(LANGUAGES),
            "source": {*content.sources, "other"},
            "unmatched": {"text"},
        }
        for d, dimension, key, n in db.execute("SELECT * FROM usage"):
            assert day.fullmatch(d)
            assert key in allowed[dimension], (dimension, key)
            assert n >= 1
            values.append(d + dimension + key)
        for resident, language, month in db.execute("SELECT * FROM preferences"):
            assert isinstance(resident, bytes)
            assert len(resident) == 16
            assert language in LANGUAGES
            assert re.fullmatch(r"\d{4}-\d{2}", month)
            values.append(language + month)
        assert db.execute("SELECT count(*) FROM reports_sent").fetchone() == (0,)
        for message_id, due in db.execute("SELECT * FROM callback_scrubs"):
            assert isinstance(message_id, int)
            assert day.fullmatch(due)
        for sealed, service, goal, due in db.execute("SELECT * FROM followups"):
            # nonce, the padded resident encrypted, the tag: no id in clear.
            assert isinstance(sealed, bytes)
            assert len(sealed) == 12 + 32 + 16
            assert goal in content.services[service].goals
            assert day.fullmatch(due)
            values.append(service + goal + due)
        for week, goal, service, outcome, n in db.execute("SELECT * FROM followup_counts"):
            assert re.fullmatch(r"\d{4}-W\d{2}", week)
            assert service in content.services
            assert outcome in followup.OUTCOMES
            assert n >= 1
            values.append(week + goal + service + outcome)
        values += [row[0] for row in db.execute("SELECT sql FROM sqlite_master") if row[0]]
        return values
    finally:
        db.close()


def code_literals() -> list[str]:
    """The string constants in the bot's source. Hypothesis draws texts from the constants of
    the code under test, so a typed "text" may be, say, a log message the bot writes anyway."""
    literals = []
    for path in (REPOSITORY / "bot").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                literals.append(node.value)
    return literals


def audit(bot: FuzzBot, when: str) -> None:
    """Nothing personal (nor the token) in the database files or the log."""
    log = bot.settings.bot_database.parent / "fuzz.log"
    log.write_text(bot.log.getvalue(), encoding="utf-8")
    vocabulary = check_database(bot.settings.bot_database, bot.engine)
    # The staff member's id is configuration (BOT_STAFF_IDS), not a resident's, and four digits
    # are too short to look for.
    bot.personal.ids.discard(STAFF_ID)
    allowed = vocabulary + code_literals()
    found = find_personal([*bot.database_files(), log], bot.personal, allowed=allowed)
    assert not found, f"{when}: personal data or the token on disk:\n" + "\n".join(found[:20])
    assert bot.personal.ids
    assert bot.personal.names


def fuzz(settings: Settings, engine: Engine, strategy: st.SearchStrategy, examples: int) -> None:
    """Run `examples` generated batches through one bot, then audit what it wrote."""
    bot = FuzzBot(settings, engine)
    with bot.running():

        @hypothesis_settings(
            max_examples=examples,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
            # No shrinking: it would re-run a failing bot for minutes; the failing batch is
            # printed as generated, and its update ids name the update that failed.
            phases=[Phase.explicit, Phase.generate],
        )
        @given(batch=strategy)
        def run(batch: list[Json]) -> None:
            bot.feed(batch)

        run()
        audit(bot, "while open (WAL)")
    audit(bot, "after shutdown")
    assert bot.handled >= examples


# -- the tests ------------------------------------------------------------------------------------

pytestmark = pytest.mark.timeout(120)
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "250"))


def test_private_messages_commands_and_media(settings: Settings, engine: Engine) -> None:
    """Texts of every script and length, odd commands and all kinds of media in private chats:
    each answered with buttons that work; no error; nothing personal written."""
    fuzz(settings, engine, Kinds(engine).batch("private_message"), examples=EXAMPLES)


def test_button_presses_real_forged_stale_and_oversized(settings: Settings, engine: Engine) -> None:
    """Callback queries with real, well-formed-but-wrong, stale, random and oversized data, on
    messages, inaccessible messages and inline messages: each answered, each screen sensible."""
    fuzz(settings, engine, Kinds(engine).batch("button"), examples=EXAMPLES)


def test_groups_channels_membership_and_other_updates(settings: Settings, engine: Engine) -> None:
    """Group and supergroup messages (the bot leaves), channel posts (silence), membership
    changes (blocked, unblocked, added to a group) and update types without a handler."""
    fuzz(
        settings,
        engine,
        Kinds(engine).batch("group_or_channel", "membership", "other"),
        examples=EXAMPLES,
    )


def test_mixed_stream(settings: Settings, engine: Engine) -> None:
    """All kinds interleaved for the same few residents: language choices, then typing,
    pressing, blocking and unblocking."""
    kinds = ("private_message", "button", "group_or_channel", "membership", "other")
    fuzz(settings, engine, Kinds(engine).batch(*kinds), examples=EXAMPLES)


def test_the_audit_finds_ids_and_names_but_not_chance_matches(settings: Settings) -> None:
    """The audit itself: a resident id and a name are found; "0000" is too common to look for."""
    personal = Personal(ids={123_456_789}, names={"Zainab Qwertyuiop"}, texts={"0000"})
    log = settings.bot_database.parent / "x.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("2026-11-30 123456789 Zainab Qwertyuiop 0000", encoding="utf-8")
    found = find_personal([log], personal)
    assert found == ["x.log: user id 123456789", "x.log: name 'Zainab Qwertyuiop'"]
    assert not distinctive("0000")
    assert distinctive("مرحبا")
