"""Shared test configuration."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# Make ``tests.openapi`` (the shared OpenAPI validator) importable however pytest is started.
_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from tests.helpers.http_server import RecordingServer, serve  # noqa: E402 - needs the path above

# The project's tests use the emulator fixtures it ships to its users (twelvelabs_emulator,
# twelvelabs_connection...), so those are exercised by every run.
pytest_plugins = ["airflow_provider_twelvelabs.testing.pytest_plugin"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: takes more than ~30 s (deselect with -m 'not slow')")


@pytest.fixture
def recording_server() -> Iterator[RecordingServer]:
    """A scriptable HTTP server on 127.0.0.1 that records every request (see tests/helpers)."""
    with serve() as server:
        yield server
