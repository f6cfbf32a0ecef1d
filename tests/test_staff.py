"""Staff on a real Application with an offline Bot API: /stats, the staff command list, and the
Monday report (sent once, caught up after downtime, never twice), all with a fixed clock."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import struct
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from telegram import Update
from telegram.ext import Application

from bot.config import Settings, load_settings
from bot.engine import Engine
from bot.guide import LISTED
from bot.i18n import Catalogs
from bot.services import Services
from bot.stats import IsoWeek
from bot.telegram import build_application, staff
from bot.telegram.offline import OfflineRequest, RecordedCall
from tests.conftest import TOKEN, Updates

COPENHAGEN = ZoneInfo("Europe/Copenhagen")
STAFF, OTHER_STAFF, RESIDENT = 4242, 4343, 777001
STAFF_CHAT, OTHER_GROUP = -100777, -100555
_ids = itertools.count(900_000)


def local(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=COPENHAGEN)


class Clock:
    """A settable clock, handed to the staff module in place of the real one."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


class FilesRequest(OfflineRequest):
    """The offline Bot API, also keeping uploaded files and failing the methods named in fail."""

    def __init__(self, fail: Callable[[str, dict], bool] = lambda method, params: False) -> None:
        super().__init__()
        self.files: list[tuple[str, dict[str, bytes]]] = []
        self.fail = fail

    async def do_request(self, url: str, method: str, request_data: Any = None, **kwargs: Any):
        if request_data is not None and request_data.contains_files:
            parts = request_data.multipart_data or {}
            self.files.append((url.rsplit("/", 1)[-1], {n: part[1] for n, part in parts.items()}))
        return await super().do_request(url, method, request_data, **kwargs)

    def refuse(self, method: str, params: dict[str, Any]) -> tuple[int, str] | None:
        return (400, "Bad Request: chat not found") if self.fail(method, params) else None


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """Wednesday 30 December 2026, 10:00 in Copenhagen: 2026-W52 is the latest week due."""
    fixed = Clock(local(2026, 12, 30, 10, 0))
    monkeypatch.setattr(staff, "_now", fixed)
    return fixed


@pytest.fixture
def staff_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.chdir(tmp_path)
    return load_settings(
        telegram_bot_token=TOKEN,
        bot_database=tmp_path / "data" / "bot.sqlite3",
        bot_staff_ids=f"{STAFF},{OTHER_STAFF}",
        bot_staff_chat_id=STAFF_CHAT,
    )


@pytest.fixture
def request_() -> FilesRequest:
    return FilesRequest()


async def _started(settings: Settings, engine: Engine, request: OfflineRequest) -> Application:
    services = await Services.open(settings)
    application = build_application(settings, engine, services, request=request, rate_limit=False)
    await application.initialize()
    try:
        await application.post_init(application)  # type: ignore[misc]
    except BaseException:
        await _stopped(application)  # an open database would keep the test process alive
        raise
    return application


async def _stopped(application: Application) -> None:
    await application.post_shutdown(application)  # type: ignore[misc]
    await application.shutdown()
    await application.parts.services.close()


@pytest.fixture
async def staff_app(
    staff_settings: Settings, engine: Engine, request_: FilesRequest, clock: Clock
) -> AsyncIterator[Application]:
    """A real Application with a staff chat, started (post_init) at the fixed clock."""
    application = await _started(staff_settings, engine, request_)
    try:
        yield application
    finally:
        await _stopped(application)


def _calls(request: OfflineRequest, start: int) -> list[tuple[str, dict]]:
    return [(call.method, call.params) for call in request.calls[start:]]


def _text_of(request: OfflineRequest, chat_id: int) -> str:
    return "\n".join(
        call.params["text"]
        for call in request.calls_to("sendMessage")
        if call.params["chat_id"] == chat_id
    )


def _png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", png[16:24])


def _edited(updates: Updates, text: str) -> Update:
    message = {
        "message_id": next(_ids),
        "date": 1_790_000_000,
        "edit_date": 1_790_000_100,
        "chat": updates.chat,
        "from": updates.user,
        "text": text,
        "entities": [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}],
    }
    return Update.de_json({"update_id": next(_ids), "edited_message": message}, updates.bot)


def _group(chat_id: int) -> dict:
    return {"id": chat_id, "type": "supergroup", "title": "Staff"}


