"""TwelveLabsResourceTrigger against the emulator served on 127.0.0.1 (real HTTP, shared poller)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from airflow_provider_twelvelabs.hooks.twelvelabs import TwelveLabsHook
from airflow_provider_twelvelabs.testing.emulator.config import EmulatorConfig
from airflow_provider_twelvelabs.testing.emulator.server import RunningEmulator
from airflow_provider_twelvelabs.triggers.twelvelabs import TwelveLabsResourceTrigger
from airflow_provider_twelvelabs.waiting import get_kind

pytestmark = pytest.mark.integration

FAST = {"poll_interval": 0.05, "poll_max_interval": 0.2}
MODELS = [{"model_name": "marengo3.0", "model_options": ["visual", "audio"]}]


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    return EmulatorConfig()


@pytest.fixture
def twelvelabs_emulator_config(emulator_config: EmulatorConfig) -> EmulatorConfig:
    return emulator_config


@pytest.fixture
async def emulator(twelvelabs_connection: RunningEmulator) -> AsyncIterator[RunningEmulator]:
    yield twelvelabs_connection
    await TwelveLabsHook.aclose_shared_clients()


@pytest.fixture
def hook(emulator: RunningEmulator) -> TwelveLabsHook:
    return TwelveLabsHook()


def request_log(emulator: RunningEmulator) -> list[dict[str, Any]]:
    """The API requests the emulator received (its control endpoints left out)."""
    entries = httpx.get(f"{emulator.url}/_emulator/requests").json()["data"]
    return [e for e in entries if e["path"].startswith("/v1.3/")]


def clear_log(emulator: RunningEmulator) -> None:
    httpx.delete(f"{emulator.url}/_emulator/requests")


def configure(emulator: RunningEmulator, **changes: Any) -> None:
    httpx.post(f"{emulator.url}/_emulator/config", json=changes).raise_for_status()


async def run_trigger(trigger: TwelveLabsResourceTrigger) -> list[dict[str, Any]]:
    # As the triggerer does: rebuild from the serialized form, then run.
    rebuilt = TwelveLabsResourceTrigger(**trigger.serialize()[1])
    return [event.payload async for event in rebuilt.run()]


def new_index(hook: TwelveLabsHook) -> str:
    return hook.create_index(index_name=f"idx-{time.monotonic_ns()}", models=MODELS).id


def ready_asset(hook: TwelveLabsHook, name: str = "clip.mp4") -> str:
    asset = hook.create_asset(method="url", url=f"https://media.example.com/{name}")
    for _ in range(20):
        if hook.get_asset(asset.id).status == "ready":
            return asset.id
    raise AssertionError("asset never became ready")


def create(hook: TwelveLabsHook, kind: str, name: str = "clip.mp4") -> tuple[str, str | None]:
    """Create a resource of ``kind`` in the emulator; return ``(resource_id, index_id)``."""
    url = f"https://media.example.com/{name}"
    if kind == "asset":
        return hook.create_asset(method="url", url=url).id, None
    if kind == "indexed_asset":
        index_id = new_index(hook)
        return hook.create_indexed_asset(index_id, asset_id=ready_asset(hook, name)).id, index_id
    if kind == "indexing_task":
        index_id = new_index(hook)
        return hook.create_indexing_task(index_id=index_id, video_url=url).id, index_id
    if kind == "embed_v2_task":
        body = {"input_type": "video", "model_name": "marengo3.0", "video": {"media_source": {"url": url}}}
        return hook.create_embedding_task(body).id, None
    if kind == "embed_v1_task":
        return hook.create_video_embedding_task(model_name="marengo3.0", video_url=url).id, None
    raise AssertionError(kind)


KINDS = ["asset", "indexed_asset", "indexing_task", "embed_v2_task", "embed_v1_task"]


@pytest.mark.parametrize("kind", KINDS)
async def test_success_is_one_event_with_the_final_resource(
    emulator: RunningEmulator, hook: TwelveLabsHook, kind: str
) -> None:
    resource_id, index_id = create(hook, kind)
    trigger = TwelveLabsResourceTrigger(
        kind=kind, resource_id=resource_id, index_id=index_id, deadline=time.time() + 30, **FAST
    )
    events = await run_trigger(trigger)
    assert len(events) == 1
    event = events[0]
    assert event["status"] == "success", event
    assert (event["kind"], event["resource_id"], event["index_id"]) == (kind, resource_id, index_id)
    assert event["resource"]["id"] == resource_id and event["resource"]["status"] == "ready"
    json.dumps(event)
    if kind == "embed_v2_task":
        assert "data" not in event["resource"]


@pytest.mark.parametrize(
    ("kind", "name", "api_gives_reason"),
    [
        ("asset", "fail.mp4", True),
        ("indexing_task", "fail.mp4", True),
        ("embed_v2_task", "fail_embed.mp4", True),
        # Indexed assets carry no error field (contract 6.2): the message names the final status.
        ("indexed_asset", "fail_index.mp4", False),
    ],
)
async def test_failure_carries_the_api_reason(
    emulator: RunningEmulator, hook: TwelveLabsHook, kind: str, name: str, api_gives_reason: bool
) -> None:
    resource_id, index_id = create(hook, kind, name)
    trigger = TwelveLabsResourceTrigger(
        kind=kind, resource_id=resource_id, index_id=index_id, deadline=time.time() + 30, **FAST
    )
    (event,) = await run_trigger(trigger)
    assert event["status"] == "failed"
    assert event["resource"]["status"] == "failed"
    final = get_kind(kind).get(hook, resource_id, index_id).model_dump(mode="json")
    if api_gives_reason:
        assert event["message"] == final["error"]["message"]
    else:
        assert "error" not in final and event["message"] == "indexed asset ended with status 'failed'"


@pytest.mark.parametrize("emulator_config", [EmulatorConfig(polls_per_step=0, step_seconds=0)])
async def test_timeout_reports_the_last_status(emulator: RunningEmulator, hook: TwelveLabsHook) -> None:
    resource_id, index_id = create(hook, "indexing_task")
    trigger = TwelveLabsResourceTrigger(
        kind="indexing_task", resource_id=resource_id, index_id=index_id, deadline=time.time() + 0.5, **FAST
    )
    started = time.monotonic()
    events = await run_trigger(trigger)
    assert [e["status"] for e in events] == ["timeout"]
    assert events[0]["last_status"] == "uploading"
    assert resource_id in events[0]["message"]
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    ("emulator_config", "fault"),
    [
        (EmulatorConfig(seed=3, fault_rate=0.35, fault_statuses=(500, 502, 503)), {500, 502, 503}),
        (EmulatorConfig(seed=5, fault_rate=0.35, fault_statuses=(429,)), {429}),
    ],
    ids=["5xx", "429"],
)
async def test_transient_errors_and_429s_are_ridden_out(
    emulator: RunningEmulator, hook: TwelveLabsHook, fault: set[int]
) -> None:
    configure(emulator, fault_rate=0.0)
    # Embed v1 tasks are polled one by one: enough calls for the seeded faults to hit some.
    ids = [create(hook, "embed_v1_task", f"v{i}.mp4")[0] for i in range(4)]
    configure(emulator, fault_rate=0.35)
    clear_log(emulator)
    triggers = [
        TwelveLabsResourceTrigger(
            kind="embed_v1_task",
            resource_id=rid,
            deadline=time.time() + 60,
            max_consecutive_errors=10,
            **FAST,
        )
        for rid in ids
    ]
    results = await asyncio.gather(*(run_trigger(t) for t in triggers))
    assert [[e["status"] for e in events] for events in results] == [["success"]] * 4
    statuses = {entry["status"] for entry in request_log(emulator)}
    assert statuses & fault, "the fault switch did not fire; the test proves nothing"


@pytest.mark.parametrize(
    "emulator_config", [EmulatorConfig(seed=1, fault_rate=1.0, fault_statuses=(503,))], ids=["down"]
)
async def test_an_api_that_stays_down_ends_in_one_error_event(
    emulator: RunningEmulator, hook: TwelveLabsHook
) -> None:
    trigger = TwelveLabsResourceTrigger(
        kind="embed_v1_task",
        resource_id="0123456789abcdef01234567",
        deadline=time.time() + 60,
        max_consecutive_errors=1,
        **FAST,
    )
    events = await run_trigger(trigger)
    assert [e["status"] for e in events] == ["error"]
    assert "503" in events[0]["message"]


async def test_unknown_resource_is_an_error_event(emulator: RunningEmulator) -> None:
    trigger = TwelveLabsResourceTrigger(
        kind="indexing_task", resource_id="0123456789abcdef01234567", deadline=time.time() + 30, **FAST
    )
    (event,) = await run_trigger(trigger)
    assert event["status"] == "error" and "0123456789abcdef01234567" in event["message"]


async def test_many_triggers_share_one_list_poller(emulator: RunningEmulator, hook: TwelveLabsHook) -> None:
    index_id = new_index(hook)
    tasks = [
        hook.create_indexing_task(index_id=index_id, video_url=f"https://m.example.com/{i}.mp4").id
        for i in range(60)
    ]
    clear_log(emulator)
    triggers = [
        TwelveLabsResourceTrigger(
            kind="indexing_task", resource_id=t, index_id=index_id, deadline=time.time() + 60, **FAST
        )
        for t in tasks
    ]
    results = await asyncio.gather(*(run_trigger(t) for t in triggers))
    assert all(len(events) == 1 and events[0]["status"] == "success" for events in results)
    assert {events[0]["resource_id"] for events in results} == set(tasks)
    gets = [e for e in request_log(emulator) if e["method"] == "GET"]
    # One list call reports on up to 50 tasks: far fewer calls than triggers, none per task.
    assert all(e["path"] == "/v1.3/tasks" for e in gets)
    assert len(gets) < len(tasks) / 2


async def test_many_assets_are_polled_by_id_fifty_per_call(
    emulator: RunningEmulator, hook: TwelveLabsHook
) -> None:
    assets = [hook.create_asset(method="url", url=f"https://m.example.com/a{i}.mp4").id for i in range(70)]
    clear_log(emulator)
    triggers = [
        TwelveLabsResourceTrigger(kind="asset", resource_id=a, deadline=time.time() + 60, **FAST)
        for a in assets
    ]
    results = await asyncio.gather(*(run_trigger(t) for t in triggers))
    assert all(events[0]["status"] == "success" for events in results)
    gets = [e for e in request_log(emulator) if e["method"] == "GET"]
    assert all(e["path"] == "/v1.3/assets" for e in gets)
    assert max(e["query"].count("asset_ids=") for e in gets) == 50
    assert len(gets) <= 6


async def test_many_embedding_tasks_share_the_list_of_processing_tasks(
    emulator: RunningEmulator, hook: TwelveLabsHook
) -> None:
    body = {"input_type": "video", "model_name": "marengo3.0"}
    tasks = [
        hook.create_embedding_task(
            {**body, "video": {"media_source": {"url": f"https://m.example.com/e{i}.mp4"}}}
        ).id
        for i in range(40)
    ]
    clear_log(emulator)
    triggers = [
        TwelveLabsResourceTrigger(kind="embed_v2_task", resource_id=t, deadline=time.time() + 60, **FAST)
        for t in tasks
    ]
    results = await asyncio.gather(*(run_trigger(t) for t in triggers))
    assert all(events[0]["status"] == "success" and "data" not in events[0]["resource"] for events in results)
    gets = [e for e in request_log(emulator) if e["method"] == "GET"]
    lists = [e for e in gets if e["path"] == "/v1.3/embed-v2/tasks"]
    singles = [e for e in gets if e["path"] != "/v1.3/embed-v2/tasks"]
    # A task is fetched on its own at most once: when it has left the list of processing tasks
    # (here the emulator's list itself shows some of them ready, which is taken as final).
    fetched = [e["path"].rsplit("/", 1)[1] for e in singles]
    assert len(fetched) == len(set(fetched)) and set(fetched) <= set(tasks)
    assert all("status=processing" in e["query"] for e in lists) and len(lists) < len(tasks)


@pytest.mark.parametrize("emulator_config", [EmulatorConfig(polls_per_step=0, step_seconds=0)])
async def test_cancelled_triggers_stop_polling(emulator: RunningEmulator, hook: TwelveLabsHook) -> None:
    index_id = new_index(hook)
    stuck = [
        hook.create_indexing_task(index_id=index_id, video_url=f"https://m.example.com/s{i}.mp4").id
        for i in range(3)
    ]
    runs = [
        asyncio.ensure_future(
            run_trigger(
                TwelveLabsResourceTrigger(kind="indexing_task", resource_id=t, index_id=index_id, **FAST)
            )
        )
        for t in stuck
    ]
    await asyncio.sleep(0.5)
    assert len(request_log(emulator)) > 1
    for run in runs:
        run.cancel()
    await asyncio.gather(*runs, return_exceptions=True)
    await asyncio.sleep(0.3)
    clear_log(emulator)
    await asyncio.sleep(0.6)
    assert request_log(emulator) == [], "a cancelled trigger's poller kept polling"

    # The poller starts again for the next trigger (a triggerer picking the task up again).
    httpx.post(f"{emulator.url}/_emulator/advance", json={"complete": True, "ids": stuck[:1]})
    again = TwelveLabsResourceTrigger(
        kind="indexing_task", resource_id=stuck[0], index_id=index_id, deadline=time.time() + 30, **FAST
    )
    assert [e["status"] for e in await run_trigger(again)] == ["success"]


async def test_many_analyze_tasks_share_the_list_of_tasks_in_progress(
    emulator: RunningEmulator, hook: TwelveLabsHook
) -> None:
    tasks = [
        hook.create_analyze_task(
            {
                "video": {"type": "url", "url": f"https://m.example.com/a{i}.mp4?duration=60"},
                "prompt": "Describe",
            }
        ).id
        for i in range(30)
    ]
    clear_log(emulator)
    triggers = [
        TwelveLabsResourceTrigger(kind="analyze_task", resource_id=t, deadline=time.time() + 60, **FAST)
        for t in tasks
    ]
    results = await asyncio.gather(*(run_trigger(t) for t in triggers))
    assert all(events[0]["status"] == "success" for events in results)
    assert all("result" not in events[0]["resource"] for events in results)
    gets = [e for e in request_log(emulator) if e["method"] == "GET"]
    lists = [e for e in gets if e["path"] == "/v1.3/analyze/tasks"]
    fetched = [e["path"].rsplit("/", 1)[1] for e in gets if e["path"] != "/v1.3/analyze/tasks"]
    # Each task is fetched on its own once, when it left the in-progress lists; the rest are lists.
    assert sorted(fetched) == sorted(tasks)
    assert {q for e in lists for q in [e["query"]]} <= {
        f"status={s}&page={p}&page_limit=50" for s in ("queued", "pending", "processing") for p in range(1, 4)
    }
    assert len(lists) < 3 * len(tasks)


async def test_analyze_batches_are_waited_through_the_list_of_active_batches(
    emulator: RunningEmulator, hook: TwelveLabsHook
) -> None:
    assets = [ready_asset(hook, f"b{i}.mp4") for i in range(3)]
    batches = [
        hook.create_analyze_batch(
            model_name="pegasus1.5",
            analysis_mode="general",
            defaults={"prompt": {"input_text": "Describe"}},
            requests=[{"video": {"type": "asset_id", "asset_id": a}, "custom_id": f"c{i}"}],
        ).id
        for i, a in enumerate(assets)
    ]
    clear_log(emulator)
    triggers = [
        TwelveLabsResourceTrigger(kind="analyze_batch", resource_id=b, deadline=time.time() + 60, **FAST)
        for b in batches
    ]
    results = await asyncio.gather(*(run_trigger(t) for t in triggers))
    assert [events[0]["resource"]["status"] for events in results] == ["completed"] * 3
    lists = [e for e in request_log(emulator) if e["path"] == "/v1.3/analyze/batches"]
    assert lists and all("status=pending&status=processing&status=canceling" in e["query"] for e in lists)
