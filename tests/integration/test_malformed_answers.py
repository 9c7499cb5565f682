"""Malformed answers (issue 13, item 2): every operator kind and the trigger fail or retry with a clear,
typed error within their timeouts; nothing hangs; the triggerer's event loop is never blocked.

The emulator spoils answers with its ``malformed_*`` switches: truncated JSON, a proxy's HTML 502, a
200 with an empty body, a 200 HTML page, JSON labelled ``text/plain`` and a body that stalls half-way.
Real HTTP on 127.0.0.1; the connection's read timeout is short so that a stalled body ends quickly.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from airflow_provider_twelvelabs.exceptions import (
    TwelveLabsError,
    TwelveLabsMalformedResponseError,
    TwelveLabsServerError,
    TwelveLabsTransportError,
)
from airflow_provider_twelvelabs.hooks.twelvelabs import TwelveLabsHook
from airflow_provider_twelvelabs.operators.analyze import TwelveLabsAnalyzeOperator
from airflow_provider_twelvelabs.operators.analyze_async import (
    TwelveLabsCreateAnalyzeBatchOperator,
    TwelveLabsCreateAnalyzeTaskOperator,
)
from airflow_provider_twelvelabs.operators.assets import TwelveLabsUploadAssetOperator
from airflow_provider_twelvelabs.operators.embed import (
    TwelveLabsCreateVideoEmbeddingTaskOperator,
    TwelveLabsEmbedOperator,
)
from airflow_provider_twelvelabs.operators.indexes import (
    TwelveLabsCreateIndexOperator,
    TwelveLabsIndexAssetOperator,
)
from airflow_provider_twelvelabs.operators.search import TwelveLabsSearchOperator
from airflow_provider_twelvelabs.testing.emulator.process import EmulatorProcess
from airflow_provider_twelvelabs.testing.pytest_plugin import set_twelvelabs_connection
from airflow_provider_twelvelabs.triggers.twelvelabs import TwelveLabsResourceTrigger
from tests.helpers.airflow_fakes import task_context as context

pytestmark = pytest.mark.integration

MODELS = [{"model_name": "marengo3.0", "model_options": ["visual", "audio"]}]
URL = "https://media.example.com/keynote.mp4?duration=120"
READ_TIMEOUT = 0.5
EXTRA = {"timeout": READ_TIMEOUT, "max_retries": 1, "retry_base_delay": 0.01, "retry_max_wait": 0.02}
FAST = {"poll_interval": 0.02, "poll_max_interval": 0.05, "deferrable": False, "wait_timeout": 20}
#: No run may take longer than this (it would be a hang): two attempts of every call at most.
BOUND_SECONDS = 30.0
SPOILING = ("truncated_json", "html_502", "empty_200", "html_200", "stalled_body")
#: What the error of each kind says (any one of the phrases).
PHRASES = {
    "truncated_json": ("truncated JSON", "invalid JSON", "malformed body", "without a stream_end"),
    "html_502": ("HTML page",),
    "empty_200": ("empty body", "malformed body", "without a stream_end"),
    "html_200": ("HTML page",),
    "stalled_body": ("ReadTimeout",),
}


def configure(emulator: EmulatorProcess, **changes: Any) -> None:
    httpx.post(f"{emulator.url}/_emulator/config", json=changes).raise_for_status()


def request_log(emulator: EmulatorProcess) -> list[dict[str, Any]]:
    entries = httpx.get(f"{emulator.url}/_emulator/requests").json()["data"]
    return [e for e in entries if e["path"].startswith("/v1.3/")]


def clear_log(emulator: EmulatorProcess) -> None:
    httpx.delete(f"{emulator.url}/_emulator/requests").raise_for_status()


def bounded(fn: Callable[[], Any], seconds: float = BOUND_SECONDS) -> tuple[Any, BaseException | None, float]:
    """Run ``fn`` in a thread; fail the test if it has not returned within ``seconds`` (a hang)."""
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    started = time.monotonic()
    future = pool.submit(fn)
    try:
        result = future.result(timeout=seconds)
        error: BaseException | None = None
    except concurrent.futures.TimeoutError:
        pytest.fail(f"still running after {seconds} s: a hang")
    except BaseException as exc:
        result, error = None, exc
    finally:
        pool.shutdown(wait=False)
    return result, error, time.monotonic() - started


# ---------------------------------------------------------------------------------------------- setup


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorProcess]:
    # A child process, not a thread: an emulator sharing this process's GIL would show up as lag
    # of the event loop under test.
    with EmulatorProcess(malformed_stall_seconds=30) as running:
        yield running


@pytest.fixture(scope="module")
def catalog(emulator: EmulatorProcess) -> dict[str, str]:
    """An index with one indexed, ready asset (made before any answer is spoiled)."""
    with pytest.MonkeyPatch.context() as mp:
        set_twelvelabs_connection(mp, emulator.base_url, emulator.api_key)
        with TwelveLabsHook() as hook:
            index = hook.create_index(index_name="malformed", models=MODELS)
            asset = hook.create_asset(method="url", url=URL)
            while hook.get_asset(str(asset.id)).status != "ready":
                pass
            indexed = hook.create_indexed_asset(str(index.id), asset_id=str(asset.id))
            while hook.get_indexed_asset(str(index.id), str(indexed.id)).status != "ready":
                pass
    return {"index_id": str(index.id), "asset_id": str(asset.id), "indexed_asset_id": str(indexed.id)}


@pytest.fixture
def spoil(emulator: EmulatorProcess, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """Turn malformed answers on for the test (off again afterwards); the connection has short timeouts."""
    set_twelvelabs_connection(monkeypatch, emulator.base_url, emulator.api_key, **EXTRA)

    def on(kind: str, rate: float = 1.0, **changes: Any) -> None:
        clear_log(emulator)
        configure(emulator, malformed_rate=rate, malformed_kinds=[kind], **changes)

    yield on
    configure(emulator, malformed_rate=0.0, malformed_methods=[], malformed_paths=[])


# ---------------------------------------------------------------------------------------------- hook


@pytest.mark.parametrize("kind", SPOILING)
def test_a_spoiled_read_is_retried_then_fails_with_a_typed_error(spoil, emulator, catalog, kind):
    spoil(kind)
    with TwelveLabsHook() as hook:
        _, error, elapsed = bounded(lambda: hook.get_index(catalog["index_id"]))

    assert isinstance(error, TwelveLabsError), repr(error)
    assert any(p in str(error) for p in PHRASES[kind]), str(error)
    assert f"GET /indexes/{catalog['index_id']}" in str(error)
    assert len(request_log(emulator)) == 2  # the first attempt and the one retry of max_retries=1
    assert elapsed < 2 * READ_TIMEOUT + 2


@pytest.mark.parametrize("kind", SPOILING)
async def test_a_spoiled_async_read_fails_with_the_same_typed_error(spoil, emulator, catalog, kind):
    spoil(kind)
    hook = TwelveLabsHook()
    try:
        with pytest.raises(TwelveLabsError) as info:
            await asyncio.wait_for(hook.aget_asset(catalog["asset_id"]), BOUND_SECONDS)
    finally:
        await TwelveLabsHook.aclose_shared_clients()
    assert any(p in str(info.value) for p in PHRASES[kind]), str(info.value)
    expected = TwelveLabsTransportError if kind == "stalled_body" else TwelveLabsServerError
    assert isinstance(info.value, expected)


@pytest.mark.parametrize("kind", ["truncated_json", "empty_200", "html_200", "stalled_body"])
def test_a_create_whose_answer_was_spoiled_is_not_sent_twice(spoil, emulator, kind):
    spoil(kind, malformed_methods=["POST"])
    with TwelveLabsHook() as hook:
        _, error, _ = bounded(lambda: hook.create_index(index_name=f"once-{kind}", models=MODELS))
    assert isinstance(error, (TwelveLabsMalformedResponseError, TwelveLabsTransportError)), repr(error)
    creates = [e for e in request_log(emulator) if (e["method"], e["path"]) == ("POST", "/v1.3/indexes")]
    assert len(creates) == 1
    configure(emulator, malformed_rate=0.0)
    with TwelveLabsHook() as hook:
        named = [i for i in hook.list_indexes() if i.index_name == f"once-{kind}"]
    assert len(named) == 1  # the API did create it: a blind retry would have made a second one


def test_json_labelled_text_plain_is_read(spoil, catalog):
    spoil("wrong_content_type")
    with TwelveLabsHook() as hook:
        index, error, _ = bounded(lambda: hook.get_index(catalog["index_id"]))
    assert error is None and index.id == catalog["index_id"]


def test_a_fraction_of_spoiled_reads_is_absorbed_by_the_retries(spoil, emulator, catalog, monkeypatch):
    set_twelvelabs_connection(monkeypatch, emulator.base_url, emulator.api_key, **{**EXTRA, "max_retries": 8})
    clear_log(emulator)
    configure(emulator, malformed_rate=0.3, malformed_kinds=list(SPOILING), malformed_methods=["GET"])
    with TwelveLabsHook() as hook:
        for _ in range(20):
            assert hook.get_index(catalog["index_id"]).id == catalog["index_id"]
    spoiled = [e for e in request_log(emulator) if e.get("malformed")]
    assert spoiled  # faults were injected, and every read still succeeded


# ---------------------------------------------------------------------------------------------- operators


def _operators(catalog: dict[str, str], tmp: str) -> dict[str, Callable[[], Any]]:
    index_id, asset_id = catalog["index_id"], catalog["asset_id"]
    return {
        "upload": lambda: TwelveLabsUploadAssetOperator(task_id="u", source=URL, method="url", **FAST),
        "index": lambda: TwelveLabsIndexAssetOperator(
            task_id="i", index_id=index_id, asset_id=asset_id, dedupe="off", **FAST
        ),
        "embed": lambda: TwelveLabsEmbedOperator(task_id="e", input_type="text", text="a red car"),
        "embed_task": lambda: TwelveLabsCreateVideoEmbeddingTaskOperator(task_id="et", video_url=URL, **FAST),
        "analyze": lambda: TwelveLabsAnalyzeOperator(
            task_id="a", prompt="Describe.", asset_id=asset_id, stream=False
        ),
        "analyze_stream": lambda: TwelveLabsAnalyzeOperator(
            task_id="as", prompt="Describe.", asset_id=asset_id
        ),
        "analyze_task": lambda: TwelveLabsCreateAnalyzeTaskOperator(
            task_id="at", asset_id=asset_id, prompt="Describe.", **FAST
        ),
        "analyze_batch": lambda: TwelveLabsCreateAnalyzeBatchOperator(
            task_id="ab", items=[asset_id], prompt="Describe.", output_path=f"{tmp}/batch.jsonl", **FAST
        ),
        "search": lambda: TwelveLabsSearchOperator(task_id="s", index_id=index_id, query_text="a red car"),
        "create_index": lambda: TwelveLabsCreateIndexOperator(task_id="c", index_name="spoiled-index"),
    }


OPERATORS = (
    "upload",
    "index",
    "embed",
    "embed_task",
    "analyze",
    "analyze_stream",
    "analyze_task",
    "analyze_batch",
    "search",
    "create_index",
)


@pytest.mark.slow  # 50 runs, about 40 s in all
@pytest.mark.parametrize("kind", SPOILING)
@pytest.mark.parametrize("name", OPERATORS)
def test_every_operator_fails_with_a_clear_error_when_every_answer_is_spoiled(
    spoil, catalog, tmp_path, name, kind
):
    make = _operators(catalog, str(tmp_path))[name]
    operator = make()
    spoil(kind)
    _, error, _ = bounded(lambda: operator.execute(context()))

    assert isinstance(error, TwelveLabsError), f"{name} raised {error!r}"
    message = str(error)
    assert any(p in message for p in PHRASES[kind]), message
    assert "Traceback" not in message


@pytest.mark.parametrize("name", OPERATORS)
def test_every_operator_succeeds_when_answers_come_as_text_plain(spoil, catalog, tmp_path, name):
    operator = _operators(catalog, str(tmp_path))[name]()
    spoil("wrong_content_type")
    result, error, _ = bounded(lambda: operator.execute(context()))
    assert error is None, repr(error)
    assert result


# ---------------------------------------------------------------------------------------------- trigger


def _runqueue_seconds() -> float:
    """Seconds this thread has spent runnable but waiting for a CPU (Linux schedstat; 0 elsewhere)."""
    try:
        with open("/proc/thread-self/schedstat") as stat:
            return int(stat.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def _trigger(**kwargs: Any) -> TwelveLabsResourceTrigger:
    return TwelveLabsResourceTrigger(
        poll_interval=0.05, poll_max_interval=0.2, max_consecutive_errors=50, **kwargs
    )


@pytest.mark.slow  # five runs of about 6 s (the poller backs off after each spoiled read)
@pytest.mark.parametrize("kind", SPOILING)
async def test_the_trigger_rides_out_spoiled_reads_and_never_blocks_the_event_loop(
    spoil, emulator, catalog, kind
):
    """Real triggers and the shared poller against an emulator spoiling every read for a while.

    A 10 ms heartbeat measures how late the event loop wakes it: a blocked loop shows as lag. The
    time the thread waited for a CPU (the machine's load, read from the kernel's schedstat) is not
    counted: what is left is time the loop was held by code (CPU work, a blocking call, the GIL).
    """
    with TwelveLabsHook() as hook:
        assets = [hook.create_asset(method="url", url=URL)]
    spoil(kind, rate=0.3, malformed_methods=["GET"], malformed_stall_seconds=5)
    deadline = time.time() + 25
    triggers = [
        _trigger(kind="asset", resource_id=str(assets[0].id), deadline=deadline),
        _trigger(
            kind="indexed_asset",
            resource_id=catalog["indexed_asset_id"],
            index_id=catalog["index_id"],
            deadline=deadline,
        ),
    ]
    lags: list[float] = []
    stop = asyncio.Event()

    async def heartbeat() -> None:
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            before, queued = loop.time(), _runqueue_seconds()
            await asyncio.sleep(0.01)
            # Time spent waiting for a CPU (2 cores, other jobs) is the machine's load, not a block.
            lags.append(loop.time() - before - 0.01 - (_runqueue_seconds() - queued))

    async def first_event(trigger: TwelveLabsResourceTrigger) -> dict[str, Any]:
        async for event in trigger.run():
            return dict(event.payload)
        raise AssertionError("the trigger yielded nothing")

    # Warm up (not measured): the first poll of a kind in a process builds its answer's validators
    # and the client's TLS context, one-time costs of any triggerer, not a fault's.
    configure(emulator, malformed_rate=0.0)
    await asyncio.wait_for(first_event(triggers[0]), BOUND_SECONDS)
    await asyncio.wait_for(first_event(triggers[-1]), BOUND_SECONDS)
    with TwelveLabsHook() as hook:
        assets = [hook.create_asset(method="url", url=URL) for _ in range(8)]
    triggers = [_trigger(kind="asset", resource_id=str(a.id), deadline=deadline) for a in assets]
    triggers.append(
        _trigger(
            kind="indexed_asset",
            resource_id=catalog["indexed_asset_id"],
            index_id=catalog["index_id"],
            deadline=deadline,
        )
    )
    # Every read spoiled for 1.5 s, then none: the poller meets the fault, backs off, and recovers
    # (a fixed share of spoiled reads would make its backoff, and so the run's length, a lottery).
    configure(emulator, malformed_rate=1.0)
    clear_log(emulator)
    ticker = asyncio.create_task(heartbeat())
    try:
        waits = asyncio.ensure_future(asyncio.gather(*(first_event(t) for t in triggers)))
        await asyncio.sleep(1.5)
        await asyncio.to_thread(configure, emulator, malformed_rate=0.0)
        events = await asyncio.wait_for(waits, BOUND_SECONDS)
    finally:
        stop.set()
        await ticker
        await TwelveLabsHook.aclose_shared_clients()

    assert [e["status"] for e in events] == ["success"] * len(triggers), events
    assert any(e.get("malformed") == kind for e in request_log(emulator))  # the poller met the fault
    print(f"{kind}: {len(lags)} heartbeats, max event-loop lag {max(lags) * 1000:.1f} ms")
    assert len(lags) > 50
    assert max(lags) < 0.1, f"the event loop was blocked for {max(lags) * 1000:.0f} ms"


async def test_a_trigger_whose_every_read_is_spoiled_ends_with_an_error_event(spoil, catalog):
    spoil("html_200", malformed_methods=["GET"])
    trigger = TwelveLabsResourceTrigger(
        kind="asset",
        resource_id=catalog["asset_id"],
        deadline=time.time() + 20,
        poll_interval=0.02,
        poll_max_interval=0.05,
        max_consecutive_errors=2,
    )
    try:
        event = await asyncio.wait_for(anext(trigger.run()), BOUND_SECONDS)
    finally:
        await TwelveLabsHook.aclose_shared_clients()
    assert event.payload["status"] == "error"
    assert "HTML page" in event.payload["message"] and "consecutive errors" in event.payload["message"]


async def test_the_shared_client_and_the_poller_are_built_off_the_event_loop(spoil, monkeypatch):
    """Their setup blocks (the TLS context loads the CA bundle, ~0.3 s on a busy machine; imports)."""
    import threading

    from airflow_provider_twelvelabs.hooks import twelvelabs as hook_module

    loop_thread = threading.get_ident()
    built_in: list[int] = []
    real = hook_module._new_async_client

    def recording(settings: Any) -> Any:
        built_in.append(threading.get_ident())
        return real(settings)

    monkeypatch.setattr(hook_module, "_new_async_client", recording)
    await TwelveLabsHook.aclose_shared_clients()
    try:
        first, second = await asyncio.gather(TwelveLabsHook().aget_conn(), TwelveLabsHook().aget_conn())
    finally:
        await TwelveLabsHook.aclose_shared_clients()
    assert first is second  # one client for the connection, even when asked for at once
    assert len(built_in) == 1 and built_in[0] != loop_thread
