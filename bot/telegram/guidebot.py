"""The bot's ExtBot: replies that go out without Telegram's answer being read back."""

from __future__ import annotations

from typing import Any

from telegram import InlineKeyboardMarkup
from telegram.ext import ExtBot


class GuideBot(ExtBot[Any]):
    """ExtBot with reply calls that return nothing.

    python-telegram-bot turns every answer to sendMessage or editMessageText into a Message, and
    that parse was two thirds of an echo bot's whole cost per update (benchmarks/README.md). The
    handlers never read those answers, so these calls skip it. The request on the wire is the
    one `send_message` and friends make (tests/test_guidebot.py), through the same rate limiter,
    retries and errors. ExtBot's arbitrary callback data is not used (buttons carry their own
    data), so bypassing its keyboard rewriting loses nothing.
    """

    __slots__ = ()

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
