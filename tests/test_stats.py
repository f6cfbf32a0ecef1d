"""The weekly report: ISO weeks over a year boundary and DST, small numbers hidden, every format."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sqlite3
import struct
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.__main__ import _parser, main
from bot.chart import referrals_chart
from bot.config import load_settings
from bot.content import Content
from bot.content.models import Goal, Service
from bot.engine import Referral
from bot.i18n import Catalogs
from bot.privacy import ResidentKey
from bot.residents import Residents
from bot.stats import (
    METHOD,
    SECONDARY,
    IsoWeek,
    Suppressed,
    last_weeks,
    local_today,
    run_cli,
    select_weeks,
    small_marker,
    suppress,
    to_csv,
    to_json,
    to_table,
    week_range,
    weekly_report,
)
from bot.storage import Storage

COPENHAGEN = ZoneInfo("Europe/Copenhagen")
W = IsoWeek.parse


def _content() -> Content:
    """A small, fixed directory, so the expected outputs do not move with the shipped content."""
    goals = {
        "civilsamfund": ("Stronger civil society", "Sammenhængskraft og medborgerskab"),
        "tryghed": ("More safety", "Kriminalitetsforebyggelse"),
        "uddannelse": ("Higher level of education", "Uddannelse og livschancer"),
        "arbejde": ("More people in work", "Beskæftigelse"),
    }
    services = {
        "fritidsjob-hjaelp": ("Fritidsjob-hjælp", "arbejde"),
        "beskaeftigelsesmentor": ("Beskæftigelsesmentor", "arbejde"),
        "lektiecafe": ("Lektiecafé", "uddannelse"),
        "bydelssoestre": ("Bydelssøstre", "tryghed"),
        "vollsmose-boldklub": ("Vollsmose Boldklub", "civilsamfund"),
    }
    return Content(
        directory=Path("."),
        version="test00",
        goals={
            slug: Goal(name=name, plan_period="2021-2024", lbf_area=area)
            for slug, (name, area) in goals.items()
        },
        start="menu",
        screens={},
        pathways={},
        services={
            sid: Service(name=name, goals=[goal], description="-")
            for sid, (name, goal) in services.items()
        },
    )


CONTENT = _content()

# (day, goal, service, n): 2026 has an ISO week 53 that ends on Sunday 3 January 2027.
REFERRALS = [
    ("2026-12-21", "arbejde", "fritidsjob-hjaelp", 2),  # Monday of 2026-W52
    ("2026-12-27", "tryghed", "bydelssoestre", 1),  # Sunday of 2026-W52
    ("2026-12-28", "arbejde", "fritidsjob-hjaelp", 1),  # Monday of 2026-W53
    ("2027-01-03", "uddannelse", "lektiecafe", 3),  # Sunday of 2026-W53, already 2027
    ("2027-01-03", "arbejde", "beskaeftigelsesmentor", 1),
    ("2027-01-04", "civilsamfund", "vollsmose-boldklub", 1),  # Monday of 2027-W01
    # 2027-W02 is empty.
    ("2027-01-18", "arbejde", "fritidsjob-hjaelp", 4),  # 2027-W03: outside the report
]
USAGE = [
    ("2026-12-22", "language", "ar", 12),
    ("2026-12-28", "language", "da", 4),
    ("2027-01-02", "language", "da", 3),
    ("2027-01-03", "language", "ar", 3),
    ("2026-12-30", "language", "so", 6),
    ("2026-12-29", "source", "library", 5),
    ("2026-12-31", "unmatched", "text", 2),
    ("2027-01-05", "language", "da", 1),
]
WEEKS = [W("2026-W53"), W("2027-W01"), W("2027-W02")]


async def _seeded(path: Path) -> Storage:
    """A real database file (migrated by Storage.open) holding REFERRALS and USAGE."""
    storage = await Storage.open(path)
    await storage.close()
    with sqlite3.connect(path) as db:
        db.executemany("INSERT INTO referrals VALUES (?, ?, ?, ?)", REFERRALS)
        db.executemany("INSERT INTO usage VALUES (?, ?, ?, ?)", USAGE)
    db.close()
    return await Storage.open(path)


@pytest.fixture
async def storage(tmp_path: Path):
    storage = await _seeded(tmp_path / "stats.sqlite3")
    yield storage
    await storage.close()


# -- ISO weeks -----------------------------------------------------------------------------------


def test_iso_weeks_over_the_year_boundary() -> None:
    """2026 has a week 53 (28 Dec 2026 to 3 Jan 2027); 2027 does not."""
    assert W("2026-W53").start == dt.date(2026, 12, 28)
    assert W("2026-W53").end == dt.date(2027, 1, 4)
    assert IsoWeek.containing(dt.date(2027, 1, 3)) == W("2026-W53")
    assert IsoWeek.containing(dt.date(2027, 1, 4)) == W("2027-W01")
    assert [str(w) for w in week_range(W("2026-W52"), W("2027-W02"))] == [
        "2026-W52",
        "2026-W53",
        "2027-W01",
        "2027-W02",
    ]
    assert W("2027-W01").previous() == W("2026-W53")
    assert W("2026W05") == IsoWeek(2026, 5)
    for wrong in ("2027-W53", "2026-W00", "2026-W54", "2026-48", "W48", ""):
        with pytest.raises(ValueError, match="week"):
            W(wrong)


def test_current_week_follows_local_midnight_at_both_dst_changes() -> None:
    """Half an hour after local midnight the week is the local one, though UTC is a day behind."""
    spring = dt.datetime(2026, 3, 29, 22, 30, tzinfo=dt.UTC)  # 00:30 CEST, Monday 30 March
    autumn = dt.datetime(2026, 10, 25, 23, 30, tzinfo=dt.UTC)  # 00:30 CET, Monday 26 October
    assert local_today(COPENHAGEN, spring) == dt.date(2026, 3, 30)
    assert last_weeks(2, local_today(COPENHAGEN, spring)) == [W("2026-W13"), W("2026-W14")]
    assert local_today(COPENHAGEN, autumn) == dt.date(2026, 10, 26)
    assert last_weeks(1, local_today(COPENHAGEN, autumn)) == [W("2026-W44")]


async def test_counts_land_in_local_weeks_at_both_dst_changes(tmp_path: Path) -> None:
    """Referrals counted through Residents near midnight around the DST changes are reported in
    the week of their local (Copenhagen) day, not their UTC day."""
    storage = await Storage.open(tmp_path / "dst.sqlite3")
    instants = {
        dt.datetime(2026, 3, 29, 21, 30, tzinfo=dt.UTC): "2026-W13",  # Sun 23:30 CEST
        dt.datetime(2026, 3, 29, 22, 30, tzinfo=dt.UTC): "2026-W14",  # Mon 00:30 CEST
        dt.datetime(2026, 10, 25, 0, 30, tzinfo=dt.UTC): "2026-W43",  # Sun 02:30 CEST, 1st time
        dt.datetime(2026, 10, 25, 1, 30, tzinfo=dt.UTC): "2026-W43",  # Sun 02:30 CET, 2nd time
        dt.datetime(2026, 10, 25, 22, 30, tzinfo=dt.UTC): "2026-W43",  # Sun 23:30 CET
        dt.datetime(2026, 10, 25, 23, 30, tzinfo=dt.UTC): "2026-W44",  # Mon 00:30 CET
    }
    for index, instant in enumerate(instants):
        residents = Residents(
            storage, ResidentKey(b"k" * 32), COPENHAGEN, clock=lambda i=instant: i
        )
        await residents.count_referral(f"tg:{index}", Referral("fritidsjob-hjaelp", "arbejde"))
    weeks = [W("2026-W13"), W("2026-W14"), W("2026-W43"), W("2026-W44")]
    report = await weekly_report(storage, CONTENT, COPENHAGEN, weeks)
    await storage.close()
    assert {str(w.week): w.goals["arbejde"] for w in report.weeks} == {
        "2026-W13": 1,
        "2026-W14": 1,
        "2026-W43": 3,
        "2026-W44": 1,
    }
    assert report.timezone == "Europe/Copenhagen"


# -- the report and its formats ------------------------------------------------------------------

EXPECTED_JSON = {
    "timezone": "Europe/Copenhagen",
    "method": METHOD,
    "weeks": [
        {
            "week": "2026-W53",
            "start": "2026-12-28",
            "goals": {"civilsamfund": 0, "tryghed": 0, "uddannelse": 3, "arbejde": 2},
            "services": {"fritidsjob-hjaelp": 1, "beskaeftigelsesmentor": 1, "lektiecafe": 3},
            # ar 3 is small; so 6 is hidden as well, or da 7 and a known total would reveal ar.
            "languages": {"da": 7, "ar": "<5", "so": "x"},
            "sources": {"library": 5},
            "unmatched": "<5",
            "callbacks": {"goals": {}, "interpreters": {}},
        },
        {
            "week": "2027-W01",
            "start": "2027-01-04",
            "goals": {"civilsamfund": 1, "tryghed": 0, "uddannelse": 0, "arbejde": 0},
            "services": {"vollsmose-boldklub": 1},
            "languages": {"da": "<5"},
            "sources": {},
            "unmatched": 0,
            "callbacks": {"goals": {}, "interpreters": {}},
        },
        {
            "week": "2027-W02",
            "start": "2027-01-11",
            "goals": {"civilsamfund": 0, "tryghed": 0, "uddannelse": 0, "arbejde": 0},
            "services": {},
            "languages": {},
            "sources": {},
            "unmatched": 0,
            "callbacks": {"goals": {}, "interpreters": {}},
        },
    ],
}

EXPECTED_CSV = """\
week,dimension,key,count,lbf_area
,method,"contact cards shown, once per resident, service and day; not persons",,
2026-W53,goal,civilsamfund,0,Sammenhængskraft og medborgerskab
2026-W53,goal,tryghed,0,Kriminalitetsforebyggelse
2026-W53,goal,uddannelse,3,Uddannelse og livschancer
2026-W53,goal,arbejde,2,Beskæftigelse
2026-W53,service,fritidsjob-hjaelp,1,
2026-W53,service,beskaeftigelsesmentor,1,
2026-W53,service,lektiecafe,3,
2026-W53,language,da,7,
2026-W53,language,ar,<5,
2026-W53,language,so,x,
2026-W53,source,library,5,
2026-W53,unmatched,text,<5,
2027-W01,goal,civilsamfund,1,Sammenhængskraft og medborgerskab
2027-W01,goal,tryghed,0,Kriminalitetsforebyggelse
2027-W01,goal,uddannelse,0,Uddannelse og livschancer
2027-W01,goal,arbejde,0,Beskæftigelse
2027-W01,service,vollsmose-boldklub,1,
2027-W01,language,da,<5,
2027-W01,unmatched,text,0,
2027-W02,goal,civilsamfund,0,Sammenhængskraft og medborgerskab
2027-W02,goal,tryghed,0,Kriminalitetsforebyggelse
2027-W02,goal,uddannelse,0,Uddannelse og livschancer
2027-W02,goal,arbejde,0,Beskæftigelse
2027-W02,unmatched,text,0,
"""

# Babel puts thin spaces (U+2009) around the dash of a date interval in English.
EXPECTED_TABLE = """\
Referrals per ISO week (Europe/Copenhagen)

