"""A local emulator of the TwelveLabs API v1.3, for offline tests of DAGs and clients.

Start it from Python with :func:`serve_emulator`, from pytest with the ``twelvelabs_emulator`` fixture
(``pytest_plugins = ["airflow_provider_twelvelabs.testing.pytest_plugin"]``), or from a shell with
``python -m airflow_provider_twelvelabs.testing.emulator``. See docs/emulator.md.
"""

from airflow_provider_twelvelabs.testing.emulator.app import EmulatorApp, create_app
from airflow_provider_twelvelabs.testing.emulator.config import DEFAULT_API_KEY, EmulatorConfig
from airflow_provider_twelvelabs.testing.emulator.errors import APIError
from airflow_provider_twelvelabs.testing.emulator.server import RunningEmulator, serve_emulator
from airflow_provider_twelvelabs.testing.emulator.state import EmulatorState

__all__ = [
    "DEFAULT_API_KEY",
    "APIError",
    "EmulatorApp",
    "EmulatorConfig",
    "EmulatorState",
    "RunningEmulator",
    "create_app",
    "serve_emulator",
]
