"""Unit tests of the TwelveLabs sensors against a scripted HTTP server on 127.0.0.1."""

from __future__ import annotations

import time
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowSensorTimeout, AirflowSkipException, TaskDeferred

from airflow_provider_twelvelabs.exceptions import TwelveLabsError, TwelveLabsResourceFailedError
from airflow_provider_twelvelabs.sensors.twelvelabs import (
    TwelveLabsAssetSensor,
    TwelveLabsEmbeddingTaskSensor,
    TwelveLabsIndexedAssetSensor,
    TwelveLabsIndexingTaskSensor,
)
from airflow_provider_twelvelabs.testing.pytest_plugin import set_twelvelabs_connection
from airflow_provider_twelvelabs.triggers.twelvelabs import TwelveLabsResourceTrigger
from tests.helpers.http_server import RecordingServer, Reply

API_KEY = "tlk_TESTKEY_sensor_unit_3b7f10"
INDEX = "6a0000000000000000000001"
INDEXED = "6c0000000000000000000001"
TASK = "6d0000000000000000000001"


@pytest.fixture
def server(recording_server: RecordingServer, monkeypatch: pytest.MonkeyPatch) -> RecordingServer:
    set_twelvelabs_connection(monkeypatch, recording_server.base_url, API_KEY)
    return recording_server


def indexed(status: str) -> dict[str, Any]:
    return {"_id": INDEXED, "asset_id": "a1", "status": status}


def test_deferrable_sensor_checks_once_then_defers_with_its_timeout_as_deadline(
    server: RecordingServer,
) -> None:
    server.on("GET", f"indexes/{INDEX}/indexed-assets/{INDEXED}", Reply(json=indexed("indexing")))
    sensor = TwelveLabsIndexedAssetSensor(
        task_id="s", index_id=INDEX, indexed_asset_id=INDEXED, deferrable=True, timeout=900, poke_interval=30
    )
    before = time.time()
    with pytest.raises(TaskDeferred) as info:
        sensor.execute({})
    trigger = info.value.trigger
    assert isinstance(trigger, TwelveLabsResourceTrigger)
    kwargs = trigger.serialize()[1]
    assert (kwargs["kind"], kwargs["resource_id"], kwargs["index_id"]) == ("indexed_asset", INDEXED, INDEX)
    assert before + 900 <= kwargs["deadline"] <= time.time() + 900
    assert kwargs["poll_max_interval"] == 30
    assert info.value.method_name == "execute_complete"
    assert len(server.requests) == 1


def test_deferrable_sensor_finishes_without_deferring_when_ready(server: RecordingServer) -> None:
    server.on("GET", f"indexes/{INDEX}/indexed-assets/{INDEXED}", Reply(json=indexed("ready")))
    sensor = TwelveLabsIndexedAssetSensor(
        task_id="s", index_id=INDEX, indexed_asset_id=INDEXED, deferrable=True
    )
    assert sensor.execute({}) == {"id": INDEXED, "asset_id": "a1", "status": "ready"}


def test_poke_mode_waits_and_returns_the_resource(server: RecordingServer) -> None:
    server.on(
        "GET",
        f"tasks/{TASK}",
        Reply(json={"_id": TASK, "status": "queued"}),
        Reply(json={"_id": TASK, "status": "ready", "video_id": "v9"}),
    )
    sensor = TwelveLabsIndexingTaskSensor(task_id="s", indexing_task_id=TASK, poke_interval=0.01, timeout=10)
    assert sensor.execute({}) == {"id": TASK, "status": "ready", "video_id": "v9"}
    assert len(server.requests) == 2


