"""The emulator's answers parse, strictly, into the official SDK's own response types.

What ``twelvelabs`` 1.3.6 parses each answer into (the ``type_`` of its raw clients) is the reference
here, so these checks need no file outside the repository. See tests/helpers/sdk_types.py for what
"strictly" adds to the SDK's lenient parse; ``required`` lists the fields the API reference marks
as always returned.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from twelvelabs.assets.types import AssetsListResponse
from twelvelabs.embed.v_2.tasks.types import TasksCreateResponse as EmbedTasksCreateResponse
from twelvelabs.embed.v_2.tasks.types import TasksListResponse as EmbedTasksListResponse
from twelvelabs.indexes.indexed_assets.types import (
    IndexedAssetsCreateResponse,
    IndexedAssetsListResponse,
)
from twelvelabs.indexes.types import IndexesCreateResponse, IndexesListResponse
from twelvelabs.search.types import SearchRetrieveResponse
from twelvelabs.tasks.types import TasksCreateResponse, TasksListResponse, TasksRetrieveResponse
from twelvelabs.types import (
    Asset,
    AssetDetail,
    EmbeddingTaskResponse,
    IndexedAssetDetailed,
    IndexSchema,
    NonStreamAnalyzeResponse,
    SearchResults,
    StreamAnalyzeResponse,
)

from airflow_provider_twelvelabs.testing.emulator.server import RunningEmulator
from tests.helpers.sdk_types import SdkTypeError, check_sdk_type
from tests.integration.compute_support import api_client, create_index, indexed_video

pytestmark = pytest.mark.integration

PAGE = ("data", "page_info", "page_info.page", "page_info.total_results")


@pytest.fixture
def client(twelvelabs_emulator: RunningEmulator) -> Iterator[httpx.Client]:
    with api_client(twelvelabs_emulator) as c:
        yield c


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def poll(client: httpx.Client, path: str, done: tuple[str, ...] = ("ready", "failed")) -> Any:
    for _ in range(30):
        body = ok(client.get(path))
        if body["status"] in done:
            return body
    raise AssertionError(f"{path} never reached {done}")


def test_indexes(client: httpx.Client) -> None:
    models = [{"model_name": "marengo3.0", "model_options": ["visual", "audio"]}]
    created = ok(client.post("/indexes", json={"index_name": "sdk-types", "models": models}), 201)
    check_sdk_type(IndexesCreateResponse, created, required=("_id",))
    index = check_sdk_type(
        IndexSchema,
        ok(client.get(f"/indexes/{created['_id']}")),
        required=("_id", "index_name", "models", "models.model_name", "models.model_options", "created_at"),
    )
    assert index.id == created["_id"] and index.models[0].model_name == "marengo3.0"
    listed = check_sdk_type(IndexesListResponse, ok(client.get("/indexes")), required=(*PAGE, "data._id"))
    assert [i.id for i in listed.data] == [created["_id"]]


def test_assets(client: httpx.Client) -> None:
    created = ok(
        client.post("/assets", files={"method": (None, "url"), "url": (None, "https://x.test/a.mp4")}), 201
    )
    check_sdk_type(Asset, created, required=("_id", "method", "status"))
    asset = check_sdk_type(
        AssetDetail,
        poll(client, f"/assets/{created['_id']}"),
        required=("_id", "status", "filename", "created_at"),
    )
    assert asset.status == "ready"
    listed = check_sdk_type(AssetsListResponse, ok(client.get("/assets")), required=(*PAGE, "data._id"))
    assert [a.id for a in listed.data] == [created["_id"]]


def test_indexed_assets(client: httpx.Client) -> None:
    index_id = create_index(client)
    asset = ok(
        client.post("/assets", files={"method": (None, "url"), "url": (None, "https://x.test/v.mp4")}), 201
    )
    poll(client, f"/assets/{asset['_id']}")
    created = ok(
        client.post(
            f"/indexes/{index_id}/indexed-assets",
            json={"asset_id": asset["_id"], "user_metadata": {"episode": 3, "live": True}},
        ),
        202,
    )
    check_sdk_type(IndexedAssetsCreateResponse, created, required=("_id",))
    path = f"/indexes/{index_id}/indexed-assets/{created['_id']}"
    detailed = check_sdk_type(
        IndexedAssetDetailed, poll(client, path), required=("_id", "status", "created_at", "system_metadata")
    )
    assert detailed.user_metadata == {"episode": 3, "live": True}
    listed = check_sdk_type(
        IndexedAssetsListResponse,
        ok(client.get(f"/indexes/{index_id}/indexed-assets")),
        required=(*PAGE, "data._id", "data.status"),
    )
    assert [v.id for v in listed.data] == [created["_id"]]


def test_indexing_tasks(client: httpx.Client) -> None:
    index_id = create_index(client)
    fields = {"index_id": (None, index_id), "video_url": (None, "https://x.test/t.mp4")}
    created = check_sdk_type(TasksCreateResponse, ok(client.post("/tasks", files=fields)), required=("_id",))
    task = check_sdk_type(
        TasksRetrieveResponse,
        poll(client, f"/tasks/{created.id}"),
        required=("_id", "index_id", "status", "created_at", "video_id"),
    )
    assert task.status == "ready"
    listed = check_sdk_type(
        TasksListResponse,
        ok(client.get("/tasks", params={"index_id": index_id})),
        required=(*PAGE, "data._id"),
    )
    assert [t.id for t in listed.data] == [created.id]


def test_embed_v2_tasks(client: httpx.Client) -> None:
    body = {
        "input_type": "video",
        "model_name": "marengo3.0",
        "video": {"media_source": {"url": "https://x.test/e.mp4?duration=12"}},
    }
    created = check_sdk_type(
        EmbedTasksCreateResponse,
        ok(client.post("/embed-v2/tasks", json=body), 202),
        required=("_id", "status"),
    )
    task = check_sdk_type(
        EmbeddingTaskResponse,
        poll(client, f"/embed-v2/tasks/{created.id}", ("ready", "failed")),
        required=("_id", "status", "data", "data.embedding", "created_at"),
    )
    assert task.status == "ready" and task.data and len(task.data[0].embedding) == 512
    listed = check_sdk_type(
        EmbedTasksListResponse, ok(client.get("/embed-v2/tasks")), required=(*PAGE, "data._id")
    )
    assert [t.id for t in listed.data] == [created.id]


def test_search_pages(client: httpx.Client) -> None:
    index_id = create_index(client)
    for i in range(3):
        indexed_video(client, index_id, f"https://x.test/s{i}.mp4", {"n": i})
    form = [
        ("index_id", (None, index_id)),
        ("query_text", (None, "a goal")),
        ("search_options", (None, "visual")),
        ("page_limit", (None, "2")),
    ]
    first = check_sdk_type(
        SearchResults,
        ok(client.post("/search", files=form)),
        required=("data", "data.video_id", "data.start", "data.end", "page_info", "search_pool"),
    )
    token = first.page_info.next_page_token if first.page_info else None
    assert token, "two per page from three videos: there is a next page"
    check_sdk_type(SearchRetrieveResponse, ok(client.get(f"/search/{token}")), required=("data", "page_info"))


def test_analyze_json_and_stream(client: httpx.Client) -> None:
    index_id = create_index(client, pegasus=True)  # generation by video id needs Pegasus
    video_id = indexed_video(client, index_id, "https://x.test/talk.mp4?duration=90")
    body = {"video_id": video_id, "prompt": "Summarise the talk", "stream": False}
    result = check_sdk_type(
        NonStreamAnalyzeResponse,
        ok(client.post("/analyze", json=body)),
        required=("id", "data", "finish_reason", "usage", "usage.output_tokens"),
    )
    assert result.finish_reason == "stop"
    streamed = client.post("/analyze", json={**body, "stream": True})
    assert streamed.status_code == 200
    events = [json.loads(line) for line in streamed.text.splitlines() if line.strip()]
    for event in events:
        check_sdk_type(StreamAnalyzeResponse, event, required=("event_type",))
    assert {e["event_type"] for e in events} >= {"stream_start", "text_generation", "stream_end"}


# --------------------------------------------------------------------------- the check itself


def test_the_check_fails_on_a_missing_required_field_a_wrong_type_or_an_unknown_field(
    client: httpx.Client,
) -> None:
    created = ok(
        client.post("/assets", files={"method": (None, "url"), "url": (None, "https://x.test/a.mp4")}), 201
    )
    asset = poll(client, f"/assets/{created['_id']}")
    check_sdk_type(AssetDetail, asset, required=("_id", "status"))  # the real answer passes

    without_id = {k: v for k, v in asset.items() if k != "_id"}
    with pytest.raises(SdkTypeError, match=r"\$\._id: required"):
        check_sdk_type(AssetDetail, without_id, required=("_id",))
    with pytest.raises(SdkTypeError, match=r"\$\.status: 7 is not one of"):
        check_sdk_type(AssetDetail, {**asset, "status": 7})
    with pytest.raises(SdkTypeError, match=r"\$\.created_at: expected datetime"):
        check_sdk_type(AssetDetail, {**asset, "created_at": "yesterday"})
    with pytest.raises(SdkTypeError, match=r"\$\.file_name: not a field"):
        check_sdk_type(AssetDetail, {**asset, "file_name": asset.get("filename")})
    page = ok(client.get("/assets"))
    with pytest.raises(SdkTypeError, match=r"\$\.page_info\.total_results: expected int"):
        check_sdk_type(AssetsListResponse, {**page, "page_info": {**page["page_info"], "total_results": "1"}})
    with pytest.raises(SdkTypeError, match=r"\$\.data\[0\]\._id: required"):
        check_sdk_type(AssetsListResponse, {**page, "data": [{"status": "ready"}]}, required=("data._id",))