async def _same_as_unknown(
    application: Application, request: OfflineRequest, make: Any, command: str
) -> None:
    """The Bot API calls caused by `command` equal those caused by /doesnotexist, byte for byte."""
    start = len(request.calls)
    await application.process_update(make(command.replace("/stats", "/doesnotexist", 1)))
    unknown = _calls(request, start)
    start = len(request.calls)
    await application.process_update(make(command))
    assert _calls(request, start) == unknown


# -- /stats from anyone else ---------------------------------------------------------------------


async def test_stats_from_a_resident_is_exactly_an_unknown_command(
    app: Application, offline: OfflineRequest
) -> None:
    """A resident sending /stats (with or without a number) gets the unknown-command pointer:
    the same Bot API calls with the same parameters. Editing a message into /stats is ignored
    as an edited unknown command is."""
    resident = Updates(app.bot, user_id=RESIDENT, language_code="ar")
    for command in ("/stats", "/stats 4", "/stats@vollsmose_guide_bot"):
        await _same_as_unknown(app, offline, resident.message, command)
    assert offline.calls[-1].method == "sendMessage"
    pointer = app.parts.guide.engine.pointer("ar").text
    assert offline.calls[-1].params["text"].startswith(pointer[:20])
    await _same_as_unknown(app, offline, lambda text: _edited(resident, text), "/stats")
    assert not offline.calls_to("sendPhoto")


async def test_stats_from_staff_in_a_foreign_group_is_exactly_an_unknown_command(
    app: Application, offline: OfflineRequest
) -> None:
    """Staff in a group that is not the staff chat: the bot leaves, as for any command."""
    member = Updates(app.bot, user_id=STAFF)
    await _same_as_unknown(
        app,
        offline,
        lambda text: member.message(text, chat=_group(OTHER_GROUP)),
        "/stats",
    )
    assert offline.calls[-1].method == "leaveChat"


async def test_stats_from_a_non_staff_member_of_the_staff_chat_is_ignored_like_any_command(
    staff_app: Application, request_: FilesRequest
) -> None:
    member = Updates(staff_app.bot, user_id=RESIDENT)
    start = len(request_.calls)
    await _same_as_unknown(
        staff_app,
        request_,
        lambda text: member.message(text, chat=_group(STAFF_CHAT)),
        "/stats",
    )
    assert _calls(request_, start) == []


async def test_stats_from_a_resident_with_a_chosen_language(
    app: Application, offline: OfflineRequest, engine: Engine
) -> None:
    resident = Updates(app.bot, user_id=RESIDENT)
    await app.process_update(resident.press(engine.data("lang:so")))
    await _same_as_unknown(app, offline, resident.message, "/stats 2")


# -- the command list ----------------------------------------------------------------------------


def _commands(call: RecordedCall) -> list[str]:
    return [command["command"] for command in call.params["commands"]]


async def test_stats_is_listed_only_in_staff_chats(staff_app: Application, request_: FilesRequest):
    calls = request_.calls_to("setMyCommands")
    default = [
        c for c in calls if "scope" not in c.params or c.params["scope"]["type"] == "default"
    ]
    assert default
    assert all("stats" not in _commands(c) for c in default)
    by_chat: dict[int, list[RecordedCall]] = {}
    for call in calls:
        if call.params.get("scope", {}).get("type") == "chat":
            by_chat.setdefault(call.params["scope"]["chat_id"], []).append(call)
    assert set(by_chat) == {STAFF, OTHER_STAFF, STAFF_CHAT}
    for staff_id in (STAFF, OTHER_STAFF):
        languages = [c.params.get("language_code") for c in by_chat[staff_id]]
        assert languages == [None, "da", "ar", "tr", "so", "ku", "en"]
        residents = [command.name for command in LISTED]
        assert all(_commands(c) == [*residents, "stats"] for c in by_chat[staff_id])
    assert all(_commands(c) == ["stats"] for c in by_chat[STAFF_CHAT])
    danish = by_chat[STAFF][1].params["commands"][-1]["description"]
    assert danish == Catalogs()["da"].gettext(staff.DESCRIPTION)


