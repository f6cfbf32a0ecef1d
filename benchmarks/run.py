"""Run every benchmark, print the table and the targets, and end with one JSON line."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import costs, endtoend, memory, network, report, startup, web
from benchmarks.common import TELEGRAM_MESSAGES_PER_S, Measure, Scale, pin_to_one_core
from bot.config import REPOSITORY
from bot.content import load_content
from bot.engine import Engine
from bot.i18n import Catalogs

REQUIRED = (
    "e2e_cpu_ratio",
    "e2e_first_cpu_ratio",
    "e2e_drain_ratio",
    "e2e_edit_p99_ratio",
    "e2e_burst_floor_ratio",
    "e2e_burst_ratio",
    "e2e_burst_late_answers",
    "tap_ratio",
    "referral_ratio",
    "text_ratio",
    "updates_per_s",
    "startup_ratio",
    "report_ms",
    "report_ratio",
    "network_updates_per_s",
    "order_kept",
    "idle_rss_ratio",
    "bytes_per_resident_10k",
    "bytes_per_resident_100k",
)


@dataclass(frozen=True)
class Target:
    text: str
    met: Callable[[dict[str, Any]], bool]


TARGETS: dict[str, Target] = {
    "e2e_cpu_ratio": Target("<= 1.0", lambda r: r["e2e_cpu_ratio"] <= 1.0),
    "e2e_drain_ratio": Target("<= 1.0", lambda r: r["e2e_drain_ratio"] <= 1.0),
    "e2e_edit_p99_ratio": Target("<= 1.1", lambda r: r["e2e_edit_p99_ratio"] <= 1.1),
    "e2e_burst_floor_ratio": Target("<= 1.2", lambda r: r["e2e_burst_floor_ratio"] <= 1.2),
    "e2e_burst_late_answers": Target("0", lambda r: r["e2e_burst_late_answers"] == 0),
    "tap_ratio": Target("<= 1.3", lambda r: r["tap_ratio"] <= 1.3),
    "referral_ratio": Target("<= 2.0", lambda r: r["referral_ratio"] <= 2.0),
    "text_ratio": Target("<= 1.5", lambda r: r["text_ratio"] <= 1.5),
    "updates_per_s": Target(">= 1000/s", lambda r: r["updates_per_s"] >= 1000),
    "startup_ratio": Target("<= 2", lambda r: r["startup_ratio"] <= 2),
    "report_ms": Target("< 50 ms", lambda r: r["report_ms"] < 50),
    "network_updates_per_s": Target(
        ">= 500/s, order kept", lambda r: r["network_updates_per_s"] >= 500 and r["order_kept"]
    ),
}


class _ErrorCount(logging.Handler):
    """Counts errors logged by the bot or python-telegram-bot while benchmarking."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.count = 0
        self.first: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1
        if self.first is None:
            self.first = f"{record.name}: {record.getMessage()}"


