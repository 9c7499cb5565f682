"""pytest fixtures serving the TwelveLabs API emulator on a free local port.

Enable them in a ``conftest.py`` with::

    pytest_plugins = ["airflow_provider_twelvelabs.testing.pytest_plugin"]

Fixtures:

* ``twelvelabs_emulator_config`` — the :class:`EmulatorConfig` used; override it in your own
  ``conftest.py`` to change switches for a module or a package;
* ``twelvelabs_emulator`` — a running emulator (``.base_url``, ``.url``, ``.api_key``, ``.state``,
  ``.app``), one per test, so tests never see each other's resources;
* ``twelvelabs_emulator_env`` — the same emulator with ``TWELVELABS_BASE_URL`` set for the test, so
  the official SDK and other clients reading it talk to the emulator;
* ``twelvelabs_module_emulator`` (with ``twelvelabs_module_emulator_config``) — one emulator shared
  by the tests of a module, for suites whose setup is costly (indexing many videos) and whose
  tests do not change what the others read;
* ``twelvelabs_connection`` — the per-test emulator with the ``twelvelabs_default`` Airflow connection
  pointing at it (through its ``AIRFLOW_CONN_TWELVELABS_DEFAULT`` variable), so hooks, operators,
  sensors and triggers talk to the emulator;
* ``twelvelabs_connection_extra`` — the connection's extras (``{}``; override it for fast retries,
  timeouts...).

:func:`set_twelvelabs_connection` defines such a connection to any server (a test's own scripted
one), and :func:`connection_json` gives the variable's value for a child process's environment.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_twelvelabs.testing.emulator.config import EmulatorConfig
from airflow_provider_twelvelabs.testing.emulator.server import RunningEmulator, serve_emulator

__all__ = [
    "connection_json",
    "connection_variable",
    "set_twelvelabs_connection",
    "twelvelabs_connection",
    "twelvelabs_connection_extra",
    "twelvelabs_emulator",
    "twelvelabs_emulator_config",
    "twelvelabs_emulator_env",
    "twelvelabs_module_emulator",
    "twelvelabs_module_emulator_config",
]


def connection_variable(conn_id: str = "twelvelabs_default") -> str:
    """Return the name of the environment variable that defines an Airflow connection.

    :param conn_id: the connection id.
    """
    return f"AIRFLOW_CONN_{conn_id.upper()}"


def connection_json(host: str, api_key: str, **extra: Any) -> str:
    """Return a TwelveLabs connection in Airflow's JSON form, as an ``AIRFLOW_CONN_*`` value.

    :param host: the API base URL, version path included (``http://127.0.0.1:8123/v1.3``).
    :param api_key: the API key.
    :param extra: the connection's extras (``max_retries``, ``retry_base_delay``...).
    """
    fields: dict[str, Any] = {"conn_type": "twelvelabs", "host": host, "password": api_key}
    if extra:
        fields["extra"] = json.dumps(extra)
    return json.dumps(fields)


def set_twelvelabs_connection(
    monkeypatch: pytest.MonkeyPatch,
    host: str,
    api_key: str,
    *,
    conn_id: str = "twelvelabs_default",
    **extra: Any,
) -> None:
    """Define a TwelveLabs connection for the rest of the test (through its environment variable).

    :param monkeypatch: pytest's monkeypatch fixture (the variable is removed after the test).
    :param host: the API base URL, version path included.
    :param api_key: the API key.
    :param conn_id: the connection id.
    :param extra: the connection's extras.
    """
    monkeypatch.setenv(connection_variable(conn_id), connection_json(host, api_key, **extra))


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


@pytest.fixture(scope="module")
def twelvelabs_module_emulator_config() -> EmulatorConfig:
    """Return the configuration of the ``twelvelabs_module_emulator`` fixture (override to customise)."""
    return EmulatorConfig()


@pytest.fixture(scope="module")
def twelvelabs_module_emulator(
    twelvelabs_module_emulator_config: EmulatorConfig,
) -> Iterator[RunningEmulator]:
    """Serve one emulator on 127.0.0.1 and a free port for all the tests of a module.

    :param twelvelabs_module_emulator_config: the configuration fixture.
    """
    with serve_emulator(twelvelabs_module_emulator_config) as emulator:
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


@pytest.fixture
def twelvelabs_connection_extra() -> dict[str, Any]:
    """Return the extras of the ``twelvelabs_connection`` fixture's connection (override to customise)."""
    return {}


@pytest.fixture
def twelvelabs_connection(
    twelvelabs_emulator: RunningEmulator,
    twelvelabs_connection_extra: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> RunningEmulator:
    """Serve an emulator and point the ``twelvelabs_default`` connection at it for the test.

    :param twelvelabs_emulator: the running emulator.
    :param twelvelabs_connection_extra: the connection's extras.
    :param monkeypatch: pytest's monkeypatch fixture.
    """
    set_twelvelabs_connection(
        monkeypatch, twelvelabs_emulator.base_url, twelvelabs_emulator.api_key, **twelvelabs_connection_extra
    )
    return twelvelabs_emulator
