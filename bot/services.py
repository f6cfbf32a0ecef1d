"""The parts every face and command shares, opened once from settings: storage and residents."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from types import TracebackType

from bot.config import Settings
from bot.followup import FollowUps
from bot.privacy import ResidentKey
from bot.residents import Residents
from bot.storage import Storage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Services:
    """The open database and the resident services built on it (the keyed hash, counting)."""

    settings: Settings
    storage: Storage
    residents: Residents
    followups: FollowUps

    @classmethod
    async def open(
        cls, settings: Settings, *, in_memory: bool = False, readonly: bool = False
    ) -> Services:
        """Open BOT_DATABASE and the resident key beside it; in_memory keeps nothing on disk
        (the terminal chat: the same rules, nothing written); readonly (reports, backups)
        neither migrates the database nor reads the key."""
        if in_memory or readonly:
            storage = await Storage.open(
                ":memory:" if in_memory else settings.bot_database, readonly=readonly
            )
            key = ResidentKey.random()
        else:
            # The key first: a bad key file must not leave the database open.
            key = ResidentKey.from_file(settings.secret_file)
            storage = await Storage.open(settings.bot_database)
            if key.created and (dropped := await storage.drop_choices()):
                log.warning(
                    "%s was missing, so a new key was made: the %d language choices stored "
                    "under the old one were deleted, and those residents choose again",
                    settings.secret_file,
                    dropped,
                )
        residents = Residents(storage, key, settings.timezone)
        return cls(settings, storage, residents, FollowUps.under(storage, key, settings.timezone))

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
