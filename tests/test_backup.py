"""Backups: `vollsmose-bot backup PATH` while the bot serves a burst of referrals writes a
consistent copy, and the copy restored as the README says runs a working bot with the same
counts."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from bot.engine import Engine
from bot.storage import SCHEMA_VERSION
from tests.botapi import Resident
from tests.e2e_helpers import (
    RecordingBotAPI,
    assert_nothing_personal,
    bot_env,
    botapi,
    integrity,
    open_menus,
    run_cli,
    start_bot,
)

__all__ = ["botapi"]

pytestmark = pytest.mark.timeout(120)

SERVICES = ("fritidsjob-hjaelp", "beskaeftigelsesmentor", "familieraadgivning", "lektiecafe")


def counts(database: Path) -> dict[str, int]:
    db = sqlite3.connect(database)
    try:
        rows = db.execute("SELECT service, sum(n) FROM referrals GROUP BY service").fetchall()
    finally:
        db.close()
    return dict(rows)


def text_of(botapi: RecordingBotAPI, resident: Resident, message_id: int) -> str | None:
    return (botapi.message(resident.id, message_id) or {}).get("text")


def schema(database: Path) -> tuple[set[str], int]:
    db = sqlite3.connect(database)
    try:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        version = db.execute("SELECT max(version) FROM schema_version").fetchone()[0]
    finally:
        db.close()
    return tables, version


async def test_backup_under_load_restores_to_a_working_bot(
    botapi: RecordingBotAPI, tmp_path: Path, engine: Engine
) -> None:
    people = [
        Resident(5_170_000_001 + n, f"Hamdi Barre-Olsen {n}", f"backup_user_{n}_vq", "da")
        for n in range(40)
    ]
    workdir = tmp_path / "work"
    bot = await start_bot(botapi, workdir)
    menus = await open_menus(botapi, people)

    # A burst of referrals to four services, and the backup in the middle of it.
    botapi.delay("editMessageText", 0.02)
    for n, person in enumerate(people):
        service = SERVICES[n % len(SERVICES)]
        botapi.push_callback(person, menus[person.id], engine.data("@" + service))
    await botapi.wait_for_calls("editMessageText", 5)
    copy = workdir / "backups" / "vollsmose-copy.sqlite3"
    code, output = await run_cli("backup", str(copy), env=bot_env(botapi.url, bot.database),
                                 cwd=workdir)  # fmt: skip
    assert code == 0, output
    assert str(copy) in output
    edits_at_backup_end = len(botapi.calls_to("editMessageText"))

    await botapi.wait_for(lambda: len(botapi.calls_to("editMessageText")) >= len(people))
    assert await bot.stop() == 0
    assert bot.log_problems() == []
    live = counts(bot.database)
    assert sum(live.values()) == len(people)

    # The copy: intact, the whole schema, and counts no higher than the live ones.
    assert integrity(copy) == "ok"
    tables, version = schema(copy)
    assert {"referrals", "usage", "preferences", "schema_version"} <= tables
    assert version == SCHEMA_VERSION
    saved = counts(copy)
    assert all(saved[service] <= live.get(service, 0) for service in saved)
    assert sum(saved.values()) >= 1
    assert edits_at_backup_end >= 5

    # Restore as the README says: the copy becomes BOT_DATABASE of a bot (here a fresh folder,
    # as after moving to a new server), without old -wal/-shm files.
    restored = tmp_path / "restored"
    (restored / "data").mkdir(parents=True)
    shutil.copy(copy, restored / "data" / "bot.sqlite3")
    again = await start_bot(botapi, restored)
    newcomer = Resident(5_179_999_999, "Idil Xasan-Nielsen", "restore_user_qq", "da")
    [menu_id] = (await open_menus(botapi, [newcomer])).values()
    botapi.push_callback(newcomer, menu_id, engine.data("mentor"))
    mentor = engine.screen("mentor", "da").text
    await botapi.wait_for(lambda: text_of(botapi, newcomer, menu_id) == mentor)
    # An old button from before the backup works on the restored bot too.
    old = people[0]
    botapi.push_callback(old, menus[old.id], engine.data("foraeldre"))
    foraeldre = engine.screen("foraeldre", "da").text
    await botapi.wait_for(lambda: text_of(botapi, old, menus[old.id]) == foraeldre)
    assert await again.stop() == 0
    assert again.log_problems() == []
    assert counts(again.database) == saved  # the same counts as the backup
    assert integrity(again.database) == "ok"

    assert_nothing_personal([*bot.files(), *again.files()], botapi.history)


async def test_backup_of_a_missing_database_is_refused(tmp_path: Path) -> None:
    """`backup` pointed at a database that does not exist (a mistyped BOT_DATABASE) fails,
    instead of creating an empty database and "backing it up" with exit 0."""
    missing = tmp_path / "nothing-here" / "bot.sqlite3"
    env = bot_env("http://127.0.0.1:9", missing)
    code, output = await run_cli("backup", str(tmp_path / "copy.sqlite3"), env=env, cwd=tmp_path)
    assert code != 0, output
    assert not missing.exists()
    assert not (tmp_path / "copy.sqlite3").exists()
