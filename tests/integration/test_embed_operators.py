"""The embedding operators against the emulator served on 127.0.0.1 (real HTTP, real trigger)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from airflow.providers.common.compat.sdk import TaskDeferred

from airflow_provider_twelvelabs.exceptions import TwelveLabsError, TwelveLabsResourceFailedError
from airflow_provider_twelvelabs.hooks.endpoints import FilePart
from airflow_provider_twelvelabs.hooks.twelvelabs import TwelveLabsHook
from airflow_provider_twelvelabs.operators.embed import (
    TwelveLabsCreateEmbeddingTaskOperator,
    TwelveLabsCreateVideoEmbeddingTaskOperator,
    TwelveLabsEmbedOperator,
)
from airflow_provider_twelvelabs.testing.emulator.server import RunningEmulator
from airflow_provider_twelvelabs.testing.pytest_plugin import set_twelvelabs_connection
from airflow_provider_twelvelabs.waiting import PollPolicy, wait_for_resource_sync
from tests.helpers.airflow_fakes import RecordingTI, StateStore
from tests.helpers.airflow_fakes import task_context as context
from tests.helpers.airflow_versions import below_3_3_only, needs_task_state_store

pytestmark = pytest.mark.integration

MEDIA = Path(__file__).resolve().parents[2] / "example_dags" / "media"
SAMPLE = MEDIA / "testsrc_640x360.mp4"
FAST = {"poll_interval": 0.05, "poll_max_interval": 0.1}
ASSET_ID = "6298d673f1090f1100476d4c"


@pytest.fixture
def emulator(twelvelabs_connection: RunningEmulator) -> RunningEmulator:
    return twelvelabs_connection


@pytest.fixture
def hook(emulator: RunningEmulator) -> Iterator[TwelveLabsHook]:
    with TwelveLabsHook() as h:
        yield h


def request_log(emulator: RunningEmulator) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = httpx.get(f"{emulator.url}/_emulator/requests").json()["data"]
    return [entry for entry in data if entry["path"].startswith("/v1.3")]


def requests_made(emulator: RunningEmulator, method: str, suffix: str) -> int:
    return sum(1 for e in request_log(emulator) if e["method"] == method and e["path"].endswith(suffix))


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def png_file(path: Path, size: int = 256) -> Path:
    ihdr = size.to_bytes(4, "big") * 2 + bytes([8, 2, 0, 0, 0])
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0\0\0\x0dIHDR" + ihdr + b"\0" * 200 + path.name.encode())
    return path


def ready_asset(hook: TwelveLabsHook, path: Path = SAMPLE) -> str:
    part = FilePart("file", path.name, lambda: path.open("rb"), "video/mp4")
    asset = hook.create_asset(method="direct", file=part, filename=path.name)
    wait_for_resource_sync(hook, "asset", asset.id, policy=PollPolicy(interval=0.05, max_interval=0.1))
    return asset.id


def vectors(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        (r["embedding_option"], r["embedding_scope"], r["start_sec"], r["end_sec"], r["embedding"])
        for r in rows
    ]


# --------------------------------------------------------------------------- sync embed v2


def test_text_embedding_goes_to_xcom(emulator, hook):
    out = TwelveLabsEmbedOperator(task_id="t", input_type="text", text="a goal in extra time").execute(
        context()
    )
    again = hook.create_embedding(
        {"input_type": "text", "model_name": "marengo3.0", "text": {"input_text": "a goal in extra time"}}
    )
    assert out["path"] is None and out["count"] == 1 and out["dimensions"] == 512
    assert out["embeddings"][0]["embedding"] == again.data[0].embedding


def test_image_file_and_text_image_url(emulator, hook, tmp_path):
    image = png_file(tmp_path / "logo.png")
    out = TwelveLabsEmbedOperator(task_id="i", input_type="image", file_path=str(image)).execute(context())
    assert out["count"] == 1 and out["file"] == str(image) and out["input_type"] == "image"
    url = "https://media.test/shirt.jpg"
    mixed = TwelveLabsEmbedOperator(task_id="ti", input_type="text_image", url=url, text="red shirt").execute(
        context()
    )
    expected = hook.create_embedding(
        {
            "input_type": "text_image",
            "model_name": "marengo3.0",
            "text_image": {"media_source": {"url": url}, "input_text": "red shirt"},
        }
    )
    assert mixed["embeddings"][0]["embedding"] == expected.data[0].embedding
    assert mixed["embeddings"][0]["embedding"] != out["embeddings"][0]["embedding"]


def test_audio_from_a_file_with_fixed_segments_to_jsonl(emulator, hook, tmp_path):
    audio = tmp_path / "talk.wav"
    audio.write_bytes(b"RIFF" + b"\x01" * 2_000_000)
    output = tmp_path / "out" / "talk.jsonl"
    op = TwelveLabsEmbedOperator(
        task_id="a",
        input_type="audio",
        file_path=str(audio),
        segmentation="fixed",
        segment_duration_sec=5,
        embedding_option=["audio", "transcription"],
        embedding_scope=["clip"],
        output_path=str(output),
    )
    body = op.build_request()
    manifest = op.execute(context())
    rows = read_jsonl(output)
    expected = hook.create_embedding(body)
    assert vectors(rows) == [
        (d.embedding_option, d.embedding_scope, d.start_sec, d.end_sec, d.embedding) for d in expected.data
    ]
    assert manifest["count"] == len(rows) > 4
    assert manifest["options"] == ["audio", "transcription"] and manifest["scopes"] == ["clip"]
    assert {r["end_sec"] - r["start_sec"] for r in rows if r["end_sec"] < rows[-1]["end_sec"]} == {5.0}
    assert rows[0]["file"] == str(audio) and rows[0]["model"] == "marengo3.0"


def test_video_asset_with_dynamic_segments_fused_and_range_to_parquet(emulator, hook, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    asset_id = ready_asset(hook)
    output = tmp_path / "video.parquet"
    op = TwelveLabsEmbedOperator(
        task_id="v",
        input_type="video",
        asset_id=asset_id,
        start_sec=1,
        end_sec=5,
        segmentation="dynamic",
        segment_duration_sec=2,
        embedding_option=["visual", "audio"],
        embedding_scope=["clip", "asset"],
        embedding_type=["separate_embedding", "fused_embedding"],
        output_path=output.as_uri(),
        output_format="parquet",
    )
    manifest = op.execute(context())
    table = pq.read_table(output).to_pylist()
    expected = hook.create_embedding(op.build_request())
    assert vectors(table) == [
        (d.embedding_option, d.embedding_scope, d.start_sec, d.end_sec, d.embedding) for d in expected.data
    ]
    assert manifest["format"] == "parquet" and manifest["path"] == output.as_uri()
    assert set(manifest["options"]) == {"visual", "audio", "fused"}
    assert {r["asset_id"] for r in table} == {asset_id}
    assert min(r["start_sec"] for r in table) == 1.0 and max(r["end_sec"] for r in table) == 5.0


def test_multi_input_with_a_smaller_dimension(emulator, tmp_path):
    image = png_file(tmp_path / "logo.png")
    out = TwelveLabsEmbedOperator(
        task_id="m",
        input_type="multi_input",
        model_name="marengo3.5",
        text="the <@logo> on a jersey",
        media_sources=[{"media_type": "image", "name": "logo", "file_path": str(image)}],
        embedding_dimension=256,
    ).execute(context())
    assert out["dimensions"] == 256 and out["model"] == "marengo3.5"


def test_over_the_xcom_limit_the_error_suggests_output_path(emulator):
    op = TwelveLabsEmbedOperator(
        task_id="v",
        input_type="video",
        url="https://media.test/match.mp4?duration=300",
        max_xcom_embeddings=10,
    )
    with pytest.raises(TwelveLabsError, match="output_path"):
        op.execute(context())
    small = TwelveLabsEmbedOperator(
        task_id="v",
        input_type="video",
        url="https://media.test/match.mp4?duration=300",
        max_xcom_bytes=20_000,
    )
    with pytest.raises(TwelveLabsError, match="max_xcom_bytes=20000"):
        small.execute(context())


# --------------------------------------------------------------------------- async embed v2


def test_async_video_task_writes_every_vector_of_the_task(emulator, hook, tmp_path):
    output = tmp_path / "long.jsonl"
    ctx = context()
    manifest = TwelveLabsCreateEmbeddingTaskOperator(
        task_id="e",
        url="https://media.test/lecture.mp4?duration=1800",
        embedding_option=["visual", "transcription"],
        embedding_scope=["clip"],
        segmentation="fixed",
        segment_duration_sec=10,
        output_path=str(output),
        **FAST,
    ).execute(ctx)
    task_id = ctx["ti"].pushed["embed_v2_task_id"]
    task = hook.get_embedding_task(task_id)
    rows = read_jsonl(output)
    assert vectors(rows) == [
        (d.embedding_option, d.embedding_scope, d.start_sec, d.end_sec, d.embedding) for d in task.data or []
    ]
    assert manifest["task_id"] == task_id and manifest["count"] == 360
    assert manifest["url"] == "https://media.test/lecture.mp4?<redacted>"
    assert {r["task_id"] for r in rows} == {task_id}


def test_async_audio_and_marengo35_options(emulator, hook):
    audio = TwelveLabsCreateEmbeddingTaskOperator(
        task_id="a", input_type="audio", url="https://media.test/pod.mp3?duration=40", **FAST
    ).execute(context())
    assert audio["options"] == ["audio", "transcription"] and audio["count"] > 0
    v35 = TwelveLabsCreateEmbeddingTaskOperator(
        task_id="b",
        model_name="marengo3.5",
        url="https://media.test/ad.mp4?duration=20",
        segmentation="dynamic",
        segment_duration_sec=3,
        embedding_scope=["local"],
        embedding_dimension=64,
        **FAST,
    ).execute(context())
    assert v35["dimensions"] == 64 and v35["scopes"] == ["clip"] and v35["model"] == "marengo3.5"


async def test_status_reads_leave_the_vectors_out(emulator, hook):
    task = hook.create_embedding_task(
        {
            "input_type": "video",
            "model_name": "marengo3.0",
            "video": {"media_source": {"url": "https://media.test/status.mp4?duration=300"}},
        }
    )
    httpx.post(f"{emulator.url}/_emulator/advance", json={"complete": True})
    full = hook.get_embedding_task(task.id)
    status = hook.get_embedding_task_status(task.id)
    try:
        astatus = await hook.aget_embedding_task_status(task.id)
    finally:
        await TwelveLabsHook.aclose_shared_clients()
    assert full.status == "ready" and full.data
    for light in (status, astatus):
        assert (light.id, light.status, light.data) == (task.id, "ready", None)
        assert light.metadata == full.metadata


def test_a_failed_task_raises_with_the_reason(emulator):
    op = TwelveLabsCreateEmbeddingTaskOperator(task_id="f", url="https://media.test/fail.mp4", **FAST)
    with pytest.raises(TwelveLabsResourceFailedError, match="could not complete"):
        op.execute(context())


@needs_task_state_store
def test_retry_resumes_the_task_of_the_first_try(emulator, tmp_path):
    store = StateStore()
    kwargs = {"task_id": "e", "url": "https://media.test/game.mp4?duration=400", **FAST}
    with pytest.raises(TwelveLabsError, match="output_path"):
        TwelveLabsCreateEmbeddingTaskOperator(max_xcom_embeddings=3, **kwargs).execute(context(store))
    first_id = store.values["embed_v2_task_id"]
    manifest = TwelveLabsCreateEmbeddingTaskOperator(output_path=str(tmp_path / "e.jsonl"), **kwargs).execute(
        context(store)
    )
    assert manifest["task_id"] == first_id
    assert requests_made(emulator, "POST", "/embed-v2/tasks") == 1
    # Success drops the memory: clearing the task and running it again embeds afresh.
    assert "embed_v2_task_id" not in store.values
    again = TwelveLabsCreateEmbeddingTaskOperator(output_path=str(tmp_path / "f.jsonl"), **kwargs).execute(
        context(store)
    )
    assert again["task_id"] != first_id
    assert requests_made(emulator, "POST", "/embed-v2/tasks") == 2


@needs_task_state_store
def test_retry_after_a_failed_task_creates_a_new_one(emulator):
    store = StateStore()
    op = TwelveLabsCreateEmbeddingTaskOperator(task_id="e", url="https://media.test/fail.mp4", **FAST)
    with pytest.raises(TwelveLabsResourceFailedError):
        op.execute(context(store))
    failed = store.values["embed_v2_task_id"]
    with pytest.raises(TwelveLabsResourceFailedError):
        op.execute(context(store))
    assert store.values["embed_v2_task_id"] != failed
    assert requests_made(emulator, "POST", "/embed-v2/tasks") == 2


@needs_task_state_store
def test_a_retry_of_a_deferred_try_defers_again_on_the_same_task(emulator):
    # The first try deferred; its task instance died before the trigger fired (a killed worker, a
    # lost trigger). The retry reconnects to the remembered task: no second create, same trigger.
    store = StateStore()
    kwargs = {"task_id": "d", "url": "https://media.test/long.mp4?duration=900", "deferrable": True, **FAST}
    with pytest.raises(TaskDeferred) as first:
        TwelveLabsCreateEmbeddingTaskOperator(**kwargs).execute(context(store))
    remembered = store.values["embed_v2_task_id"]
    retry_context = context(store)
    with pytest.raises(TaskDeferred) as second:
        TwelveLabsCreateEmbeddingTaskOperator(**kwargs).execute(retry_context)
    assert first.value.trigger.serialize()[1]["resource_id"] == remembered
    assert second.value.trigger.serialize()[1]["resource_id"] == remembered
    assert retry_context["ti"].pushed["embed_v2_task_id"] == remembered
    assert requests_made(emulator, "POST", "/embed-v2/tasks") == 1


async def test_deferral_and_the_trigger_finish_the_task(emulator, hook, tmp_path):
    output = tmp_path / "d.jsonl"
    kwargs = {"task_id": "d", "url": "https://media.test/d.mp4?duration=90", "output_path": str(output)}
    ctx = context()
    with pytest.raises(TaskDeferred) as deferred:
        TwelveLabsCreateEmbeddingTaskOperator(deferrable=True, **kwargs, **FAST).execute(ctx)
    task_id = ctx["ti"].pushed["embed_v2_task_id"]
    trigger = deferred.value.trigger
    _, trigger_kwargs = trigger.serialize()
    assert trigger_kwargs["kind"] == "embed_v2_task" and trigger_kwargs["resource_id"] == task_id
    assert emulator.api_key not in json.dumps(trigger_kwargs, default=str)
    try:
        event = await anext(trigger.run())
    finally:
        await TwelveLabsHook.aclose_shared_clients()
    assert event.payload["status"] == "success"
    manifest = TwelveLabsCreateEmbeddingTaskOperator(deferrable=True, **kwargs).execute_complete(
        context(), event.payload
    )
    task = hook.get_embedding_task(task_id)
    assert [r["embedding"] for r in read_jsonl(output)] == [d.embedding for d in task.data or []]
    assert manifest["count"] == len(task.data or [])


# --------------------------------------------------------------------------- v1 video tasks


def test_v1_task_from_a_file_with_offsets_and_an_option_filter(emulator, hook, tmp_path):
    output = tmp_path / "v1.jsonl"
    ctx = context()
    manifest = TwelveLabsCreateVideoEmbeddingTaskOperator(
        task_id="v1",
        video_file=str(SAMPLE),
        video_clip_length=2,
        video_start_offset_sec=0,
        video_end_offset_sec=6,
        video_embedding_scope=["clip", "video"],
        embedding_option=["visual"],
        output_path=str(output),
        **FAST,
    ).execute(ctx)
    task_id = ctx["ti"].pushed["embed_v1_task_id"]
    segments = hook.get_video_embedding_task(task_id, embedding_option=["visual"]).segments()
    rows = read_jsonl(output)
    assert [(r["start_sec"], r["end_sec"], r["embedding_scope"], r["embedding"]) for r in rows] == [
        (s.start_offset_sec, s.end_offset_sec, s.embedding_scope, s.float_) for s in segments
    ]
    assert manifest["options"] == ["visual"] and manifest["scopes"] == ["clip", "video"]
    assert manifest["count"] == 4 and rows[0]["file"] == str(SAMPLE)


@needs_task_state_store
def test_v1_retry_reuses_the_task(emulator, tmp_path):
    store = StateStore()
    kwargs = {"task_id": "v1", "video_url": "https://media.test/old.mp4?duration=60", **FAST}
    with pytest.raises(TwelveLabsError, match="output_path"):
        TwelveLabsCreateVideoEmbeddingTaskOperator(max_xcom_embeddings=1, **kwargs).execute(context(store))
    first_id = store.values["embed_v1_task_id"]
    out = TwelveLabsCreateVideoEmbeddingTaskOperator(output_path=str(tmp_path / "o.jsonl"), **kwargs).execute(
        context(store)
    )
    assert out["task_id"] == first_id
    assert requests_made(emulator, "POST", "/embed/tasks") == 1
    assert "embed_v1_task_id" not in store.values


@below_3_3_only
def test_below_airflow_3_3_a_retry_creates_a_new_task(emulator, tmp_path):
    # Airflow < 3.3 has no task state store (real task contexts carry none): nothing remembers the
    # first try's task, so the retry embeds (and bills) the video again. docs/compatibility.md says so.
    kwargs = {"task_id": "e", "url": "https://media.test/game.mp4?duration=400", **FAST}
    first_ti, retry_ti = RecordingTI(), RecordingTI()
    with pytest.raises(TwelveLabsError, match="output_path"):
        TwelveLabsCreateEmbeddingTaskOperator(max_xcom_embeddings=3, **kwargs).execute({"ti": first_ti})
    manifest = TwelveLabsCreateEmbeddingTaskOperator(output_path=str(tmp_path / "e.jsonl"), **kwargs).execute(
        {"ti": retry_ti}
    )
    assert requests_made(emulator, "POST", "/embed-v2/tasks") == 2
    assert manifest["task_id"] == retry_ti.pushed["embed_v2_task_id"] != first_ti.pushed["embed_v2_task_id"]
    assert manifest["count"] == len(read_jsonl(tmp_path / "e.jsonl")) > 3


# --------------------------------------------------------------------------- validation before any request


@pytest.fixture(scope="module")
def shared_emulator(twelvelabs_module_emulator: RunningEmulator) -> Iterator[RunningEmulator]:
    # One emulator for the module's validation tests: they never reach it.
    running = twelvelabs_module_emulator
    with pytest.MonkeyPatch.context() as monkeypatch:
        set_twelvelabs_connection(monkeypatch, running.base_url, running.api_key)
        yield running


SYNC = TwelveLabsEmbedOperator
ASYNC = TwelveLabsCreateEmbeddingTaskOperator
V1 = TwelveLabsCreateVideoEmbeddingTaskOperator
URL = "https://media.test/v.mp4"

INVALID: list[tuple[type, dict[str, Any], str]] = [
    (SYNC, {"input_type": "gif"}, "input_type"),
    (SYNC, {"input_type": "text", "text": "x", "model_name": "marengo2.7"}, "model_name"),
    (SYNC, {"input_type": "text", "text": ""}, "text"),
    (SYNC, {"input_type": "text", "text": "word " * 600}, "text has at least 600 tokens"),
    (SYNC, {"input_type": "text", "text": "x", "url": URL}, "url"),
    (SYNC, {"input_type": "text", "text": "x", "embedding_option": ["visual"]}, "embedding_option"),
    (SYNC, {"input_type": "image", "url": URL, "text": "x"}, "text"),
    (SYNC, {"input_type": "image", "url": "https://media.test/a.gif"}, "url: .gif"),
    (SYNC, {"input_type": "image"}, "exactly one media source"),
    (SYNC, {"input_type": "video", "url": URL, "asset_id": ASSET_ID}, "exactly one media source"),
    (SYNC, {"input_type": "video", "url": "ftp://media.test/v.mp4"}, "url must be an http"),
    (SYNC, {"input_type": "video", "url": URL, "start_sec": 30, "end_sec": 10}, "end_sec"),
    (SYNC, {"input_type": "video", "url": URL, "start_sec": -1}, "start_sec"),
    (SYNC, {"input_type": "video", "url": URL, "end_sec": 900}, "at most 600 s"),
    (SYNC, {"input_type": "video", "url": URL, "embedding_option": ["visual", "smell"]}, "embedding_option"),
    (SYNC, {"input_type": "video", "url": URL, "embedding_scope": ["scene"]}, "embedding_scope"),
    (SYNC, {"input_type": "video", "url": URL, "embedding_scope": ["local"]}, "embedding_scope"),
    (
        SYNC,
        {
            "input_type": "video",
            "url": URL,
            "embedding_option": ["visual"],
            "embedding_type": ["fused_embedding"],
        },
        "embedding_type",
    ),
    (SYNC, {"input_type": "video", "url": URL, "embedding_type": ["mixed"]}, "embedding_type"),
    (SYNC, {"input_type": "video", "url": URL, "segmentation": "scene"}, "segmentation"),
    (
        SYNC,
        {"input_type": "video", "url": URL, "segmentation": "dynamic", "segment_duration_sec": 6},
        "segment_duration_sec",
    ),
    (
        SYNC,
        {"input_type": "video", "url": URL, "segmentation": "fixed", "segment_duration_sec": 12},
        "segment_duration_sec",
    ),
    (SYNC, {"input_type": "video", "url": URL, "segment_duration_sec": 4}, "segment_duration_sec"),
    (SYNC, {"input_type": "audio", "url": URL, "segmentation": "dynamic"}, "only support the 'fixed'"),
    (SYNC, {"input_type": "audio", "url": URL, "embedding_option": ["visual"]}, "embedding_option"),
    (SYNC, {"input_type": "video", "url": URL, "embedding_dimension": 256}, "embedding_dimension"),
    (SYNC, {"input_type": "video", "url": URL, "model_name": "marengo3.5"}, "multi_input"),
    (SYNC, {"input_type": "multi_input", "text": "x"}, "marengo3.5"),
    (
        SYNC,
        {"input_type": "multi_input", "model_name": "marengo3.5", "embedding_dimension": 4096},
        "1 to 512",
    ),
    (
        SYNC,
        {
            "input_type": "multi_input",
            "model_name": "marengo3.5",
            "media_sources": [{"media_type": "image", "url": URL}, {"media_type": "video", "url": URL}],
        },
        "need text",
    ),
    (SYNC, {"input_type": "text", "text": "x", "output_format": "csv"}, "output_format"),
    (SYNC, {"input_type": "text", "text": "x", "max_xcom_embeddings": -1}, "max_xcom_embeddings"),
    (SYNC, {"input_type": "video", "file_path": "/nonexistent/video.mp4"}, "no file"),
    (ASYNC, {"input_type": "text", "url": URL}, "input_type"),
    (ASYNC, {"url": URL, "end_sec": 5 * 3600}, "at most 14400 s"),
    (ASYNC, {"url": URL, "model_name": "marengo3.5", "embedding_uncertainty": True}, "without 'asset'"),
    (ASYNC, {"url": URL, "embedding_uncertainty": True, "embedding_scope": ["clip"]}, "marengo3.5"),
    (
        ASYNC,
        {"url": URL, "segmentation": {"temporal": {"strategy": "fixed", "fixed": {"duration_sec": 4}}}},
        "temporal",
    ),
    (ASYNC, {"url": URL, "segmentation": {"strategy": "fixed", "fixed": {}}}, "duration_sec is required"),
    (V1, {"video_url": URL, "video_clip_length": 1}, "video_clip_length"),
    (V1, {"video_url": URL, "video_clip_length": 11}, "video_clip_length"),
    (V1, {"video_url": URL, "video_start_offset_sec": 5}, "both"),
    (V1, {"video_url": URL, "video_start_offset_sec": 20, "video_end_offset_sec": 10}, "greater than"),
    (V1, {"video_url": URL, "video_start_offset_sec": 0, "video_end_offset_sec": 4}, "at least"),
    (V1, {"video_url": URL, "video_embedding_scope": ["video"]}, "must include 'clip'"),
    (V1, {"video_url": URL, "video_embedding_scope": ["clip", "asset"]}, "video_embedding_scope"),
    (V1, {"video_url": URL, "video_file": str(SAMPLE)}, "exactly one"),
    (V1, {}, "exactly one"),
    (V1, {"video_url": URL, "model_name": "marengo3.5"}, "model_name"),
    (V1, {"video_url": URL, "embedding_option": ["fused"]}, "embedding_option"),
]


@pytest.mark.parametrize(("operator", "kwargs", "message"), INVALID)
def test_invalid_parameters_fail_before_any_request(shared_emulator, operator, kwargs, message):
    before = len(request_log(shared_emulator))
    with pytest.raises(ValueError, match=message):
        operator(task_id="bad", **kwargs).execute(context())
    assert len(request_log(shared_emulator)) == before
