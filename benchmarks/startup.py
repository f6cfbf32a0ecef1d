"""Start-up time and idle memory, each in a fresh interpreter: our bot against bare PTB."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from benchmarks.common import TOKEN, Measure
from bot.config import REPOSITORY

# Ready = settings read, content loaded and validated, seven catalogs loaded, Engine and
# Application built (the production HTTP client included): everything before the first poll.
OURS_READY = textwrap.dedent(
    f"""
    import sys
    from pathlib import Path
    from bot.config import load_settings
    from bot.content import load_content
    from bot.engine import Engine
    from bot.i18n import Catalogs
    from bot.telegram import build_application

    settings = load_settings(
        telegram_bot_token={TOKEN!r}, bot_database=Path(sys.argv[1]) / "bot.sqlite3"
    )
    catalogs = Catalogs()
    assert not catalogs.missing(), catalogs.missing()
    engine = Engine(load_content(settings.bot_content_dir), catalogs)
    build_application(settings, engine)
    """
)
BARE_READY = "import telegram.ext\n"

_RSS = textwrap.dedent(
    """
    def rss():
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    """
)
# Idle: built, initialized (storage open, commands set), nothing handled yet.
OURS_IDLE = _RSS + textwrap.dedent(
    f"""
    import asyncio, gc, sys
    from pathlib import Path
    from bot.config import load_settings
    from bot.content import load_content
    from bot.engine import Engine
    from bot.i18n import Catalogs
    from bot.telegram import build_application
    from bot.telegram.offline import OfflineRequest

    async def main():
        settings = load_settings(
            telegram_bot_token={TOKEN!r}, bot_database=Path(sys.argv[1]) / "bot.sqlite3"
        )
        engine = Engine(load_content(settings.bot_content_dir), Catalogs())
        app = build_application(
            settings, engine, request=OfflineRequest(record=False), rate_limit=False
        )
        await app.initialize()
        await app.post_init(app)
        gc.collect()
        print(rss())
        await app.post_shutdown(app)
        await app.shutdown()

    asyncio.run(main())
    """
)
# The same offline Bot API class, its source inlined: importing it would import the whole bot.
BARE_IDLE = (REPOSITORY / "bot" / "telegram" / "offline.py").read_text(encoding="utf-8") + _RSS
BARE_IDLE += textwrap.dedent(
    f"""
    import asyncio, gc
    from telegram.ext import ApplicationBuilder, CallbackQueryHandler, MessageHandler, filters

    async def on_press(update, context):
        await update.callback_query.answer()
        await update.callback_query.edit_message_text("menu")

    async def on_text(update, context):
        await context.bot.send_message(update.message.chat.id, update.message.text)

    async def main():
        request = OfflineRequest(record=False)
        app = ApplicationBuilder().token({TOKEN!r}).request(request).get_updates_request(request)
        app = app.build()
        app.add_handler(CallbackQueryHandler(on_press))
        app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, on_text))
        await app.initialize()
        gc.collect()
        print(rss())
        await app.shutdown()

    asyncio.run(main())
    """
)


def _run(code: str, directory: Path) -> tuple[float, str]:
    """Wall time of a fresh interpreter running code, and what it printed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "BOT_"))}
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code, str(directory)],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"benchmark subprocess failed:\n{done.stderr}")
    return elapsed, done.stdout


def _alternate(ours: str, bare: str, reps: int) -> tuple[list[float], list[float], list[str]]:
    """One untimed warm-up each (byte-code caches), then reps pairs, alternating who goes first."""
    ours_times, bare_times, outputs = [], [], []
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        for index in range(reps + 1):
            directory = Path(tmp) / str(index)
            directory.mkdir()
            if index % 2:
                bare_time, bare_out = _run(bare, directory)
                ours_time, ours_out = _run(ours, directory)
            else:
                ours_time, ours_out = _run(ours, directory)
                bare_time, bare_out = _run(bare, directory)
            if index:
                ours_times.append(ours_time)
                bare_times.append(bare_time)
                outputs.append(f"{ours_out.strip()} {bare_out.strip()}")
    return ours_times, bare_times, outputs


def startup(reps: int) -> dict[str, Measure]:
    ours, bare, _ = _alternate(OURS_READY, BARE_READY, reps)
    return {
        "startup_ratio": Measure([o / b for o, b in zip(ours, bare, strict=True)]),
        "startup_ours_ms": Measure([o * 1000 for o in ours], "ms"),
        "startup_bare_ms": Measure([b * 1000 for b in bare], "ms"),
    }


def idle_rss(reps: int) -> dict[str, Measure]:
    _, _, outputs = _alternate(OURS_IDLE, BARE_IDLE, reps)
    pairs = [tuple(int(x) for x in output.split()) for output in outputs]
    return {
        "idle_rss_ratio": Measure([o / b for o, b in pairs]),
        "idle_rss_ours_mib": Measure([o / 2**20 for o, _ in pairs], "MiB"),
        "idle_rss_bare_mib": Measure([b / 2**20 for _, b in pairs], "MiB"),
    }
