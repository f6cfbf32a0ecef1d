"""Handlers: a Telegram update becomes one call of the guide, its reply a send or an edit."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from telegram import (
    CallbackQuery,
    ChatMember,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    MaybeInaccessibleMessage,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
    User,
)
from telegram.constants import ChatType
from telegram.error import BadRequest, Conflict, Forbidden, TelegramError
from telegram.ext import ApplicationHandlerStop

from bot.callback import SHARE
from bot.engine import Button, Engine, Reply, Venue
from bot.guide import Resident
from bot.telegram.context import GuideContext

log = logging.getLogger(__name__)

# Bot API answers that mean "nothing to do", not failure.
_HARMLESS = ("message is not modified", "query is too old", "query id is invalid")
# Edits that cannot happen (message deleted or too old): send the screen as a new message.
_SEND_INSTEAD = ("message to edit not found", "message can't be edited")


def keyboard(reply: Reply) -> InlineKeyboardMarkup | None:
    """The reply's buttons as an inline keyboard, a card's "Show on map" link below them."""
    if not reply.buttons and reply.venue is None:
        return None
    return _markup(reply.buttons, reply.venue)


class Keyboard(InlineKeyboardMarkup):
    """An inline keyboard that is never changed, so its Bot API form is worked out once."""

    __slots__ = ("_as_dict",)

    def __init__(self, inline_keyboard: Sequence[Sequence[InlineKeyboardButton]]) -> None:
        super().__init__(inline_keyboard)
        # The library serialises a keyboard again for every call that carries it: about a
        # tenth of a tap's CPU in-process (benchmarks/README.md). The library lets attributes
        # with an underscore be set on its frozen objects.
        self._as_dict = super().to_dict()

    def to_dict(self, recursive: bool = True) -> dict[str, Any]:
        """The keyboard as the Bot API takes it; the same dict every time, never to be changed."""
        return self._as_dict if recursive else super().to_dict(recursive)


@lru_cache(maxsize=4096)
def _markup(rows: tuple[tuple[Button, ...], ...], venue: Venue | None) -> Keyboard:
    # Screens repeat, so a keyboard is built once.
    keys = [[InlineKeyboardButton(b.label, callback_data=b.data) for b in row] for row in rows]
    if venue is not None:
        # A link, not a venue message: the card's text already has the address, and a second
        # message would double what Telegram's limit of 30 a second lets through in a rush.
        keys.append([InlineKeyboardButton(venue.label, url=venue.url)])
    return Keyboard(keys)


def phone_keyboard(reply: Reply) -> ReplyKeyboardMarkup:
    """A phone step's buttons as a keyboard: share my number (Telegram asks first), cancel."""
    rows = []
    for row in reply.buttons:
        for button in row:
            share = Engine.parse(button.data)[0] == SHARE
            rows.append([KeyboardButton(button.label, request_contact=share or None)])
    return ReplyKeyboardMarkup(rows, resize_keyboard=True, one_time_keyboard=True)


def _is(error: TelegramError, phrases: tuple[str, ...]) -> bool:
    text = str(error).lower()
    return any(phrase in text for phrase in phrases)


def resident(user: User) -> Resident:
    """The Telegram user as the conversation layer knows them: a namespaced id and a hint."""
    return Resident(f"tg:{user.id}", user.language_code)


async def throttle(update: Update, context: GuideContext) -> None:
    """Before everything else: let a flood through as one warning, then nothing for a while."""
    user = update.effective_user
    if user is None:
        return
    verdict = context.parts.throttle.check(user.id)
    if verdict == "ok":
        return
    if verdict == "warn" and update.effective_chat and update.effective_chat.type == "private":
        log.info("update %s: a resident is flooding; pausing them", update.update_id)
        reply = await context.guide.slow_down(resident(user))
        await context.bot.send_reply(update.effective_chat.id, reply.text)
    raise ApplicationHandlerStop


async def _send(context: GuideContext, chat_id: int, reply: Reply) -> None:
    """The reply as a new message; a notice first, which also takes a phone keyboard away, and a
    phone step with Telegram's share-my-number keyboard."""
    if reply.notice:
        await context.bot.send_reply(chat_id, reply.notice, ReplyKeyboardRemove())
    markup = phone_keyboard(reply) if reply.phone else keyboard(reply)
    await context.bot.send_reply(chat_id, reply.text, markup)


reply_to = _send


async def _edit(context: GuideContext, message: MaybeInaccessibleMessage, reply: Reply) -> None:
    """Replace the pressed menu message with the reply, or send it anew if it cannot be edited."""
    if not isinstance(message, Message) or reply.phone or reply.notice:
        # An inaccessible (very old) message, or one that needs a keyboard of another kind
        # than the pressed message's: answer with a new one.
        await _send(context, message.chat.id, reply)
        return
    try:
        await context.bot.edit_reply(
            message.chat.id, message.message_id, reply.text, keyboard(reply)
        )
    except BadRequest as error:
        if _is(error, _SEND_INSTEAD):
            await _send(context, message.chat.id, reply)
            return
        if not _is(error, _HARMLESS):
            raise


