"""The production Bot API client (aiohttp, RetryingRequest) over real HTTP to the local Bot API:
each reply arrives exactly once, through a slow Telegram and through an outage."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from telegram import Update
from telegram.error import TimedOut
from telegram.ext import Application

from bot.config import Settings, load_settings
from bot.engine import Engine
from bot.services import Services
from bot.telegram import build_application
from bot.telegram.request import NotSent, RetryingRequest
from tests.botapi import FakeBotAPI, Resident
from tests.conftest import TOKEN

pytestmark = pytest.mark.timeout(120)

# Long enough that the retries reach their longest back-off (0.5 + 1 + 2 + 4 s, then 5 s each):
# from there on a longer outage only repeats the same 5-second step. BOT_TEST_OUTAGE=60 runs
# the outage the issue names (about a minute longer).
OUTAGE = float(os.environ.get("BOT_TEST_OUTAGE", "9"))


@pytest.fixture
async def botapi() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI(token=TOKEN) as server:
        yield server


@pytest.fixture
async def production(
    botapi: FakeBotAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine: Engine
) -> AsyncIterator[Application]:
    """The Application as `vollsmose-bot run` builds it (its HTTP clients, the rate limiter),
    pointed at the local Bot API, with storage open."""
    monkeypatch.chdir(tmp_path)
    settings: Settings = load_settings(
        telegram_bot_token=TOKEN,
        telegram_api_url=botapi.url,
        bot_database=tmp_path / "data" / "bot.sqlite3",
    )
    async with await Services.open(settings) as services:
        application = build_application(settings, engine, services)
        assert isinstance(application.bot.request, RetryingRequest)
        async with application:
            await application.post_init(application)  # type: ignore[misc]
            try:
                yield application
            finally:
                await application.post_shutdown(application)  # type: ignore[misc]


def residents(count: int, first: int = 7_401_000_001) -> list[Resident]:
    return [Resident(first + n, f"Resident {n}", None, "da") for n in range(count)]


def texts_to(botapi: FakeBotAPI, resident: Resident, text: str) -> int:
    """How many messages with this text the resident received (sent or edited into it)."""
    return sum(m.get("text") == text for m in botapi.messages_to(resident.id))


async def test_a_six_second_answer_to_sendmessage_gives_one_message(
    botapi: FakeBotAPI, production: Application, engine: Engine
) -> None:
    """Telegram takes 6 s to answer sendMessage, past the 5 s read time-out: the bot does not
    send again (Telegram may have the message already), and the resident reads /help once."""
    [amina] = residents(1)
    botapi.delay("sendMessage", 6)
    update = Update.de_json(botapi.push_message(amina, "/help"), production.bot)
    await production.process_update(update)
    # The update is handled: every call it will ever make has been made.
    assert len(botapi.calls_to("sendMessage")) == 1
    help_text = engine.help("da").text
    await botapi.wait_for(lambda: texts_to(botapi, amina, help_text) == 1)


async def test_replies_held_through_an_outage_arrive_once_when_it_ends(
    botapi: FakeBotAPI, production: Application, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """The Bot API goes down while the bot holds 60 residents' updates: 30 pressed a button under
    their menu, 30 typed /help. When it comes back, each press shows its screen once and each
    /help arrives once."""
    pressing, typing = residents(30), residents(30, first=7_402_000_001)
    menu = engine.menu("da").text
    for resident in pressing:
        await production.process_update(
            Update.de_json(botapi.push_message(resident, "/menu"), production.bot)
        )
    menus = {r.id: botapi.last_message(r.id)["message_id"] for r in pressing}  # type: ignore[index]
    assert all(texts_to(botapi, r, menu) == 1 for r in pressing)
    updates = [botapi.push_callback(r, menus[r.id], engine.data("mentor")) for r in pressing] + [
        botapi.push_message(r, "/help") for r in typing
    ]

    await botapi.go_down()
    caplog.set_level(logging.INFO, logger="bot.telegram.request")
    handled = [
        asyncio.create_task(production.process_update(Update.de_json(u, production.bot)))
        for u in updates
    ]
    await asyncio.sleep(OUTAGE)  # the outage itself
    assert not any(task.done() for task in handled), "replies were given up during the outage"
    await botapi.come_back()
    await asyncio.gather(*handled)

    mentor, help_text = engine.screen("mentor", "da").text, engine.help("da").text
    assert [texts_to(botapi, r, mentor) for r in pressing] == [1] * len(pressing)
    assert all(botapi.message(r.id, menus[r.id])["text"] == mentor for r in pressing)  # type: ignore[index]
    assert [texts_to(botapi, r, help_text) for r in typing] == [1] * len(typing)
    assert len(botapi.calls_to("answerCallbackQuery")) == len(pressing)
    # The operator reads one line when it went down and one when it came back, not one per reply.
    assert caplog.text.count("cannot be reached") == 1
    assert caplog.text.count("reachable again") == 1


async def test_a_send_is_given_up_after_its_patience_and_names_no_token() -> None:
    """No Bot API at all: a send is tried again until its patience runs out, then fails with
    an error that says what happened without the token; getUpdates is tried once (the updater
    has its own loop)."""
    request = RetryingRequest(patience=1.0, backoff=0.1)
    await request.initialize()
    try:
        # A port nothing listens on: bind one, note it, close it.
        server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        server.close()
        await server.wait_closed()
        url = f"http://127.0.0.1:{port}/bot{TOKEN}"
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(NotSent) as caught:
            await request.post(f"{url}/sendMessage")
        assert loop.time() - started >= 1.0
        assert TOKEN not in str(caught.value)
        assert TOKEN.split(":")[1] not in str(caught.value)
        started = loop.time()
        with pytest.raises(NotSent):
            await request.post(f"{url}/getUpdates")
        assert loop.time() - started < 1.0
    finally:
        await request.shutdown()


async def test_an_edit_that_times_out_is_tried_again_a_send_is_not(botapi: FakeBotAPI) -> None:
    """The same time-out (the answer takes longer than the read time-out): an edit is repeated
    (it cannot show anything twice), a send is not."""
    request = RetryingRequest(read_timeout=0.2, backoff=0.01)
    await request.initialize()
    try:
        url = f"{botapi.url}/bot{TOKEN}"
        botapi.delay("sendMessage", 0.5)
        botapi.delay("editMessageText", 0.5)
        with pytest.raises(TimedOut):
            await request.post(f"{url}/sendMessage")
        with pytest.raises(TimedOut):
            await request.post(f"{url}/editMessageText")
        assert len(botapi.calls_to("sendMessage")) == 1
        assert len(botapi.calls_to("editMessageText")) == request.attempts
    finally:
        await request.shutdown()
