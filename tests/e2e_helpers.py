"""Shared end-to-end helpers: the bot as its own process against the fake Bot API, button presses,
and the privacy audit of every file the bot wrote."""

from __future__ import annotations

import asyncio
import copy
import os
import re
import signal
import sqlite3
import subprocess
import sys
import unicodedata
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bot.engine import Engine
from bot.services import Services
from bot.telegram.context import GuideApplication
from tests.botapi import FakeBotAPI, Json, Resident
from tests.conftest import TOKEN

# A bare command ("/start") is the bot's vocabulary, not something personal a resident typed.
_BARE_COMMAND = re.compile(r"/[a-z_]+(@\w+)?")


class RecordingBotAPI(FakeBotAPI):
    """FakeBotAPI that keeps every update it delivered, for the privacy audit afterwards."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.history: list[Json] = []

    def push_update(self, update: Json) -> Json:
        pushed = super().push_update(update)
        self.history.append(copy.deepcopy(pushed))
        return pushed


@dataclass
class BotProcess:
    """`python -m bot ...` running in its own working folder, logging to workdir/bot.log."""

    process: subprocess.Popen[bytes]
    database: Path
    log: Path
    workdir: Path
    extra_files: list[Path] = field(default_factory=list)

    async def stop(self) -> int:
        """SIGTERM, then wait while the event loop keeps the Bot API server answering."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        for _ in range(400):
            if self.process.poll() is not None:
                break
            await asyncio.sleep(0.05)
        else:
            self.process.kill()
        return self.process.wait()

    def kill(self) -> int:
        """SIGKILL: the process gets no chance to finish anything."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        return self.process.wait()

    def files(self) -> list[Path]:
        """Every file the bot wrote: database, WAL, shared memory, secret key, its log."""
        inside = [p for p in self.workdir.rglob("*") if p.is_file()]
        return inside + [p for p in self.extra_files if p.is_file()]

    def written_bytes(self) -> bytes:
        """The contents of every file the bot wrote, joined."""
        return b"".join(p.read_bytes() for p in self.files())

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def log_problems(self) -> list[str]:
        """Log lines at ERROR or CRITICAL level, and tracebacks."""
        return [
            line
            for line in self.log_text().splitlines()
            if " ERROR " in line or " CRITICAL " in line or line.startswith("Traceback")
        ]


def bot_env(api_url: str, database: Path, **extra: str) -> dict[str, str]:
    """The environment of a bot process: this one's, minus any bot settings, plus these."""
    env = dict(os.environ)
    env |= {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": api_url,
        "BOT_DATABASE": str(database),
        "BOT_LOG_LEVEL": "DEBUG",
    }
    return env | extra


def launch_bot(api_url: str, workdir: Path, *args: str, database: Path | None = None) -> BotProcess:
    """Start `python -m bot run ARGS` in workdir, logging to workdir/bot.log; do not wait."""
    workdir.mkdir(parents=True, exist_ok=True)
    database = database or workdir / "data" / "bot.sqlite3"
    log = workdir / "bot.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "run", *args],
            cwd=workdir,
            env=bot_env(api_url, database),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    return BotProcess(process, database, log, workdir)


async def start_bot(
    botapi: FakeBotAPI, workdir: Path, *args: str, database: Path | None = None
) -> BotProcess:
    """Start the bot; return once it polls (or, with --webhook, once it set its webhook)."""
    webhook = "--webhook" in args
    ready_method = "setWebhook" if webhook else "getUpdates"
    before = len(botapi.calls_to(ready_method))
    bot = launch_bot(botapi.url, workdir, *args, database=database)

    def ready() -> bool:
        if bot.process.poll() is not None:
            raise AssertionError(f"the bot exited with {bot.process.returncode}:\n{bot.log_text()}")
        calls = botapi.calls_to(ready_method)
        return len(calls) > before and (not webhook or calls[-1].status == 200)

    try:
        await botapi.wait_for(ready, timeout=30)
    except BaseException:
        bot.kill()
        raise
    return bot


