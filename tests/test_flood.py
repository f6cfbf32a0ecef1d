"""Flooding: the per-resident throttle before every handler, and the rate-limited sender."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from telegram import Update
from telegram.ext import AIORateLimiter, Application, TypeHandler

from bot.config import Settings
from bot.engine import Engine
from bot.flood import Throttle
from bot.services import Services
from bot.telegram import build_application, handlers
from bot.telegram.limiter import ArrivalOrderLimiter
from bot.telegram.offline import OfflineRequest
from bot.telegram.request import RetryingRequest
from tests.conftest import Updates


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 10_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def flood_app(
    settings: Settings, engine: Engine, services: Services, offline: OfflineRequest, clock: Clock
) -> AsyncIterator[Application]:
    """A running Application (updates go through its queue and update processor) with the
    default throttle on a fake clock."""
    application = build_application(
        settings,
        engine,
        services,
        request=offline,
        rate_limit=False,
        throttle=Throttle(clock=clock),
    )
    async with application:
        await application.post_init(application)  # type: ignore[misc]
        await application.start()
        try:
            yield application
        finally:
            await application.stop()
            await application.post_shutdown(application)  # type: ignore[misc]


async def _feed(application: Application, updates: list[Update]) -> None:
    """Put updates on the queue as the poller would and wait until all are handled."""
    for update in updates:
        await application.update_queue.put(update)
    await application.update_queue.join()


def _replies(offline: OfflineRequest, since: int = 0) -> list[str]:
    """Methods of the Bot API calls made since call number `since`."""
    return [call.method for call in offline.calls[since:]]


def _no_errors(caplog: pytest.LogCaptureFixture) -> None:
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, errors


async def test_a_thousand_updates_from_one_resident_get_one_warning(
    flood_app: Application,
    offline: OfflineRequest,
    engine: Engine,
    settings: Settings,
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A resident sending 1,000 updates at once gets the burst answered, one "please slow
    down", and nothing else; after the cool-down they are served again."""
    throttle = flood_app.parts.throttle
    resident = Updates(flood_app.bot, user_id=880_000_001, language_code="ar")
    kinds: list[Callable[[int], Update]] = [
        lambda i: resident.message(f"qwrtz {i} plonk"),
        lambda i: resident.press(engine.data("fritidsjob"), message_id=i + 1),
        lambda i: resident.message("/menu"),
        lambda i: resident.press(engine.data("@fritidsjob-hjaelp"), message_id=i + 1),
    ]
    start = len(offline.calls)
    await _feed(flood_app, [kinds[i % len(kinds)](i) for i in range(1_000)])

    calls = offline.calls[start:]
    slow_down = engine.slow_down("ar").text
    warnings = [c for c in calls if c.method == "sendMessage" and c.params["text"] == slow_down]
    assert len(warnings) == 1
    # The burst (20 updates) was served, the 21st got the warning, the other 979 nothing.
    served = [c for c in calls if c.method in ("sendMessage", "editMessageText")]
    assert len(served) == throttle.burst + 1
    assert served[-1] is warnings[0]
    assert len([c for c in calls if c.method == "answerCallbackQuery"]) == throttle.burst // 2
    # Only the served updates were counted: one referral (once a day) and five unmatched texts.
    db = sqlite3.connect(settings.bot_database)
    assert db.execute("SELECT sum(n) FROM referrals").fetchone() == (1,)
    unmatched = "SELECT n FROM usage WHERE dimension = 'unmatched'"
    assert db.execute(unmatched).fetchone() == (throttle.burst // 4,)

    # Still within the cool-down: ignored, without a second warning.
    clock.now += throttle.cooldown - 1
    start = len(offline.calls)
    await _feed(flood_app, [resident.message("/menu")])
    assert _replies(offline, start) == []

    # After the cool-down: served again, in the resident's language.
    clock.now += 2
    await _feed(flood_app, [resident.message("/menu")])
    assert _replies(offline, start) == ["sendMessage"]
    assert offline.calls[-1].params["text"] == engine.menu("ar").text
    assert db.execute(unmatched).fetchone() == (throttle.burst // 4,)
    db.close()
    _no_errors(caplog)


async def test_flooding_in_a_group_gets_no_warning_there(
    flood_app: Application, offline: OfflineRequest, engine: Engine
) -> None:
    """A flood in a group is ignored too, but the warning is never posted into the group."""
    resident = Updates(flood_app.bot, user_id=880_000_002)
    group = {"id": -100_555, "type": "supergroup", "title": "Somewhere"}
    await _feed(flood_app, [resident.message("hi all", chat=group) for _ in range(100)])
    assert not offline.calls_to("sendMessage")
    assert len(offline.calls_to("leaveChat")) == flood_app.parts.throttle.burst


async def test_a_thousand_residents_at_once_are_all_served_and_forgotten_later(
    settings: Settings,
    engine: Engine,
    services: Services,
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """1,000 residents pressing a button at the same moment are each answered; the throttle's
    memory of them shrinks again as time passes."""
    slow = OfflineRequest(delay=0.001)
    throttle = Throttle(clock=clock)
    application = build_application(
        settings, engine, services, request=slow, rate_limit=False, throttle=throttle
    )
    residents = [Updates(application.bot, user_id=890_000_000 + n) for n in range(1_000)]
    async with application:
        await application.post_init(application)  # type: ignore[misc]
        await application.start()
        try:
            await _feed(
                application, [r.press(engine.data("mentor"), message_id=7) for r in residents]
            )
            assert len(throttle) == 1_000
            # A minute later the next update clears out everyone whose bucket has refilled.
            clock.now += 61
            await _feed(application, [residents[0].press(engine.data("menu"), message_id=7)])
        finally:
            await application.stop()
            await application.post_shutdown(application)  # type: ignore[misc]
    assert len(throttle) == 1

    edits = slow.calls_to("editMessageText")
    assert len(edits) == 1_001
    mentor = engine.screen("mentor", "da").text
    assert {int(c.params["chat_id"]) for c in edits if c.params["text"] == mentor} == {
        890_000_000 + n for n in range(1_000)
    }
    assert len(slow.calls_to("answerCallbackQuery")) == 1_001
    assert slow.max_in_flight > 1
    assert not [c for c in slow.calls if c.params.get("text") == engine.slow_down("da").text]
    _no_errors(caplog)


def test_throttle_keeps_a_muted_resident_until_the_cool_down_ends(clock: Clock) -> None:
    """Pruning forgets residents whose bucket has refilled, never one who is still muted."""
    throttle = Throttle(burst=2, rate=1.0, cooldown=100.0, clock=clock)
    assert [throttle.check(1) for _ in range(4)] == ["ok", "ok", "warn", "drop"]
    throttle.check(2)
    clock.now += 61
    assert throttle.check(3) == "ok"
    assert len(throttle) == 2  # the muted resident 1 and the new resident 3
    assert throttle.check(1) == "drop"
    clock.now += 61
    throttle.check(3)
    assert len(throttle) == 1
    assert throttle.check(1) == "ok"


async def test_default_build_sends_through_the_rate_limiter(
    settings: Settings, engine: Engine, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without an injected client the bot talks through RetryingRequest and AIORateLimiter
    (retrying 429s, its held-back calls in arrival order), with the default throttle registered
    before every other handler."""
    application = build_application(settings, engine, services)
    limiter = application.bot.rate_limiter
    assert isinstance(limiter, ArrivalOrderLimiter)
    assert isinstance(limiter.inner, AIORateLimiter)
    assert limiter.inner._max_retries == 3
    assert isinstance(application.bot.request, RetryingRequest)
    throttle = application.parts.throttle
    assert (throttle.burst, throttle.rate, throttle.cooldown) == (20, 1.0, 30.0)
    first_group = min(application.handlers)
    assert first_group == -2
    [guard] = application.handlers[first_group]
    assert isinstance(guard, TypeHandler)
    assert guard.callback is handlers.throttle

    # And every outgoing call of a handled update passes through the limiter.
    seen: list[str] = []
    original = AIORateLimiter.process_request

    async def spy(self: AIORateLimiter, callback: Callable[..., Awaitable[Any]], *args: Any,
                  **kwargs: Any) -> Any:  # fmt: skip
        seen.append(kwargs["endpoint"])
        return await original(self, callback, *args, **kwargs)

    monkeypatch.setattr(AIORateLimiter, "process_request", spy)
    offline = OfflineRequest()
    application = build_application(settings, engine, services, request=offline)
    async with application:
        await application.post_init(application)  # type: ignore[misc]
        try:
            await application.process_update(Updates(application.bot).press(engine.data("mentor")))
        finally:
            await application.post_shutdown(application)  # type: ignore[misc]
    assert {"answerCallbackQuery", "editMessageText", "setMyCommands"} <= set(seen)
    assert len(seen) == len(offline.calls)
