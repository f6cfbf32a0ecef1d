"""Weekly report: counts per ISO week, small numbers hidden, as an aligned table, CSV or JSON.

The counters are already anonymous (no user column, days only). This module adds the second
safeguard of DESIGN.md "Anonymity by construction": counts that describe residents' attributes
(language, source, unmatched typed messages) of 1 to threshold-1 are shown as "<5", and further
cells are hidden where the other numbers would let someone work a hidden one out. Goal and service
counts describe the offers, not people, and are exact.

Threat model of the suppression (the property tests check it): someone sees every number we show,
knows the threshold, what the markers mean ("<5" is 1..4, "x" a count hidden on purpose) and
exactly how cells are chosen for hiding. From what we publish they cannot pin any hidden cell to
one value. We never publish the total of a dimension with a hidden cell, but cells are hidden as
if it were known: someone who learns it elsewhere and reasons from the markers and shown cells
still cannot pin a hidden cell, unless every cell of the dimension is hidden (nothing shown is
left to hide) or they also exploit which cells the algorithm chose to hide.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import datetime as dt
import io
import json
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_interval
from babel.numbers import format_decimal

from bot.followup import ANSWERS, ASKED
from bot.i18n import LANGUAGES, Translator

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.content import Content
    from bot.storage import Storage

DEFAULT_THRESHOLD = 5
DEFAULT_WEEKS = 4
MAX_WEEKS = 530  # about ten years: a bigger range is a typo
SECONDARY = "x"
FORMATS = ("table", "csv", "json")
CSV_HEADER = ("week", "dimension", "key", "count", "lbf_area")
PERIOD_CSV_HEADER = ("period", "dimension", "key", "count", "lbf_area")
# What every export counts, said in every format: there is no public template for activity counts,
# so a reader of the numbers must be told they are cards shown, not people (DOMAIN.md).
METHOD = "contact cards shown, once per resident, service and day; not persons"
_HALF = re.compile(r"^(\d{4})-H([12])$")
NAME_WIDTH = 30  # the table stays readable on a phone in Telegram
_WEEK = re.compile(r"^(\d{4})-?W(\d{2})$")

Cell = int | str


# -- ISO weeks ---------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class IsoWeek:
    """An ISO 8601 week ("2026-W53"), Monday to Sunday in local dates."""

    year: int
    week: int

    def __post_init__(self) -> None:
        # Raises ValueError for week 53 of a year that has only 52, and for week 0 or 54.
        dt.date.fromisocalendar(self.year, self.week, 1)

    @classmethod
    def parse(cls, text: str) -> IsoWeek:
        """Read "2026-W48" (or "2026W48"); ValueError with a readable message otherwise."""
        match = _WEEK.match(text.strip())
        if match is None:
            raise ValueError(f"{text!r} is not an ISO week such as 2026-W48")
        try:
            return cls(int(match.group(1)), int(match.group(2)))
        except ValueError:
            raise ValueError(f"{text!r}: the year {match.group(1)} has no such week") from None

    @classmethod
    def containing(cls, day: dt.date) -> IsoWeek:
        year, week, _weekday = day.isocalendar()
        return cls(year, week)

    @property
    def start(self) -> dt.date:
        """The Monday."""
        return dt.date.fromisocalendar(self.year, self.week, 1)

    @property
    def end(self) -> dt.date:
        """The Monday after (exclusive)."""
        return self.start + dt.timedelta(days=7)

    def shift(self, weeks: int) -> IsoWeek:
        return IsoWeek.containing(self.start + dt.timedelta(weeks=weeks))

    def previous(self) -> IsoWeek:
        return self.shift(-1)

    def __str__(self) -> str:
        return f"{self.year:04d}-W{self.week:02d}"


def week_range(first: IsoWeek, last: IsoWeek) -> list[IsoWeek]:
    """Every week from first to last, both included."""
    weeks = []
    week = first
    while week <= last:
        weeks.append(week)
        week = week.shift(1)
    return weeks


def last_weeks(count: int, today: dt.date) -> list[IsoWeek]:
    """The week containing today and the count-1 weeks before it, oldest first."""
    current = IsoWeek.containing(today)
    return [current.shift(-back) for back in range(count - 1, -1, -1)]


def local_today(timezone: dt.tzinfo, now: dt.datetime | None = None) -> dt.date:
    return (now or dt.datetime.now(dt.UTC)).astimezone(timezone).date()


# -- small-number suppression ------------------------------------------------------------------


def small_marker(threshold: int) -> str:
    """How a count of 1..threshold-1 is shown: "<5"."""
    return f"<{threshold}"


def _check_threshold(threshold: int) -> None:
    if threshold < 3:
        # "<2" would say "exactly 1": it must leave at least two possible values.
        raise ValueError(f"the threshold for small numbers must be at least 3, not {threshold}")


@dataclass(frozen=True)
class Suppressed:
    """One week's counts of one attribute of residents, as published.

    cells: key -> exact count, small_marker(threshold) or SECONDARY. Keys with no count are absent.
    total: the exact sum, published only when no cell is hidden.
    """

    cells: dict[str, Cell]
    total: int | None

    @property
    def hidden(self) -> bool:
        return self.total is None


def _bounds(
    hidden: Iterable[str], primary: set[str], shown: Mapping[str, int], threshold: int
) -> dict[str, tuple[int, float]]:
    """What a reader who knows this algorithm can tell of each hidden cell without the total.

    "<5" is 1..threshold-1. "x" is at least the threshold and, since the smallest shown cell
    (by count, then key) is hidden first, at most the smallest shown count: equal to it only if
    its key sorts before the keys of the shown cells with that count.
    """
    smallest: float = min(shown.values(), default=float("inf"))
    first_key = min((k for k, n in shown.items() if n == smallest), default="")
    bounds: dict[str, tuple[int, float]] = {}
    for key in hidden:
        if key in primary:
            bounds[key] = (1, threshold - 1)
        else:
            bounds[key] = (threshold, smallest if key < first_key else smallest - 1)
    return bounds


def _pinned(
    counts: Mapping[str, int], primary: set[str], secondary: set[str], threshold: int
) -> bool:
    """Could someone who knows the exact total work out any one hidden cell?"""
    hidden = primary | secondary
    shown = {k: v for k, v in counts.items() if k not in hidden}
    bounds = _bounds(hidden, primary, shown, threshold)
    rest = sum(counts[k] for k in hidden)  # the total minus the shown cells
    low_sum = sum(lo for lo, _ in bounds.values())
    high_sum = sum(hi for _, hi in bounds.values())
    for lo, hi in bounds.values():
        # With the others anywhere in their bounds, this cell ranges over [low, high].
        low = max(lo, rest - (high_sum - hi))
        high = min(hi, rest - (low_sum - lo))
        if high <= low:
            return True
    return False


def suppress(counts: Mapping[str, int], threshold: int = DEFAULT_THRESHOLD) -> Suppressed:
    """Hide counts of 1..threshold-1, then the smallest shown counts until none can be worked out.

    Cells are hidden as if the total were known (it is never published when a cell is hidden, but
    it might be known from elsewhere): when exactly one cell is small, a second one is always
    hidden, and more while a hidden cell could still be pinned by the total. Keys keep their order.
    """
    _check_threshold(threshold)
    present = {key: n for key, n in counts.items() if n > 0}
    primary = {key for key, n in present.items() if n < threshold}
    secondary: set[str] = set()
    if primary:
        while True:
            shown = {k: n for k, n in present.items() if k not in primary and k not in secondary}
            if not shown or not _pinned(present, primary, secondary, threshold):
                break
            secondary.add(min(shown, key=lambda k: (shown[k], k)))
    cells: dict[str, Cell] = {}
    for key, n in present.items():
        if key in primary:
            cells[key] = small_marker(threshold)
        elif key in secondary:
            cells[key] = SECONDARY
        else:
            cells[key] = n
    return Suppressed(cells, None if primary else sum(present.values()))


# -- the report --------------------------------------------------------------------------------


@dataclass(frozen=True)
class WeekReport:
    """One ISO week as published: exact offers, protected attributes of residents."""

    week: IsoWeek
    goals: dict[str, int]  # every goal slug, 0 where none
    goal_changes: dict[str, int]  # against the week before
    services: dict[str, int]  # services with referrals this week
    service_changes: dict[str, int]  # the same services, against the week before
    languages: Suppressed
    sources: Suppressed
    unmatched: Cell
    # Call-back requests by goal and, separately, by interpreter language ("none", "other").
    callback_goals: Suppressed = Suppressed({}, 0)
    callback_interpreters: Suppressed = Suppressed({}, 0)

    @property
    def referrals(self) -> int:
        return sum(self.goals.values())

    @property
    def referrals_change(self) -> int:
        return sum(self.goal_changes.values())


@dataclass(frozen=True)
class Report:
    """Several weeks, oldest first, with what is needed to name goals and services."""

    timezone: str
    threshold: int
    goal_names: dict[str, str]  # slug -> msgid (English), translated where shown
    lbf_areas: dict[str, str]  # slug -> Landsbyggefonden area
    service_names: dict[str, str]  # service id -> msgid
    weeks: tuple[WeekReport, ...]
    # Directory entries last verified more than 90 days before the report's end, for staff to
    # check again: (service id, date verified).
    stale: tuple[tuple[str, dt.date], ...] = ()
    # Follow-up questions over the months up to the last week's end (bot/followup_report.py).
    followups: FollowUpReport | None = None


def _ordered(keys: Iterable[str], first: Sequence[str]) -> list[str]:
    """Keys in the order of `first`, then the others alphabetically."""
    keys = set(keys)
    return [k for k in first if k in keys] + sorted(keys - set(first))


async def weekly_report(
    storage: Storage,
    content: Content,
    timezone: str | dt.tzinfo,
    weeks: Sequence[IsoWeek],
    threshold: int = DEFAULT_THRESHOLD,
    months: int | None = None,
) -> Report:
    """Read the counters of the given ISO weeks (and the week before each) into a Report, with
    the follow-ups of `months` months (default 3) up to the last week.

    Days are stored as local dates in the bot's time zone, so a week is simply its seven dates;
    the time zone only names them in the output.
    """
    from bot.content.loader import stale_entries

    _check_threshold(threshold)
    zone = _zone_name(timezone)
    ordered = sorted(set(weeks))
    goal_names = {slug: goal.name for slug, goal in content.goals.items()}
    lbf_areas = {slug: goal.lbf_area for slug, goal in content.goals.items()}
    service_names = {sid: service.name for sid, service in content.services.items()}
    if not ordered:
        return Report(zone, threshold, goal_names, lbf_areas, service_names, ())
    # As of the end of the last week reported: the same report always lists the same entries.
    stale = tuple(stale_entries(content, ordered[-1].end))

    since, until = ordered[0].previous().start, ordered[-1].end
    # Keyed by (year, week) tuples while summing thousands of rows: hashing a tuple is done in C,
    # hashing the IsoWeek dataclass in Python was most of the report's time.
    goals: defaultdict[tuple[int, int], Counter[str]] = defaultdict(Counter)
    services: defaultdict[tuple[int, int], Counter[str]] = defaultdict(Counter)
    usage: defaultdict[tuple[tuple[int, int], str], Counter[str]] = defaultdict(Counter)
    for day, goal, service, n in await storage.referrals(since, until):
        week_key = _week_of(day)
        goals[week_key][goal] += n
        services[week_key][service] += n
    for day, dimension, key, n in await storage.usage(since, until):
        usage[_week_of(day), dimension][key] += n

    # Goals no longer in goals.yaml keep their old counts under their slug.
    all_goals = _ordered({g for c in goals.values() for g in c} | goal_names.keys(), [*goal_names])
    reports = []
    for week in ordered:
        now, before = (week.year, week.week), _key(week.previous())
        this_goals = {slug: goals[now][slug] for slug in all_goals}
        service_order = _ordered((s for s, n in services[now].items() if n), [*service_names])
        languages = usage[now, "language"]
        sources = usage[now, "source"]
        unmatched = sum(usage[now, "unmatched"].values())
        callback_goals = usage[now, "callback_goal"]
        interpreters = usage[now, "callback_interpreter"]
        reports.append(
            WeekReport(
                week=week,
                goals=this_goals,
                goal_changes={s: this_goals[s] - goals[before][s] for s in all_goals},
                services={s: services[now][s] for s in service_order},
                service_changes={s: services[now][s] - services[before][s] for s in service_order},
                languages=suppress(
                    {k: languages[k] for k in _ordered(languages, LANGUAGES)}, threshold
                ),
                sources=suppress({k: sources[k] for k in sorted(sources)}, threshold),
                unmatched=suppress({"text": unmatched}, threshold).cells.get("text", 0),
                callback_goals=suppress(
                    {k: callback_goals[k] for k in _ordered(callback_goals, all_goals)}, threshold
                ),
                callback_interpreters=suppress(
                    {
                        k: interpreters[k]
                        for k in _ordered(interpreters, ["none", *LANGUAGES, "other"])
                    },
                    threshold,
                ),
            )
        )
    last_day = ordered[-1].end - dt.timedelta(days=1)
    followups = await followup_report(
        storage, content, months_until(last_day, months or FOLLOWUP_MONTHS), threshold
    )
    return Report(
        zone, threshold, goal_names, lbf_areas, service_names, tuple(reports), stale, followups
    )


def _zone_name(timezone: str | dt.tzinfo) -> str:
    return timezone if isinstance(timezone, str) else getattr(timezone, "key", str(timezone))


# -- half-years and the plan period, for the local board ---------------------------------------


@dataclass(frozen=True)
class Period:
    """A span of days reported as one: a half-year ("2026-H2") or the plan period."""

    label: str
    first: dt.date
    last: dt.date  # included

    @classmethod
    def half_year(cls, day: dt.date) -> Period:
        """The half-year (January-June or July-December) that contains day."""
        if day.month <= 6:
            return cls(f"{day.year}-H1", dt.date(day.year, 1, 1), dt.date(day.year, 6, 30))
        return cls(f"{day.year}-H2", dt.date(day.year, 7, 1), dt.date(day.year, 12, 31))

    @classmethod
    def parse_half(cls, text: str) -> Period:
        """Read "2026-H1" or "2026-H2"; ValueError with a readable message otherwise."""
        match = _HALF.match(text.strip())
        if match is None:
            raise ValueError(f"{text!r} is not a half-year such as 2026-H1")
        return cls.half_year(dt.date(int(match.group(1)), 1 if match.group(2) == "1" else 7, 1))

    @classmethod
    def plan(cls, content: Content) -> Period:
        """The plan period of goals.yaml, from the first goal's start to the last one's end."""
        spans = [goal.plan_dates for goal in content.goals.values()]
        first, last = min(a for a, _b in spans), max(b for _a, b in spans)
        return cls(f"plan {first.year}-{last.year}", first, last)


@dataclass(frozen=True)
class PeriodReport:
    """Referrals over a period, totalled per goal, per Landsbyggefonden area and per service."""

    period: Period
    timezone: str
    goals: dict[str, int]  # every goal slug, 0 where none
    lbf_areas: dict[str, int]  # area -> total of its goals
    services: dict[str, int]
    goal_names: dict[str, str]
    goal_areas: dict[str, str]
    service_names: dict[str, str]

    @property
    def referrals(self) -> int:
        return sum(self.goals.values())


async def period_report(
    storage: Storage, content: Content, timezone: str | dt.tzinfo, period: Period
) -> PeriodReport:
    """Sum the referral counters of a period (local dates, both ends included)."""
    goal_names = {slug: goal.name for slug, goal in content.goals.items()}
    goal_areas = {slug: goal.lbf_area for slug, goal in content.goals.items()}
    service_names = {sid: service.name for sid, service in content.services.items()}
    goals: Counter[str] = Counter()
    services: Counter[str] = Counter()
    until = period.last + dt.timedelta(days=1)
    for _day, goal, service, n in await storage.referrals(period.first, until):
        goals[goal] += n
        services[service] += n
    order = _ordered(set(goals) | set(goal_names), [*goal_names])
    areas: Counter[str] = Counter()
    for slug in order:
        areas[goal_areas.get(slug, "")] += goals[slug]
    return PeriodReport(
        period=period,
        timezone=_zone_name(timezone),
        goals={slug: goals[slug] for slug in order},
        lbf_areas={area: areas[area] for area in _ordered(areas, list(goal_areas.values()))},
        services={
            s: services[s] for s in _ordered((s for s in services if services[s]), [*service_names])
        },
        goal_names=goal_names,
        goal_areas=goal_areas,
        service_names=service_names,
    )


def period_to_json(report: PeriodReport) -> str:
    """One JSON object with the period, what is counted, and the totals."""
    data = {
        "period": report.period.label,
        "first": report.period.first.isoformat(),
        "last": report.period.last.isoformat(),
        "timezone": report.timezone,
        "method": METHOD,
        "referrals": report.referrals,
        "goals": report.goals,
        "lbf_areas": report.lbf_areas,
        "services": report.services,
    }
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def period_to_csv(report: PeriodReport) -> str:
    """Rows of period, dimension, key, count, lbf_area; the first row says what is counted."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(PERIOD_CSV_HEADER)
    label = report.period.label
    writer.writerow((label, "method", METHOD, "", ""))
    for slug, n in report.goals.items():
        writer.writerow((label, "goal", slug, n, report.goal_areas.get(slug, "")))
    for area, n in report.lbf_areas.items():
        writer.writerow((label, "lbf_area", area, n, area))
    for sid, n in report.services.items():
        writer.writerow((label, "service", sid, n, ""))
    return out.getvalue()


