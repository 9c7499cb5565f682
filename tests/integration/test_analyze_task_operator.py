"""TwelveLabsCreateAnalyzeTaskOperator against the emulator on 127.0.0.1: real HTTP, real waiting."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pyarrow.parquet as pq
import pytest
from airflow.providers.common.compat.sdk import TaskDeferred

from airflow_provider_twelvelabs.exceptions import (
    TwelveLabsError,
    TwelveLabsResourceCanceledError,
    TwelveLabsResourceFailedError,
    TwelveLabsWaitTimeoutError,
)
from airflow_provider_twelvelabs.hooks.twelvelabs import TwelveLabsHook
from airflow_provider_twelvelabs.operators.analyze_async import TwelveLabsCreateAnalyzeTaskOperator
from airflow_provider_twelvelabs.testing.emulator import EmulatorConfig
from airflow_provider_twelvelabs.testing.emulator.server import RunningEmulator
from tests.helpers.airflow_fakes import DiesBeforeWaiting, StateStore
from tests.helpers.airflow_fakes import task_context as context
from tests.helpers.airflow_versions import needs_task_state_store

pytestmark = pytest.mark.integration

URL = "https://media.example.com/keynote.mp4?duration=300"
FAST = {"poll_interval": 0.02, "poll_max_interval": 0.05, "deferrable": False}
SEGMENTS = [
    {
        "id": "scenes",
        "description": "Each scene of the video",
        "fields": [
            {"name": "title", "type": "string", "description": "A short title of the scene"},
            {"name": "people", "type": "integer", "description": "How many people are visible"},
        ],
    }
]
SCHEMA = {
    "type": "object",
    "properties": {"title": {"type": "string"}, "topics": {"type": "array", "items": {"type": "string"}}},
    "required": ["title", "topics"],
}


@pytest.fixture
def twelvelabs_connection_extra() -> dict[str, Any]:
    return {"retry_base_delay": 0.01, "retry_max_wait": 0.05, "max_retries": 2}


@pytest.fixture
def emulator(twelvelabs_connection: RunningEmulator) -> RunningEmulator:
    return twelvelabs_connection


def creates(emulator: RunningEmulator) -> int:
    log = httpx.get(f"{emulator.url}/_emulator/requests").json()["data"]
    return sum(1 for e in log if (e["method"], e["path"]) == ("POST", "/v1.3/analyze/tasks"))


def remote_task(emulator: RunningEmulator, task_id: str) -> dict[str, Any]:
    with TwelveLabsHook() as hook:
        return hook.get_analyze_task(task_id).to_json_dict()


def test_general_analysis_returns_the_text_and_logs_it(emulator, capsys):
    ctx = context()
    op = TwelveLabsCreateAnalyzeTaskOperator(
        task_id="describe", url=URL, prompt="Describe the keynote in two sentences.", **FAST
    )
    text = op.execute(ctx)

    task_id = ctx["ti"].pushed["analyze_task_id"]
    task = remote_task(emulator, task_id)
    assert task["status"] == "ready"
    assert text == task["result"]["data"] and text.strip()
    assert text[:100] in capsys.readouterr().out
    assert creates(emulator) == 1


def test_json_schema_returns_the_parsed_document(emulator, tmp_path):
    out = tmp_path / "meta.json"
    op = TwelveLabsCreateAnalyzeTaskOperator(
        task_id="meta", url=URL, prompt="Title and topics", json_schema=json.dumps(SCHEMA), **FAST
    )
    document = op.execute(context())
    assert set(document) >= {"title", "topics"} and isinstance(document["topics"], list)

    written = TwelveLabsCreateAnalyzeTaskOperator(
        task_id="meta", url=URL, prompt="Title and topics", json_schema=SCHEMA, output_path=str(out), **FAST
    ).execute(context())
    assert written["format"] == "json" and written["path"].endswith("meta.json")
    assert set(json.loads(out.read_text())) >= {"title", "topics"}


@pytest.mark.parametrize("output_format", ["jsonl", "parquet"])
def test_segmentation_rows_go_to_the_output_file(emulator, tmp_path, output_format):
    out = tmp_path / f"segments.{output_format}"
    ctx = context()
    manifest = TwelveLabsCreateAnalyzeTaskOperator(
        task_id="segments",
        url=URL,
        model_name="pegasus1.6",
        segment_definitions=SEGMENTS,
        min_segment_duration=5,
        output_path=str(out),
        output_format=output_format,
        **FAST,
    ).execute(ctx)

    raw = json.loads(remote_task(emulator, ctx["ti"].pushed["analyze_task_id"])["result"]["data"])
    expected = [
        (s["start_time"], s["end_time"], s["metadata"]["title"], s["metadata"]["people"])
        for s in raw["scenes"]
    ]
    if output_format == "jsonl":
        rows = [json.loads(line) for line in out.read_text().splitlines()]
    else:
        rows = pq.read_table(out).to_pylist()
    assert [(r["start_time"], r["end_time"], r["title"], r["people"]) for r in rows] == expected
    assert {r["segment_definition"] for r in rows} == {"scenes"}
    assert manifest["count"] == len(expected) and manifest["segments"] == {"scenes": len(expected)}


def test_segmentation_without_output_path_returns_the_rows(emulator):
    rows = TwelveLabsCreateAnalyzeTaskOperator(
        task_id="segments", url=URL, segment_definitions=SEGMENTS, **FAST
    ).execute(context())
    assert rows and all(
        {"segment_definition", "start_time", "end_time", "title", "people"} <= set(r) for r in rows
    )


@pytest.mark.parametrize("twelvelabs_emulator_config", [EmulatorConfig(analyze_task_fail=True)])
def test_a_failed_task_fails_with_the_api_reason(emulator):
    op = TwelveLabsCreateAnalyzeTaskOperator(task_id="f", url=URL, prompt="Describe", **FAST)
    with pytest.raises(TwelveLabsResourceFailedError) as info:
        op.execute(context())
    assert info.value.kind == "analyze_task" and info.value.reason


@pytest.mark.parametrize("twelvelabs_emulator_config", [EmulatorConfig(analyze_task_warning=True)])
def test_a_ready_task_with_a_warning_is_kept_or_failed(emulator, capsys):
    kept = TwelveLabsCreateAnalyzeTaskOperator(task_id="w", url=URL, prompt="Describe", **FAST).execute(
        context()
    )
    assert kept
    assert "finished with a warning" in capsys.readouterr().out
    with pytest.raises(TwelveLabsError, match="on_warning='fail'"):
        TwelveLabsCreateAnalyzeTaskOperator(
            task_id="w", url=URL, prompt="Describe", on_warning="fail", **FAST
        ).execute(context())


@needs_task_state_store
def test_a_retry_after_a_killed_worker_reconnects_to_the_task(emulator):
    store = StateStore()
    kwargs = {"task_id": "r", "url": URL, "prompt": "Describe", **FAST}
    with pytest.raises(KeyboardInterrupt):
        TwelveLabsCreateAnalyzeTaskOperator(**kwargs).execute(context(store, DiesBeforeWaiting()))
    remembered = store.values["analyze_task_id"]

    ctx = context(store)
    text = TwelveLabsCreateAnalyzeTaskOperator(**kwargs).execute(ctx)

    assert ctx["ti"].pushed["analyze_task_id"] == remembered
    assert text == remote_task(emulator, remembered)["result"]["data"]
    assert creates(emulator) == 1
    assert "analyze_task_id" not in store.values  # a deliberate re-run analyses afresh


async def test_deferred_task_finishes_from_the_trigger_event(emulator):
    ctx = context()
    kwargs = {
        "task_id": "d",
        "url": URL,
        "prompt": "Describe",
        "poll_interval": 0.02,
        "poll_max_interval": 0.05,
    }
    with pytest.raises(TaskDeferred) as deferred:
        TwelveLabsCreateAnalyzeTaskOperator(deferrable=True, **kwargs).execute(ctx)
    trigger = deferred.value.trigger
    _, trigger_kwargs = trigger.serialize()
    assert trigger_kwargs["kind"] == "analyze_task"
    assert emulator.api_key not in json.dumps(trigger_kwargs, default=str)
    try:
        event = await anext(trigger.run())
    finally:
        await TwelveLabsHook.aclose_shared_clients()
    assert event.payload["status"] == "success"
    assert "result" not in event.payload["resource"]  # the text is read once, by the operator
    text = TwelveLabsCreateAnalyzeTaskOperator(deferrable=True, **kwargs).execute_complete(
        context(), event.payload
    )
    assert text == remote_task(emulator, ctx["ti"].pushed["analyze_task_id"])["result"]["data"]


@pytest.mark.parametrize("twelvelabs_emulator_config", [EmulatorConfig(analyze_task_never_finish=True)])
def test_a_wait_timeout_cancels_the_task_and_names_it(emulator):
    ctx = context()
    op = TwelveLabsCreateAnalyzeTaskOperator(
        task_id="t", url=URL, prompt="Describe", wait_timeout=0.5, **FAST
    )
    with pytest.raises(TwelveLabsWaitTimeoutError) as info:
        op.execute(ctx)
    task_id = ctx["ti"].pushed["analyze_task_id"]
    assert task_id in str(info.value)
    assert remote_task(emulator, task_id)["status"] == "canceled"


@pytest.mark.parametrize("twelvelabs_emulator_config", [EmulatorConfig(analyze_task_never_finish=True)])
def test_on_kill_cancels_the_remote_task_and_a_canceled_event_fails(emulator):
    ctx = context()
    op = TwelveLabsCreateAnalyzeTaskOperator(
        task_id="k", url=URL, prompt="Describe", deferrable=True, **{"poll_interval": 0.02}
    )
    with pytest.raises(TaskDeferred):
        op.execute(ctx)
    op.on_kill()
    task_id = ctx["ti"].pushed["analyze_task_id"]
    task = remote_task(emulator, task_id)
    assert task["status"] == "canceled"
    event = {
        "status": "failed",
        "kind": "analyze_task",
        "resource_id": task_id,
        "message": "user_canceled",
        "resource": {"id": task_id, "status": "canceled"},
    }
    with pytest.raises(TwelveLabsResourceCanceledError, match=task_id):
        TwelveLabsCreateAnalyzeTaskOperator(task_id="k", url=URL, prompt="Describe").execute_complete(
            {}, event
        )


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"prompt": "x"}, "exactly one of asset_id, url or images"),
        ({"url": URL, "asset_id": "a1", "prompt": "x"}, "exactly one of asset_id, url or images"),
        ({"url": URL}, "prompt is required"),
        ({"url": "ftp://x/y.mp4", "prompt": "x"}, "url must be an http"),
        ({"url": URL, "prompt": "x", "segment_definitions": SEGMENTS}, "prompt is not used"),
        (
            {"url": URL, "prompt": "x", "json_schema": SCHEMA, "segment_definitions": SEGMENTS},
            "mutually exclusive",
        ),
        ({"url": URL, "segment_definitions": [{"id": "a"}]}, r"segment_definitions\[0\].description"),
        ({"url": URL, "prompt": "x", "max_tokens": 100}, "max_tokens must be from 512"),
        ({"url": URL, "prompt": "x", "max_tokens": "unlimited"}, "max_tokens='unlimited' needs"),
        ({"url": URL, "prompt": "x", "temperature": 2}, "temperature"),
        ({"url": URL, "prompt": "x", "start_time": 10, "end_time": 10.5}, "analysis window"),
        ({"url": URL, "prompt": "x", "custom_id": "no spaces"}, "custom_id must be 1-64"),
        ({"url": URL, "prompt": "x", "min_segment_duration": 5}, "min_segment_duration needs"),
        ({"images": ["https://x.test/a.png"], "prompt": "x"}, "images need model_name='pegasus1.6'"),
        ({"url": URL, "prompt": "x", "model_name": "pegasus2"}, "model_name must be"),
    ],
)
def test_bad_parameters_fail_before_any_request(emulator, params, message):
    with pytest.raises(ValueError, match=message):
        TwelveLabsCreateAnalyzeTaskOperator(task_id="bad", **params, **FAST).execute(context())
    assert creates(emulator) == 0
