"""pytest fixtures serving the TwelveLabs API emulator on a free local port.

Enable them in a ``conftest.py`` with::

    pytest_plugins = ["airflow_provider_twelvelabs.testing.pytest_plugin"]

Fixtures:

* ``twelvelabs_emulator_config`` — the :class:`EmulatorConfig` used; override it in your own
  ``conftest.py`` to change switches for a module or a package;
* ``twelvelabs_emulator`` — a running emulator (``.base_url``, ``.url``, ``.api_key``, ``.state``,
  ``.app``), one per test, so tests never see each other's resources;
* ``twelvelabs_emulator_env`` — the same emulator with ``TWELVELABS_BASE_URL`` set for the test, so
  the official SDK and other clients reading it talk to the emulator.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from airflow_provider_twelvelabs.testing.emulator.config import EmulatorConfig
from airflow_provider_twelvelabs.testing.emulator.server import RunningEmulator, serve_emulator

__all__ = ["twelvelabs_emulator", "twelvelabs_emulator_config", "twelvelabs_emulator_env"]


@pytest.fixture
def twelvelabs_emulator_config() -> EmulatorConfig:
    """Return the configuration of the ``twelvelabs_emulator`` fixture (override to customise)."""
    return EmulatorConfig()


@pytest.fixture
def twelvelabs_emulator(twelvelabs_emulator_config: EmulatorConfig) -> Iterator[RunningEmulator]:
    """Serve a fresh emulator on 127.0.0.1 and a free port for one test.

    :param twelvelabs_emulator_config: the configuration fixture.
    """
    with serve_emulator(twelvelabs_emulator_config) as emulator:
        yield emulator


@pytest.fixture
def twelvelabs_emulator_env(
    twelvelabs_emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch
) -> RunningEmulator:
    """Serve an emulator and point ``TWELVELABS_BASE_URL`` at it for the duration of the test.

    :param twelvelabs_emulator: the running emulator.
    :param monkeypatch: pytest's monkeypatch fixture.
    """
    monkeypatch.setenv("TWELVELABS_BASE_URL", twelvelabs_emulator.base_url)
    monkeypatch.setenv("TWELVELABS_API_KEY", twelvelabs_emulator.api_key)
    return twelvelabs_emulator
