"""bench/events.py still runs: its smoke mode prints both figures."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

BENCH = Path(__file__).resolve().parents[2] / "bench" / "events.py"


def test_events_benchmark_smoke_mode_prints_its_figures():
    finished = subprocess.run(
        [sys.executable, str(BENCH), "--smoke"], capture_output=True, text=True, timeout=180
    )
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert re.search(r"^relay: 50 events, [\d,]+ events/s", finished.stdout, re.M), finished.stdout
    assert re.search(
        r"^lag commit->agency: 20 events at 100/s, p50 [\d.]+ ms, p99 [\d.]+ ms",
        finished.stdout,
        re.M,
    ), finished.stdout