2026-W53 · Dec 28, 2026\u2009–\u2009Jan 3, 2027
5 referrals (+2)

Goal                       Count  Change
Stronger civil society         0       0
More safety                    0      -1
Higher level of education      3      +3
More people in work            2       0

Service               Count  Change
Fritidsjob-hjælp          1      -1
Beskæftigelsesmentor      1      +1
Lektiecafé                3      +3

Language  Count
Danish        7
Arabic       <5
Somali        x

Source   Count
library      5

Typed messages not understood: <5

2027-W01 · Jan 4\u2009–\u200910, 2027
1 referral (-4)

Goal                       Count  Change
Stronger civil society         1      +1
More safety                    0       0
Higher level of education      0      -3
More people in work            0      -2

Service             Count  Change
Vollsmose Boldklub      1      +1

Language  Count
Danish       <5

Typed messages not understood: 0

2027-W02 · Jan 11\u2009–\u200917, 2027
0 referrals (-1)

Goal                       Count  Change
Stronger civil society         0      -1
More safety                    0       0
Higher level of education      0       0
More people in work            0       0

Typed messages not understood: 0

Counted: contact cards shown, once per resident, service and day; not persons.
<5: between 1 and 4, hidden to protect residents.
x: also hidden, so that a hidden small number cannot be worked out.
"""


async def test_json_has_the_documented_shape(storage: Storage) -> None:
    """Every goal present (0 where none), services exact, attributes of residents protected,
    the empty week and week 53 included, the week after left out."""
    report = await weekly_report(storage, CONTENT, "Europe/Copenhagen", WEEKS)
    assert json.loads(to_json(report)) == EXPECTED_JSON
    assert to_json(report) == json.dumps(EXPECTED_JSON, ensure_ascii=False, indent=2) + "\n"


async def test_csv_rows_with_lbf_area_on_goal_rows(storage: Storage) -> None:
    report = await weekly_report(storage, CONTENT, "Europe/Copenhagen", WEEKS)
    assert to_csv(report) == EXPECTED_CSV


async def test_table_is_aligned_text_in_english(storage: Storage, catalogs: Catalogs) -> None:
    """Changes against the week before (W52 for W53, across the year), singular and plural."""
    report = await weekly_report(storage, CONTENT, "Europe/Copenhagen", WEEKS)
    assert to_table(report, catalogs["en"]) == EXPECTED_TABLE


async def test_table_in_danish_translates_goals_and_formats_numbers(
    tmp_path: Path, catalogs: Catalogs
) -> None:
    """Goal names through gettext, numbers with Babel (Danish thousands separator), dates."""
    storage = await Storage.open(tmp_path / "big.sqlite3")
    await storage.close()
    with sqlite3.connect(tmp_path / "big.sqlite3") as db:
        db.execute("INSERT INTO referrals VALUES ('2026-11-24', 'arbejde', 'lektiecafe', 1234)")
    db.close()
    storage = await Storage.open(tmp_path / "big.sqlite3")
    report = await weekly_report(storage, CONTENT, COPENHAGEN, [W("2026-W48")])
    await storage.close()
    da = catalogs["da"]
    table = to_table(report, da)
    work = da.gettext("More people in work")
    assert work != "More people in work"  # the Danish catalog has it
    assert any(line.startswith(work) and "1.234" in line for line in table.splitlines())
    assert "23.–29. nov. 2026" in table
    for name in ("Stronger civil society", "More safety", "Higher level of education"):
        assert da.gettext(name) in table


async def test_goals_removed_from_goals_yaml_keep_their_counts(tmp_path: Path) -> None:
    """A goal renamed away in a later plan period still shows its old counts under its slug."""
    storage = await Storage.open(tmp_path / "old.sqlite3")
    await storage.count_referral(dt.date(2026, 11, 24), "integration", "old-service")
    report = await weekly_report(storage, CONTENT, COPENHAGEN, [W("2026-W48")])
    await storage.close()
    week = report.weeks[0]
    assert list(week.goals) == ["civilsamfund", "tryghed", "uddannelse", "arbejde", "integration"]
    assert week.goals["integration"] == 1
    assert week.services == {"old-service": 1}
    assert "integration,1,\n" in to_csv(report)


async def test_unknown_language_codes_are_shown_as_they_are(
    tmp_path: Path, catalogs: Catalogs
) -> None:
    storage = await Storage.open(tmp_path / "codes.sqlite3")
    for code in ("xx", "zz-foo", "ar"):
        for _ in range(5):
            await storage.count_usage(dt.date(2026, 11, 24), "language", code)
    report = await weekly_report(storage, CONTENT, COPENHAGEN, [W("2026-W48")])
    await storage.close()
    table = to_table(report, catalogs["da"])
    assert "\nxx " in table
    assert "\nzz-foo " in table
    assert "\narabisk " in table


async def test_no_weeks_and_a_bad_threshold() -> None:
    report = await weekly_report(None, CONTENT, COPENHAGEN, [])  # type: ignore[arg-type]
    assert json.loads(to_json(report)) == {
        "timezone": "Europe/Copenhagen",
        "method": METHOD,
        "weeks": [],
    }
    with pytest.raises(ValueError, match="at least 3"):
        suppress({"da": 1}, threshold=2)


def _png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


async def test_chart_is_a_phone_sized_png(storage: Storage, catalogs: Catalogs) -> None:
    report = await weekly_report(storage, CONTENT, COPENHAGEN, WEEKS)
    for language in ("da", "ar"):
        assert _png_size(referrals_chart(report, catalogs[language])) == (1200, 800)
    empty = await weekly_report(storage, CONTENT, COPENHAGEN, [W("2027-W02")])
    assert _png_size(referrals_chart(empty, catalogs["da"])) == (1200, 800)


# -- small numbers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("counts", "cells"),
    [
        ({}, {}),
        ({"da": 0, "ar": 6}, {"ar": 6}),
        ({"da": 9}, {"da": 9}),
        ({"da": 3}, {"da": "<5"}),
        # One small cell: the smallest other one is hidden too.
        ({"da": 12, "ar": 3, "so": 7}, {"da": 12, "ar": "<5", "so": "x"}),
        # Two small cells that a total could not pin (3 + 2 = 5 has several splits): no more.
        ({"da": 12, "ar": 3, "so": 2}, {"da": 12, "ar": "<5", "so": "<5"}),
        # 1 + 1: a total would reveal both, so another cell is hidden.
        ({"da": 12, "ar": 1, "so": 1}, {"da": "x", "ar": "<5", "so": "<5"}),
        # The second hidden cell equal to the smallest shown one would be pinned: hide that too.
        ({"da": 2, "ar": 5, "so": 5}, {"da": "<5", "ar": "x", "so": "x"}),
        ({"da": 1, "ar": 5}, {"da": "<5", "ar": "x"}),
    ],
)
def test_suppression_examples(counts: dict[str, int], cells: dict[str, object]) -> None:
    published = suppress(counts)
    assert published.cells == cells
    hidden = any(isinstance(cell, str) for cell in cells.values())
    assert published.total == (None if hidden else sum(counts.values()))


def _boxes(published: Suppressed, threshold: int) -> dict[str, tuple[int, float]]:
    """What a reader knows of each hidden cell: "<5" is 1..4; "x" is at least 5 and, as the
    smallest shown cell (by count, then key) is hidden first, at most the smallest shown count,
    and below it when a shown cell with that count has a smaller key."""
    shown = {k: cell for k, cell in published.cells.items() if isinstance(cell, int)}
    ceiling = min(shown.values(), default=float("inf"))
    boxes: dict[str, tuple[int, float]] = {}
    for key, cell in published.cells.items():
        if cell == small_marker(threshold):
            boxes[key] = (1, threshold - 1)
        elif cell == SECONDARY:
            ties = [k for k, n in shown.items() if n == ceiling and k < key]
            boxes[key] = (threshold, ceiling - 1 if ties else ceiling)
    return boxes


def _feasible(value: int, others: list[tuple[int, float]], rest: int) -> bool:
    """Can the other hidden cells, each within its box, make up rest - value?"""
    remainder = rest - value
    return sum(lo for lo, _ in others) <= remainder <= sum(hi for _, hi in others)


counts_strategy = st.dictionaries(
    st.sampled_from(["da", "ar", "tr", "so", "ku", "ckb", "en", "library", "poster"]),
    st.integers(min_value=0, max_value=40),
    max_size=9,
)


@settings(max_examples=400, deadline=None)
@given(counts=counts_strategy, threshold=st.integers(min_value=3, max_value=10))
def test_no_hidden_cell_can_be_worked_out(counts: dict[str, int], threshold: int) -> None:
    """For any counts: what is shown is true, small counts are never shown, and no hidden cell
    can be pinned to one value from the shown cells and the markers, with the total published
    or not. The only exception is a total known from elsewhere when every cell is hidden, and
    that is why no total is ever published for a dimension with a hidden cell."""
    published = suppress(counts, threshold)
    present = {k: n for k, n in counts.items() if n > 0}
    assert set(published.cells) == set(present)
    for key, cell in published.cells.items():
        if isinstance(cell, int):
            assert cell == present[key] >= threshold
        if 1 <= present[key] < threshold:
            assert cell == small_marker(threshold)
    boxes = _boxes(published, threshold)
    for key, (lo, hi) in boxes.items():
        assert lo <= present[key] <= hi  # the reader's knowledge is true
        assert hi > lo  # without a total: at least two values remain

    hidden_sum = sum(present[k] for k in boxes)
    if published.total is not None:
        assert not boxes
        assert published.total == sum(present.values())
        return
    # With the total known after all: each hidden cell still has at least two possible values,
    # unless every cell is hidden (and then nothing shown can narrow it down further).
    for key, (lo, hi) in boxes.items():
        others = [box for other, box in boxes.items() if other != key]
        top = int(min(hi, hidden_sum))
        possible = [v for v in range(lo, top + 1) if _feasible(v, others, hidden_sum)]
        assert present[key] in possible
        if len(boxes) < len(present):
            assert len(possible) >= 2, (key, possible)


def _consistent(
    published: Suppressed, counts: dict[str, int], threshold: int, total: int | None = None
) -> dict[str, set[int]]:
    """Brute force, as a reader who knows the algorithm: every assignment of the hidden cells
    that suppress() would publish exactly the same way (and that sums to total, if given)."""
    hidden = [k for k, cell in published.cells.items() if isinstance(cell, str)]
    top = max(counts.values(), default=0) + threshold
    ranges = [
        range(1, threshold) if published.cells[k] != SECONDARY else range(threshold, top + 1)
        for k in hidden
    ]
    values: dict[str, set[int]] = {k: set() for k in hidden}

    def walk(index: int, chosen: dict[str, int]) -> None:
        if index == len(hidden):
            trial = {k: chosen.get(k, n) for k, n in counts.items()}
            if total is not None and sum(trial.values()) != total:
                return
            if suppress(trial, threshold).cells == published.cells:
                for k in hidden:
                    values[k].add(chosen[k])
            return
        for value in ranges[index]:
            walk(index + 1, {**chosen, hidden[index]: value})

    walk(0, {})
    return values


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    counts=st.dictionaries(
        st.sampled_from(["da", "ar", "so", "tr"]), st.integers(min_value=0, max_value=9), max_size=4
    ),
    threshold=st.integers(min_value=3, max_value=5),
)
def test_a_reader_who_knows_the_algorithm_cannot_pin_a_hidden_cell(
    counts: dict[str, int], threshold: int
) -> None:
    """Brute force over small tables: even knowing exactly how cells are chosen for hiding, a
    reader of what is published (no total) is left with at least two values for every hidden
    cell. (With the exact total known as well, the fact that more cells were hidden can betray
    that the small cells sit at an extreme of their range, one more reason the total of a
    dimension with a hidden cell is never published.)"""
    published = suppress(counts, threshold)
    present = {k: n for k, n in counts.items() if n > 0}
    for key, values in _consistent(published, present, threshold, None).items():
        assert present[key] in values
        assert len(values) >= 2, (key, values)


# -- command line --------------------------------------------------------------------------------


def test_weeks_are_chosen_by_count_or_range() -> None:
    today = dt.date(2027, 1, 6)  # Wednesday of 2027-W01
    assert select_weeks(today) == [W("2026-W51"), W("2026-W52"), W("2026-W53"), W("2027-W01")]
    assert select_weeks(today, count=1) == [W("2027-W01")]
    assert select_weeks(today, first=W("2026-W53")) == [W("2026-W53"), W("2027-W01")]
    assert select_weeks(today, last=W("2026-W53")) == week_range(W("2026-W50"), W("2026-W53"))
    with pytest.raises(ValueError, match="either"):
        select_weeks(today, count=2, first=W("2026-W50"))
    with pytest.raises(ValueError, match="after"):
        select_weeks(today, first=W("2027-W01"), last=W("2026-W53"))
    with pytest.raises(ValueError, match="at most"):
        select_weeks(today, first=W("2000-W01"), last=W("2027-W01"))


def test_cli_prints_each_format(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """`vollsmose-bot stats` reads BOT_DATABASE and prints JSON, CSV or the table."""

    async def seed() -> None:
        await (await _seeded(tmp_path / "stats.sqlite3")).close()

    asyncio.run(seed())
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BOT_DATABASE", str(tmp_path / "stats.sqlite3"))
    monkeypatch.setenv("BOT_CONTENT_DIR", str(tmp_path / "unused"))
    monkeypatch.setattr("bot.content.load_content", lambda directory: CONTENT)
    week_args = ["--from", "2026-W53", "--to", "2027-W02"]
    assert main(["stats", *week_args, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == EXPECTED_JSON
    assert main(["stats", *week_args, "--format", "csv"]) == 0
    assert capsys.readouterr().out == EXPECTED_CSV
    assert main(["stats", *week_args, "--language", "en"]) == 0
    assert capsys.readouterr().out == EXPECTED_TABLE
    # A fixed clock: "the last two weeks" on Wednesday 6 January 2027.
    args = _parser().parse_args(["stats", "--weeks", "2", "--format", "json"])
    now = dt.datetime(2027, 1, 6, 12, tzinfo=dt.UTC)
    assert run_cli(load_settings(), args, now=now) == 0
    assert json.loads(capsys.readouterr().out)["weeks"] == EXPECTED_JSON["weeks"][:2]


def test_cli_errors_are_clear(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BOT_DATABASE", str(tmp_path / "missing.sqlite3"))
    assert main(["stats"]) == 1
    assert "BOT_DATABASE" in capsys.readouterr().err
    assert not (tmp_path / "missing.sqlite3").exists()
    assert main(["stats", "--weeks", "3", "--from", "2026-W40"]) == 2
    assert "either --weeks or --from/--to" in capsys.readouterr().err
    for wrong in (["--from", "2027-W53"], ["--weeks", "0"], ["--threshold", "2"]):
        with pytest.raises(SystemExit) as exit_info:
            main(["stats", *wrong])
        assert exit_info.value.code == 2
    assert "has no such week" in capsys.readouterr().err
