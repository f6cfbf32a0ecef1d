"""End to end: residents referred over a Bot API server on loopback, a staff member's /stats, and
`vollsmose-bot stats --format json` agreeing with what the residents did."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.engine import Engine
from tests.botapi import FakeBotAPI, Resident
from tests.conftest import TOKEN

pytestmark = pytest.mark.timeout(120)

STAFF = Resident(5559999, "Staff", "staff_member", "da")
STAFF_CHAT = -1009999


@pytest.fixture
async def botapi() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI(token=TOKEN) as server:
        yield server


def _environment(botapi: FakeBotAPI, workdir: Path) -> dict[str, str]:
    env = dict(os.environ)
    return env | {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": botapi.url,
        "BOT_DATABASE": str(workdir / "data" / "bot.sqlite3"),
        "BOT_STAFF_IDS": str(STAFF.id),
        "BOT_STAFF_CHAT_ID": str(STAFF_CHAT),
    }


async def _stop(process: subprocess.Popen[bytes]) -> int:
    """SIGTERM, then wait while the event loop keeps the Bot API server answering."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    for _ in range(400):
        if process.poll() is not None:
            break
        await asyncio.sleep(0.05)
    else:
        process.kill()
    return process.wait()


def _spawn(workdir: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """`vollsmose-bot run` as its own process, logging to workdir/bot.log."""
    with (workdir / "bot.log").open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "bot", "run"],
            cwd=workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )


async def _refer(botapi: FakeBotAPI, engine: Engine, resident: Resident, language: str) -> None:
    """/start, choose a language, walk to the fritidsjob help card (edited in place)."""
    botapi.push_message(resident, "/start")
    picker = await botapi.wait_for(lambda: botapi.last_message(resident.id))
    for target in (f"lang:{language}", "fritidsjob", "fritidsjob.age13", "@fritidsjob-hjaelp"):
        before = len(botapi.messages_to(resident.id))
        botapi.push_callback(resident, picker["message_id"], engine.data(target))
        await botapi.wait_for(lambda b=before: len(botapi.messages_to(resident.id)) > b)


async def test_staff_stats_and_the_command_line_agree_with_what_residents_did(
    botapi: FakeBotAPI, engine: Engine, tmp_path: Path
) -> None:
    workdir = tmp_path / "work"
    workdir.mkdir()
    env = _environment(botapi, workdir)
    process = _spawn(workdir, env)
    try:
        await botapi.wait_for(lambda: botapi.calls_to("getUpdates"), timeout=30)
        residents = [
            Resident(5550101, "Hodan", "hodan_xyz", "so"),
            Resident(5550102, "Yusuf", None, "ar"),
        ]
        await asyncio.gather(
            *(
                _refer(botapi, engine, r, lang)
                for r, lang in zip(residents, ("so", "ar"), strict=True)
            )
        )

        # A resident cannot tell /stats from a command that does not exist.
        yusuf = residents[1]
        for command in ("/doesnotexist", "/stats"):
            before = len(botapi.messages_to(yusuf.id))
            botapi.push_message(yusuf, command)
            await botapi.wait_for(lambda b=before: len(botapi.messages_to(yusuf.id)) > b)
        unknown, stats = botapi.messages_to(yusuf.id)[-2:]
        assert (unknown["text"], unknown["reply_markup"]) == (stats["text"], stats["reply_markup"])

        # Staff get the counts per goal, in Danish, and a chart.
        botapi.push_message(STAFF, "/stats")
        await botapi.wait_for(lambda: any("photo" in m for m in botapi.messages_to(STAFF.id)))
        text = "\n".join(m.get("text", "") for m in botapi.messages_to(STAFF.id))
        work = engine.catalogs["da"].gettext("More people in work")
        lines = text.splitlines()
        this_week = max(i for i, line in enumerate(lines) if re.match(r"\d{4}-W\d\d ", line))
        line = next(line for line in lines[this_week:] if line.startswith(work))
        assert line.split()[-2:] == ["2", "+2"]
        photo = next(m for m in botapi.messages_to(STAFF.id) if "photo" in m)
        assert photo["photo"][0]["file_size"] > 10_000
        # The last week's report went to the staff chat once, at start-up (nothing recorded yet).
        assert len([m for m in botapi.messages_to(STAFF_CHAT) if "photo" in m]) == 1
    finally:
        assert await _stop(process) == 0, (workdir / "bot.log").read_text()

    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "bot", "stats", "--weeks", "2", "--format", "json"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(result.stdout)
    assert report["timezone"] == "Europe/Copenhagen"
    assert [sorted(week["goals"]) for week in report["weeks"]] == [sorted(engine.content.goals)] * 2
    assert sum(week["goals"]["arbejde"] for week in report["weeks"]) == 2
    assert sum(week["services"].get("fritidsjob-hjaelp", 0) for week in report["weeks"]) == 2
    # One resident chose Somali and one Arabic: both are small numbers, so neither is shown.
    languages = [cell for week in report["weeks"] for cell in week["languages"].values()]
    assert languages.count("<5") == 2
    assert all(not isinstance(cell, int) or cell >= 5 for cell in languages)
