"""Profile one benchmark of our bot with cProfile: `python -m benchmarks.profile tap|referral|text|
report [--count N] [--sort cumulative|tottime]`. For start-up use `python -X importtime`."""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import datetime as dt
import pstats
import random
import tempfile
from pathlib import Path

from benchmarks.common import (
    CountingRequest,
    close_ours,
    make_settings,
    open_ours,
    pin_to_one_core,
    prepare_residents,
    press_json,
    text_json,
    to_updates,
)
from benchmarks.costs import CARD, TEMPLATE, typed_messages
from benchmarks.report import TIMEZONE, WEEKS, seed
from bot.config import REPOSITORY
from bot.content import load_content
from bot.engine import Engine
from bot.i18n import Catalogs
from bot.storage import Storage


async def _updates(engine: Engine, what: str, count: int, directory: Path) -> cProfile.Profile:
    app = await open_ours(make_settings(directory), engine, CountingRequest())
    try:
        residents = range(100_000, 100_000 + count)
        await prepare_residents(app, dict.fromkeys(residents, "da"), counted_today=True)
        if what == "tap":
            targets = list(engine.content.pathways)
            payloads = [
                press_json(user, engine.data(targets[i % len(targets)]), i + 1)
                for i, user in enumerate(residents)
            ]
        elif what == "referral":
            payloads = [press_json(user, engine.data(CARD), 7) for user in residents]
        else:
            texts = typed_messages(engine, TEMPLATE, count, 1, "suggest")
            payloads = [text_json(user, text) for user, text in zip(residents, texts, strict=True)]
        updates = to_updates(payloads, app)
        warm = len(updates) // 10
        for update in updates[:warm]:
            await app.process_update(update)
        profile = cProfile.Profile()
        profile.enable()
        for update in updates[warm:]:
            await app.process_update(update)
        profile.disable()
        return profile
    finally:
        await close_ours(app)


async def _report(engine: Engine, count: int, directory: Path) -> cProfile.Profile:
    from bot import stats

    path = directory / "report.sqlite3"
    await (await Storage.open(path)).close()
    today = dt.date.today()
    seed(path, engine, today, random.Random(7))
    storage = await Storage.open(path)
    try:
        weeks = stats.last_weeks(WEEKS, today)
        profile = cProfile.Profile()
        for _ in range(max(1, count // 400)):
            profile.enable()
            report = await stats.weekly_report(storage, engine.content, TIMEZONE, weeks)
            stats.to_table(report, engine.catalogs["da"])
            profile.disable()
        return profile
    finally:
        await storage.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile", description=__doc__)
    parser.add_argument("what", choices=("tap", "referral", "text", "report"))
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--sort", default="cumulative")
    parser.add_argument("--lines", type=int, default=40)
    args = parser.parse_args()
    pin_to_one_core()
    engine = Engine(load_content(REPOSITORY / "flows"), Catalogs())
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp:
        if args.what == "report":
            profile = asyncio.run(_report(engine, args.count, Path(tmp)))
        else:
            profile = asyncio.run(_updates(engine, args.what, args.count, Path(tmp)))
    pstats.Stats(profile).sort_stats(args.sort).print_stats(args.lines)


if __name__ == "__main__":
    main()
