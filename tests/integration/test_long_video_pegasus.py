"""Summaries, chapters, highlights and gists of videos over an hour: analyze tasks on the emulator.

``POST /analyze`` takes up to an hour of video; for a longer one the summary and gist operators
create an asynchronous analyze task (chapters and highlights in video segmentation), with the job
model's retry reconnect and deferral. Real HTTP to the emulator on 127.0.0.1.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import httpx
import pytest
from airflow.providers.common.compat.sdk import TaskDeferred

from airflow_provider_twelvelabs.exceptions import TwelveLabsBadRequestError
from airflow_provider_twelvelabs.hooks.twelvelabs import TwelveLabsHook
from airflow_provider_twelvelabs.operators.analyze import TwelveLabsGistOperator, TwelveLabsSummarizeOperator
from airflow_provider_twelvelabs.testing.emulator.server import RunningEmulator
from airflow_provider_twelvelabs.waiting import PollPolicy, wait_for_resource_sync
from tests.helpers.airflow_fakes import DiesBeforeWaiting, StateStore, task_context
from tests.helpers.airflow_versions import needs_task_state_store

pytestmark = pytest.mark.integration

FAST = {"poll_interval": 0.02, "poll_max_interval": 0.05, "deferrable": False}
#: 90 minutes: too long for /analyze, within an analyze task's 2 hours.
LONG_URL = "https://media.example.com/match.mp4?duration=5400"


@pytest.fixture
def twelvelabs_connection_extra() -> dict[str, Any]:
    return {"retry_base_delay": 0.01, "retry_max_wait": 0.05, "max_retries": 2}


@pytest.fixture
def emulator(twelvelabs_connection: RunningEmulator) -> RunningEmulator:
    return twelvelabs_connection


@pytest.fixture
def long_asset(emulator: RunningEmulator) -> str:
    with TwelveLabsHook() as hook:
        asset = hook.create_asset(method="url", url=LONG_URL)
        wait_for_resource_sync(hook, "asset", asset.id, policy=PollPolicy(interval=0.02, max_interval=0.05))
    return str(asset.id)


def calls(emulator: RunningEmulator) -> list[tuple[str, str, int]]:
    log = httpx.get(f"{emulator.url}/_emulator/requests").json()["data"]
    return [(e["method"], e["path"].removeprefix("/v1.3"), e["status"]) for e in log]


def analyze_calls(emulator: RunningEmulator) -> list[tuple[str, str, int]]:
    return [c for c in calls(emulator) if c[1] == "/analyze" or (c[1] == "/analyze/tasks" and c[0] == "POST")]


def remote_task(task_id: str) -> dict[str, Any]:
    with TwelveLabsHook() as hook:
        return hook.get_analyze_task(task_id).to_json_dict()


def assert_tidy(segments: list[dict[str, Any]], duration: float) -> None:
    assert segments and all(set(s) == {"start", "end", "title", "text"} for s in segments)
    assert all(0 <= s["start"] < s["end"] <= duration for s in segments)
    assert all(a["end"] <= b["start"] for a, b in itertools.pairwise(segments))
    assert all(s["title"] and s["text"] for s in segments)


def test_summary_of_a_long_video_comes_from_an_analyze_task(emulator, long_asset):
    ctx = task_context()
    summary = TwelveLabsSummarizeOperator(task_id="s", asset_id=long_asset, **FAST).execute(ctx)

    # The asset's length is not looked up for a summary: /analyze refuses it, and a task takes it.
    assert analyze_calls(emulator) == [("POST", "/analyze", 400), ("POST", "/analyze/tasks", 200)]
    task = remote_task(ctx["ti"].pushed["analyze_task_id"])
    assert task["status"] == "ready" and task["video_source"]["asset_id"] == long_asset
    assert isinstance(summary, str) and summary == task["result"]["data"] and summary.strip()


@pytest.mark.parametrize("kind", ["chapter", "highlight"])
def test_chapters_of_a_long_video_use_video_segmentation(emulator, long_asset, kind):
    ctx = task_context()
    segments = TwelveLabsSummarizeOperator(task_id="c", asset_id=long_asset, type=kind, **FAST).execute(ctx)

    # The asset's length is known (5,400 s): no /analyze call, straight to segmentation.
    assert analyze_calls(emulator) == [("POST", "/analyze/tasks", 200)]
    task = remote_task(ctx["ti"].pushed["analyze_task_id"])
    assert task["request_params"]["analysis_mode"] == "time_based_metadata"
    assert_tidy(segments, 5400.0)
    remote = json.loads(task["result"]["data"])[f"{kind}s"]
    assert len(segments) <= len(remote) and segments[0]["title"] in {s["metadata"]["title"] for s in remote}


def test_gist_of_a_long_video_comes_from_an_analyze_task(emulator, long_asset):
    gist = TwelveLabsGistOperator(task_id="g", asset_id=long_asset, **FAST).execute(task_context())
    assert [c[1] for c in analyze_calls(emulator)] == ["/analyze", "/analyze/tasks"]
    assert gist["title"] and gist["topics"] and all(tag.startswith("#") for tag in gist["hashtags"])


def test_method_segmentation_applies_to_a_short_video_too(emulator):
    url = "https://media.example.com/keynote.mp4?duration=300"
    op = TwelveLabsSummarizeOperator(
        task_id="c", video_url=url, type="chapter", method="segmentation", **FAST
    )
    segments = op.execute(task_context())
    assert analyze_calls(emulator) == [("POST", "/analyze/tasks", 200)]
    assert_tidy(segments, 300.0)


def test_method_sync_keeps_the_long_video_refused(emulator, long_asset):
    op = TwelveLabsSummarizeOperator(task_id="s", asset_id=long_asset, method="sync", **FAST)
    with pytest.raises(TwelveLabsBadRequestError, match=r"accepts up to 1 hour") as refused:
        op.execute(task_context())
    assert refused.value.code == "video_duration_too_long"
    assert analyze_calls(emulator) == [("POST", "/analyze", 400)]


@needs_task_state_store
def test_a_retry_reconnects_to_the_analyze_task_of_the_killed_try(emulator, long_asset):
    store = StateStore()
    kwargs = {"task_id": "c", "asset_id": long_asset, "type": "chapter", **FAST}
    with pytest.raises(KeyboardInterrupt):
        TwelveLabsSummarizeOperator(**kwargs).execute(task_context(store, DiesBeforeWaiting()))
    retry = task_context(store)
    segments = TwelveLabsSummarizeOperator(**kwargs).execute(retry)

    assert [c for c in analyze_calls(emulator) if c[0] == "POST"] == [("POST", "/analyze/tasks", 200)]
    assert_tidy(segments, 5400.0)
    assert store.values == {}  # forgotten on success: a deliberate re-run starts afresh


async def test_deferred_chapters_resume_with_the_video_length(emulator, long_asset, capsys):
    kwargs = {"task_id": "c", "asset_id": long_asset, "type": "chapter", "poll_interval": 0.02}
    with pytest.raises(TaskDeferred) as deferred:
        TwelveLabsSummarizeOperator(deferrable=True, **kwargs).execute(task_context())
    trigger = deferred.value.trigger
    _, trigger_kwargs = trigger.serialize()
    assert trigger_kwargs["kind"] == "analyze_task"
    assert emulator.api_key not in json.dumps(trigger_kwargs, default=str)
    try:
        event = await anext(trigger.run())
    finally:
        await TwelveLabsHook.aclose_shared_clients()
    resumed = TwelveLabsSummarizeOperator(deferrable=True, **kwargs)
    segments = resumed.execute_complete(task_context(), event.payload, **(deferred.value.kwargs or {}))
    assert_tidy(segments, 5400.0)
    assert deferred.value.kwargs == {"route": "segmentation", "duration": 5400.0}
    # The resumed task logs what it returns, as the synchronous path does.
    assert f"{len(segments)} chapters of {long_asset}" in capsys.readouterr().out
