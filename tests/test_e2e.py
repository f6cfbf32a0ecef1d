"""End to end: `vollsmose-bot run` as its own process, talking HTTP to a Bot API server on
loopback."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from bot.engine import Engine
from tests.botapi import FakeBotAPI, Resident
from tests.conftest import TOKEN
from tests.e2e_helpers import (
    BotProcess,
    _data,
    _menu_message,
    _press,
    botapi,
    map_link,
    running,
)

__all__ = ["botapi", "running"]  # fixtures shared with the other end-to-end tests

pytestmark = pytest.mark.timeout(120)


async def _journey(botapi: FakeBotAPI, engine: Engine, resident: Resident, language: str) -> None:
    """/start, pick a language, walk the fritidsjob pathway to the help service's card."""
    botapi.push_message(resident, "/start")
    picker = await botapi.wait_for(lambda: botapi.last_message(resident.id))
    labels = [b["text"] for row in picker["reply_markup"]["inline_keyboard"] for b in row]
    assert labels[0] == engine.picker(None, resident.language_code).buttons[0][0].label
    assert "العربية" in labels
    assert "Soomaali" in labels
    menu = await _press(botapi, resident, "lang:" + language)
    assert menu["text"] == engine.menu(language).text
    await _press(botapi, resident, "fritidsjob")
    band = await _press(botapi, resident, "fritidsjob.age13")
    assert band["text"] == engine.screen("fritidsjob.age13", language).text
    card = await _press(botapi, resident, "@fritidsjob-hjaelp")
    assert card["text"] == engine.card("fritidsjob-hjaelp", language).text
    # The place is a link under the card, not a second message.
    venue = engine.card("fritidsjob-hjaelp", language).venue
    assert venue is not None
    assert map_link(card) == venue.url
    assert f"mlat={venue.latitude:.5f}" in venue.url
    assert not any("venue" in m for m in botapi.messages_to(resident.id))


async def test_residents_reach_a_card_and_only_counts_are_kept(
    botapi: FakeBotAPI, running: BotProcess, engine: Engine
) -> None:
    """Three residents at once reach a contact card; the database holds counts and nothing
    personal; forged and stale buttons and odd input leave the bot serving."""
    residents = [
        Resident(5550001, "Hodan", "hodan_xyz", "so"),
        Resident(5550002, "Yusuf", "yusuf_abc", "ar"),
        Resident(5550003, "Mette", "mette_qrs", None),
    ]
    await asyncio.gather(
        *(
            _journey(botapi, engine, resident, language)
            for resident, language in zip(residents, ("so", "ar", "da"), strict=True)
        )
    )
    hodan = residents[0]

    # The same card again on the same day counts nothing more.
    await _press(botapi, hodan, "menu")
    await _press(botapi, hodan, "fritidsjob")
    await _press(botapi, hodan, "fritidsjob.age13")
    await _press(botapi, hodan, "@fritidsjob-hjaelp")

    # A forged button and one from an older content version.
    message = _menu_message(botapi, hodan)
    botapi.push_callback(hodan, message["message_id"], "v000000:no.such.screen")
    updated = await botapi.wait_for(
        lambda: (
            (m := botapi.last_message(hodan.id))
            .get("text", "")
            .startswith(engine.updated("so").text[:20])
            and m
        )
    )
    assert updated["text"] == engine.updated("so").text
    botapi.push_callback(hodan, updated["message_id"], "v000000:mentor")
    await botapi.wait_for(
        lambda: botapi.last_message(hodan.id).get("text") == engine.screen("mentor", "so").text
    )

    # Odd input: a sticker, a photo, a 4,000-character paste, a typed word, a group.
    typed = "My secret typed words Hodan"
    before = len(botapi.calls_to("sendMessage"))
    botapi.push_sticker(hodan)
    botapi.push_photo(hodan)
    botapi.push_message(hodan, "ء" * 4000)
    botapi.push_message(hodan, typed)
    botapi.push_group_message(hodan, -1001234, "hello group")
    await botapi.wait_for_calls("leaveChat", 1)
    await botapi.wait_for(lambda: len(botapi.calls_to("sendMessage")) >= before + 4)
    assert running.process.poll() is None

    assert await running.stop() == 0
    db = sqlite3.connect(running.database)
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert db.execute("SELECT goal, service, n FROM referrals").fetchall() == [
        ("arbejde", "fritidsjob-hjaelp", 3)
    ]
    languages = dict(db.execute("SELECT key, n FROM usage WHERE dimension = 'language'").fetchall())
    assert languages == {"so": 1, "ar": 1, "da": 1}
    db.close()

    written = running.written_bytes()
    for resident in residents:
        for secret in (str(resident.id), resident.first_name, resident.username or ""):
            assert secret.encode() not in written, f"{secret!r} was written to disk"
        assert resident.id.to_bytes(8, "big") not in written
        assert resident.id.to_bytes(8, "little") not in written
    assert typed.encode() not in written
    assert TOKEN.encode() not in written
    assert TOKEN.split(":")[1].encode() not in written