def period_to_table(report: PeriodReport, tr: Translator) -> str:
    """The period's totals as aligned text in the translator's language."""
    _ = tr.gettext
    locale = tr.locale
    dates = format_interval(report.period.first, report.period.last, "yMMMd", locale=locale)
    # Translators: heading of the board's report; %(period)s is "2026-H1" or "plan 2021-2024",
    # %(dates)s the first and last day.
    lines = [
        _("Referrals %(period)s (%(dates)s)") % {"period": report.period.label, "dates": dates}
    ]
    lines.append(_method_line(tr))
    lines.append("")
    count_header = _("Count")
    goal_rows = [
        [_(report.goal_names.get(s, s)), _number(n, locale)] for s, n in report.goals.items()
    ]
    lines += _rows([_("Goal"), count_header], goal_rows)
    lines.append("")
    area_rows = [[area or "?", _number(n, locale)] for area, n in report.lbf_areas.items()]
    # Translators: column heading: the Landsbyggefonden areas the goals are reported under.
    lines += _rows([_("Landsbyggefonden area"), count_header], area_rows)
    if report.services:
        service_rows = [
            [_(report.service_names[s]) if s in report.service_names else s, _number(n, locale)]
            for s, n in report.services.items()
        ]
        lines.append("")
        lines += _rows([_("Service"), count_header], service_rows)
    return "\n".join(lines) + "\n"


