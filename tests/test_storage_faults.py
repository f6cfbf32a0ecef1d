"""Storage faults degrade, never silence: with a full disk or a database locked by another process,
the bot (its own process) answers every resident, keeps the counts in memory, logs the fault
once, and writes every count exactly once when the database works again."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.engine import Engine
from tests.botapi import Resident
from tests.e2e_helpers import RecordingBotAPI, _press, assert_nothing_personal, botapi, start_bot

__all__ = ["botapi"]

pytestmark = pytest.mark.timeout(120)

SERVICE = "beskaeftigelsesmentor"
FAULT = "the database fails"
RECOVERED = "the database works again"


@contextlib.contextmanager
def small_filesystem(where: Path) -> Iterator[Path]:
    """A 2 MB tmpfs mounted at where (root only), unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small filesystem needs root (CI runs as root)")
    where.mkdir(parents=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(where)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=True)


def fill(folder: Path) -> Callable[[], None]:
    """Fill the filesystem of folder to the last byte; returns what frees the space again."""
    filler = folder / "filler"
    with contextlib.suppress(OSError), filler.open("wb") as out:
        while True:
            out.write(b"\0" * 4096)
            out.flush()
    return filler.unlink


def lock(database: Path) -> Callable[[], None]:
    """Hold an exclusive lock on the database from this process; returns what releases it."""
    holder = sqlite3.connect(database, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")

    def release() -> None:
        holder.execute("ROLLBACK")
        holder.close()

    return release


@pytest.mark.parametrize("fault", ["full disk", "locked"])
async def test_every_resident_answered_and_every_count_written_once_after(
    botapi: RecordingBotAPI, tmp_path: Path, engine: Engine, fault: str
) -> None:
    """Ten residents choose Somali, open a card and type a word while the database fails; each
    is answered. One log line names the fault and one its end; then each count is on disk once."""
    with contextlib.ExitStack() as stack:
        data = tmp_path / "data"
        if fault == "full disk":
            stack.enter_context(small_filesystem(data))
        bot = await start_bot(botapi, tmp_path / "work", database=data / "bot.sqlite3")
        stack.callback(bot.kill)
        end_fault = fill(data) if fault == "full disk" else lock(bot.database)

        people = [
            Resident(7_320_000_001 + n, f"Ayaan Faarax {n}", f"fault_disk_{n}_q", "so")
            for n in range(10)
        ]
        for person in people:
            botapi.push_message(person, "/start")
            await botapi.wait_for(lambda p=person: botapi.last_message(p.id), timeout=20)
            menu = await _press(botapi, person, "lang:so")
            assert menu["text"] == engine.menu("so").text
            await _press(botapi, person, "mentor")
            card = await _press(botapi, person, "@" + SERVICE)
            assert card["text"] == engine.card(SERVICE, "so").text
            botapi.push_message(person, "fritidsjob")
            await botapi.wait_for(
                lambda p=person: (
                    botapi.last_message(p.id).get("text") == engine.typed("fritidsjob", "so").text
                )
            )
        assert RECOVERED not in bot.log_text()

        end_fault()
        await botapi.wait_for(lambda: RECOVERED in bot.log_text(), timeout=30)
        assert await bot.stop() == 0

        log = bot.log_text().splitlines()
        assert len([line for line in log if FAULT in line]) == 1
        assert len([line for line in log if RECOVERED in line]) == 1
        assert not [line for line in log if line.startswith("Traceback")]
        db = sqlite3.connect(bot.database)
        try:
            assert db.execute(
                "SELECT service, sum(n) FROM referrals GROUP BY service"
            ).fetchall() == [(SERVICE, 10)]
            languages = db.execute(
                "SELECT key, sum(n) FROM usage WHERE dimension = 'language' GROUP BY key"
            ).fetchall()
            assert languages == [("so", 10)]
            assert db.execute("SELECT language, count(*) FROM preferences").fetchall() == [
                ("so", 10)
            ]
        finally:
            db.close()
        assert_nothing_personal(bot.files(), botapi.history, extra=None)