async def on_command(update: Update, context: GuideContext) -> None:
    """A resident's command from the guide's table (/start with a deep-link source)."""
    message, chat, user = update.effective_message, update.effective_chat, update.effective_user
    if message is None or chat is None or user is None or not message.text:
        return
    # "/start@GuideBot library": CommandHandler matched the name without case.
    name = message.text.split()[0][1:].split("@")[0].lower()
    argument = context.args[0] if context.args else ""
    await _send(context, chat.id, await context.guide.command(resident(user), name, argument))


async def on_button(update: Update, context: GuideContext) -> None:
    """A button press: answer the query and, at the same time, edit the message in place."""
    query = update.callback_query
    if query is None:
        return
    # The answer stops the spinner on the button. It is not a message, so Telegram's rate limit
    # does not hold it back (python-telegram-bot's limiter counts calls with a chat_id). It goes
    # on the wire first, before a newcomer's hash; the edit is made meanwhile, not after the
    # answer's round trip, so a tap costs one round trip.
    show = asyncio.ensure_future(_show(context, query))
    try:
        await _answer(query)
    finally:
        await show


async def _answer(query: CallbackQuery) -> None:
    try:
        await query.answer()
    except BadRequest as error:
        if not _is(error, _HARMLESS):
            raise


async def _show(context: GuideContext, query: CallbackQuery) -> None:
    reply = await context.guide.press(resident(query.from_user), query.data)
    if reply.screen == "updated":
        log.info("stale or unknown button data answered with the current menu")
    if query.message is not None:
        await _edit(context, query.message, reply)


async def on_text(update: Update, context: GuideContext) -> None:
    """Typed text: the guide decides what it might mean."""
    message, chat, user = update.effective_message, update.effective_chat, update.effective_user
    if message is None or chat is None or user is None:
        return
    await _send(context, chat.id, await context.guide.type(resident(user), message.text or ""))


async def on_other(update: Update, context: GuideContext) -> None:
    """Stickers, photos, voice, unknown commands: a kind pointer to the menu."""
    chat, user = update.effective_chat, update.effective_user
    if chat is None or user is None:
        return
    await _send(context, chat.id, await context.guide.other(resident(user)))


# bot_data key: the id the staff chat moved to when it became a supergroup, until a restart.
STAFF_CHAT_MOVED_TO = "staff_chat_moved_to"


async def on_group(update: Update, context: GuideContext) -> None:
    """Any update from a group or channel other than the staff chat: leave it."""
    chat, message = update.effective_chat, update.effective_message
    staff_chat = context.parts.settings.bot_staff_chat_id
    if chat is None or chat.type == ChatType.PRIVATE or chat.id == staff_chat:
        return
    # A staff group upgraded to a supergroup gets a new id: stay in it, and tell the operator.
    moved = context.application.bot_data.get(STAFF_CHAT_MOVED_TO)
    if (
        staff_chat is not None
        and message is not None
        and message.migrate_from_chat_id == staff_chat
    ):
        context.application.bot_data[STAFF_CHAT_MOVED_TO] = chat.id
        log.warning(
            "the staff chat %d became a supergroup with the id %d: the bot stays in it; set "
            "BOT_STAFF_CHAT_ID=%d and restart, so reports and /stats go there",
            staff_chat,
            chat.id,
            chat.id,
        )
        return
    if chat.id == moved:
        return
    log.info("leaving a %s the bot was added to", chat.type)
    try:
        await context.bot.leave_chat(chat.id)
    except TelegramError as error:
        log.info("could not leave a %s: %s", chat.type, type(error).__name__)


async def on_membership(update: Update, context: GuideContext) -> None:
    """The bot's own membership changed: leave groups; note (without ids) a resident blocking it."""
    change = update.my_chat_member
    if change is None:
        return
    status = change.new_chat_member.status
    if change.chat.type == ChatType.PRIVATE:
        if status == ChatMember.BANNED:
            log.info("a resident blocked the bot")
        return
    if status in (ChatMember.MEMBER, ChatMember.ADMINISTRATOR, ChatMember.RESTRICTED):
        await on_group(update, context)


async def on_error(update: object, context: GuideContext) -> None:
    """Log the error's type and the update id only: never the update, which holds personal data."""
    error = context.error
    update_id = update.update_id if isinstance(update, Update) else None
    if isinstance(error, Forbidden):
        log.info("update %s: the resident blocked the bot", update_id)
        return
    if isinstance(error, Conflict):
        log.error("another process is polling with this token; only one bot may run at a time")
        return
    log.error("update %s failed: %s", update_id, type(error).__name__, exc_info=_traceback(error))


def _traceback(error: BaseException | None) -> BaseException | None:
    # Telegram errors carry the server's description, never residents' data; other exceptions get a
    # traceback so the cause can be found. Exception messages are not formatted with update content.
    return None if isinstance(error, TelegramError) else error