def _method_line(tr: Translator) -> str:
    # Translators: what the report counts; the same sentence is in the CSV and JSON exports.
    return tr.gettext(
        "Counted: contact cards shown, once per resident, service and day; not persons."
    )


# -- output formats ----------------------------------------------------------------------------


def to_json(report: Report) -> str:
    """One JSON object: {"timezone": ..., "weeks": [{"week", "start", "goals", ...}]}."""
    data: dict[str, object] = {
        "timezone": report.timezone,
        "method": METHOD,
        "weeks": [
            {
                "week": str(w.week),
                "start": w.week.start.isoformat(),
                "goals": w.goals,
                "services": w.services,
                "languages": w.languages.cells,
                "sources": w.sources.cells,
                "unmatched": w.unmatched,
                "callbacks": {
                    "goals": w.callback_goals.cells,
                    "interpreters": w.callback_interpreters.cells,
                },
            }
            for w in report.weeks
        ],
    }
    if report.followups is not None:
        data["followups"] = followup_data(report.followups)
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def to_csv(report: Report) -> str:
    """Rows of week, dimension, key, count, lbf_area (on goal rows), ready for a spreadsheet."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    writer.writerow(("", "method", METHOD, "", ""))
    for w in report.weeks:
        week = str(w.week)
        for slug, n in w.goals.items():
            writer.writerow((week, "goal", slug, n, report.lbf_areas.get(slug, "")))
        for sid, n in w.services.items():
            writer.writerow((week, "service", sid, n, ""))
        for key, cell in w.languages.cells.items():
            writer.writerow((week, "language", key, cell, ""))
        for key, cell in w.sources.cells.items():
            writer.writerow((week, "source", key, cell, ""))
        writer.writerow((week, "unmatched", "text", w.unmatched, ""))
        for key, cell in w.callback_goals.cells.items():
            writer.writerow((week, "callback_goal", key, cell, ""))
        for key, cell in w.callback_interpreters.cells.items():
            writer.writerow((week, "callback_interpreter", key, cell, ""))
    if report.followups is not None:
        writer.writerows(followup_csv_rows(report.followups))
    return out.getvalue()


@lru_cache(maxsize=4096)
def _week_of(day: str) -> tuple[int, int]:
    """The (year, week) of a stored day ("2026-11-26"); a year of counters has only 365 days."""
    return _key(IsoWeek.containing(dt.date.fromisoformat(day)))


def _key(week: IsoWeek) -> tuple[int, int]:
    return (week.year, week.week)


@lru_cache(maxsize=8192)
def _number(value: Cell, locale: Locale) -> str:
    return format_decimal(value, locale=locale) if isinstance(value, int) else value


@lru_cache(maxsize=8192)
def _change(value: int, locale: Locale) -> str:
    if value == 0:
        return format_decimal(0, locale=locale)
    return format_decimal(value, format="+#,##0;-#,##0", locale=locale)


def _fit(name: str, width: int = NAME_WIDTH) -> str:
    return name if len(name) <= width else name[: width - 1] + "…"


@lru_cache(maxsize=1024)
def _language_name(code: str, locale: Locale) -> str:
    try:
        name = Locale.parse(code).get_display_name(locale)
    except (ValueError, TypeError, UnknownLocaleError):
        return code
    return name or code


def _rows(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Align a small table: the first column left, the numbers right."""
    rows = [[_fit(row[0]), *row[1:]] for row in rows]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = []
    for row in [header, *rows]:
        cells = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
    return lines


