"""The report for the local board: half-years and the plan period, totals per goal and
Landsbyggefonden area, the method note in every format, and stale entries in the weekly report."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import json
import sqlite3
from pathlib import Path

import pytest

from bot.__main__ import main
from bot.content import Content
from bot.content.models import Goal, Service
from bot.i18n import Catalogs
from bot.stats import (
    METHOD,
    IsoWeek,
    Period,
    period_report,
    period_to_csv,
    period_to_json,
    period_to_table,
    table_blocks,
    to_csv,
    to_json,
    weekly_report,
)
from bot.storage import Storage

GOALS = {
    "civilsamfund": ("Stronger civil society", "Sammenhængskraft og medborgerskab"),
    "tryghed": ("More safety", "Kriminalitetsforebyggelse"),
    "uddannelse": ("Higher level of education", "Uddannelse og livschancer"),
    "arbejde": ("More people in work", "Beskæftigelse"),
}
SERVICES = {
    "fritidsjob-hjaelp": ("Fritidsjob-hjælp", ["arbejde"], None),
    "lektiecafe": ("Lektiecafé", ["uddannelse", "civilsamfund"], None),
    "alarm-112": ("112: emergency", ["tryghed"], dt.date(2026, 1, 5)),
    "politi-114": ("114: police, not urgent", ["tryghed"], dt.date(2026, 6, 1)),
}
REFERRALS = [
    ("2026-06-30", "arbejde", "fritidsjob-hjaelp", 9),  # last day of 2026-H1: left out
    ("2026-07-01", "arbejde", "fritidsjob-hjaelp", 2),  # first day of 2026-H2
    ("2026-09-15", "uddannelse", "lektiecafe", 3),
    ("2026-10-02", "civilsamfund", "lektiecafe", 1),  # the same café, from the directory
    ("2026-12-31", "tryghed", "alarm-112", 1),  # last day of 2026-H2
    ("2027-01-01", "tryghed", "alarm-112", 7),  # 2027-H1: left out
    ("2023-03-01", "arbejde", "fritidsjob-hjaelp", 5),  # inside the plan period 2021-2024
]


def _content(plan: str = "2021-2024") -> Content:
    return Content(
        directory=Path("."),
        version="test00",
        goals={
            slug: Goal(name=name, plan_period=plan, lbf_area=area)
            for slug, (name, area) in GOALS.items()
        },
        start="menu",
        screens={},
        pathways={},
        services={
            sid: Service(
                name=name,
                goals=goals,
                description="-",
                verified_on=verified,
                source="https://politi.dk" if verified else None,
            )
            for sid, (name, goals, verified) in SERVICES.items()
        },
    )


@pytest.fixture
async def storage(tmp_path: Path):
    path = tmp_path / "board.sqlite3"
    await (await Storage.open(path)).close()
    with sqlite3.connect(path) as db:
        db.executemany("INSERT INTO referrals VALUES (?, ?, ?, ?)", REFERRALS)
    db.close()
    storage = await Storage.open(path)
    yield storage
    await storage.close()


def test_half_years_and_plan_period() -> None:
    assert Period.half_year(dt.date(2026, 6, 30)) == Period(
        "2026-H1", dt.date(2026, 1, 1), dt.date(2026, 6, 30)
    )
    assert Period.half_year(dt.date(2026, 7, 1)).label == "2026-H2"
    assert Period.parse_half("2026-H2") == Period.half_year(dt.date(2026, 12, 31))
    with pytest.raises(ValueError, match="not a half-year"):
        Period.parse_half("2026-H3")
    assert Period.plan(_content()) == Period(
        "plan 2021-2024", dt.date(2021, 1, 1), dt.date(2024, 12, 31)
    )


async def test_half_year_totals_per_goal_and_lbf_area(storage: Storage) -> None:
    """2026-H2 holds exactly its own days; each goal counts under its Landsbyggefonden area."""
    report = await period_report(
        storage, _content(), "Europe/Copenhagen", Period.parse_half("2026-H2")
    )
    assert report.goals == {"civilsamfund": 1, "tryghed": 1, "uddannelse": 3, "arbejde": 2}
    assert report.lbf_areas == {
        "Sammenhængskraft og medborgerskab": 1,
        "Kriminalitetsforebyggelse": 1,
        "Uddannelse og livschancer": 3,
        "Beskæftigelse": 2,
    }
    assert report.services == {"fritidsjob-hjaelp": 2, "lektiecafe": 4, "alarm-112": 1}
    assert report.referrals == 7

    data = json.loads(period_to_json(report))
    assert data["method"] == METHOD
    assert (data["period"], data["first"], data["last"]) == ("2026-H2", "2026-07-01", "2026-12-31")
    assert data["lbf_areas"]["Uddannelse og livschancer"] == 3

    rows = list(csv.reader(io.StringIO(period_to_csv(report))))
    assert rows[0] == ["period", "dimension", "key", "count", "lbf_area"]
    assert rows[1] == ["2026-H2", "method", METHOD, "", ""]
    assert ["2026-H2", "goal", "uddannelse", "3", "Uddannelse og livschancer"] in rows
    assert ["2026-H2", "lbf_area", "Beskæftigelse", "2", "Beskæftigelse"] in rows

    table = period_to_table(report, Catalogs()["da"])
    assert "2026-H2" in table
    assert "Optalt: viste kontaktkort" in table  # the method note, in Danish
    assert "Beskæftigelse" in table


async def test_plan_period_totals(storage: Storage) -> None:
    report = await period_report(storage, _content(), "Europe/Copenhagen", Period.plan(_content()))
    assert report.goals["arbejde"] == 5
    assert report.referrals == 5


def test_method_note_in_every_weekly_format(catalogs: Catalogs) -> None:
    """The weekly table, CSV and JSON all say what is counted, in every language's table."""
    from bot.stats import Report

    report = Report("Europe/Copenhagen", 5, {}, {}, {}, ())
    assert json.loads(to_json(report))["method"] == METHOD
    assert list(csv.reader(io.StringIO(to_csv(report))))[1] == ["", "method", METHOD, "", ""]
    notes = {code: table_blocks(report, catalogs[code])[-1].splitlines()[0] for code in LANGS}
    assert notes["en"] == "Counted: " + METHOD + "."
    assert len(set(notes.values())) == len(LANGS)  # translated in each


