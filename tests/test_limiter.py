"""Replies held back by Telegram's rate limit go out oldest update first, each exactly once."""

from __future__ import annotations

import asyncio
import contextvars
import time
from typing import Any

from telegram.ext import AIORateLimiter

from bot.telegram.limiter import ARRIVED, ArrivalOrderLimiter

SLOT = 0.02  # seconds per limited call in these tests


async def _limiter() -> ArrivalOrderLimiter:
    limiter = ArrivalOrderLimiter(AIORateLimiter(overall_max_rate=1, overall_time_period=SLOT))
    await limiter.initialize()
    return limiter


def _call(
    limiter: ArrivalOrderLimiter, sent: list[str], name: str, arrived: float | None, chat: bool
) -> asyncio.Task[Any]:
    """A Bot API call made while handling an update that arrived at `arrived`."""

    async def post(*args: Any, **kwargs: Any) -> bool:
        sent.append(name)
        return True

    context = contextvars.copy_context()
    if arrived is not None:
        context.run(ARRIVED.set, arrived)
    data = {"chat_id": 1} if chat else {"callback_query_id": "1"}
    return asyncio.get_running_loop().create_task(
        limiter.process_request(post, (), {}, "sendMessage", data, None), context=context
    )


async def _occupy(
    limiter: ArrivalOrderLimiter, sent: list[str], arrived: float
) -> list[asyncio.Task[Any]]:
    """Two calls after which the next ones queue: "first" takes the free slot, "waiting" holds
    the turn while it waits for the limiter."""
    calls = [
        _call(limiter, sent, "first", arrived - 1, chat=True),
        _call(limiter, sent, "waiting", arrived, chat=True),
    ]
    await asyncio.sleep(0)
    return calls


async def test_held_back_replies_go_out_in_the_order_their_updates_arrived() -> None:
    limiter = await _limiter()
    sent: list[str] = []
    now = time.monotonic()
    # The others queue, asked for in another order than their updates arrived (a resident's
    # second press asks only when the first is done).
    busy = await _occupy(limiter, sent, now - 5)
    calls = [
        _call(limiter, sent, "late", now - 1, chat=True),
        _call(limiter, sent, "early", now - 4, chat=True),
        _call(limiter, sent, "middle", now - 2, chat=True),
    ]
    answer = _call(limiter, sent, "answer", None, chat=False)
    await asyncio.gather(*busy, *calls, answer)
    assert sent.index("answer") <= 2, "a button answer is not held back"
    assert [name for name in sent if name != "answer"] == [
        "first",
        "waiting",
        "early",
        "middle",
        "late",
    ]
    await limiter.shutdown()


async def test_a_cancelled_waiting_call_is_never_sent_and_holds_no_one_up() -> None:
    limiter = await _limiter()
    sent: list[str] = []
    now = time.monotonic()
    busy = await _occupy(limiter, sent, now - 3)
    cancelled = _call(limiter, sent, "cancelled", now - 2, chat=True)
    after = _call(limiter, sent, "after", now - 1, chat=True)
    await asyncio.sleep(0)
    cancelled.cancel()
    await asyncio.gather(*busy, after)
    assert cancelled.cancelled()
    assert sent == ["first", "waiting", "after"]
    # And the turn is free again: a new call goes out.
    await _call(limiter, sent, "next", None, chat=True)
    assert sent[-1] == "next"
    await limiter.shutdown()
