"""Fixtures for the cross-service tests under tests/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from wpis_common.suite import Suite, running_suite


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Suite]:
    """The whole WPIS suite as real processes, once per test module."""
    with running_suite(Path(tmp_path_factory.mktemp("suite"))) as running:
        yield running
