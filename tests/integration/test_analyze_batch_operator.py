"""TwelveLabsCreateAnalyzeBatchOperator against the emulator on 127.0.0.1: real HTTP, real waiting."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pyarrow.parquet as pq
import pytest
from airflow.providers.common.compat.sdk import TaskDeferred

from airflow_provider_twelvelabs.exceptions import TwelveLabsError
from airflow_provider_twelvelabs.hooks.twelvelabs import TwelveLabsHook
from airflow_provider_twelvelabs.operators.analyze_async import TwelveLabsCreateAnalyzeBatchOperator
from airflow_provider_twelvelabs.testing.emulator import EmulatorConfig
from airflow_provider_twelvelabs.testing.emulator.server import RunningEmulator
from tests.helpers.airflow_fakes import DiesBeforeWaiting, StateStore
from tests.helpers.airflow_fakes import task_context as context
from tests.helpers.airflow_versions import needs_task_state_store
from tests.integration.compute_support import ready_asset

pytestmark = pytest.mark.integration

FAST = {"poll_interval": 0.02, "poll_max_interval": 0.05, "deferrable": False}
CREATE = ("POST", "/v1.3/analyze/batches")


@pytest.fixture
def twelvelabs_connection_extra() -> dict[str, Any]:
    return {"retry_base_delay": 0.01, "retry_max_wait": 0.05, "max_retries": 1}


@pytest.fixture
def emulator(twelvelabs_connection: RunningEmulator) -> RunningEmulator:
    return twelvelabs_connection


def assets(emulator: RunningEmulator, n: int) -> list[str]:
    with httpx.Client(base_url=emulator.base_url, headers={"x-api-key": emulator.api_key}) as client:
        return [ready_asset(client, f"https://media.example.com/clip{i}.mp4?duration=120") for i in range(n)]


def request_log(emulator: RunningEmulator) -> list[dict[str, Any]]:
    return list(httpx.get(f"{emulator.url}/_emulator/requests").json()["data"])


def created_batches(emulator: RunningEmulator) -> list[dict[str, Any]]:
    with TwelveLabsHook() as hook:
        return [b.to_json_dict() for b in hook.list_analyze_batches()]


def rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("twelvelabs_emulator_config", [EmulatorConfig(analyze_max_active_batches=2)])
def test_items_are_split_into_batches_never_more_active_than_allowed(emulator, tmp_path):
    ids = assets(emulator, 7)
    out = tmp_path / "results.jsonl"
    manifest = TwelveLabsCreateAnalyzeBatchOperator(
        task_id="batch",
        items=ids,
        prompt="Title, topics and hashtags",
        output_path=str(out),
        max_items_per_batch=3,
        max_active_batches=2,
        **FAST,
    ).execute(context())

    log = request_log(emulator)
    creates = [e for e in log if (e["method"], e["path"]) == CREATE]
    assert len(creates) == 3 and all(e["status"] == 200 for e in creates)
    assert not [e for e in log if e["status"] == 429], "a batch was submitted beyond the active limit"
    written = rows(out)
    assert sorted(r["custom_id"] for r in written) == sorted(ids)
    assert {r["status"] for r in written} == {"ready"} and all(r["result"] for r in written)
    assert {r["asset_id"] for r in written} == set(ids)
    assert manifest["statuses"] == {"ready": 7} and len(manifest["batch_ids"]) == 3
    assert sorted(b["total_items"] for b in created_batches(emulator)) == [1, 3, 3]


def test_a_sixth_batch_waits_for_a_free_slot(emulator, tmp_path):
    ids = assets(emulator, 6)
    manifest = TwelveLabsCreateAnalyzeBatchOperator(
        task_id="batch",
        items=ids,
        prompt="Describe",
        output_path=str(tmp_path / "r.jsonl"),
        max_items_per_batch=1,
        **FAST,
    ).execute(context())
    log = request_log(emulator)
    assert [e["status"] for e in log if (e["method"], e["path"]) == CREATE] == [200] * 6
    assert manifest["statuses"] == {"ready": 6}


@pytest.mark.parametrize(
    "twelvelabs_emulator_config", [EmulatorConfig(analyze_batch_item_failure_rate=0.4, seed=5)]
)
def test_failed_items_fail_the_task_and_a_rerun_submits_only_them(emulator, tmp_path):
    ids = assets(emulator, 10)
    out = tmp_path / "results.parquet"
    kwargs = {
        "task_id": "b",
        "items": ids,
        "prompt": "Describe",
        "output_path": str(out),
        "output_format": "parquet",
    }
    with pytest.raises(TwelveLabsError, match=r"of 10 analyze batch items did not succeed") as info:
        TwelveLabsCreateAnalyzeBatchOperator(**kwargs, max_failed_items=1, **FAST).execute(context())
    first = pq.read_table(out).to_pylist()
    failed = sorted(r["custom_id"] for r in first if r["status"] != "ready")
    assert len(first) == 10 and len(failed) > 1
    assert all(r["error_code"] for r in first if r["status"] != "ready")
    assert failed[0] in str(info.value)

    httpx.post(f"{emulator.url}/_emulator/config", json={"analyze_batch_item_failure_rate": 0.0})
    manifest = TwelveLabsCreateAnalyzeBatchOperator(**kwargs, **FAST).execute(context())

    second = pq.read_table(out).to_pylist()
    assert sorted(r["custom_id"] for r in second) == sorted(ids)
    assert {r["status"] for r in second} == {"ready"}
    assert manifest["reused"] == 10 - len(failed)
    # The re-run's one batch holds the failed items only.
    newest = max(created_batches(emulator), key=lambda b: b["created_at"])
    assert newest["total_items"] == len(failed)


def test_within_the_tolerance_the_task_succeeds_with_failures_listed(emulator, tmp_path):
    ids = assets(emulator, 4)
    httpx.post(f"{emulator.url}/_emulator/config", json={"analyze_batch_item_failure_rate": 0.5, "seed": 2})
    manifest = TwelveLabsCreateAnalyzeBatchOperator(
        task_id="b",
        items=ids,
        prompt="Describe",
        output_path=str(tmp_path / "r.jsonl"),
        max_failed_fraction=1.0,
        **FAST,
    ).execute(context())
    failed = sum(n for status, n in manifest["statuses"].items() if status != "ready")
    assert len(manifest["failed_custom_ids"]) == failed


@needs_task_state_store
def test_a_retry_after_a_killed_worker_reconnects_to_its_batches(emulator, tmp_path):
    ids = assets(emulator, 4)
    store = StateStore()
    kwargs = {
        "task_id": "b",
        "items": ids,
        "prompt": "Describe",
        "output_path": str(tmp_path / "r.jsonl"),
        "max_items_per_batch": 2,
    }
    with pytest.raises(KeyboardInterrupt):
        TwelveLabsCreateAnalyzeBatchOperator(**kwargs, **FAST).execute(context(store, DiesBeforeWaiting()))
    assert len(store.values["analyze_batch_ids"]) == 1

    manifest = TwelveLabsCreateAnalyzeBatchOperator(**kwargs, **FAST).execute(context(store))

    creates = [e for e in request_log(emulator) if (e["method"], e["path"]) == CREATE]
    assert len(creates) == 2  # the first try's batch, and the second batch: nothing twice
    assert manifest["statuses"] == {"ready": 4}
    assert "analyze_batch_ids" not in store.values


async def test_deferred_batches_finish_through_the_trigger(emulator, tmp_path):
    ids = assets(emulator, 3)
    out = tmp_path / "r.jsonl"
    kwargs = {
        "task_id": "b",
        "items": ids,
        "prompt": "Describe",
        "output_path": str(out),
        "max_items_per_batch": 1,
        "max_active_batches": 1,
        "poll_interval": 0.02,
        "deferrable": True,
    }
    step: Any = None
    try:
        try:
            TwelveLabsCreateAnalyzeBatchOperator(**kwargs).execute(context())
        except TaskDeferred as deferred:
            step = deferred
        deferrals = 0
        while step is not None:
            deferrals += 1
            assert step.kwargs["batch_ids"], "the batch ids must travel with the deferral"
            event = await anext(step.trigger.run())
            try:
                manifest = TwelveLabsCreateAnalyzeBatchOperator(**kwargs).execute_complete(
                    context(), event.payload, **step.kwargs
                )
                step = None
            except TaskDeferred as deferred:
                step = deferred
    finally:
        await TwelveLabsHook.aclose_shared_clients()
    assert deferrals == 3  # one batch at a time
    assert manifest["statuses"] == {"ready": 3} and len(rows(out)) == 3


@pytest.mark.parametrize("twelvelabs_emulator_config", [EmulatorConfig(analyze_task_never_finish=True)])
def test_on_kill_cancels_the_running_batches(emulator, tmp_path):
    ids = assets(emulator, 2)
    op = TwelveLabsCreateAnalyzeBatchOperator(
        task_id="b",
        items=ids,
        prompt="Describe",
        output_path=str(tmp_path / "r.jsonl"),
        max_items_per_batch=1,
        deferrable=True,
        poll_interval=0.02,
    )
    with pytest.raises(TaskDeferred):
        op.execute(context())
    op.on_kill()
    statuses = {b["status"] for b in created_batches(emulator)}
    assert statuses <= {"canceling", "canceled"} and len(created_batches(emulator)) == 2


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"items": "not-a-list-of-ids"}, "items must be a list"),
        (
            {"items": [{"asset_id": "a" * 24, "custom_id": "x"}, {"asset_id": "b" * 24, "custom_id": "x"}]},
            r"items\[1\].custom_id 'x' is already used",
        ),
        ({"items": [{"url": "https://x/y.mp4"}]}, r"items\[0\] has unknown keys"),
        ({"items": ["a" * 24], "model_name": "pegasus1.6"}, "model_name must be"),
        ({"items": ["a" * 24], "prompt": None}, "prompt is required"),
        ({"items": ["a" * 24], "output_path": ""}, "output_path must be a non-empty string"),
    ],
)
def test_bad_parameters_fail_before_any_request(emulator, params, message):
    kwargs = {"task_id": "bad", "prompt": "Describe", "output_path": "/tmp/never.jsonl", **params}
    with pytest.raises(ValueError, match=message):
        TwelveLabsCreateAnalyzeBatchOperator(**kwargs, **FAST).execute(context())
    assert not [e for e in request_log(emulator) if e["path"].startswith("/v1.3/analyze")]