def week_table(report: Report, week: WeekReport, tr: Translator) -> str:
    """One week as aligned text in the translator's language."""
    _ = tr.gettext
    locale = tr.locale
    # Translators: column heading: how many (referrals, residents) in the week.
    count_header = _("Count")
    # Translators: column heading: difference against the week before.
    change_header = _("Change")
    dates = format_interval(
        week.week.start, week.week.end - dt.timedelta(days=1), "yMMMd", locale=locale
    )
    lines = [f"{week.week} · {dates}"]
    # Translators: total of a week's referrals; a referral is a resident shown a contact card.
    lines.append(
        tr.ngettext("%(count)s referral", "%(count)s referrals", week.referrals)
        % {"count": format_decimal(week.referrals, locale=locale)}
        + f" ({_change(week.referrals_change, locale)})"
    )
    lines.append("")
    goal_rows = [
        [
            _(report.goal_names.get(slug, slug)),
            _number(n, locale),
            _change(week.goal_changes[slug], locale),
        ]
        for slug, n in week.goals.items()
    ]
    # Translators: column heading: the goals of the housing social plan.
    lines += _rows([_("Goal"), count_header, change_header], goal_rows)
    if week.services:
        service_rows = [
            [
                _(report.service_names[sid]) if sid in report.service_names else sid,
                _number(n, locale),
                _change(week.service_changes[sid], locale),
            ]
            for sid, n in week.services.items()
        ]
        lines.append("")
        # Translators: column heading: the offers (services) residents were referred to.
        lines += _rows([_("Service"), count_header, change_header], service_rows)
    if week.languages.cells:
        language_rows = [
            [_language_name(code, locale), _number(cell, locale)]
            for code, cell in week.languages.cells.items()
        ]
        lines.append("")
        # Translators: column heading: the languages residents used the bot in.
        lines += _rows([_("Language"), count_header], language_rows)
    if week.sources.cells:
        source_rows = [[key, _number(cell, locale)] for key, cell in week.sources.cells.items()]
        lines.append("")
        # Translators: column heading: where residents came from (links on posters, websites).
        lines += _rows([_("Source"), count_header], source_rows)
    lines.append("")
    # Translators: how many typed messages the bot could not match to a topic (a number or "<5").
    unmatched = _("Typed messages not understood: %(count)s")
    lines.append(unmatched % {"count": _number(week.unmatched, locale)})
    if week.callback_goals.cells:
        goal_rows = [
            [
                _(report.goal_names[key]) if key in report.goal_names else _("Other topic"),
                _number(cell, locale),
            ]
            for key, cell in week.callback_goals.cells.items()
        ]
        lines.append("")
        # Translators: column heading: requests "Ask a person to call me", per goal.
        lines += _rows([_("Call-back requests"), count_header], goal_rows)
    if week.callback_interpreters.cells:
        names = {"none": _("No interpreter"), "other": _("Another language")}
        interpreter_rows = [
            [names.get(key) or _language_name(key, locale), _number(cell, locale)]
            for key, cell in week.callback_interpreters.cells.items()
        ]
        lines.append("")
        # Translators: column heading: the languages call-back requests asked an interpreter for.
        lines += _rows([_("Interpreter"), count_header], interpreter_rows)
    return "\n".join(lines)


