"""One SQLite file through aiosqlite: numbered migrations, anonymous counters, language choices.

What is on disk at any moment is the current totals and nothing about their order: the rollback
journal (not a write-ahead log) is emptied by every commit, deleted rows are zeroed
(secure_delete), and counters, language counts and language choices are never written in the same
transaction. A write that fails is kept in memory and written once the database works again.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import sqlite3
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiosqlite

log = logging.getLogger(__name__)

# While the database fails, writes wait in memory and are retried this often.
RETRY_SECONDS = 5.0
# Each migration is a list of statements, applied in one transaction together with its version
# number. Never edit a migration that has shipped: add the next one.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE referrals (
            day TEXT NOT NULL,
            goal TEXT NOT NULL,
            service TEXT NOT NULL,
            n INTEGER NOT NULL,
            PRIMARY KEY (day, goal, service)
        ) WITHOUT ROWID""",
        # Counts of residents' attributes (language, source, ...) per day, never crossed with
        # services: the dimension names what is counted, the key its value.
        """CREATE TABLE usage (
            day TEXT NOT NULL,
            dimension TEXT NOT NULL,
            key TEXT NOT NULL,
            n INTEGER NOT NULL,
            PRIMARY KEY (day, dimension, key)
        ) WITHOUT ROWID""",
        """CREATE TABLE preferences (
            resident BLOB PRIMARY KEY,
            language TEXT NOT NULL,
            last_seen TEXT NOT NULL
        ) WITHOUT ROWID""",
    ),
    (
        # The last ISO week whose report went to the staff chat, so a week is never sent twice.
        """CREATE TABLE reports_sent (
            week TEXT PRIMARY KEY,
            sent TEXT NOT NULL
        ) WITHOUT ROWID""",
    ),
    (
        # Choices were stored under an HMAC of the Telegram id, which a stolen key turns back
        # into ids within an hour; the scrypt hash cannot match them, so residents choose again.
        "DELETE FROM preferences",
    ),
    (
        # A call-back request's message in the staff chat, until the phone number in it has been
        # removed: its message id and the day it is removed at the latest. Nothing else.
        """CREATE TABLE callback_scrubs (
            message_id INTEGER PRIMARY KEY,
            due TEXT NOT NULL
        )""",
    ),
    (
        # Opt-in follow-ups ("ask me in a week"): the resident encrypted (random nonce, AES-GCM,
        # see bot/followup.py) as the key, so rows sort by random bytes, not by when they came.
        """CREATE TABLE followups (
            resident BLOB PRIMARY KEY,
            service TEXT NOT NULL,
            goal TEXT NOT NULL,
            due TEXT NOT NULL
        ) WITHOUT ROWID""",
        # What the follow-up questions achieved: counters per ISO week, no resident column.
        """CREATE TABLE followup_counts (
            week TEXT NOT NULL,
            goal TEXT NOT NULL,
            service TEXT NOT NULL,
            outcome TEXT NOT NULL,
            n INTEGER NOT NULL,
            PRIMARY KEY (week, goal, service, outcome)
        ) WITHOUT ROWID""",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


class StorageError(Exception):
    """The database cannot be opened; the message is one sentence for the operator."""


class DatabaseTooNewError(StorageError):
    """The database was written by a newer version of the bot than this one."""


# What an operator can do about SQLite's primary error codes at start.
_ADVICE = {
    "SQLITE_FULL": "the disk is full; free some space and start again",
    "SQLITE_READONLY": "it cannot be written; check the owner and mode of the file and its folder",
    "SQLITE_CANTOPEN": "it cannot be opened; check that its folder exists and the bot may write it",
    "SQLITE_PERM": "it cannot be opened; check the owner and mode of the file and its folder",
    "SQLITE_NOTADB": "it is not a SQLite database; restore a backup or move the file away",
    "SQLITE_CORRUPT": "it is damaged; restore a backup or move the file away",
    "SQLITE_BUSY": "another program holds it locked; stop that program and start again",
    "SQLITE_IOERR": "the disk reports an error; check the disk and start again",
}


def describe(path: Path, error: sqlite3.Error | OSError) -> str:
    """One sentence naming the database file, what went wrong and what to do."""
    if isinstance(error, OSError):
        return f"BOT_DATABASE: {path}: {error.strerror or error}; check the folder and its owner."
    name = getattr(error, "sqlite_errorname", "") or ""
    primary = "_".join(name.split("_")[:2])
    advice = _ADVICE.get(primary, "restore a backup, or move the file away to start afresh")
    return f"BOT_DATABASE: {path}: {error}: {advice}."


class StorageFault(Exception):
    """The database cannot be read just now; the bot answers without it."""


_ADD_REFERRALS = (
    "INSERT INTO referrals (day, goal, service, n) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (day, goal, service) DO UPDATE SET n = n + excluded.n"
)
_ADD_USAGE = (
    "INSERT INTO usage (day, dimension, key, n) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (day, dimension, key) DO UPDATE SET n = n + excluded.n"
)
_ADD_FOLLOWUP_COUNTS = (
    "INSERT INTO followup_counts (week, goal, service, outcome, n) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (week, goal, service, outcome) DO UPDATE SET n = n + excluded.n"
)
_SET_CHOICE = (
    "INSERT INTO preferences (resident, language, last_seen) VALUES (?, ?, ?) "
    "ON CONFLICT (resident) DO UPDATE SET language = excluded.language, "
    "last_seen = excluded.last_seen"
)


class Storage:
    """The bot's only state on disk: counters and keyed-hash language choices."""

    def __init__(self, db: aiosqlite.Connection, path: Path) -> None:
        self._db = db
        self.path = path
        # Writes not yet committed: counts add up, a choice of None is a deletion.
        self._referrals: Counter[tuple[str, str, str]] = Counter()
        self._usage: Counter[tuple[str, str, str]] = Counter()
        self._followup_counts: Counter[tuple[str, str, str, str]] = Counter()
        self._choices: dict[bytes, tuple[str, str] | None] = {}
        # Call-back messages to scrub: message id -> due day, None once scrubbed.
        self._scrubs: dict[int, str | None] = {}
        # One writer at a time; whoever holds it commits everyone's pending writes (group commit).
        self._writing = asyncio.Lock()
        self._fault: str | None = None  # why the database fails, while it does
        self._retry: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, path: Path | str, *, readonly: bool = False) -> Storage:
        """Open the database and apply pending migrations; readonly: neither create nor migrate."""
        path = Path(path)
        try:
            if readonly:
                db = await aiosqlite.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
            else:
                if str(path) != ":memory:":
                    path.parent.mkdir(parents=True, exist_ok=True)
                # isolation_level=None: no implicit transactions; each write below is its own.
                db = await aiosqlite.connect(path, isolation_level=None)
        except (sqlite3.Error, OSError) as error:
            raise StorageError(describe(path, error)) from error
        try:
            await db.execute("PRAGMA busy_timeout=5000")
            if readonly:
                if (version := await check_version(db, path)) < SCHEMA_VERSION:
                    raise StorageError(
                        f"BOT_DATABASE: {path}: schema version {version}, older than this "
                        f"bot's {SCHEMA_VERSION}; start the bot once to migrate it."
                    )
            else:
                # A rollback journal is emptied by every commit, so the files never hold a history
                # of writes, as a write-ahead log would until its next checkpoint. FULL: a commit
                # survives a power cut too. Switching from WAL folds an old log into the file.
                await db.execute("PRAGMA journal_mode=TRUNCATE")
                await db.execute("PRAGMA synchronous=FULL")
                await db.execute("PRAGMA secure_delete=ON")
                await migrate(db, path)
                # SQLite opens a file it may not write read-only without a word; rewriting one
                # value as it is finds that out now, and a disk too full for the journal.
                await db.execute("BEGIN IMMEDIATE")
                await db.execute("UPDATE schema_version SET applied = applied")
                await db.execute("COMMIT")
        except BaseException as error:
            await db.close()  # its thread would keep the process alive
            if isinstance(error, sqlite3.Error):
                raise StorageError(describe(path, error)) from error
            raise
        return cls(db, path)

    async def close(self) -> None:
        """Write what is still pending (one last try if the database fails) and close."""
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        try:
            if self._pending():
                await self._flush()
            if kept := self._pending():
                log.error(
                    "%s: %d counts and language choices could not be written and are lost",
                    self.path,
                    kept,
                )
        finally:
            await self._db.close()

    # -- writes: committed when the call returns, or kept in memory while the database fails --

    async def count_referral(self, day: dt.date, goal: str, service: str) -> None:
        """Add one referral to the day's counter."""
        self._referrals[day.isoformat(), goal, service] += 1
        await self._write()

    async def count_usage(self, day: dt.date, dimension: str, key: str) -> None:
        """Add one to a (day, dimension, key) counter such as (today, language, ar)."""
        self._usage[day.isoformat(), dimension, key] += 1
        await self._write()

    async def count_followup(
        self, week: str, goal: str, service: str, outcome: str, n: int = 1
    ) -> None:
        """Add n to a follow-up counter such as (2026-W49, arbejde, mentor, asked)."""
        self._followup_counts[week, goal, service, outcome] += n
        await self._write()

    async def set_language(self, resident: bytes, language: str, month: str) -> None:
        """Remember a language choice (or refresh its last-seen month)."""
        self._choices[resident] = (language, month)
        await self._write()

    async def forget(self, resident: bytes) -> None:
        """Delete a resident's language choice."""
        self._choices[resident] = None
        await self._write()

    async def add_scrub(self, message_id: int, due: dt.date) -> None:
        """Remember to remove the phone number from a staff chat message by a day."""
        self._scrubs[message_id] = due.isoformat()
        await self._write()

    async def drop_scrub(self, message_id: int) -> None:
        """Forget a staff chat message whose phone number is gone."""
        self._scrubs[message_id] = None
        await self._write()

    async def flush(self) -> bool:
        """Write everything pending now; False if the database still fails."""
        return await self._flush()

    def _pending(self) -> int:
        counts = sum(self._referrals.values()) + sum(self._usage.values())
        counts += sum(self._followup_counts.values())
        return counts + len(self._choices) + len(self._scrubs)

    async def _write(self) -> None:
        # While the database fails, only the retry loop tries, so residents do not wait for it.
        if self._fault is None:
            await self._flush()

    async def _flush(self) -> bool:
        """Commit pending writes: referrals, usage and choices each in a transaction of its own."""
        async with self._writing:
            written = 0
            try:
                if self._referrals:
                    written += await self._commit_counts(self._referrals, _ADD_REFERRALS)
                if self._usage:
                    written += await self._commit_counts(self._usage, _ADD_USAGE)
                if self._followup_counts:
                    written += await self._commit_counts(
                        self._followup_counts, _ADD_FOLLOWUP_COUNTS
                    )
                if self._choices:
                    written += await self._commit_choices()
                if self._scrubs:
                    written += await self._commit_scrubs()
            except sqlite3.Error as error:
                self._failed(error)
                return False
            self._recovered(written)
            return True

    async def _commit_counts(self, pending: Counter[Any], statement: str) -> int:
        """Commit one kind of counters (their keys are tuples of the statement's columns)."""
        batch = Counter(pending)
        pending.clear()
        try:
            await self._transaction(statement, [(*key, n) for key, n in batch.items()])
        except BaseException:
            pending.update(batch)  # counted again later, never lost
            raise
        return sum(batch.values())

    async def _commit_choices(self) -> int:
        batch = dict(self._choices)
        self._choices.clear()
        chosen = [(r, *choice) for r, choice in batch.items() if choice is not None]
        forgotten = [(r,) for r, choice in batch.items() if choice is None]
        try:
            await self._db.execute("BEGIN IMMEDIATE")
            if chosen:
                await self._db.executemany(_SET_CHOICE, chosen)
            if forgotten:
                await self._db.executemany("DELETE FROM preferences WHERE resident = ?", forgotten)
            await self._db.execute("COMMIT")
        except BaseException:
            await self._rollback()
            for resident, choice in batch.items():
                self._choices.setdefault(resident, choice)  # a newer choice wins
            raise
        return len(batch)

    async def _commit_scrubs(self) -> int:
        batch = dict(self._scrubs)
        self._scrubs.clear()
        added = [(m, due) for m, due in batch.items() if due is not None]
        dropped = [(m,) for m, due in batch.items() if due is None]
        try:
            await self._db.execute("BEGIN IMMEDIATE")
            if added:
                await self._db.executemany(
                    "INSERT OR REPLACE INTO callback_scrubs (message_id, due) VALUES (?, ?)", added
                )
            if dropped:
                await self._db.executemany(
                    "DELETE FROM callback_scrubs WHERE message_id = ?", dropped
                )
            await self._db.execute("COMMIT")
        except BaseException:
            await self._rollback()
            for message_id, due in batch.items():
                self._scrubs.setdefault(message_id, due)  # a newer change wins
            raise
        return len(batch)

    async def _transaction(self, statement: str, rows: list[tuple[object, ...]]) -> None:
        if len(rows) == 1:
            # One statement is a transaction of its own (autocommit): one trip to SQLite's
            # thread instead of three, each about 0.1 ms of CPU; a single card is the usual case.
            await self._db.execute(statement, rows[0])
            return
        try:
            await self._db.execute("BEGIN IMMEDIATE")
            await self._db.executemany(statement, rows)
            await self._db.execute("COMMIT")
        except BaseException:
            await self._rollback()
            raise

    async def _rollback(self) -> None:
        if self._db.in_transaction:
            # SQLite has rolled back by itself after some errors.
            with contextlib.suppress(sqlite3.Error):
                await self._db.execute("ROLLBACK")

    def _failed(self, error: sqlite3.Error) -> None:
        """Log a fault once, when it starts, and retry in the background until it ends."""
        if self._fault is not None:
            return
        self._fault = str(error) or type(error).__name__
        log.error(
            "%s: the database fails (%s); residents are still answered, counts are kept in "
            "memory and written when it works again (retrying every %g s)",
            self.path,
            self._fault,
            RETRY_SECONDS,
        )
        self._retry = asyncio.get_running_loop().create_task(self._retry_until_written())

    def _recovered(self, written: int) -> None:
        if self._fault is None:
            return
        self._fault = None
        self._retry = None
        log.warning(
            "%s: the database works again; %d writes kept in memory written", self.path, written
        )

    async def _retry_until_written(self) -> None:
        while self._fault is not None:
            await asyncio.sleep(RETRY_SECONDS)
            if self._pending():
                await self._flush()
            else:
                try:
                    await self._read("SELECT count(*) FROM schema_version", ())
                except StorageFault:
                    continue
                self._recovered(0)

    # -- reads --

    async def _read(self, query: str, params: Sequence[object]) -> list[sqlite3.Row]:
        try:
            async with self._db.execute(query, params) as cursor:
                return list(await cursor.fetchall())
        except sqlite3.Error as error:
            self._failed(error)
            raise StorageFault(f"{self.path}: {error}") from error

    async def referrals(self, since: dt.date, until: dt.date) -> list[tuple[str, str, str, int]]:
        """(day, goal, service, n) rows for since <= day < until."""
        rows = await self._read(
            "SELECT day, goal, service, n FROM referrals WHERE day >= ? AND day < ? ORDER BY day",
            (since.isoformat(), until.isoformat()),
        )
        return [tuple(row) for row in rows]

    async def usage(self, since: dt.date, until: dt.date) -> list[tuple[str, str, str, int]]:
        """(day, dimension, key, n) rows for since <= day < until."""
        rows = await self._read(
            "SELECT day, dimension, key, n FROM usage WHERE day >= ? AND day < ? ORDER BY day",
            (since.isoformat(), until.isoformat()),
        )
        return [tuple(row) for row in rows]

    async def language(self, resident: bytes) -> tuple[str, str] | None:
        """The stored (language, last-seen month) under a resident's keyed hash, if any.

        Raises StorageFault at once while the database fails, so a resident never waits for it.
        """
        if resident in self._choices:
            return self._choices[resident]
        if self._fault is not None:
            raise StorageFault(self._fault)
        rows = await self._read(
            "SELECT language, last_seen FROM preferences WHERE resident = ?", (resident,)
        )
        return (rows[0][0], rows[0][1]) if rows else None

    async def drop_choices(self) -> int:
        """Delete every stored language choice (their key is lost); returns how many."""
        async with self._writing:
            cursor = await self._db.execute("DELETE FROM preferences")
        self._choices.clear()
        return cursor.rowcount

    async def purge_preferences(self, before_month: str) -> int:
        """Delete language choices last seen before a month ("2026-05"); returns how many."""
        await self._flush()  # a pending choice must not outlive its purge, nor be purged unseen
        async with self._writing:
            try:
                cursor = await self._db.execute(
                    "DELETE FROM preferences WHERE last_seen < ?", (before_month,)
                )
            except sqlite3.Error as error:
                self._failed(error)
                return 0
            return cursor.rowcount

    async def due_scrubs(self, today: dt.date) -> list[int]:
        """Staff chat messages whose phone number is due to be removed by today."""
        pending = {m for m, due in self._scrubs.items() if due is not None and due <= str(today)}
        gone = {m for m, due in self._scrubs.items() if due is None}
        rows = await self._read(
            "SELECT message_id FROM callback_scrubs WHERE due <= ?", (today.isoformat(),)
        )
        return sorted((pending | {int(row[0]) for row in rows}) - gone)

    async def last_report_week(self) -> str | None:
        """The latest ISO week ("2026-W48") whose weekly report was sent, if any."""
        rows = await self._read("SELECT max(week) FROM reports_sent", ())
        return rows[0][0] if rows else None

    async def mark_report_sent(self, week: str, sent: dt.date) -> bool:
        """Record that a week's report was sent; False if it had been recorded already."""
        async with self._writing:
            cursor = await self._db.execute(
                "INSERT INTO reports_sent (week, sent) VALUES (?, ?) ON CONFLICT (week) DO NOTHING",
                (week, sent.isoformat()),
            )
        return cursor.rowcount > 0

    # -- opt-in follow-ups: few rows, written at once (a fault raises StorageFault) --

    async def add_followup(self, resident: bytes, service: str, goal: str, due: dt.date) -> None:
        """Keep one pending follow-up (the resident already encrypted)."""
        await self._change(
            "INSERT INTO followups (resident, service, goal, due) VALUES (?, ?, ?, ?)",
            [(resident, service, goal, due.isoformat())],
        )

    async def followups(self) -> list[tuple[bytes, str, str, dt.date]]:
        """Every pending follow-up as (encrypted resident, service, goal, due day)."""
        rows = await self._read("SELECT resident, service, goal, due FROM followups", ())
        return [(row[0], row[1], row[2], dt.date.fromisoformat(row[3])) for row in rows]

    async def delete_followups(self, residents: Sequence[bytes]) -> int:
        """Delete pending follow-ups by their encrypted resident; returns how many."""
        if not residents:
            return 0
        return await self._change(
            "DELETE FROM followups WHERE resident = ?", [(r,) for r in residents]
        )

    async def followup_counts(self) -> list[tuple[str, str, str, str, int]]:
        """Every (week, goal, service, outcome, n) follow-up counter."""
        rows = await self._read(
            "SELECT week, goal, service, outcome, n FROM followup_counts ORDER BY week", ()
        )
        return [tuple(row) for row in rows]

    async def _change(self, statement: str, rows: list[tuple[object, ...]]) -> int:
        """One statement over rows in a transaction of its own; StorageFault if it fails."""
        async with self._writing:
            try:
                await self._db.execute("BEGIN IMMEDIATE")
                changed = 0
                for row in rows:
                    cursor = await self._db.execute(statement, row)
                    changed += max(cursor.rowcount, 0)
                await self._db.execute("COMMIT")
            except sqlite3.Error as error:
                await self._rollback()
                self._failed(error)
                raise StorageFault(f"{self.path}: {error}") from error
        return changed

    async def backup(self, target: Path) -> None:
        """Write a consistent copy of the database while it is in use (SQLite's online backup)."""
        target.parent.mkdir(parents=True, exist_ok=True)
        async with aiosqlite.connect(target) as copy:
            await self._db.backup(copy)


