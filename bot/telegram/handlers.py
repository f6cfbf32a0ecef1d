"""Handlers: turn Telegram updates into engine calls and engine replies into Bot API calls."""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any

from telegram import (
    CallbackQuery,
    ChatMember,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
    User,
)
from telegram.constants import ChatType
from telegram.error import BadRequest, Conflict, Forbidden, TelegramError
from telegram.ext import ApplicationHandlerStop

from bot.engine import Button, Reply
from bot.i18n import best_language
from bot.telegram.context import GuideContext

log = logging.getLogger(__name__)

# Bot API answers that mean "nothing to do", not failure.
_HARMLESS = ("message is not modified", "query is too old", "query id is invalid")
# Edits that cannot happen (message deleted or too old): send the screen as a new message.
_SEND_INSTEAD = ("message to edit not found", "message can't be edited")


def keyboard(reply: Reply) -> InlineKeyboardMarkup | None:
    """The reply's buttons as an inline keyboard."""
    return _markup(reply.buttons) if reply.buttons else None


class _Keyboard(InlineKeyboardMarkup):
    """An inline keyboard that serialises itself once: python-telegram-bot objects are immutable,
    and turning a keyboard into JSON was the largest cost of a tap after the library's own."""

    __slots__ = ("_as_dict",)

    def __init__(self, rows: list[list[InlineKeyboardButton]]) -> None:
        super().__init__(rows)
        with self._unfrozen():
            self._as_dict = super().to_dict()

    def to_dict(self, recursive: bool = True) -> dict[str, Any]:
        return self._as_dict if recursive else super().to_dict(recursive=False)


@lru_cache(maxsize=4096)
def _markup(rows: tuple[tuple[Button, ...], ...]) -> InlineKeyboardMarkup:
    # Screens repeat, so a keyboard is built (and serialised) once.
    return _Keyboard(
        [[InlineKeyboardButton(b.label, callback_data=b.data) for b in row] for row in rows]
    )


def _is(error: TelegramError, phrases: tuple[str, ...]) -> bool:
    text = str(error).lower()
    return any(phrase in text for phrase in phrases)


async def throttle(update: Update, context: GuideContext) -> None:
    """Before everything else: let a flood through as one warning, then nothing for a while."""
    user = update.effective_user
    if user is None or context.bot_data.throttle is None:
        return
    verdict = context.bot_data.throttle.check(user.id)
    if verdict == "ok":
        return
    if verdict == "warn" and update.effective_chat and update.effective_chat.type == "private":
        log.info("update %s: a resident is flooding; pausing them", update.update_id)
        _chosen, language = await _languages(user, context)
        reply = context.engine.slow_down(language)
        await context.bot.send_reply(update.effective_chat.id, reply.text)
    raise ApplicationHandlerStop


async def _languages(user: User, context: GuideContext) -> tuple[str | None, str]:
    """The language the resident chose (if any), and the one to answer in: the choice, else
    Telegram's hint when it is a shipped language, else the bot's default."""
    residents = context.bot_data.residents
    chosen = await residents.language(user.id) if residents is not None else None
    default = context.bot_data.settings.bot_default_language  # type: ignore[union-attr]
    return chosen, chosen or best_language(user.language_code) or default


async def resolve_language(update: Update, context: GuideContext) -> None:
    """Before any handler: find the resident's language and count today's language use."""
    user = update.effective_user
    context.language = context.bot_data.settings.bot_default_language  # type: ignore[union-attr]
    if user is None or user.is_bot:
        return
    chosen, context.language = await _languages(user, context)
    context.chosen_language = chosen
    if chosen is not None and update.effective_chat and update.effective_chat.type == "private":
        await context.residents.count_language(user.id, chosen)


async def show(update: Update, context: GuideContext, reply: Reply) -> None:
    """Send a reply as a new message in the resident's chat, counting a referral first."""
    chat = update.effective_chat
    if chat is None:
        return
    if reply.referral is not None and update.effective_user is not None:
        await context.residents.count_referral(update.effective_user.id, reply.referral)
    await _send(context, chat.id, reply)