async def test_a_staff_member_who_never_opened_the_bot_does_not_stop_start_up(
    staff_settings: Settings, engine: Engine, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    """Telegram refuses a command list for a chat the bot has never seen: logged without the id,
    and the other staff chats still get theirs."""

    def unknown_chat(method: str, params: dict) -> bool:
        return method == "setMyCommands" and params.get("scope", {}).get("chat_id") == STAFF

    request = FilesRequest(fail=unknown_chat)
    application = await _started(staff_settings, engine, request)
    try:
        assert "could not list the staff commands in one chat: BadRequest" in caplog.text
        assert str(STAFF) not in caplog.text
        listed = {
            c.params["scope"]["chat_id"]
            for c in request.calls_to("setMyCommands")
            if c.params.get("scope", {}).get("type") == "chat"
        }
        assert listed == {STAFF, OTHER_STAFF, STAFF_CHAT}  # STAFF tried once, then skipped
        assert (
            len(
                [
                    c
                    for c in request.calls_to("setMyCommands")
                    if c.params.get("scope", {}).get("chat_id") == STAFF
                ]
            )
            == 1
        )
        assert _reports(request) == ["2026-W52"]
    finally:
        await _stopped(application)


# -- /stats for staff ----------------------------------------------------------------------------


async def _seed(application: Application) -> None:
    """Referrals in 2026-W53 (Monday 28 December to Sunday 3 January 2027) and 2026-W52."""
    storage = application.parts.services.storage
    for day, goal, service in [
        (dt.date(2026, 12, 21), "tryghed", "bydelssoestre"),
        (dt.date(2026, 12, 29), "arbejde", "fritidsjob-hjaelp"),
        (dt.date(2026, 12, 30), "arbejde", "fritidsjob-hjaelp"),
        (dt.date(2027, 1, 3), "uddannelse", "lektiecafe"),
    ]:
        await storage.count_referral(day, goal, service)
    await storage.count_usage(dt.date(2026, 12, 29), "language", "ar")


async def test_staff_stats_in_private_gets_table_and_chart(
    staff_app: Application, request_: FilesRequest, clock: Clock, catalogs: Catalogs
) -> None:
    """The counts per goal (names in the staff member's language), then a chart."""
    await _seed(staff_app)
    clock.now = local(2027, 1, 3, 18, 0)  # Sunday of 2026-W53
    member = Updates(staff_app.bot, user_id=STAFF, language_code="da")
    start, files = len(request_.calls), len(request_.files)
    await staff_app.process_update(member.message("/stats 2"))
    methods = [method for method, _ in _calls(request_, start)]
    assert methods == ["sendMessage", "sendPhoto"]
    message = request_.calls[start].params
    assert message["chat_id"] == STAFF
    assert message["parse_mode"] == "HTML"
    text = message["text"]
    assert text.startswith("<pre>")
    assert text.endswith("</pre>")
    assert "2026-W52" in text
    assert "2026-W53" in text
    assert "2026-W51" not in text
    da = catalogs["da"]
    lines = text.splitlines()
    week53 = lines[lines.index(next(line for line in lines if line.startswith("2026-W53"))) :]
    assert next(line for line in week53 if line.startswith(da.gettext("More people in work")))
    work = next(line for line in week53 if line.startswith(da.gettext("More people in work")))
    assert work.split()[-2:] == ["2", "+2"]
    school = next(
        line for line in week53 if line.startswith(da.gettext("Higher level of education"))
    )
    assert school.split()[-2:] == ["1", "+1"]
    assert "&lt;5" in text  # the one Arabic speaker
    ((method, upload),) = request_.files[files:]
    assert method == "sendPhoto"
    assert _png_size(upload["photo"]) == (1200, 800)


async def test_staff_stats_weeks_argument(staff_app: Application, request_: FilesRequest) -> None:
    """/stats N gives N weeks (at most 52), split into messages Telegram accepts."""
    member = Updates(staff_app.bot, user_id=STAFF)
    for argument, weeks in (("", 4), (" 1", 1), (" 999", 52), (" soon", 4)):
        start = len(request_.calls)
        await staff_app.process_update(member.message("/stats" + argument))
        texts = [p["text"] for m, p in _calls(request_, start) if m == "sendMessage"]
        assert all(len(t) <= 4096 for t in texts)
        lines = [line.removeprefix("<pre>") for t in texts for line in t.splitlines()]
        headings = [line for line in lines if line[:6] in ("2026-W", "2025-W")]
        assert len(headings) == weeks
        assert _calls(request_, start)[-1][0] == "sendPhoto"


async def test_staff_stats_in_the_staff_chat(
    staff_app: Application, request_: FilesRequest
) -> None:
    member = Updates(staff_app.bot, user_id=OTHER_STAFF)
    start = len(request_.calls)
    await staff_app.process_update(member.message("/stats", chat=_group(STAFF_CHAT)))
    sent = _calls(request_, start)
    assert [method for method, _ in sent] == ["sendMessage", "sendPhoto"]
    assert all(params["chat_id"] == STAFF_CHAT for _, params in sent)


# -- the Monday report ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "week"),
    [
        (local(2026, 12, 30, 10, 0), "2026-W52"),
        (local(2027, 1, 4, 7, 59), "2026-W52"),
        (local(2027, 1, 4, 8, 0), "2026-W53"),  # across the year boundary
        (dt.datetime(2026, 3, 30, 5, 59, tzinfo=dt.UTC), "2026-W12"),  # 07:59 CEST
        (dt.datetime(2026, 3, 30, 6, 0, tzinfo=dt.UTC), "2026-W13"),  # 08:00 CEST
        (dt.datetime(2026, 10, 26, 6, 59, tzinfo=dt.UTC), "2026-W42"),  # 07:59 CET
        (dt.datetime(2026, 10, 26, 7, 0, tzinfo=dt.UTC), "2026-W43"),  # 08:00 CET
    ],
)
def test_due_week_turns_at_monday_0800_local(now: dt.datetime, week: str) -> None:
    assert str(staff.due_week(now, COPENHAGEN)) == week


