"""The staff report over a year of counters: 50 services, 7 languages, deep-link sources."""

from __future__ import annotations

import datetime as dt
import gc
import random
import sqlite3
import time
from pathlib import Path
from typing import Any

from benchmarks.common import Measure
from bot import stats
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


async def _once(
    storage: Storage, engine: Engine, today: dt.date, weeks: int
) -> tuple[float, float]:
    """Seconds to read and sum the counters of `weeks` weeks, and to lay them out as text."""
    gc.collect()
    start = time.perf_counter()
    built = await stats.weekly_report(
        storage, engine.content, TIMEZONE, stats.last_weeks(weeks, today)
    )
    middle = time.perf_counter()
    text = stats.to_table(built, engine.catalogs["da"])
    assert len(built.weeks) == weeks
    assert text
    return middle - start, time.perf_counter() - middle


_FLOOR_QUERY = """
    SELECT day, goal, service, n FROM referrals WHERE day >= :start AND day < :end
    UNION ALL
    SELECT day, dimension, key, n FROM usage WHERE day >= :start AND day < :end
"""


def _floor(path: Path, today: dt.date, weeks: int) -> float:
    """Seconds for one plain SQL query to read every counter row the report covers."""
    span = stats.last_weeks(weeks, today)
    start, end = span[0].start.isoformat(), span[-1].end.isoformat()
    gc.collect()
    with sqlite3.connect(path) as db:
        began = time.perf_counter()
        rows = db.execute(_FLOOR_QUERY, {"start": start, "end": end}).fetchall()
        took = time.perf_counter() - began
    db.close()
    assert rows
    return took


async def report(engine: Engine, directory: Path, reps: int) -> dict[str, Any]:
    """Milliseconds to build the 52-week report (and its table text) from a year of counters,
    and the Monday report of one week from the same database."""
    path = directory / "report.sqlite3"
    storage = await Storage.open(path)  # creates the folder, applies the migrations
    await storage.close()
    today = dt.date.today()
    rows = seed(path, engine, today, random.Random(7))
    storage = await Storage.open(path)
    build_ms, table_ms, total_ms, week_ms, floor_ms = [], [], [], [], []
    try:
        for index in range(reps + 1):  # the first one warms up
            build, table = await _once(storage, engine, today, WEEKS)
            week = sum(await _once(storage, engine, today, 1))
            floor = _floor(path, today, WEEKS)
            if index:
                floor_ms.append(floor * 1000)
                build_ms.append(build * 1000)
                table_ms.append(table * 1000)
                total_ms.append((build + table) * 1000)
                week_ms.append(week * 1000)
    finally:
        await storage.close()
    return {
        "report_ms": Measure(total_ms, "ms"),
        "report_floor_ms": Measure(floor_ms, "ms"),
        "report_ratio": Measure([t / f for t, f in zip(total_ms, floor_ms, strict=True)], "×"),
        "report_build_ms": Measure(build_ms, "ms"),
        "report_table_ms": Measure(table_ms, "ms"),
        "report_week_ms": Measure(week_ms, "ms"),
        "report_rows": rows,
        "report_note": f"bot.stats: /stats {WEEKS} (a year of weeks)",
    }
