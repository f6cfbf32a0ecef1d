"""Keyed hashes that let the bot recognise a resident without ever storing who they are."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import os
import re
import secrets
from concurrent.futures import ThreadPoolExecutor
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


class KeyFileError(ValueError):
    """The secret key file cannot be read or is not a key; the message is one sentence."""


# scrypt's cost: 8 MiB and about 20 ms per hash on one core of the test machine, paid once per
# resident after a start; enumerating Telegram's ~8 billion ids with a stolen key takes about
# five years of one core, instead of about an hour with the HMAC used before.
SCRYPT_N = 2**13
SCRYPT_R = 8


def _cpus() -> int:
    """How many CPUs this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


# One hashing thread per CPU, not asyncio's default pool (CPUs + 4 threads): with more hashing
# threads than CPUs, a burst of newcomers left the event loop a small share of its CPU, and
# button answers, which need no hash, waited seconds. One CPU hashes about 50 residents a
# second, more than Telegram lets the bot answer (30 messages a second).
_HASHING = ThreadPoolExecutor(max_workers=_cpus(), thread_name_prefix="resident-hash")


class ResidentKey:
    """Turns a resident ("tg:123") into a stable keyed hash; the key is in a file of mode 600.

    The hash is scrypt (memory-hard), so that whoever holds the database and the key still needs
    years to find out which Telegram id a stored language choice belongs to.
    """

    def __init__(self, key: bytes, *, created: bool = False) -> None:
        self._key = key
        self.created = created  # made just now: choices stored under an older key are unreadable

    @classmethod
    def random(cls) -> ResidentKey:
        """A key that lives in memory only (nothing is remembered past this process)."""
        return cls(secrets.token_bytes(32))

    @classmethod
    def from_file(cls, path: Path) -> ResidentKey:
        """Read the secret key, creating it with mode 600 at first start."""
        if path.parent.exists() and not path.parent.is_dir():
            raise KeyFileError(
                f"{path.parent}: not a folder, but the database and its key live in it "
                "(see BOT_DATABASE)."
            )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists():
                with contextlib.suppress(FileExistsError):  # another process made it first
                    return cls(_create(path), created=True)
            text = path.read_bytes().decode("ascii", errors="replace").strip()
        except OSError as error:
            raise KeyFileError(
                f"{path}: cannot read or create the secret key ({error.strerror or error}); the "
                "bot's user must own it and its folder (after a restore as root: chown them, "
                "mode 600)."
            ) from error
        if not re.fullmatch(r"[0-9a-f]{64,}", text):
            raise KeyFileError(
                f"{path}: not a secret key (empty or damaged); restore it from where you keep it, "
                "or move it away to have a new one made (residents then choose their language "
                "again)."
            )
        return cls(bytes.fromhex(text))

    def __call__(self, resident: str) -> bytes:
        """The resident's hash (about 20 ms: call it off the event loop, see hash())."""
        # Telegram ids were hashed bare before residents had a face's prefix. Bare digits never
        # collide with another face's "web:..." ids.
        plain = resident.removeprefix("tg:")
        return hashlib.scrypt(plain.encode(), salt=self._key, n=SCRYPT_N, r=SCRYPT_R, p=1, dklen=16)

    def derive(self, info: bytes) -> bytes:
        """A 32-byte key for another purpose (named by info), derived with HKDF from the secret
        key, so the scrypt salt itself never serves as an encryption key."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF

        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(self._key)

    async def hash(self, resident: str) -> bytes:
        """The resident's hash, computed in the hashing thread so the event loop is not held up."""
        return await asyncio.get_running_loop().run_in_executor(_HASHING, self, resident)


def _create(path: Path) -> bytes:
    """Write a new random key to path, mode 600, whole or not at all (a full disk must not leave
    an empty key file behind)."""
    key = secrets.token_bytes(32)
    partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(key.hex() + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.link(partial, path)  # fails if another process made the key meanwhile
    finally:
        partial.unlink()
    return key