def table_blocks(report: Report, tr: Translator) -> list[str]:
    """The table as blocks (heading, one per week, legend), so a chat can split between them."""
    _ = tr.gettext
    # Translators: heading of the staff report; %(timezone)s is a time zone name.
    blocks = [_("Referrals per ISO week (%(timezone)s)") % {"timezone": report.timezone}]
    blocks += [week_table(report, week, tr) for week in report.weeks]
    if report.followups is not None:
        blocks.append(followup_table(report.followups, report.goal_names, report.service_names, tr))
    marker = small_marker(report.threshold)
    # Translators: legend of the report; %(marker)s is "<5", %(largest)s the largest hidden count.
    legend = _("%(marker)s: between 1 and %(largest)s, hidden to protect residents.") % {
        "marker": marker,
        "largest": format_decimal(report.threshold - 1, locale=tr.locale),
    }
    # Translators: legend of the report; %(marker)s is "x", a count hidden on purpose.
    legend += "\n" + _(
        "%(marker)s: also hidden, so that a hidden small number cannot be worked out."
    ) % {"marker": SECONDARY}
    blocks.append(_method_line(tr) + "\n" + legend)
    if report.stale:
        # Translators: heading of a list of directory entries whose details staff should confirm
        # again; %(days)d is 90.
        stale = [_("Last verified more than %(days)d days ago, please check again:") % {"days": 90}]
        stale += [
            f"- {_(report.service_names.get(sid, sid))}: "
            f"{format_date(day, 'medium', locale=tr.locale)}"
            for sid, day in report.stale
        ]
        blocks.append("\n".join(stale))
    return blocks