async def _send(context: GuideContext, chat_id: int, reply: Reply) -> None:
    """The reply as a new message, then its venue pin if it has one."""
    await context.bot.send_reply(chat_id, reply.text, keyboard(reply))
    await _send_venue(context, chat_id, reply)


async def _send_venue(context: GuideContext, chat_id: int, reply: Reply) -> None:
    if reply.venue is None:
        return
    venue = reply.venue
    await context.bot.send_pin(
        chat_id,
        latitude=venue.latitude,
        longitude=venue.longitude,
        title=venue.title,
        address=venue.address or venue.title,
    )


async def edit(query: CallbackQuery, context: GuideContext, reply: Reply) -> None:
    """Replace the pressed menu message with the reply, or send it anew if it cannot be edited."""
    message = query.message
    if reply.referral is not None:
        # The count is committed before the card is shown: a crash after this loses nothing.
        await context.residents.count_referral(query.from_user.id, reply.referral)
    if message is None:
        return
    if not isinstance(message, Message):
        # An inaccessible (very old) message: answer with a new one.
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
    await _send_venue(context, message.chat.id, reply)


async def on_start(update: Update, context: GuideContext) -> None:
    """/start: the language picker for a newcomer, the menu for someone who already chose.

    A deep link (t.me/<bot>?start=library) arrives as /start library: its source is counted once
    per resident and day, known sources by name and anything else as "other".
    """
    if context.args and update.effective_user is not None:
        source = context.engine.source(context.args[0])
        await context.residents.count_once(update.effective_user.id, "source", source)
    if context.chosen_language is None:
        hint = update.effective_user.language_code if update.effective_user else None
        await show(update, context, context.engine.picker(context.language, hint))
    else:
        await show(update, context, context.engine.menu(context.language))


async def on_menu(update: Update, context: GuideContext) -> None:
    """/menu: the main menu."""
    await show(update, context, context.engine.menu(context.language))


async def on_language(update: Update, context: GuideContext) -> None:
    """/language: the picker, from anywhere."""
    await show(update, context, context.engine.picker(context.language))


async def on_help(update: Update, context: GuideContext) -> None:
    """/help: what the bot does."""
    await show(update, context, context.engine.help(context.language))


async def on_privacy(update: Update, context: GuideContext) -> None:
    """/privacy: what the bot keeps."""
    await show(update, context, context.engine.privacy(context.language))


async def on_forget(update: Update, context: GuideContext) -> None:
    """/forget: delete the stored language choice."""
    if update.effective_user is not None:
        await context.residents.forget(update.effective_user.id)
    await show(update, context, context.engine.forgotten(context.language))


async def on_button(update: Update, context: GuideContext) -> None:
    """A button press: answer the query, then edit the message in place."""
    query = update.callback_query
    assert query is not None
    reply = context.engine.press(query.data, context.language)
    if reply.language is not None:
        await context.residents.choose(query.from_user.id, reply.language)
        await context.residents.count_language(query.from_user.id, reply.language)
    try:
        await query.answer()
    except BadRequest as error:
        if not _is(error, _HARMLESS):
            raise
    if reply.screen == "updated":
        log.info("stale or unknown button data answered with the current menu")
    await edit(query, context, reply)


async def on_text(update: Update, context: GuideContext) -> None:
    """Typed text: the engine decides what it might mean."""
    message = update.effective_message
    assert message is not None
    reply = context.engine.typed(message.text or "", context.language)
    if reply.unmatched:
        await context.residents.count_unmatched()
    await show(update, context, reply)


async def on_other(update: Update, context: GuideContext) -> None:
    """Stickers, photos, voice, unknown commands: a kind pointer to the menu."""
    await show(update, context, context.engine.pointer(context.language))


def _staff_chat(context: GuideContext) -> int | None:
    return context.bot_data.settings.bot_staff_chat_id  # type: ignore[union-attr]


async def on_group(update: Update, context: GuideContext) -> None:
    """Any update from a group or channel other than the staff chat: leave it."""
    chat = update.effective_chat
    if chat is None or chat.type == ChatType.PRIVATE or chat.id == _staff_chat(context):
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
