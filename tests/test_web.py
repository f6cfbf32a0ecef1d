"""The web chat over real HTTP on loopback (aiohttp's test server), on real SQLite: what a visitor
sees, what is counted, and what hostile requests get."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import re
import socket
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from html import unescape
from pathlib import Path

import pytest
from aiohttp import ClientResponse, ClientSession, CookieJar

from bot.config import Settings
from bot.engine import Engine
from bot.flood import Throttle
from bot.guide import Guide
from bot.privacy import ResidentKey
from bot.residents import Residents
from bot.services import Services
from bot.web import WebChat, start
from bot.web.sessions import Sessions

TYPED = "where can my son find a fritidsjob Zainab"
# The day every count in these tests falls on: a wall-clock date fails a test run at midnight.
TODAY = dt.date(2026, 11, 3)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def chat(settings: Settings, engine: Engine, services: Services, clock: Clock) -> WebChat:
    noon = dt.datetime.combine(TODAY, dt.time(12), settings.timezone)
    key = ResidentKey.from_file(settings.secret_file)  # the key Services.open made
    residents = Residents(services.storage, key, settings.timezone, clock=lambda: noon)
    guide = Guide(engine, residents, settings.bot_default_language)
    return WebChat(
        settings,
        guide,
        sessions=Sessions(clock=clock),
        per_session=Throttle(clock=clock),
        per_address=Throttle(burst=200, rate=10.0, clock=clock),
    )


@asynccontextmanager
async def _client(chat: WebChat) -> AsyncIterator[ClientSession]:
    """The server as `vollsmose-bot web` runs it, on a free port, and a browser-like client that
    keeps its cookie for 127.0.0.1."""
    runner = await start(chat, "127.0.0.1", 0)
    port = runner.addresses[0][1]
    try:
        async with ClientSession(
            base_url=f"http://127.0.0.1:{port}", cookie_jar=CookieJar(unsafe=True)
        ) as session:
            yield session
    finally:
        await runner.cleanup()


@pytest.fixture
async def client(chat: WebChat) -> AsyncIterator[ClientSession]:
    async with _client(chat) as session:
        yield session


async def _page(response: ClientResponse) -> str:
    assert response.status == 200, response.status
    return await response.text()


def _buttons(html: str) -> dict[str, str]:
    """Button value -> label on a page."""
    return {
        unescape(value): unescape(label)
        for value, label in re.findall(
            r'<button type="submit" name="b" value="([^"]*)"(?: lang="[a-z]+")?>([^<]*)<', html
        )
    }


def _token(html: str) -> str:
    match = re.search(r'name="t" value="([^"]+)"', html)
    assert match, "no form token on the page"
    return match.group(1)


def _reply_text(html: str) -> str:
    section = re.search(r'<section class="reply"[^>]*>(.*?)</section>', html, re.S)
    assert section
    text = re.sub(r"<br>", "\n", section.group(1))
    text = re.sub(r"</p>\s*<p>", "\n\n", text)
    return unescape(re.sub(r"<[^>]+>", "", text)).strip()


async def _post(client: ClientSession, html: str, **fields: str) -> str:
    """Send one of the page's forms as the browser would and return the page it leads to."""
    response = await client.post("/", data={"t": _token(html), **fields})
    return await _page(response)


def _target(html: str, target: str) -> str:
    for value in _buttons(html):
        if Engine.parse(value)[0] == target:
            return value
    raise AssertionError(f"no button to {target} on {_reply_text(html)[:70]!r}")


async def test_a_visitor_reaches_a_card_in_danish_counted_once_a_day(
    client: ClientSession, engine: Engine, settings: Settings
) -> None:
    """Picker first, then menu, pathway, card with tel: and map links; the card twice and a
    second visit from the library's poster count once each, under the goal and the source."""
    html = await _page(await client.get("/?src=library", headers={"Accept-Language": "da"}))
    assert '<html lang="da" dir="ltr">' in html
    assert _reply_text(html) == engine.picker("da").text
    html = await _post(client, html, b=_target(html, "lang:da"))
    assert _reply_text(html) == engine.menu("da").text
    for target in ("fritidsjob", "fritidsjob.age13", "@fritidsjob-hjaelp"):
        html = await _post(client, html, b=_target(html, target))
    assert 'href="tel:+4565000001"' in html
    assert 'href="https://www.openstreetmap.org/?mlat=55.40960&amp;mlon=10.43310' in html
    card = engine.card("fritidsjob-hjaelp", "da").text
    assert _reply_text(html) == card
    # Buttons are stateless: the same card's button again, as from an older message.
    html = await _post(client, html, b=engine.data("@fritidsjob-hjaelp"))
    assert _reply_text(html) == card
    await client.get("/?src=library")

    db = sqlite3.connect(settings.bot_database)
    assert db.execute("SELECT day, goal, service, n FROM referrals").fetchall() == [
        (TODAY.isoformat(), "arbejde", "fritidsjob-hjaelp", 1)
    ]
    usage = dict(db.execute("SELECT dimension || ':' || key, n FROM usage").fetchall())
    assert usage == {"source:library": 1, "language:da": 1}
    assert db.execute("SELECT count(*) FROM preferences").fetchone() == (0,)
    db.close()


