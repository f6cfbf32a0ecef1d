"""Logging that carries update ids, screen ids and error types, and never the bot token."""

from __future__ import annotations

import logging


class RedactingFormatter(logging.Formatter):
    """Replace the bot token wherever it appears in a formatted line, tracebacks included: the
    HTTP client logs request URLs, and python-telegram-bot names a refused token in its error."""

    def __init__(self, fmt: str, token: str | None, *, tracebacks: bool = True) -> None:
        super().__init__(fmt)
        self._token = token
        self._tracebacks = tracebacks

    def format(self, record: logging.LogRecord) -> str:
        if record.exc_info and not self._tracebacks:
            # The operator reads the error's type on the line itself; tracebacks need DEBUG.
            kind = record.exc_info[0].__name__ if record.exc_info[0] else "error"
            record = logging.makeLogRecord(record.__dict__)
            record.msg, record.args = f"{record.getMessage()} ({kind})", None
            record.exc_info = record.exc_text = None
        line = super().format(record)
        return line.replace(self._token, "<token>") if self._token else line


def setup_logging(level: str, token: str | None) -> None:
    """Log to stderr at `level`; silence per-request HTTP logs and redact the token everywhere;
    tracebacks only at DEBUG."""
    handler = logging.StreamHandler()
    handler.setFormatter(
        RedactingFormatter(
            "%(asctime)s %(levelname)s %(name)s: %(message)s", token, tracebacks=level == "DEBUG"
        )
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
