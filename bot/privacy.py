"""Keyed hashes that let the bot recognise a resident without ever storing who they are."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path

_DIGEST_BYTES = 8


class DailyOnce:
    """Answers "first time today?" for (resident, thing) pairs, keyed only in memory.

    The key is random, never written anywhere, and replaced when the day changes, so the hashes
    cannot be linked across days or after a restart; the set is emptied at the same moment.
    """

    def __init__(self) -> None:
        self._day: dt.date | None = None
        self._key = b""
        self._seen: set[int] = set()

    def first_today(self, day: dt.date, resident: str, thing: str) -> bool:
        """True the first time this resident meets this thing on this day, False afterwards."""
        if day != self._day:
            self._day, self._key, self._seen = day, secrets.token_bytes(32), set()
        digest = hashlib.blake2b(
            f"{resident}\x00{thing}".encode(), key=self._key, digest_size=_DIGEST_BYTES
        ).digest()
        token = int.from_bytes(digest, "big")
        if token in self._seen:
            return False
        self._seen.add(token)
        return True

    def __len__(self) -> int:
        return len(self._seen)


class ResidentKey:
    """Turns a resident ("tg:123") into a stable keyed hash; the key is in a file of mode 600."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    @classmethod
    def random(cls) -> ResidentKey:
        """A key that lives in memory only (nothing is remembered past this process)."""
        return cls(secrets.token_bytes(32))

    @classmethod
    def from_file(cls, path: Path) -> ResidentKey:
        """Read the secret key, creating it with mode 600 at first start."""
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            text = path.read_text(encoding="ascii").strip()
        else:
            key = secrets.token_bytes(32)
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(key.hex() + "\n")
            return cls(key)
        if not re.fullmatch(r"[0-9a-f]{64,}", text):
            raise ValueError(f"{path}: not a secret key; move it away to have a new one made")
        return cls(bytes.fromhex(text))

    def __call__(self, resident: str) -> bytes:
        # Telegram ids were hashed bare before residents had a face's prefix; hashing them the
        # same way keeps the language choices stored before. Bare digits never collide with
        # another face's "web:..." ids.
        plain = resident.removeprefix("tg:")
        return hmac.new(self._key, plain.encode(), hashlib.sha256).digest()[:16]