async def test_arabic_page_is_right_to_left_and_typed_text_is_understood(
    client: ClientSession, engine: Engine
) -> None:
    html = await _page(await client.get("/", headers={"Accept-Language": "ar-SA,ar;q=0.9"}))
    assert next(iter(_buttons(html).values())) == "العربية", "the hinted language comes first"
    assert 'lang="ar">العربية</button>' in html, "read out in Arabic by a screen reader"
    html = await _post(client, html, b=_target(html, "lang:ar"))
    assert '<html lang="ar" dir="rtl">' in html
    html = await _post(client, html, q="fritidsjop")
    assert _reply_text(html) == _reply_text_of(engine.typed("fritidsjop", "ar").text)
    html = await _post(client, html, b=_target(html, "fritidsjob"))
    assert _reply_text(html) == _reply_text_of(engine.screen("fritidsjob", "ar").text)


def _reply_text_of(text: str) -> str:
    return text.strip()


async def test_session_cookie_is_the_only_one_and_is_strict(client: ClientSession) -> None:
    response = await client.get("/")
    cookies = response.headers.getall("Set-Cookie")
    assert len(cookies) == 1
    cookie = cookies[0]
    assert cookie.startswith("session=")
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert "Secure" not in cookie, "plain http on loopback: a Secure cookie would never come back"
    assert "Max-Age" not in cookie
    assert "expires" not in cookie.lower()
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp
    assert "script-src" not in csp, "no script is allowed at all"
    assert "form-action 'self'" in csp
    again = await client.get("/")
    assert "Set-Cookie" not in again.headers, "one cookie per session, not one per page"


async def test_secure_cookie_behind_tls(settings: Settings, engine: Engine, services: Services):
    """With BOT_WEB_URL=https://..., the cookie is only ever sent over TLS."""
    secure = settings.model_copy(update={"bot_web_url": "https://guide.example.dk"})
    chat = WebChat(secure, Guide(engine, services.residents, "da"))
    async with _client(chat) as test_client:
        response = await test_client.get("/")
    assert "Secure" in response.headers["Set-Cookie"]