# Each pathway's way to a contact card, and the goal that card counts under.
PATHWAYS = [
    (["foraeldre"], "familieraadgivning", "uddannelse"),
    (["mentor"], "beskaeftigelsesmentor", "arbejde"),
    (
        ["foreninger", "associations", "associations.sport"],
        None,
        "civilsamfund",
    ),
    (["tryghed", "tryghed.numbers"], "alarm-112", "tryghed"),
]


async def test_every_pathway_and_a_typed_word_reach_a_card_over_telegram(
    botapi: FakeBotAPI, running: BotProcess, engine: Engine
) -> None:
    """A Somali-speaking resident walks each pathway to a card and types a misspelt word; each
    referral is counted once, under its goal."""
    resident = Resident(5550100, "Faadumo", "faadumo_q", "so")
    botapi.push_message(resident, "/start")
    await botapi.wait_for(lambda: botapi.last_message(resident.id))
    await _press(botapi, resident, "lang:so")
    expected: dict[str, int] = {}
    for path, service, goal in PATHWAYS:
        # Wait for the new menu itself: a button pressed before it arrives would be one of the
        # old card's.
        before = len(botapi.messages_to(resident.id))
        botapi.push_message(resident, "/menu")
        await botapi.wait_for(
            lambda: (
                len(botapi.messages_to(resident.id)) > before  # noqa: B023
                and botapi.last_message(resident.id).get("text") == engine.menu("so").text
            )
        )
        for target in path:
            await _press(botapi, resident, target)
        if service is None:  # the first association listed on the page
            data = _menu_message(botapi, resident)["reply_markup"]["inline_keyboard"][0][0]
            service = Engine.parse(data["callback_data"])[0].removeprefix("@")
        card = await _press(botapi, resident, "@" + service)
        assert card["text"] == engine.card(service, "so").text
        expected[goal] = expected.get(goal, 0) + 1

    botapi.push_message(resident, "fritidsjop")
    suggestion = await botapi.wait_for(
        lambda: (
            (m := botapi.last_message(resident.id)).get("text")
            == engine.typed("fritidsjop", "so").text
            and m
        )
    )
    assert _data(suggestion, "fritidsjob")
    screen = await _press(botapi, resident, "fritidsjob")
    assert screen["text"] == engine.screen("fritidsjob", "so").text

    # Someone in danger, typing in their own words, sees the numbers in the answer at once.
    danger = "waxaan rabaa inaan is dilo"  # "I want to kill myself"
    botapi.push_message(resident, danger)
    crisis = await botapi.wait_for(
        lambda: (
            (m := botapi.last_message(resident.id)).get("text") == engine.typed(danger, "so").text
            and m
        )
    )
    assert "112" in crisis["text"]
    assert "70 201 201" in crisis["text"]

    assert await running.stop() == 0
    db = sqlite3.connect(running.database)
    counted = dict(db.execute("SELECT goal, sum(n) FROM referrals GROUP BY goal").fetchall())
    db.close()
    assert counted == expected
