"""Unit tests of TwelveLabsBaseOperator: the wait (sync and deferred) and every execute_complete path."""

from __future__ import annotations

import time
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import TaskDeferred

from airflow_provider_twelvelabs.exceptions import (
    TwelveLabsError,
    TwelveLabsResourceCanceledError,
    TwelveLabsResourceFailedError,
    TwelveLabsWaitTimeoutError,
)
from airflow_provider_twelvelabs.operators.base import TwelveLabsBaseOperator
from airflow_provider_twelvelabs.testing.pytest_plugin import set_twelvelabs_connection
from airflow_provider_twelvelabs.triggers.twelvelabs import TwelveLabsResourceTrigger
from airflow_provider_twelvelabs.waiting import PollPolicy
from tests.helpers.airflow_fakes import RecordingTI
from tests.helpers.http_server import RecordingServer, Reply

API_KEY = "tlk_TESTKEY_base_op_42aa17"
TASK = "6d0000000000000000000001"
INDEX = "6a0000000000000000000001"
FAST = {"poll_interval": 0.01, "poll_max_interval": 0.02}


class WaitOperator(TwelveLabsBaseOperator):
    """Waits for one indexing task and returns what it was told, as a concrete operator would."""

    def __init__(self, *, resource: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.resource = resource
        self.ready: list[tuple[str, dict[str, Any]]] = []

    def execute(self, context: Any) -> Any:
        return self.wait_for_resource(
            context, kind="indexing_task", resource_id=TASK, index_id=INDEX, resource=self.resource
        )

    def on_resource_ready(self, context: Any, kind: str, resource: dict[str, Any]) -> Any:
        self.ready.append((kind, resource))
        return {"task_id": resource["id"], "status": resource["status"]}


@pytest.fixture
def server(recording_server: RecordingServer, monkeypatch: pytest.MonkeyPatch) -> RecordingServer:
    set_twelvelabs_connection(
        monkeypatch, recording_server.base_url, API_KEY, retry_base_delay=0.01, retry_max_wait=0.02
    )
    return recording_server


def task_json(status: str, **extra: Any) -> dict[str, Any]:
    return {"_id": TASK, "index_id": INDEX, "status": status, **extra}


def event(status: str, **fields: Any) -> dict[str, Any]:
    return {"status": status, "kind": "indexing_task", "resource_id": TASK, "index_id": INDEX, **fields}


# --------------------------------------------------------------------------- execute_complete


def test_execute_complete_without_event_is_a_clear_error() -> None:
    op = WaitOperator(task_id="wait")
    with pytest.raises(TwelveLabsError, match="without a TwelveLabs trigger event"):
        op.execute_complete({}, None)
    with pytest.raises(TwelveLabsError, match="without a TwelveLabs trigger event"):
        op.execute_complete({}, {"resource": {}})


def test_execute_complete_rejects_an_unknown_status() -> None:
    with pytest.raises(TwelveLabsError, match="Unknown TwelveLabs trigger event status 'paused'"):
        WaitOperator(task_id="wait").execute_complete({}, event("paused"))


def test_execute_complete_success_hands_the_resource_to_on_resource_ready() -> None:
    op = WaitOperator(task_id="wait")
    resource = {"id": TASK, "status": "ready", "video_id": "v1"}
    result = op.execute_complete({}, event("success", resource=resource))
    assert result == {"task_id": TASK, "status": "ready"}
    assert op.ready == [("indexing_task", resource)]


def test_execute_complete_success_without_resource_is_an_error() -> None:
    with pytest.raises(TwelveLabsError, match="has no resource"):
        WaitOperator(task_id="wait").execute_complete({}, event("success"))


def test_execute_complete_failed_carries_the_api_reason() -> None:
    with pytest.raises(TwelveLabsResourceFailedError) as info:
        WaitOperator(task_id="wait").execute_complete(
            {}, event("failed", message="video_resolution_too_low: 240p is below 360p")
        )
    assert info.value.reason == "video_resolution_too_low: 240p is below 360p"
    assert info.value.resource_id == TASK
    assert "240p is below 360p" in str(info.value)


def test_execute_complete_timeout_names_the_remote_id() -> None:
    with pytest.raises(TwelveLabsWaitTimeoutError) as info:
        WaitOperator(task_id="wait").execute_complete(
            {}, event("timeout", message="not final", last_status="indexing")
        )
    assert TASK in str(info.value) and "indexing" in str(info.value)
    assert info.value.last_status == "indexing"


def test_execute_complete_error_event_raises_with_its_message() -> None:
    with pytest.raises(TwelveLabsError, match="resource_not_exist"):
        WaitOperator(task_id="wait").execute_complete({}, event("error", message="404 resource_not_exist"))


@pytest.mark.parametrize("status", ["indexing", "paused", None])
def test_a_success_event_whose_resource_is_not_final_is_never_success(status: str | None) -> None:
    # The trigger only says success for a final resource; anything else is a broken event.
    resource = {"id": TASK, "status": status}
    with pytest.raises(TwelveLabsError, match=rf"{TASK}.*not a final status"):
        WaitOperator(task_id="wait").execute_complete({}, event("success", resource=resource))


def test_a_failed_event_of_a_canceled_resource_says_canceled() -> None:
    resource = {"id": TASK, "status": "canceled"}
    with pytest.raises(TwelveLabsResourceCanceledError, match=f"{TASK} was canceled: user_canceled"):
        WaitOperator(task_id="wait").execute_complete(
            {}, event("failed", message="user_canceled", resource=resource)
        )
    with pytest.raises(TwelveLabsResourceCanceledError, match=TASK):
        WaitOperator(task_id="wait").execute_complete({}, event("canceled"))


# --------------------------------------------------------------------------- wait_for_resource


def test_already_ready_resource_returns_at_once_without_any_call(server: RecordingServer) -> None:
    ti = RecordingTI()
    op = WaitOperator(task_id="wait", deferrable=True, resource=task_json("ready"))
    assert op.execute({"ti": ti}) == {"task_id": TASK, "status": "ready"}
    assert server.requests == []
    assert ("indexing_task_id", TASK) in ti.pushes and ("index_id", INDEX) in ti.pushes


def test_already_failed_resource_raises_at_once(server: RecordingServer) -> None:
    op = WaitOperator(task_id="wait", resource=task_json("failed", error={"message": "video_file_broken"}))
    with pytest.raises(TwelveLabsResourceFailedError, match="video_file_broken"):
        op.execute({"ti": RecordingTI()})
    assert server.requests == []


def test_deferrable_pushes_ids_then_defers_to_the_trigger(server: RecordingServer) -> None:
    ti = RecordingTI()
    op = WaitOperator(
        task_id="wait", deferrable=True, resource=task_json("indexing"), wait_timeout=600, **FAST
    )
    before = time.time()
    with pytest.raises(TaskDeferred) as info:
        op.execute({"ti": ti})
    assert ti.pushes == [("indexing_task_id", TASK), ("index_id", INDEX)]
    assert info.value.method_name == "execute_complete"
    trigger = info.value.trigger
    assert isinstance(trigger, TwelveLabsResourceTrigger)
    _, kwargs = trigger.serialize()
    assert before + 600 <= kwargs["deadline"] <= time.time() + 600
    assert trigger == TwelveLabsResourceTrigger(
        kind="indexing_task",
        resource_id=TASK,
        index_id=INDEX,
        deadline=kwargs["deadline"],
        poll_interval=0.01,
        poll_max_interval=0.02,
    )
    assert server.requests == []


def test_sync_wait_polls_until_ready(server: RecordingServer) -> None:
    server.on(
        "GET",
        f"tasks/{TASK}",
        Reply(json=task_json("pending")),
        Reply(json=task_json("indexing")),
        Reply(json=task_json("ready", video_id="v1")),
    )
    op = WaitOperator(task_id="wait", deferrable=False, **FAST)
    assert op.execute({"ti": RecordingTI()}) == {"task_id": TASK, "status": "ready"}
    assert len(server.requests) == 3
    assert op.ready[0][1]["video_id"] == "v1"


def test_sync_wait_raises_the_api_reason_on_failure(server: RecordingServer) -> None:
    server.on(
        "GET",
        f"tasks/{TASK}",
        Reply(json=task_json("validating")),
        Reply(json=task_json("failed", error={"message": "video_duration_too_short"})),
    )
    with pytest.raises(TwelveLabsResourceFailedError, match="video_duration_too_short"):
        WaitOperator(task_id="wait", deferrable=False, **FAST).execute({"ti": RecordingTI()})


def test_sync_wait_times_out_naming_the_task(server: RecordingServer) -> None:
    server.on("GET", f"tasks/{TASK}", Reply(json=task_json("queued")))
    op = WaitOperator(task_id="wait", deferrable=False, wait_timeout=0.2, **FAST)
    started = time.monotonic()
    with pytest.raises(TwelveLabsWaitTimeoutError, match=f"{TASK}.*queued"):
        op.execute({"ti": RecordingTI()})
    assert time.monotonic() - started < 2


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"wait_timeout": -1}, "wait_timeout"),
        ({"poll_interval": 0}, "poll interval"),
        ({"poll_backoff": 0.5}, "backoff"),
        ({"poll_interval": 10, "poll_max_interval": 5}, "max_interval"),
    ],
)
def test_invalid_wait_settings_are_rejected_at_construction(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        WaitOperator(task_id="wait", **kwargs)


def test_indexed_asset_wait_needs_an_index_before_any_call(server: RecordingServer) -> None:
    class IndexedWait(TwelveLabsBaseOperator):
        def execute(self, context: Any) -> Any:
            return self.wait_for_resource(context, kind="indexed_asset", resource_id="ia1")

    with pytest.raises(ValueError, match="index_id is required"):
        IndexedWait(task_id="wait").execute({})
    assert server.requests == []


def test_poll_defaults_come_from_the_twelvelabs_config_section(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__TWELVELABS__POLL_INTERVAL", "0.1")
    monkeypatch.setenv("AIRFLOW__TWELVELABS__POLL_MAX_INTERVAL", "0.5")
    assert WaitOperator(task_id="wait").poll_policy == PollPolicy(interval=0.1, backoff=1.5, max_interval=0.5)
    explicit = WaitOperator(task_id="wait", poll_interval=3, poll_max_interval=9)
    assert (explicit.poll_policy.interval, explicit.poll_policy.max_interval) == (3, 9)
    monkeypatch.delenv("AIRFLOW__TWELVELABS__POLL_INTERVAL")
    monkeypatch.delenv("AIRFLOW__TWELVELABS__POLL_MAX_INTERVAL")
    assert WaitOperator(task_id="wait").poll_policy == PollPolicy(
        interval=2.0, backoff=1.5, max_interval=60.0
    )


# --------------------------------------------------------------------------- lost create answers


def test_job_tag_is_the_same_on_every_try_and_differs_across_runs_and_map_indexes() -> None:
    from airflow_provider_twelvelabs.operators.base import job_tag

    first, retry = RecordingTI(), RecordingTI()
    retry.try_number = 2
    other_run, other_index = RecordingTI(), RecordingTI()
    other_run.run_id = "scheduled__2026-12-03T00:00:00+00:00"
    other_index.map_index = 3

    tag = job_tag({"ti": first})
    assert tag is not None and tag.startswith("af-") and len(tag) <= 64
    assert job_tag({"ti": retry}) == tag
    assert len({tag, job_tag({"ti": other_run}), job_tag({"ti": other_index})}) == 3
    assert job_tag({}) is None


def test_created_since_allows_the_clock_skew_and_unreadable_times() -> None:
    from datetime import datetime, timedelta, timezone

    from airflow_provider_twelvelabs.operators.base import CLOCK_SKEW, created_since

    since = datetime(2026, 12, 2, 6, 0, tzinfo=timezone.utc)
    assert created_since("2026-12-02T06:00:01Z", since)
    assert created_since((since - CLOCK_SKEW + timedelta(seconds=1)).isoformat(), since)
    assert not created_since((since - CLOCK_SKEW - timedelta(seconds=1)).isoformat(), since)
    assert created_since("not a time", since) and created_since(None, since)
    assert created_since("2020-01-01T00:00:00Z", None)
