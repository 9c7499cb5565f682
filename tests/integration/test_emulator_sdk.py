"""The official SDK (twelvelabs==1.3.6), unmodified, runs a whole workflow against the CLI-started emulator.

create index → direct upload → multipart upload_file → index both assets → embed (sync, v2 task, v1 task)
→ analyze (JSON, structured, stream) → search (several pages).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any, TypeVar

import jsonschema
import pytest

twelvelabs = pytest.importorskip("twelvelabs")

from twelvelabs import (  # noqa: E402 - after importorskip on purpose
    IndexesCreateRequestModelsItem,
    MediaSource,
    SyncResponseFormat,
    TextInputRequest,
    TwelveLabs,
    VideoContext_AssetId,
    VideoInputRequest,
    VideoSegmentation_Fixed,
    VideoSegmentationFixedFixed,
)

from airflow_provider_twelvelabs.testing.emulator.process import EmulatorProcess  # noqa: E402

pytestmark = pytest.mark.integration

API_KEY = "tlk_sdk_workflow_key"
T = TypeVar("T")


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start the emulator with its CLI, as a user would, and yield the base URL it prints."""
    data_dir = tmp_path_factory.mktemp("emulator-data")
    with EmulatorProcess(
        api_key=API_KEY, chunk_size=1024 * 1024, initial_presigned_urls=2, data_dir=data_dir
    ) as emulator:
        assert emulator.base_url.startswith("http://127.0.0.1:")
        yield emulator.base_url


# The SDK's hand-written wrappers (search.query, multipart_upload.upload_file, embed.tasks.wait_for_done)
# replace the generated clients at runtime but not in its static types, so the client is typed Any.
SDK = Any


@pytest.fixture(scope="module")
def client(base_url: str) -> SDK:
    assert base_url.endswith("/v1.3")
    # TWELVELABS_BASE_URL is how the SDK is pointed at another server; nothing else changes.
    previous = os.environ.get("TWELVELABS_BASE_URL")
    os.environ["TWELVELABS_BASE_URL"] = base_url
    try:
        return TwelveLabs(api_key=API_KEY)
    finally:
        if previous is None:
            os.environ.pop("TWELVELABS_BASE_URL", None)
        else:
            os.environ["TWELVELABS_BASE_URL"] = previous


def wait_until(fetch: Callable[[], T], done: Callable[[T], bool], attempts: int = 30) -> T:
    for _ in range(attempts):
        value = fetch()
        if done(value):
            return value
        time.sleep(0.05)
    raise AssertionError(f"still not done after {attempts} polls: {value!r}")


