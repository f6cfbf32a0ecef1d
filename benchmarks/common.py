"""Shared parts: repetition statistics, settings, generated updates, our bot and the minimal bot."""

from __future__ import annotations

import gc
import itertools
import os
import statistics
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, ApplicationBuilder, CallbackQueryHandler, MessageHandler
from telegram.ext import filters as ptb_filters

from bot import privacy
from bot.config import REPOSITORY, Settings, load_settings
from bot.engine import Engine, Reply
from bot.residents import Residents
from bot.services import Services
from bot.telegram import build_application
from bot.telegram.context import GuideApplication
from bot.telegram.offline import OfflineRequest

TOKEN = "123456:BENCH-token-for-the-offline-bot-api"
# Telegram's limit for one bot: about 30 messages a second.
TELEGRAM_MESSAGES_PER_S = 30.0
# The methods whose answer ends the handling of an update.
CONTENT_METHODS = frozenset({"editMessageText", "sendMessage"})


@dataclass
class Measure:
    """One figure: the value of each repetition; reported as median with min-max spread."""

    values: list[float]
    unit: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def lo(self) -> float:
        return min(self.values)

    @property
    def hi(self) -> float:
        return max(self.values)

    @property
    def spread(self) -> float:
        """max - min over the repetitions, in the figure's unit."""
        return self.hi - self.lo

    def relative_spread(self) -> float:
        return self.spread / self.median if self.median else 0.0


@dataclass
class Scale:
    """How much work each benchmark does; --quick shrinks everything to a smoke run."""

    quick: bool
    rounds: int = 25  # alternating rounds of the cost ratios (short, so a busy moment is one)
    per_round: int = 160  # updates per bot per round (taps, typed text)
    referrals_per_round: int = 120  # new residents per round for the referral ratio
    mix_reps: int = 5
    mix_residents: int = 600
    mix_per_resident: int = 5
    startup_reps: int = 7
    report_reps: int = 7
    network_reps: int = 3
    network_residents: int = 1000
    network_per_resident: int = 4
    rss_reps: int = 3
    memory_counts: tuple[int, ...] = (10_000, 100_000)
    memory_reps: int = 2  # deterministic to the byte; two show that
    e2e_reps: int = 5  # rounds of each bot, alternated: the machine's speed drifts between them
    e2e_residents: int = 500
    e2e_per_resident: int = 10
    paced_reps: int = 1
    paced_residents: int = 200
    paced_presses: int = 2
    burst_reps: int = 1
    burst_residents: int = 1000

    @classmethod
    def of(cls, quick: bool) -> Scale:
        if not quick:
            return cls(quick=False)
        return cls(
            quick=True,
            rounds=3,
            per_round=20,
            referrals_per_round=15,
            mix_reps=2,
            mix_residents=20,
            mix_per_resident=3,
            startup_reps=2,
            report_reps=2,
            network_reps=1,
            network_residents=30,
            network_per_resident=3,
            rss_reps=1,
            memory_counts=(1_000, 2_000),
            memory_reps=1,
            e2e_reps=1,
            e2e_residents=30,  # enough CPU for the minimal bot's greeting to read above 0 ticks
            e2e_per_resident=3,
            paced_residents=5,
            paced_presses=2,
            burst_residents=20,
        )


def pin_to_one_core() -> int | None:
    """Run this process (and the threads and children it starts later) on one CPU."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    cpu = max(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return cpu


def make_settings(directory: Path) -> Settings:
    """Settings for a bot whose database and secret live in a temporary folder."""
    return load_settings(
        telegram_bot_token=TOKEN,
        bot_database=directory / "data" / "bench.sqlite3",
        bot_content_dir=REPOSITORY / "flows",
    )


class CountingRequest(OfflineRequest):
    """The offline Bot API, counting calls per method (both bots use it, so the cost is shared)."""

    def __init__(self, delay: float = 0.0) -> None:
        super().__init__(delay=delay, record=False)
        self.counts: dict[str, int] = {}

    def on_request(self, method: str, params: dict[str, Any]) -> None:
        self.counts[method] = self.counts.get(method, 0) + 1

    def reset(self) -> None:
        self.counts.clear()


# -- generated updates ------------------------------------------------------------------------

_ids = itertools.count(1)


def _user(user_id: int, language_code: str) -> dict[str, Any]:
    return {
        "id": user_id,
        "is_bot": False,
        "first_name": "Resident",
        "language_code": language_code,
    }


def press_json(user_id: int, data: str, message_id: int = 1, language_code: str = "da") -> dict:
    """A callback query from a resident pressing a button under one of the bot's messages."""
    chat = {"id": user_id, "type": "private", "first_name": "Resident"}
    return {
        "update_id": next(_ids),
        "callback_query": {
            "id": str(next(_ids)),
            "from": _user(user_id, language_code),
            "chat_instance": f"ci{user_id}",
            "data": data,
            "message": {
                "message_id": message_id,
                "date": 1_790_000_000,
                "chat": chat,
                "text": "menu",
                "from": {"id": 1000, "is_bot": True, "first_name": "Guide"},
            },
        },
    }


