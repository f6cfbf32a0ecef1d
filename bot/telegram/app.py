"""The application factory: builds a python-telegram-bot Application wired to engine and storage."""

from __future__ import annotations

import datetime as dt
import logging
import ssl

from telegram import BotCommand, BotCommandScopeDefault, Update
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

from bot.config import Settings
from bot.engine import Engine
from bot.i18n import LANGUAGES, N_, Catalogs
from bot.privacy import ResidentKey
from bot.residents import Residents
from bot.storage import Storage
from bot.telegram import handlers, staff
from bot.telegram.context import GuideContext, Services
from bot.telegram.guidebot import GuideBot
from bot.telegram.processor import PerResidentUpdateProcessor
from bot.telegram.request import RetryingRequest
from bot.telegram.throttle import Throttle

log = logging.getLogger(__name__)

# python-telegram-bot logs the raw JSON of an update it cannot parse (CRITICAL, "Received data
# was %r"): residents' ids, names and texts. These are the loggers that do it.
_RAW_UPDATE_LOGGERS = ("telegram.Bot", "telegram.ext.Updater")


class WithholdRawUpdates(logging.Filter):
    """Keep the library's message about an unparsable update, without the update itself."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and "Received data was" in record.msg:
            record.msg = record.msg.replace("%r", "<withheld: it holds personal data>")
            record.args = None
        return True


# Language choices unused for six months are deleted at start and every night at this time.
PURGE_TIME = dt.time(3, 30)

# The commands residents see in Telegram's menu, with their descriptions (translated per language).
COMMANDS: tuple[tuple[str, str], ...] = (
    ("menu", N_("Main menu")),
    ("language", N_("Change the language")),
    ("help", N_("How the bot works")),
    ("privacy", N_("What the bot keeps about you")),
    ("forget", N_("Delete your language choice")),
)


def build_application(
    settings: Settings,
    engine: Engine,
    *,
    request: BaseRequest | None = None,
    rate_limit: bool = True,
    throttle: Throttle | None = None,
) -> Application:
    """Build the Application; storage is opened in post_init and closed in post_shutdown.

    Tests and benchmarks pass an offline `request`; without one the bot talks HTTP to
    TELEGRAM_API_URL through a client that retries server errors and dropped connections.
    """
    assert settings.token is not None, "the terminal chat runs without a token, not this"
    context_types = ContextTypes(context=GuideContext, bot_data=Services)
    if request is None:
        # Loading the system's certificates takes tens of milliseconds: do it once for both.
        tls = {"verify": ssl.create_default_context()}
        # One connection per update handled at once, as python-telegram-bot's own default.
        request = RetryingRequest(connection_pool_size=256, httpx_kwargs=tls)
        # Long polling holds its connection for the whole poll: give it a client of its own.
        updates_request: BaseRequest = RetryingRequest(read_timeout=30, httpx_kwargs=tls)
    else:
        updates_request = request
    bot = GuideBot(
        settings.token,
        base_url=f"{settings.telegram_api_url}/bot",
        base_file_url=f"{settings.telegram_api_url}/file/bot",
        request=request,
        get_updates_request=updates_request,
        # max_retries: a 429 from Telegram is waited out and retried instead of failing the reply.
        rate_limiter=AIORateLimiter(max_retries=3) if rate_limit else None,
    )
    builder = (
        ApplicationBuilder()
        .bot(bot)
        .context_types(context_types)
        .concurrent_updates(PerResidentUpdateProcessor())
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
    )
    application = builder.build()
    services: Services = application.bot_data
    services.settings = settings
    services.engine = engine
    services.catalogs = engine.catalogs
    services.throttle = throttle if throttle is not None else Throttle()
    add_handlers(application)
    for name in _RAW_UPDATE_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, WithholdRawUpdates) for f in logger.filters):
            logger.addFilter(WithholdRawUpdates())
    return application


def add_handlers(application: Application) -> None:
    """Register the language step, the commands, buttons, text, media and group handling."""
    private = filters.ChatType.PRIVATE
    application.add_handler(TypeHandler(Update, handlers.throttle), group=-2)
    application.add_handler(TypeHandler(Update, handlers.resolve_language), group=-1)
    staff.register(application)  # /stats: before the group and unknown-command handlers
    application.add_handler(
        ChatMemberHandler(handlers.on_membership, ChatMemberHandler.MY_CHAT_MEMBER)
    )
    application.add_handler(
        MessageHandler(~private & ~filters.UpdateType.CHANNEL_POSTS, handlers.on_group)
    )
    commands = {
        "start": handlers.on_start,
        "menu": handlers.on_menu,
        "language": handlers.on_language,
        "help": handlers.on_help,
        "privacy": handlers.on_privacy,
        "forget": handlers.on_forget,
    }
    for name, callback in commands.items():
        application.add_handler(CommandHandler(name, callback, filters=private))
    application.add_handler(CallbackQueryHandler(handlers.on_button))
    new_messages = private & filters.UpdateType.MESSAGE
    application.add_handler(
        MessageHandler(new_messages & filters.TEXT & ~filters.COMMAND, handlers.on_text)
    )
    application.add_handler(MessageHandler(new_messages, handlers.on_other))
    application.add_error_handler(handlers.on_error)


async def _post_init(application: Application) -> None:
    """Open storage and register the command list in every language Telegram accepts."""
    services: Services = application.bot_data
    assert services.settings is not None
    assert services.catalogs is not None
    settings = services.settings
    storage = await Storage.open(settings.bot_database)
    residents = Residents(storage, ResidentKey.from_file(settings.secret_file), settings.timezone)
    services.residents = residents
    await _purge(application)
    if application.job_queue is not None:
        # A bot that runs for months without a restart still forgets unused choices.
        application.job_queue.run_daily(
            lambda context: _purge(context.application),
            time=PURGE_TIME.replace(tzinfo=settings.timezone),
            name="purge-language-choices",
        )
    await set_commands(application, services.catalogs)
    await staff.start(application)  # staff commands, Monday report job, catch-up
    log.info(
        "ready: content version %s", services.engine.content.version if services.engine else ""
    )


async def _purge(application: Application) -> None:
    """Delete language choices unused for six months, as /privacy promises."""
    residents = application.bot_data.residents
    if residents is not None and (purged := await residents.purge()):
        log.info("deleted %d language choices unused for six months", purged)


async def _post_shutdown(application: Application) -> None:
    """Close storage after the last update was handled."""
    services: Services = application.bot_data
    if services.residents is not None:
        await services.residents.storage.close()
        services.residents = None


async def set_commands(application: Application, catalogs: Catalogs) -> None:
    """setMyCommands for the default list (Danish) and each two-letter language code."""
    for code in (None, *LANGUAGES):
        if code is not None and len(code) != 2:
            continue  # Telegram accepts only two-letter codes; Sorani users get the default list.
        _ = catalogs[code or "da"].gettext
        commands = [BotCommand(name, _(description)) for name, description in COMMANDS]
        await application.bot.set_my_commands(
            commands, scope=BotCommandScopeDefault(), language_code=code
        )
