"""The shipped pytest plugin's connection fixtures and helpers, as a user's DAG tests would use them."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from airflow_provider_twelvelabs.hooks.twelvelabs import TwelveLabsHook
from airflow_provider_twelvelabs.testing.emulator import EmulatorConfig, RunningEmulator
from airflow_provider_twelvelabs.testing.pytest_plugin import (
    connection_json,
    connection_variable,
    set_twelvelabs_connection,
)

KEY = "tlk_PLUGIN_test_key_61b2"


@pytest.fixture
def twelvelabs_emulator_config() -> EmulatorConfig:
    return EmulatorConfig(api_key=KEY)


@pytest.fixture
def twelvelabs_connection_extra() -> dict[str, Any]:
    return {"max_retries": 1, "timeout": 7}


def test_twelvelabs_connection_points_the_default_connection_at_the_emulator(
    twelvelabs_connection: RunningEmulator,
) -> None:
    with TwelveLabsHook() as hook:
        index = hook.create_index(
            index_name="plugin", models=[{"model_name": "marengo3.0", "model_options": ["visual"]}]
        )
        assert hook.settings.base_url.rstrip("/") == twelvelabs_connection.base_url
        # The overridden extras reach the hook.
        assert hook.settings.timeout == 7 and hook.settings.retry.max_attempts == 2
    assert index.id in twelvelabs_connection.state.indexes
    assert KEY in os.environ["AIRFLOW_CONN_TWELVELABS_DEFAULT"]


def test_connection_json_is_airflows_json_form() -> None:
    assert json.loads(connection_json("http://127.0.0.1:1/v1.3", "k")) == {
        "conn_type": "twelvelabs",
        "host": "http://127.0.0.1:1/v1.3",
        "password": "k",
    }
    assert json.loads(json.loads(connection_json("h", "k", max_retries=0))["extra"]) == {"max_retries": 0}
    assert connection_variable("tl_prod") == "AIRFLOW_CONN_TL_PROD"


def test_set_twelvelabs_connection_defines_a_named_connection(
    twelvelabs_emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_twelvelabs_connection(monkeypatch, twelvelabs_emulator.base_url, KEY, conn_id="tl_other")
    with TwelveLabsHook("tl_other") as hook:
        assert list(hook.list_indexes()) == []
    set_twelvelabs_connection(
        monkeypatch, twelvelabs_emulator.base_url, "tlk_wrong_key_000000", conn_id="tl_bad"
    )
    ok, message = TwelveLabsHook("tl_bad").test_connection()
    assert ok is False and message.startswith("401")
