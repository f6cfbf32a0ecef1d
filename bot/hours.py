"""Opening hours: whether a service is open at a moment, and when it next closes or opens.

Hours are wall-clock spans per weekday ("mon".."sun", an end of 24:00 stored as time.max). A day
is closed when it is one of the given closed dates or, unless told otherwise, a Danish public
holiday. Public holidays are exactly what the `holidays` library lists for DK in its public
category: for 2026 that is Nytårsdag, Skærtorsdag, Langfredag, Påskedag, Anden påskedag, Kristi
himmelfartsdag, Pinsedag, Anden pinsedag, Juledag and Anden juledag. Store bededag is gone from
2024 on (the library still lists it for 2023 and earlier); Grundlovsdag, 1 May, 24 and 31
December are not public holidays, so staff close those through closed dates when they need to.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType
from zoneinfo import ZoneInfo

from bot.content.models import WEEKDAYS, Weekday

WeekHours = Mapping[Weekday, Sequence[tuple[dt.time, dt.time]]]
Span = tuple[dt.datetime, dt.datetime]


@cache
def _holidays_in(year: int) -> Mapping[dt.date, str]:
    """Denmark's public holidays in one year, read once from the holidays library."""
    # Without an explicit language the names follow the process locale (English under C.UTF-8).
    import holidays  # here, not at the top: it is the slowest import of the bot's start-up

    return MappingProxyType(dict(holidays.country_holidays("DK", years=year, language="da")))


def danish_holidays(years: int | Iterable[int]) -> dict[dt.date, str]:
    """Denmark's official public holidays in the given years, by date, with their Danish names."""
    wanted = {years} if isinstance(years, int) else set(years)
    return {day: name for year in sorted(wanted) for day, name in _holidays_in(year).items()}


@dataclass(frozen=True)
class OpenState:
    """Open or not at a moment, and when that next changes (None: not within the horizon)."""

    open_now: bool
    closes_at: dt.datetime | None
    opens_at: dt.datetime | None


def open_state(
    hours: WeekHours,
    now: dt.datetime,
    tz: ZoneInfo,
    closed: Iterable[dt.date] = (),
    observe_holidays: bool = True,
    horizon_days: int = 14,
) -> OpenState | None:
    """Whether `hours` are open at `now`, judged in `tz` over today and horizon_days more days."""
    if not any(hours.values()):
        return None
    if now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    if horizon_days < 0:
        raise ValueError("horizon_days must not be negative")
    today = now.astimezone(tz).date()
    days = [today + dt.timedelta(days=offset) for offset in range(horizon_days + 1)]
    shut = set(closed)
    if observe_holidays:
        shut.update(danish_holidays(range(today.year, days[-1].year + 1)))
    open_days = [day for day in days if day not in shut]
    # Touching spans (12:00 then 12:00, or 24:00 then 00:00) are one, so closes_at is a real
    # closing; a service still open when the horizon ends gets closes_at None, like opens_at.
    horizon_end = _instant(days[-1] + dt.timedelta(days=1), dt.time.min, tz, fold=0)
    for start, end in _merged(_spans(hours, open_days, tz)):
        if end <= now:
            continue
        if start <= now:
            return OpenState(True, None if end >= horizon_end else end.astimezone(tz), None)
        return OpenState(False, None, start.astimezone(tz))
    return OpenState(False, None, None)


def _spans(hours: WeekHours, days: Iterable[dt.date], tz: ZoneInfo) -> Iterator[Span]:
    """Each span of each day as UTC moments, in order, leaving out spans the clock skips."""
    for day in days:
        for start, end in sorted(hours.get(WEEKDAYS[day.weekday()], ())):
            # A start or end that occurs twice when clocks fall back reads as the longer span.
            begins = _instant(day, start, tz, fold=0)
            if end == dt.time.max:
                ends = _instant(day + dt.timedelta(days=1), dt.time.min, tz, fold=1)
            else:
                ends = _instant(day, end, tz, fold=1)
            if begins < ends:
                yield begins, ends


def _merged(spans: Iterable[Span]) -> Iterator[Span]:
    """Ordered spans with touching or overlapping ones joined."""
    current: Span | None = None
    for start, end in spans:
        if current and start <= current[1]:
            current = (current[0], max(current[1], end))
            continue
        if current:
            yield current
        current = (start, end)
    if current:
        yield current


def _instant(day: dt.date, time: dt.time, tz: ZoneInfo, *, fold: int) -> dt.datetime:
    """The moment, in UTC, that `tz`'s clock shows `time` (or the next time it shows) on `day`."""
    wall = dt.datetime.combine(day, time)
    # combine() maps a time skipped in spring to an hour after it (02:30 -> 03:30 CEST), but the
    # clock passes 02:30 at the jump itself, so use the first wall time that exists instead.
    while not _exists(wall, tz):
        wall = wall.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    # In UTC, because comparing two datetimes of one zone ignores fold and offset.
    return wall.replace(tzinfo=tz, fold=fold).astimezone(dt.UTC)


def _exists(wall: dt.datetime, tz: ZoneInfo) -> bool:
    """Whether `tz`'s clock ever shows the naive wall time `wall`."""
    there_and_back = wall.replace(tzinfo=tz).astimezone(dt.UTC).astimezone(tz)
    return there_and_back.replace(tzinfo=None) == wall
