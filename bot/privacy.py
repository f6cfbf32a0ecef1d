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

    def first_today(self, day: dt.date, resident: int, thing: str) -> bool:
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
    """Turns a Telegram user id into a stable keyed hash; the key is in a file of mode 600."""

    def __init__(self, key: bytes) -> None:
        self._key = key

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

    def __call__(self, user_id: int) -> bytes:
        return hmac.new(self._key, str(user_id).encode(), hashlib.sha256).digest()[:16]
