"""The Telegram face's typed parts, the Application that carries them, every handler's context."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from telegram.ext import Application, CallbackContext, JobQueue

from bot.config import Settings
from bot.flood import Throttle
from bot.guide import Guide
from bot.services import Services
from bot.telegram.guidebot import GuideBot


@dataclass(frozen=True, slots=True)
class Parts:
    """What the handlers use, complete before the Application is built: nothing is filled later."""

    settings: Settings
    guide: Guide
    services: Services
    throttle: Throttle


class GuideApplication(
    Application[
        GuideBot,
        "GuideContext",
        dict[Any, Any],
        dict[Any, Any],
        dict[Any, Any],
        JobQueue["GuideContext"],
    ]
):
    """python-telegram-bot's Application with the face's parts (ApplicationBuilder's
    application_class); its bot_data is unused."""

    def __init__(self, *, parts: Parts, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.parts = parts


def guide_application(application: Application[Any, Any, Any, Any, Any, Any]) -> GuideApplication:
    """The Application as build_application made it (its hooks are typed for any Application)."""
    if not isinstance(application, GuideApplication):
        raise TypeError("this Application was not built by bot.telegram.build_application")
    return application


class GuideContext(CallbackContext[GuideBot, dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """Every handler's context: the bot that posts replies, and the face's parts."""

    def __init__(
        self,
        application: GuideApplication,
        chat_id: int | None = None,
        user_id: int | None = None,
    ) -> None:
        super().__init__(application=application, chat_id=chat_id, user_id=user_id)
        self.parts = application.parts

    @property
    def guide(self) -> Guide:
        return self.parts.guide
