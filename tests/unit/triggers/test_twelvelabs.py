"""Unit tests of TwelveLabsResourceTrigger: its kwargs, and its events against a scripted server."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

try:
    from airflow.serialization.encoders import encode_trigger
except ImportError:  # Airflow < 3.2 keeps the same encoder in serialized_objects
    from airflow.serialization.serialized_objects import _encode_trigger as encode_trigger

from airflow_provider_twelvelabs.hooks.twelvelabs import TwelveLabsHook
from airflow_provider_twelvelabs.testing.pytest_plugin import set_twelvelabs_connection
from airflow_provider_twelvelabs.triggers.twelvelabs import TwelveLabsResourceTrigger
from airflow_provider_twelvelabs.waiting import KINDS, PollPolicy
from tests.helpers.http_server import RecordingServer, Reply

API_KEY = "tlk_TESTKEY_trigger_unit_9c41d2"
TASK = "6d0000000000000000000001"
ASSET = "6b0000000000000000000001"
FAST = {"poll_interval": 0.01, "poll_max_interval": 0.02}
_JSON_TYPES = (str, int, float, bool, type(None))


def make_trigger(**overrides: Any) -> TwelveLabsResourceTrigger:
    kwargs: dict[str, Any] = {
        "kind": "indexed_asset",
        "resource_id": "6c0000000000000000000001",
        "index_id": "6a0000000000000000000001",
        "twelvelabs_conn_id": "tl_prod",
        "deadline": 1_900_000_000.5,
        "poll_interval": 3.0,
        "poll_backoff": 2.0,
        "poll_max_interval": 90.0,
        "max_consecutive_errors": 3,
        **overrides,
    }
    return TwelveLabsResourceTrigger(**kwargs)


# --------------------------------------------------------------------------- kwargs


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_serialize_round_trip_gives_an_equal_trigger(kind: str) -> None:
    trigger = make_trigger(kind=kind)
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_twelvelabs.triggers.twelvelabs.TwelveLabsResourceTrigger"
    rebuilt = TwelveLabsResourceTrigger(**kwargs)
    assert rebuilt == trigger
    assert rebuilt.serialize() == (classpath, kwargs)
    assert rebuilt != make_trigger(kind=kind, deadline=1_900_000_001.0)


def test_kwargs_are_json_native_and_survive_airflow_serde() -> None:
    _, kwargs = make_trigger().serialize()
    assert all(isinstance(value, _JSON_TYPES) for value in kwargs.values())
    assert json.loads(json.dumps(kwargs)) == kwargs
    encoded = encode_trigger(make_trigger())
    assert TwelveLabsResourceTrigger(**encoded["kwargs"]) == make_trigger()


def test_kwargs_carry_no_credential(monkeypatch: pytest.MonkeyPatch) -> None:
    set_twelvelabs_connection(monkeypatch, "http://127.0.0.1:9/v1.3", API_KEY, conn_id="tl_prod")
    trigger = make_trigger()
    text = json.dumps(trigger.serialize()) + repr(trigger)
    assert API_KEY not in text
    assert set(trigger.serialize()[1]) == {
        "kind",
        "resource_id",
        "index_id",
        "twelvelabs_conn_id",
        "deadline",
        "poll_interval",
        "poll_backoff",
        "poll_max_interval",
        "max_consecutive_errors",
        "shared",
    }


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"kind": "video"}, "unknown TwelveLabs resource kind 'video'"),
        ({"index_id": None}, "index_id is required"),
        ({"resource_id": ""}, "id is required"),
        ({"poll_backoff": 0.9}, "backoff"),
    ],
)
def test_invalid_kwargs_are_rejected(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_trigger(**overrides)


def test_poll_policy_starts_quick_and_backs_off_to_its_cap() -> None:
    policy = PollPolicy(interval=2, backoff=1.5, max_interval=60)
    waits = [policy.delay(n) for n in range(12)]
    assert waits[:4] == [2.0, 3.0, 4.5, 6.75]
    assert waits == sorted(waits) and waits[-1] == 60.0
    assert policy.delay(10_000) == 60.0
    # An hour of waiting costs a few dozen polls, not 1,800.
    elapsed, polls = 0.0, 0
    for wait in policy.delays():
        if elapsed >= 3600:
            break
        elapsed, polls = elapsed + wait, polls + 1
    assert polls < 75
    assert PollPolicy.from_dict(policy.to_dict()) == policy


# --------------------------------------------------------------------------- events (scripted server)


@pytest.fixture
async def server(
    recording_server: RecordingServer, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[RecordingServer]:
    set_twelvelabs_connection(monkeypatch, recording_server.base_url, API_KEY)
    yield recording_server
    await TwelveLabsHook.aclose_shared_clients()


async def events_of(trigger: TwelveLabsResourceTrigger) -> list[dict[str, Any]]:
    return [event.payload async for event in trigger.run()]


def embed_task(status: str, **extra: Any) -> dict[str, Any]:
    return {"_id": TASK, "status": status, **extra}


async def test_success_event_leaves_the_vectors_out(server: RecordingServer) -> None:
    vectors = [{"embedding": [0.1] * 8, "embedding_option": "visual"}]
    # The shared poller lists the tasks still processing; once the task left that list it is
    # fetched once, for its final state.
    server.on(
        "GET",
        "embed-v2/tasks",
        Reply(json={"data": [{"_id": TASK, "status": "processing"}], "page_info": {"total_page": 1}}),
        Reply(json={"data": [], "page_info": {"total_page": 0}}),
    )
    server.on(
        "GET",
        f"embed-v2/tasks/{TASK}",
        Reply(json=embed_task("processing")),
        Reply(json=embed_task("ready", data=vectors, metadata={"duration": 12.5})),
    )
    events = await events_of(TwelveLabsResourceTrigger(kind="embed_v2_task", resource_id=TASK, **FAST))
    assert events == [
        {
            "status": "success",
            "kind": "embed_v2_task",
            "resource_id": TASK,
            "index_id": None,
            "resource": {"id": TASK, "status": "ready", "metadata": {"duration": 12.5}},
        }
    ]


async def test_failed_event_carries_the_api_reason(server: RecordingServer) -> None:
    reason = "failed to fetch or materialize source media"
    server.on("GET", "embed-v2/tasks", Reply(json={"data": [], "page_info": {"total_page": 0}}))
    server.on("GET", f"embed-v2/tasks/{TASK}", Reply(json=embed_task("failed", error={"message": reason})))
    (event,) = await events_of(TwelveLabsResourceTrigger(kind="embed_v2_task", resource_id=TASK, **FAST))
    assert event["status"] == "failed" and event["message"] == reason
    assert [r.api_path for r in server.requests] == ["embed-v2/tasks", f"embed-v2/tasks/{TASK}"]


async def test_a_429_is_waited_out_as_the_api_asks(server: RecordingServer) -> None:
    server.on(
        "GET",
        f"embed/tasks/{TASK}/status",
        Reply(429, json={"code": "too_many_requests", "message": "slow down"}, headers={"Retry-After": "1"}),
        Reply(json=embed_task("ready")),
    )
    (event,) = await events_of(
        TwelveLabsResourceTrigger(kind="embed_v1_task", resource_id=TASK, max_consecutive_errors=0, **FAST)
    )
    assert event["status"] == "success"
    first, second = server.requests
    assert second.at - first.at >= 0.95


async def test_transient_errors_are_tolerated_up_to_the_limit(server: RecordingServer) -> None:
    server.on(
        "GET",
        f"embed/tasks/{TASK}/status",
        Reply(503, body=b"<html>Service Unavailable</html>"),
        Reply(500, json={"code": "internal_error", "message": "oops"}),
        Reply(json={"_id": TASK, "status": "ready", "model_name": "marengo3.0"}),
    )
    trigger = TwelveLabsResourceTrigger(
        kind="embed_v1_task", resource_id=TASK, max_consecutive_errors=2, **FAST
    )
    (event,) = await events_of(trigger)
    assert event["status"] == "success" and event["resource"]["model_name"] == "marengo3.0"


async def test_too_many_transient_errors_end_in_an_error_event(server: RecordingServer) -> None:
    down = Reply(500, json={"code": "internal_error", "message": "down"})
    server.on("GET", f"embed/tasks/{TASK}/status", down)
    trigger = TwelveLabsResourceTrigger(
        kind="embed_v1_task", resource_id=TASK, max_consecutive_errors=1, **FAST
    )
    (event,) = await events_of(trigger)
    assert event["status"] == "error"
    assert "2 consecutive errors" in event["message"] and "down" in event["message"]
    assert len(server.requests) == 2


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (Reply(404, json={"code": "resource_not_exist", "message": "no such task"}), "no such task"),
        (Reply(401, json={"code": "api_key_invalid", "message": "bad key"}), "bad key"),
    ],
)
async def test_permanent_errors_end_at_once(server: RecordingServer, reply: Reply, expected: str) -> None:
    server.on("GET", f"embed/tasks/{TASK}/status", reply)
    (event,) = await events_of(TwelveLabsResourceTrigger(kind="embed_v1_task", resource_id=TASK, **FAST))
    assert event["status"] == "error" and expected in event["message"]
    assert API_KEY not in event["message"]
    assert len(server.requests) == 1


async def test_timeout_event_reports_the_last_status(server: RecordingServer) -> None:
    server.on("GET", f"assets/multipart-uploads/{TASK}", Reply(json={"upload_id": TASK, "status": "active"}))
    trigger = TwelveLabsResourceTrigger(
        kind="multipart_upload", resource_id=TASK, deadline=time.time() + 0.3, **FAST
    )
    (event,) = await events_of(trigger)
    assert event["status"] == "timeout"
    assert event["last_status"] == "active"
    assert TASK in event["message"]


async def test_a_past_deadline_still_reports_a_finished_resource(server: RecordingServer) -> None:
    server.on("GET", f"assets/{ASSET}", Reply(json={"_id": ASSET, "status": "ready"}))
    server.on("GET", "assets", Reply(json={"data": [{"_id": ASSET, "status": "ready"}]}))
    trigger = TwelveLabsResourceTrigger(kind="asset", resource_id=ASSET, deadline=time.time() - 5, **FAST)
    (event,) = await events_of(trigger)
    assert event["status"] == "success" and event["resource"]["id"] == ASSET


async def test_a_refused_key_is_read_again_by_later_triggers(
    server: RecordingServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    refused = Reply(401, json={"code": "api_key_invalid", "message": "The API key is not valid."})
    server.on("GET", f"embed/tasks/{TASK}/status", refused, Reply(json={"_id": TASK, "status": "ready"}))
    (first,) = await events_of(TwelveLabsResourceTrigger(kind="embed_v1_task", resource_id=TASK, **FAST))
    assert first["status"] == "error" and "not valid" in first["message"]
    rotated = "tlk_TESTKEY_rotated_5d0e21"
    set_twelvelabs_connection(monkeypatch, server.base_url, rotated)
    (second,) = await events_of(TwelveLabsResourceTrigger(kind="embed_v1_task", resource_id=TASK, **FAST))
    assert second["status"] == "success"
    assert [r.header("x-api-key") for r in server.requests] == [API_KEY, rotated]


async def test_polls_pace_themselves_by_the_rate_limit_headers(server: RecordingServer) -> None:
    # The first answer says the window is spent (but for the 10 % kept for other clients) until
    # 2.5 s from now: the next poll waits for the reset instead of provoking a 429.
    spent = {
        "X-Ratelimit-Limit": "10",
        "X-Ratelimit-Remaining": "1",
        "X-Ratelimit-Reset": str(time.time() + 2.5),
    }
    server.on(
        "GET",
        f"embed/tasks/{TASK}/status",
        Reply(json={"_id": TASK, "status": "processing"}, headers=spent),
        Reply(json={"_id": TASK, "status": "ready"}),
    )
    (event,) = await events_of(TwelveLabsResourceTrigger(kind="embed_v1_task", resource_id=TASK, **FAST))
    assert event["status"] == "success"
    first, second = server.requests
    assert second.at - first.at >= 1.0


async def test_a_missing_list_endpoint_falls_back_to_polling_each_task(server: RecordingServer) -> None:
    # No route for GET /embed-v2/tasks: the scripted server answers 404, as a proxy might.
    server.on("GET", f"embed-v2/tasks/{TASK}", Reply(json=embed_task("ready")))
    (event,) = await events_of(TwelveLabsResourceTrigger(kind="embed_v2_task", resource_id=TASK, **FAST))
    assert event["status"] == "success"
    assert [(r.api_path, r.query) for r in server.requests][-1] == (f"embed-v2/tasks/{TASK}", [])
