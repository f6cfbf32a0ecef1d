"""The bot's ExtBot: replies posted without reading Telegram's answer, each update parsed once."""

from __future__ import annotations

from typing import Any

from telegram import InlineKeyboardMarkup, Update
from telegram.error import TelegramError
from telegram.ext import ExtBot
from telegram.request import BaseRequest

from bot.telegram.request import readable_updates


class GuideBot(ExtBot[Any]):
    """ExtBot with reply calls that return nothing, and polling that survives an unreadable update.

    python-telegram-bot turns every answer to sendMessage or editMessageText into a Message, and
    that parse was two thirds of an echo bot's whole cost per update (benchmarks/README.md). The
    handlers never read those answers, so these calls skip it. The request on the wire is the
    one `send_message` and friends make (tests/test_guidebot.py), through the same rate limiter,
    retries and errors. ExtBot's arbitrary callback data is not used (buttons carry their own
    data), so bypassing its keyboard rewriting loses nothing.
    """

    __slots__ = ("_poll_request",)

    def __init__(
        self, token: str, *args: Any, get_updates_request: BaseRequest | None = None, **kwargs: Any
    ) -> None:
        super().__init__(token, *args, get_updates_request=get_updates_request, **kwargs)
        self._poll_request = get_updates_request

    async def send_reply(
        self, chat_id: int, text: str, reply_markup: InlineKeyboardMarkup | None = None
    ) -> None:
        """sendMessage; its answer is not parsed."""
        await self._post(
            "sendMessage", {"chat_id": chat_id, "text": text, "reply_markup": reply_markup}
        )

    async def edit_reply(
        self,
        chat_id: int,
        message_id: int,
        text: str,
        reply_markup: InlineKeyboardMarkup | None = None,
    ) -> None:
        """editMessageText on a message in a chat; its answer is not parsed."""
        await self._post(
            "editMessageText",
            {
                "chat_id": chat_id,
                "message_id": message_id,
                "text": text,
                "reply_markup": reply_markup,
            },
        )

    async def send_pin(
        self, chat_id: int, latitude: float, longitude: float, title: str, address: str
    ) -> None:
        """sendVenue; its answer is not parsed."""
        await self._post(
            "sendVenue",
            {
                "chat_id": chat_id,
                "latitude": latitude,
                "longitude": longitude,
                "title": title,
                "address": address,
            },
        )

    async def get_updates(self, *args: Any, **kwargs: Any) -> tuple[Update, ...]:
        """getUpdates, each update parsed once; a batch the library cannot parse is read again
        update by update from the same answer, and what cannot be read is skipped.

        A Bot API server older or newer than the library can send an update that lacks a field
        the library requires. Unhandled, the whole batch fails on every poll, so the bot is stuck
        on it for good.
        """
        try:
            return await super().get_updates(*args, **kwargs)
        except TelegramError:
            raise
        except Exception:  # a parse failure: the library's own errors vary
            answer = getattr(self._poll_request, "last_poll", None)
            if not answer:
                raise
            return tuple(Update.de_list(readable_updates(answer), self))