@asynccontextmanager
async def polling(
    application: GuideApplication, services: Services
) -> AsyncIterator[GuideApplication]:
    """The Application long-polling the Bot API server in this process, in `run_polling`'s
    order of steps; afterwards stopped, shut down and its services closed."""
    await application.initialize()
    await application.post_init(application)  # type: ignore[misc]
    assert application.updater is not None
    await application.updater.start_polling(poll_interval=0, timeout=1)
    await application.start()
    try:
        yield application
    finally:
        await application.updater.stop()
        await application.stop()
        await application.post_shutdown(application)  # type: ignore[misc]
        await application.shutdown()
        await services.close()


async def run_cli(*args: str, env: dict[str, str], cwd: Path) -> tuple[int, str]:
    """Run `python -m bot ARGS` without blocking the event loop (the fake server must answer)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    assert process.returncode is not None
    return process.returncode, output.decode(errors="replace")


@pytest.fixture
async def botapi() -> AsyncIterator[RecordingBotAPI]:
    async with RecordingBotAPI(token=TOKEN) as server:
        yield server


@pytest.fixture
async def running(botapi: RecordingBotAPI, tmp_path: Path) -> AsyncIterator[BotProcess]:
    """The bot as a separate process, pointed at the loopback server, ready to serve.

    On teardown the bot is stopped and every file it wrote is audited for personal data.
    """
    bot = await start_bot(botapi, tmp_path / "work")
    try:
        yield bot
    finally:
        await bot.stop()
    assert_nothing_personal(bot.files(), botapi.history)


# -- buttons --------------------------------------------------------------------------------------


def _data(message: dict, target: str) -> str:
    """The callback data of the message's button that leads to target."""
    for row in message["reply_markup"]["inline_keyboard"]:
        for button in row:
            if "callback_data" in button and Engine.parse(button["callback_data"])[0] == target:
                return button["callback_data"]
    raise AssertionError(f"no button to {target} in {message['text'][:60]!r}")


def map_link(message: dict) -> str | None:
    """Where the message's "Show on map" button leads, if it has one (a contact card)."""
    for row in message.get("reply_markup", {}).get("inline_keyboard", []):
        for button in row:
            if "url" in button:
                return str(button["url"])
    return None


def _menu_message(botapi: FakeBotAPI, resident: Resident) -> dict:
    """The resident's latest bot message that has buttons."""
    for snapshot in reversed(botapi.messages_to(resident.id)):
        if "reply_markup" in snapshot:
            current = botapi.message(resident.id, snapshot["message_id"])
            assert current is not None
            return current
    raise AssertionError("no message with buttons")


async def _press(botapi: FakeBotAPI, resident: Resident, target: str) -> dict:
    """Press the button to target on the resident's latest message; return the next message."""
    before = len(botapi.messages_to(resident.id))
    message = _menu_message(botapi, resident)
    botapi.push_callback(resident, message["message_id"], _data(message, target))
    await botapi.wait_for(lambda: len(botapi.messages_to(resident.id)) > before)
    return botapi.messages_to(resident.id)[before]


async def open_menus(botapi: FakeBotAPI, residents: Iterable[Resident]) -> dict[int, int]:
    """Each resident sends /menu; returns resident id -> message id of the menu they got."""
    residents = list(residents)
    for resident in residents:
        botapi.push_message(resident, "/menu")
    await botapi.wait_for(lambda: all(botapi.last_message(r.id) for r in residents), timeout=30)
    return {r.id: botapi.last_message(r.id)["message_id"] for r in residents}  # type: ignore[index]


def referral_count(database: Path, service: str) -> int:
    """The service's referrals over all days, read from a closed (or live WAL) database."""
    db = sqlite3.connect(database)
    try:
        row = db.execute(
            "SELECT coalesce(sum(n), 0) FROM referrals WHERE service = ?", (service,)
        ).fetchone()
    finally:
        db.close()
    return int(row[0])


