"""Process updates concurrently across residents while keeping each resident's own in order."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

from bot.telegram.limiter import ARRIVED

# The base class's semaphore is taken before our per-resident lock, so a resident's queued
# updates would hold its slots while they wait; keep it wide and bound real work ourselves.
_OUTER_SLOTS = 1_000_000


class PerResidentUpdateProcessor(BaseUpdateProcessor):
    """Updates of different chats run side by side; one chat's updates run one at a time, in order.

    A Bot API call takes tens of milliseconds; handling updates one after another would cap the
    whole bot at a few dozen a second. asyncio.Lock is FIFO and tasks start in the order the
    updates arrived, so each chat sees its updates handled in the order it sent them.
    """

    def __init__(self, max_concurrent_updates: int = 256) -> None:
        super().__init__(_OUTER_SLOTS)
        self._working = asyncio.Semaphore(max_concurrent_updates)
        self._locks: dict[int, tuple[asyncio.Lock, int]] = {}

    @staticmethod
    def _key(update: object) -> int:
        if isinstance(update, Update):
            if update.effective_chat is not None:
                return update.effective_chat.id
            if update.effective_user is not None:
                return update.effective_user.id
        return 0

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        # Replies held back by Telegram's limit go out in the order their updates arrived.
        ARRIVED.set(time.monotonic())
        key = self._key(update)
        lock, waiting = self._locks.get(key) or (asyncio.Lock(), 0)
        self._locks[key] = (lock, waiting + 1)
        try:
            async with lock, self._working:
                await coroutine
        finally:
            lock, waiting = self._locks[key]
            if waiting == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, waiting - 1)

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""