LANGS = ("da", "ar", "tr", "so", "ku", "ckb", "en")


async def test_weekly_report_lists_entries_to_check_again(
    storage: Storage, catalogs: Catalogs
) -> None:
    """Entries last verified more than 90 days before the report's end are listed for staff,
    oldest first; one verified recently is not."""
    week = IsoWeek.containing(dt.date(2026, 7, 1))  # ends Monday 6 July 2026
    report = await weekly_report(storage, _content(), "Europe/Copenhagen", [week])
    assert report.stale == (("alarm-112", dt.date(2026, 1, 5)),)
    blocks = table_blocks(report, catalogs["en"])
    assert blocks[-1].splitlines() == [
        "Last verified more than 90 days ago, please check again:",
        "- 112: emergency: Jan 5, 2026",
    ]
    later = await weekly_report(
        storage, _content(), "Europe/Copenhagen", [IsoWeek.containing(dt.date(2026, 10, 1))]
    )
    assert [sid for sid, _day in later.stale] == ["alarm-112", "politi-114"]
    fresh = dataclasses.replace(report, stale=())
    assert "please check again" not in "\n".join(table_blocks(fresh, catalogs["en"]))


def test_cli_period_half_year(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """`vollsmose-bot stats --period 2026-H2 --format csv`, and --period with --weeks refused."""
    import asyncio

    path = tmp_path / "board.sqlite3"

    async def create() -> None:
        await (await Storage.open(path)).close()

    asyncio.run(create())
    with sqlite3.connect(path) as db:
        db.executemany("INSERT INTO referrals VALUES (?, ?, ?, ?)", REFERRALS)
    db.close()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BOT_DATABASE", str(path))
    monkeypatch.setattr("bot.content.load_content", lambda directory: _content())
    assert main(["stats", "--period", "2026-H2", "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert "2026-H2,goal,uddannelse,3,Uddannelse og livschancer" in out
    assert main(["stats", "--period", "plan", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["referrals"] == 5
    assert main(["stats", "--period", "half-year", "--weeks", "2"]) == 2
    assert "either --period" in capsys.readouterr().err
    assert main(["stats", "--period", "2026-H7"]) == 2
    assert "not a half-year" in capsys.readouterr().err