def integrity(database: Path) -> str:
    db = sqlite3.connect(database)
    try:
        return str(db.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        db.close()


# -- privacy audit -------------------------------------------------------------------------------


def distinctive(text: str | None) -> bool:
    """Long and varied enough that finding it in a file cannot be chance or the bot's vocabulary.

    The brief is "typed texts of 4 characters or more"; a text like "0000" or "\\0\\0\\0\\0" is
    in every SQLite file by chance, so at least three different visible characters and six
    bytes are asked for as well.
    """
    if not text or len(text) < 4 or len(text.encode()) < 6:
        return False
    visible = {c for c in text if unicodedata.category(c)[0] not in "CZ"}
    return len(visible) >= 3


@dataclass
class Personal:
    """Everything personal that reached the bot: user ids, names and usernames, typed texts."""

    ids: set[int] = field(default_factory=set)
    names: set[str] = field(default_factory=set)
    texts: set[str] = field(default_factory=set)

    def add_user(self, user: Json) -> None:
        if user.get("is_bot"):
            return
        if isinstance(user.get("id"), int):
            self.ids.add(user["id"])
        for key in ("first_name", "last_name", "username"):
            if isinstance(user.get(key), str):
                self.names.add(user[key])

    def add_text(self, text: str) -> None:
        if not _BARE_COMMAND.fullmatch(text.strip()):
            self.texts.add(text)

    def collect(self, value: Any) -> None:
        """Walk a raw update (or anything JSON) and collect what is personal in it."""
        if isinstance(value, list):
            for item in value:
                self.collect(item)
            return
        if not isinstance(value, dict):
            return
        if "is_bot" in value and "id" in value:
            self.add_user(value)
        if value.get("type") == "private" and "id" in value:
            self.add_user(value)
        for key in ("text", "caption", "phone_number", "vcard", "question", "query", "file_name"):
            if isinstance(value.get(key), str):
                self.add_text(value[key])
        if "phone_number" in value:  # a shared contact: someone else's names
            for key in ("first_name", "last_name"):
                if isinstance(value.get(key), str):
                    self.names.add(value[key])
        for item in value.values():
            self.collect(item)

    def needles(self, binary: bool = True) -> Iterator[tuple[str, bytes]]:
        """(what, bytes to search for): ids in decimal and as 8-byte integers, names, texts."""
        for user_id in self.ids:
            yield f"user id {user_id}", str(user_id).encode()
            # As 8-byte integers, but only ids whose bytes are varied enough not to be found in
            # a database file by chance (2**52 is 00 10 00 00 00 00 00 00).
            if binary and len(set(user_id.to_bytes(8, "big", signed=True))) >= 4:
                for order in ("big", "little"):
                    yield (
                        f"user id {user_id} ({order}-endian)",
                        user_id.to_bytes(8, order, signed=True),
                    )
        for kind, words in (("name", self.names), ("text", self.texts)):
            for word in words:
                if distinctive(word):
                    yield f"{kind} {word[:40]!r}", word.encode()


def find_personal(
    files: Iterable[Path], personal: Personal, allowed: Iterable[str] = ()
) -> list[str]:
    """What of `personal` (and the bot token) is found in the files; [] when nothing is."""
    allowed = [a for a in allowed if a]
    found = []
    for path in files:
        data = path.read_bytes()
        for what, needle in personal.needles():
            if needle in data and not any(needle.decode(errors="ignore") in a for a in allowed):
                found.append(f"{path.name}: {what}")
        for what, needle in (("the token", TOKEN), ("the token's secret", TOKEN.split(":")[1])):
            if needle.encode() in data:
                found.append(f"{path.name}: {what}")
    return found


def assert_nothing_personal(
    files: Iterable[Path], history: Iterable[Json], *, extra: Personal | None = None
) -> None:
    """No resident id, name, username or typed text, and not the token, in any file."""
    personal = extra or Personal()
    personal.collect(list(history))
    found = find_personal(files, personal)
    assert not found, "personal data or the token on disk:\n" + "\n".join(found)
