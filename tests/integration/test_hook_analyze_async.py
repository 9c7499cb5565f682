"""The hook's asynchronous analyze methods (tasks and batches) against the emulator over real HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from airflow_provider_twelvelabs.exceptions import (
    TwelveLabsBadRequestError,
    TwelveLabsConflictError,
    TwelveLabsNotFoundError,
    TwelveLabsRateLimitError,
)
from airflow_provider_twelvelabs.hooks.twelvelabs import TwelveLabsHook
from airflow_provider_twelvelabs.models import (
    AnalyzeBatchStatus,
    AnalyzeTaskStatus,
    is_failed,
    is_terminal,
)
from airflow_provider_twelvelabs.testing.emulator import EmulatorConfig
from airflow_provider_twelvelabs.testing.emulator.server import RunningEmulator, serve_emulator
from tests.integration.compute_support import api_client, ready_asset

pytestmark = pytest.mark.integration

VIDEO = {"type": "url", "url": "https://media.example.com/keynote.mp4?duration=300"}
MISSING = "0" * 24


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    return EmulatorConfig()


@pytest.fixture
def emulator(emulator_config: EmulatorConfig, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningEmulator]:
    with serve_emulator(emulator_config) as running:
        extra = json.dumps({"retry_base_delay": 0.01, "retry_max_wait": 0.05, "max_retries": 2})
        monkeypatch.setenv(
            "AIRFLOW_CONN_TWELVELABS_DEFAULT",
            json.dumps(
                {
                    "conn_type": "twelvelabs",
                    "password": running.api_key,
                    "host": running.base_url,
                    "extra": extra,
                }
            ),
        )
        yield running


@pytest.fixture
def hook(emulator: RunningEmulator) -> Iterator[TwelveLabsHook]:
    with TwelveLabsHook() as h:
        yield h


@pytest.fixture
def asset_id(emulator: RunningEmulator) -> str:
    with api_client(emulator) as client:
        return ready_asset(client, "https://media.example.com/episode.mp4?duration=120")


def requests_made(emulator: RunningEmulator, method: str, suffix: str) -> int:
    log = httpx.get(f"{emulator.url}/_emulator/requests").json()["data"]
    return sum(1 for entry in log if entry["method"] == method and entry["path"].endswith(suffix))


def batch_items(asset_id: str, count: int) -> list[dict[str, Any]]:
    return [{"video": {"type": "asset_id", "asset_id": asset_id}, "custom_id": f"c{i}"} for i in range(count)]


def test_task_create_poll_and_read_the_result(hook: TwelveLabsHook) -> None:
    created = hook.create_analyze_task(
        {"video": VIDEO, "prompt": "Summarize", "custom_id": "job-7", "temperature": None}
    )
    assert created.status == AnalyzeTaskStatus.QUEUED and created.task_id == created.id
    statuses = []
    while not is_terminal((task := hook.get_analyze_task(created.id)).status):
        statuses.append(task.status)
    assert statuses == ["queued", "pending", "processing"]
    assert task.status == "ready" and not is_failed(task.status) and task.warning is None
    assert task.custom_id == "job-7" and task.result is not None
    assert task.result.finish_reason == "stop" and "Summarize" in (task.result.data or "")
    assert task.result.usage and task.result.usage["output_tokens"] > 0
    assert task.to_json_dict()["id"] == created.id


async def test_async_get_and_list_pages(hook: TwelveLabsHook) -> None:
    first = hook.create_analyze_task({"video": VIDEO, "prompt": "one"})
    second = hook.create_analyze_task({"video": VIDEO, "prompt": "two", "analysis_mode": "general"})
    task = await hook.aget_analyze_task(first.id)
    assert task.id == first.id and task.status == "queued"
    page = await hook.alist_analyze_tasks_page(page=1, page_limit=1)
    assert [t.id for t in page.data or []] == [second.id]
    assert page.page_info is not None and page.page_info.total_results == 2
    sync_page = hook.list_analyze_tasks_page(status="canceled")
    assert sync_page.data == []
    assert [t.id for t in hook.list_analyze_tasks(video_url=VIDEO["url"])] == [second.id, first.id]


def test_cancel_delete_and_errors(hook: TwelveLabsHook, emulator: RunningEmulator) -> None:
    task = hook.create_analyze_task({"video": VIDEO, "prompt": "x"})
    with pytest.raises(TwelveLabsConflictError) as conflict:
        hook.delete_analyze_task(task.id)
    assert conflict.value.code == "task_cannot_be_deleted"
    canceled = hook.cancel_analyze_task(task.id)
    assert canceled.status == AnalyzeTaskStatus.CANCELED
    again = hook.get_analyze_task(task.id)
    assert is_terminal(again.status) and is_failed(again.status)
    assert again.error is not None and again.error.code == "user_canceled"
    hook.delete_analyze_task(task.id)
    with pytest.raises(TwelveLabsNotFoundError):
        hook.get_analyze_task(task.id)
    with pytest.raises(TwelveLabsBadRequestError) as bad:
        hook.create_analyze_task({"video": VIDEO, "prompt": "x", "max_tokens": 10})
    assert bad.value.code == "parameter_invalid" and "max_tokens" in str(bad.value)
    # A create is sent once: a 400 is not retried.
    assert requests_made(emulator, "POST", "/analyze/tasks") == 2


@pytest.mark.parametrize("emulator_config", [EmulatorConfig(analyze_task_warning=True)])
def test_a_ready_task_with_a_warning(hook: TwelveLabsHook) -> None:
    task = hook.create_analyze_task({"video": VIDEO, "prompt": "Summarize"})
    while not is_terminal((task := hook.get_analyze_task(task.id)).status):
        pass
    assert task.status == "ready" and task.result is not None and task.result.finish_reason == "length"
    assert task.warning and "max_tokens" in task.warning


def test_bad_input_fails_before_any_request(hook: TwelveLabsHook, emulator: RunningEmulator) -> None:
    with pytest.raises(ValueError, match="requests"):
        hook.create_analyze_batch(model_name="pegasus1.5", analysis_mode="general", requests=[])
    with pytest.raises(ValueError, match="requests"):
        hook.create_analyze_batch(model_name="pegasus1.5", analysis_mode="general", requests=[{}] * 1001)
    with pytest.raises(ValueError, match="id"):
        hook.get_analyze_task("")
    with pytest.raises(ValueError, match="body"):
        hook.create_analyze_task("prompt")  # type: ignore[arg-type]
    assert requests_made(emulator, "POST", "/analyze/batches") == 0


def test_batch_lifecycle_results_stream_and_delete(hook: TwelveLabsHook, asset_id: str) -> None:
    batch = hook.create_analyze_batch(
        model_name="pegasus1.5",
        analysis_mode="general",
        requests=batch_items(asset_id, 3),
        defaults={"prompt": {"input_text": "Summarize"}},
    )
    assert batch.status == AnalyzeBatchStatus.PENDING and batch.total_items == 3
    assert [item["custom_id"] for item in batch.items or []] == ["c0", "c1", "c2"]
    statuses = []
    while not is_terminal((current := hook.get_analyze_batch(batch.id)).status):
        statuses.append(current.status)
    assert statuses == ["pending", "pending", "processing"]
    assert current.status == "completed" and current.ready_items == 3 and current.batch_id == batch.id
    results = list(hook.stream_analyze_batch_results(batch.id))
    assert [(r.custom_id, r.status) for r in results] == [("c0", "ready"), ("c1", "ready"), ("c2", "ready")]
    assert all(r.data is not None and r.data.data for r in results)
    task = hook.get_analyze_task(results[0].task_id)
    assert task.batch_id == batch.id
    hook.delete_analyze_batch(batch.id)
    with pytest.raises(TwelveLabsNotFoundError):
        hook.get_analyze_batch(batch.id)
    with pytest.raises(TwelveLabsNotFoundError):
        list(hook.stream_analyze_batch_results(batch.id))


def test_results_are_read_line_by_line(hook: TwelveLabsHook, asset_id: str) -> None:
    batch = hook.create_analyze_batch(
        model_name="pegasus1.5",
        analysis_mode="general",
        requests=batch_items(asset_id, 50),
        defaults={"prompt": {"input_text": "Summarize"}},
    )
    stream = hook.stream_analyze_batch_results(batch.id)
    first = next(stream)
    assert first.custom_id == "c0" and first.status == "queued" and first.data is None
    stream.close()  # stopping early leaves the hook usable
    assert len(list(hook.stream_analyze_batch_results(batch.id))) == 50


async def test_async_batch_reads_and_results(hook: TwelveLabsHook, asset_id: str) -> None:
    batch = hook.create_analyze_batch(
        model_name="pegasus1.5",
        analysis_mode="general",
        requests=batch_items(asset_id, 2),
        defaults={"prompt": {"input_text": "Summarize"}},
    )
    assert (await hook.aget_analyze_batch(batch.id)).status == "pending"
    page = await hook.alist_analyze_batches_page(status=["pending", "processing"])
    assert [b.id for b in page.data or []] == [batch.id]
    assert hook.list_analyze_batches_page(status="completed").data == []
    items = [item async for item in hook.astream_analyze_batch_results(batch.id)]
    assert [i.custom_id for i in items] == ["c0", "c1"]


def test_batch_cancel_and_the_active_limit(
    hook: TwelveLabsHook, asset_id: str, emulator: RunningEmulator
) -> None:
    emulator.config.analyze_max_active_batches = 2
    make = lambda: hook.create_analyze_batch(  # noqa: E731
        model_name="pegasus1.5",
        analysis_mode="general",
        requests=batch_items(asset_id, 1),
        defaults={"prompt": {"input_text": "x"}},
    )
    first, _ = make(), make()
    with pytest.raises(TwelveLabsRateLimitError) as limited:
        make()
    assert limited.value.code == "too_many_active_batches"
    with pytest.raises(TwelveLabsConflictError):
        hook.delete_analyze_batch(first.id)
    canceled = hook.cancel_analyze_batch(first.id)
    assert canceled.status == "canceled" and is_terminal(canceled.status) and canceled.canceled_items == 1
    assert make().status == "pending"
    assert [b.id for b in hook.list_analyze_batches(status="canceled")] == [first.id]
