"""Command line: run, chat, web, poster, check, understand, catalog, backup, stats."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import threading
import traceback
from pathlib import Path
from typing import TYPE_CHECKING

from bot.config import ConfigError, Settings, load_settings
from bot.content import ContentError, load_content
from bot.content.loader import format_path
from bot.engine import Engine
from bot.i18n import LANGUAGES, Catalogs
from bot.privacy import KeyFileError
from bot.storage import StorageError

if TYPE_CHECKING:
    from aiohttp.web import AppRunner
    from telegram.ext import Application

    from bot.callback import CallBacks
    from bot.services import Services

log = logging.getLogger("bot")

DESCRIPTION = f"""\
Vollsmose Guide: a Telegram bot that guides residents of Vollsmose to local help in their own
language and counts referrals anonymously.

Configuration comes from environment variables or a .env file in the working directory:
  TELEGRAM_BOT_TOKEN    token from @BotFather (without it, `run` opens the terminal chat)
  TELEGRAM_API_URL      Bot API server root (default https://api.telegram.org)
  TELEGRAM_WEBHOOK_SECRET  secret Telegram sends with each webhook update (random if unset)
  BOT_DATABASE          SQLite file (default data/vollsmose.sqlite3)
  BOT_STAFF_IDS         comma-separated numeric Telegram user ids of staff
  BOT_STAFF_CHAT_ID     chat for staff reports (optional)
  BOT_DEFAULT_LANGUAGE  {", ".join(LANGUAGES[:-1])} or {LANGUAGES[-1]} (default da)
  BOT_TIMEZONE          default Europe/Copenhagen
  BOT_CONTENT_DIR       folder with goals.yaml, menu.yaml, services.yaml, pathways (default flows/)
  BOT_STATS_THRESHOLD   residents' attributes counted fewer times are hidden in reports (default 5)
  BOT_LOG_LEVEL         DEBUG, INFO, WARNING or ERROR (default INFO)
  BOT_WEB_LISTEN        serve the web chat beside the bot, e.g. 127.0.0.1:8080 (`web`: alone)
  BOT_WEB_URL           the web chat's public address, for posters (https:// for a Secure cookie)
  BOT_TELEGRAM_USERNAME the bot's @username, for posters' Telegram links

Start with `vollsmose-bot chat` (terminal) or `vollsmose-bot web` (browser) to try it,
`vollsmose-bot check` after editing content.
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vollsmose-bot",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = commands.add_parser(
        "run",
        help="serve residents over Telegram (long polling, or --webhook)",
        description="Serve residents over Telegram. Without TELEGRAM_BOT_TOKEN this opens the "
        "terminal chat instead.",
    )
    run.add_argument(
        "--webhook",
        action="store_true",
        help="receive updates by webhook instead of long polling (needs --url)",
    )
    run.add_argument("--listen", default="127.0.0.1", help="address to listen on (webhook)")
    run.add_argument("--port", type=int, default=8443, help="port to listen on (webhook)")
    run.add_argument(
        "--url",
        help="public https:// URL that Telegram posts to, e.g. behind a reverse proxy (webhook)",
    )
    chat = commands.add_parser("chat", help="try the bot in this terminal, no Telegram needed")
    chat.add_argument("--language", choices=LANGUAGES, help="skip the language picker")
    web = commands.add_parser(
        "web",
        help="serve the web chat alone, no Telegram needed (open http://127.0.0.1:8080/)",
        description="Serve the web chat in a browser. With a token, `run` serves it beside "
        "Telegram when BOT_WEB_LISTEN is set.",
    )
    web.add_argument(
        "--listen", help="HOST:PORT to listen on (default BOT_WEB_LISTEN or 127.0.0.1:8080)"
    )
    poster = commands.add_parser(
        "poster",
        help="printable A4 posters (PDF and PNG) with QR codes for the web chat and Telegram",
    )
    poster.add_argument("--source", required=True, help="where it hangs, e.g. library")
    poster.add_argument("--language", choices=LANGUAGES, help="one language (default: all)")
    poster.add_argument("--out", type=Path, default=Path("posters"), help="folder to write to")
    check = commands.add_parser("check", help="validate content and catalogs; exit 1 on problems")
    check.add_argument(
        "--strict", action="store_true", help="also fail while sample (unconfirmed) entries remain"
    )
    understand = commands.add_parser(
        "understand",
        help="show how a typed message is understood, or measure it on labelled messages",
        description="Show what the bot makes of a typed message, or, with --eval, measure per "
        "language how many labelled messages reach the right pathway, how many crisis messages "
        "show the emergency numbers, and how many ordinary ones are taken for a crisis.",
    )
    understand.add_argument("text", nargs="*", help="a message, as a resident would type it")
    understand.add_argument(
        "--language",
        choices=LANGUAGES,
        help="the language the resident chose (default: BOT_DEFAULT_LANGUAGE; with --eval, "
        "each file's own language)",
    )
    understand.add_argument(
        "--eval",
        type=Path,
        metavar="FILE",
        help="labelled messages: a <language>.yaml file or a folder of them, e.g. tests/data/typed",
    )
    understand.add_argument(
        "--misses", action="store_true", help="with --eval, also list each message not understood"
    )
    catalog = commands.add_parser("catalog", help="translation pipeline")
    catalog.add_argument("action", choices=("extract", "update", "compile", "status"))
    backup = commands.add_parser("backup", help="write a consistent copy of the database")
    backup.add_argument("path", type=Path, help="where to write the copy")
    from bot.stats import add_arguments as stats_arguments

    stats_arguments(commands.add_parser("stats", help="weekly referral report: table, CSV or JSON"))
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, read configuration and run the chosen command."""
    args = _parser().parse_args(argv)
    command = args.command or "run"
    settings: Settings | None = None
    try:
        if command == "catalog":
            return _catalog(args.action)
        settings = load_settings()
        if command == "check":
            return _check(settings, strict=args.strict)
        if command == "backup":
            return asyncio.run(_backup(settings, args.path))
        if command == "stats":
            from bot.stats import run_cli

            return run_cli(settings, args)
        if command == "web" and args.listen:
            settings = load_settings(bot_web_listen=args.listen)
        if command == "poster":
            return _poster(settings, args)
        engine = _engine(settings)
        if command == "web":
            return _web(settings, engine)
        if command == "understand":
            return _understand(engine, args, settings.bot_default_language)
        if command == "chat" or settings.token is None:
            if command == "run":
                print(
                    "TELEGRAM_BOT_TOKEN is not set, so the bot runs here as a terminal chat.\n"
                    "To serve residents on Telegram, get a token from @BotFather and put\n"
                    "TELEGRAM_BOT_TOKEN=... in a .env file in this folder (see README.md).\n",
                    file=sys.stderr,
                )
            return _chat(settings, engine, getattr(args, "language", None))
        if getattr(args, "webhook", False):
            if not args.url or not args.url.startswith("https://"):
                print(
                    "--webhook needs --url https://... (the address Telegram posts to)",
                    file=sys.stderr,
                )
                return 2
            return _run(settings, engine, webhook=args)
        return _run(settings, engine)
    except ConfigError as error:
        print(f"Configuration error:\n{error}", file=sys.stderr)
        return 2
    except ContentError as error:
        print(f"Content error:\n{error}", file=sys.stderr)
        return 1
    except (StorageError, KeyFileError) as error:
        return _fail(str(error), error, settings)


def _fail(sentence: str, error: BaseException, settings: Settings | None) -> int:
    """Tell the operator one sentence (the traceback too, with BOT_LOG_LEVEL=DEBUG); exit 1."""
    if settings is not None and settings.bot_log_level == "DEBUG":
        traceback.print_exception(error, file=sys.stderr)
    print(sentence, file=sys.stderr)
    return 1


def _engine(settings: Settings) -> Engine:
    catalogs = Catalogs()
    missing = catalogs.missing()
    if missing:
        print(
            f"Compiled catalogs missing for {', '.join(missing)}: "
            "run `make run` or `vollsmose-bot catalog compile`. Showing English for those.",
            file=sys.stderr,
        )
    engine = Engine(load_content(settings.bot_content_dir), catalogs, settings.timezone)
    # The typed-text model trains while the bot connects, not before it starts.
    threading.Thread(target=lambda: engine.understanding, name="understanding", daemon=True).start()
    return engine


def _understand(engine: Engine, args: argparse.Namespace, default: str) -> int:
    from bot.evaluation import LabelError, evaluate, load_labelled, outcome, report

    if args.eval is not None:
        try:
            messages = load_labelled(args.eval)
        except LabelError as error:
            print(error, file=sys.stderr)
            return 1
        print(report(evaluate(engine.understanding, messages, args.language), args.misses))
        return 0
    if not args.text:
        print("Give a message to read, or --eval FILE; see --help.", file=sys.stderr)
        return 2
    reading = engine.understanding.read(" ".join(args.text), args.language or default)
    print("shown: " + ", ".join(outcome(reading)))
    if reading.danger:
        print("danger: " + ", ".join(reading.danger))
    elif reading.uncertain:
        print("danger: uncertain (the numbers are shown beside the suggestions)")
    return 0


def _chat(settings: Settings, engine: Engine, language: str | None) -> int:
    from bot.console import run_console

    asyncio.run(run_console(settings, engine, language))
    return 0


def _run(settings: Settings, engine: Engine, webhook: argparse.Namespace | None = None) -> int:
    from telegram.error import BadRequest, InvalidToken, NetworkError

    from bot.logs import setup_logging
    from bot.services import Services
    from bot.telegram import build_application
    from bot.telegram.webhook import WebhookError

    setup_logging(settings.bot_log_level, settings.token)
    # One event loop for the services and python-telegram-bot, which runs in it (run_polling
    # takes the loop that is set) and leaves it open for the services to close.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    services = loop.run_until_complete(Services.open(settings))
    web = None
    try:
        application = build_application(settings, engine, services)
        if settings.bot_web_listen is not None:
            try:
                callbacks = application.parts.guide.callbacks
                web = loop.run_until_complete(_start_web(settings, engine, services, callbacks))
            except OSError as error:
                print(_cannot_listen(settings, error), file=sys.stderr)
                return 1
        _serve(application, webhook, settings.telegram_webhook_secret)
    except InvalidToken:
        print(
            "TELEGRAM_BOT_TOKEN: the Bot API refused this token (mistyped or revoked); "
            "get the current one from @BotFather.",
            file=sys.stderr,
        )
        return 2
    except BadRequest as error:
        if webhook is None:
            sentence = f"The Bot API refused a request at start ({error.message})."
            return _fail(sentence, error, settings)
        sentence = f"--url {webhook.url}: the Bot API refused the webhook ({error.message})."
        return _fail(sentence, error, settings)
    except WebhookError as error:
        return _fail(str(error), error, settings)
    except NetworkError as error:
        print(
            f"TELEGRAM_API_URL: cannot reach {settings.telegram_api_url} ({error.message}). "
            "Check the network connection, a proxy or firewall, and the URL.",
            file=sys.stderr,
        )
        return 1
    finally:
        if web is not None:
            loop.run_until_complete(web.cleanup())
        loop.run_until_complete(services.close())
        loop.close()
        asyncio.set_event_loop(None)
    log.info("stopped cleanly")
    return 0


async def _start_web(
    settings: Settings, engine: Engine, services: Services, callbacks: CallBacks | None = None
) -> AppRunner:
    """The web chat on BOT_WEB_LISTEN, in this event loop, on the shared services; beside `run`
    it offers call-back requests to the Telegram face's staff chat."""
    from bot.guide import Guide
    from bot.web import WebChat, start

    guide = Guide(engine, services.residents, settings.bot_default_language, callbacks=callbacks)
    chat = WebChat(settings, guide)
    return await start(chat, *settings.web_address)