def _machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (
        f"{model}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def _load() -> str:
    """The 1-minute load average: other work on the machine makes elapsed times noisy."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "?"


def _fmt(value: float) -> str:
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


class Table:
    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str, str, str]] = []

    def add(self, name: str, measure: Measure, target: str = "", status: str = "") -> None:
        unit = f" {measure.unit}" if measure.unit else ""
        spread = (
            f"{_fmt(measure.lo)}–{_fmt(measure.hi)} (±{measure.relative_spread() * 50:.1f} %, "
            f"n={len(measure.values)})"
        )
        self.rows.append((name, _fmt(measure.median) + unit, spread, target, status))

    def note(self, name: str, value: str, target: str = "", status: str = "") -> None:
        self.rows.append((name, value, "", target, status))

    def print(self) -> None:
        header = ("figure", "median", "spread: min–max", "target", "met")
        widths = [max(len(row[i]) for row in [header, *self.rows]) for i in range(5)]
        line = "  ".join("-" * w for w in widths)
        print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
        print(line)
        for row in self.rows:
            print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def _status(key: str, results: dict[str, Any]) -> tuple[str, str]:
    target = TARGETS.get(key)
    if target is None:
        return "", ""
    return target.text, "yes" if target.met(results) else "NO"


async def _in_process(engine: Engine, scale: Scale, tmp: Path, progress: Callable) -> dict:
    measures: dict[str, Any] = {}
    progress("cost ratios against the minimal bot (tap, referral, typed text)")
    measures["ratios"] = await costs.ratios(engine, tmp / "ratios", scale)
    progress("throughput of the realistic mix on one core")
    measures.update(await costs.throughput(engine, tmp / "mix", scale))
    progress("weekly report over a year of counters")
    measures.update(await report.report(engine, tmp / "report", scale.report_reps))
    progress("1,000 residents at once with a 50 ms round trip")
    measures.update(await network.network(engine, tmp / "network", scale))
    progress("the web chat's cost per page, against a bare aiohttp server")
    measures.update(await web.web_costs(engine, tmp / "web", scale))
    progress("bytes per resident in memory")
    measures.update(await memory.per_resident(scale.memory_counts, scale.memory_reps))
    return measures


def _e2e_rows(table: Table, m: dict[str, Any], results: dict[str, Any]) -> None:
    """The headline rows: end to end, against the minimal bot making the same calls."""

    def pair(key: str, unit: str) -> str:
        ours, minimal = m[key.format("ours")].median, m[key.format("minimal")].median
        return f"{_fmt(ours)} vs {_fmt(minimal)} {unit}"

    table.add("e2e_cpu_ratio", m["e2e_cpu_ratio"], *_status("e2e_cpu_ratio", results))
    table.note(
        "  CPU per update of the bot process",
        pair("e2e_cpu_ms_{}", "ms"),
        "residents seen once since the start",
    )
    table.add("e2e_first_cpu_ratio", m["e2e_first_cpu_ratio"])
    table.note(
        "  a resident's first update since the start",
        pair("e2e_first_cpu_ms_{}", "ms"),
        "ours: the scrypt hash (issue 12)",
    )
    table.add("e2e_drain_ratio", m["e2e_drain_ratio"], *_status("e2e_drain_ratio", results))
    table.note("  time to drain the mix, no limiter", pair("e2e_drain_s_{}", "s"))
    key = "e2e_edit_p99_ratio"
    table.add(key, m[key], *_status(key, results))
    table.note("  press -> edit p50, limiter on", pair("e2e_edit_p50_s_{}", "s"))
    table.note("  press -> edit p99, limiter on", pair("e2e_edit_p99_s_{}", "s"))
    table.add("  p99 ratio without the limiter", m["e2e_edit_p99_ratio_unlimited"])
    table.note("  press -> edit p50, no limiter", pair("e2e_edit_p50_s_{}_unlimited", "s"))
    table.note("  press -> edit p99, no limiter", pair("e2e_edit_p99_s_{}_unlimited", "s"))
    key = "e2e_burst_floor_ratio"
    table.add(key, m[key], *_status(key, results))
    table.note(
        "  burst: last reply vs the floor",
        f"{_fmt(m['e2e_burst_last_s_ours'].median)} vs {_fmt(m['e2e_burst_floor_s'].median)} s",
        "floor: limited calls / 30 per s",
    )
    table.add("e2e_burst_ratio", m["e2e_burst_ratio"])
    table.note("  burst: last reply, ours vs minimal", pair("e2e_burst_last_s_{}", "s"))
    key = "e2e_burst_late_answers"
    table.note(
        key,
        f"{results[key]:.0f} of {m['e2e_burst_answered']}",
        *_status(key, results),
    )
    table.note(
        "  callback answers > 2 s, minimal bot", f"{results['e2e_burst_late_answers_minimal']:.0f}"
    )
    table.note("  slowest callback answer", pair("e2e_burst_answer_max_s_{}", "s"))
    table.note(
        "  > 2 s from receiving the press",
        pair("e2e_burst_late_after_receipt_{}", "answers"),
        "the rest is getUpdates delivery",
    )
    table.note("  slowest, from receiving the press", pair("e2e_burst_receipt_max_s_{}", "s"))
    table.note("  burst: CPU per update", pair("e2e_burst_cpu_ms_{}", "ms"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "--quick",
        action="store_true",
        default=os.environ.get("BENCH_QUICK", "") not in ("", "0"),
        help="a tiny smoke run (also BENCH_QUICK=1); its figures mean nothing",
    )
    parser.add_argument(
        "--all-cores", action="store_true", help="do not pin the benchmark to one CPU"
    )
    args = parser.parse_args(argv)
    scale = Scale.of(args.quick)
    errors = _ErrorCount()
    logging.getLogger().addHandler(errors)
    started = time.perf_counter()
    load_before = _load()

    def progress(what: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f} s] {what}", file=sys.stderr, flush=True)

    engine = Engine(load_content(REPOSITORY / "flows"), Catalogs())
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        # The bot processes run on a CPU of their own, so this comes before pinning.
        e2e = asyncio.run(endtoend.run(engine, scale, Path(tmp) / "e2e", progress))
        cpu = None if args.all_cores else pin_to_one_core()
        measures = asyncio.run(_in_process(engine, scale, Path(tmp), progress))
    measures.update(e2e)
    measures["e2e_burst_late_answers"] = measures["e2e_burst_late_answers_ours"]
    progress("start-up time in fresh processes")
    measures.update(startup.startup(scale.startup_reps))
    progress("idle memory in fresh processes")
    measures.update(startup.idle_rss(scale.rss_reps))
    elapsed = time.perf_counter() - started

    comparisons = measures.pop("ratios")
    for key in comparisons:
        measures[f"{key}_ratio"] = comparisons[key].ratio
    results: dict[str, Any] = {
        key: (value.median if isinstance(value, Measure) else value)
        for key, value in measures.items()
    }

    table = Table()
    _e2e_rows(table, measures, results)
    labels = {
        "tap": "tap: press to another screen",
        "tap_unchosen": "tap, resident never chose a language",
        "referral": "referral: card (map link) + commit",
        "text": "typed text, 300 chars (fuzzy)",
        "text_unmatched": "typed text, unmatched (+1 write)",
    }
    for key, label in labels.items():
        comparison = comparisons[key]
        name = f"{key}_ratio"
        table.add(name, comparison.ratio, *_status(name, results))
        table.note(
            f"  {label}",
            f"{_fmt(comparison.ours_us.median)} vs {_fmt(comparison.minimal_us.median)} µs/update",
            f"ratio of CPU time: {_fmt(comparison.cpu_ratio.median)}",
        )
    table.add("web_tap_ratio", measures["web_tap_ratio"], "(no target)")
    table.note(
        "  web tap: form post + page, loopback",
        f"{_fmt(results['web_tap_us'])} vs {_fmt(results['web_bare_tap_us'])} µs/tap",
        f"Telegram tap: {_fmt(comparisons['tap'].ours_us.median)} µs",
    )
    table.add("updates_per_s", measures["updates_per_s"], *_status("updates_per_s", results))
    table.note(
        "  multiple of Telegram's 30 msg/s",
        f"{results['updates_per_s'] / TELEGRAM_MESSAGES_PER_S:.0f}×",
    )
    table.add("  minimal bot on the same mix", measures["minimal_updates_per_s"])
    table.add("startup_ratio", measures["startup_ratio"], *_status("startup_ratio", results))
    table.add("  ours: process start to ready", measures["startup_ours_ms"])
    table.add("  ours + Application, HTTPS clients", measures["startup_app_ms"])
    table.add("  that as a ratio", measures["startup_app_ratio"])
    table.add("  bare: import telegram.ext", measures["startup_bare_ms"])
    table.add("report_ratio", measures["report_ratio"], "(no target)")
    table.add("  one plain SQL query, the same rows", measures["report_floor_ms"])
    table.add("  report_ms", measures["report_ms"], *_status("report_ms", results))
    table.note(f"  {results['report_note']}", f"{results['report_rows']:,} counter rows")
    table.add("  reading + summing (weekly_report)", measures["report_build_ms"])
    table.add("  table text (to_table)", measures["report_table_ms"])
    table.add("  Monday report: one week, all of it", measures["report_week_ms"])
    table.add(
        "network_updates_per_s",
        measures["network_updates_per_s"],
        *_status("network_updates_per_s", results),
    )
    table.note(
        "  order kept for every resident",
        "yes" if results["order_kept"] else f"NO ({results['residents_out_of_order']} residents)",
    )
    table.add("  Bot API calls in flight (max)", measures["max_in_flight"])
    table.add("idle_rss_ratio", measures["idle_rss_ratio"], "(no target)")
    table.add("  ours idle", measures["idle_rss_ours_mib"])
    table.add("  bare PTB idle", measures["idle_rss_bare_mib"])
    table.add("bytes_per_resident_10k", measures["bytes_per_resident_10k"], "(no target)")
    table.add("bytes_per_resident_100k", measures["bytes_per_resident_100k"], "(no target)")

    print(f"Vollsmose Guide benchmarks, {dt.date.today().isoformat()}{' (QUICK)' * scale.quick}")
    print(f"machine: {_machine()}; pinned to CPU {cpu}")
    print(f"took {elapsed:.0f} s; load average {load_before} before, {_load()} after")
    print()
    table.print()
    print()
    met = {key: target.met(results) for key, target in TARGETS.items()}
    print("targets met: " + ", ".join(f"{key} {'yes' if ok else 'NO'}" for key, ok in met.items()))
    missed = [key for key, ok in met.items() if not ok]
    summary = f"{len(met) - len(missed)} of {len(met)} targets met"
    print(summary + (f"; missed: {', '.join(missed)}" if missed else ""))
    if errors.count:
        print(f"WARNING: {errors.count} errors logged while benchmarking; first: {errors.first}")

    figures: dict[str, Any] = {key: results[key] for key in REQUIRED}
    figures["order_kept"] = bool(results["order_kept"])
    figures |= {key: value for key, value in results.items() if key.startswith("e2e_")}
    for key in REQUIRED:
        if isinstance(measures.get(key), Measure):
            figures[f"{key}_spread"] = measures[key].spread
    for key in labels:
        if f"{key}_ratio" not in figures:
            figures[f"{key}_ratio"] = results[f"{key}_ratio"]
    for key in ("web_tap_us", "web_bare_tap_us", "web_tap_ratio"):
        figures[key] = results[key]
    figures["tap_us"] = comparisons["tap"].ours_us.median
    figures["updates_per_s_multiple_of_30"] = results["updates_per_s"] / TELEGRAM_MESSAGES_PER_S
    figures["targets_met"] = met
    figures["errors_logged"] = errors.count
    figures["quick"] = scale.quick
    print(json.dumps(figures, sort_keys=False))
    return 0
