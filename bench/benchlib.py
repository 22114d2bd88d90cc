"""Helpers shared by the benchmarks: percentiles and per-process CPU and memory."""

from __future__ import annotations

import os
import statistics
from dataclasses import dataclass

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def summary_ms(seconds: list[float]) -> str:
    ms = [value * 1000 for value in seconds]
    return (
        f"p50={percentile(ms, 50):.1f}ms p95={percentile(ms, 95):.1f}ms "
        f"p99={percentile(ms, 99):.1f}ms mean={statistics.fmean(ms) if ms else 0:.1f}ms"
    )


@dataclass(frozen=True)
class ProcSample:
    cpu_seconds: float
    peak_rss_mib: float
    rss_mib: float


def sample_process(pid: int) -> ProcSample:
    """CPU time so far (user + system) and memory of one process, from /proc."""
    with open(f"/proc/{pid}/stat") as stat_file:
        fields = stat_file.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    memory = {}
    with open(f"/proc/{pid}/status") as status_file:
        for line in status_file:
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                memory[key] = int(value.split()[0]) / 1024
    return ProcSample(cpu, memory.get("VmHWM", 0.0), memory.get("VmRSS", 0.0))