def to_table(report: Report, tr: Translator) -> str:
    return "\n\n".join(table_blocks(report, tr)) + "\n"


def render(report: Report, fmt: str, tr: Translator) -> str:
    if fmt == "json":
        return to_json(report)
    if fmt == "csv":
        return to_csv(report)
    return to_table(report, tr)


# -- follow-up questions, over months -------------------------------------------------------------
#
# Per goal and service: contact cards shown (offers, exact, as in the weekly table), follow-up
# questions asked, answered (any of the four answers) and "got in touch". The last three describe
# residents, so each column is suppressed like the other counts of residents. They are read over
# calendar months, not weeks, so that cells are not all hidden; a week's follow-up counts belong
# to the month of its Monday.

FOLLOWUP_MONTHS = 3
REACHED = ANSWERS["y"]


@dataclass(frozen=True)
class FollowUpRow:
    """One goal and service over the months, as published."""

    goal: str
    service: str
    shown: int
    asked: Cell
    answered: Cell
    reached: Cell


@dataclass(frozen=True)
class FollowUpReport:
    """The months reported ("2026-10" to "2026-12") and one row per goal and service."""

    first: str
    last: str
    rows: tuple[FollowUpRow, ...]

    @property
    def period(self) -> str:
        return self.first if self.first == self.last else f"{self.first}/{self.last}"


def months_until(day: dt.date, count: int) -> list[str]:
    """The month of day and the count-1 months before it, oldest first ("2026-10", ...)."""
    index = day.year * 12 + day.month - 1
    return [f"{i // 12:04d}-{i % 12 + 1:02d}" for i in range(index - count + 1, index + 1)]


def _month_start(month: str) -> dt.date:
    return dt.date(int(month[:4]), int(month[5:]), 1)


