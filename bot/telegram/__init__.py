"""The python-telegram-bot face of the engine: application factory, handlers, update ordering."""

from bot.telegram.app import build_application

__all__ = ["build_application"]
