"""Telegram's rate limit, with waiting replies sent in the order their updates arrived."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable, Coroutine
from contextvars import ContextVar
from typing import Any

from telegram.ext import AIORateLimiter, BaseRateLimiter

# When the update being handled reached the bot; set by the update processor for its handlers.
ARRIVED: ContextVar[float | None] = ContextVar("arrived", default=None)

_Result = bool | dict[str, Any] | list[dict[str, Any]]


class ArrivalOrderLimiter(BaseRateLimiter[int]):
    """AIORateLimiter, with the calls it holds back released oldest update first.

    One resident's updates are handled one after another, so when Telegram's limit queues
    replies, a resident's second press asks for its slot only when the first press's reply has
    gone out. In plain first-come order it then waits behind every press that arrived meanwhile;
    here it takes its place by when the resident pressed. Calls without a chat (button answers)
    are not limited and pass at once.
    """

    __slots__ = ("_order", "_passing", "_waiting", "inner")

    def __init__(self, inner: AIORateLimiter) -> None:
        self.inner = inner
        # (arrival, order of asking, granted): the next call to enter the inner limiter.
        self._waiting: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._passing = False  # a call holds the turn: it is on its way into the inner limiter

    async def initialize(self) -> None:
        """Set up the inner limiter."""
        await self.inner.initialize()

    async def shutdown(self) -> None:
        """Release the inner limiter."""
        await self.inner.shutdown()

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, _Result]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> _Result:
        """Wait for this update's turn, then for the inner limiter, then make the call."""
        limited = data.get("chat_id") is not None  # the only calls the inner limiter holds back
        if limited:
            await self._turn(ARRIVED.get() or time.monotonic())
        handed_on = not limited

        async def call(*call_args: Any, **call_kwargs: Any) -> _Result:
            # Inside the inner limiter: the next call may queue for it now. A retry after a 429
            # comes here again and must not hand the turn on twice.
            nonlocal handed_on
            if not handed_on:
                handed_on = True
                self._hand_on()
            return await callback(*call_args, **call_kwargs)

        try:
            return await self.inner.process_request(
                callback=call,
                args=args,
                kwargs=kwargs,
                endpoint=endpoint,
                data=data,
                rate_limit_args=rate_limit_args,
            )
        finally:
            if not handed_on:  # failed or cancelled before reaching Telegram
                self._hand_on()

    async def _turn(self, arrived: float) -> None:
        if not self._passing and not self._waiting:
            self._passing = True
            return
        granted = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (arrived, next(self._order), granted))
        try:
            await granted
        except asyncio.CancelledError:
            if granted.done() and not granted.cancelled():  # granted, then cancelled: pass it on
                self._hand_on()
            raise

    def _hand_on(self) -> None:
        """Give the turn to the oldest update still waiting, or free it."""
        while self._waiting:
            granted = heapq.heappop(self._waiting)[2]
            if not granted.done():  # a cancelled waiter leaves its future cancelled
                granted.set_result(None)
                return
        self._passing = False
