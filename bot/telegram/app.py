"""The application factory: builds a python-telegram-bot Application wired to engine and storage."""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import logging
import ssl
from typing import Any

from telegram import Update
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.request import BaseRequest

from bot.callback import CallBacks
from bot.config import Settings
from bot.engine import Engine
from bot.flood import Throttle
from bot.guide import COMMANDS, LISTED, Guide
from bot.services import Services
from bot.telegram import callback, followups, handlers, staff
from bot.telegram.commands import set_commands
from bot.telegram.context import GuideApplication, GuideContext, Parts, guide_application
from bot.telegram.guidebot import GuideBot
from bot.telegram.limiter import ArrivalOrderLimiter
from bot.telegram.processor import PerResidentUpdateProcessor
from bot.telegram.request import RetryingRequest

log = logging.getLogger(__name__)

# python-telegram-bot logs the raw JSON of an update it cannot parse (CRITICAL, "Received data
# was %r"): residents' ids, names and texts. These are the loggers that do it.
_RAW_UPDATE_LOGGERS = ("telegram.Bot", "telegram.ext.ExtBot", "telegram.ext.Updater")


class WithholdRawUpdates(logging.Filter):
    """Keep the library's message about an unparsable update, without the update itself; drop it
    for a poll, which GuideBot reads again update by update (logging each skipped one's id)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and "Received data was" in record.msg:
            if record.msg.startswith("Error while parsing updates"):
                return False
            record.msg = record.msg.replace("%r", "<withheld: it holds personal data>")
            record.args = None
        return True


# Updates handled at once (across residents; one resident's run one at a time, in order). In a
# burst most of them wait for the rate limiter, which costs little; with a few hundred, the
# rest waited for a slot before their button was even answered (the spinner ran for a minute).
MAX_CONCURRENT_UPDATES = 4096


def rate_limiter() -> AIORateLimiter:
    """Telegram's limit for one bot (about 30 messages a second), at that rate from the start.

    The library's default bucket holds 30 calls: after a pause it let 30 through at once and
    then 30 a second, up to 84 in one second, which can draw 429s. One call per 1/30 s never
    exceeds the published rate; a single tap still goes out at once.
    """
    # max_retries: a 429 from Telegram is waited out and retried instead of failing the reply.
    return AIORateLimiter(overall_max_rate=1, overall_time_period=1 / 30, max_retries=3)


# Language choices unused for six months are deleted at start and every night at this time.
PURGE_TIME = dt.time(3, 30)
# New objects between two collections of the youngest generation (Python's default: 700).
YOUNGEST_COLLECTED_AFTER = 50_000


def build_application(
    settings: Settings,
    engine: Engine,
    services: Services,
    *,
    request: BaseRequest | None = None,
    rate_limit: bool = True,
    throttle: Throttle | None = None,
) -> GuideApplication:
    """Build the Telegram face on services opened by the caller (who also closes them).

    Tests and benchmarks pass an offline `request`; without one the bot talks HTTP to
    TELEGRAM_API_URL through a client that retries server errors and dropped connections.
    """
    if settings.token is None:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set: the terminal chat runs without one")
    context_types = ContextTypes(context=GuideContext)
    if request is None:
        # Loading the system's certificates takes tens of milliseconds: do it once for both.
        tls = ssl.create_default_context()
        # One connection per update handled at once, as python-telegram-bot's own default.
        request = RetryingRequest(connection_pool_size=256, ssl_context=tls)
        # Long polling holds its connection for the whole poll: give it a client of its own.
        updates_request: BaseRequest = RetryingRequest(
            connection_pool_size=1, read_timeout=30, ssl_context=tls
        )
    else:
        updates_request = request
    bot = GuideBot(
        settings.token,
        base_url=f"{settings.telegram_api_url}/bot",
        base_file_url=f"{settings.telegram_api_url}/file/bot",
        request=request,
        get_updates_request=updates_request,
        rate_limiter=ArrivalOrderLimiter(rate_limiter()) if rate_limit else None,
    )
    desk = callback.TelegramDesk(bot, lambda: settings.bot_staff_chat_id or 0)
    callbacks = None
    if settings.bot_staff_chat_id is not None:
        callbacks = CallBacks.from_settings(settings, engine, services.residents, desk)
    parts = Parts(
        settings=settings,
        guide=Guide(
            engine,
            services.residents,
            settings.bot_default_language,
            callbacks=callbacks,
            followups=services.followups,
        ),
        services=services,
        throttle=throttle if throttle is not None else Throttle(),
    )
    built = (
        ApplicationBuilder()
        .application_class(GuideApplication, kwargs={"parts": parts})
        .bot(bot)
        .context_types(context_types)
        .concurrent_updates(PerResidentUpdateProcessor(MAX_CONCURRENT_UPDATES))
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
        .build()
    )
    application = guide_application(built)  # the builder is typed for any Application
    desk.chat_id = lambda: callback.staff_chat(application) or 0
    add_handlers(application)
    for name in _RAW_UPDATE_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, WithholdRawUpdates) for f in logger.filters):
            logger.addFilter(WithholdRawUpdates())
    return application


def add_handlers(application: GuideApplication) -> None:
    """Register the flood guard, the commands, buttons, text, media and group handling."""
    private = filters.ChatType.PRIVATE
    application.add_handler(TypeHandler(Update, handlers.throttle), group=-2)
    staff.register(application)  # /stats: before the group and unknown-command handlers
    callback.register(application)  # Done and shared contacts: before buttons and media
    application.add_handler(
        ChatMemberHandler(handlers.on_membership, ChatMemberHandler.MY_CHAT_MEMBER)
    )
    application.add_handler(
        MessageHandler(~private & ~filters.UpdateType.CHANNEL_POSTS, handlers.on_group)
    )
    names = [command.name for command in COMMANDS]
    application.add_handler(CommandHandler(names, handlers.on_command, filters=private))
    application.add_handler(CallbackQueryHandler(handlers.on_button))
    new_messages = private & filters.UpdateType.MESSAGE
    application.add_handler(
        MessageHandler(new_messages & filters.TEXT & ~filters.COMMAND, handlers.on_text)
    )
    application.add_handler(MessageHandler(new_messages, handlers.on_other))
    application.add_error_handler(handlers.on_error)


async def _post_init(built: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Forget unused language choices (now and nightly), list the commands, start staff jobs."""
    application = guide_application(built)
    settings = application.parts.settings
    await _purge(application)
    await followups.purge(application)
    followups.start(application)  # the weekly follow-up questions and their daily purge
    if application.job_queue is not None:
        # A bot that runs for months without a restart still forgets unused choices.
        application.job_queue.run_daily(
            lambda context: _purge(application),
            time=PURGE_TIME.replace(tzinfo=settings.timezone),
            name="purge-language-choices",
        )
    # The first card would import the holidays library (about 0.3 s of CPU) and read CLDR's
    # data while residents wait for their answers; in a burst every answer behind it would wait.
    # The model has been training since the engine was built: this waits for it.
    engine = application.parts.guide.engine
    await asyncio.to_thread(engine.warm_up)
    settle()
    catalogs = engine.catalogs
    await set_commands(application.bot, catalogs, settings.bot_default_language, LISTED)
    await staff.start(application)  # staff commands, Monday report job, catch-up
    await callback.start(application)  # numbers 7 days old leave the staff chat
    log.info("ready: content version %s", application.parts.guide.engine.content.version)


def settle() -> None:
    """Tell the garbage collector that start-up is over (gc.freeze) and that bursts are normal."""
    # Content, catalogs and the model live as long as the process: frozen, no full collection
    # walks their 120,000 objects again. And a burst keeps thousands of updates' objects alive
    # at once, which Python's collection of the youngest objects, every 700 new ones, walked
    # again and again. In a burst of 5,000 updates collecting took 0.38 ms of CPU per update (a
    # minimal bot: 0.21 ms), now 0.05 ms; the burst's peak memory grew by 3 MB, 2 %.
    gc.freeze()
    gc.set_threshold(YOUNGEST_COLLECTED_AFTER, *gc.get_threshold()[1:])


async def _purge(application: GuideApplication) -> None:
    """Delete language choices unused for six months, as /privacy promises."""
    if purged := await application.parts.services.residents.purge():
        log.info("deleted %d language choices unused for six months", purged)


async def _post_shutdown(built: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Stop the nightly purge; the services belong to whoever opened them."""
    application = guide_application(built)
    await callback.stop(application)
    if application.job_queue is not None:
        for job in application.job_queue.get_jobs_by_name("purge-language-choices"):
            job.schedule_removal()
    followups.stop(application)
