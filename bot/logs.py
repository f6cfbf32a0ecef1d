"""Logging that carries update ids, screen ids and error types, and never the bot token."""

from __future__ import annotations

import logging


class RedactingFormatter(logging.Formatter):
    """Replace the bot token wherever it appears in a formatted line, tracebacks included: the
    HTTP client logs request URLs, and python-telegram-bot names a refused token in its error."""

    def __init__(self, fmt: str, token: str | None) -> None:
        super().__init__(fmt)
        self._token = token

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        return line.replace(self._token, "<token>") if self._token else line


def setup_logging(level: str, token: str | None) -> None:
    """Log to stderr at `level`; silence per-request HTTP logs and redact the token everywhere."""
    handler = logging.StreamHandler()
    handler.setFormatter(
        RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", token)
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    # Only our own code logs below INFO: at DEBUG, python-telegram-bot logs whole requests and
    # updates (residents' ids, names, texts) and aiosqlite logs every query with its parameters.
    root.setLevel(max(logging.INFO, logging.getLevelName(level)))
    logging.getLogger("bot").setLevel(level)
    # httpx logs every request URL at INFO, and Bot API URLs contain the token.
    for noisy in ("httpx", "httpcore", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
