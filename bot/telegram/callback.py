"""The Telegram face of call-back requests: the staff chat as their desk, Done, shared contacts,
the phone keyboard and the hourly scrub of numbers 7 days old."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from telegram.error import BadRequest, Forbidden, NetworkError, TelegramError
from telegram.ext import CallbackQueryHandler, MessageHandler, filters

from bot.callback import DONE, DeskError, MessageGone
from bot.engine import Button
from bot.telegram.context import GuideApplication, GuideContext, guide_application
from bot.telegram.guidebot import GuideBot
from bot.telegram.handlers import STAFF_CHAT_MOVED_TO, on_button, reply_to, resident

log = logging.getLogger(__name__)

SCRUB_JOB = "scrub-callback-numbers"
SCRUB_SECONDS = 3600.0
_GONE = ("message to edit not found", "message can't be edited")


class TelegramDesk:
    """The staff chat (BOT_STAFF_CHAT_ID, or the supergroup it became) as the call-backs' desk."""

    def __init__(self, bot: GuideBot, chat_id: Callable[[], int]) -> None:
        self.bot = bot
        self.chat_id = chat_id

    async def post(self, text: str, done: Button) -> int:
        """sendMessage with the Done button; DeskError in words for the log when it fails."""
        markup = InlineKeyboardMarkup([[InlineKeyboardButton(done.label, callback_data=done.data)]])
        try:
            message = await self.bot.send_message(self.chat_id(), text, reply_markup=markup)
        except TelegramError as error:
            raise DeskError(_reason(error)) from None
        return message.message_id

    async def edit(self, message_id: int, text: str) -> None:
        """editMessageText without buttons; MessageGone when there is nothing left to edit."""
        try:
            await self.bot.edit_message_text(text, chat_id=self.chat_id(), message_id=message_id)
        except BadRequest as error:
            description = str(error).lower()
            if "message is not modified" in description:
                return
            if any(phrase in description for phrase in _GONE):
                raise MessageGone from None
            raise DeskError(_reason(error)) from None
        except TelegramError as error:
            raise DeskError(_reason(error)) from None


def _reason(error: TelegramError) -> str:
    """Why the staff chat refused, in a few words (Telegram's descriptions name no resident)."""
    if isinstance(error, Forbidden):
        return f"the bot was removed from it or may not post there: {error.message}"
    if isinstance(error, BadRequest) and "chat not found" in str(error).lower():
        return "Telegram knows no such chat; check the id"
    if isinstance(error, NetworkError):
        return f"the Bot API cannot be reached: {type(error).__name__}"
    return f"{type(error).__name__}: {error.message}"


async def on_done(update: Update, context: GuideContext) -> None:
    """Done on a request in the staff chat: the message loses the number and its button."""
    query = update.callback_query
    callbacks = context.guide.callbacks
    if query is None or callbacks is None or query.message is None:
        return
    message = query.message
    if message.chat.id != staff_chat(guide_application(context.application)):
        await on_button(update, context)  # forged in another chat: like any unknown button
        return
    try:
        await context.bot.edit_message_text(
            callbacks.done_text(query.data or ""),
            chat_id=message.chat.id,
            message_id=message.message_id,
        )
    except BadRequest as error:
        if not any(p in str(error).lower() for p in (*_GONE, "message is not modified")):
            raise
    await callbacks.done(message.message_id)
    with contextlib.suppress(BadRequest):  # too old to answer: the message is edited anyway
        await query.answer()
    log.info("update %s: a call-back request was marked done", update.update_id)


async def on_contact(update: Update, context: GuideContext) -> None:
    """A shared contact: the phone number of a call-back request (never logged or kept)."""
    message, chat, user = update.effective_message, update.effective_chat, update.effective_user
    if message is None or chat is None or user is None or message.contact is None:
        return
    reply = await context.guide.phone(resident(user), message.contact.phone_number)
    await reply_to(context, chat.id, reply)


def staff_chat(application: GuideApplication) -> int | None:
    """The staff chat's id: the supergroup it became, else BOT_STAFF_CHAT_ID."""
    moved = application.bot_data.get(STAFF_CHAT_MOVED_TO)
    return moved if isinstance(moved, int) else application.parts.settings.bot_staff_chat_id


def register(application: GuideApplication) -> None:
    """Done in the staff chat and shared contacts: before the general button and media handlers."""
    settings = application.parts.settings
    if settings.bot_staff_chat_id is None or application.parts.guide.callbacks is None:
        return
    application.add_handler(CallbackQueryHandler(on_done, pattern=f"^{DONE}"))
    private = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
    application.add_handler(MessageHandler(private & filters.CONTACT, on_contact))


async def scrub(application: GuideApplication) -> None:
    """Remove the numbers due: at start and every hour, so none outlives its 7 days by more."""
    callbacks = application.parts.guide.callbacks
    if callbacks is None:
        return
    try:
        await callbacks.scrub_due()
    except Exception:  # a fault here must not keep residents from being served
        log.exception("removing phone numbers from old call-back requests failed")


async def start(application: GuideApplication) -> None:
    """From post_init: scrub now and every hour."""
    if application.parts.guide.callbacks is None:
        return
    queue = application.job_queue
    if queue is not None:
        for job in queue.get_jobs_by_name(SCRUB_JOB):
            job.schedule_removal()

        async def hourly(_context: GuideContext) -> None:
            await scrub(application)

        queue.run_repeating(hourly, interval=SCRUB_SECONDS, first=SCRUB_SECONDS, name=SCRUB_JOB)
    await scrub(application)


async def stop(application: GuideApplication) -> None:
    """From post_shutdown: end the hourly scrub."""
    if application.job_queue is not None:
        for job in application.job_queue.get_jobs_by_name(SCRUB_JOB):
            job.schedule_removal()
