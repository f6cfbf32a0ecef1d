"""Webhook mode: `vollsmose-bot run --webhook` registers its URL and secret with the Bot API and
serves updates posted to it on loopback; requests without the right secret are refused before
their body is read, bodies over 1 MB are refused, and what is not an update gets 400."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.engine import Engine
from bot.telegram.webhook import MAX_BODY
from tests.botapi import Resident
from tests.e2e_helpers import (
    BotProcess,
    RecordingBotAPI,
    assert_nothing_personal,
    botapi,
    start_bot,
)

__all__ = ["botapi"]

pytestmark = pytest.mark.timeout(120)

SECRET = "S3cret-token_1-for-the-tests"
URL = "https://example.invalid/hook"
HEADER = "X-Telegram-Bot-Api-Secret-Token"
_update_ids = itertools.count(900_001)
_started: list[BotProcess] = []


@pytest.fixture(autouse=True)
def _no_bot_left() -> Iterator[None]:
    """A test that fails before it stops its bot leaves no process behind."""
    yield
    while _started:
        _started.pop().kill()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def message_update(resident: Resident, text: str) -> dict[str, Any]:
    update_id = next(_update_ids)
    message = {
        "message_id": update_id,
        "date": 1_790_000_000,
        "chat": resident.chat(),
        "from": resident.user(),
        "text": text,
    }
    if text.startswith("/"):
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text)}]
    return {"update_id": update_id, "message": message}


async def start_webhook_bot(
    botapi: RecordingBotAPI, workdir: Path, port: int, secret: str | None = None
) -> BotProcess:
    args = ["--webhook", "--listen", "127.0.0.1", "--port", str(port), "--url", URL]
    if secret is not None:
        _env_file(workdir, secret)
    bot = await start_bot(botapi, workdir, *args)
    _started.append(bot)
    return bot


def _env_file(workdir: Path, secret: str) -> None:
    """The secret in the env file of the bot's working folder, never on its command line."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / ".env").write_text(f"TELEGRAM_WEBHOOK_SECRET={secret}\n", encoding="utf-8")


async def post(
    client: httpx.AsyncClient, port: int, update: dict[str, Any], headers: dict[str, str]
) -> int:
    """POST an update as Telegram would; the first tries may meet a server still starting."""
    for _ in range(100):
        try:
            response = await client.post(
                f"http://127.0.0.1:{port}/hook", json=update, headers=headers
            )
        except httpx.ConnectError:
            await asyncio.sleep(0.05)
            continue
        return response.status_code
    raise AssertionError(f"nothing listens on port {port}")