def test_poke_mode_failure_raises_or_skips_with_soft_fail(server: RecordingServer) -> None:
    failed = {"_id": TASK, "status": "failed", "error": {"message": "The embedding task could not complete"}}
    server.on("GET", f"embed-v2/tasks/{TASK}", Reply(json=failed))
    with pytest.raises(TwelveLabsResourceFailedError, match="could not complete"):
        TwelveLabsEmbeddingTaskSensor(task_id="s", embedding_task_id=TASK, poke_interval=0.01).execute({})
    with pytest.raises(AirflowSkipException, match="could not complete"):
        TwelveLabsEmbeddingTaskSensor(
            task_id="s", embedding_task_id=TASK, poke_interval=0.01, soft_fail=True
        ).execute({})


def test_embedding_sensor_v1_polls_the_v1_status_endpoint(server: RecordingServer) -> None:
    server.on("GET", f"embed/tasks/{TASK}/status", Reply(json={"_id": TASK, "status": "ready"}))
    sensor = TwelveLabsEmbeddingTaskSensor(task_id="s", embedding_task_id=TASK, api_version="v1")
    assert sensor.execute({})["status"] == "ready"
    assert server.requests[0].api_path == f"embed/tasks/{TASK}/status"
    with pytest.raises(ValueError, match="api_version"):
        TwelveLabsEmbeddingTaskSensor(task_id="s", embedding_task_id=TASK, api_version="v3")


def test_poke_mode_times_out(server: RecordingServer) -> None:
    server.on("GET", "assets/a1", Reply(json={"_id": "a1", "status": "processing"}))
    with pytest.raises(AirflowSensorTimeout):
        TwelveLabsAssetSensor(task_id="s", asset_id="a1", poke_interval=0.05, timeout=0.2).execute({})
    with pytest.raises(AirflowSkipException):
        TwelveLabsAssetSensor(
            task_id="s", asset_id="a1", poke_interval=0.05, timeout=0.2, soft_fail=True
        ).execute({})


def event(status: str, **fields: Any) -> dict[str, Any]:
    return {"status": status, "kind": "asset", "resource_id": "a1", "index_id": None, **fields}


def test_execute_complete_paths() -> None:
    sensor = TwelveLabsAssetSensor(task_id="s", asset_id="a1")
    assert sensor.execute_complete({}, event("success", resource={"id": "a1", "status": "ready"})) == {
        "id": "a1",
        "status": "ready",
    }
    with pytest.raises(TwelveLabsResourceFailedError, match="unplayable"):
        sensor.execute_complete({}, event("failed", message="unplayable"))
    with pytest.raises(AirflowSensorTimeout, match=r"a1.*processing"):
        sensor.execute_complete({}, event("timeout", last_status="processing"))
    with pytest.raises(TwelveLabsError, match="bad key"):
        sensor.execute_complete({}, event("error", message="bad key"))
    with pytest.raises(TwelveLabsError, match="without a TwelveLabs trigger event"):
        sensor.execute_complete({}, None)
    with pytest.raises(TwelveLabsError, match="Unknown"):
        sensor.execute_complete({}, event("paused"))
    # The operators' validator: a success event must carry a final resource.
    with pytest.raises(TwelveLabsError, match=r"a1.*not a final status"):
        sensor.execute_complete({}, event("success", resource={"id": "a1", "status": "processing"}))


@pytest.mark.parametrize(
    "bad_event",
    [
        event("failed", message="unplayable"),
        event("timeout", last_status="processing"),
        event("error", message="x"),
    ],
)
def test_soft_fail_turns_a_deferred_failure_into_a_skip(bad_event: dict[str, Any]) -> None:
    sensor = TwelveLabsAssetSensor(task_id="s", asset_id="a1", soft_fail=True)
    with pytest.raises(AirflowSkipException):
        sensor.resume_execution("execute_complete", {"event": bad_event}, {})


def test_ids_are_templated() -> None:
    assert set(TwelveLabsIndexedAssetSensor.template_fields) == {"index_id", "indexed_asset_id"}
    assert "asset_id" in TwelveLabsAssetSensor.template_fields
    assert "indexing_task_id" in TwelveLabsIndexingTaskSensor.template_fields
    assert "embedding_task_id" in TwelveLabsEmbeddingTaskSensor.template_fields
