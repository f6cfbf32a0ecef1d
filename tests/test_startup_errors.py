"""An operator who starts the bot with a wrong token, an unreachable Bot API, a bad key file or
database, a full disk or a refused webhook gets one plain line naming the setting or file and an
exit within seconds (never a hang), and the token is not in it."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bot.storage import Storage
from tests.botapi import FakeBotAPI
from tests.conftest import TOKEN
from tests.e2e_helpers import bot_env, run_cli
from tests.test_storage_faults import fill, small_filesystem


def _closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# `vollsmose-bot run` with the client's patience for an unreachable Bot API cut from 90 s (so
# systemd's start limit is never reached while a network comes up) to one second.
IMPATIENT_RUN = """
import sys
from bot.telegram.request import RetryingRequest
defaults = RetryingRequest.__init__.__kwdefaults__
assert "patience" in defaults, defaults
defaults["patience"] = 1.0
from bot.__main__ import main
sys.exit(main(["run"]))
"""


async def test_unreachable_bot_api_is_named(tmp_path: Path) -> None:
    """No Bot API server at TELEGRAM_API_URL: once the client's patience is spent (shortened
    here), exit 1 and a message naming the variable."""
    url = f"http://127.0.0.1:{_closed_port()}"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        IMPATIENT_RUN,
        cwd=tmp_path,
        env=bot_env(url, tmp_path / "bot.sqlite3"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output = (await asyncio.wait_for(process.communicate(), SECONDS))[0].decode()
    code = process.returncode
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


# -- a bad key or database: one sentence naming the file and an exit, never a hang -------------

SECONDS = 20  # far more than a refusal takes; a hang (a thread left open) would take forever


async def _start(tmp_path: Path, *args: str, level: str = "INFO") -> tuple[int, list[str]]:
    """Run the bot against a Bot API server and return its exit code and output lines."""
    async with FakeBotAPI(token=TOKEN) as server:
        env = bot_env(server.url, tmp_path / "data" / "bot.sqlite3", BOT_LOG_LEVEL=level)
        code, output = await asyncio.wait_for(run_cli(*args, env=env, cwd=tmp_path), SECONDS)
    return code, output.strip().splitlines()


def _database(tmp_path: Path) -> Path:
    return tmp_path / "data" / "bot.sqlite3"


def _secret(tmp_path: Path) -> Path:
    return tmp_path / "data" / "bot.secret"


def _too_new(tmp_path: Path) -> None:
    database = _database(tmp_path)
    database.parent.mkdir(parents=True)
    db = sqlite3.connect(database)
    db.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied TEXT)")
    db.execute("INSERT INTO schema_version VALUES (99, 'later')")
    db.commit()
    db.close()


def _write(path: Path, data: bytes | None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if data is None:
        path.mkdir()
    else:
        path.write_bytes(data)


BROKEN = {
    "empty key": (lambda t: _write(_secret(t), b""), "bot.secret: not a secret key"),
    "garbage key": (lambda t: _write(_secret(t), b"\xff\xfe garbage"), "bot.secret: not a secret"),
    "key not a file": (lambda t: _write(_secret(t), None), "bot.secret: cannot read"),
    "corrupt database": (
        lambda t: _write(_database(t), b"not a database, " * 512),
        "bot.sqlite3: file is not a database",
    ),
    "too new database": (_too_new, "schema version 99"),
    "database folder is a file": (
        lambda t: _write(t / "data", b"a file where the folder should be"),
        "BOT_DATABASE",
    ),
}


@pytest.mark.parametrize("broken", list(BROKEN))
async def test_a_bad_key_or_database_is_one_sentence_and_an_exit(
    tmp_path: Path, broken: str
) -> None:
    """Each start-up failure: exit 1 within seconds, one line naming the file, no traceback."""
    make, expected = BROKEN[broken]
    make(tmp_path)
    code, lines = await _start(tmp_path, "run")
    assert code == 1
    assert len(lines) == 1, lines
    assert expected in lines[0]


async def test_the_traceback_is_shown_with_debug_logging(tmp_path: Path) -> None:
    """BOT_LOG_LEVEL=DEBUG adds the traceback for whoever debugs, and the sentence still ends it."""
    _write(_secret(tmp_path), b"")
    code, lines = await _start(tmp_path, "run", level="DEBUG")
    assert code == 1
    assert "Traceback (most recent call last):" in lines
    assert "bot.secret: not a secret key" in lines[-1]


async def test_a_database_on_a_full_or_read_only_disk_is_one_sentence(tmp_path: Path) -> None:
    """A database folder on a full disk, then on a read-only one (needs root to mount)."""
    data = tmp_path / "data"
    with small_filesystem(data):
        end_fault = fill(data)
        code, lines = await _start(tmp_path, "run")
        assert code == 1
        assert len(lines) == 1, lines
        assert "bot.s" in lines[0]  # names the key or the database, whichever came first
        assert not _secret(tmp_path).exists()  # a key is written whole or not at all
        end_fault()
        store = await Storage.open(_database(tmp_path))
        await store.close()
        _remount_read_only(data)
        code, lines = await _start(tmp_path, "run")
        assert code == 1
        assert len(lines) == 1, lines
        assert "bot.s" in lines[0]


def _remount_read_only(folder: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)


async def test_a_refused_webhook_is_named_as_refused(tmp_path: Path) -> None:
    """setWebhook answered 400: the sentence says the Bot API refused the URL, not that it
    could not be reached."""
    async with FakeBotAPI(token=TOKEN) as server:
        server.fail_next("setWebhook", status=400, description="Bad Request: bad webhook")
        env = bot_env(server.url, _database(tmp_path), BOT_LOG_LEVEL="INFO")
        url = "https://bot.example.dk/hook"
        args = ("run", "--webhook", "--port", str(_closed_port()), "--url", url)
        code, output = await asyncio.wait_for(run_cli(*args, env=env, cwd=tmp_path), SECONDS)
    assert code == 1
    assert f"--url {url}: the Bot API refused the webhook (Bad webhook)" in output
    assert "cannot reach" not in output
    assert "Traceback" not in output


async def test_a_webhook_port_in_use_is_named(tmp_path: Path) -> None:
    """Another program listens on the webhook's port: one sentence names --listen and --port,
    and the webhook is not registered for a server that is not there."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        args = ("run", "--webhook", "--port", str(port), "--url", "https://bot.example.dk/hook")
        async with FakeBotAPI(token=TOKEN) as server:
            env = bot_env(server.url, _database(tmp_path), BOT_LOG_LEVEL="WARNING")
            code, output = await asyncio.wait_for(run_cli(*args, env=env, cwd=tmp_path), SECONDS)
            assert server.calls_to("setWebhook") == []
    assert code == 1
    assert output.strip().splitlines() == [
        f"--listen 127.0.0.1 --port {port}: cannot listen there (Address already in use); "
        "is another program using that port?"
    ]


@pytest.mark.parametrize("command", [["stats"], ["backup", "copy.sqlite3"]])
async def test_stats_and_backup_never_migrate(tmp_path: Path, command: list[str]) -> None:
    """`stats` and `backup` open the database read-only: an old one is refused with a sentence
    and left exactly as it was, a too-new one is refused, not touched."""
    _too_new(tmp_path)
    before = _database(tmp_path).read_bytes()
    code, lines = await _start(tmp_path, *command)
    assert code == 1
    assert len(lines) == 1, lines
    assert "schema version 99" in lines[0]
    db = sqlite3.connect(_database(tmp_path))
    db.execute("DELETE FROM schema_version")
    db.execute("INSERT INTO schema_version VALUES (1, 'old')")
    db.commit()
    db.close()
    before = _database(tmp_path).read_bytes()
    code, lines = await _start(tmp_path, *command)
    assert code == 1
    assert len(lines) == 1, lines
    assert "start the bot once to migrate it" in lines[0]
    assert _database(tmp_path).read_bytes() == before
    assert sorted(p.name for p in _database(tmp_path).parent.iterdir()) == ["bot.sqlite3"]
