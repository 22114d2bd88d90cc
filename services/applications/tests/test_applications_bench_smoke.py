"""bench/applications_list.py must keep running: its smoke mode prints its figures."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]


def test_listing_benchmark_smoke_mode_prints_its_figures():
    backend = os.environ.get("WPIS_TEST_DB", "sqlite")
    finished = subprocess.run(
        [sys.executable, "bench/applications_list.py", "--smoke", "--backend", backend],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert finished.returncode == 0, finished.stderr[-2000:]
    lines = finished.stdout.splitlines()
    assert any(line.strip().startswith("overdue") and "p99=" in line for line in lines)
    figures = [line for line in lines if line.startswith("figures ")]
    assert len(figures) == 1
    assert f"backend={backend} rows=500" in figures[0]
    assert "median_p50_ms=" in figures[0] and "worst_p99_ms=" in figures[0]
