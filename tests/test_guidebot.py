"""GuideBot's reply calls put the same request on the wire as python-telegram-bot's own methods,
and fail the same way."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, Forbidden

from bot.telegram.guidebot import GuideBot
from bot.telegram.handlers import Keyboard
from bot.telegram.offline import OfflineRequest
from tests.conftest import TOKEN

MARKUP = InlineKeyboardMarkup(
    [
        [InlineKeyboardButton("Fritidsjob", callback_data="v000000:fritidsjob")],
        [InlineKeyboardButton("☰ Menu", callback_data="v000000:menu")],
    ]
)


class Refusing(OfflineRequest):
    """Answers one method with a Bot API error, everything else as usual."""

    def __init__(self, method: str, status: int, description: str) -> None:
        super().__init__()
        self.refused = (method, status, description)

    def refuse(self, method: str, params: dict[str, Any]) -> tuple[int, str] | None:
        refused, status, description = self.refused
        return (status, description) if method == refused else None


@pytest.fixture
async def guidebot() -> AsyncIterator[tuple[GuideBot, OfflineRequest]]:
    request = OfflineRequest()
    bot = GuideBot(TOKEN, request=request, get_updates_request=request)
    async with bot:
        yield bot, request


def _last_two(request: OfflineRequest) -> tuple[Any, Any]:
    first, second = request.calls[-2:]
    return (first.method, first.params), (second.method, second.params)


@pytest.mark.parametrize("markup", [MARKUP, None])
async def test_send_reply_is_send_message_on_the_wire(guidebot, markup) -> None:
    bot, request = guidebot
    await bot.send_message(42, "Mente du: Fritidsjob?", reply_markup=markup)
    await bot.send_reply(42, "Mente du: Fritidsjob?", markup)
    theirs, ours = _last_two(request)
    assert ours == theirs
    assert ours[0] == "sendMessage"


async def test_edit_reply_is_edit_message_text_on_the_wire(guidebot) -> None:
    bot, request = guidebot
    await bot.edit_message_text("Menu", chat_id=42, message_id=7, reply_markup=MARKUP)
    await bot.edit_reply(42, 7, "Menu", MARKUP)
    theirs, ours = _last_two(request)
    assert ours == theirs
    assert ours[0] == "editMessageText"


async def test_a_keyboard_serialised_once_is_the_librarys_keyboard_on_the_wire(guidebot) -> None:
    """The bot's Keyboard, whose Bot API form is worked out once, sends what the library's
    InlineKeyboardMarkup sends, call after call."""
    bot, request = guidebot
    keyboard = Keyboard(MARKUP.inline_keyboard)
    assert keyboard == MARKUP
    for _ in range(2):
        await bot.edit_message_text("Menu", chat_id=42, message_id=7, reply_markup=MARKUP)
        await bot.edit_reply(42, 7, "Menu", keyboard)
        theirs, ours = _last_two(request)
        assert ours == theirs
        assert ours[1]["reply_markup"]["inline_keyboard"][1][0]["callback_data"] == "v000000:menu"
    assert keyboard.to_dict() is keyboard.to_dict()


async def test_replies_return_nothing(guidebot) -> None:
    bot, _ = guidebot
    assert await bot.send_reply(42, "Hej") is None
    assert await bot.edit_reply(42, 7, "Hej") is None


@pytest.mark.parametrize(
    ("method", "status", "description", "error", "call"),
    [
        (
            "editMessageText",
            400,
            "Bad Request: message is not modified",
            BadRequest,
            lambda bot: bot.edit_reply(42, 7, "Menu"),
        ),
        (
            "sendMessage",
            403,
            "Forbidden: bot was blocked by the user",
            Forbidden,
            lambda bot: bot.send_reply(42, "Hej"),
        ),
    ],
)
async def test_errors_are_the_librarys_own(method, status, description, error, call) -> None:
    """The handlers tell harmless answers from failures by these errors and their text."""
    request = Refusing(method, status, description)
    async with GuideBot(TOKEN, request=request, get_updates_request=request) as bot:
        with pytest.raises(error, match="(?i)" + description.split(": ", 1)[1]):
            await call(bot)