def _cannot_listen(settings: Settings, error: OSError) -> str:
    host, port = settings.web_address
    return (
        f"BOT_WEB_LISTEN: cannot listen on {host}:{port} ({error.strerror or error}); "
        "is another program using that port?"
    )


def _web(settings: Settings, engine: Engine) -> int:
    """`vollsmose-bot web`: the web chat alone until SIGINT or SIGTERM."""
    import signal

    from bot.logs import setup_logging
    from bot.services import Services

    setup_logging(settings.bot_log_level, settings.token)
    host, port = settings.web_address

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with await Services.open(settings) as services:
            runner = await _start_web(settings, engine, services)
            shown = f"[{host}]" if ":" in host else host
            print(f"The web chat is open at http://{shown}:{port}/ (Ctrl-C stops it).", flush=True)
            try:
                await stop.wait()
            finally:
                await runner.cleanup()

    try:
        asyncio.run(serve())
    except OSError as error:
        print(_cannot_listen(settings, error), file=sys.stderr)
        return 1
    log.info("stopped cleanly")
    return 0


def _serve(
    application: Application, webhook: argparse.Namespace | None, secret: str | None = None
) -> None:
    """Run until SIGINT or SIGTERM, by long polling or as a webhook."""
    import secrets

    from telegram import Update

    if webhook is None:
        log.info("starting: long polling")
        application.run_polling(allowed_updates=Update.ALL_TYPES, close_loop=False)
        return
    from bot.telegram.webhook import serve

    # Telegram sends the secret in a header with every update; requests without it are
    # refused with 403 before their body is read, so only Telegram can feed the bot.
    log.info("starting: webhook on %s:%d", webhook.listen, webhook.port)
    asyncio.get_event_loop().run_until_complete(
        serve(
            application,
            listen=webhook.listen,
            port=webhook.port,
            url=webhook.url,
            secret=secret or secrets.token_urlsafe(32),
        )
    )


