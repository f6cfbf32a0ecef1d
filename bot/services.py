"""The parts every face and command shares, opened once from settings: storage and residents."""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType

from bot.config import Settings
from bot.privacy import ResidentKey
from bot.residents import Residents
from bot.storage import Storage


@dataclass(frozen=True)
class Services:
    """The open database and the resident services built on it (the keyed hash, counting)."""

    settings: Settings
    storage: Storage
    residents: Residents

    @classmethod
    async def open(cls, settings: Settings, *, in_memory: bool = False) -> Services:
        """Open BOT_DATABASE and the resident key beside it; in_memory keeps nothing on disk
        (the terminal chat: the same rules, nothing written)."""
        if in_memory:
            storage = await Storage.open(":memory:")
            key = ResidentKey.random()
        else:
            storage = await Storage.open(settings.bot_database)
            try:
                key = ResidentKey.from_file(settings.secret_file)
            except BaseException:
                await storage.close()
                raise
        return cls(settings, storage, Residents(storage, key, settings.timezone))

    async def close(self) -> None:
        """Close the database; every write was committed when it returned."""
        await self.storage.close()

    async def __aenter__(self) -> Services:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()