async def check_version(db: aiosqlite.Connection, path: Path) -> int:
    """The database's schema version; refuse a file newer than this code."""
    try:
        async with db.execute("SELECT coalesce(max(version), 0) FROM schema_version") as cursor:
            row = await cursor.fetchone()
    except sqlite3.OperationalError as error:
        if "no such table" not in str(error):
            raise
        return 0
    current = int(row[0]) if row else 0
    if current > SCHEMA_VERSION:
        raise DatabaseTooNewError(
            f"BOT_DATABASE: {path}: the database has schema version {current}, but this version "
            f"of the bot knows only up to {SCHEMA_VERSION}. Install the newer bot, or restore a "
            "backup."
        )
    return current


async def migrate(db: aiosqlite.Connection, path: Path) -> None:
    """Apply pending migrations, each with its version in one transaction; refuse a newer file."""
    await db.execute(
        "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied TEXT)"
    )
    current = await check_version(db, path)
    for version, statements in enumerate(MIGRATIONS[current:], start=current + 1):
        await _apply(db, version, statements)
        log.info("database migrated to schema version %d", version)


async def _apply(db: aiosqlite.Connection, version: int, statements: Sequence[str]) -> None:
    await db.execute("BEGIN IMMEDIATE")
    try:
        for statement in statements:
            await db.execute(statement)
        await db.execute(
            "INSERT INTO schema_version (version, applied) VALUES (?, datetime('now'))",
            (version,),
        )
        await db.execute("COMMIT")
    except (sqlite3.Error, ValueError):
        await db.execute("ROLLBACK")
        raise
