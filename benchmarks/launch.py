"""The two bot processes of the end-to-end benchmark, started as `python -m benchmarks.launch`.

`ours [--no-limiter]` is `vollsmose-bot run` itself (without the limiter: the same code with
rate_limit=False). `minimal ANSWERS [--no-limiter]` is the bot a python-telegram-bot user would
write for the same calls: fixed answers read from a JSON file, the library's own concurrent
update processing, the same HTTP client (RetryingRequest), the same rate limiter, answers parsed
as the library parses them.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest
from telegram.ext import ApplicationBuilder, CallbackQueryHandler, MessageHandler, filters

from bot.telegram.app import MAX_CONCURRENT_UPDATES, rate_limiter, settle
from bot.telegram.request import RetryingRequest


def ours(limiter: bool) -> int:
    """`vollsmose-bot run`, optionally with the rate limiter off."""
    import bot.telegram
    from bot.__main__ import main

    if not limiter:
        build = bot.telegram.build_application

        def unlimited(*args: Any, **kwargs: Any) -> Any:
            return build(*args, **kwargs, rate_limit=False)

        bot.telegram.build_application = unlimited  # type: ignore[assignment]
    return main(["run"])


def _button(button: dict[str, str]) -> InlineKeyboardButton:
    if "url" in button:
        return InlineKeyboardButton(button["text"], url=button["url"])
    return InlineKeyboardButton(button["text"], callback_data=button["data"])


def _markup(rows: list[list[dict[str, str]]] | None) -> InlineKeyboardMarkup | None:
    if not rows:
        return None
    return InlineKeyboardMarkup([[_button(b) for b in row] for row in rows])


def minimal(answers_file: Path, limiter: bool) -> int:
    """The minimal bot: answer and edit; a fixed reply to typed text."""
    answers = json.loads(answers_file.read_text(encoding="utf-8"))
    replies = {
        kind: {key: (a["text"], _markup(a["keyboard"])) for key, a in table.items()}
        for kind, table in answers.items()
    }
    url = os.environ["TELEGRAM_API_URL"]
    application = (
        ApplicationBuilder()
        .token(os.environ["TELEGRAM_BOT_TOKEN"])
        .base_url(f"{url}/bot")
        .request(RetryingRequest(connection_pool_size=256))
        .get_updates_request(RetryingRequest(connection_pool_size=1, read_timeout=30))
        .rate_limiter(rate_limiter() if limiter else None)  # type: ignore[arg-type]
        .concurrent_updates(MAX_CONCURRENT_UPDATES)
        .build()
    )

    async def on_press(update: Update, context: Any) -> None:
        query = update.callback_query
        assert query is not None
        assert query.message is not None
        text, markup = replies["buttons"][query.data or ""]
        await query.answer()
        try:
            await query.edit_message_text(text, reply_markup=markup)
        except BadRequest as error:
            if "not modified" not in str(error):
                raise

    async def on_text(update: Update, context: Any) -> None:
        message = update.message
        assert message is not None
        text, markup = replies["texts"][message.text or ""]
        await context.bot.send_message(message.chat.id, text, reply_markup=markup)

    if os.environ.get("BENCH_MINIMAL_GC") == "ours":
        # A diagnostic: the minimal bot with our bot's garbage-collector settings, so the
        # ratio shows what our own code costs on top of the library's (benchmarks/README.md).
        settle()
    application.add_handler(CallbackQueryHandler(on_press))
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, on_text))
    application.run_polling(allowed_updates=Update.ALL_TYPES)
    return 0


def main(argv: list[str]) -> int:
    limiter = "--no-limiter" not in argv
    args = [a for a in argv if a != "--no-limiter"]
    if args[0] == "ours":
        return ours(limiter)
    return minimal(Path(args[1]), limiter)


def profiled(argv: list[str], output: str) -> int:
    """main() under cProfile (the event loop's thread), the statistics written to output."""
    import cProfile

    profile = cProfile.Profile()
    try:
        return profile.runcall(main, argv)
    finally:
        profile.dump_stats(output)


if __name__ == "__main__":
    # BENCH_PROFILE=<folder>: profile each bot process into <folder>/<pid>-<bot>.prof.
    if folder := os.environ.get("BENCH_PROFILE"):
        name = f"{os.getpid()}-{sys.argv[1]}.prof"
        sys.exit(profiled(sys.argv[1:], str(Path(folder) / name)))
    sys.exit(main(sys.argv[1:]))
