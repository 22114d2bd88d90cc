"""bench/flow.py, bench/ingest.py and the public path of bench/verify.py cannot rot:
each runs tiny on this module's suite and yields its figures (never asserted)."""

from __future__ import annotations

import argparse
import importlib.util
import re
import sys
from pathlib import Path

import pytest

from wpis_common.suite import Suite, running_suite

pytestmark = pytest.mark.integration
# The verification smoke polls the public check while timing revocations.
UNLIMITED = {"VERIFY_RATE_PER_MINUTE": "1000000", "VERIFY_RATE_BURST": "100000"}


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory):
    with running_suite(Path(tmp_path_factory.mktemp("suite")), extra_env=UNLIMITED) as running:
        yield running


BENCH = Path(__file__).resolve().parents[2] / "bench"


def _bench(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}_smoke", BENCH / f"{name}.py")
    assert spec and spec.loader
    module = sys.modules[spec.name] = importlib.util.module_from_spec(spec)  # for dataclasses
    spec.loader.exec_module(module)
    return module


def test_flow_benchmark_drives_flows_and_the_baseline_and_prints_the_ratio(suite: Suite, capsys):
    flow = _bench("flow")
    wpis = flow.wpis_on(suite, n=3, c=2)
    baseline = flow.measure_baseline(argparse.Namespace(n=3, c=2, rate=None))
    flow.report(wpis)
    flow.report(baseline)
    line = flow.compare(wpis, baseline)

    assert len(wpis.flows) == len(baseline.flows) == 3
    assert all(f.submitted <= f.verified <= f.approved <= f.issued for f in wpis.flows)
    assert set(wpis.cpu_per_flow) >= {"gateway", "applications", "permits", "notifications"}
    assert re.fullmatch(
        r"flows_per_s=[\d.]+ baseline_per_s=[\d.]+ ratio=[\d.]+ p99_ms=\d+", line
    ), line
    assert "ratio real/baseline: throughput" in capsys.readouterr().out


def test_ingest_benchmark_accepts_drains_and_checks_the_backlog(suite: Suite):
    ingest = _bench("ingest")
    figures = ingest.run(suite.gateway_url, suite.idms_url, n=4, c=2)
    assert (figures["lost"], figures["duplicates"]) == (0, 0)
    assert re.fullmatch(
        r"accepted_per_s=[\d.]+ drain_s=[\d.]+ drained_per_s=[\d.]+ lost=0 duplicates=0 "
        r"inversions=\d+",
        ingest.figures_line(figures),
    )


def test_verify_benchmark_public_path_answers_every_lookup(suite: Suite):
    verify = _bench("verify")
    figures = verify.measure_public(suite, permits=200, lookups=20, clients=2, revocations=2)
    assert figures["revoked"] == 2  # each revocation showed in the public answer
    assert re.fullmatch(
        r"public: backend=\w+ permits=200 load=[\d.]+s clients=2 lookups=20 "
        r"lookups_per_s=\d+ p50=[\d.]+ms p99=[\d.]+ms errors=0 revocations=2 "
        r"revocation_visible_p50=\d+ms revocation_visible_max=\d+ms",
        verify.public_line("sqlite", 2, 20, figures),
    )