async def post_by_hand(
    port: int, head: dict[str, str], body: bytes, *, announce: int | None = None
) -> tuple[int, bool]:
    """POST with headers announcing `announce` bytes (or a chunked body) and send only `body`;
    the status, and whether the server then closed the connection without waiting for more."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        lines = ["POST /hook HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
        lines += [f"{name}: {value}" for name, value in head.items()]
        if announce is None:
            lines.append("Transfer-Encoding: chunked")
            body = f"{len(body):x}\r\n".encode() + body  # one chunk, never the last
        else:
            lines.append(f"Content-Length: {announce}")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        await writer.drain()
        # The rest of the body never comes: a server waiting for it never answers.
        try:
            status = int((await asyncio.wait_for(reader.readline(), 30)).split()[1])
        except TimeoutError:
            raise AssertionError("no answer to a request whose body was not sent") from None
        try:
            await asyncio.wait_for(reader.read(), 30)  # returns once the server closed
        except TimeoutError:
            return status, False
        return status, True
    finally:
        writer.close()


def replies_to(botapi: RecordingBotAPI, chat_id: int) -> list[Any]:
    return [c for c in botapi.calls_to("sendMessage") if c.params.get("chat_id") == chat_id]


async def test_webhook_with_secret_token_serves_only_telegram(
    botapi: RecordingBotAPI, tmp_path: Path, engine: Engine
) -> None:
    """The bot registers URL and secret with setWebhook; an update with the secret header is
    answered; without it or with a wrong one the request gets 403 and no answer."""
    port = free_port()
    bot = await start_webhook_bot(botapi, tmp_path / "work", port, SECRET)
    [registered] = botapi.calls_to("setWebhook")
    assert registered.params["url"] == URL
    assert registered.params["secret_token"] == SECRET
    assert {"message", "callback_query", "my_chat_member"} <= set(
        registered.params["allowed_updates"]
    )

    intruder = Resident(4_400_000_001, "Mallory Intruderson", "mallory_webhook_qx", "da")
    resident = Resident(4_400_000_002, "Sagal Webhookdottir", "sagal_webhook_qx", "so")
    sent: list[dict[str, Any]] = []
    async with httpx.AsyncClient() as client:
        for headers in ({}, {HEADER: "wrong-secret"}, {HEADER: SECRET.lower()}):
            update = message_update(intruder, "/menu")
            sent.append(update)
            assert await post(client, port, update, headers) == 403
        update = message_update(resident, "/menu")
        sent.append(update)
        assert await post(client, port, update, {HEADER: SECRET}) == 200
    await botapi.wait_for(lambda: replies_to(botapi, resident.id))
    [reply] = replies_to(botapi, resident.id)
    assert reply.params["text"] == engine.menu("so").text
    assert replies_to(botapi, intruder.id) == []

    assert await bot.stop() == 0
    assert bot.log_problems() == []
    assert_nothing_personal(bot.files(), sent)


async def test_webhook_without_secret_token_makes_up_a_strong_one(
    botapi: RecordingBotAPI, tmp_path: Path, engine: Engine
) -> None:
    """Without TELEGRAM_WEBHOOK_SECRET the bot registers a random secret that Telegram accepts
    (1-256 characters A-Z, a-z, 0-9, _ and -) and is long enough not to be guessed; only requests
    carrying it are served."""
    port = free_port()
    bot = await start_webhook_bot(botapi, tmp_path / "work", port)
    [registered] = botapi.calls_to("setWebhook")
    secret = registered.params["secret_token"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{32,256}", secret)
    assert secret not in bot.log_text()

    resident = Resident(4_400_000_003, "Deeqa Randomsecret", "deeqa_webhook_qx", "so")
    sent = [message_update(resident, "/help"), message_update(resident, "/help")]
    async with httpx.AsyncClient() as client:
        assert await post(client, port, sent[0], {}) == 403
        assert await post(client, port, sent[1], {HEADER: secret}) == 200
    await botapi.wait_for(lambda: replies_to(botapi, resident.id))
    assert [c.params["text"] for c in replies_to(botapi, resident.id)] == [engine.help("so").text]

    assert await bot.stop() == 0
    assert bot.log_problems() == []
    assert_nothing_personal(bot.files(), sent)


async def test_a_refused_request_is_answered_before_its_body_is_read(
    botapi: RecordingBotAPI, tmp_path: Path, engine: Engine
) -> None:
    """A request announcing 95 MB without the secret (or with a wrong one) gets 403 after a few
    bytes of it, and the server closes the connection instead of reading on; with the secret, a
    body announced or sent beyond 1 MB gets 413 the same way. Updates are served after all that."""
    port = free_port()
    bot = await start_webhook_bot(botapi, tmp_path / "work", port, SECRET)
    intruder = Resident(4_400_000_005, "Mallory Bigbody-Qx", "mallory_bigbody_qx", "da")
    start = json.dumps(message_update(intruder, "/menu")).encode()
    huge = 95 * 1024 * 1024
    for head in ({}, {HEADER: "wrong-secret"}, {HEADER: SECRET[:-1]}):
        assert await post_by_hand(port, head, start, announce=huge) == (403, True)
    assert await post_by_hand(port, {HEADER: SECRET}, start, announce=huge) == (413, True)
    assert await post_by_hand(port, {HEADER: SECRET}, b" " * MAX_BODY + start) == (413, True)
    assert await post_by_hand(port, {HEADER: SECRET}, start, announce=MAX_BODY + 1) == (413, True)

    resident = Resident(4_400_000_006, "Hodan Afterbig-Qx", "hodan_afterbig_qx", "so")
    update = message_update(resident, "/menu")
    async with httpx.AsyncClient() as client:
        assert await post(client, port, update, {HEADER: SECRET}) == 200
    await botapi.wait_for(lambda: replies_to(botapi, resident.id))
    assert [c.params["text"] for c in replies_to(botapi, resident.id)] == [engine.menu("so").text]
    assert replies_to(botapi, intruder.id) == []
    assert await bot.stop() == 0
    assert bot.log_problems() == []
    assert_nothing_personal(bot.files(), [update, message_update(intruder, "/menu")])


async def test_a_body_that_is_not_an_update_gets_400(
    botapi: RecordingBotAPI, tmp_path: Path, engine: Engine
) -> None:
    """With the right secret, a body that is not JSON, not UTF-8 or not an update is answered
    400 (python-telegram-bot's server gave 500 for malformed JSON) on a connection that stays
    usable, and the next update is answered."""
    port = free_port()
    bot = await start_webhook_bot(botapi, tmp_path / "work", port, SECRET)
    resident = Resident(4_400_000_007, "Nimco Malformed-Qx", "nimco_malformed_qx", "so")
    update = message_update(resident, "/help")
    url = f"http://127.0.0.1:{port}/hook"
    bodies = [b'{"update_id": 1, "message": {', b"\xff\xfe{}", b"[1, 2]", b'{"message": {}}', b""]
    headers = {HEADER: SECRET, "Content-Type": "application/json"}
    async with httpx.AsyncClient() as client:
        assert await post(client, port, message_update(resident, "/start"), {}) == 403
        statuses = [
            (await client.post(url, content=b, headers=headers)).status_code for b in bodies
        ]
        assert statuses == [400] * len(bodies)
        assert (await client.post(url, json=update, headers=headers)).status_code == 200
    await botapi.wait_for(lambda: replies_to(botapi, resident.id))
    assert [c.params["text"] for c in replies_to(botapi, resident.id)] == [engine.help("so").text]
    assert await bot.stop() == 0
    assert bot.log_problems() == []


async def test_webhook_update_the_library_cannot_read_leaves_no_trace(
    botapi: RecordingBotAPI, tmp_path: Path, engine: Engine
) -> None:
    """An update python-telegram-bot cannot parse (a poll without fields the library requires)
    is confirmed and skipped, as in polling (refused, Telegram would post it again and again),
    and only its id is logged, not what it held (the resident's name, the poll); the bot serves
    the next update."""
    port = free_port()
    bot = await start_webhook_bot(botapi, tmp_path / "work", port, SECRET)
    resident = Resident(4_400_000_004, "Ladan Pollsender-Qx", "ladan_webhook_qx", "da")
    poisoned = message_update(resident, "x")
    del poisoned["message"]["text"]
    poisoned["message"]["poll"] = {
        "id": "1",
        "question": "Secret question of Ladan Qx",
        "options": [{"text": "Secret option Qx", "voter_count": 0}],
        "total_voter_count": 0,
        "is_closed": False,
        "is_anonymous": True,
        "type": "regular",
        "allows_multiple_answers": False,
    }
    sent = [poisoned, message_update(resident, "/menu")]
    async with httpx.AsyncClient() as client:
        assert await post(client, port, sent[0], {HEADER: SECRET}) == 200
        assert await post(client, port, sent[1], {HEADER: SECRET}) == 200
    await botapi.wait_for(lambda: replies_to(botapi, resident.id))
    assert [c.params["text"] for c in replies_to(botapi, resident.id)] == [engine.menu("da").text]
    assert f"update {poisoned['update_id']} could not be read" in bot.log_text()
    assert await bot.stop() == 0
    assert_nothing_personal(bot.files(), sent)
