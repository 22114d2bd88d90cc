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


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "broker_restart: restarts the shared RabbitMQ (WPIS_TEST_BROKER_RESTART=1); "
        "runs after every other test",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Broker restarts disturb every other test using RabbitMQ: run them last."""
    items.sort(key=lambda item: item.get_closest_marker("broker_restart") is not None)