def _month_after(month: str) -> dt.date:
    """The first day of the month after ("2027-01-01" for "2026-12")."""
    year, number = int(month[:4]), int(month[5:])
    return dt.date(year + number // 12, number % 12 + 1, 1)


async def followup_report(
    storage: Storage, content: Content, months: Sequence[str], threshold: int
) -> FollowUpReport | None:
    """Read the follow-up counters of the given months, and the cards shown of the same goals
    and services, into a FollowUpReport; None when no follow-up was asked or answered."""
    first, last = min(months), max(months)
    since, after = _month_start(first), _month_after(last)
    shown: Counter[tuple[str, str]] = Counter()
    for _day, goal, service, n in await storage.referrals(since, after):
        shown[goal, service] += n
    outcomes: Counter[tuple[str, str, str]] = Counter()
    for week, goal, service, outcome, n in await storage.followup_counts():
        month = IsoWeek.parse(week).start.isoformat()[:7]
        if first <= month <= last:
            outcomes[goal, service, outcome] += n
    # Only where follow-ups were asked or answered: the weekly table has every card shown.
    pairs = {(goal, service) for (goal, service, _o), n in outcomes.items() if n}
    goal_order = _ordered({goal for goal, _s in pairs}, [*content.goals])
    service_order = [*content.services]
    keys = [
        (goal, service)
        for goal in goal_order
        for service in _ordered({s for g, s in pairs if g == goal}, service_order)
    ]

    def column(of: Sequence[str]) -> dict[str, Cell]:
        counts = {f"{g}/{s}": sum(outcomes[g, s, o] for o in of) for g, s in keys}
        return suppress(counts, threshold).cells

    if not keys:
        return None
    asked, answered, reached = column([ASKED]), column([*ANSWERS.values()]), column([REACHED])
    rows = tuple(
        FollowUpRow(
            goal,
            service,
            shown[goal, service],
            asked.get(f"{goal}/{service}", 0),
            answered.get(f"{goal}/{service}", 0),
            reached.get(f"{goal}/{service}", 0),
        )
        for goal, service in keys
    )
    return FollowUpReport(first, last, rows)


def answered_of_asked(row: FollowUpRow, tr: Translator) -> str:
    """ "3 answered of 8 asked", in the translator's language."""
    # Translators: follow-up questions in the staff report; each number may be "<5" or "x".
    return tr.gettext("%(answered)s answered of %(asked)s asked") % {
        "answered": _number(row.answered, tr.locale),
        "asked": _number(row.asked, tr.locale),
    }


def followup_table(
    report: FollowUpReport,
    goal_names: dict[str, str],
    service_names: dict[str, str],
    tr: Translator,
) -> str:
    """The follow-ups as an aligned text block."""
    _ = tr.gettext
    # Translators: heading of the follow-up table; %(months)s is "2026-10/2026-12".
    lines = [_("Follow-up questions, %(months)s") % {"months": report.period}]
    rows: list[list[str]] = []
    goal = None
    for row in report.rows:
        if row.goal != goal:
            goal = row.goal
            rows.append([_(goal_names.get(goal, goal)), "", "", ""])
        rows.append(
            [
                "  " + _(service_names.get(row.service, row.service)),
                _number(row.shown, tr.locale),
                answered_of_asked(row, tr),
                _number(row.reached, tr.locale),
            ]
        )
    # Translators: column headings of the follow-up table.
    header = [_("Goal / service"), _("Cards shown"), _("Follow-ups"), _("Got in touch")]
    lines += _rows(header, rows)
    return "\n".join(lines)


def followup_csv_rows(report: FollowUpReport) -> list[tuple[str, str, str, Cell, str]]:
    """Rows for the report's CSV (period, dimension, key "goal/service", count, "")."""
    out: list[tuple[str, str, str, Cell, str]] = []
    for row in report.rows:
        key = f"{row.goal}/{row.service}"
        out += [
            (report.period, "followup_cards_shown", key, row.shown, ""),
            (report.period, "followup_asked", key, row.asked, ""),
            (report.period, "followup_answered", key, row.answered, ""),
            (report.period, "followup_got_in_touch", key, row.reached, ""),
        ]
    return out


def followup_data(report: FollowUpReport) -> dict[str, object]:
    """The follow-ups as JSON-ready data."""
    return {
        "first_month": report.first,
        "last_month": report.last,
        "rows": [
            {
                "goal": row.goal,
                "service": row.service,
                "cards_shown": row.shown,
                "asked": row.asked,
                "answered": row.answered,
                "got_in_touch": row.reached,
                "summary": f"{row.answered} answered of {row.asked} asked",
            }
            for row in report.rows
        ],
    }


# -- command line: vollsmose-bot stats ---------------------------------------------------------


def _week_argument(text: str) -> IsoWeek:
    try:
        return IsoWeek.parse(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _count_argument(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= MAX_WEEKS:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of weeks from 1 to {MAX_WEEKS}")
    return int(text)


def _months_argument(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 120:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of months from 1 to 120")
    return int(text)


def _threshold_argument(text: str) -> int:
    if not text.isdigit() or int(text) < 3:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 3")
    return int(text)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `vollsmose-bot stats`."""
    parser.add_argument(
        "--weeks",
        type=_count_argument,
        metavar="N",
        help=f"the current ISO week and the N-1 before it (default {DEFAULT_WEEKS})",
    )
    parser.add_argument(
        "--from", dest="first", type=_week_argument, metavar="YYYY-Www", help="first week"
    )
    parser.add_argument(
        "--to",
        dest="last",
        type=_week_argument,
        metavar="YYYY-Www",
        help="last week (default: the current week)",
    )
    parser.add_argument(
        "--period",
        metavar="PERIOD",
        help="totals for the board instead of weeks: half-year (the current one), a half-year "
        "such as 2026-H1, or plan (the plan period in goals.yaml)",
    )
    parser.add_argument(
        "--months",
        type=_months_argument,
        metavar="N",
        help="follow-up questions over the month of the last week and the N-1 before it "
        "(default 3)",
    )
    parser.add_argument("--format", choices=FORMATS, default="table", help="default: table")
    parser.add_argument(
        "--language", choices=LANGUAGES, help="language of the table (default BOT_DEFAULT_LANGUAGE)"
    )
    parser.add_argument(
        "--threshold",
        type=_threshold_argument,
        default=None,
        help="hide residents' attributes counted fewer times than this (default: "
        f"BOT_STATS_THRESHOLD, else {DEFAULT_THRESHOLD})",
    )


def select_weeks(
    today: dt.date,
    count: int | None = None,
    first: IsoWeek | None = None,
    last: IsoWeek | None = None,
) -> list[IsoWeek]:
    """The weeks asked for on the command line; ValueError with a readable message."""
    if count is not None and (first is not None or last is not None):
        raise ValueError("use either --weeks or --from/--to, not both")
    if first is None and last is None:
        return last_weeks(count or DEFAULT_WEEKS, today)
    last = last or IsoWeek.containing(today)
    first = first or last.shift(-(DEFAULT_WEEKS - 1))
    if first > last:
        raise ValueError(f"--from {first} is after --to {last}")
    if first.shift(MAX_WEEKS) <= last:
        raise ValueError(f"at most {MAX_WEEKS} weeks at a time")
    return week_range(first, last)


def run_cli(settings: Settings, args: argparse.Namespace, now: dt.datetime | None = None) -> int:
    """`vollsmose-bot stats`: print the report of the chosen weeks from BOT_DATABASE."""
    from bot.content import load_content
    from bot.i18n import Catalogs

    timezone = ZoneInfo(settings.bot_timezone)
    today = local_today(timezone, now)
    period_asked = getattr(args, "period", None)
    try:
        if period_asked and (args.weeks or args.first or args.last):
            raise ValueError("use either --period or --weeks/--from/--to, not both")
        if period_asked and period_asked not in ("half-year", "plan"):
            Period.parse_half(period_asked)
        weeks = select_weeks(today, args.weeks, args.first, args.last)
    except ValueError as error:
        print(f"vollsmose-bot stats: {error}", file=sys.stderr)
        return 2
    if not settings.bot_database.is_file():
        print(
            f"BOT_DATABASE: {settings.bot_database} does not exist. Point BOT_DATABASE at the "
            "bot's database file (the bot creates it on its first start).",
            file=sys.stderr,
        )
        return 1
    content = load_content(settings.bot_content_dir)
    tr = Catalogs()[args.language or settings.bot_default_language]
    if period_asked:
        if period_asked == "plan":
            period = Period.plan(content)
        elif period_asked == "half-year":
            period = Period.half_year(today)
        else:
            period = Period.parse_half(period_asked)
        totals = asyncio.run(_read_period(settings, content, period))
        renderers = {"json": period_to_json, "csv": period_to_csv}
        output = renderers[args.format](totals) if args.format in renderers else None
        sys.stdout.write(output if output is not None else period_to_table(totals, tr))
        return 0
    limit = args.threshold if args.threshold is not None else settings.bot_stats_threshold
    report = asyncio.run(_read(settings, content, weeks, limit, getattr(args, "months", None)))
    sys.stdout.write(render(report, args.format, tr))
    return 0


async def _read_period(settings: Settings, content: Content, period: Period) -> PeriodReport:
    from bot.storage import Storage

    storage = await Storage.open(settings.bot_database)
    try:
        return await period_report(storage, content, settings.bot_timezone, period)
    finally:
        await storage.close()


async def _read(
    settings: Settings,
    content: Content,
    weeks: list[IsoWeek],
    threshold: int,
    months: int | None = None,
) -> Report:
    from bot.services import Services

    async with await Services.open(settings, readonly=True) as services:
        return await weekly_report(
            services.storage, content, settings.bot_timezone, weeks, threshold, months
        )
