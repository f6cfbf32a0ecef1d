"""The web chat in a real browser: Debian's headless Chromium driven by Playwright, against
`vollsmose-bot run` serving Telegram (the fake Bot API on loopback) and the web chat in one
process. Afterwards the counts, the weekly report and every file the bot wrote are checked."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.config import REPOSITORY
from bot.engine import Engine
from tests.botapi import Resident
from tests.e2e_helpers import (
    BotProcess,
    Personal,
    RecordingBotAPI,
    assert_nothing_personal,
    bot_env,
    botapi,
    run_cli,
)

__all__ = ["botapi"]

CHROMIUM = Path("/usr/bin/chromium")
AXE = REPOSITORY / "tests" / ".node" / "node_modules" / "axe-core" / "axe.min.js"
AGENT = "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/120 Mobile BrowserAudit/31"
TYPED = "fritidsjop for my daughter Leyla"
VIEWPORT = {"width": 360, "height": 740}

if not (CHROMIUM.exists() and AXE.exists()) and not os.environ.get("CI"):
    pytest.skip(
        "needs Debian's chromium and axe-core (what .ci/run installs: apt-get install chromium; "
        "npm install --prefix tests/.node axe-core)",
        allow_module_level=True,
    )

pytestmark = pytest.mark.timeout(180)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _launch(api_url: str, work: Path, port: int, **extra: str) -> BotProcess:
    """`vollsmose-bot run` with BOT_WEB_LISTEN=127.0.0.1:port, logging to work/bot.log."""
    work.mkdir()
    database = work / "data" / "bot.sqlite3"
    log = work / "bot.log"
    env = bot_env(api_url, database, BOT_WEB_LISTEN=f"127.0.0.1:{port}", **extra)
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"],
            cwd=work,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    return BotProcess(process, database, log, work)


STAFF_CHAT = -100777


@pytest.fixture
def staff_chat() -> dict[str, str]:
    """Extra settings of the served bot: none here; a test asks for a staff chat by overriding."""
    return {}


@pytest.fixture
async def served(
    botapi: RecordingBotAPI, tmp_path: Path, staff_chat: dict[str, str]
) -> AsyncIterator[tuple[BotProcess, str]]:
    """`vollsmose-bot run` serving Telegram and the web chat: ready once it polls and listens."""
    port = _free_port()
    bot = _launch(botapi.url, tmp_path / "work", port, **staff_chat)
    process = bot.process
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"the bot exited with {process.returncode}:\n{bot.log_text()}")
        return bool(botapi.calls_to("getUpdates")) and "web chat listening" in bot.log_text()

    try:
        await botapi.wait_for(ready, timeout=60)
        yield bot, url
    finally:
        await bot.stop()


async def _browser() -> Any:
    from playwright.async_api import async_playwright

    playwright = await async_playwright().start()
    browser = await playwright.chromium.launch(
        executable_path=str(CHROMIUM),
        args=[
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    )
    return playwright, browser


async def _press(page: Any, target: str) -> None:
    """Tap the button that leads to target and wait for the next page."""
    values = await page.locator('button[name="b"]').evaluate_all("(bs) => bs.map(b => b.value)")
    value = next(v for v in values if Engine.parse(v)[0] == target)
    async with page.expect_navigation():
        await page.locator(f'button[name="b"][value="{value}"]').first.click()


async def _reply(page: Any) -> str:
    return str(await page.locator("section.reply").inner_text()).strip()


async def _check_layout(page: Any) -> None:
    """Nothing wider than the 360 px screen, and axe-core finds no serious violation."""
    overflow = await page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page is {overflow} px wider than the screen"
    # Evaluated through the DevTools protocol: the page's own CSP still forbids every script.
    await page.evaluate(AXE.read_text(encoding="utf-8"))
    serious = await page.evaluate(
        """async () => {
            const result = await axe.run(document, {resultTypes: ['violations']});
            return result.violations
                .filter(v => v.impact === 'serious' || v.impact === 'critical')
                .map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '));
        }"""
    )
    assert serious == [], serious


async def _in_order(page: Any, selector: str) -> list[float]:
    """The left edges of the characters of the first element matching selector, in text order."""
    return list(
        await page.locator(selector).first.evaluate(
            """(element) => {
                const text = element.firstChild, lefts = [];
                for (let i = 0; i < text.length; i++) {
                    const range = document.createRange();
                    range.setStart(text, i);
                    range.setEnd(text, i + 1);
                    const box = range.getBoundingClientRect();
                    if (box.width > 0) lefts.push(box.left);
                }
                return lefts;
            }"""
        )
    )


async def test_residents_reach_cards_in_danish_and_arabic_in_a_real_browser(
    botapi: RecordingBotAPI, served: tuple[BotProcess, str], engine: Engine
) -> None:
    bot, url = served
    playwright, browser = await _browser()
    try:
        # Danish, from the library's poster.
        context = await browser.new_context(viewport=VIEWPORT, locale="da-DK", user_agent=AGENT)
        page = await context.new_page()
        await page.goto(f"{url}/?src=library")
        assert await page.get_attribute("html", "lang") == "da"
        assert await _reply(page) == engine.picker("da").text
        await _check_layout(page)
        await _press(page, "lang:da")
        assert await _reply(page) == engine.menu("da").text
        for target in ("fritidsjob", "fritidsjob.age13", "@fritidsjob-hjaelp"):
            await _press(page, target)
        card = page.locator('a[href^="tel:"]')
        assert await card.get_attribute("href") == "tel:+4565000001"
        assert await card.inner_text() == "+45 65 00 00 01"
        assert await page.locator('a[href^="https://www.openstreetmap.org/"]').count() == 1
        assert "Åbningstider" in await _reply(page)
        await _check_layout(page)
        # A typed question, understood as on Telegram.
        await page.fill("#q", TYPED)
        async with page.expect_navigation():
            await page.locator("form.ask button").click()
        assert await _reply(page) == engine.typed(TYPED, "da").text
        await _press(page, "fritidsjob")
        assert await _reply(page) == engine.screen("fritidsjob", "da").text
        await context.close()

        # Arabic, right to left, from a phone set to Arabic.
        context = await browser.new_context(viewport=VIEWPORT, locale="ar", user_agent=AGENT)
        page = await context.new_page()
        await page.goto(url)
        first = page.locator('button[name="b"]').first
        assert await first.inner_text() == "العربية"
        await _press(page, "lang:ar")
        assert await page.get_attribute("html", "dir") == "rtl"
        assert await page.get_attribute("html", "lang") == "ar"
        await _check_layout(page)
        for target in ("foraeldre", "@familieraadgivning"):
            await _press(page, target)
        phone = page.locator('a[href^="tel:"]').first
        assert await phone.evaluate("(a) => getComputedStyle(a).direction") == "ltr"
        lefts = await _in_order(page, 'a[href^="tel:"]')
        assert lefts == sorted(lefts), "the phone number's digits read out of order"
        assert len(lefts) >= 8
        body_direction = await page.evaluate("() => getComputedStyle(document.body).direction")
        assert body_direction == "rtl"
        await _check_layout(page)
        await context.close()
    finally:
        await browser.close()
        await playwright.stop()

    # The same process still serves Telegram.
    resident = Resident(5551234, "Rahma", "rahma_web", "ar")
    botapi.push_message(resident, "/start")
    picker = await botapi.wait_for(lambda: botapi.last_message(resident.id))
    assert picker["text"] == engine.picker("ar", "ar").text

    assert await bot.stop() == 0
    import sqlite3

    db = sqlite3.connect(bot.database)
    referrals = dict(
        db.execute("SELECT service, sum(n) FROM referrals GROUP BY service").fetchall()
    )
    usage = dict(
        db.execute("SELECT dimension || ':' || key, sum(n) FROM usage GROUP BY 1").fetchall()
    )
    preferences = db.execute("SELECT count(*) FROM preferences").fetchone()
    db.close()
    assert referrals == {"fritidsjob-hjaelp": 1, "familieraadgivning": 1}
    assert usage["source:library"] == 1
    assert usage["language:da"] == 1
    assert usage["language:ar"] == 1
    assert preferences == (0,), "web visitors' language choices stay in their session"

    # The weekly report counts the cards under their goals and the visit under the poster.
    code, output = await run_cli(
        "stats", "--weeks", "1", "--format", "json", env=bot_env(botapi.url, bot.database),
        cwd=bot.workdir,
    )  # fmt: skip
    assert code == 0, output
    [week] = json.loads(output)["weeks"]
    assert week["goals"]["arbejde"] == 1
    assert week["goals"]["uddannelse"] == 1
    assert "library" in week["sources"]

    personal = Personal(names={AGENT, "BrowserAudit/31"}, texts={TYPED})
    assert_nothing_personal(bot.files(), botapi.history, extra=personal)
    web_lines = [line for line in bot.log_text().splitlines() if "bot.web" in line]
    assert web_lines, "the web chat logs what it does"
    assert not [line for line in web_lines if "127.0.0.1" in line and "listening" not in line]


@pytest.mark.parametrize("staff_chat", [{"BOT_STAFF_CHAT_ID": str(STAFF_CHAT)}])
async def test_a_call_back_request_from_the_web_form_in_a_real_browser(
    botapi: RecordingBotAPI, served: tuple[BotProcess, str], staff_chat: dict[str, str]
) -> None:
    """The phone field in Chromium: a request for a Somali interpreter reaches the staff chat
    of the same process; Done there removes the number; no file holds it."""
    bot, url = served
    number = "+45 20 30 40 50"
    playwright, browser = await _browser()
    try:
        context = await browser.new_context(viewport=VIEWPORT, locale="en", user_agent=AGENT)
        page = await context.new_page()
        await page.goto(url)
        await _press(page, "lang:en")
        await _press(page, "call")
        assert "What should the call be about?" in await _reply(page)
        await _press(page, "call.topic:hverdag")
        await _press(page, "call.lang:so")
        field = page.locator('input[name="p"]')
        assert await field.get_attribute("type") == "tel"
        assert await page.locator("#q").count() == 0
        await _check_layout(page)
        await page.fill("#p", "20 30 40 50")
        async with page.expect_navigation():
            await page.locator("form.phone button").click()
        summary = await _reply(page)
        assert number in summary
        assert "Somali" in summary
        await _check_layout(page)
        await _press(page, "call.send")
        assert "Your request was sent" in await _reply(page)
        await context.close()
    finally:
        await browser.close()
        await playwright.stop()

    def request() -> dict | None:
        ids = dict.fromkeys(m["message_id"] for m in botapi.messages_to(STAFF_CHAT))
        current = [botapi.message(STAFF_CHAT, i) or {} for i in ids]
        return next((m for m in current if m.get("text", "").startswith("📞")), None)

    sent = await botapi.wait_for(request)
    assert number in sent["text"]
    done = sent["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    staff = Resident(4242, "Birgitte", "birgitte_staff")
    botapi.push_callback(staff, sent["message_id"], done, chat_id=STAFF_CHAT)
    await botapi.wait_for(lambda: "reply_markup" not in (request() or {"reply_markup": 1}))
    assert number not in (request() or {})["text"]
    assert await bot.stop() == 0
    forms = {number, "+4520304050", "20304050", "20 30 40 50"}
    personal = Personal(names={AGENT, "BrowserAudit/31"}, texts=forms)
    assert_nothing_personal(bot.files(), botapi.history, extra=personal)
