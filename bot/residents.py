"""What the bot does with a resident's identity: remember a language, count once a day, forget."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo

from bot.engine import Referral
from bot.i18n import LANGUAGES
from bot.privacy import DailyOnce, ResidentKey
from bot.storage import Storage, StorageFault

# Language choices unused for this many months are deleted, as /privacy promises.
KEEP_MONTHS = 6


def _month(day: dt.date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def months_before(day: dt.date, months: int) -> str:
    """The month string `months` before day's month ("2026-05" for 2026-11 and 6)."""
    index = day.year * 12 + day.month - 1 - months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


class Residents:
    """Language choices (memory first, then the database) and the day's anonymous counting.

    A resident is an opaque namespaced string from the face they use ("tg:123", "web:...").
    """

    def __init__(
        self,
        storage: Storage,
        key: ResidentKey,
        timezone: ZoneInfo,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.storage = storage
        self._key = key
        self._timezone = timezone
        self._clock = clock or (lambda: dt.datetime.now(timezone))
        # resident -> (language, month last written); memory only, so a restart costs one read.
        self._languages: dict[str, tuple[str | None, str]] = {}
        self._once = DailyOnce()

    def today(self) -> dt.date:
        """The current day in the bot's time zone: the unit of every counter."""
        return self._clock().astimezone(self._timezone).date()

    async def language(self, resident: str) -> str | None:
        """The resident's chosen language, or None if they have not chosen one."""
        month = _month(self.today())
        cached = self._languages.get(resident)
        if cached is None:
            try:
                stored = await self.storage.language(await self._key.hash(resident))
            except StorageFault:
                return None  # not cached: asked again once the database works
            if stored is None or stored[0] not in LANGUAGES:
                # Remembered as "no choice", so a newcomer's every tap does not read the disk.
                self._languages[resident] = (None, month)
                return None
            cached = stored
        if cached[0] is None:
            return None
        if cached[1] != month:
            # Refresh the last-seen month at most once a month per resident.
            await self.storage.set_language(await self._key.hash(resident), cached[0], month)
            cached = (cached[0], month)
        self._languages[resident] = cached
        return cached[0]

    async def choose(self, resident: str, language: str) -> None:
        """Remember a language choice across restarts."""
        month = _month(self.today())
        await self.storage.set_language(await self._key.hash(resident), language, month)
        self._languages[resident] = (language, month)

    async def forget(self, resident: str) -> None:
        """Delete the resident's language choice from memory and disk."""
        self._languages.pop(resident, None)
        await self.storage.forget(await self._key.hash(resident))

    async def purge(self) -> int:
        """Delete language choices not used for KEEP_MONTHS months."""
        self._languages.clear()
        return await self.storage.purge_preferences(months_before(self.today(), KEEP_MONTHS))

    async def count_language(self, resident: str, language: str) -> None:
        """Count the resident once a day under the language they use."""
        await self.count_once(resident, "language", language)

    async def count_once(self, resident: str, dimension: str, key: str) -> None:
        """Count the resident once a day under (dimension, key), e.g. ("source", "library")."""
        day = self.today()
        if self._once.first_today(day, resident, f"{dimension}:{key}"):
            await self.storage.count_usage(day, dimension, key)

    async def count_unmatched(self) -> None:
        """Count one typed message the bot did not understand (the text is not kept)."""
        await self.storage.count_usage(self.today(), "unmatched", "text")

    async def count_referral(self, resident: str, referral: Referral) -> None:
        """Count a referral once per resident, service and day; committed when this returns."""
        day = self.today()
        if self._once.first_today(day, resident, "service:" + referral.service):
            await self.storage.count_referral(day, referral.goal, referral.service)
