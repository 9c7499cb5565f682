"""Indexes and indexed assets."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from airflow_provider_twelvelabs.testing.emulator import RunningEmulator
from airflow_provider_twelvelabs.testing.emulator.config import EmulatorConfig
from tests.unit.emulator.conftest import make_index, poll, ready_asset, spec_checked

MARENGO = [{"model_name": "marengo3.0", "model_options": ["visual", "audio"]}]


def index_asset(api: httpx.Client, index_id: str, asset_id: str, **extra: Any) -> str:
    response = api.post(f"/indexes/{index_id}/indexed-assets", json={"asset_id": asset_id, **extra})
    body = spec_checked(response, 202)
    indexed_id: str = body["_id"]
    return indexed_id


def test_create_index_201_and_retrieve(api: httpx.Client) -> None:
    response = api.post("/indexes", json={"index_name": "news", "models": MARENGO, "addons": ["thumbnail"]})
    index_id = spec_checked(response, 201)["_id"]
    assert response.json() == {"_id": index_id}
    index = spec_checked(api.get(f"/indexes/{index_id}"), 200)
    assert index["index_name"] == "news"
    assert index["models"] == MARENGO
    assert index["addons"] == ["thumbnail"]
    assert index["video_count"] == 0 and index["total_duration"] == 0
    assert index["created_at"].endswith("Z") and index["expires_at"] > index["created_at"]


def test_duplicate_index_name_is_400_index_name_already_exists(api: httpx.Client) -> None:
    make_index(api, "same")
    body = spec_checked(api.post("/indexes", json={"index_name": "same", "models": MARENGO}), 400)
    assert body["code"] == "index_name_already_exists"


@pytest.mark.parametrize(
    "body",
    [
        {"models": MARENGO},
        {"index_name": "x"},
        {"index_name": "x", "models": []},
        {"index_name": "x", "models": [{"model_name": "gpt", "model_options": ["visual"]}]},
        {"index_name": "x", "models": [{"model_name": "marengo3.0", "model_options": ["smell"]}]},
        {"index_name": "x", "models": MARENGO, "addons": ["audio"]},
    ],
)
def test_create_index_validates_its_body(api: httpx.Client, body: dict[str, Any]) -> None:
    assert spec_checked(api.post("/indexes", json=body), 400)["code"] in (
        "parameter_invalid",
        "parameter_not_provided",
    )


def test_invalid_json_body_is_400(api: httpx.Client) -> None:
    response = api.post("/indexes", content=b"{nope", headers={"content-type": "application/json"})
    assert response.status_code == 400 and response.json()["code"] == "parameter_invalid"


def test_list_indexes_sorts_filters_and_pages(api: httpx.Client) -> None:
    first = make_index(api, "alpha", ("visual",))
    second = make_index(api, "beta")
    pegasus = spec_checked(
        api.post(
            "/indexes",
            json={
                "index_name": "gamma",
                "models": [{"model_name": "pegasus1.2", "model_options": ["visual"]}],
            },
        ),
        201,
    )["_id"]
    body = spec_checked(api.get("/indexes"), 200)
    assert [i["_id"] for i in body["data"]] == [pegasus, second, first]
    asc = api.get("/indexes", params={"sort_option": "asc"}).json()
    assert [i["_id"] for i in asc["data"]] == [first, second, pegasus]
    assert [i["_id"] for i in api.get("/indexes", params={"index_name": "beta"}).json()["data"]] == [second]
    assert [i["_id"] for i in api.get("/indexes", params={"model_family": "pegasus"}).json()["data"]] == [
        pegasus
    ]
    audio = api.get("/indexes", params={"model_options": "visual,audio"}).json()["data"]
    assert [i["_id"] for i in audio] == [second]
    page = api.get("/indexes", params={"page": 2, "page_limit": 2}).json()
    assert [i["_id"] for i in page["data"]] == [first]
    assert page["page_info"] == {"page": 2, "limit_per_page": 2, "total_page": 2, "total_results": 3}
    assert api.get("/indexes", params={"page": 5}).json()["data"] == []
    assert api.get("/indexes", params={"sort_by": "name"}).status_code == 400
    today = body["data"][0]["created_at"][:10]
    assert len(api.get("/indexes", params={"created_at": f"{today}T00:00:00Z"}).json()["data"]) == 3
    assert api.get("/indexes", params={"created_at": "2001-01-01T00:00:00Z"}).json()["data"] == []


def test_rename_index_204_and_name_conflicts(api: httpx.Client) -> None:
    index_id = make_index(api, "old")
    make_index(api, "taken")
    spec_checked(api.put(f"/indexes/{index_id}", json={"index_name": "new"}), 204)
    assert api.get(f"/indexes/{index_id}").json()["index_name"] == "new"
    assert (
        api.put(f"/indexes/{index_id}", json={"index_name": "taken"}).json()["code"]
        == "index_name_already_exists"
    )
    assert api.put(f"/indexes/{index_id}", json={}).status_code == 400


def test_delete_index_204_then_404(api: httpx.Client) -> None:
    index_id = make_index(api)
    asset_id = ready_asset(api)
    indexed = index_asset(api, index_id, asset_id)
    spec_checked(api.delete(f"/indexes/{index_id}"), 204)
    for response in (
        api.get(f"/indexes/{index_id}"),
        api.get(f"/indexes/{index_id}/indexed-assets/{indexed}"),
    ):
        assert response.status_code == 404 and response.json()["code"] == "resource_not_exist"
    # The asset itself is untouched and no longer in use.
    assert api.delete(f"/assets/{asset_id}").status_code == 204


def test_indexed_asset_202_with_location_and_lifecycle(api: httpx.Client, emulator: RunningEmulator) -> None:
    index_id = make_index(api)
    asset_id = ready_asset(api)
    response = api.post(
        f"/indexes/{index_id}/indexed-assets", json={"asset_id": asset_id, "enable_video_stream": True}
    )
    body = spec_checked(response, 202)
    assert body["asset_id"] == asset_id
    assert response.headers["Location"] == f"/indexes/{index_id}/indexed-assets/{body['_id']}"
    path = f"/indexes/{index_id}/indexed-assets/{body['_id']}"
    assert poll(api, path) == ["pending", "queued", "indexing", "ready"]
    detail = spec_checked(api.get(path), 200)
    assert detail["indexed_at"].endswith("Z")
    assert detail["system_metadata"]["filename"] == "clip.mp4"
    assert detail["system_metadata"]["duration"] > 0
    assert detail["hls"]["status"] == "COMPLETE" and detail["hls"]["video_url"]
    index = api.get(f"/indexes/{index_id}").json()
    assert index["video_count"] == 1
    assert index["total_duration"] == detail["system_metadata"]["duration"]


def test_index_counts_only_finished_videos(api: httpx.Client) -> None:
    index_id = make_index(api)
    index_asset(api, index_id, ready_asset(api))
    assert api.get(f"/indexes/{index_id}").json()["video_count"] == 0


def test_fail_index_marker_makes_indexing_fail(api: httpx.Client) -> None:
    index_id = make_index(api)
    asset_id = ready_asset(api, "news_fail_index.mp4")
    indexed = index_asset(api, index_id, asset_id)
    assert poll(api, f"/indexes/{index_id}/indexed-assets/{indexed}") == [
        "pending",
        "queued",
        "indexing",
        "failed",
    ]
    assert api.get(f"/indexes/{index_id}").json()["video_count"] == 0


def test_indexing_needs_a_ready_asset_in_a_known_index(api: httpx.Client) -> None:
    index_id = make_index(api)
    processing = api.post("/assets", data={"method": "url", "url": "https://a.example/v.mp4"}).json()["_id"]
    assert (
        spec_checked(api.post(f"/indexes/{index_id}/indexed-assets", json={"asset_id": processing}), 400)[
            "code"
        ]
        == "parameter_invalid"
    )
    missing = api.post(f"/indexes/{index_id}/indexed-assets", json={"asset_id": "0123456789abcdef01234567"})
    assert spec_checked(missing, 404)["code"] == "resource_not_exist"
    unknown_index = api.post(
        "/indexes/0123456789abcdef01234567/indexed-assets", json={"asset_id": processing}
    )
    assert unknown_index.status_code == 404
    assert api.post(f"/indexes/{index_id}/indexed-assets", json={}).json()["code"] == "parameter_not_provided"


def test_list_indexed_assets_filters(api: httpx.Client) -> None:
    index_id = make_index(api)
    a = index_asset(
        api, index_id, ready_asset(api, "a.mp4"), user_metadata={"category": "news", "tags": ["x", "y"]}
    )
    b = index_asset(
        api, index_id, ready_asset(api, "b.mp4"), user_metadata={"category": "sport", "live": True}
    )
    c = index_asset(api, index_id, ready_asset(api, "c.mp4"))
    base = f"/indexes/{index_id}/indexed-assets"
    body = spec_checked(api.get(base), 200)
    assert [r["_id"] for r in body["data"]] == [c, b, a]  # newest first
    assert all(r["status"] == "pending" for r in body["data"])
    api.get(f"{base}/{a}")
    api.get(f"{base}/{a}")
    api.get(f"{base}/{a}")  # a: ready; b and c were listed once more each: queued
    statuses = [("status", "ready"), ("status", "failed")]
    assert [r["_id"] for r in api.get(base, params=statuses).json()["data"]] == [a]
    assert [r["_id"] for r in api.get(base, params={"filename": "b.mp4"}).json()["data"]] == [b]
    assert [r["_id"] for r in api.get(base, params={"user_metadata[category]": "news"}).json()["data"]] == [a]
    assert [r["_id"] for r in api.get(base, params={"category": "sport"}).json()["data"]] == [b]
    assert [r["_id"] for r in api.get(base, params={"live": "true"}).json()["data"]] == [b]
    assert [r["_id"] for r in api.get(base, params={"tags": "y"}).json()["data"]] == [a]
    duration = api.get(f"{base}/{a}").json()["system_metadata"]["duration"]
    in_range = api.get(
        base, params={"duration[gte]": duration - 0.01, "duration[lte]": duration + 0.01}
    ).json()
    assert len(in_range["data"]) == 3  # same-size files: same duration
    assert api.get(base, params={"duration[gt]": duration}).json()["data"] == []
    assert api.get(base, params={"status": "sleeping"}).status_code == 400
    assert api.get(base, params={"page": 2}).json()["data"] == []


def test_retrieve_with_embeddings_and_transcription(api: httpx.Client) -> None:
    index_id = make_index(api)
    indexed = index_asset(api, index_id, ready_asset(api))
    path = f"/indexes/{index_id}/indexed-assets/{indexed}"
    params = [("embedding_option", "visual"), ("embedding_option", "audio"), ("transcription", "true")]
    pending = api.get(path, params=params).json()
    assert "embedding" not in pending and "transcription" not in pending
    poll(api, path)
    detail = spec_checked(api.get(path, params=params), 200)
    segments = detail["embedding"]["video_embedding"]["segments"]
    assert detail["embedding"]["model_name"] == "marengo3.0"
    duration = detail["system_metadata"]["duration"]
    visual = [s for s in segments if s["embedding_option"] == "visual"]
    assert {s["embedding_option"] for s in segments} == {"visual", "audio"}
    assert visual[0]["start_offset_sec"] == 0 and visual[-1]["end_offset_sec"] == pytest.approx(duration)
    assert all(len(s["float"]) == 512 for s in segments)
    assert detail["transcription"] and all(
        0 <= t["start"] < t["end"] <= duration for t in detail["transcription"]
    )
    assert api.get(path, params={"embedding_option": "smell"}).status_code == 400
    again = api.get(path, params=params).json()
    assert again["embedding"] == detail["embedding"]  # deterministic


def test_patch_user_metadata_is_a_partial_update(api: httpx.Client) -> None:
    index_id = make_index(api)
    indexed = index_asset(api, index_id, ready_asset(api), user_metadata={"keep": 1, "drop": "x"})
    path = f"/indexes/{index_id}/indexed-assets/{indexed}"
    spec_checked(api.patch(path, json={"user_metadata": {"drop": None, "new": ["a"]}}), 204)
    assert api.get(path).json()["user_metadata"] == {"keep": 1, "new": ["a"]}
    assert api.patch(path, json={"nothing": 1}).status_code == 400
    assert api.patch(path, json={"user_metadata": "x"}).status_code == 400


def test_delete_indexed_asset_204(api: httpx.Client) -> None:
    index_id = make_index(api)
    indexed = index_asset(api, index_id, ready_asset(api))
    path = f"/indexes/{index_id}/indexed-assets/{indexed}"
    spec_checked(api.delete(path), 204)
    assert api.get(path).status_code == 404
    assert api.delete(path).status_code == 404


def test_indexed_asset_in_another_index_is_not_found(api: httpx.Client) -> None:
    first, second = make_index(api, "one"), make_index(api, "two")
    indexed = index_asset(api, first, ready_asset(api))
    assert api.get(f"/indexes/{second}/indexed-assets/{indexed}").status_code == 404


def test_indexed_asset_parses_with_the_official_sdk_models(api: httpx.Client) -> None:
    from twelvelabs.core.pydantic_utilities import parse_obj_as
    from twelvelabs.types import IndexedAssetDetailed

    index_id = make_index(api)
    indexed = index_asset(api, index_id, ready_asset(api), enable_video_stream=True, user_metadata={"a": "b"})
    path = f"/indexes/{index_id}/indexed-assets/{indexed}"
    poll(api, path)
    raw = api.get(path, params={"embedding_option": "visual", "transcription": "true"}).json()
    parsed = parse_obj_as(IndexedAssetDetailed, raw)
    assert parsed.id == indexed and parsed.status == "ready"
    assert json.loads(json.dumps(raw))["user_metadata"] == {"a": "b"}


@pytest.mark.parametrize(
    "emulator_config", [EmulatorConfig(polls_per_step=1, step_seconds=10, hold_indexing=True)]
)
def test_hold_indexing_keeps_indexed_assets_where_they_are_until_cleared(
    api: httpx.Client, raw: httpx.Client
) -> None:
    index_id = make_index(api)
    raw.post("/_emulator/advance", json={"seconds": 10})
    asset_id = ready_asset(api)
    indexed_id = index_asset(api, index_id, asset_id)
    path = f"/indexes/{index_id}/indexed-assets/{indexed_id}"
    # Neither reads nor time move a held indexed asset; the asset itself was not held.
    seen = {api.get(path).json()["status"] for _ in range(6)}
    raw.post("/_emulator/advance", json={"seconds": 60})
    seen.add(api.get(path).json()["status"])
    assert seen == {"pending"}
    assert raw.post("/_emulator/config", json={"hold_indexing": False}).status_code == 200
    # Released, it catches up with its schedule (60 s since creation: three steps of 10 s).
    assert api.get(path).json()["status"] == "ready"