@pytest.fixture(scope="module")
def workflow(client: SDK, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Create an index and two indexed videos (direct upload and multipart upload)."""
    index = client.indexes.create(
        index_name="sdk-workflow",
        models=[IndexesCreateRequestModelsItem(model_name="marengo3.0", model_options=["visual", "audio"])],
        addons=["thumbnail"],
    )
    folder = tmp_path_factory.mktemp("media")
    small = folder / "intro.mp4"
    small.write_bytes(os.urandom(300_000))
    direct = client.assets.create(method="direct", file=small.open("rb"), filename="intro.mp4")
    large = folder / "keynote.mp4"
    large.write_bytes(os.urandom(5 * 1024 * 1024 + 12345))  # 6 chunks of 1 MiB: more than the 2 initial URLs
    progress: list[int] = []
    uploaded = client.multipart_upload.upload_file(
        large, batch_size=4, progress_callback=lambda p: progress.append(p.completed_chunks)
    )
    assert uploaded.asset_id and uploaded.asset_url
    assert progress[-1] == 6
    video_ids = []
    for asset_id in (direct.id, uploaded.asset_id):
        asset = wait_until(partial(client.assets.retrieve, asset_id), lambda a: a.status == "ready")
        assert asset.duration and asset.duration > 4
        created = client.indexes.indexed_assets.create(index.id, asset_id=asset_id)
        wait_until(
            partial(client.indexes.indexed_assets.retrieve, index.id, created.id),
            lambda r: r.status == "ready",
        )
        video_ids.append(created.id)
    return {"index_id": index.id, "asset_ids": [direct.id, uploaded.asset_id], "video_ids": video_ids}


def test_sync_embeddings(client: SDK, workflow: dict[str, Any]) -> None:
    text = client.embed.v_2.create(
        input_type="text", model_name="marengo3.0", text=TextInputRequest(input_text="a keynote speaker")
    )
    assert len(text.data[0].embedding) == 512
    video = client.embed.v_2.create(
        input_type="video",
        model_name="marengo3.0",
        video=VideoInputRequest(
            media_source=MediaSource(asset_id=workflow["asset_ids"][1]),
            segmentation=VideoSegmentation_Fixed(fixed=VideoSegmentationFixedFixed(duration_sec=5)),
            embedding_option=["visual"],
            embedding_scope=["clip"],
        ),
    )
    assert video.metadata is not None
    spans = [(d.start_sec, d.end_sec) for d in video.data]
    assert spans[0] == (0.0, 5.0) and all(b - a <= 5 for a, b in spans)


def test_async_embedding_task(client: SDK, workflow: dict[str, Any]) -> None:
    created = client.embed.v_2.tasks.create(
        input_type="video",
        model_name="marengo3.0",
        video={"media_source": {"asset_id": workflow["asset_ids"][1]}, "embedding_scope": ["clip", "asset"]},
    )
    assert created.status == "processing"
    task = wait_until(lambda: client.embed.v_2.tasks.retrieve(created.id), lambda t: t.status != "processing")
    assert task.status == "ready"
    assert task.data and {d.embedding_scope for d in task.data} == {"clip", "asset"}
    listed = [t.id for t in client.embed.v_2.tasks.list()]
    assert created.id in listed


def test_v1_embedding_task(client: SDK) -> None:
    created = client.embed.tasks.create(
        model_name="marengo3.0",
        video_url="https://media.example.com/match.mp4?duration=30",
        video_embedding_scope=["clip", "video"],
    )
    status = client.embed.tasks.wait_for_done(created.id, sleep_interval=0.05)
    assert status.status == "ready"
    result = client.embed.tasks.retrieve(created.id, embedding_option=["visual"])
    assert result.video_embedding is not None and result.video_embedding.segments


def test_analyze(client: SDK, workflow: dict[str, Any]) -> None:
    video = VideoContext_AssetId(asset_id=workflow["asset_ids"][1])
    plain = client.analyze(video=video, prompt="What is this keynote about?")
    assert plain.data and plain.finish_reason == "stop" and plain.usage.output_tokens > 0
    schema = {
        "type": "object",
        "properties": {
            "title": {"type": "string"},
            "chapters": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["title"],
    }
    structured = client.analyze(
        video=video,
        prompt="Title and chapters",
        response_format=SyncResponseFormat(type="json_schema", json_schema=schema),
        temperature=0.1,
        max_tokens=2000,
    )
    jsonschema.validate(json.loads(structured.data), schema)
    events = list(client.analyze_stream(video=video, prompt="What is this keynote about?"))
    assert events[0].event_type == "stream_start" and events[-1].event_type == "stream_end"
    streamed = "".join(e.text or "" for e in events if e.event_type == "text_generation")
    assert streamed == plain.data
    assert events[-1].metadata.generation_id == events[0].metadata.generation_id


def test_search_follows_page_tokens(client: SDK, workflow: dict[str, Any]) -> None:
    pager = client.search.query(
        index_id=workflow["index_id"],
        search_options=["visual", "audio"],
        query_text="a speaker on stage",
        page_limit=2,
    )
    items = list(pager)  # the wrapper follows next_page_token with GET /search/{token}
    assert len(items) > 2
    assert [i.rank for i in items] == list(range(1, len(items) + 1))
    assert {i.video_id for i in items} <= set(workflow["video_ids"])
    grouped = list(
        client.search.query(
            index_id=workflow["index_id"], search_options=["visual"], query_text="stage", group_by="video"
        )
    )
    assert all(g.id in workflow["video_ids"] and g.clips for g in grouped)


def test_sdk_sees_nested_404_and_flat_400(client: SDK) -> None:
    from twelvelabs.core.api_error import ApiError
    from twelvelabs.errors import NotFoundError

    with pytest.raises(NotFoundError):
        client.embed.v_2.tasks.retrieve("0" * 24)
    with pytest.raises(ApiError) as caught:
        client.search.query(index_id="0" * 24, search_options=["visual"], query_text="x")
    assert caught.value.status_code == 404
    assert caught.value.body["code"] == "resource_not_exist"


async def test_async_client(base_url: str, workflow: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    from twelvelabs import AsyncTwelveLabs

    monkeypatch.setenv("TWELVELABS_BASE_URL", base_url)
    client: SDK = AsyncTwelveLabs(api_key=API_KEY)
    text = await client.embed.v_2.create(
        input_type="text", model_name="marengo3.0", text=TextInputRequest(input_text="a keynote speaker")
    )
    assert len(text.data[0].embedding) == 512
    video = VideoContext_AssetId(asset_id=workflow["asset_ids"][0])
    events = [event async for event in client.analyze_stream(video=video, prompt="Describe it")]
    assert events[0].event_type == "stream_start" and events[-1].event_type == "stream_end"
    pager = await client.search.query(
        index_id=workflow["index_id"], search_options=["visual"], query_text="x"
    )
    items = [item async for item in pager]
    assert items and [i.rank for i in items] == list(range(1, len(items) + 1))
