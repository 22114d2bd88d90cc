"""bench/stats_queries.py cannot rot: its smoke mode runs and prints its figures."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from wpis_common.testing import db_backend

pytestmark = pytest.mark.integration

BENCH = Path(__file__).resolve().parents[3] / "bench" / "stats_queries.py"


def test_the_benchmark_prints_query_latencies_and_the_lag():
    result = subprocess.run(
        [sys.executable, str(BENCH), "--smoke", "--backend", db_backend()],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    figures = [line for line in result.stdout.splitlines() if line.startswith("figures:")]
    assert len(figures) == 2, result.stdout
    assert "read model" in figures[0] and "lag during a burst" in figures[1]
    latencies = [
        line for line in result.stdout.splitlines() if line.startswith("  ") and " p99 " in line
    ]
    assert len(latencies) == 9
