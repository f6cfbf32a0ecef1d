"""Start-up time and idle memory, each in a fresh interpreter: our bot against bare PTB."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks.common import TOKEN, Measure
from bot.config import REPOSITORY

# Ready, as the issue defines it: all of the bot's code imported (python-telegram-bot with it),
# settings read, content loaded and validated, seven catalogs loaded, the Engine built.
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
    """
)
# Also shown: the same plus the Application built with its production HTTPS clients (system
# certificates read, httpx's connection pool imported), which a process that only imports
# python-telegram-bot does not do either.
OURS_APP = OURS_READY + textwrap.dedent(
    """
    import asyncio
    from bot.services import Services

    async def build():
        services = await Services.open(settings)
        build_application(settings, engine, services)
        await services.close()

    asyncio.run(build())
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
    from bot.services import Services
    from bot.telegram import build_application
    from bot.telegram.offline import OfflineRequest

    async def main():
        settings = load_settings(
            telegram_bot_token={TOKEN!r}, bot_database=Path(sys.argv[1]) / "bot.sqlite3"
        )
        engine = Engine(load_content(settings.bot_content_dir), Catalogs())
        services = await Services.open(settings)
        app = build_application(
            settings, engine, services, request=OfflineRequest(record=False), rate_limit=False
        )
        await app.initialize()
        await app.post_init(app)
        gc.collect()
        print(rss())
        await app.post_shutdown(app)
        await app.shutdown()
        await services.close()

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


def _alternate(codes: Sequence[str], reps: int) -> tuple[list[list[float]], list[list[str]]]:
    """One untimed warm-up each (byte-code caches), then reps rounds, rotating who goes first.
    Per code, its times and what it printed."""
    times: list[list[float]] = [[] for _ in codes]
    outputs: list[list[str]] = [[] for _ in codes]
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        for index in range(reps + 1):
            directory = Path(tmp) / str(index)
            directory.mkdir()
            for offset in range(len(codes)):
                which = (index + offset) % len(codes)
                elapsed, output = _run(codes[which], directory)
                if index:
                    times[which].append(elapsed)
                    outputs[which].append(output.strip())
    return times, outputs


def startup(reps: int) -> dict[str, Measure]:
    (ours, app, bare), _ = _alternate((OURS_READY, OURS_APP, BARE_READY), reps)
    return {
        "startup_ratio": Measure([o / b for o, b in zip(ours, bare, strict=True)]),
        "startup_app_ratio": Measure([a / b for a, b in zip(app, bare, strict=True)]),
        "startup_ours_ms": Measure([o * 1000 for o in ours], "ms"),
        "startup_app_ms": Measure([a * 1000 for a in app], "ms"),
        "startup_bare_ms": Measure([b * 1000 for b in bare], "ms"),
    }


def idle_rss(reps: int) -> dict[str, Measure]:
    _, (ours, bare) = _alternate((OURS_IDLE, BARE_IDLE), reps)
    pairs = [(int(o), int(b)) for o, b in zip(ours, bare, strict=True)]
    return {
        "idle_rss_ratio": Measure([o / b for o, b in pairs]),
        "idle_rss_ours_mib": Measure([o / 2**20 for o, _ in pairs], "MiB"),
        "idle_rss_bare_mib": Measure([b / 2**20 for _, b in pairs], "MiB"),
    }
