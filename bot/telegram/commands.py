"""Telegram's command menu, from the guide's one command table, in every language it accepts."""

from __future__ import annotations

from collections.abc import Sequence

from telegram import Bot, BotCommand, BotCommandScope, BotCommandScopeDefault

from bot.guide import Command
from bot.i18n import LANGUAGES, Catalogs


async def set_commands(
    bot: Bot,
    catalogs: Catalogs,
    default_language: str,
    commands: Sequence[Command],
    scope: BotCommandScope | None = None,
) -> None:
    """setMyCommands in `scope` for the default list (BOT_DEFAULT_LANGUAGE) and each two-letter
    language code, with the descriptions translated."""
    for code in (None, *LANGUAGES):
        if code is not None and len(code) != 2:
            continue  # Telegram accepts only two-letter codes; Sorani users get the default list.
        _ = catalogs[code or default_language].gettext
        listed = [BotCommand(command.name, _(command.description)) for command in commands]
        await bot.set_my_commands(
            listed, scope=scope or BotCommandScopeDefault(), language_code=code
        )
