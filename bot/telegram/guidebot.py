"""The bot's ExtBot: the two reply calls the handlers make, and each update parsed once."""

from __future__ import annotations

from typing import Any

from telegram import InlineKeyboardMarkup, ReplyKeyboardMarkup, ReplyKeyboardRemove, Update
from telegram.error import TelegramError
from telegram.ext import ExtBot
from telegram.request import BaseRequest

from bot.telegram.request import readable_updates


class GuideBot(ExtBot[Any]):
    """ExtBot with short names for the replies, and polling that survives an unreadable update.

    The replies are python-telegram-bot's own calls. Posting them without parsing Telegram's
    answer (the library's private `_post`) saved about 65 µs a call in-process, but nothing a
    resident notices end to end (benchmarks/README.md), so the public calls it is.
    """

    __slots__ = ("_poll_request",)

    def __init__(
        self, token: str, get_updates_request: BaseRequest | None = None, **kwargs: Any
    ) -> None:
        super().__init__(token, get_updates_request=get_updates_request, **kwargs)
        self._poll_request = get_updates_request

    async def send_reply(
        self,
        chat_id: int,
        text: str,
        reply_markup: InlineKeyboardMarkup
        | ReplyKeyboardMarkup
        | ReplyKeyboardRemove
        | None = None,
    ) -> None:
        """sendMessage."""
        await self.send_message(chat_id, text, reply_markup=reply_markup)

    async def edit_reply(
        self,
        chat_id: int,
        message_id: int,
        text: str,
        reply_markup: InlineKeyboardMarkup | None = None,
    ) -> None:
        """editMessageText on a message in a chat."""
        await self.edit_message_text(
            text, chat_id=chat_id, message_id=message_id, reply_markup=reply_markup
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