def _poster(settings: Settings, args: argparse.Namespace) -> int:
    from bot.poster import PosterError, links, write_posters

    content = load_content(settings.bot_content_dir)
    if args.source not in content.sources:
        known = ", ".join(sorted(content.sources))
        print(
            f"--source: {args.source!r} is not a known source; those counted by name are "
            f"{known} (sources: in {settings.bot_content_dir.name}/menu.yaml)",
            file=sys.stderr,
        )
        return 2
    try:
        target = links(settings.bot_web_url, settings.bot_telegram_username, args.source)
        if target.telegram is None:
            print(
                "BOT_TELEGRAM_USERNAME is not set, so the posters have the web chat's code only.",
                file=sys.stderr,
            )
        languages = (args.language,) if args.language else LANGUAGES
        for path in write_posters(Catalogs(), target, args.source, languages, args.out):
            print(f"wrote {path}")
    except PosterError as error:
        print(error, file=sys.stderr)
        return 2
    return 0


def _check(settings: Settings, *, strict: bool) -> int:
    import datetime as dt

    from bot.catalog import status
    from bot.content.loader import Problem, freshness_warnings, locate_in_file, stale_entries

    content = load_content(settings.bot_content_dir)
    today = dt.datetime.now(settings.timezone).date()
    problems: list[str] = []
    # Every button a resident can be shown, built as the bot builds it: too long for Telegram,
    # or leading nowhere, is named by the id to change.
    engine = Engine(content, Catalogs(), settings.timezone)
    for file, loc, message in engine.audit():
        line = locate_in_file(content.directory / file.rsplit("/", 1)[-1], loc)
        problems.append(str(Problem(file, format_path(loc), message, line)))
    samples = [sid for sid, service in content.services.items() if service.sample]
    if strict:
        for service_id in samples:
            file = content.file_of(service_id)
            section = file.rsplit("/", 1)[-1].removesuffix(".yaml")
            line = locate_in_file(content.directory / f"{section}.yaml", (section, service_id))
            problems.append(
                str(
                    Problem(
                        file,
                        f"{section}.{service_id}",
                        "sample entry: contact details not confirmed by staff",
                        line,
                    )
                )
            )
    for language in status(flows=settings.bot_content_dir):
        problems += language.problems
    for warning in freshness_warnings(content, today):
        print(f"warning: {warning}", file=sys.stderr)
    from bot.evaluation import examples_taken_for_crisis

    for file, loc, text in examples_taken_for_crisis(engine):
        line = locate_in_file(content.directory / file.rsplit("/", 1)[-1], loc)
        place = Problem(file, format_path(loc), f"{text!r} would get the crisis screen", line)
        print(f"warning: {place} (a phrase in crisis.yaml is too broad for it)", file=sys.stderr)
    for problem in problems:
        print(problem, file=sys.stderr)
    stale = stale_entries(content, today)
    summary = (
        f"{len(samples)} of {len(content.services)} entries are samples (contact details not "
        f"confirmed; `check --strict` lists them), {len(stale)} were last verified more than "
        "90 days ago."
    )
    if problems:
        print(f"{len(problems)} problem(s). {summary}", file=sys.stderr)
        return 1
    print(
        f"OK: {len(content.screens)} screens, {len(content.services)} services, "
        f"{len(LANGUAGES)} languages, content version {content.version}. {summary}"
    )
    return 0


