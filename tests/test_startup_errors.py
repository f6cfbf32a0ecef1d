"""An operator who starts the bot with a wrong token or an unreachable Bot API gets one plain
line naming the setting, and the token is not in it."""

from __future__ import annotations

import socket
from pathlib import Path

from tests.botapi import FakeBotAPI
from tests.conftest import TOKEN
from tests.e2e_helpers import bot_env, run_cli


def _closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_unreachable_bot_api_is_named(tmp_path: Path) -> None:
    """No Bot API server at TELEGRAM_API_URL: exit 1 and a message naming the variable."""
    url = f"http://127.0.0.1:{_closed_port()}"
    code, output = await run_cli("run", env=bot_env(url, tmp_path / "bot.sqlite3"), cwd=tmp_path)
    assert code == 1
    assert f"TELEGRAM_API_URL: cannot reach {url}" in output
    assert TOKEN not in output


async def test_refused_token_is_named(tmp_path: Path) -> None:
    """A token the Bot API does not know: exit 2 and a message naming the variable."""
    async with FakeBotAPI(token="999999:another-bot-entirely-xyz") as server:
        env = bot_env(server.url, tmp_path / "bot.sqlite3")
        code, output = await run_cli("run", env=env, cwd=tmp_path)
    assert code == 2
    assert "TELEGRAM_BOT_TOKEN: the Bot API refused this token" in output
    assert TOKEN not in output
