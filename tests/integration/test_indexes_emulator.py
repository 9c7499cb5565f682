"""The index operators against the emulator served on 127.0.0.1 (real HTTP, real trigger)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from airflow.providers.common.compat.sdk import TaskDeferred

from airflow_provider_twelvelabs.exceptions import TwelveLabsResourceFailedError
from airflow_provider_twelvelabs.hooks.endpoints import FilePart
from airflow_provider_twelvelabs.hooks.twelvelabs import TwelveLabsHook
from airflow_provider_twelvelabs.operators.indexes import (
    TwelveLabsCreateIndexingTaskOperator,
    TwelveLabsCreateIndexOperator,
    TwelveLabsDeleteIndexOperator,
    TwelveLabsIndexAssetOperator,
)
from airflow_provider_twelvelabs.testing.emulator.server import RunningEmulator
from airflow_provider_twelvelabs.waiting import wait_for_resource_sync
from tests.helpers.airflow_fakes import RecordingTI

pytestmark = pytest.mark.integration

MEDIA = Path(__file__).resolve().parents[2] / "example_dags" / "media"
SAMPLE = MEDIA / "testsrc_640x360.mp4"
FAST = {"poll_interval": 0.05, "poll_max_interval": 0.1}


@pytest.fixture
def emulator(twelvelabs_connection: RunningEmulator) -> RunningEmulator:
    return twelvelabs_connection


@pytest.fixture
def hook(emulator: RunningEmulator) -> Iterator[TwelveLabsHook]:
    with TwelveLabsHook() as h:
        yield h


def requests_made(emulator: RunningEmulator, method: str, suffix: str) -> int:
    log = httpx.get(f"{emulator.url}/_emulator/requests").json()["data"]
    return sum(1 for entry in log if entry["method"] == method and entry["path"].endswith(suffix))


def ready_asset(hook: TwelveLabsHook, path: Path = SAMPLE, filename: str | None = None) -> str:
    part = FilePart("file", filename or path.name, lambda: path.open("rb"), "video/mp4")
    asset = hook.create_asset(method="direct", file=part, filename=filename or path.name)
    wait_for_resource_sync(hook, "asset", asset.id, policy=_policy())
    return asset.id


def _policy() -> Any:
    from airflow_provider_twelvelabs.waiting import PollPolicy

    return PollPolicy(interval=0.05, max_interval=0.1)


def make_index(hook: TwelveLabsHook, name: str = "archive") -> str:
    return TwelveLabsCreateIndexOperator(task_id="create", index_name=name).execute({"ti": RecordingTI()})


# --------------------------------------------------------------------------- indexes


def test_create_index_is_idempotent(emulator, hook):
    ti = RecordingTI()
    first = TwelveLabsCreateIndexOperator(task_id="create", index_name="archive").execute({"ti": ti})
    again = TwelveLabsCreateIndexOperator(task_id="create", index_name="archive").execute(
        {"ti": RecordingTI()}
    )

    assert again == first == ti.pushed["index_id"]
    named = [index for index in hook.list_indexes() if index.index_name == "archive"]
    assert [index.id for index in named] == [first]
    assert named[0].models is not None
    assert named[0].models[0].model_name == "marengo3.0"
    assert requests_made(emulator, "POST", "/indexes") == 1


def test_create_index_fail_mode(emulator, hook):
    make_index(hook, "archive")
    op = TwelveLabsCreateIndexOperator(task_id="create", index_name="archive", if_exists="fail")
    with pytest.raises(ValueError, match="already exists"):
        op.execute({"ti": RecordingTI()})
    assert sum(1 for index in hook.list_indexes() if index.index_name == "archive") == 1


def test_create_index_does_not_reuse_a_longer_name(emulator, hook):
    longer = make_index(hook, "archive-2024")
    assert make_index(hook, "archive") != longer


def test_delete_index_then_again(emulator, hook):
    index_id = make_index(hook)
    TwelveLabsDeleteIndexOperator(task_id="d", index_id=index_id).execute({"ti": RecordingTI()})
    assert not [index for index in hook.list_indexes() if index.id == index_id]
    # A retry after a successful delete finds nothing to delete, and succeeds.
    TwelveLabsDeleteIndexOperator(task_id="d", index_id=index_id).execute({"ti": RecordingTI()})


# --------------------------------------------------------------------------- indexed assets


def test_index_asset_polling_then_retry_creates_no_duplicate(emulator, hook):
    index_id = make_index(hook)
    asset_id = ready_asset(hook)
    ti = RecordingTI()

    first = TwelveLabsIndexAssetOperator(
        task_id="index", index_id=index_id, asset_id=asset_id, deferrable=False, **FAST
    ).execute({"ti": ti})

    assert hook.get_indexed_asset(index_id, first).status == "ready"
    assert ti.pushed["indexed_asset_id"] == first and ti.pushed["index_id"] == index_id

    # An Airflow retry of the same task: it finds the indexed asset and creates nothing.
    again = TwelveLabsIndexAssetOperator(
        task_id="index", index_id=index_id, asset_id=asset_id, deferrable=True, **FAST
    ).execute({"ti": RecordingTI()})

    assert again == first
    assert [item.id for item in hook.list_indexed_assets(index_id)] == [first]
    assert requests_made(emulator, "POST", f"/indexes/{index_id}/indexed-assets") == 1


async def test_index_asset_defers_and_the_trigger_finishes_it(emulator, hook):
    index_id = make_index(hook)
    asset_id = ready_asset(hook)
    op = TwelveLabsIndexAssetOperator(
        task_id="index", index_id=index_id, asset_id=asset_id, deferrable=True, **FAST
    )
    ti = RecordingTI()

    with pytest.raises(TaskDeferred) as deferred:
        op.execute({"ti": ti})

    indexed_asset_id = ti.pushed["indexed_asset_id"]
    trigger = deferred.value.trigger
    _, kwargs = trigger.serialize()
    assert (kwargs["kind"], kwargs["resource_id"], kwargs["index_id"]) == (
        "indexed_asset",
        indexed_asset_id,
        index_id,
    )
    assert emulator.api_key not in json.dumps(kwargs, default=str)

    try:
        event = await anext(trigger.run())
    finally:
        await TwelveLabsHook.aclose_shared_clients()
    assert event.payload["status"] == "success"

    resumed = TwelveLabsIndexAssetOperator(
        task_id="index", index_id=index_id, asset_id=asset_id, deferrable=True
    )
    assert resumed.execute_complete({"ti": RecordingTI()}, event.payload) == indexed_asset_id
    assert hook.get_indexed_asset(index_id, indexed_asset_id).status == "ready"


def test_retry_after_deferring_reuses_the_indexed_asset(emulator, hook):
    index_id = make_index(hook)
    asset_id = ready_asset(hook)
    first = TwelveLabsIndexAssetOperator(
        task_id="index", index_id=index_id, asset_id=asset_id, deferrable=True
    )
    ti = RecordingTI()
    with pytest.raises(TaskDeferred):
        first.execute({"ti": ti})

    # The triggerer died, the task is retried on a worker in polling mode.
    retried = TwelveLabsIndexAssetOperator(
        task_id="index", index_id=index_id, asset_id=asset_id, deferrable=False, **FAST
    ).execute({"ti": RecordingTI()})

    assert retried == ti.pushed["indexed_asset_id"]
    assert requests_made(emulator, "POST", f"/indexes/{index_id}/indexed-assets") == 1


def test_index_asset_failure_carries_the_reason(emulator, hook):
    index_id = make_index(hook)
    asset_id = ready_asset(hook, filename="clip_fail_index.mp4")
    op = TwelveLabsIndexAssetOperator(
        task_id="index", index_id=index_id, asset_id=asset_id, deferrable=False, **FAST
    )
    with pytest.raises(TwelveLabsResourceFailedError) as failed:
        op.execute({"ti": RecordingTI()})
    assert failed.value.kind == "indexed_asset"
    assert failed.value.reason


# --------------------------------------------------------------------------- legacy tasks


def test_indexing_task_upload_and_retry(emulator, hook):
    index_id = make_index(hook)
    ti = RecordingTI()

    video_id = TwelveLabsCreateIndexingTaskOperator(
        task_id="task", index_id=index_id, video_path=str(SAMPLE), deferrable=False, **FAST
    ).execute({"ti": ti})

    task = hook.get_indexing_task(ti.pushed["task_id"])
    assert task.status == "ready" and video_id == task.video_id == ti.pushed["video_id"]
    assert (task.system_metadata or {}).get("filename") == SAMPLE.name

    again = TwelveLabsCreateIndexingTaskOperator(
        task_id="task", index_id=index_id, video_path=str(SAMPLE), deferrable=True, **FAST
    ).execute({"ti": RecordingTI()})
    assert again == video_id
    assert requests_made(emulator, "POST", "/tasks") == 1


def test_indexing_task_defers(emulator, hook):
    index_id = make_index(hook)
    ti = RecordingTI()
    op = TwelveLabsCreateIndexingTaskOperator(
        task_id="task", index_id=index_id, video_path=SAMPLE, deferrable=True
    )
    with pytest.raises(TaskDeferred) as deferred:
        op.execute({"ti": ti})
    _, kwargs = deferred.value.trigger.serialize()
    assert kwargs["kind"] == "indexing_task" and kwargs["resource_id"] == ti.pushed["task_id"]
