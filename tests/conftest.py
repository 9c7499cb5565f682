"""Shared test configuration."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# Make ``tests.openapi`` (the shared OpenAPI validator) importable however pytest is started.
_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: takes more than ~30 s (deselect with -m 'not slow')")