def text_json(user_id: int, text: str, language_code: str = "da") -> dict:
    """A private text message typed by a resident."""
    return {
        "update_id": next(_ids),
        "message": {
            "message_id": next(_ids),
            "date": 1_790_000_000,
            "chat": {"id": user_id, "type": "private", "first_name": "Resident"},
            "from": _user(user_id, language_code),
            "text": text,
        },
    }


def to_updates(payloads: Iterable[dict], app: Application) -> list[Update]:
    """Update objects bound to one application's bot (shortcuts like query.answer() use it)."""
    return [Update.de_json(payload, app.bot) for payload in payloads]


# The resident hash is memory-hard (scrypt, about 20 ms, paid once per resident after a start;
# README, Privacy). The benchmarks prepare thousands of residents, so they hash at the lowest cost
# and measure the rest: a resident's very first tap after a start costs those 20 ms on top.
privacy.SCRYPT_N = 2


# -- our bot ------------------------------------------------------------------------------------


async def open_ours(settings: Settings, engine: Engine, request: OfflineRequest) -> Application:
    """Our Application, initialized and with storage open (post_init), as in the tests."""
    services = await Services.open(settings)
    app = build_application(settings, engine, services, request=request, rate_limit=False)
    await app.initialize()
    await app.post_init(app)  # type: ignore[misc]
    return app


async def close_ours(app: GuideApplication) -> None:
    await app.post_shutdown(app)  # type: ignore[misc]
    await app.shutdown()
    await app.parts.services.close()


def residents_of(app: GuideApplication) -> Residents:
    return app.parts.services.residents


async def prepare_residents(
    app: GuideApplication, languages: dict[int, str], *, counted_today: bool
) -> None:
    """Residents who chose a language earlier (and, if counted_today, already used the bot today),
    through the same public Residents calls the handlers make, under their Telegram ids."""
    residents = residents_of(app)
    for user_id, language in languages.items():
        await residents.choose(f"tg:{user_id}", language)
        if counted_today:
            await residents.count_language(f"tg:{user_id}", language)


# -- the minimal bot ----------------------------------------------------------------------------


@dataclass
class Canned:
    """What the minimal bot shows for one button: fixed text and keyboard."""

    text: str
    markup: InlineKeyboardMarkup | None


@dataclass
class MinimalAnswers:
    buttons: dict[str, Canned] = field(default_factory=dict)
    # None: echo typed text back; else answer every text with this fixed reply.
    text_reply: Canned | None = None


def canned(reply: Reply) -> Canned:
    """Freeze one of our replies into the minimal bot's fixed answer (same payload size)."""
    rows = [
        [InlineKeyboardButton(b.label, callback_data=b.data) for b in row] for row in reply.buttons
    ]
    if reply.venue is not None:  # a card's map link
        rows.append([InlineKeyboardButton(reply.venue.label, url=reply.venue.url)])
    return Canned(reply.text, InlineKeyboardMarkup(rows) if rows else None)


def build_minimal(request: OfflineRequest, answers: MinimalAnswers) -> Application:
    """The cheapest python-telegram-bot bot making the same Bot API calls: no storage, no logic."""
    builder = ApplicationBuilder().token(TOKEN).request(request).get_updates_request(request)

    async def on_press(update: Update, context: Any) -> None:
        query = update.callback_query
        assert query is not None
        assert query.message is not None
        answer = answers.buttons[query.data or ""]
        await query.answer()
        await query.edit_message_text(answer.text, reply_markup=answer.markup)

    async def on_text(update: Update, context: Any) -> None:
        message = update.message
        assert message is not None
        reply = answers.text_reply
        text, markup = (message.text or "", None) if reply is None else (reply.text, reply.markup)
        await context.bot.send_message(message.chat.id, text, reply_markup=markup)

    app = builder.build()
    app.add_handler(CallbackQueryHandler(on_press))
    app.add_handler(MessageHandler(ptb_filters.TEXT & ~ptb_filters.COMMAND, on_text))
    return app


# -- timing -------------------------------------------------------------------------------------


async def cost_per_update(app: Application, updates: Sequence[Update]) -> tuple[float, float]:
    """Seconds per update, handling them one after another with app.process_update: elapsed,
    and CPU time of the whole process (which other processes on a busy machine do not inflate)."""
    gc.collect()
    cpu = time.process_time()
    start = time.perf_counter()
    for update in updates:
        await app.process_update(update)
    elapsed = time.perf_counter() - start
    return elapsed / len(updates), (time.process_time() - cpu) / len(updates)


def read_rss_bytes() -> int:
    """This process's resident set size, from /proc (no psutil)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("VmRSS not found in /proc/self/status")
