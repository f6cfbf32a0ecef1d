"""Web chat sessions: one random cookie each, kept in memory only, forgotten when idle."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.engine import Reply
from bot.guide import Resident

PREFIX = "web:"
# An idle session ends after this; a busy one after LIFETIME, so no cookie lives for days.
IDLE = 30 * 60.0
LIFETIME = 12 * 3600.0
# Beyond this many open sessions the oldest idle ones go first (a flood of new visitors).
LIMIT = 100_000


@dataclass(slots=True)
class Session:
    """What the web chat knows of one visitor: the chosen language and the screen on show."""

    resident: Resident
    form_token: str  # in every form of this session's pages: a post without it is refused
    started: float
    seen: float
    language: str | None = None
    reply: Reply | None = field(default=None, repr=False)


class Sessions:
    """Sessions by cookie value; also the guide's language memory for the web face."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        idle: float = IDLE,
        lifetime: float = LIFETIME,
        limit: int = LIMIT,
    ) -> None:
        self._clock = clock
        self.idle, self.lifetime, self.limit = idle, lifetime, limit
        self._sessions: dict[str, Session] = {}
        self._next_prune = 0.0

    def new(self, hint: str | None) -> tuple[str, Session]:
        """A fresh session and the cookie value that names it."""
        now = self._clock()
        if now >= self._next_prune or len(self._sessions) >= self.limit:
            self._prune(now)
        token = secrets.token_urlsafe(24)
        session = Session(Resident(PREFIX + token, hint), secrets.token_urlsafe(16), now, now)
        self._sessions[token] = session
        return token, session

    def get(self, token: str | None) -> Session | None:
        """The live session for a cookie value, or None (unknown, idle too long, too old)."""
        session = self._sessions.get(token or "")
        if session is None:
            return None
        now = self._clock()
        if now - session.seen > self.idle or now - session.started > self.lifetime:
            del self._sessions[token or ""]
            return None
        session.seen = now
        return session

    def _prune(self, now: float) -> None:
        """Drop expired sessions; at the limit, the least recently seen tenth as well."""
        live = {
            token: session
            for token, session in self._sessions.items()
            if now - session.seen <= self.idle and now - session.started <= self.lifetime
        }
        if len(live) >= self.limit:
            keep = sorted(live.items(), key=lambda item: item[1].seen)[self.limit // 10 :]
            live = dict(keep)
        self._sessions = live
        self._next_prune = now + 60

    def __len__(self) -> int:
        return len(self._sessions)

    # -- the guide's LanguageMemory: the choice lives in the session, never in the database ----

    def _of(self, resident: str) -> Session | None:
        return self._sessions.get(resident.removeprefix(PREFIX))

    async def language(self, resident: str) -> str | None:
        session = self._of(resident)
        return session.language if session else None

    async def choose(self, resident: str, language: str) -> None:
        if session := self._of(resident):
            session.language = language

    async def forget(self, resident: str) -> None:
        if session := self._of(resident):
            session.language = None
