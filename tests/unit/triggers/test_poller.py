"""The shared poller (triggers/poller.py) against a scripted API on 127.0.0.1 (real HTTP).

Each test registers waits the way the trigger does (:func:`get_poller` then ``register``) and checks
what a trigger would see (the outcome of each wait, how soon it came) and what the API saw (which
calls, with which filters, at what times).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timezone
from typing import Any

import pytest

from airflow_provider_twelvelabs.hooks.twelvelabs import TwelveLabsHook
from airflow_provider_twelvelabs.testing.pytest_plugin import set_twelvelabs_connection
from airflow_provider_twelvelabs.triggers.poller import ResourcePoller, Waiter, get_poller
from airflow_provider_twelvelabs.waiting import KINDS, ListMode, PollPolicy
from tests.helpers.http_server import RecordedRequest, RecordingServer, Reply

API_KEY = "tlk_TESTKEY_poller_unit_7e21c4a9"
INDEX = "6a0000000000000000000001"
#: Quick polls with no backoff: a per-resource poll every 20 ms.
QUICK = PollPolicy(interval=0.02, backoff=1, max_interval=0.05)
#: Quick polls, but the safety fetch of a listed resource only after 10 s: what a test sees within a
#: second comes from the list (or from the poller giving up on it), never from the safety fetch.
LIST_ONLY = PollPolicy(interval=0.02, backoff=1, max_interval=10)


@pytest.fixture
async def server(recording_server: RecordingServer, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Any]:
    set_twelvelabs_connection(monkeypatch, recording_server.base_url, API_KEY)
    yield recording_server
    await TwelveLabsHook.aclose_shared_clients()


@pytest.fixture
async def waits() -> AsyncIterator[list[tuple[ResourcePoller, Waiter]]]:
    """Every wait a test registers; those still open at the end are unregistered (stops the pollers)."""
    registered: list[tuple[ResourcePoller, Waiter]] = []
    yield registered
    for poller, waiter in registered:
        poller.unregister(waiter)
    await asyncio.sleep(0)


def wait_for(
    waits: list[tuple[ResourcePoller, Waiter]],
    kind: str,
    resource_id: str,
    policy: PollPolicy = QUICK,
    *,
    index_id: str | None = None,
    max_errors: int = 3,
) -> Waiter:
    poller = get_poller("twelvelabs_default", kind, index_id)
    waiter = poller.register(resource_id, policy, max_errors)
    waits.append((poller, waiter))
    return waiter


async def outcome(waiter: Waiter, timeout: float = 5.0) -> dict[str, Any]:
    return await asyncio.wait_for(asyncio.shield(waiter.future), timeout)


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat().replace("+00:00", "Z")


def ready_task(task_id: str, updated: float) -> dict[str, Any]:
    return {"_id": task_id, "status": "ready", "updated_at": iso(updated)}


def page(items: list[dict[str, Any]], number: int = 1, total: int | None = None) -> dict[str, Any]:
    total = len(items) if total is None else total
    return {
        "data": items,
        "page_info": {
            "page": number,
            "limit_per_page": 50,
            "total_page": max(1, -(-total // 50)),
            "total_results": total,
        },
    }


def requests_to(server: RecordingServer, path: str) -> list[RecordedRequest]:
    return [r for r in server.requests if r.method == "GET" and r.api_path == path]


def query(request: RecordedRequest, name: str) -> list[str]:
    return [value for key, value in request.query if key == name]


def not_found(what: str) -> Reply:
    return Reply(404, json={"code": "resource_not_exists", "message": f"{what} does not exist."})


# --------------------------------------------------------------------------- the modes


def test_each_list_source_names_its_mode() -> None:
    modes = {name: kind.list_source.mode for name, kind in KINDS.items() if kind.list_source}
    assert modes == {
        "asset": ListMode.IDS,
        "indexed_asset": ListMode.TERMINAL,
        "indexing_task": ListMode.TERMINAL,
        "embed_v2_task": ListMode.ACTIVE,
        "analyze_task": ListMode.ACTIVE,
        "analyze_batch": ListMode.ACTIVE,
    }
    assert all(isinstance(mode, ListMode) for mode in modes.values())


async def test_ids_mode_asks_about_every_waited_asset_in_one_call(
    server: RecordingServer, waits: list[tuple[ResourcePoller, Waiter]]
) -> None:
    ids = ["6b0000000000000000000001", "6b0000000000000000000002", "6b0000000000000000000003"]
    first, second, unlisted = ids

    def answer(request: RecordedRequest) -> Reply:
        asked = query(request, "asset_ids")
        listed = [
            {"_id": first, "status": "ready", "filename": "a.mp4"},
            # Processing on the first pass, ready on the next.
            {"_id": second, "status": "ready" if len(requests_to(server, "assets")) > 1 else "processing"},
        ]
        return Reply(json=page([item for item in listed if item["_id"] in asked]))

    server.on("GET", "assets", answer)
    server.on("GET", f"assets/{unlisted}", Reply(json={"_id": unlisted, "status": "ready"}))
    waiters = [wait_for(waits, "asset", i) for i in ids]

    results = [await outcome(w) for w in waiters]

    assert [r["status"] for r in results] == ["success"] * 3
    assert [r["resource"]["id"] for r in results] == ids
    assert results[0]["resource"]["filename"] == "a.mp4"
    lists = requests_to(server, "assets")
    assert sorted(query(lists[0], "asset_ids")) == sorted(ids)  # one call asks about all three
    assert query(lists[1], "asset_ids") == [second]  # then only about what is still waited
    # Only the asset the list did not show was fetched on its own.
    assert [r.api_path for r in server.requests if r.api_path.startswith("assets/")] == [f"assets/{unlisted}"]


async def test_terminal_mode_lists_finished_items_newest_first_and_fetches_the_full_one(
    server: RecordingServer, waits: list[tuple[ResourcePoller, Waiter]]
) -> None:
    video = "6c0000000000000000000001"
    listed = {"_id": video, "status": "ready", "updated_at": iso(time.time())}
    server.on("GET", f"indexes/{INDEX}/indexed-assets", Reply(json=page([listed])))
    full = {**listed, "user_metadata": {"episode": 4}, "hls": {"status": "COMPLETE"}}
    server.on("GET", f"indexes/{INDEX}/indexed-assets/{video}", Reply(json=full))

    result = await outcome(wait_for(waits, "indexed_asset", video, index_id=INDEX))

    assert result["status"] == "success"
    # The list leaves user metadata out: the outcome is the resource fetched once, in full.
    assert result["resource"]["user_metadata"] == {"episode": 4}
    (listing,) = requests_to(server, f"indexes/{INDEX}/indexed-assets")
    assert sorted(query(listing, "status")) == ["failed", "ready"]
    assert query(listing, "sort_by") == ["updated_at"] and query(listing, "sort_option") == ["desc"]
    assert len(requests_to(server, f"indexes/{INDEX}/indexed-assets/{video}")) == 1


async def test_active_mode_fetches_each_task_once_it_left_the_in_progress_list(
    server: RecordingServer, waits: list[tuple[ResourcePoller, Waiter]]
) -> None:
    running, done = "6e0000000000000000000001", "6e0000000000000000000002"
    passes = {"n": 0}

    def in_progress(request: RecordedRequest) -> Reply:
        passes["n"] += 1
        # ``running`` is still processing on the first three passes, then leaves the list.
        items = [{"_id": running, "status": "processing"}] if passes["n"] <= 3 else []
        return Reply(json=page(items))

    server.on("GET", "embed-v2/tasks", in_progress)
    for task in (running, done):
        server.on("GET", f"embed-v2/tasks/{task}", Reply(json={"_id": task, "status": "ready"}))

    waiters = [wait_for(waits, "embed_v2_task", task, LIST_ONLY) for task in (running, done)]
    results = [await outcome(w) for w in waiters]

    assert [r["status"] for r in results] == ["success", "success"]
    lists = requests_to(server, "embed-v2/tasks")
    assert all(query(r, "status") == ["processing"] for r in lists)
    assert len(lists) >= 4
    # Each task is fetched once, after the list stopped showing it: never while it was listed.
    assert len(requests_to(server, f"embed-v2/tasks/{running}")) == 1
    assert len(requests_to(server, f"embed-v2/tasks/{done}")) == 1
    fetched_at = requests_to(server, f"embed-v2/tasks/{running}")[0].at
    assert fetched_at > lists[2].at


# --------------------------------------------------------------------------- watermark and overlap


async def test_watermark_keeps_later_passes_to_the_first_page(
    server: RecordingServer, waits: list[tuple[ResourcePoller, Waiter]]
) -> None:
    task = "6d0000000000000000000001"
    now = time.time()
    # 120 tasks that finished long ago, newest first: three pages.
    history = [
        {"_id": f"6d9{i:021d}", "status": "ready", "updated_at": iso(now - 600 - i)} for i in range(120)
    ]
    finished_at: dict[str, float] = {}

    def finished(request: RecordedRequest) -> Reply:
        number = int(dict(request.query).get("page", "1"))
        if len(requests_to(server, "tasks")) >= 4:
            finished_at.setdefault(task, time.time())
        top = [{**ready_task(task, finished_at[task]), "video_id": "v1"}] if finished_at else []
        items = top + history
        return Reply(json=page(items[(number - 1) * 50 : number * 50], number, total=len(items)))

    server.on("GET", "tasks", finished)
    server.on("GET", f"tasks/{task}", Reply(json={"_id": task, "status": "indexing"}))

    result = await outcome(wait_for(waits, "indexing_task", task, LIST_ONLY))

    assert result["status"] == "success" and result["resource"]["video_id"] == "v1"
    pages = [dict(r.query).get("page") for r in requests_to(server, "tasks")]
    # Reading three pages of old tasks would cost more than fetching the newcomer: the first pass
    # reads one page and fetches the task once; later passes stop at the watermark, on page 1.
    assert pages == ["1"] * len(pages) and len(pages) >= 4
    assert len(requests_to(server, f"tasks/{task}")) == 1


async def test_overlap_reads_on_past_the_watermark_for_late_items(
    server: RecordingServer, waits: list[tuple[ResourcePoller, Waiter]]
) -> None:
    task = "6d0000000000000000000001"
    mark = time.time()
    passes = {"n": 0}
    # Items that show up late (replication lag), updated a few seconds before the watermark.
    late = [{"_id": f"6d8{i:021d}", "status": "ready", "updated_at": iso(mark - 5)} for i in range(50)]
    ours = {"_id": task, "status": "ready", "updated_at": iso(mark - 8)}

    def listing(request: RecordedRequest) -> Reply:
        number = int(dict(request.query).get("page", "1"))
        if number == 1:
            passes["n"] += 1
        if passes["n"] == 1:
            # First pass: one item, which sets the watermark.
            return Reply(
                json=page([{"_id": "6d7000000000000000000001", "status": "ready", "updated_at": iso(mark)}])
            )
        items = [*late, ours]
        return Reply(json=page(items[(number - 1) * 50 : number * 50], number, total=len(items)))

    server.on("GET", "tasks", listing)
    server.on("GET", f"tasks/{task}", Reply(json={"_id": task, "status": "indexing"}))

    result = await outcome(wait_for(waits, "indexing_task", task, LIST_ONLY), timeout=3)

    assert result["status"] == "success"
    pages = [dict(r.query).get("page") for r in requests_to(server, "tasks")]
    # Page 1 of the second pass is all within the overlap: the pass goes on to page 2, where the
    # task is, instead of stopping at the watermark.
    assert pages[:3] == ["1", "1", "2"]
    assert requests_to(server, f"tasks/{task}") == []


async def test_an_unsorted_list_makes_the_poller_poll_each_resource(
    server: RecordingServer, waits: list[tuple[ResourcePoller, Waiter]]
) -> None:
    task = "6d0000000000000000000001"
    now = time.time()
    # Oldest first, against the sort the poller asked for: its watermark would skip new items.
    history = [
        {"_id": f"6d9{i:021d}", "status": "ready", "updated_at": iso(now - 600 + i * 5)} for i in range(60)
    ]
    started = time.monotonic()

    def done() -> bool:
        return time.monotonic() - started > 0.3

    def listing(request: RecordedRequest) -> Reply:
        number = int(dict(request.query).get("page", "1"))
        items = history + (
            [{"_id": task, "status": "ready", "updated_at": iso(time.time())}] if done() else []
        )
        return Reply(json=page(items[(number - 1) * 50 : number * 50], number, total=len(items)))

    server.on("GET", "tasks", listing)
    server.on(
        "GET",
        f"tasks/{task}",
        lambda _: Reply(json={"_id": task, "status": "ready" if done() else "indexing"}),
    )

    result = await outcome(wait_for(waits, "indexing_task", task, LIST_ONLY), timeout=3)

    assert result["status"] == "success"
    # Seen within a poll interval of finishing, not at the safety fetch 10 s later.
    assert time.monotonic() - started < 2
    lists = requests_to(server, "tasks")
    assert len(lists) == 1  # the list was not read again once found unsorted
    gets = requests_to(server, f"tasks/{task}")
    assert len(gets) >= 2 and all(g.at > lists[0].at for g in gets)


# --------------------------------------------------------------------------- fallback to polling


@pytest.mark.parametrize(
    "refusal",
    [
        Reply(404, json={"code": "endpoint_not_exists", "message": "Not found."}),
        Reply(400, json={"code": "parameter_invalid", "message": "sort_by is not supported."}),
    ],
    ids=["404", "400"],
)
async def test_a_refused_list_falls_back_to_polling_each_resource(
    server: RecordingServer, waits: list[tuple[ResourcePoller, Waiter]], refusal: Reply
) -> None:
    tasks = ["6d0000000000000000000001", "6d0000000000000000000002"]
    server.on("GET", "tasks", refusal)
    for task in tasks:
        server.on(
            "GET",
            f"tasks/{task}",
            Reply(json={"_id": task, "status": "pending"}),
            Reply(json={"_id": task, "status": "indexing"}),
            Reply(json={"_id": task, "status": "ready"}),
        )

    waiters = [wait_for(waits, "indexing_task", t, LIST_ONLY) for t in tasks]
    results = [await outcome(w) for w in waiters]

    assert [r["status"] for r in results] == ["success", "success"]
    assert len(requests_to(server, "tasks")) == 1  # asked once, then never again
    assert [len(requests_to(server, f"tasks/{t}")) for t in tasks] == [3, 3]


# --------------------------------------------------------------------------- the rate budget


async def test_an_exhausted_rate_budget_pauses_polls_until_the_window_resets(
    server: RecordingServer, waits: list[tuple[ResourcePoller, Waiter]]
) -> None:
    asset = "6b0000000000000000000001"
    reset_in = 1.0
    headers: Callable[[], dict[str, str]] = lambda: {  # noqa: E731 - read at each answer
        "X-Ratelimit-Limit": "10",
        # One left, which the budget keeps for the account's other clients (10% reserve).
        "X-Ratelimit-Remaining": "1",
        "X-Ratelimit-Reset": str(time.time() + reset_in),
    }
    server.on(
        "GET",
        "assets",
        lambda _: Reply(json=page([{"_id": asset, "status": "processing"}]), headers=headers()),
        lambda _: Reply(json=page([{"_id": asset, "status": "ready"}])),
    )

    result = await outcome(wait_for(waits, "asset", asset))

    assert result["status"] == "success"
    first, second = requests_to(server, "assets")
    # The poll interval is 20 ms; the budget held the next call until the window reset.
    assert second.at - first.at >= reset_in * 0.8


async def test_a_429_pauses_every_poller_of_the_connection_for_retry_after(
    server: RecordingServer, waits: list[tuple[ResourcePoller, Waiter]]
) -> None:
    asset, job = "6b0000000000000000000001", "6f0000000000000000000001"
    server.on(
        "GET",
        "assets",
        Reply(429, json={"code": "too_many_requests", "message": "Slow down."}, headers={"Retry-After": "1"}),
        Reply(json=page([{"_id": asset, "status": "ready"}])),
    )
    server.on("GET", f"embed/tasks/{job}/status", Reply(json={"_id": job, "status": "processing"}))

    # No error is tolerated: a 429 is not an error of the wait, only a reason to slow down.
    asset_wait = wait_for(waits, "asset", asset, max_errors=0)
    # Start the other kind's wait only once the 429 was answered (however loaded the machine).
    for _ in range(500):
        if requests_to(server, "assets"):
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)
    job_wait = wait_for(waits, "embed_v1_task", job)  # another kind, on the same connection
    result = await outcome(asset_wait)

    assert result["status"] == "success"
    throttled, retried = requests_to(server, "assets")
    assert retried.at - throttled.at >= 0.9
    # The other kind's poller waited out the same pause before its first call (which, on a loaded
    # machine, may come a little after the asset's wait ended).
    for _ in range(500):
        if job_polls := requests_to(server, f"embed/tasks/{job}/status"):
            break
        await asyncio.sleep(0.01)
    assert job_polls and job_polls[0].at - throttled.at >= 0.9
    assert not job_wait.future.done()


# --------------------------------------------------------------------------- vanished resources


async def test_a_resource_that_vanishes_while_waited_ends_the_wait_with_the_api_error(
    server: RecordingServer, waits: list[tuple[ResourcePoller, Waiter]]
) -> None:
    job = "6f0000000000000000000001"
    server.on(
        "GET",
        f"embed/tasks/{job}/status",
        Reply(json={"_id": job, "status": "processing"}),
        not_found(f"Embedding task {job}"),
    )

    result = await outcome(wait_for(waits, "embed_v1_task", job))

    assert result["status"] == "error"
    assert "404" in result["message"] and f"Embedding task {job} does not exist." in result["message"]
    assert len(requests_to(server, f"embed/tasks/{job}/status")) == 2  # no retry of a 404


async def test_an_asset_missing_from_the_list_is_fetched_and_its_404_ends_the_wait(
    server: RecordingServer, waits: list[tuple[ResourcePoller, Waiter]]
) -> None:
    kept, deleted = "6b0000000000000000000001", "6b0000000000000000000002"
    server.on("GET", "assets", Reply(json=page([{"_id": kept, "status": "processing"}])))
    server.on("GET", f"assets/{deleted}", not_found(f"Asset {deleted}"))

    kept_wait = wait_for(waits, "asset", kept, LIST_ONLY)
    result = await outcome(wait_for(waits, "asset", deleted, LIST_ONLY), timeout=3)

    assert result["status"] == "error" and f"Asset {deleted} does not exist." in result["message"]
    assert not kept_wait.future.done()  # the other wait goes on
    assert requests_to(server, f"assets/{kept}") == []


async def test_a_wait_that_leaves_during_its_check_does_not_stop_the_poller(
    server: RecordingServer, waits: list[tuple[ResourcePoller, Waiter]]
) -> None:
    # A triggerer cancels a trigger (its task moved, or the triggerer is stopping) while the poll of
    # that resource is in flight: the entry has no waiter left when the answer arrives.
    slow = Reply(json={"_id": "t-left", "status": "processing"}, delay=0.3)
    server.on("GET", "embed/tasks/t-left/status", slow)
    busy = Reply(json={"_id": "t-stays", "status": "processing"})
    done = Reply(json={"_id": "t-stays", "status": "ready"})
    server.on("GET", "embed/tasks/t-stays/status", busy, busy, busy, done)
    staying = wait_for(waits, "embed_v1_task", "t-stays")  # keeps the poller running meanwhile
    poller = get_poller("twelvelabs_default", "embed_v1_task", None)
    leaving = poller.register("t-left", QUICK, 3)
    await wait_for_requests(server, "embed/tasks/t-left/status")
    poller.unregister(leaving)  # the slow answer arrives for an entry nobody waits on any more

    assert (await outcome(staying))["status"] == "success"


async def wait_for_requests(server: RecordingServer, path: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not requests_to(server, path):
        assert time.monotonic() < deadline, f"no request to {path}"
        await asyncio.sleep(0.01)
