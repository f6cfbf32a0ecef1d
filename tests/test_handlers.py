"""Handlers on a real Application with an offline Bot API: what a resident sees, what is counted."""

from __future__ import annotations

import asyncio
import json
import sqlite3

from telegram.ext import Application

from bot.config import Settings
from bot.engine import Engine
from bot.services import Services
from bot.telegram.offline import OfflineRequest
from tests.conftest import Updates


def _buttons(call_params: dict) -> list[dict]:
    markup = call_params.get("reply_markup")
    markup = json.loads(markup) if isinstance(markup, str) else markup
    return [button for row in (markup or {}).get("inline_keyboard", []) for button in row]


async def test_start_shows_picker_with_native_names_hint_first(
    app: Application, offline: OfflineRequest
) -> None:
    """A newcomer with an Arabic phone sees every language in its own script, Arabic first."""
    resident = Updates(app.bot, language_code="ar")
    await app.process_update(resident.message("/start"))
    sent = offline.calls_to("sendMessage")[-1].params
    labels = [b["text"] for b in _buttons(sent)]
    assert labels[0] == "العربية"
    assert {"Dansk", "Türkçe", "Soomaali", "English"} <= set(labels)
    assert len(labels) == 7


async def test_choice_of_language_gives_menu_and_survives_restart(
    settings: Settings, engine: Engine, offline: OfflineRequest, app: Application
) -> None:
    """After choosing Turkish, the menu is Turkish, and after a restart /start skips the picker."""
    resident = Updates(app.bot)
    await app.process_update(resident.press(engine.data("lang:tr")))
    edited = offline.calls_to("editMessageText")[-1].params
    assert edited["text"] == engine.menu("tr").text
    from bot.telegram import build_application

    # A restart: services opened anew from the same settings, a new Application.
    async with await Services.open(settings) as services:
        again = build_application(settings, engine, services, request=offline, rate_limit=False)
        async with again:
            await again.post_init(again)  # type: ignore[misc]
            await again.process_update(Updates(again.bot).message("/start"))
            await again.post_shutdown(again)  # type: ignore[misc]
    assert offline.calls_to("sendMessage")[-1].params["text"] == engine.menu("tr").text


async def test_button_edits_in_place_and_answers_query(
    app: Application, offline: OfflineRequest, updates: Updates, engine: Engine
) -> None:
    """A press answers the callback and edits the menu message into the chosen screen."""
    await app.process_update(updates.press(engine.data("fritidsjob"), message_id=55))
    assert len(offline.calls_to("answerCallbackQuery")) == 1
    edit = offline.calls_to("editMessageText")[-1].params
    assert int(edit["message_id"]) == 55
    assert edit["text"] == engine.screen("fritidsjob", "da").text
    assert not offline.calls_to("sendMessage")


async def test_forged_and_stale_buttons_get_updated_menu(
    app: Application, offline: OfflineRequest, updates: Updates, engine: Engine
) -> None:
    """Forged data and a removed screen lead to 'this menu was updated', never an error."""
    for data in ("v000000:gone.screen", "garbage", "v" + "f" * 63, engine.data("@nope")):
        await app.process_update(updates.press(data))
        assert offline.calls_to("editMessageText")[-1].params["text"] == engine.updated("da").text
    assert len(offline.calls_to("answerCallbackQuery")) == 4


async def test_card_counts_once_per_day_and_links_its_map(
    app: Application, offline: OfflineRequest, updates: Updates, engine: Engine, settings: Settings
) -> None:
    """A contact card is counted once per resident and day; its place is a map link on the card,
    not a second message."""
    service = "fritidsjob-hjaelp"
    for _ in range(3):
        await app.process_update(updates.press(engine.data("@" + service)))
    assert not offline.calls_to("sendVenue")
    edit = offline.calls_to("editMessageText")[-1].params
    markup = edit["reply_markup"]
    keyboard = (json.loads(markup) if isinstance(markup, str) else markup)["inline_keyboard"]
    venue = engine.card(service, "da").venue
    assert venue is not None
    assert keyboard[-1] == [{"text": venue.label, "url": venue.url}]
    rows = sqlite3.connect(settings.bot_database).execute("SELECT * FROM referrals").fetchall()
    # The day column is the bot's own today; what matters here is one count for three taps.
    assert [row[1:] for row in rows] == [("arbejde", service, 1)]


async def test_media_and_unknown_commands_get_a_kind_pointer(
    app: Application, offline: OfflineRequest, updates: Updates, engine: Engine
) -> None:
    """Stickers, voice notes and unknown commands are answered with the menu, not silence."""
    sticker = {
        "file_id": "s",
        "file_unique_id": "s",
        "type": "regular",
        "width": 1,
        "height": 1,
        "is_animated": False,
        "is_video": False,
    }
    voice = {"file_id": "v", "file_unique_id": "v", "duration": 1}
    for update in (
        updates.message(sticker=sticker),
        updates.message(voice=voice),
        updates.message("/doesnotexist"),
        updates.message("x" * 4000),
    ):
        await app.process_update(update)
    texts = [call.params["text"] for call in offline.calls_to("sendMessage")]
    assert texts == [engine.pointer("da").text] * 4


