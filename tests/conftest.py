"""Shared fixtures: the shipped content and catalogs, settings in a temporary folder, a real
Application on an offline Bot API, and a factory for Telegram updates."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from telegram import Update
from telegram.ext import Application

from bot.config import REPOSITORY, Settings, load_settings
from bot.content import Content, load_content
from bot.engine import Engine
from bot.i18n import Catalogs
from bot.services import Services
from bot.telegram import build_application
from bot.telegram.offline import OfflineRequest

TOKEN = "123456:TEST-token-for-the-local-bot-api"
# Every setting the bot reads, as its environment variable.
ENV_VARS = tuple(name.upper() for name in Settings.model_fields)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The machine's own bot settings never leak into a test, nor into the bot processes that
    tests start: those inherit this cleaned environment (dict(os.environ))."""
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.fixture(scope="session")
def content() -> Content:
    return load_content(REPOSITORY / "flows")


@pytest.fixture(scope="session")
def catalogs() -> Catalogs:
    """The compiled catalogs (`make test` compiles them first)."""
    return Catalogs()


@pytest.fixture(scope="session")
def engine(content: Content, catalogs: Catalogs) -> Engine:
    return Engine(content, catalogs)


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.chdir(tmp_path)
    return load_settings(
        telegram_bot_token=TOKEN,
        bot_database=tmp_path / "data" / "bot.sqlite3",
        bot_staff_ids="4242",
    )


@pytest.fixture
def offline() -> OfflineRequest:
    return OfflineRequest()


@pytest.fixture
async def services(settings: Settings) -> AsyncIterator[Services]:
    """Storage and the resident services, opened from settings as `run` opens them."""
    async with await Services.open(settings) as opened:
        yield opened


@pytest.fixture
async def app(
    settings: Settings, engine: Engine, services: Services, offline: OfflineRequest
) -> AsyncIterator[Application]:
    """A real Application with storage open, talking to the offline Bot API."""
    application = build_application(settings, engine, services, request=offline, rate_limit=False)
    async with application:
        await application.post_init(application)  # type: ignore[misc]
        try:
            yield application
        finally:
            await application.post_shutdown(application)  # type: ignore[misc]


class Updates:
    """Builds Telegram updates for one resident, as Telegram would send them."""

    _ids = itertools.count(1)

    def __init__(self, bot: Any, user_id: int = 777001, language_code: str | None = "da") -> None:
        self.bot = bot
        self.user = {
            "id": user_id,
            "is_bot": False,
            "first_name": "Amina",
            "username": "amina_test",
            "language_code": language_code,
        }
        self.chat = {"id": user_id, "type": "private", "first_name": "Amina"}

    def _update(self, **fields: Any) -> Update:
        return Update.de_json({"update_id": next(self._ids), **fields}, self.bot)

    def message(self, text: str | None = None, chat: dict | None = None, **extra: Any) -> Update:
        message: dict[str, Any] = {
            "message_id": next(self._ids),
            "date": 1_790_000_000,
            "chat": chat or self.chat,
            "from": self.user,
            **extra,
        }
        if text is not None:
            message["text"] = text
            if text.startswith("/"):
                length = len(text.split(" ")[0])
                message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        return self._update(message=message)

    def press(self, data: str, message_id: int = 1) -> Update:
        return self._update(
            callback_query={
                "id": str(next(self._ids)),
                "from": self.user,
                "chat_instance": "ci",
                "data": data,
                "message": {
                    "message_id": message_id,
                    "date": 1_790_000_000,
                    "chat": self.chat,
                    "text": "menu",
                    "from": {"id": 1000, "is_bot": True, "first_name": "Guide"},
                },
            }
        )


@pytest.fixture
def updates(app: Application) -> Updates:
    return Updates(app.bot)
