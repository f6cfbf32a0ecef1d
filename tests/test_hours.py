"""Opening hours: open now, closing and next opening across holidays, closed dates and DST."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from bot import hours as hours_module
from bot.content.models import WEEKDAYS, Hours, Weekday
from bot.hours import OpenState, WeekHours, danish_holidays, open_state

CPH = ZoneInfo("Europe/Copenhagen")
_PARSE = TypeAdapter(dict[Weekday, Hours])


def week(**days: str) -> WeekHours:
    """Hours as the content model parses them, e.g. week(mon="09:00-12:00, 13:00-15:00")."""
    return _PARSE.validate_python(days)


def when(text: str) -> dt.datetime:
    """A Copenhagen wall-clock time, or any moment given with an offset such as Z or +02:00."""
    moment = dt.datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=CPH)


def iso(moment: dt.datetime | None) -> str | None:
    return moment.isoformat(timespec="minutes") if moment else None


OFFICE = week(**dict.fromkeys(("mon", "tue", "wed", "thu", "fri"), "09:00-15:00"))
SPLIT = week(wed="09:00-12:00, 13:00-15:00")
DAILY = week(**dict.fromkeys(WEEKDAYS, "10:00-14:00"))
ALWAYS = week(**dict.fromkeys(WEEKDAYS, "00:00-24:00"))

# (hours, now, options, open_now, closes_at, opens_at); expected times carry their UTC offset, so
# each case also checks the daylight-saving offset of the answer.
CASES: dict[str, tuple[WeekHours, str, dict[str, Any], bool, str | None, str | None]] = {
    "middle of a span": (OFFICE, "2026-03-04 10:00", {}, True, "2026-03-04T15:00+01:00", None),
    "exactly at opening": (OFFICE, "2026-03-04 09:00", {}, True, "2026-03-04T15:00+01:00", None),
    "exactly at closing": (OFFICE, "2026-03-04 15:00", {}, False, None, "2026-03-05T09:00+01:00"),
    "before opening": (OFFICE, "2026-03-04 07:30", {}, False, None, "2026-03-04T09:00+01:00"),
    "first of two spans": (SPLIT, "2026-03-04 11:00", {}, True, "2026-03-04T12:00+01:00", None),
    "between two spans": (SPLIT, "2026-03-04 12:30", {}, False, None, "2026-03-04T13:00+01:00"),
    "after the last span": (SPLIT, "2026-03-04 15:30", {}, False, None, "2026-03-11T09:00+01:00"),
    "touching spans are one": (
        week(wed="09:00-12:00, 12:00-15:00"),
        "2026-03-04 11:00",
        {},
        True,
        "2026-03-04T15:00+01:00",
        None,
    ),
    "friday evening to monday": (
        OFFICE,
        "2026-03-06 16:00",
        {},
        False,
        None,
        "2026-03-09T09:00+01:00",
    ),
    "saturday to monday": (OFFICE, "2026-03-07 12:00", {}, False, None, "2026-03-09T09:00+01:00"),
    "easter: skærtorsdag to tuesday": (
        OFFICE,
        "2026-04-01 16:00",
        {},
        False,
        None,
        "2026-04-07T09:00+02:00",
    ),
    "easter: langfredag to tuesday": (
        OFFICE,
        "2026-04-03 10:00",
        {},
        False,
        None,
        "2026-04-07T09:00+02:00",
    ),
    "easter monday itself": (OFFICE, "2026-04-06 10:00", {}, False, None, "2026-04-07T09:00+02:00"),
    "easter monday, holidays ignored": (
        OFFICE,
        "2026-04-06 10:00",
        {"observe_holidays": False},
        True,
        "2026-04-06T15:00+02:00",
        None,
    ),
    "kristi himmelfartsdag skipped": (
        OFFICE,
        "2026-05-13 16:00",
        {},
        False,
        None,
        "2026-05-15T09:00+02:00",
    ),
    "christmas eve is an ordinary day": (
        DAILY,
        "2026-12-24 11:00",
        {},
        True,
        "2026-12-24T14:00+01:00",
        None,
    ),
    "juledag and anden juledag skipped": (
        DAILY,
        "2026-12-24 15:00",
        {},
        False,
        None,
        "2026-12-27T10:00+01:00",
    ),
    "nytårsdag in the next year": (
        OFFICE,
        "2026-12-31 16:00",
        {},
        False,
        None,
        "2027-01-04T09:00+01:00",
    ),
    "explicit closed date skipped": (
        OFFICE,
        "2026-03-03 16:00",
        {"closed": [dt.date(2026, 3, 4)]},
        False,
        None,
        "2026-03-05T09:00+01:00",
    ),
    "on an explicit closed date": (
        OFFICE,
        "2026-03-04 10:00",
        {"closed": [dt.date(2026, 3, 4)]},
        False,
        None,
        "2026-03-05T09:00+01:00",
    ),
    "just before midnight, open to 24:00": (
        week(sat="20:00-24:00"),
        "2026-03-07 23:59",
        {},
        True,
        "2026-03-08T00:00+01:00",
        None,
    ),
    "exactly midnight after a 24:00 end": (
        week(sat="20:00-24:00"),
        "2026-03-08 00:00",
        {},
        False,
        None,
        "2026-03-14T20:00+01:00",
    ),
    "span starting 00:00, the evening before": (
        week(sun="00:00-02:00"),
        "2026-03-07 23:00",
        {},
        False,
        None,
        "2026-03-08T00:00+01:00",
    ),
    "span starting 00:00, at midnight": (
        week(sun="00:00-02:00"),
        "2026-03-08 00:00",
        {},
        True,
        "2026-03-08T02:00+01:00",
        None,
    ),
    "24:00 then 00:00 is one span": (
        week(fri="20:00-24:00", sat="00:00-02:00"),
        "2026-03-06 23:00",
        {},
        True,
        "2026-03-07T02:00+01:00",
        None,
    ),
    "now in UTC, open in Copenhagen": (
        OFFICE,
        "2026-03-04T08:30Z",
        {},
        True,
        "2026-03-04T15:00+01:00",
        None,
    ),
    "now in UTC, closed in Copenhagen": (
        OFFICE,
        "2026-06-03T14:30Z",
        {},
        False,
        None,
        "2026-06-04T09:00+02:00",
    ),
    "now in UTC, already tomorrow in Copenhagen": (
        week(thu="00:00-01:00"),
        "2026-03-04T23:30Z",
        {},
        True,
        "2026-03-05T01:00+01:00",
        None,
    ),
    "now in UTC, today in Copenhagen is the horizon": (
        week(thu="09:00-10:00"),
        "2026-03-04T23:30Z",
        {"horizon_days": 0},
        False,
        None,
        "2026-03-05T09:00+01:00",
    ),
    "spring: monday after the change": (
        OFFICE,
        "2026-03-27 16:00",
        {},
        False,
        None,
        "2026-03-30T09:00+02:00",
    ),
    "spring: sunday night, before the jump": (
        week(sun="00:00-04:00"),
        "2026-03-29 01:30",
        {},
        True,
        "2026-03-29T04:00+02:00",
        None,
    ),
    "spring: start in the skipped hour is the jump": (
        week(sun="02:30-05:00"),
        "2026-03-29T00:59Z",
        {},
        False,
        None,
        "2026-03-29T03:00+02:00",
    ),
    "spring: just after the jump": (
        week(sun="02:30-05:00"),
        "2026-03-29 03:10",
        {},
        True,
        "2026-03-29T05:00+02:00",
        None,
    ),
    "spring: end in the skipped hour is the jump": (
        week(sun="00:00-02:30"),
        "2026-03-29 01:30",
        {},
        True,
        "2026-03-29T03:00+02:00",
        None,
    ),
    "spring: a span wholly skipped never opens": (
        week(sun="02:00-02:45"),
        "2026-03-28 12:00",
        {"observe_holidays": False},
        False,
        None,
        "2026-04-05T02:00+02:00",
    ),
    "autumn: monday after the change": (
        OFFICE,
        "2026-10-23 16:00",
        {},
        False,
        None,
        "2026-10-26T09:00+01:00",
    ),
    "autumn: sunday night, second 02:30": (
        week(sun="00:00-04:00"),
        "2026-10-25T01:30Z",
        {},
        True,
        "2026-10-25T04:00+01:00",
        None,
    ),
    "autumn: end in the repeated hour is the later one": (
        week(sun="00:00-02:30"),
        "2026-10-25T00:45Z",
        {},
        True,
        "2026-10-25T02:30+01:00",
        None,
    ),
    "autumn: start in the repeated hour is the earlier one": (
        week(sun="02:30-05:00"),
        "2026-10-25T00:15Z",
        {},
        False,
        None,
        "2026-10-25T02:30+02:00",
    ),
    "open through the horizon": (ALWAYS, "2026-03-04 10:00", {}, True, None, None),
    "open until a closed date": (
        ALWAYS,
        "2026-03-04 10:00",
        {"closed": [dt.date(2026, 3, 7)], "observe_holidays": False},
        True,
        "2026-03-07T00:00+01:00",
        None,
    ),
    "every day closed within the horizon": (
        OFFICE,
        "2026-03-04 16:00",
        {"closed": [dt.date(2026, 3, 4) + dt.timedelta(days=n) for n in range(15)]},
        False,
        None,
        None,
    ),
    "next opening beyond a short horizon": (
        OFFICE,
        "2026-03-06 16:00",
        {"horizon_days": 2},
        False,
        None,
        None,
    ),
    "only open on a holiday": (
        week(fri="09:00-15:00"),
        "2026-04-01 10:00",
        {"horizon_days": 6},
        False,
        None,
        None,
    ),
}


@pytest.mark.parametrize(
    ("hours", "now", "options", "open_now", "closes_at", "opens_at"),
    list(CASES.values()),
    ids=list(CASES),
)
def test_open_state(
    hours: WeekHours,
    now: str,
    options: dict[str, Any],
    open_now: bool,
    closes_at: str | None,
    opens_at: str | None,
) -> None:
    state = open_state(hours, when(now), CPH, **options)
    assert state is not None
    assert (state.open_now, iso(state.closes_at), iso(state.opens_at)) == (
        open_now,
        closes_at,
        opens_at,
    )
    assert all(moment.tzinfo is CPH for moment in (state.closes_at, state.opens_at) if moment)


@pytest.mark.parametrize(
    ("fold", "expected"),
    [
        (0, OpenState(False, None, when("2026-10-25T02:30+02:00"))),
        (1, OpenState(True, when("2026-10-25T05:00+01:00"), None)),
    ],
)
def test_now_in_the_repeated_hour_follows_fold(fold: int, expected: OpenState) -> None:
    """02:15 on 25 October 2026 happens twice; fold says which, as zoneinfo reads it."""
    state = open_state(week(sun="02:30-05:00"), when("2026-10-25 02:15").replace(fold=fold), CPH)
    assert state is not None
    assert (state.open_now, iso(state.closes_at), iso(state.opens_at)) == (
        expected.open_now,
        iso(expected.closes_at),
        iso(expected.opens_at),
    )


@pytest.mark.parametrize("hours", [{}, {"mon": ()}], ids=["no days", "empty day"])
def test_no_hours_is_none(hours: WeekHours) -> None:
    assert open_state(hours, when("2026-03-04 10:00"), CPH) is None


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        open_state(OFFICE, dt.datetime(2026, 3, 4, 10), CPH)


def test_negative_horizon_is_refused() -> None:
    with pytest.raises(ValueError, match="horizon_days"):
        open_state(OFFICE, when("2026-03-04 10:00"), CPH, horizon_days=-1)


DK_2026 = {
    dt.date(2026, 1, 1): "Nytårsdag",
    dt.date(2026, 4, 2): "Skærtorsdag",
    dt.date(2026, 4, 3): "Langfredag",
    dt.date(2026, 4, 5): "Påskedag",
    dt.date(2026, 4, 6): "Anden påskedag",
    dt.date(2026, 5, 14): "Kristi himmelfartsdag",
    dt.date(2026, 5, 24): "Pinsedag",
    dt.date(2026, 5, 25): "Anden pinsedag",
    dt.date(2026, 12, 25): "Juledag",
    dt.date(2026, 12, 26): "Anden juledag",
}


def test_danish_holidays_2026() -> None:
    """Ten public holidays, named in Danish whatever the locale; no Store bededag, no 24 Dec."""
    assert danish_holidays(2026) == DK_2026


def test_store_bededag_ends_with_2023() -> None:
    names = danish_holidays([2023, 2024])
    assert names[dt.date(2023, 5, 5)] == "Store bededag"
    assert "Store bededag" not in {name for day, name in names.items() if day.year == 2024}


def test_danish_holidays_of_several_years() -> None:
    both = danish_holidays(range(2026, 2028))
    assert both.keys() >= DK_2026.keys()
    assert dt.date(2027, 1, 1) in both
    assert len(both) == len(danish_holidays(2026)) + len(danish_holidays(2027))


def test_danish_holidays_are_cached_per_year(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = holidays.country_holidays

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs["years"])
        return real(*args, **kwargs)

    hours_module._holidays_in.cache_clear()
    monkeypatch.setattr(holidays, "country_holidays", counting)
    danish_holidays([2026, 2027])
    danish_holidays(2026)
    open_state(OFFICE, when("2026-12-31 16:00"), CPH)
    assert sorted(calls) == [2026, 2027]


def test_changing_the_result_leaves_the_cache_alone() -> None:
    danish_holidays(2026).clear()
    assert danish_holidays(2026) == DK_2026


# Property: random moments over two years, weighted towards the daylight-saving nights.
_CHANGES = [when(text) for text in ("2025-03-30T01:00Z", "2025-10-26T01:00Z")]
_CHANGES += [when(text) for text in ("2026-03-29T01:00Z", "2026-10-25T01:00Z")]
_QUARTERS = [dt.time(q // 4, q % 4 * 15) for q in range(96)] + [dt.time.max]


@st.composite
def _week(draw: st.DrawFn) -> WeekHours:
    """Random sorted, non-overlapping spans on quarter hours, some days without any."""
    result = {}
    for day in WEEKDAYS:
        bounds = sorted(draw(st.sets(st.integers(0, 96), max_size=6)))
        pairs = zip(bounds[::2], bounds[1::2], strict=False)
        result[day] = tuple((_QUARTERS[a], _QUARTERS[b]) for a, b in pairs)
    return result


_NOW = st.one_of(
    st.datetimes(dt.datetime(2025, 1, 1), dt.datetime(2026, 12, 31)),
    st.builds(
        lambda change, minutes: (change + dt.timedelta(minutes=minutes)).replace(tzinfo=None),
        st.sampled_from(_CHANGES),
        st.integers(-24 * 60, 24 * 60),
    ),
).map(lambda naive: naive.replace(tzinfo=dt.UTC))


def _in_span(hours: WeekHours, moment: dt.datetime) -> bool:
    """Whether the wall-clock time of `moment` lies in one of its weekday's spans."""
    time = moment.time()
    spans = hours.get(WEEKDAYS[moment.weekday()], ())
    return any(start <= time and (time < end or end == dt.time.max) for start, end in spans)