async def test_bot_leaves_groups(
    app: Application, offline: OfflineRequest, updates: Updates
) -> None:
    """Added to a group, the bot leaves it without posting anything there."""
    group = {"id": -100123, "type": "supergroup", "title": "Somewhere"}
    await app.process_update(updates.message("hello all", chat=group))
    assert [int(c.params["chat_id"]) for c in offline.calls_to("leaveChat")] == [-100123]
    assert not offline.calls_to("sendMessage")


async def test_forget_deletes_language_choice(
    app: Application, offline: OfflineRequest, updates: Updates, engine: Engine, settings: Settings
) -> None:
    """/forget removes the stored language; /start then shows the picker again."""
    await app.process_update(updates.press(engine.data("lang:so")))
    db = sqlite3.connect(settings.bot_database)
    assert db.execute("SELECT count(*) FROM preferences").fetchone() == (1,)
    await app.process_update(updates.message("/forget"))
    assert db.execute("SELECT count(*) FROM preferences").fetchone() == (0,)
    await app.process_update(updates.message("/start"))
    assert offline.calls_to("sendMessage")[-1].params["text"] == engine.picker("da").text


async def test_commands_registered_per_language(
    app: Application, offline: OfflineRequest, catalogs
) -> None:
    """setMyCommands ran for the default list and each two-letter language, translated."""
    calls = [
        call
        for call in offline.calls_to("setMyCommands")
        if "chat" not in str(call.params.get("scope", "default"))
    ]
    languages = [call.params.get("language_code") for call in calls]
    assert languages == [None, "da", "ar", "tr", "so", "ku", "en"]
    danish = (
        json.loads(calls[0].params["commands"])
        if isinstance(calls[0].params["commands"], str)
        else calls[0].params["commands"]
    )
    assert danish[0]["command"] == "menu"
    assert danish[0]["description"] == catalogs["da"].gettext("Main menu")


async def test_updates_of_many_residents_run_concurrently_each_in_order(
    settings: Settings, engine: Engine, services: Services
) -> None:
    """While Bot API calls wait on the network, other residents are served (many calls in
    flight at once), and each resident's presses are still handled in the order sent."""
    from bot.telegram import build_application

    # Long enough that a machine busy with other work still starts 20 updates within one call.
    slow = OfflineRequest(delay=0.3)
    application = build_application(settings, engine, services, request=slow, rate_limit=False)
    screens = ["fritidsjob", "mentor", "foraeldre", "foreninger", "tryghed"]
    # A resident's first lookup after a start costs a memory-hard hash, and the day's first tap
    # a commit (CPU and disk, not network); done beforehand, so that what is measured is how
    # many Bot API calls wait at once.
    for resident in range(40):
        await services.residents.language(f"tg:{10_000 + resident}")
        await services.residents.count_language(f"tg:{10_000 + resident}", "da")
    async with application:
        await application.post_init(application)  # type: ignore[misc]
        await application.start()
        for resident in range(40):
            sender = Updates(application.bot, user_id=10_000 + resident)
            for screen in screens:
                await application.update_queue.put(sender.press(engine.data(screen)))
        async with asyncio.timeout(30):
            while len(slow.calls_to("editMessageText")) < 200:  # noqa: ASYNC110 - polls a list
                await asyncio.sleep(0.01)
        await application.stop()
        await application.post_shutdown(application)  # type: ignore[misc]
    edits = slow.calls_to("editMessageText")
    assert len(edits) == 200
    assert slow.max_in_flight >= 20
    per_resident: dict[int, list[str]] = {}
    for call in edits:
        per_resident.setdefault(int(call.params["chat_id"]), []).append(call.params["text"])
    expected = [engine.screen(screen, "da").text for screen in screens]
    assert all(texts == expected for texts in per_resident.values())


async def test_nightly_job_forgets_language_choices_unused_for_six_months(
    app: Application, settings: Settings
) -> None:
    """A choice last seen seven months ago is deleted by the nightly job, not only at start."""
    [job] = app.job_queue.get_jobs_by_name("purge-language-choices")  # type: ignore[union-attr]
    db = sqlite3.connect(settings.bot_database)
    with db:
        db.execute(
            "INSERT INTO preferences (resident, language, last_seen) VALUES (?, 'ar', '2000-01')",
            (b"x" * 16,),
        )
    await job.run(app)
    assert db.execute("SELECT count(*) FROM preferences").fetchone() == (0,)
    db.close()