def _catalog(action: str) -> int:
    from bot import catalog

    if action == "extract":
        template = catalog.extract()
        print(f"{len(template)} messages in locales/messages.pot")
    elif action == "update":
        catalog.update()
        print("updated " + ", ".join(catalog.po_path(code).as_posix() for code in LANGUAGES))
    elif action == "compile":
        try:
            catalog.compile_all()
        except catalog.CatalogRefused as refused:
            for problem in refused.problems:
                print(problem, file=sys.stderr)
            print(
                f"{len(refused.problems)} problem(s): the catalogs named above were not "
                "compiled (the bot keeps their previous translations). Fix them, then compile.",
                file=sys.stderr,
            )
            return 1
        print("compiled " + ", ".join(LANGUAGES))
    else:
        for status in catalog.status():
            print(
                f"{status.language:4} {status.share:6.1%}  {status.translated}/{status.total}"
                + (f"  {status.fuzzy} to review (fuzzy)" if status.fuzzy else "")
            )
    return 0


async def _backup(settings: Settings, target: Path) -> int:
    from bot.services import Services

    if not settings.bot_database.is_file():
        # Opening would create an empty database, and "back it up" with exit 0.
        print(f"BOT_DATABASE: {settings.bot_database} does not exist", file=sys.stderr)
        return 1
    async with await Services.open(settings, readonly=True) as services:
        await services.storage.backup(target)
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
