"""The SQLite file: migrations, counters, language choices, backups, no personal data on disk."""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
import stat
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import bot.storage
from bot.engine import Referral
from bot.privacy import ResidentKey
from bot.residents import Residents
from bot.storage import MIGRATIONS, DatabaseTooNewError, Storage

COPENHAGEN = ZoneInfo("Europe/Copenhagen")
DAY = dt.date(2026, 11, 26)
TELEGRAM_ID = 987654321
RESIDENT = f"tg:{TELEGRAM_ID}"
OTHER = f"tg:{TELEGRAM_ID + 1}"


@contextlib.contextmanager
def raw(path: Path) -> Iterator[sqlite3.Connection]:
    """A plain sqlite3 connection to look at the file the way an operator would."""
    connection = sqlite3.connect(path)
    try:
        yield connection
    finally:
        connection.close()


def tables(path: Path) -> set[str]:
    with raw(path) as db:
        return {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def versions(path: Path) -> list[int]:
    with raw(path) as db:
        return [row[0] for row in db.execute("SELECT version FROM schema_version ORDER BY 1")]


async def refusal(path: Path) -> BaseException:
    """Open a database that should be refused; if it opens after all, close it and fail."""
    try:
        store = await Storage.open(path)
    except Exception as exc:
        return exc
    await store.close()
    pytest.fail(f"{path} opened, but should have been refused")


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "vollsmose.sqlite3"


@pytest.fixture
async def storage(db_path: Path) -> AsyncIterator[Storage]:
    store = await Storage.open(db_path)
    yield store
    await store.close()


async def test_fresh_file_has_a_rollback_journal_and_all_migrations(db_path: Path) -> None:
    """A new database (and its folder) is created at the current schema version, with a rollback
    journal (file format 1, not WAL's 2) and no write-ahead log beside it."""
    store = await Storage.open(db_path)
    await store.count_usage(dt.date(2026, 12, 1), "language", "so")
    assert {name: len(data) for name, data in _files(db_path).items() if name != db_path.name} == {
        "vollsmose.sqlite3-journal": 0
    }
    await store.close()
    assert _files(db_path)[db_path.name][18:20] == b"\x01\x01"
    assert versions(db_path) == list(range(1, len(MIGRATIONS) + 1))
    assert {"referrals", "usage", "preferences", "schema_version"} <= tables(db_path)


async def test_reopening_applies_nothing_twice_and_keeps_counts(db_path: Path) -> None:
    """A restart keeps the counts and does not run any migration again."""
    store = await Storage.open(db_path)
    await store.count_referral(DAY, "arbejde", "fritidsjob-hjaelp")
    await store.close()
    store = await Storage.open(db_path)
    try:
        rows = await store.referrals(DAY, DAY + dt.timedelta(days=1))
    finally:
        await store.close()
    assert rows == [(DAY.isoformat(), "arbejde", "fritidsjob-hjaelp", 1)]
    assert versions(db_path) == list(range(1, len(MIGRATIONS) + 1))


async def test_database_newer_than_code_is_refused(db_path: Path) -> None:
    """A file written by a newer bot is refused with its path and both versions."""
    store = await Storage.open(db_path)
    await store.close()
    newer = len(MIGRATIONS) + 1
    with raw(db_path) as db:
        db.execute("INSERT INTO schema_version (version, applied) VALUES (?, 'later')", (newer,))
        db.commit()
    error = await refusal(db_path)
    assert isinstance(error, DatabaseTooNewError)
    message = str(error)
    assert str(db_path) in message
    assert f"schema version {newer}" in message
    assert f"only up to {len(MIGRATIONS)}" in message
    assert versions(db_path)[-1] == newer


async def test_failing_migration_rolls_back(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A migration that fails leaves no half-made tables and no recorded version."""
    store = await Storage.open(db_path)
    await store.close()
    broken = ("CREATE TABLE half_made (x INTEGER)", "THIS IS NOT SQL")
    monkeypatch.setattr(bot.storage, "MIGRATIONS", (*MIGRATIONS, broken))
    assert isinstance((await refusal(db_path)).__cause__, sqlite3.OperationalError)
    assert "half_made" not in tables(db_path)
    assert versions(db_path) == list(range(1, len(MIGRATIONS) + 1))


async def test_failing_first_migration_leaves_fresh_file_empty(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a fresh file, a failing migration records no version, so the next start tries again."""
    broken = ("CREATE TABLE half_made (x INTEGER)", "THIS IS NOT SQL")
    monkeypatch.setattr(bot.storage, "MIGRATIONS", (broken,))
    assert isinstance((await refusal(db_path)).__cause__, sqlite3.OperationalError)
    assert "half_made" not in tables(db_path)
    assert versions(db_path) == []


async def test_referral_counters_add_up_per_day_goal_and_service(storage: Storage) -> None:
    """Each (day, goal, service) keeps its own count; the range excludes its end day."""
    next_day = DAY + dt.timedelta(days=1)
    for _ in range(3):
        await storage.count_referral(DAY, "arbejde", "fritidsjob-hjaelp")
    await storage.count_referral(DAY, "arbejde", "beskaeftigelsesmentor")
    await storage.count_referral(DAY, "uddannelse", "fritidsjob-hjaelp")
    await storage.count_referral(next_day, "arbejde", "fritidsjob-hjaelp")
    rows = await storage.referrals(DAY, next_day)
    assert sorted(rows) == [
        (DAY.isoformat(), "arbejde", "beskaeftigelsesmentor", 1),
        (DAY.isoformat(), "arbejde", "fritidsjob-hjaelp", 3),
        (DAY.isoformat(), "uddannelse", "fritidsjob-hjaelp", 1),
    ]
    assert await storage.referrals(next_day, next_day + dt.timedelta(days=1)) == [
        (next_day.isoformat(), "arbejde", "fritidsjob-hjaelp", 1)
    ]


async def test_usage_counters_add_up_per_day_and_key(storage: Storage) -> None:
    """Language use is counted per day and language, apart from services."""
    await storage.count_usage(DAY, "language", "ar")
    await storage.count_usage(DAY, "language", "ar")
    await storage.count_usage(DAY, "language", "so")
    rows = await storage.usage(DAY, DAY + dt.timedelta(days=1))
    assert sorted(rows) == [
        (DAY.isoformat(), "language", "ar", 2),
        (DAY.isoformat(), "language", "so", 1),
    ]


async def test_language_preferences_set_get_forget(storage: Storage) -> None:
    """A language choice is stored, replaced, and deleted by /forget."""
    resident = b"\x01" * 16
    assert await storage.language(resident) is None
    await storage.set_language(resident, "ar", "2026-10")
    assert await storage.language(resident) == ("ar", "2026-10")
    await storage.set_language(resident, "tr", "2026-11")
    assert await storage.language(resident) == ("tr", "2026-11")
    await storage.forget(resident)
    assert await storage.language(resident) is None
    await storage.forget(resident)  # forgetting twice is no error
    assert await storage.language(resident) is None


async def test_purge_deletes_choices_last_seen_before_a_month(storage: Storage) -> None:
    """Choices not used since before the cut-off month are deleted; newer ones stay."""
    await storage.set_language(b"old", "ar", "2026-04")
    await storage.set_language(b"edge", "so", "2026-05")
    await storage.set_language(b"new", "tr", "2026-11")
    assert await storage.purge_preferences("2026-05") == 1
    assert await storage.language(b"old") is None
    assert await storage.language(b"edge") == ("so", "2026-05")
    assert await storage.language(b"new") == ("tr", "2026-11")


async def test_callback_scrubs_keep_a_message_id_and_a_day_until_dropped(
    storage: Storage, db_path: Path
) -> None:
    """A call-back message to scrub is due from its day on, and gone from the file once
    dropped; the table has the message id and the day and nothing else."""
    await storage.add_scrub(41, DAY)
    await storage.add_scrub(42, DAY + dt.timedelta(days=1))
    assert await storage.due_scrubs(DAY - dt.timedelta(days=1)) == []
    assert await storage.due_scrubs(DAY) == [41]
    assert await storage.due_scrubs(DAY + dt.timedelta(days=3)) == [41, 42]
    await storage.drop_scrub(41)
    assert await storage.due_scrubs(DAY + dt.timedelta(days=3)) == [42]
    with raw(db_path) as db:
        columns = [row[1] for row in db.execute("PRAGMA table_info(callback_scrubs)")]
        rows = db.execute("SELECT * FROM callback_scrubs").fetchall()
    assert columns == ["message_id", "due"]
    assert rows == [(42, "2026-11-27")]


async def test_backup_has_the_same_counts(storage: Storage, tmp_path: Path) -> None:
    """A backup taken while the bot runs opens as a database with the same counts."""
    await storage.count_referral(DAY, "arbejde", "fritidsjob-hjaelp")
    await storage.count_referral(DAY, "arbejde", "fritidsjob-hjaelp")
    await storage.count_usage(DAY, "language", "da")
    target = tmp_path / "backups" / "copy.sqlite3"
    await storage.backup(target)
    copy = await Storage.open(target)
    try:
        until = DAY + dt.timedelta(days=1)
        assert await copy.referrals(DAY, until) == await storage.referrals(DAY, until)
        assert await copy.usage(DAY, until) == await storage.usage(DAY, until)
        assert await copy.referrals(DAY, until) == [
            (DAY.isoformat(), "arbejde", "fritidsjob-hjaelp", 2)
        ]
    finally:
        await copy.close()


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(dt.datetime(2026, 11, 26, 10, 0, tzinfo=COPENHAGEN))


@pytest.fixture
def residents(storage: Storage, clock: Clock) -> Residents:
    return Residents(storage, ResidentKey(b"k" * 32), COPENHAGEN, clock=clock)


async def test_same_referral_counts_once_a_day(
    residents: Residents, storage: Storage, clock: Clock
) -> None:
    """One resident opening the same card twice counts once that day, and again the next day."""
    referral = Referral("fritidsjob-hjaelp", "arbejde")
    await residents.count_referral(RESIDENT, referral)
    await residents.count_referral(RESIDENT, referral)
    first = clock.now.date()
    assert await storage.referrals(first, first + dt.timedelta(days=7)) == [
        (first.isoformat(), "arbejde", "fritidsjob-hjaelp", 1)
    ]
    clock.now += dt.timedelta(days=1)
    await residents.count_referral(RESIDENT, referral)
    rows = await storage.referrals(first, first + dt.timedelta(days=7))
    assert sum(n for *_key, n in rows) == 2


async def test_two_residents_count_twice(residents: Residents, storage: Storage) -> None:
    """Two residents opening the same card are two referrals."""
    referral = Referral("fritidsjob-hjaelp", "arbejde")
    await residents.count_referral(RESIDENT, referral)
    await residents.count_referral(OTHER, referral)
    assert await storage.referrals(DAY, DAY + dt.timedelta(days=1)) == [
        (DAY.isoformat(), "arbejde", "fritidsjob-hjaelp", 2)
    ]


async def test_day_is_the_copenhagen_day(
    residents: Residents, storage: Storage, clock: Clock
) -> None:
    """A referral at 23:30 UTC in November counts on the next day, as staff in Odense see it."""
    clock.now = dt.datetime(2026, 11, 25, 23, 30, tzinfo=dt.UTC)
    await residents.count_referral(RESIDENT, Referral("fritidsjob-hjaelp", "arbejde"))
    rows = await storage.referrals(dt.date(2026, 11, 25), dt.date(2026, 11, 27))
    assert [row[0] for row in rows] == ["2026-11-26"]


async def test_language_choice_survives_restart(db_path: Path, clock: Clock) -> None:
    """A resident's language is remembered after the bot restarts, and /forget removes it."""
    key = ResidentKey(b"k" * 32)
    store = await Storage.open(db_path)
    await Residents(store, key, COPENHAGEN, clock=clock).choose(RESIDENT, "ar")
    await store.close()
    store = await Storage.open(db_path)
    try:
        again = Residents(store, key, COPENHAGEN, clock=clock)
        assert await again.language(RESIDENT) == "ar"
        assert await again.language(OTHER) is None
        await again.forget(RESIDENT)
        assert await again.language(RESIDENT) is None
    finally:
        await store.close()


def _files(db_path: Path) -> dict[str, bytes]:
    paths = [db_path, *(Path(f"{db_path}-{end}") for end in ("journal", "wal", "shm"))]
    return {path.name: path.read_bytes() for path in paths if path.exists()}


async def test_database_files_hold_no_user_id(db_path: Path, tmp_path: Path, clock: Clock) -> None:
    """After choosing a language and opening cards, no file on disk contains the user's id."""
    key = ResidentKey.from_file(tmp_path / "data" / "vollsmose.secret")
    store = await Storage.open(db_path)
    residents = Residents(store, key, COPENHAGEN, clock=clock)
    await residents.choose(RESIDENT, "ar")
    await residents.count_language(RESIDENT, "ar")
    await residents.count_referral(RESIDENT, Referral("fritidsjob-hjaelp", "arbejde"))
    await residents.count_referral(RESIDENT, Referral("lektiecafe", "uddannelse"))
    while_running = _files(db_path)
    await store.close()
    after_close = _files(db_path)

    needle = str(TELEGRAM_ID).encode()
    assert "vollsmose.sqlite3-journal" in while_running
    for name, data in [*while_running.items(), *after_close.items()]:
        assert needle not in data, name
        assert TELEGRAM_ID.to_bytes(8, "big") not in data, name
        assert TELEGRAM_ID.to_bytes(8, "little") not in data, name
    # The files do hold what was written, so the search above looked in the right place.
    assert any(b"fritidsjob-hjaelp" in data for data in after_close.values())
    assert any(key(RESIDENT) in data for data in after_close.values())


def test_secret_key_file_is_private_and_stable(tmp_path: Path) -> None:
    """The key file is created with mode 600 and gives the same hashes after a restart."""
    path = tmp_path / "data" / "vollsmose.secret"
    first = ResidentKey.from_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = ResidentKey.from_file(path)
    assert first(RESIDENT) == again(RESIDENT)
    assert first(RESIDENT) != first(OTHER)
    assert first(RESIDENT) != ResidentKey.from_file(tmp_path / "other.secret")(RESIDENT)


def test_short_secret_key_is_refused(tmp_path: Path) -> None:
    """A truncated key file is refused with a message naming the file."""
    path = tmp_path / "vollsmose.secret"
    path.write_text("abcd\n", encoding="ascii")
    with pytest.raises(ValueError, match=r"vollsmose\.secret"):
        ResidentKey.from_file(path)
