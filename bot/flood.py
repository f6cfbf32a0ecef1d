"""A flood guard per resident (or per address), for every face: no face's code in here."""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float
    muted_until: float = 0.0


class Throttle:
    """A token bucket per resident: a burst is fine, a flood gets one warning and a cool-down.

    Each resident may send `burst` updates at once and `rate` per second after that. The update
    that empties the bucket gets a single "please slow down"; everything for `cooldown` seconds
    after it is ignored, so a flood costs the bot almost nothing and Telegram nothing.
    """

    def __init__(
        self,
        burst: int = 20,
        rate: float = 1.0,
        cooldown: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.burst = burst
        self.rate = rate
        self.cooldown = cooldown
        self._clock = clock
        self._buckets: dict[Hashable, _Bucket] = {}
        self._next_prune = 0.0

    def check(self, resident: Hashable) -> str:
        """ "ok" to handle the update, "warn" to send the one warning, "drop" to ignore it."""
        now = self._clock()
        if now >= self._next_prune:
            self._prune(now)
        bucket = self._buckets.get(resident)
        if bucket is None:
            bucket = self._buckets[resident] = _Bucket(float(self.burst), now)
        if now < bucket.muted_until:
            return "drop"
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return "ok"
        bucket.muted_until = now + self.cooldown
        bucket.tokens = 0
        return "warn"

    def _prune(self, now: float) -> None:
        """Forget residents whose bucket has refilled and who are not muted: memory stays small."""
        full_after = self.burst / self.rate
        self._buckets = {
            key: bucket
            for key, bucket in self._buckets.items()
            if now < bucket.muted_until or now - bucket.updated < full_after
        }
        self._next_prune = now + 60

    def __len__(self) -> int:
        return len(self._buckets)
