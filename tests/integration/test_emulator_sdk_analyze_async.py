"""The official SDK (twelvelabs==1.3.6), unmodified, drives the emulator's asynchronous analyze endpoints."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from airflow_provider_twelvelabs.testing.emulator.server import RunningEmulator, serve_emulator
from tests.integration.compute_support import api_client, ready_asset

twelvelabs = pytest.importorskip("twelvelabs")

from twelvelabs import (  # noqa: E402 - after importorskip on purpose
    AnalyzePromptV2,
    AsyncResponseFormat,
    BadRequestError,
    BatchDefaults,
    BatchItemRequest,
    BatchPrompt,
    BatchVideoContext,
    ConflictError,
    NotFoundError,
    SegmentDefinition,
    SegmentField,
    TooManyRequestsError,
    TwelveLabs,
    VideoContext_AssetId,
    VideoContext_Url,
)

pytestmark = pytest.mark.integration

URL = "https://media.example.com/keynote.mp4?duration=300"


@pytest.fixture
def emulator() -> Iterator[RunningEmulator]:
    with serve_emulator() as running:
        yield running


@pytest.fixture
def sdk(emulator: RunningEmulator) -> TwelveLabs:
    return TwelveLabs(api_key=emulator.api_key, base_url=emulator.base_url)


@pytest.fixture
def asset_id(emulator: RunningEmulator) -> str:
    with api_client(emulator) as client:
        return ready_asset(client, "https://media.example.com/episode.mp4?duration=120")


def test_sdk_task_create_retrieve_list_cancel_delete(sdk: TwelveLabs, asset_id: str) -> None:
    tasks = sdk.analyze_async.tasks
    created = tasks.create(video=VideoContext_Url(url=URL), prompt="Summarize the talk", custom_id="sdk-1")
    assert created.status == "queued"
    statuses = [tasks.retrieve(created.task_id).status for _ in range(4)]
    assert statuses == ["queued", "pending", "processing", "ready"]
    ready = tasks.retrieve(created.task_id)
    assert ready.custom_id == "sdk-1" and ready.result is not None and ready.result.finish_reason == "stop"
    assert ready.completed_at is not None and ready.completed_at >= ready.created_at

    other = tasks.create(
        video=VideoContext_AssetId(asset_id=asset_id),
        model_name="pegasus1.6",
        prompt_v_2=AnalyzePromptV2(input_text="Is it outdoors?"),
    )
    listed = tasks.list(asset_id=asset_id)
    assert [t.task_id for t in listed.data] == [other.task_id]
    assert listed.data[0].request_params is not None
    assert listed.data[0].request_params.prompt_v_2 is not None
    assert listed.data[0].request_params.prompt_v_2.input_text == "Is it outdoors?"

    with pytest.raises(ConflictError):
        tasks.delete(other.task_id)
    assert tasks.cancel(other.task_id).status == "canceled"
    canceled = tasks.retrieve(other.task_id)
    assert (
        canceled.status == "canceled"
        and canceled.error is not None
        and canceled.error.code == "user_canceled"
    )
    tasks.delete(other.task_id)
    with pytest.raises(NotFoundError):
        tasks.retrieve(other.task_id)
    with pytest.raises(BadRequestError):
        tasks.create(video=VideoContext_Url(url=URL), prompt="x", max_tokens=10)


def test_sdk_segmentation_task(sdk: TwelveLabs) -> None:
    tasks = sdk.analyze_async.tasks
    created = tasks.create(
        video=VideoContext_Url(url=URL),
        analysis_mode="time_based_metadata",
        response_format=AsyncResponseFormat(
            type="segment_definitions",
            segment_definitions=[
                SegmentDefinition(
                    id="speaker",
                    description="A person speaking",
                    fields=[
                        SegmentField(name="name", type="string", description="Who"),
                        SegmentField(name="at", type="timestamp", description="When", format="seconds"),
                    ],
                )
            ],
        ),
        max_segment_duration=30,
    )
    for _ in range(4):
        task = tasks.retrieve(created.task_id)
    assert task.status == "ready" and task.result is not None
    segments = json.loads(task.result.data)["speaker"]
    assert segments and all(0 <= s["start_time"] < s["end_time"] <= 300 for s in segments)
    assert all(s["start_time"] <= s["metadata"]["at"] <= s["end_time"] for s in segments)
    assert all(isinstance(s["metadata"]["name"], str) for s in segments)
    params = task.request_params
    assert params is not None and params.response_format is not None
    assert params.response_format.segment_definitions is not None
    assert params.response_format.segment_definitions[0].fields is not None
    assert params.response_format.segment_definitions[0].fields[1].format == "seconds"


def test_sdk_batch_create_poll_results_cancel_delete(sdk: TwelveLabs, asset_id: str) -> None:
    batches = sdk.analyze_async.batches
    created = batches.create(
        model_name="pegasus1.5",
        analysis_mode="general",
        defaults=BatchDefaults(prompt=BatchPrompt(input_text="Summarize"), temperature=0.1),
        requests=[
            BatchItemRequest(video=BatchVideoContext(type="asset_id", asset_id=asset_id), custom_id=f"ep-{i}")
            for i in range(3)
        ],
    )
    assert created.status == "pending" and [i.custom_id for i in created.items] == ["ep-0", "ep-1", "ep-2"]
    statuses = [batches.retrieve(created.batch_id).status for _ in range(4)]
    assert statuses == ["pending", "pending", "processing", "completed"]
    results = list(batches.results(created.batch_id))
    assert [(r.custom_id, r.status) for r in results] == [
        ("ep-0", "ready"),
        ("ep-1", "ready"),
        ("ep-2", "ready"),
    ]
    assert all(r.data is not None and r.data.generation_id for r in results)
    task = sdk.analyze_async.tasks.retrieve(results[1].task_id)
    assert task.batch_id == created.batch_id and task.custom_id == "ep-1"
    assert [b.batch_id for b in batches.list(status=["completed"])] == [created.batch_id]

    running = batches.create(
        model_name="pegasus1.5",
        analysis_mode="general",
        defaults=BatchDefaults(prompt=BatchPrompt(input_text="x")),
        requests=[BatchItemRequest(video=BatchVideoContext(type="asset_id", asset_id=asset_id))],
    )
    with pytest.raises(ConflictError):
        batches.delete(running.batch_id)
    assert batches.cancel(running.batch_id).status == "canceled"
    assert [r.status for r in batches.results(running.batch_id)] == ["canceled"]
    batches.delete(running.batch_id)
    batches.delete(created.batch_id)
    with pytest.raises(NotFoundError):
        batches.retrieve(created.batch_id)
    with pytest.raises(NotFoundError):
        list(batches.results(created.batch_id))


def test_sdk_sees_the_active_batch_limit(sdk: TwelveLabs, asset_id: str, emulator: RunningEmulator) -> None:
    emulator.config.analyze_max_active_batches = 1
    batches = sdk.analyze_async.batches

    def make() -> str:
        return batches.create(
            model_name="pegasus1.5",
            analysis_mode="general",
            defaults=BatchDefaults(prompt=BatchPrompt(input_text="x")),
            requests=[BatchItemRequest(video=BatchVideoContext(type="asset_id", asset_id=asset_id))],
            request_options={"max_retries": 0},
        ).batch_id

    make()
    with pytest.raises(TooManyRequestsError):
        make()


def test_sdk_sync_analyze_sends_a_video_object(sdk: TwelveLabs) -> None:
    answer = sdk.analyze(video=VideoContext_Url(url=URL), prompt="What happens?")
    assert answer.data and answer.finish_reason == "stop"