def _reports(request: OfflineRequest) -> list[str]:
    """The weeks of the reports sent to the staff chat, from their headings."""
    return [
        line.removeprefix("<pre>")[:8]
        for call in request.calls_to("sendMessage")
        if call.params["chat_id"] == STAFF_CHAT
        for line in call.params["text"].splitlines()[1:]
        if line[:6] in ("2026-W", "2027-W")
    ]


def _job(application: Application):
    (job,) = application.job_queue.get_jobs_by_name(staff.JOB_NAME)
    return job


async def _run_job(application: Application) -> None:
    job = _job(application)
    await job.callback(application.context_types.context.from_job(job, application))


async def test_job_runs_mondays_at_0800_in_copenhagen(staff_app: Application) -> None:
    trigger = _job(staff_app).job.trigger
    for now, expected in [
        (local(2026, 3, 25, 12, 0), local(2026, 3, 30, 8, 0)),  # just after summer time starts
        (local(2026, 10, 21, 12, 0), local(2026, 10, 26, 8, 0)),  # just after it ends
        (local(2026, 12, 29, 12, 0), local(2027, 1, 4, 8, 0)),
    ]:
        fire = trigger.get_next_fire_time(None, now)
        assert fire == expected
        assert fire.utcoffset() == expected.utcoffset()


async def test_catch_up_at_start_and_the_job_send_each_week_once(
    staff_settings: Settings, engine: Engine, clock: Clock, request_: FilesRequest
) -> None:
    """Started on Wednesday: the week before is sent at once. A restart sends nothing again;
    the Monday job sends the next week once, also when it and a catch-up run together."""
    application = await _started(staff_settings, engine, request_)
    try:
        assert _reports(request_) == ["2026-W52"]
        assert len(request_.calls_to("sendPhoto")) == 1
        storage = application.parts.services.storage
        assert await storage.last_report_week() == "2026-W52"
    finally:
        await _stopped(application)

    application = await _started(staff_settings, engine, request_)  # a restart the same week
    try:
        assert _reports(request_) == ["2026-W52"]
        clock.now = local(2027, 1, 4, 7, 59)
        await _run_job(application)
        assert _reports(request_) == ["2026-W52"]
        clock.now = local(2027, 1, 4, 8, 0)
        await _run_job(application)
        await _run_job(application)
        assert _reports(request_) == ["2026-W52", "2026-W53"]

        clock.now = local(2027, 1, 11, 8, 0)
        await asyncio.gather(_run_job(application), staff.send_due_report(application, clock()))
        assert _reports(request_) == ["2026-W52", "2026-W53", "2027-W01"]
        assert len(request_.calls_to("sendPhoto")) == 3
    finally:
        await _stopped(application)


