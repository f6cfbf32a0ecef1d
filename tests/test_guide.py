"""The conversation layer under every face: one command table, the configured default language,
namespaced residents, and no import cycle between the parts."""

from __future__ import annotations

import ast
import io
import json
import sqlite3
from pathlib import Path

import pytest
from telegram.ext import CommandHandler

from bot.config import REPOSITORY, Settings, load_settings
from bot.console import ConsoleChat
from bot.engine import Engine
from bot.guide import COMMAND_NAMES, COMMANDS, LISTED, Guide, Resident
from bot.i18n import Catalogs
from bot.services import Services
from bot.telegram import build_application
from bot.telegram.offline import OfflineRequest
from tests.conftest import TOKEN, Updates


def _commands(params: dict) -> list[dict]:
    commands = params["commands"]
    return json.loads(commands) if isinstance(commands, str) else commands


@pytest.fixture
def english_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings as an operator writes them, with BOT_DEFAULT_LANGUAGE=en."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BOT_DEFAULT_LANGUAGE", "en")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("BOT_DATABASE", str(tmp_path / "data" / "bot.sqlite3"))
    return load_settings()


@pytest.fixture
async def guide(settings: Settings, engine: Engine, services: Services) -> Guide:
    return Guide(engine, services.residents, settings.bot_default_language)


async def test_default_language_is_honoured_on_telegram_and_in_the_terminal(
    english_settings: Settings, engine: Engine, catalogs: Catalogs
) -> None:
    """With BOT_DEFAULT_LANGUAGE=en a newcomer whose phone speaks no shipped language is greeted
    in English on Telegram and in the terminal, and Telegram's default command list is English."""
    assert catalogs["en"].gettext("Choose your language.") != catalogs["da"].gettext(
        "Choose your language."
    )
    offline = OfflineRequest()
    async with await Services.open(english_settings) as services:
        app = build_application(english_settings, engine, services, request=offline)
        async with app:
            await app.post_init(app)  # type: ignore[misc]
            for hint in (None, "pt-br"):
                resident = Updates(app.bot, user_id=900_001, language_code=hint)
                await app.process_update(resident.message("/start"))
                sent = offline.calls_to("sendMessage")[-1].params["text"]
                assert sent == engine.picker("en").text
            await app.post_shutdown(app)  # type: ignore[misc]
    [default] = [
        call
        for call in offline.calls_to("setMyCommands")
        if "chat" not in str(call.params.get("scope")) and call.params.get("language_code") is None
    ]
    commands = _commands(default.params)
    assert commands[0]["description"] == catalogs["en"].gettext("Main menu")
    assert commands[0]["description"] != catalogs["da"].gettext("Main menu")

    async with await Services.open(english_settings, in_memory=True) as services:
        guide = Guide(engine, services.residents, english_settings.bot_default_language)
        chat = await ConsoleChat.start(guide, None, out=io.StringIO())
        assert chat.reply.text == engine.picker("en").text
        assert (await chat.handle("hello there")).text == engine.typed("hello there", "en").text


async def test_one_command_table_for_telegram_its_menu_and_the_terminal(
    app, offline: OfflineRequest, guide: Guide
) -> None:
    """Telegram handles exactly the table's commands, lists its listed ones, and the terminal
    answers each of them as the guide does (no "I work best with the buttons" for /forget)."""
    handled = {
        name
        for handlers in app.handlers.values()
        for handler in handlers
        if isinstance(handler, CommandHandler) and handler.callback.__name__ == "on_command"
        for name in handler.commands
    }
    assert handled == COMMAND_NAMES == {command.name for command in COMMANDS}
    default = next(
        call
        for call in offline.calls_to("setMyCommands")
        if "chat" not in str(call.params.get("scope")) and call.params.get("language_code") is None
    )
    listed = [c["command"] for c in _commands(default.params)]
    assert listed == [command.name for command in LISTED]

    chat = await ConsoleChat.start(guide, None, out=io.StringIO())
    assert chat.reply.screen == "lang", "the terminal's first screen is the picker"
    for command in COMMANDS:
        reply = await chat.handle("/" + command.name)
        assert reply.screen != "pointer", command.name


async def test_terminal_forget_deletes_the_choice_and_start_shows_the_picker(
    guide: Guide, engine: Engine
) -> None:
    chat = await ConsoleChat.start(guide, "ar", out=io.StringIO())
    assert chat.reply.text == engine.menu("ar").text
    forgotten = await chat.handle("/forget")
    assert forgotten.text == engine.forgotten("ar").text
    assert (await chat.handle("/start")).screen == "lang"


async def test_residents_of_different_faces_never_share_a_choice(
    guide: Guide, engine: Engine, settings: Settings, services: Services
) -> None:
    """A Telegram resident and a web visitor with the same digits are two residents; a choice
    stored before ids were namespaced is still found for the Telegram resident."""
    telegram, web = Resident("tg:4711"), Resident("web:4711")
    await guide.press(telegram, engine.data("lang:tr"))
    assert (await guide.language(telegram)).chosen == "tr"
    assert (await guide.language(web)).chosen is None
    db = sqlite3.connect(settings.bot_database)
    [(stored,)] = db.execute("SELECT resident FROM preferences").fetchall()
    db.close()
    from bot.privacy import ResidentKey

    key = ResidentKey.from_file(settings.secret_file)
    assert stored == key("tg:4711") == key("4711")  # the form stored before namespacing
    assert key("web:4711") != stored


def _imports(path: Path) -> set[str]:
    """The bot.* modules a file imports, at its top or inside a function."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("bot"):
            found.add(node.module)
            for alias in node.names:
                found.add(f"{node.module}.{alias.name}")
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("bot")}
    return found


def test_no_import_cycle_in_the_bot() -> None:
    """No module of bot/ imports, directly or through others, a module that imports it."""
    modules = {}
    for path in (REPOSITORY / "bot").rglob("*.py"):
        name = ".".join(path.relative_to(REPOSITORY).with_suffix("").parts)
        modules[name.removesuffix(".__init__")] = path
    packages = {name for name, path in modules.items() if path.name == "__init__.py"}
    # Edges to modules only: "from bot.telegram import handlers" imports bot.telegram.handlers.
    graph = {
        name: {m for m in _imports(path) if m in modules and m not in packages}
        for name, path in modules.items()
    }

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in graph[start]:
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    cycles = [name for name in modules if reaches(name, name, {name})]
    assert not cycles, cycles
    assert "bot.telegram.app" not in graph["bot.telegram.staff"]