async def test_hostile_posts_are_refused_kindly(client: ClientSession, engine: Engine) -> None:
    """Forged and stale buttons get "this menu was updated"; a post from another site, one
    without the page's token, a huge or malformed body get a plain page, never an error."""
    html = await _page(await client.get("/"))
    html = await _post(client, html, b=_target(html, "lang:da"))
    for forged in ("v000000:gone", "<script>alert(1)</script>", "x" * 5000 + "y"):
        page = await _post(client, html, b=forged[:3000])
        assert _reply_text(page) == engine.updated("da").text
        assert "<script>" not in page
    cross = await client.post(
        "/",
        data={"t": _token(html), "b": _target(html, "mentor")},
        headers={"Origin": "https://x.example"},
    )
    assert cross.status == 403
    fetch = await client.post(
        "/", data={"t": _token(html), "b": "x"}, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert fetch.status == 403
    tokenless = await client.post("/", data={"b": _target(html, "mentor")})
    assert tokenless.status == 403
    assert "nothing was done" in (await tokenless.text()).lower() or "ingenting" in (
        await tokenless.text()
    )
    huge = await client.post("/", data={"t": _token(html), "q": "a" * 100_000})
    assert huge.status == 413
    malformed = await client.post(
        "/", data=b"--x\r\nnot a part", headers={"Content-Type": "multipart/form-data; boundary=x"}
    )
    assert malformed.status in (400, 403)
    # The visitor is still served afterwards.
    page = await _page(await client.get("/"))
    assert _reply_text(page) == engine.updated("da").text


async def test_flood_from_one_session_gets_one_kind_pause(
    client: ClientSession, engine: Engine, clock: Clock
) -> None:
    html = await _page(await client.get("/"))
    statuses = []
    for _ in range(25):
        response = await client.post("/", data={"t": _token(html), "b": _target(html, "lang:so")})
        statuses.append(response.status)
    assert statuses[:19] == [200] * 19  # the first GET took one of the 20
    assert 429 in statuses
    paused = await client.post("/", data={"t": _token(html), "b": _target(html, "lang:so")})
    assert paused.status == 429
    assert _reply_text(await paused.text()) == engine.slow_down("so").text
    clock.now += 31
    again = await client.post("/", data={"t": _token(html), "b": _target(html, "lang:so")})
    assert again.status == 200


async def test_flood_of_new_visitors_from_one_address_is_paused_without_sessions(
    chat: WebChat, engine: Engine
) -> None:
    """Cookie-less requests from one address: a school's wifi gets 200 at once, a script
    hammering the page gets a pause, and no session is kept for the refused ones."""
    async with _client(chat) as client:
        client.cookie_jar.clear()
        statuses = []
        for _ in range(205):
            async with client.get("/") as response:
                statuses.append(response.status)
            client.cookie_jar.clear()
    assert statuses[:200] == [200] * 200
    assert set(statuses[200:]) == {429}
    assert len(chat.sessions) == 200


async def test_sessions_expire_when_idle(
    client: ClientSession, engine: Engine, clock: Clock
) -> None:
    html = await _page(await client.get("/"))
    html = await _post(client, html, b=_target(html, "lang:tr"))
    assert _reply_text(html) == engine.menu("tr").text
    clock.now += 31 * 60
    html = await _page(await client.get("/"))
    assert _reply_text(html) == engine.picker("da").text, "a new session, the language forgotten"


async def test_nothing_typed_or_about_the_visitor_is_logged(
    client: ClientSession, caplog: pytest.LogCaptureFixture, settings: Settings
) -> None:
    caplog.set_level(logging.DEBUG)
    agent = "Mozilla/5.0 (TestPhone) AuditAgent/77"
    html = await _page(await client.get("/", headers={"User-Agent": agent}))
    await _post(client, html, q=TYPED)
    await client.post("/", data={"t": "nope", "q": TYPED}, headers={"User-Agent": agent})
    logged = "\n".join(record.getMessage() for record in caplog.records)
    [cookie] = [c.value for c in client.cookie_jar]
    for secret in (TYPED, agent, "AuditAgent", "127.0.0.1", _token(html), cookie):
        assert secret not in logged, secret
    written = b"".join(p.read_bytes() for p in settings.bot_database.parent.iterdir())
    assert TYPED.encode() not in written
    assert b"AuditAgent" not in written
    assert cookie.encode() not in written


async def test_web_alone_needs_no_token(tmp_path: Path) -> None:
    """`vollsmose-bot web` serves the chat without TELEGRAM_BOT_TOKEN and stops on SIGTERM."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    env = dict(os.environ) | {"BOT_DATABASE": str(tmp_path / "data" / "bot.sqlite3")}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "web", "--listen", f"127.0.0.1:{port}",
        cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    assert process.stdout is not None
    try:
        line = await asyncio.wait_for(process.stdout.readline(), timeout=60)
        while b"web chat is open" not in line:
            line = await asyncio.wait_for(process.stdout.readline(), timeout=60)
        assert f"http://127.0.0.1:{port}/".encode() in line
        async with ClientSession() as session, session.get(f"http://127.0.0.1:{port}/") as page:
            assert page.status == 200
            assert 'dir="ltr"' in await page.text()
    finally:
        process.terminate()
        assert await asyncio.wait_for(process.wait(), timeout=30) == 0


def test_a_port_in_use_is_named(tmp_path: Path) -> None:
    """`web` on a port another program holds: one sentence naming the setting, no traceback."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = dict(os.environ) | {"BOT_DATABASE": str(tmp_path / "data" / "bot.sqlite3")}
        result = subprocess.run(
            [sys.executable, "-m", "bot", "web", "--listen", f"127.0.0.1:{port}"],
            capture_output=True, text=True, cwd=tmp_path, env=env, timeout=60, check=False,
        )  # fmt: skip
    assert result.returncode == 1
    assert f"BOT_WEB_LISTEN: cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr
