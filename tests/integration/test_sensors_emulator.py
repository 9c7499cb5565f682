"""The TwelveLabs sensors against the emulator on 127.0.0.1, in poke mode and deferred to the trigger."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from airflow.providers.common.compat.sdk import AirflowSensorTimeout, AirflowSkipException, TaskDeferred

from airflow_provider_twelvelabs.exceptions import TwelveLabsResourceFailedError
from airflow_provider_twelvelabs.hooks.twelvelabs import TwelveLabsHook
from airflow_provider_twelvelabs.sensors.twelvelabs import (
    TwelveLabsAssetSensor,
    TwelveLabsEmbeddingTaskSensor,
    TwelveLabsIndexedAssetSensor,
    TwelveLabsIndexingTaskSensor,
)
from airflow_provider_twelvelabs.testing.emulator.config import EmulatorConfig
from airflow_provider_twelvelabs.testing.emulator.server import RunningEmulator
from airflow_provider_twelvelabs.triggers.twelvelabs import TwelveLabsResourceTrigger

pytestmark = pytest.mark.integration

POKE = {"poke_interval": 0.05, "timeout": 20}
MODELS = [{"model_name": "marengo3.0", "model_options": ["visual", "audio"]}]


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    return EmulatorConfig()


@pytest.fixture
def twelvelabs_emulator_config(emulator_config: EmulatorConfig) -> EmulatorConfig:
    return emulator_config


@pytest.fixture
def emulator(twelvelabs_connection: RunningEmulator) -> RunningEmulator:
    return twelvelabs_connection


@pytest.fixture
def hook(emulator: RunningEmulator) -> Iterator[TwelveLabsHook]:
    with TwelveLabsHook() as h:
        yield h


def url(name: str) -> str:
    return f"https://media.example.com/{name}"


def test_asset_sensor_pokes_until_ready(hook: TwelveLabsHook) -> None:
    asset = hook.create_asset(method="url", url=url("clip.mp4"))
    result = TwelveLabsAssetSensor(task_id="s", asset_id=asset.id, **POKE).execute({})
    assert result["id"] == asset.id and result["status"] == "ready"
    assert hook.get_asset(asset.id).status == "ready"


def test_indexed_asset_sensor_pokes_until_ready(hook: TwelveLabsHook) -> None:
    asset = hook.create_asset(method="url", url=url("clip.mp4"))
    TwelveLabsAssetSensor(task_id="a", asset_id=asset.id, **POKE).execute({})
    index = hook.create_index(index_name="sensors", models=MODELS)
    indexed = hook.create_indexed_asset(index.id, asset_id=asset.id)
    result = TwelveLabsIndexedAssetSensor(
        task_id="s", index_id=index.id, indexed_asset_id=indexed.id, **POKE
    ).execute({})
    assert result["id"] == indexed.id and result["status"] == "ready"


def test_failed_task_raises_the_api_reason_or_skips(hook: TwelveLabsHook) -> None:
    index = hook.create_index(index_name="sensors", models=MODELS)
    task = hook.create_indexing_task(index_id=index.id, video_url=url("fail.mp4"))
    with pytest.raises(TwelveLabsResourceFailedError) as info:
        TwelveLabsIndexingTaskSensor(task_id="s", indexing_task_id=task.id, **POKE).execute({})
    assert info.value.reason and info.value.reason == hook.get_indexing_task(task.id).error.message
    with pytest.raises(AirflowSkipException):
        TwelveLabsIndexingTaskSensor(task_id="s", indexing_task_id=task.id, soft_fail=True, **POKE).execute(
            {}
        )


@pytest.mark.parametrize("emulator_config", [EmulatorConfig(polls_per_step=0, step_seconds=0)])
def test_sensor_timeout_fails_or_skips(hook: TwelveLabsHook) -> None:
    body = {
        "input_type": "video",
        "model_name": "marengo3.0",
        "video": {"media_source": {"url": url("v.mp4")}},
    }
    task = hook.create_embedding_task(body)
    with pytest.raises(AirflowSensorTimeout):
        TwelveLabsEmbeddingTaskSensor(
            task_id="s", embedding_task_id=task.id, poke_interval=0.05, timeout=0.3
        ).execute({})
    with pytest.raises(AirflowSkipException):
        TwelveLabsEmbeddingTaskSensor(
            task_id="s", embedding_task_id=task.id, poke_interval=0.05, timeout=0.3, soft_fail=True
        ).execute({})


async def test_deferrable_sensor_defers_and_completes_from_the_trigger_event(hook: TwelveLabsHook) -> None:
    body = {
        "input_type": "video",
        "model_name": "marengo3.0",
        "video": {"media_source": {"url": url("v.mp4")}},
    }
    task = hook.create_embedding_task(body)
    sensor = TwelveLabsEmbeddingTaskSensor(
        task_id="s",
        embedding_task_id=task.id,
        deferrable=True,
        timeout=60,
        poll_interval=0.05,
        poke_interval=1,
    )
    with pytest.raises(TaskDeferred) as info:
        sensor.execute({})
    trigger = info.value.trigger
    assert isinstance(trigger, TwelveLabsResourceTrigger)
    assert trigger.serialize()[1]["deadline"] <= time.time() + 60
    try:
        events = [e.payload async for e in TwelveLabsResourceTrigger(**trigger.serialize()[1]).run()]
    finally:
        await TwelveLabsHook.aclose_shared_clients()
    assert len(events) == 1
    result = sensor.execute_complete({}, events[0])
    assert result["id"] == task.id and result["status"] == "ready" and "data" not in result


def test_analyze_task_and_batch_sensors_poke_until_final(hook: TwelveLabsHook) -> None:
    from airflow_provider_twelvelabs.sensors.twelvelabs import (
        TwelveLabsAnalyzeBatchSensor,
        TwelveLabsAnalyzeTaskSensor,
    )

    task = hook.create_analyze_task({"video": {"type": "url", "url": url("s.mp4")}, "prompt": "Describe"})
    result = TwelveLabsAnalyzeTaskSensor(task_id="t", analyze_task_id=task.id, **POKE).execute({})
    assert result["id"] == task.id and result["status"] == "ready"

    asset = hook.create_asset(method="url", url=url("b.mp4"))
    TwelveLabsAssetSensor(task_id="a", asset_id=asset.id, **POKE).execute({})
    batch = hook.create_analyze_batch(
        model_name="pegasus1.5",
        analysis_mode="general",
        defaults={"prompt": {"input_text": "Describe"}},
        requests=[{"video": {"type": "asset_id", "asset_id": asset.id}}],
    )
    whole = TwelveLabsAnalyzeBatchSensor(task_id="b", analyze_batch_id=batch.id, **POKE).execute({})
    assert whole["id"] == batch.id and whole["status"] == "completed" and whole["ready_items"] == 1
