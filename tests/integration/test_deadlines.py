"""Deadlines (issue 13, item 5): a remote job that never finishes fails the operator at its
``wait_timeout`` with the remote id in the message, waiting on the worker and deferred to the real
trigger, and the job is cancelled where the API has a cancel call (analyze tasks and batches; the
API cannot cancel indexing or embedding, which the request log shows: no cancel, no delete).

The emulator's ``indexing_never_finish``, ``embedding_task_never_finish`` and
``analyze_task_never_finish`` switches keep the jobs running for ever.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from airflow.providers.common.compat.sdk import TaskDeferred

from airflow_provider_twelvelabs.exceptions import TwelveLabsWaitTimeoutError
from airflow_provider_twelvelabs.hooks.twelvelabs import TwelveLabsHook
from airflow_provider_twelvelabs.operators.analyze_async import (
    TwelveLabsCreateAnalyzeBatchOperator,
    TwelveLabsCreateAnalyzeTaskOperator,
)
from airflow_provider_twelvelabs.operators.embed import (
    TwelveLabsCreateEmbeddingTaskOperator,
    TwelveLabsCreateVideoEmbeddingTaskOperator,
)
from airflow_provider_twelvelabs.operators.indexes import (
    TwelveLabsCreateIndexingTaskOperator,
    TwelveLabsIndexAssetOperator,
)
from airflow_provider_twelvelabs.testing.emulator.config import EmulatorConfig
from airflow_provider_twelvelabs.testing.emulator.server import RunningEmulator, serve_emulator
from airflow_provider_twelvelabs.testing.pytest_plugin import set_twelvelabs_connection
from tests.helpers.airflow_fakes import RecordingTI, StateStore

pytestmark = pytest.mark.integration

URL = "https://media.example.com/keynote.mp4?duration=120"
MODELS = [{"model_name": "marengo3.0", "model_options": ["visual", "audio"]}]
WAIT_TIMEOUT = 1.0
POLL = {"poll_interval": 0.05, "poll_max_interval": 0.1, "wait_timeout": WAIT_TIMEOUT}


@pytest.fixture(scope="module")
def emulator() -> Iterator[RunningEmulator]:
    config = EmulatorConfig(
        indexing_never_finish=True, embedding_task_never_finish=True, analyze_task_never_finish=True
    )
    with serve_emulator(config) as running:
        yield running


@pytest.fixture(scope="module")
def ready(emulator: RunningEmulator) -> dict[str, str]:
    """An index and a ready asset (assets are not held back by the switches)."""
    with pytest.MonkeyPatch.context() as mp:
        set_twelvelabs_connection(mp, emulator.base_url, emulator.api_key)
        with TwelveLabsHook() as hook:
            index = hook.create_index(index_name="deadlines", models=MODELS)
            asset = hook.create_asset(method="url", url=URL)
            while hook.get_asset(str(asset.id)).status != "ready":
                pass
    return {"index_id": str(index.id), "asset_id": str(asset.id)}


@pytest.fixture
def api(emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch) -> RunningEmulator:
    set_twelvelabs_connection(
        monkeypatch, emulator.base_url, emulator.api_key, max_retries=1, retry_base_delay=0.01
    )
    httpx.delete(f"{emulator.url}/_emulator/requests").raise_for_status()
    return emulator


#: Per operator: how to build it, the XCom key of its job id, the job kind's GET path, and how the
#: emulator shows a cancel (``None``: the API has no cancel call).
JOBS: dict[str, tuple[Callable[[dict[str, str], str], Any], str, str | None]] = {
    "index_asset": (
        lambda r, tmp: TwelveLabsIndexAssetOperator(
            task_id="t", index_id=r["index_id"], asset_id=r["asset_id"], dedupe="off", **POLL
        ),
        "indexed_asset_id",
        None,
    ),
    "indexing_task": (
        lambda r, tmp: TwelveLabsCreateIndexingTaskOperator(
            task_id="t", index_id=r["index_id"], video_url=URL, **POLL
        ),
        "indexing_task_id",
        None,
    ),
    "embedding_task": (
        lambda r, tmp: TwelveLabsCreateEmbeddingTaskOperator(
            task_id="t", input_type="video", asset_id=r["asset_id"], **POLL
        ),
        "embed_v2_task_id",
        None,
    ),
    "video_embedding_task": (
        lambda r, tmp: TwelveLabsCreateVideoEmbeddingTaskOperator(task_id="t", video_url=URL, **POLL),
        "embed_v1_task_id",
        None,
    ),
    "analyze_task": (
        lambda r, tmp: TwelveLabsCreateAnalyzeTaskOperator(
            task_id="t", asset_id=r["asset_id"], prompt="Describe.", **POLL
        ),
        "analyze_task_id",
        "analyze/tasks/{id}/cancel",
    ),
    "analyze_batch": (
        lambda r, tmp: TwelveLabsCreateAnalyzeBatchOperator(
            task_id="t", items=[r["asset_id"]], prompt="Describe.", output_path=f"{tmp}/r.jsonl", **POLL
        ),
        "analyze_batch_ids",
        "analyze/batches/{id}/cancel",
    ),
}


def _requests(emulator: RunningEmulator) -> list[dict[str, Any]]:
    entries = httpx.get(f"{emulator.url}/_emulator/requests").json()["data"]
    return [e for e in entries if e["path"].startswith("/v1.3/")]


def _job_id(ti: RecordingTI, key: str) -> str:
    value = ti.pushed[key]
    return str(value[0] if isinstance(value, list) else value)


def _assert_cancelled_where_possible(emulator: RunningEmulator, cancel: str | None, job_id: str) -> None:
    log = _requests(emulator)
    if cancel is None:
        # The API cannot cancel this kind: nothing was tried, nothing was deleted.
        assert not [e for e in log if e["method"] == "DELETE" or e["path"].endswith("/cancel")]
        return
    path = "/v1.3/" + cancel.format(id=job_id)
    assert [e["status"] for e in log if (e["method"], e["path"]) == ("POST", path)] == [200]
    kind = "tasks" if "tasks" in cancel else "batches"
    status = httpx.get(
        f"{emulator.base_url}/analyze/{kind}/{job_id}", headers={"x-api-key": emulator.api_key}
    )
    assert status.json()["status"] in ("canceled", "canceling")


@pytest.mark.parametrize("name", list(JOBS))
def test_a_job_that_never_finishes_fails_at_the_deadline_on_the_worker(api, ready, tmp_path, name, capsys):
    build, key, cancel = JOBS[name]
    operator = build(ready, str(tmp_path))
    operator.deferrable = False
    ti = RecordingTI()
    started = time.monotonic()
    with pytest.raises(TwelveLabsWaitTimeoutError) as info:
        operator.execute({"ti": ti, "task_state_store": StateStore()})
    elapsed = time.monotonic() - started

    job_id = _job_id(ti, key)
    assert job_id in str(info.value)
    assert WAIT_TIMEOUT <= elapsed < WAIT_TIMEOUT + 10
    _assert_cancelled_where_possible(api, cancel, job_id)
    if cancel is None:
        assert "the API cannot cancel it" in capsys.readouterr().out


@pytest.mark.parametrize("name", list(JOBS))
async def test_a_job_that_never_finishes_fails_at_the_deadline_in_the_trigger(api, ready, tmp_path, name):
    build, key, cancel = JOBS[name]
    operator = build(ready, str(tmp_path))
    operator.deferrable = True
    ti = RecordingTI()
    context = {"ti": ti, "task_state_store": StateStore()}
    with pytest.raises(TaskDeferred) as deferred:
        await asyncio.to_thread(operator.execute, context)
    trigger = deferred.value.trigger
    started = time.monotonic()
    try:
        event = await asyncio.wait_for(anext(trigger.run()), WAIT_TIMEOUT + 15)
    finally:
        await TwelveLabsHook.aclose_shared_clients()
    assert event.payload["status"] == "timeout"
    assert time.monotonic() - started < WAIT_TIMEOUT + 10

    job_id = _job_id(ti, key)
    resumed = build(ready, str(tmp_path))
    with pytest.raises(TwelveLabsWaitTimeoutError) as info:
        await asyncio.to_thread(
            resumed.execute_complete, context, event.payload, **(deferred.value.kwargs or {})
        )
    assert job_id in str(info.value)
    _assert_cancelled_where_possible(api, cancel, job_id)