async def test_after_downtime_only_the_latest_due_week_is_sent(
    staff_settings: Settings, engine: Engine, clock: Clock, request_: FilesRequest
) -> None:
    """Last sent 2026-W50, down until Thursday of 2027-W01: 2026-W53 is sent at start-up, with
    its counts; the missed W51 and W52 are not sent one by one (/stats has them)."""
    from bot.storage import Storage

    storage = await Storage.open(staff_settings.bot_database)
    assert await storage.mark_report_sent("2026-W50", dt.date(2026, 12, 14))
    await storage.count_referral(dt.date(2027, 1, 2), "arbejde", "fritidsjob-hjaelp")
    await storage.close()
    clock.now = local(2027, 1, 7, 9, 0)
    application = await _started(staff_settings, engine, request_)
    try:
        assert _reports(request_) == ["2026-W53"]
        text = _text_of(request_, STAFF_CHAT)
        danish = Catalogs()["da"]
        work = next(
            line
            for line in text.splitlines()
            if line.startswith(danish.gettext("More people in work"))
        )
        assert work.split()[-2:] == ["1", "+1"]
        ((method, files),) = request_.files
        assert method == "sendPhoto"
        assert _png_size(files["photo"]) == (1200, 800)
    finally:
        await _stopped(application)


async def test_a_failed_send_is_recorded_and_never_repeated(
    staff_settings: Settings, engine: Engine, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    """The week is recorded before it is sent: when Telegram refuses the report (or the process
    dies in between), it is logged, start-up goes on, and the week is not sent later."""
    failing = FilesRequest(fail=lambda method, params: method == "sendPhoto")
    application = await _started(staff_settings, engine, failing)
    assert await application.parts.services.storage.last_report_week() == "2026-W52"
    assert "the report for 2026-W52 was recorded but not delivered (BadRequest)" in caplog.text
    assert str(STAFF_CHAT) not in caplog.text
    await _stopped(application)

    working = FilesRequest()
    application = await _started(staff_settings, engine, working)
    try:
        assert not working.calls_to("sendMessage")
        assert not working.calls_to("sendPhoto")
    finally:
        await _stopped(application)


async def test_an_injected_clock_drives_the_job(
    staff_app: Application, request_: FilesRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """start() takes a clock; the job it schedules uses it (not the module's default)."""
    monkeypatch.setattr(staff, "_now", lambda: pytest.fail("the injected clock is not used"))
    await staff.start(staff_app, clock=lambda: local(2027, 1, 4, 8, 30))
    assert _reports(request_) == ["2026-W52", "2026-W53"]
    await _run_job(staff_app)  # the one job left: the first was replaced
    assert _reports(request_) == ["2026-W52", "2026-W53"]


async def test_without_a_staff_chat_there_is_no_report(
    app: Application, offline: OfflineRequest, clock: Clock
) -> None:
    """The default settings have staff but no staff chat: no job, nothing sent, even when due."""
    assert not app.job_queue.get_jobs_by_name(staff.JOB_NAME)
    assert await staff.send_due_report(app, clock()) is None
    assert not offline.calls_to("sendMessage")
    assert not offline.calls_to("sendPhoto")
    assert await app.parts.services.storage.last_report_week() is None


def test_weeks_compare_as_text_across_the_year_boundary() -> None:
    """reports_sent holds "2026-W53"; the catch-up compares weeks as text."""
    assert str(IsoWeek(2026, 53)) < str(IsoWeek(2027, 1))
    assert str(IsoWeek(2027, 1)) < str(IsoWeek(2027, 10)) < str(IsoWeek(2028, 1))


async def test_a_staff_group_upgraded_to_a_supergroup_is_followed_not_left(
    staff_app: Application, request_: FilesRequest, caplog: pytest.LogCaptureFixture
) -> None:
    """Telegram moves an upgraded staff group to a new id: the bot stays in the new supergroup,
    logs the id to put in BOT_STAFF_CHAT_ID, and still leaves any other group."""
    member = Updates(staff_app.bot, user_id=STAFF)
    upgraded = -100_999_888
    start = len(request_.calls)
    await staff_app.process_update(
        member.message(chat=_group(STAFF_CHAT) | {"type": "group"}, migrate_to_chat_id=upgraded)
    )
    with caplog.at_level("WARNING", logger="bot"):
        await staff_app.process_update(
            member.message(chat=_group(upgraded), migrate_from_chat_id=STAFF_CHAT)
        )
    await staff_app.process_update(member.message("hello", chat=_group(upgraded)))
    assert [method for method, _ in _calls(request_, start)] == []
    assert f"set BOT_STAFF_CHAT_ID={upgraded} and restart" in caplog.text
    await staff_app.process_update(member.message("hello", chat=_group(OTHER_GROUP)))
    assert [(m, p["chat_id"]) for m, p in _calls(request_, start)] == [("leaveChat", OTHER_GROUP)]
