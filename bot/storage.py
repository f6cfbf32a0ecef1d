"""One SQLite file through aiosqlite: numbered migrations, anonymous counters, language choices."""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import aiosqlite

log = logging.getLogger(__name__)

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
)
SCHEMA_VERSION = len(MIGRATIONS)


class DatabaseTooNewError(Exception):
    """The database was written by a newer version of the bot than this one."""


class Storage:
    """The bot's only state on disk: counters and keyed-hash language choices."""

    def __init__(self, db: aiosqlite.Connection, path: Path) -> None:
        self._db = db
        self.path = path

    @classmethod
    async def open(cls, path: Path | str) -> Storage:
        """Open (creating if needed) the database, switch to WAL and apply pending migrations."""
        path = Path(path)
        if str(path) != ":memory:":
            path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: no implicit transactions; every write below is its own
        # transaction, committed when the call returns, before the bot answers the resident.
        db = await aiosqlite.connect(path, isolation_level=None)
        try:
            await db.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode survives a killed process; only a power cut may lose the last
            # commits, which is the right trade for counters.
            await db.execute("PRAGMA synchronous=NORMAL")
            await db.execute("PRAGMA busy_timeout=5000")
            await migrate(db, path)
        except BaseException:
            await db.close()
            raise
        return cls(db, path)

    async def close(self) -> None:
        """Checkpoint the WAL into the main file and close."""
        await self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        await self._db.close()

    async def count_referral(self, day: dt.date, goal: str, service: str) -> None:
        """Add one referral to the day's counter; committed when this returns."""
        await self._db.execute(
            "INSERT INTO referrals (day, goal, service, n) VALUES (?, ?, ?, 1) "
            "ON CONFLICT (day, goal, service) DO UPDATE SET n = n + 1",
            (day.isoformat(), goal, service),
        )

    async def count_usage(self, day: dt.date, dimension: str, key: str) -> None:
        """Add one to a (day, dimension, key) counter such as (today, language, ar)."""
        await self._db.execute(
            "INSERT INTO usage (day, dimension, key, n) VALUES (?, ?, ?, 1) "
            "ON CONFLICT (day, dimension, key) DO UPDATE SET n = n + 1",
            (day.isoformat(), dimension, key),
        )

    async def referrals(self, since: dt.date, until: dt.date) -> list[tuple[str, str, str, int]]:
        """(day, goal, service, n) rows for since <= day < until."""
        async with self._db.execute(
            "SELECT day, goal, service, n FROM referrals WHERE day >= ? AND day < ? ORDER BY day",
            (since.isoformat(), until.isoformat()),
        ) as cursor:
            return [tuple(row) for row in await cursor.fetchall()]

    async def usage(self, since: dt.date, until: dt.date) -> list[tuple[str, str, str, int]]:
        """(day, dimension, key, n) rows for since <= day < until."""
        async with self._db.execute(
            "SELECT day, dimension, key, n FROM usage WHERE day >= ? AND day < ? ORDER BY day",
            (since.isoformat(), until.isoformat()),
        ) as cursor:
            return [tuple(row) for row in await cursor.fetchall()]

    async def language(self, resident: bytes) -> tuple[str, str] | None:
        """The stored (language, last-seen month) under a resident's keyed hash, if any."""
        async with self._db.execute(
            "SELECT language, last_seen FROM preferences WHERE resident = ?", (resident,)
        ) as cursor:
            row = await cursor.fetchone()
        return (row[0], row[1]) if row else None

    async def set_language(self, resident: bytes, language: str, month: str) -> None:
        """Remember a language choice (or refresh its last-seen month)."""
        await self._db.execute(
            "INSERT INTO preferences (resident, language, last_seen) VALUES (?, ?, ?) "
            "ON CONFLICT (resident) DO UPDATE SET language = excluded.language, "
            "last_seen = excluded.last_seen",
            (resident, language, month),
        )

    async def forget(self, resident: bytes) -> bool:
        """Delete a resident's language choice; True if there was one."""
        cursor = await self._db.execute("DELETE FROM preferences WHERE resident = ?", (resident,))
        return cursor.rowcount > 0

    async def purge_preferences(self, before_month: str) -> int:
        """Delete language choices last seen before a month ("2026-05"); returns how many."""
        cursor = await self._db.execute(
            "DELETE FROM preferences WHERE last_seen < ?", (before_month,)
        )
        return cursor.rowcount

    async def last_report_week(self) -> str | None:
        """The latest ISO week ("2026-W48") whose weekly report was sent, if any."""
        async with self._db.execute("SELECT max(week) FROM reports_sent") as cursor:
            row = await cursor.fetchone()
        return row[0] if row else None

    async def mark_report_sent(self, week: str, sent: dt.date) -> bool:
        """Record that a week's report was sent; False if it had been recorded already."""
        cursor = await self._db.execute(
            "INSERT INTO reports_sent (week, sent) VALUES (?, ?) ON CONFLICT (week) DO NOTHING",
            (week, sent.isoformat()),
        )
        return cursor.rowcount > 0

    async def backup(self, target: Path) -> None:
        """Write a consistent copy of the database while it is in use (SQLite's online backup)."""
        target.parent.mkdir(parents=True, exist_ok=True)
        async with aiosqlite.connect(target) as copy:
            await self._db.backup(copy)


async def migrate(db: aiosqlite.Connection, path: Path) -> None:
    """Apply pending migrations, each with its version in one transaction; refuse a newer file."""
    await db.execute(
        "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied TEXT)"
    )
    async with db.execute("SELECT coalesce(max(version), 0) FROM schema_version") as cursor:
        row = await cursor.fetchone()
    current = int(row[0]) if row else 0
    if current > SCHEMA_VERSION:
        raise DatabaseTooNewError(
            f"{path}: the database has schema version {current}, but this version of the bot "
            f"knows only up to {SCHEMA_VERSION}. Install the newer bot, or restore a backup."
        )
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
