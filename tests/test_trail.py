"""No trail on disk: a snapshot of the data folder, taken at any moment of a busy session or
after a SIGKILL, holds the current totals and nothing about the order they were reached in, and a
resident who sent /forget cannot be found in it.

Linking a resident (their keyed hash), a language and a service needs at least two states of the
database to compare: a write-ahead log keeps one per commit until a checkpoint, and replaying
them commit by commit shows whose language choice came just before which service's count. The
audit below recovers every past state that a write-ahead log or a rollback journal in the folder
holds, and expects none.
"""

from __future__ import annotations

import asyncio
import shutil
import struct
from pathlib import Path

import pytest

from bot.engine import Engine
from bot.privacy import ResidentKey
from tests.botapi import Resident
from tests.e2e_helpers import (
    RecordingBotAPI,
    _press,
    assert_nothing_personal,
    botapi,
    referral_count,
    start_bot,
)

__all__ = ["botapi"]

pytestmark = pytest.mark.timeout(120)

JOURNAL_MAGIC = bytes.fromhex("d9d505f920a163d7")
# Each language's residents walk to a different service, so order would give language away.
WALKS = {
    "so": ["fritidsjob", "fritidsjob.age13", "@fritidsjob-hjaelp"],
    "ar": ["mentor", "@beskaeftigelsesmentor"],
    "tr": ["foraeldre", "@familieraadgivning"],
    "da": ["tryghed", "tryghed.numbers", "@alarm-112"],
}


def wal_commits(data: bytes) -> int:
    """Commits a write-ahead log holds (frames whose salts match its header and that end a
    transaction): each is one past state of the database to replay."""
    if len(data) < 32:
        return 0
    page_size = struct.unpack(">I", data[8:12])[0] or 65536
    salts = data[16:24]
    commits = 0
    for offset in range(32, len(data) - 24, 24 + page_size):
        header = data[offset : offset + 24]
        if header[8:16] != salts:
            break
        commits += struct.unpack(">I", header[4:8])[0] != 0
    return commits


def journal_transactions(data: bytes) -> int:
    """Transactions a rollback journal holds: one while it is hot, none once emptied or zeroed."""
    return int(data[:8] == JOURNAL_MAGIC)


def past_states(folder: Path) -> int:
    """Past states of the database recoverable from the files in the folder."""
    states = 0
    for path in folder.iterdir():
        if path.name.endswith("-wal"):
            states += wal_commits(path.read_bytes())
        elif path.name.endswith("-journal"):
            states += journal_transactions(path.read_bytes())
    return states


def snapshot(database: Path, into: Path) -> Path:
    """Copy the data folder as it is on disk right now."""
    shutil.copytree(database.parent, into)
    return into


async def walk(botapi: RecordingBotAPI, engine: Engine, resident: Resident, language: str) -> None:
    """/start, choose a language, walk that language's way to its contact card."""
    botapi.push_message(resident, "/start")
    await botapi.wait_for(lambda: botapi.last_message(resident.id))
    await _press(botapi, resident, "lang:" + language)
    for target in WALKS[language]:
        await _press(botapi, resident, target)


async def test_a_snapshot_holds_totals_and_no_history(
    botapi: RecordingBotAPI, tmp_path: Path, engine: Engine
) -> None:
    """32 residents in four languages, one after another and eight at a time, each open their
    language's service; every fourth sends /forget. Snapshots taken throughout and after a
    SIGKILL hold no past state to replay, the counts are right, and the forgotten residents'
    hashes are in no file."""
    bot = await start_bot(botapi, tmp_path / "work")
    languages = list(WALKS)
    people = [
        Resident(7_310_000_001 + n, f"Trail Person {n}", f"trail_user_{n}_q", None)
        for n in range(32)
    ]
    snapshots = []
    for n, person in enumerate(people[:16]):
        await walk(botapi, engine, person, languages[n % 4])
        snapshots.append(snapshot(bot.database, tmp_path / f"sequential-{n}"))
    for start in range(16, 32, 8):
        group = people[start : start + 8]
        await asyncio.gather(
            *(walk(botapi, engine, p, languages[n % 4]) for n, p in enumerate(group))
        )
        snapshots.append(snapshot(bot.database, tmp_path / f"together-{start}"))
    forgotten = people[::4]
    for person in forgotten:
        before = len(botapi.messages_to(person.id))
        botapi.push_message(person, "/forget")
        await botapi.wait_for(lambda p=person, b=before: len(botapi.messages_to(p.id)) > b)
    snapshots.append(snapshot(bot.database, tmp_path / "after-forget"))
    bot.kill()
    snapshots.append(snapshot(bot.database, tmp_path / "killed"))

    assert {folder.name: past_states(folder) for folder in snapshots} == {
        folder.name: 0 for folder in snapshots
    }
    killed = tmp_path / "killed" / bot.database.name
    for language, walk_targets in WALKS.items():
        assert referral_count(killed, walk_targets[-1][1:]) == 8, language
    key = ResidentKey.from_file(bot.database.with_suffix(".secret"))
    remembered = [person for person in people if person not in forgotten]
    for folder in snapshots[-2:]:
        files = b"".join(path.read_bytes() for path in folder.iterdir())
        assert [p.id for p in forgotten if key(f"tg:{p.id}") in files] == []
        # The search looks in the right place: those who did not forget are found.
        assert all(key(f"tg:{p.id}") in files for p in remembered)
    assert_nothing_personal([p for s in snapshots for p in s.iterdir()], botapi.history)
