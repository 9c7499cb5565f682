"""Asynchronous analyze endpoints of the emulator (``/analyze/tasks``, ``/analyze/batches``), over real HTTP.

Every answer is parsed with SDK 1.3.6's own pydantic types: the OpenAPI file predates these endpoints.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any, TypeVar

import httpx
import jsonschema
import pytest

from airflow_provider_twelvelabs.testing.emulator import EmulatorConfig
from airflow_provider_twelvelabs.testing.emulator.server import RunningEmulator, serve_emulator
from tests.integration.compute_support import api_client, ready_asset

twelvelabs = pytest.importorskip("twelvelabs")

from twelvelabs.analyze_async.batches.types import BatchesListResponse  # noqa: E402
from twelvelabs.analyze_async.tasks.types import TasksListResponse  # noqa: E402
from twelvelabs.core.pydantic_utilities import parse_obj_as  # noqa: E402
from twelvelabs.types import (  # noqa: E402
    AnalyzeBatchStatusResponse,
    AnalyzeTaskResponse,
    BatchResultItem,
    CancelAnalyzeTaskResponse,
    CreateAnalyzeBatchResponse,
    CreateAnalyzeTaskResponse,
)

pytestmark = pytest.mark.integration
T = TypeVar("T")


def parse(type_: type[T], payload: Any) -> T:
    """Parse an answer the way the SDK does (it maps wire aliases such as ``prompt_v2``)."""
    return parse_obj_as(type_, payload)  # type: ignore[no-any-return]


VIDEO = {"type": "url", "url": "https://media.example.com/keynote.mp4?duration=300"}
SEGMENTS = {
    "type": "segment_definitions",
    "segment_definitions": [
        {
            "id": "scene",
            "description": "A scene of the keynote",
            "fields": [
                {"name": "summary", "type": "string", "description": "What happens"},
                {"name": "mood", "type": "string", "description": "Mood", "enum": ["calm", "tense"]},
                {"name": "people", "type": "integer", "description": "How many people"},
                {"name": "on_stage", "type": "boolean", "description": "Anyone on stage"},
                {"name": "score", "type": "number", "description": "Interest"},
                {"name": "tags", "type": "array", "description": "Tags", "items": {"type": "string"}},
                {"name": "peak", "type": "timestamp", "description": "Peak", "format": "hh:mm:ss.fff"},
            ],
        },
        {"id": "logo", "description": "A logo on screen"},
    ],
}


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    return EmulatorConfig()


@pytest.fixture
def emulator(emulator_config: EmulatorConfig) -> Iterator[RunningEmulator]:
    with serve_emulator(emulator_config) as running:
        yield running


@pytest.fixture
def client(emulator: RunningEmulator) -> Iterator[httpx.Client]:
    with api_client(emulator) as c:
        yield c


def create(client: httpx.Client, **body: Any) -> str:
    response = client.post("/analyze/tasks", json=body)
    assert response.status_code == 200, response.text
    created = parse(CreateAnalyzeTaskResponse, response.json())
    assert created.status == "queued"
    return created.task_id


def get(client: httpx.Client, task_id: str) -> AnalyzeTaskResponse:
    response = client.get(f"/analyze/tasks/{task_id}")
    assert response.status_code == 200, response.text
    return parse(AnalyzeTaskResponse, response.json())


def wait(client: httpx.Client, task_id: str) -> AnalyzeTaskResponse:
    for _ in range(10):
        task = get(client, task_id)
        if task.status in ("ready", "failed", "canceled"):
            return task
    raise AssertionError(f"task {task_id} never ended")


def error_code(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["message"]
    return str(body["code"])


def seconds(value: Any) -> float:
    if isinstance(value, int | float):
        return float(value)
    h, m, s = value.split(":")
    return int(h) * 3600 + int(m) * 60 + float(s)


# --------------------------------------------------------------------------------------------------
# Tasks
# --------------------------------------------------------------------------------------------------


def test_a_task_moves_queued_pending_processing_ready_and_returns_text(client: httpx.Client) -> None:
    task_id = create(client, video=VIDEO, prompt="Summarize the keynote", custom_id="run-1")
    seen = [get(client, task_id) for _ in range(4)]
    assert [t.status for t in seen] == ["queued", "pending", "processing", "ready"]
    ready = seen[-1]
    assert ready.custom_id == "run-1"
    assert ready.completed_at is not None and seen[0].completed_at is None
    assert ready.result is not None and ready.result.finish_reason == "stop"
    assert ready.result.data and "Summarize the keynote" in ready.result.data
    assert ready.result.usage.output_tokens > 0 and ready.error is None
    assert ready.video_source is not None and ready.video_source.url == VIDEO["url"]
    assert ready.video_source.system_metadata is not None
    assert ready.video_source.system_metadata.duration == 300
    assert ready.request_params is not None and ready.request_params.prompt == "Summarize the keynote"
    assert ready.request_params.analysis_mode == "general"
    # The same request gives the same text: results are deterministic.
    again = wait(client, create(client, video=VIDEO, prompt="Summarize the keynote"))
    assert again.result is not None and again.result.data == ready.result.data


def test_json_schema_result_validates_against_the_schema(client: httpx.Client) -> None:
    schema = {
        "type": "object",
        "properties": {
            "title": {"type": "string"},
            "topics": {"type": "array", "items": {"type": "string"}},
            "rating": {"type": "integer", "minimum": 1, "maximum": 5},
        },
        "required": ["title", "topics", "rating"],
    }
    task = wait(
        client,
        create(
            client,
            video=VIDEO,
            model_name="pegasus1.6",
            prompt="Describe",
            response_format={"type": "json_schema", "json_schema": schema},
        ),
    )
    assert task.result is not None
    jsonschema.validate(json.loads(task.result.data), schema)
    assert task.request_params is not None and task.request_params.response_format is not None
    assert task.request_params.response_format.json_schema == schema


def test_time_based_metadata_gives_segments_with_every_field(client: httpx.Client) -> None:
    body = {
        "video": VIDEO,
        "analysis_mode": "time_based_metadata",
        "response_format": SEGMENTS,
        "min_segment_duration": 10,
        "max_segment_duration": 40,
        "start_time": 20,
        "end_time": 260,
    }
    task = wait(client, create(client, **body))
    assert task.status == "ready" and task.result is not None
    data = json.loads(task.result.data)
    assert set(data) == {"scene", "logo"}
    assert data["scene"] and data["logo"]
    for segment in data["scene"]:
        start, end = segment["start_time"], segment["end_time"]
        assert 20 <= start < end <= 260
        assert 10 - 1e-6 <= end - start <= 40 + 1e-6
        meta = segment["metadata"]
        assert set(meta) == {"summary", "mood", "people", "on_stage", "score", "tags", "peak"}
        assert isinstance(meta["summary"], str) and meta["mood"] in ("calm", "tense")
        assert isinstance(meta["people"], int) and isinstance(meta["on_stage"], bool)
        assert isinstance(meta["score"], float) and all(isinstance(t, str) for t in meta["tags"])
        assert re.fullmatch(r"\d\d:\d\d:\d\d\.\d{3}", meta["peak"])
        assert start - 0.001 <= seconds(meta["peak"]) <= end + 0.001
    assert all(s["metadata"] == {} for s in data["logo"])
    params = task.request_params
    assert params is not None and params.min_segment_duration == 10 and params.start_time == 20


def test_time_arrays_time_ranges_and_segment_time_format(client: httpx.Client) -> None:
    response_format = {
        "type": "segment_definitions",
        "segment_time_format": "hh:mm:ss",
        "segment_definitions": [
            {
                "id": "talk",
                "description": "A talk",
                "time_ranges": [{"start_time": 0, "end_time": 60}, {"start_time": 100, "end_time": 160}],
                "fields": [
                    {
                        "name": "moments",
                        "type": "time_array",
                        "description": "Applause moments",
                        "items": {
                            "type": "object",
                            "fields": [{"name": "loud", "type": "boolean", "description": "Loud"}],
                        },
                    }
                ],
            }
        ],
    }
    task = wait(
        client,
        create(
            client,
            video=VIDEO,
            model_name="pegasus1.6",
            analysis_mode="time_based_metadata",
            response_format=response_format,
        ),
    )
    assert task.result is not None
    for segment in json.loads(task.result.data)["talk"]:
        assert re.fullmatch(r"\d\d:\d\d:\d\d", segment["start_time"])
        start, end = seconds(segment["start_time"]), seconds(segment["end_time"])
        assert 0 <= start <= end <= 60 or 100 <= start <= end <= 160
        for event in segment["metadata"]["moments"]:
            assert set(event) == {"start_time", "end_time", "loud"}
            assert start - 1 <= seconds(event["start_time"]) <= seconds(event["end_time"]) <= end + 1


def test_images_and_a_structured_prompt_with_reference_images(client: httpx.Client) -> None:
    image = {"url": "https://media.example.com/a.jpg"}
    task = wait(
        client,
        create(
            client,
            model_name="pegasus1.6",
            image=[{"name": "before", **image}, {"name": "after", "url": "https://media.example.com/b.jpg"}],
            prompt="Compare <@before> with <@after>",
        ),
    )
    assert task.status == "ready" and task.video_source is None
    assert task.request_params is not None and [i.name for i in task.request_params.image or []] == [
        "before",
        "after",
    ]
    with_refs = wait(
        client,
        create(
            client,
            video=VIDEO,
            prompt_v2={
                "input_text": "Is there a <@logo> in the video?",
                "media_sources": [{"name": "logo", "media_type": "image", **image}],
            },
        ),
    )
    params = with_refs.request_params
    assert params is not None and params.prompt is None and params.prompt_v_2 is not None
    assert (
        params.prompt_v_2.media_sources is not None and params.prompt_v_2.media_sources[0].url == image["url"]
    )


def test_a_task_on_an_uploaded_asset(client: httpx.Client) -> None:
    asset_id = ready_asset(client, "https://media.example.com/talk.mp4?duration=90")
    task = wait(client, create(client, video={"type": "asset_id", "asset_id": asset_id}, prompt="Describe"))
    assert task.status == "ready"
    assert task.video_source is not None and task.video_source.asset_id == asset_id
    assert task.video_source.type == "asset_id"


def test_a_long_video_is_accepted_with_a_window_of_at_most_two_hours(client: httpx.Client) -> None:
    long_video = {"type": "url", "url": "https://media.example.com/match.mp4?duration=12000"}
    assert wait(client, create(client, video=long_video, prompt="Goals?", start_time=0, end_time=7000))
    response = client.post("/analyze/tasks", json={"video": long_video, "prompt": "Goals?"})
    assert error_code(response, 400) == "video_duration_too_long"
    too_long = {"type": "url", "url": "https://media.example.com/marathon.mp4?duration=15000"}
    response = client.post(
        "/analyze/tasks", json={"video": too_long, "prompt": "x", "start_time": 0, "end_time": 3600}
    )
    assert error_code(response, 400) == "video_duration_too_long"


TIMESTAMP_NO_FORMAT = {
    "type": "segment_definitions",
    "segment_definitions": [
        {"id": "a", "description": "d", "fields": [{"name": "t", "type": "timestamp", "description": "x"}]}
    ],
}
TIME_ARRAY = {
    "type": "segment_definitions",
    "segment_definitions": [
        {
            "id": "a",
            "description": "d",
            "fields": [
                {
                    "name": "events",
                    "type": "time_array",
                    "description": "x",
                    "items": {
                        "type": "object",
                        "fields": [{"name": "n", "type": "string", "description": "x"}],
                    },
                }
            ],
        }
    ],
}
RANGED = {
    "type": "segment_definitions",
    "segment_definitions": [
        {"id": "a", "description": "d", "time_ranges": [{"start_time": 0, "end_time": 10}]},
    ],
}
TBM = {"analysis_mode": "time_based_metadata"}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"video": VIDEO, "prompt": "x", "model_name": "pegasus1.2"}, "parameter_invalid"),
        ({"video": VIDEO, "prompt": "x", "colour": "red"}, "parameter_unknown"),
        ({"prompt": "x"}, "parameter_not_provided"),
        ({"video": VIDEO}, "parameter_not_provided"),
        ({"video": VIDEO, "prompt": "x", "prompt_v2": {"input_text": "y"}}, "parameter_invalid"),
        (
            {"video": VIDEO, "prompt": "x", "image": [{"name": "a", "url": "https://e.com/a.jpg"}]},
            "parameter_invalid",
        ),
        ({"image": [{"name": "a", "url": "https://e.com/a.jpg"}], "prompt": "x"}, "parameter_invalid"),
        ({"video": {"type": "s3", "s3": "x"}, "prompt": "x"}, "parameter_invalid"),
        ({"video": VIDEO, "prompt": "x", "custom_id": ""}, "parameter_invalid"),
        ({"video": VIDEO, "prompt": "x", "custom_id": "has space"}, "parameter_invalid"),
        ({"video": VIDEO, "prompt": "x", "temperature": 1.5}, "parameter_invalid"),
        ({"video": VIDEO, "prompt": "x", "max_tokens": 100}, "parameter_invalid"),
        ({"video": VIDEO, "prompt": "x", "max_tokens": "unlimited"}, "parameter_invalid"),
        (
            {"video": VIDEO, **TBM, "response_format": SEGMENTS, "max_tokens": "unlimited"},
            "parameter_invalid",
        ),
        ({"video": VIDEO, **TBM, "response_format": SEGMENTS, "max_tokens": 1000}, "parameter_invalid"),
        ({"video": VIDEO, **TBM, "prompt": "x", "response_format": SEGMENTS}, "parameter_invalid"),
        ({"video": VIDEO, **TBM}, "parameter_not_provided"),
        ({"video": VIDEO, "prompt": "x", "response_format": SEGMENTS}, "parameter_invalid"),
        ({"video": VIDEO, "prompt": "x", "min_segment_duration": 5}, "parameter_invalid"),
        (
            {"video": VIDEO, **TBM, "response_format": SEGMENTS, "min_segment_duration": 1},
            "parameter_invalid",
        ),
        (
            {
                "video": VIDEO,
                **TBM,
                "response_format": SEGMENTS,
                "min_segment_duration": 9,
                "max_segment_duration": 5,
            },
            "parameter_invalid",
        ),
        ({"video": VIDEO, **TBM, "response_format": TIMESTAMP_NO_FORMAT}, "parameter_invalid"),
        ({"video": VIDEO, **TBM, "response_format": TIME_ARRAY}, "parameter_invalid"),
        ({"video": VIDEO, **TBM, "response_format": RANGED, "start_time": 0}, "parameter_invalid"),
        ({"video": VIDEO, "prompt": "x", "start_time": 10, "end_time": 10.5}, "parameter_invalid"),
        ({"video": VIDEO, "prompt": "x", "start_time": 400}, "parameter_invalid"),
        (
            {
                "video": VIDEO,
                "prompt": "x",
                "response_format": {"type": "json_schema", "json_schema": {"maxLength": 3}},
            },
            "parameter_invalid",
        ),
    ],
)
def test_bad_requests_are_refused_with_the_api_codes(
    client: httpx.Client, body: dict[str, Any], code: str
) -> None:
    status = 422 if "maxLength" in json.dumps(body) else 400
    assert error_code(client.post("/analyze/tasks", json=body), status) == code
    assert client.get("/analyze/tasks").json()["data"] == []


def test_segmentation_over_a_numeric_max_tokens_fails_and_unlimited_does_not(client: httpx.Client) -> None:
    body = {
        "video": VIDEO,
        **TBM,
        "response_format": SEGMENTS,
        "min_segment_duration": 2,
        "max_segment_duration": 2,
        "max_tokens": 2048,
    }
    failed = wait(client, create(client, **body))
    assert failed.status == "failed" and failed.result is None
    assert failed.error is not None and "max_tokens" in failed.error.message
    roomy = wait(client, create(client, **{**body, "max_tokens": 98_304}))
    assert roomy.status == "ready" and roomy.result is not None
    assert len(json.loads(roomy.result.data)["scene"]) > 20
    unlimited = wait(
        client, create(client, **{**body, "max_tokens": "unlimited", "model_name": "pegasus1.6"})
    )
    assert unlimited.status == "ready" and unlimited.result is not None
    assert unlimited.result.finish_reason == "stop"
    assert unlimited.request_params is not None and unlimited.request_params.max_tokens == "unlimited"


def test_time_array_needs_pegasus_1_6_and_works_with_it(client: httpx.Client) -> None:
    task_id = create(client, video=VIDEO, model_name="pegasus1.6", **TBM, response_format=TIME_ARRAY)
    assert wait(client, task_id).status == "ready"


def test_unknown_ids_are_404(client: httpx.Client) -> None:
    missing = "0" * 24
    for response in (
        client.get(f"/analyze/tasks/{missing}"),
        client.delete(f"/analyze/tasks/{missing}"),
        client.post(f"/analyze/tasks/{missing}/cancel"),
        client.get(f"/analyze/batches/{missing}"),
        client.delete(f"/analyze/batches/{missing}"),
        client.post(f"/analyze/batches/{missing}/cancel"),
        client.get(f"/analyze/batches/{missing}/results"),
    ):
        assert error_code(response, 404) == "resource_not_exist"
    asset = {"type": "asset_id", "asset_id": missing}
    assert (
        error_code(client.post("/analyze/tasks", json={"video": asset, "prompt": "x"}), 404)
        == "resource_not_exist"
    )


def test_cancel_and_delete(client: httpx.Client) -> None:
    task_id = create(client, video=VIDEO, prompt="x")
    assert error_code(client.delete(f"/analyze/tasks/{task_id}"), 409) == "task_cannot_be_deleted"
    response = client.post(f"/analyze/tasks/{task_id}/cancel")
    assert response.status_code == 200
    assert parse(CancelAnalyzeTaskResponse, response.json()).status == "canceled"
    assert client.post(f"/analyze/tasks/{task_id}/cancel").status_code == 200  # idempotent
    canceled = get(client, task_id)
    assert canceled.status == "canceled" and canceled.result is None and canceled.completed_at is not None
    assert canceled.error is not None and canceled.error.code == "user_canceled"
    for _ in range(5):
        assert get(client, task_id).status == "canceled"
    assert client.delete(f"/analyze/tasks/{task_id}").status_code == 204
    assert client.get(f"/analyze/tasks/{task_id}").status_code == 404

    done = wait(client, create(client, video=VIDEO, prompt="x"))
    assert error_code(client.post(f"/analyze/tasks/{done.task_id}/cancel"), 409) == "task_cannot_be_canceled"
    assert client.delete(f"/analyze/tasks/{done.task_id}").status_code == 204


def test_list_filters_pages_and_shortens_prompts(client: httpx.Client) -> None:
    asset_id = ready_asset(client, "https://media.example.com/talk.mp4?duration=90")
    long_prompt = "Describe every scene of this video in great detail please"
    first = create(client, video=VIDEO, prompt=long_prompt)
    second = create(client, video={"type": "asset_id", "asset_id": asset_id}, prompt="x")
    third = create(client, video=VIDEO, **TBM, response_format=SEGMENTS)
    client.post(f"/analyze/tasks/{second}/cancel")

    def ids(**params: Any) -> list[str]:
        response = client.get("/analyze/tasks", params=params)
        assert response.status_code == 200, response.text
        return [t.task_id for t in parse(TasksListResponse, response.json()).data]

    assert ids() == [third, second, first]
    assert ids(asset_id=asset_id) == [second]
    assert ids(video_url=VIDEO["url"]) == [third, first]
    assert ids(analysis_mode="time_based_metadata") == [third]
    assert ids(status="canceled") == [second]
    assert ids(page_limit=2, page=2) == [first]
    assert ids(page=3, page_limit=2) == []
    page = parse(TasksListResponse, client.get("/analyze/tasks", params={"page_limit": 2}).json())
    assert page.page_info.total_results == 3 and page.page_info.total_page == 2
    listed = {t.task_id: t for t in parse(TasksListResponse, client.get("/analyze/tasks").json()).data}
    assert (
        listed[first].request_params is not None and listed[first].request_params.prompt == long_prompt[:30]
    )
    assert get(client, first).request_params.prompt == long_prompt  # type: ignore[union-attr]
    assert error_code(client.get("/analyze/tasks", params={"status": "done"}), 400) == "parameter_invalid"


@pytest.mark.parametrize("emulator_config", [EmulatorConfig(analyze_task_fail=True)])
def test_switch_makes_tasks_fail(client: httpx.Client) -> None:
    task = wait(client, create(client, video=VIDEO, prompt="x"))
    assert task.status == "failed" and task.result is None
    assert task.error is not None and task.error.message


def test_a_video_marked_fail_analyze_fails_while_processing(client: httpx.Client) -> None:
    video = {"type": "url", "url": "https://media.example.com/fail_analyze.mp4"}
    task = wait(client, create(client, video=video, prompt="x"))
    assert task.status == "failed" and task.error is not None and task.error.code == "video_file_broken"


@pytest.mark.parametrize("emulator_config", [EmulatorConfig(analyze_task_never_finish=True)])
def test_switch_keeps_tasks_processing_until_canceled(
    client: httpx.Client, emulator: RunningEmulator
) -> None:
    task_id = create(client, video=VIDEO, prompt="x")
    statuses = [get(client, task_id).status for _ in range(8)]
    assert statuses[-1] == "processing" and "ready" not in statuses
    httpx.post(f"{emulator.url}/_emulator/advance", json={"complete": True}).raise_for_status()
    assert get(client, task_id).status == "processing"
    assert client.post(f"/analyze/tasks/{task_id}/cancel").status_code == 200
    assert get(client, task_id).status == "canceled"


@pytest.mark.parametrize("emulator_config", [EmulatorConfig(analyze_task_warning=True)])
def test_switch_makes_ready_tasks_carry_a_warning(client: httpx.Client) -> None:
    task = wait(client, create(client, video=VIDEO, prompt="Summarize"))
    assert task.status == "ready" and task.result is not None
    assert task.result.finish_reason == "length" and task.result.data
    assert task.error is not None and "max_tokens" in task.error.message
    segmented = wait(client, create(client, video=VIDEO, **TBM, response_format=SEGMENTS))
    assert segmented.status == "ready" and segmented.result is not None
    assert segmented.result.finish_reason == "stop"
    assert segmented.error is not None and "segment_definitions scene" in segmented.error.message


def test_time_driven_progress(emulator: RunningEmulator, client: httpx.Client) -> None:
    emulator.config.polls_per_step = 0
    emulator.config.step_seconds = 60
    task_id = create(client, video=VIDEO, prompt="x")
    assert get(client, task_id).status == "queued"
    assert get(client, task_id).status == "queued"
    httpx.post(f"{emulator.url}/_emulator/advance", json={"seconds": 150}).raise_for_status()
    assert get(client, task_id).status == "processing"
    httpx.post(f"{emulator.url}/_emulator/advance", json={"seconds": 60}).raise_for_status()
    assert get(client, task_id).status == "ready"


# --------------------------------------------------------------------------------------------------
# Batches
# --------------------------------------------------------------------------------------------------


def create_batch(
    client: httpx.Client, requests: list[dict[str, Any]], **body: Any
) -> CreateAnalyzeBatchResponse:
    payload = {"model_name": "pegasus1.5", "analysis_mode": "general", "requests": requests, **body}
    payload.setdefault("defaults", {"prompt": {"input_text": "Summarize"}})
    response = client.post("/analyze/batches", json=payload)
    assert response.status_code == 200, response.text
    return parse(CreateAnalyzeBatchResponse, response.json())


def get_batch(client: httpx.Client, batch_id: str) -> AnalyzeBatchStatusResponse:
    response = client.get(f"/analyze/batches/{batch_id}")
    assert response.status_code == 200, response.text
    return parse(AnalyzeBatchStatusResponse, response.json())


def results(client: httpx.Client, batch_id: str) -> list[BatchResultItem]:
    with client.stream("GET", f"/analyze/batches/{batch_id}/results") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/jsonl")
        return [parse(BatchResultItem, json.loads(line)) for line in response.iter_lines() if line]


def items(asset_id: str, count: int, **extra: Any) -> list[dict[str, Any]]:
    return [
        {"video": {"type": "asset_id", "asset_id": asset_id}, "custom_id": f"item-{i}", **extra}
        for i in range(count)
    ]


@pytest.fixture
def asset_id(client: httpx.Client) -> str:
    return ready_asset(client, "https://media.example.com/episode.mp4?duration=120")


def test_a_batch_runs_pending_processing_completed_with_results_per_item(
    client: httpx.Client, asset_id: str
) -> None:
    requests = items(asset_id, 3)
    requests[2]["prompt"] = {"input_text": "List the speakers"}
    created = create_batch(client, requests)
    assert created.status == "pending" and created.total_items == 3
    assert [i.custom_id for i in created.items] == ["item-0", "item-1", "item-2"]
    assert (created.expires_at - created.created_at).total_seconds() == 24 * 3600
    seen = [get_batch(client, created.batch_id) for _ in range(4)]
    assert [b.status for b in seen] == ["pending", "pending", "processing", "completed"]
    assert (seen[2].processing_items, seen[2].queued_items) == (3, 0)
    done = seen[-1]
    assert (done.ready_items, done.failed_items, done.canceled_items, done.total_items) == (3, 0, 0, 3)
    assert done.completed_at is not None and done.model_name == "pegasus1.5"
    lines = results(client, created.batch_id)
    assert [(r.custom_id, r.status) for r in lines] == [
        ("item-0", "ready"),
        ("item-1", "ready"),
        ("item-2", "ready"),
    ]
    assert all(r.data is not None and r.data.data and r.error is None for r in lines)
    assert lines[0].data is not None and lines[2].data is not None
    assert "List the speakers" in lines[2].data.data and "Summarize" in lines[0].data.data
    task = get(client, created.items[2].task_id)
    assert task.batch_id == created.batch_id and task.custom_id == "item-2"
    assert task.request_params is not None and task.request_params.prompt_v_2 is not None


def test_results_are_readable_while_the_batch_runs(client: httpx.Client, asset_id: str) -> None:
    created = create_batch(client, items(asset_id, 2))
    assert [r.status for r in results(client, created.batch_id)] == ["queued", "queued"]
    assert [r.status for r in results(client, created.batch_id)] == ["queued", "queued"]
    assert [r.status for r in results(client, created.batch_id)] == ["processing", "processing"]
    assert [r.status for r in results(client, created.batch_id)] == ["ready", "ready"]


def test_a_segmentation_batch_with_defaults(client: httpx.Client, asset_id: str) -> None:
    created = create_batch(
        client,
        items(asset_id, 2),
        analysis_mode="time_based_metadata",
        defaults={"response_format": SEGMENTS, "min_segment_duration": 5},
    )
    for _ in range(4):
        get_batch(client, created.batch_id)
    for line in results(client, created.batch_id):
        assert line.data is not None
        assert set(json.loads(line.data.data)) == {"scene", "logo"}


@pytest.mark.parametrize(
    ("change", "code", "status"),
    [
        ({"requests": []}, "parameter_invalid", 400),
        ({"model_name": "pegasus1.6"}, "parameter_invalid", 400),
        ({"analysis_mode": "chapters"}, "parameter_invalid", 400),
        ({"defaults": {}}, "parameter_not_provided", 400),
        ({"defaults": {"prompt": "Summarize"}}, "parameter_invalid", 400),
        ({"defaults": {"prompt": {"input_text": "x"}, "seed": 3}}, "parameter_unknown", 400),
        ({"duplicate": True}, "parameter_invalid", 400),
        ({"url_video": True}, "parameter_invalid", 400),
        ({"missing_asset": True}, "resource_not_exist", 404),
    ],
)
def test_bad_batches_are_refused(
    client: httpx.Client, asset_id: str, change: dict[str, Any], code: str, status: int
) -> None:
    requests = items(asset_id, 2)
    if change.pop("duplicate", False):
        requests[1]["custom_id"] = requests[0]["custom_id"]
    if change.pop("url_video", False):
        requests[1]["video"] = VIDEO
    if change.pop("missing_asset", False):
        requests[1]["video"] = {"type": "asset_id", "asset_id": "0" * 24}
    body = {
        "model_name": "pegasus1.5",
        "analysis_mode": "general",
        "defaults": {"prompt": {"input_text": "Summarize"}},
        "requests": requests,
        **change,
    }
    assert error_code(client.post("/analyze/batches", json=body), status) == code
    assert client.get("/analyze/batches").json()["data"] == []


def test_request_count_and_content_hour_limits(client: httpx.Client, asset_id: str) -> None:
    body = {
        "model_name": "pegasus1.5",
        "analysis_mode": "general",
        "defaults": {"prompt": {"input_text": "x"}},
    }
    response = client.post("/analyze/batches", json={**body, "requests": items(asset_id, 1001)})
    assert error_code(response, 400) == "parameter_invalid"
    create_batch(client, items(asset_id, 1000))
    four_hours = ready_asset(client, "https://media.example.com/long.mp4?duration=14400")
    response = client.post("/analyze/batches", json={**body, "requests": items(four_hours, 501)})
    assert error_code(response, 400) == "parameter_invalid"
    assert "2000" in response.json()["message"]


def test_an_item_over_two_hours_fails_alone(client: httpx.Client, asset_id: str) -> None:
    long_asset = ready_asset(client, "https://media.example.com/long.mp4?duration=9000")
    requests = [
        *items(asset_id, 1),
        {"video": {"type": "asset_id", "asset_id": long_asset}, "custom_id": "long"},
    ]
    created = create_batch(client, requests)
    for _ in range(4):
        get_batch(client, created.batch_id)
    lines = {r.custom_id: r for r in results(client, created.batch_id)}
    assert lines["item-0"].status == "ready"
    assert lines["long"].status == "failed" and lines["long"].error is not None
    assert lines["long"].error.code == "video_duration_too_long"
    assert get_batch(client, created.batch_id).failed_items == 1


def test_at_most_five_active_batches(client: httpx.Client, asset_id: str) -> None:
    batches = [create_batch(client, items(asset_id, 1)) for _ in range(5)]
    body = {
        "model_name": "pegasus1.5",
        "analysis_mode": "general",
        "defaults": {"prompt": {"input_text": "x"}},
        "requests": items(asset_id, 1),
    }
    assert error_code(client.post("/analyze/batches", json=body), 429) == "too_many_active_batches"
    # A batch whose items are all queued is canceled at once, which frees a place.
    response = client.post(f"/analyze/batches/{batches[0].batch_id}/cancel")
    assert response.status_code == 200
    assert parse(AnalyzeBatchStatusResponse, response.json()).status == "canceled"
    assert client.post("/analyze/batches", json=body).status_code == 200


def test_cancel_lets_processing_items_finish(client: httpx.Client, asset_id: str) -> None:
    created = create_batch(client, items(asset_id, 2))
    first = created.items[0].task_id
    for _ in range(3):  # the first item reaches processing; the second stays queued
        get(client, first)
    response = client.post(f"/analyze/batches/{created.batch_id}/cancel")
    canceling = parse(AnalyzeBatchStatusResponse, response.json())
    assert canceling.status == "canceling"
    assert (canceling.processing_items, canceling.canceled_items) == (1, 1)
    assert error_code(client.delete(f"/analyze/batches/{created.batch_id}"), 409) == "batch_cannot_be_deleted"
    assert client.post(f"/analyze/batches/{created.batch_id}/cancel").status_code == 200
    done = get_batch(client, created.batch_id)
    assert done.status == "canceled" and done.canceled_at is not None
    assert (done.ready_items, done.canceled_items) == (1, 1)
    second = get(client, created.items[1].task_id)
    assert second.status == "canceled" and second.error is not None and second.error.code == "batch_canceled"
    assert [r.status for r in results(client, created.batch_id)] == ["ready", "canceled"]
    # A task of a batch is canceled through its batch only.
    assert error_code(client.post(f"/analyze/tasks/{first}/cancel"), 400) == "parameter_invalid"
    assert client.delete(f"/analyze/batches/{created.batch_id}").status_code == 204
    assert client.get(f"/analyze/tasks/{first}").status_code == 404


def test_expiry_cancels_unfinished_items_and_results_go_after_30_days(
    client: httpx.Client, asset_id: str, emulator: RunningEmulator
) -> None:
    created = create_batch(client, items(asset_id, 2))
    for _ in range(4):
        get(client, created.items[0].task_id)
    httpx.post(f"{emulator.url}/_emulator/advance", json={"seconds": 25 * 3600}).raise_for_status()
    expired = get_batch(client, created.batch_id)
    assert expired.status == "expired" and expired.expired_at == created.expires_at
    assert (expired.ready_items, expired.canceled_items) == (1, 1)
    assert get(client, created.items[1].task_id).error.code == "batch_expired"  # type: ignore[union-attr]
    assert (
        error_code(client.post(f"/analyze/batches/{created.batch_id}/cancel"), 409)
        == "batch_cannot_be_canceled"
    )
    httpx.post(f"{emulator.url}/_emulator/advance", json={"seconds": 30 * 24 * 3600}).raise_for_status()
    assert client.get(f"/analyze/batches/{created.batch_id}").status_code == 404
    assert client.get(f"/analyze/tasks/{created.items[0].task_id}").status_code == 404


@pytest.mark.parametrize("emulator_config", [EmulatorConfig(analyze_batch_item_failure_rate=0.5)])
def test_switch_fails_a_fraction_of_items(client: httpx.Client, asset_id: str) -> None:
    created = create_batch(client, items(asset_id, 40))
    for _ in range(4):
        get_batch(client, created.batch_id)
    done = get_batch(client, created.batch_id)
    assert done.status == "completed"
    assert 8 <= done.failed_items <= 32 and done.ready_items == 40 - done.failed_items
    failed = [r for r in results(client, created.batch_id) if r.status == "failed"]
    assert len(failed) == done.failed_items
    assert all(r.error is not None and r.error.code and r.error.message and r.data is None for r in failed)


def test_list_batches_with_repeated_filters(client: httpx.Client, asset_id: str) -> None:
    first = create_batch(client, items(asset_id, 1))
    second = create_batch(
        client,
        items(asset_id, 1),
        analysis_mode="time_based_metadata",
        defaults={"response_format": SEGMENTS},
    )
    third = create_batch(client, items(asset_id, 1))
    client.post(f"/analyze/batches/{third.batch_id}/cancel")

    def ids(params: list[tuple[str, str]]) -> list[str]:
        response = client.get("/analyze/batches", params=params)
        assert response.status_code == 200, response.text
        return [b.batch_id for b in parse(BatchesListResponse, response.json()).data]

    assert ids([]) == [third.batch_id, second.batch_id, first.batch_id]
    assert ids([("analysis_mode", "time_based_metadata")]) == [second.batch_id]
    assert ids([("status", "canceled"), ("status", "pending")]) == [
        third.batch_id,
        second.batch_id,
        first.batch_id,
    ]
    assert ids([("status", "canceled")]) == [third.batch_id]
    assert ids([("page", "2"), ("page_limit", "2")]) == [first.batch_id]
    assert error_code(client.get("/analyze/batches", params={"status": "failed"}), 400) == "parameter_invalid"


def test_sync_analyze_still_takes_video_objects_and_video_ids(client: httpx.Client) -> None:
    response = client.post("/analyze", json={"video": VIDEO, "prompt": "x", "stream": False})
    assert response.status_code == 200 and response.json()["data"]
