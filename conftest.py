"""Root conftest: eventlet must patch the world before anything imports sockets."""

import warnings

# eventlet is in maintenance mode; we know (ADR-002 in docs/decisions.md).
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

import eventlet  # noqa: E402

eventlet.monkey_patch()

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from wpis_common.testing import Callers, migrated_database  # noqa: E402


def pytest_configure(config: pytest.Config) -> None:
    # Nameko's plugin warns when it finds no monkey patch; we applied it above.
    config.option.suppress_eventlet_notification = True


@pytest.fixture
def make_database(tmp_path: Path):
    """``make_database("permits")`` -> URL of a fresh database migrated to head."""
    opened = []

    def make(package: str) -> str:
        context = migrated_database(tmp_path, package)
        opened.append(context)
        return context.__enter__()

    yield make
    for context in reversed(opened):
        context.__exit__(None, None, None)


@pytest.fixture
def callers(tmp_path: Path) -> Callers:
    """Access tokens for a service under test: add ``callers.config`` to the container's
    config and pass ``context_data=callers.context("supervisor")`` to a call."""
    return Callers(tmp_path / "auth-keys")
