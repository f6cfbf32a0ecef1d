"""Bytes each resident keeps in memory: the day's de-duplication keys and the language cache."""

from __future__ import annotations

import datetime as dt
import gc
import tracemalloc
from typing import Any
from zoneinfo import ZoneInfo

from benchmarks.common import Measure
from bot.i18n import LANGUAGES
from bot.privacy import ResidentKey
from bot.residents import Residents


class _NoDisk:
    """Residents' storage with nothing behind it: only what Residents keeps in memory is left."""

    async def set_language(self, resident: bytes, language: str, month: str) -> None:
        return None

    async def language(self, resident: bytes) -> tuple[str, str] | None:
        return None

    async def count_usage(self, day: dt.date, dimension: str, key: str) -> None:
        return None

    async def count_referral(self, day: dt.date, goal: str, service: str) -> None:
        return None


async def bytes_per_resident(count: int) -> float:
    """Traced bytes still held after `count` residents each chose a language and were counted
    today (one language cache entry and one de-duplication key each), divided by count."""
    residents = Residents(
        _NoDisk(),  # type: ignore[arg-type]
        ResidentKey(b"\x01" * 32),
        ZoneInfo("Europe/Copenhagen"),
    )
    # The first call allocates the day's key and the empty containers: not per resident.
    await residents.count_language("tg:1", "da")
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for user_id in range(10_000_000, 10_000_000 + count):
            language = LANGUAGES[user_id % len(LANGUAGES)]
            await residents.choose(f"tg:{user_id}", language)
            await residents.count_language(f"tg:{user_id}", language)
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return (after - before) / count


async def per_resident(counts: tuple[int, ...], reps: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    keys = ("bytes_per_resident_10k", "bytes_per_resident_100k")
    for count, key in zip(counts, keys, strict=True):
        results[key] = Measure([await bytes_per_resident(count) for _ in range(reps)], "B")
        results[key + "_count"] = count
    return results
