"""bench/verify.py must keep working: its smoke mode loads a tiny register,
verifies and issues, and prints its figures line."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[3] / "bench" / "verify.py"


def test_verify_benchmark_smoke_run_prints_its_figures():
    run = subprocess.run(
        [sys.executable, str(BENCH), "--smoke"], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr[-2000:]
    figures = re.search(
        r"^figures: backend=sqlite permits=300 .*verify_per_s=(\d+) verify_p50=[\d.]+ms "
        r"verify_p99=[\d.]+ms issued=10 issued_per_s=(\d+) lookup_only_per_s=\d+ "
        r"lookup_only_p50=[\d.]+ms lookup_only_p99=[\d.]+ms$",
        run.stdout,
        re.MULTILINE,
    )
    assert figures, run.stdout
    assert int(figures.group(1)) > 0 and int(figures.group(2)) > 0
