"""Fixtures of the hook tests: a connection pointing the hook at the recording server."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from airflow_provider_twelvelabs.hooks.twelvelabs import TwelveLabsHook
from tests.helpers.http_server import RecordingServer

#: Long enough for Airflow's secrets masker (it skips secrets under 5 characters), and distinctive,
#: so that a leak in a log or an exception is found by a plain substring search.
API_KEY = "tlk_TESTKEY_5f2c9a7e1b3d4c6f8a0e"

#: Retries fast enough for unit tests; the timing tests set their own.
FAST_RETRIES = {"retry_base_delay": 0.01, "retry_max_wait": 0.05, "max_retries": 5}


def set_connection(
    monkeypatch: pytest.MonkeyPatch, conn_id: str = "twelvelabs_default", **fields: Any
) -> None:
    """Define an Airflow connection through its ``AIRFLOW_CONN_*`` environment variable (JSON form)."""
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({"conn_type": "twelvelabs", **fields}))


@pytest.fixture
def server(recording_server: RecordingServer) -> RecordingServer:
    """The recording server the hooks of a test talk to."""
    return recording_server


@pytest.fixture
def make_hook(
    server: RecordingServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., TwelveLabsHook]]:
    """Return a factory of hooks on a ``twelvelabs_default`` connection to the recording server.

    Keyword arguments are the connection's extras (fast retries by default).
    """
    hooks: list[TwelveLabsHook] = []

    def factory(**extra: Any) -> TwelveLabsHook:
        set_connection(
            monkeypatch, password=API_KEY, host=server.base_url, extra=json.dumps({**FAST_RETRIES, **extra})
        )
        hook = TwelveLabsHook()
        hooks.append(hook)
        return hook

    yield factory
    for hook in hooks:
        hook.close()
