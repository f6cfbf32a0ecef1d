"""The terminal chat: the same engine, buttons as numbers; `run` without a token opens it."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.config import REPOSITORY, Settings
from bot.console import ConsoleChat
from bot.engine import Engine
from bot.guide import Guide
from bot.services import Services


def _number_of(chat: ConsoleChat, target: str) -> str:
    """The number to type to press the button that leads to target."""
    for number, button in enumerate(chat.buttons(chat.reply), start=1):
        if Engine.parse(button.data)[0] == target:
            return str(number)
    raise AssertionError(f"no button to {target} on screen {chat.reply.screen}")


@pytest.fixture
async def guide(engine: Engine, settings: Settings) -> AsyncIterator[Guide]:
    """The guide on services in memory, as `vollsmose-bot chat` opens it."""
    async with await Services.open(settings, in_memory=True) as services:
        yield Guide(engine, services.residents, settings.bot_default_language)


async def test_typed_numbers_reach_a_contact_card(guide: Guide) -> None:
    """Picking Danish, fritidsjob, an age band and the help service shows its contact card."""
    chat = await ConsoleChat.start(guide, None, out=io.StringIO())
    assert chat.reply.screen == "lang"
    for target in ("lang:da", "fritidsjob", "fritidsjob.age13"):
        await chat.handle(_number_of(chat, target))
    card = await chat.handle(_number_of(chat, "@fritidsjob-hjaelp"))
    assert card.referral is not None
    assert "+45" in chat.render(card)


async def test_unknown_input_points_to_menu(guide: Guide) -> None:
    """Text, out-of-range numbers and unknown commands get the pointer, never a crash."""
    chat = await ConsoleChat.start(guide, "da", out=io.StringIO())
    for line in ("hello", "99", "/nonsense", "", "0"):
        assert (await chat.handle(line)).screen in ("pointer", "menu")


def test_run_without_token_opens_terminal_chat(tmp_path: Path) -> None:
    """`vollsmose-bot run` with no token says why and serves the chat on stdin/stdout."""
    env = dict(os.environ)
    result = subprocess.run(
        [sys.executable, "-m", "bot", "run"],
        input="1\n/menu\n/quit\n",
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=60,
        check=True,
    )
    assert "TELEGRAM_BOT_TOKEN is not set" in result.stderr
    assert "[1]" in result.stdout
    assert not (tmp_path / "data").exists(), "the terminal chat stores nothing"
    assert (REPOSITORY / "flows").is_dir()
