"""bench/bench_notifications.py must keep running: its smoke mode prints its figures."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from wpis_common.testing import db_backend

pytestmark = pytest.mark.integration
BENCH = Path(__file__).resolve().parents[3] / "bench" / "bench_notifications.py"


def test_notifications_benchmark_smoke_mode_prints_its_figures():
    finished = subprocess.run(
        [sys.executable, str(BENCH), "--smoke", "--backend", db_backend()],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert finished.returncode == 0, finished.stderr[-2000:]
    figures = re.findall(r"^figures: (plan|send) .*/s", finished.stdout, re.M)
    assert figures == ["plan", "send", "plan", "send"], finished.stdout
