"""A smoke run of the benchmarks (`python -m benchmarks --quick`): it runs and ends with the JSON.

No timing is asserted here: the figures and their targets belong to `make bench`, not the tests.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest

from bot.config import REPOSITORY

REQUIRED = {
    "e2e_cpu_ratio": float,
    "e2e_drain_ratio": float,
    "e2e_edit_p99_ratio": float,
    "e2e_burst_floor_ratio": float,
    "e2e_burst_ratio": float,
    "tap_ratio": float,
    "referral_ratio": float,
    "text_ratio": float,
    "updates_per_s": float,
    "startup_ratio": float,
    "report_ms": float,
    "report_ratio": float,
    "network_updates_per_s": float,
    "order_kept": bool,
    "idle_rss_ratio": float,
    "bytes_per_resident_10k": float,
    "bytes_per_resident_100k": float,
}


@pytest.mark.timeout(300)
def test_quick_benchmark_ends_with_json_of_every_figure() -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPOSITORY), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick"],
        cwd=REPOSITORY,
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert len(lines) > 1, "a table comes before the JSON"
    figures = json.loads(lines[-1])
    for key, kind in REQUIRED.items():
        assert key in figures, key
        value = figures[key]
        if kind is bool:
            assert isinstance(value, bool), (key, value)
        else:
            assert isinstance(value, int | float), (key, value)
            assert not isinstance(value, bool), (key, value)
            assert math.isfinite(value), (key, value)
            assert value > 0, (key, value)
    # A count that is 0 when all goes well: every resident's button answered within 2 s.
    assert isinstance(figures["e2e_burst_late_answers"], int | float), figures
    assert figures["e2e_burst_late_answers"] >= 0
