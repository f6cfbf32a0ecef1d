"""The typed context of every handler: engine, residents, the resident's language, gettext."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from telegram.ext import Application, CallbackContext

from bot.config import Settings
from bot.engine import Engine
from bot.i18n import Catalogs, Translator
from bot.telegram.guidebot import GuideBot
from bot.telegram.throttle import Throttle

if TYPE_CHECKING:
    from bot.residents import Residents


@dataclass
class Services:
    """The application's shared parts (bot_data); storage-backed ones are filled in post_init."""

    settings: Settings | None = None
    engine: Engine | None = None
    catalogs: Catalogs | None = None
    residents: Residents | None = None
    throttle: Throttle | None = None


class GuideContext(CallbackContext[GuideBot, dict, dict, Services]):
    """CallbackContext with typed access to the bot's parts and the resident's language."""

    def __init__(
        self,
        application: Application,  # type: ignore[type-arg]
        chat_id: int | None = None,
        user_id: int | None = None,
    ) -> None:
        super().__init__(application=application, chat_id=chat_id, user_id=user_id)
        # Set by the language step that runs before every handler; None until chosen.
        self.chosen_language: str | None = None
        self.language: str = "da"

    @property
    def engine(self) -> Engine:
        assert self.bot_data.engine is not None
        return self.bot_data.engine

    @property
    def residents(self) -> Residents:
        assert self.bot_data.residents is not None, "storage is opened in post_init"
        return self.bot_data.residents

    @property
    def tr(self) -> Translator:
        assert self.bot_data.catalogs is not None
        return self.bot_data.catalogs[self.language]

    @property
    def _(self):
        return self.tr.gettext