def _clock_changes(day: dt.date) -> bool:
    midnights = (dt.datetime.combine(day + dt.timedelta(days=n), dt.time(), CPH) for n in (0, 1))
    return len({midnight.utcoffset() for midnight in midnights}) > 1


@settings(max_examples=400, deadline=None)
@given(
    hours=_week(),
    now=_NOW,
    closed_offsets=st.sets(st.integers(-1, 16), max_size=5),
    horizon=st.integers(0, 16),
)
def test_open_state_properties(
    hours: WeekHours, now: dt.datetime, closed_offsets: set[int], horizon: int
) -> None:
    local = now.astimezone(CPH)
    closed = {local.date() + dt.timedelta(days=n) for n in closed_offsets}
    shut = closed | danish_holidays(range(2024, 2029)).keys()
    state = open_state(hours, now, CPH, closed, horizon_days=horizon)
    if not any(hours.values()):
        assert state is None
        return

    def at(moment: dt.datetime) -> OpenState:
        later = open_state(hours, moment, CPH, closed, horizon_days=horizon)
        assert later is not None
        return later

    assert state is not None
    if not _clock_changes(local.date()):
        # Wall-clock oracle; on the two change days the spans are stretched over the jump.
        assert state.open_now == (local.date() not in shut and _in_span(hours, local))
    if state.open_now:
        assert state.opens_at is None
        if state.closes_at is not None:
            assert state.closes_at > now
            assert not at(state.closes_at).open_now
            assert at(now + (state.closes_at - now) / 2) == state
    else:
        assert state.closes_at is None
        if state.opens_at is not None:
            opens = state.opens_at
            assert opens > now
            assert opens.tzinfo is CPH
            assert opens.date() not in shut
            assert opens.date() <= local.date() + dt.timedelta(days=horizon)
            assert _in_span(hours, opens)
            assert at(opens).open_now
            assert at(now + (opens - now) / 2) == state
