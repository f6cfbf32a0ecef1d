"""The staff report over a year of counters: 50 services, 7 languages, deep-link sources."""

from __future__ import annotations

import datetime as dt
import gc
import importlib
import importlib.util
import random
import sqlite3
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from benchmarks.common import Measure
from bot.engine import Engine
from bot.i18n import LANGUAGES
from bot.storage import Storage

TIMEZONE = "Europe/Copenhagen"
SERVICES = 50
DAYS = 365
WEEKS = 52  # /stats 52: the longest report staff can ask for, a whole year of weeks
SOURCES = ("library", "school", "poster", "facebook", "housing-office", "other")


def seed(path: Path, engine: Engine, today: dt.date, rng: random.Random) -> int:
    """A year of daily counters written straight into the migrated tables; returns the rows."""
    content = engine.content
    services = [(sid, service.goals[0]) for sid, service in content.services.items()]
    goals = list(content.goals)
    while len(services) < SERVICES:
        services.append((f"bench-service-{len(services)}", goals[len(services) % len(goals)]))
    services = services[:SERVICES]
    referrals, usage = [], []
    for back in range(DAYS):
        day = (today - dt.timedelta(days=back)).isoformat()
        for sid, goal in services:
            if rng.random() < 0.6:
                referrals.append((day, goal, sid, rng.randint(1, 12)))
        for language in LANGUAGES:
            usage.append((day, "language", language, rng.randint(1, 80)))
        for source in SOURCES:
            if rng.random() < 0.5:
                usage.append((day, "source", source, rng.randint(1, 6)))
        usage.append((day, "unmatched", "text", rng.randint(0, 9)))
    with sqlite3.connect(path) as db:
        db.executemany(
            "INSERT INTO referrals (day, goal, service, n) VALUES (?, ?, ?, ?)", referrals
        )
        db.executemany("INSERT INTO usage (day, dimension, key, n) VALUES (?, ?, ?, ?)", usage)
    db.close()
    return len(referrals) + len(usage)


def _stats_module() -> Any | None:
    """bot.stats once another engineer has written it (weekly_report and last_weeks)."""
    if importlib.util.find_spec("bot.stats") is None:
        return None
    module = importlib.import_module("bot.stats")
    if not all(hasattr(module, name) for name in ("weekly_report", "last_weeks")):
        return None
    return module


async def _equivalent(storage: Storage, today: dt.date, weeks: int) -> int:
    """Stand-in while bot.stats is pending: the same reads, summed per ISO week."""
    since = today - dt.timedelta(weeks=weeks + 1)
    until = today + dt.timedelta(days=1)
    per_week: defaultdict[tuple[int, int], Counter[str]] = defaultdict(Counter)
    for day, goal, service, n in await storage.referrals(since, until):
        week = tuple(dt.date.fromisoformat(day).isocalendar()[:2])
        per_week[week][goal] += n  # type: ignore[index]
        per_week[week]["@" + service] += n  # type: ignore[index]
    for day, dimension, key, n in await storage.usage(since, until):
        week = tuple(dt.date.fromisoformat(day).isocalendar()[:2])
        per_week[week][f"{dimension}:{key}"] += n  # type: ignore[index]
    return len(per_week)


async def _once(
    stats: Any, storage: Storage, engine: Engine, today: dt.date, weeks: int
) -> tuple[float, float]:
    """Seconds to read and sum the counters of `weeks` weeks, and to lay them out as text."""
    gc.collect()
    start = time.perf_counter()
    if stats is not None:
        built = await stats.weekly_report(
            storage, engine.content, TIMEZONE, stats.last_weeks(weeks, today)
        )
        middle = time.perf_counter()
        text = stats.to_table(built, engine.catalogs["da"]) if hasattr(stats, "to_table") else ""
        assert len(built.weeks) == weeks
        assert text
    else:
        assert await _equivalent(storage, today, weeks) >= weeks
        middle = time.perf_counter()
    return middle - start, time.perf_counter() - middle


async def report(engine: Engine, directory: Path, reps: int) -> dict[str, Any]:
    """Milliseconds to build the 52-week report (and its table text) from a year of counters,
    and the Monday report of one week from the same database."""
    path = directory / "report.sqlite3"
    storage = await Storage.open(path)  # creates the folder, applies the migrations
    await storage.close()
    today = dt.date.today()
    rows = seed(path, engine, today, random.Random(7))
    stats = _stats_module()
    storage = await Storage.open(path)
    build_ms, table_ms, total_ms, week_ms = [], [], [], []
    try:
        for index in range(reps + 1):  # the first one warms up
            build, table = await _once(stats, storage, engine, today, WEEKS)
            week = sum(await _once(stats, storage, engine, today, 1))
            if index:
                build_ms.append(build * 1000)
                table_ms.append(table * 1000)
                total_ms.append((build + table) * 1000)
                week_ms.append(week * 1000)
    finally:
        await storage.close()
    return {
        "report_ms": Measure(total_ms, "ms"),
        "report_build_ms": Measure(build_ms, "ms"),
        "report_table_ms": Measure(table_ms, "ms"),
        "report_week_ms": Measure(week_ms, "ms"),
        "report_rows": rows,
        "report_note": (
            f"bot.stats: /stats {WEEKS} (a year of weeks)"
            if stats is not None
            else "stats module pending: equivalent Storage.referrals()/usage() queries"
        ),
    }
