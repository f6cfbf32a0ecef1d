"""Crash safety: SIGKILL in the middle of a burst of referrals, then a restart on the same
database; SIGTERM in the middle of a burst finishes the updates in hand and closes the database."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.engine import Engine
from tests.botapi import Resident
from tests.e2e_helpers import (
    RecordingBotAPI,
    assert_nothing_personal,
    botapi,
    integrity,
    open_menus,
    referral_count,
    start_bot,
)

__all__ = ["botapi"]

pytestmark = pytest.mark.timeout(120)

SERVICE = "fritidsjob-hjaelp"


def residents(count: int) -> list[Resident]:
    return [
        Resident(6_420_000_001 + n, f"Ubah Cabdullahi {n}", f"crash_user_{n}_zx", "da")
        for n in range(count)
    ]


def card_prefix(engine: Engine) -> str:
    return engine.catalogs["da"].gettext(engine.content.services[SERVICE].name) + "\n"


def carded(botapi: RecordingBotAPI, people: list[Resident], menus: dict[int, int], card: str):
    """The residents whose menu message the server has turned into the contact card."""
    return [
        p
        for p in people
        if (botapi.message(p.id, menus[p.id]) or {}).get("text", "").startswith(card)
    ]


def copy_database(database: Path, into: Path) -> Path:
    """Copy the database with its WAL and shared memory, as they are on disk right now."""
    into.mkdir(parents=True)
    for suffix in ("", "-journal", "-wal", "-shm"):
        source = database.with_name(database.name + suffix)
        if source.exists():
            shutil.copy(source, into / source.name)
    return into / database.name


async def test_sigkill_mid_burst_loses_and_doubles_nothing(
    botapi: RecordingBotAPI, tmp_path: Path, engine: Engine
) -> None:
    """60 residents open a contact card at once; the bot is killed after some cards were sent.
    The database is intact, every card sent was counted, nobody twice; after a restart on the
    same database, buttons of messages sent before the crash still work."""
    people = residents(60)
    workdir = tmp_path / "work"
    bot = await start_bot(botapi, workdir)
    menus = await open_menus(botapi, people)
    card = card_prefix(engine)

    botapi.delay("editMessageText", 0.05)  # keep the burst in flight
    for person in people:
        botapi.push_callback(person, menus[person.id], engine.data("@" + SERVICE))
    await botapi.wait_for(lambda: len(carded(botapi, people, menus, card)) >= 10, timeout=30)
    bot.kill()
    shown = carded(botapi, people, menus, card)
    botapi.delay("editMessageText", 0)
    assert len(shown) < len(people), "the kill came after the burst: nothing was tested"

    # The files exactly as the killed process left them (WAL not checkpointed).
    crashed = copy_database(bot.database, tmp_path / "crashed")
    assert integrity(crashed) == "ok"
    counted = referral_count(crashed, SERVICE)
    assert len(shown) <= counted <= len(people)

    # Restart on the same database: old buttons still lead to their screens.
    again = await start_bot(botapi, workdir)
    waiting = next(p for p in people if p not in shown)
    for person in (shown[0], waiting):
        message = botapi.message(person.id, menus[person.id])
        assert message is not None
        rows = message["reply_markup"]["inline_keyboard"]
        data = next(b["callback_data"] for row in rows for b in row if "callback_data" in b)
        expected = engine.press(data, "da")
        assert expected.screen != "updated"
        botapi.push_callback(person, menus[person.id], data)
        await botapi.wait_for(
            lambda p=person, t=expected.text: (
                (botapi.message(p.id, menus[p.id]) or {}).get("text") == t
            )
        )
    assert await again.stop() == 0
    assert again.log_problems() == []
    assert integrity(bot.database) == "ok"
    assert referral_count(bot.database, SERVICE) == counted  # nothing replayed, nothing lost
    assert_nothing_personal(again.files(), botapi.history)


async def test_sigterm_mid_burst_finishes_the_updates_in_hand(
    botapi: RecordingBotAPI, tmp_path: Path, engine: Engine
) -> None:
    """SIGTERM while a burst of cards is being sent: the updates already received are finished
    (every card sent and counted), the process exits 0, the database is checkpointed and closed."""
    people = residents(40)
    bot = await start_bot(botapi, tmp_path / "work")
    menus = await open_menus(botapi, people)
    card = card_prefix(engine)

    botapi.delay("editMessageText", 0.05)
    for person in people:
        botapi.push_callback(person, menus[person.id], engine.data("@" + SERVICE))
    await botapi.wait_for(lambda: len(carded(botapi, people, menus, card)) >= 5, timeout=30)
    assert len(carded(botapi, people, menus, card)) < len(people)
    assert await bot.stop() == 0

    assert carded(botapi, people, menus, card) == people
    assert bot.log_problems() == []
    assert "stopped cleanly" in bot.log_text()
    wal = bot.database.with_name(bot.database.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0
    assert integrity(bot.database) == "ok"
    assert referral_count(bot.database, SERVICE) == len(people)
    assert_nothing_personal(bot.files(), botapi.history)
