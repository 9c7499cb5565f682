"""Assets: create (direct, URL), list, retrieve, lifecycle, delete, user metadata, bytes held."""

from __future__ import annotations

import hashlib
import json

import httpx
import pytest

from airflow_provider_twelvelabs.testing.emulator import RunningEmulator
from tests.unit.emulator.conftest import make_asset, make_index, poll, ready_asset, spec_checked


def test_direct_upload_returns_201_processing_asset_and_keeps_the_bytes(
    api: httpx.Client, raw: httpx.Client
) -> None:
    content = b"video-bytes" * 1000
    response = api.post(
        "/assets",
        data={
            "method": "direct",
            "enable_hls": "false",
            "user_metadata": json.dumps({"team": "news", "n": 3}),
        },
        files={"file": ("evening news.mp4", content, "video/mp4")},
    )
    body = spec_checked(response, 201)
    assert len(body["_id"]) == 24 and int(body["_id"], 16) >= 0
    assert body["status"] == "processing"
    assert body["method"] == "direct"
    assert body["filename"] == "evening news.mp4"
    assert body["file_type"] == "video/mp4"
    assert body["created_at"].endswith("Z")
    assert body["user_metadata"] == {"team": "news", "n": 3}
    held = raw.get(f"/_emulator/assets/{body['_id']}").json()
    assert held["size"] == len(content)
    assert held["md5"] == hashlib.md5(content).hexdigest()


def test_asset_moves_from_processing_to_ready_with_details(api: httpx.Client) -> None:
    asset_id = make_asset(api, "clip.mp4", b"x" * 5000)
    first = spec_checked(api.get(f"/assets/{asset_id}"), 200)
    assert first["status"] == "processing"
    assert "technical_metadata" not in first and "size" not in first
    assert first["hls"] == {"status": "processing"}
    ready = spec_checked(api.get(f"/assets/{asset_id}"), 200)
    assert ready["status"] == "ready"
    assert ready["size"] == 5000
    assert ready["duration"] > 0
    assert ready["hls"]["status"] == "ready" and ready["hls"]["manifest_url"].startswith("http://127.0.0.1")
    assert ready["thumbnail"]["status"] == "ready" and ready["thumbnail"]["representative_url"]
    meta = ready["technical_metadata"]
    assert meta["file_size_bytes"] == 5000
    assert meta["video_duration_seconds"] == ready["duration"]
    assert meta["video_width"] > 0 and meta["video_height"] > 0


def test_asset_detail_parses_with_the_official_sdk_models(api: httpx.Client) -> None:
    from twelvelabs.core.pydantic_utilities import parse_obj_as
    from twelvelabs.types import AssetDetail

    asset_id = ready_asset(api)
    detail = parse_obj_as(AssetDetail, api.get(f"/assets/{asset_id}").json())
    assert detail.id == asset_id
    assert detail.technical_metadata is not None and detail.technical_metadata.storage_aspect_ratio


@pytest.mark.parametrize("filename", ["fail.mp4", "broken_FAIL_me.mov"])
def test_a_filename_containing_fail_makes_the_asset_fail(api: httpx.Client, filename: str) -> None:
    asset_id = make_asset(api, filename)
    assert poll(api, f"/assets/{asset_id}") == ["processing", "failed"]
    body = spec_checked(api.get(f"/assets/{asset_id}"), 200)
    assert body["error"]["message"]
    assert body["hls"]["status"] == "error"
    assert "size" not in body


def test_url_asset_takes_its_filename_from_the_url_and_its_duration_from_the_query(api: httpx.Client) -> None:
    response = api.post(
        "/assets",
        data={
            "method": "url",
            "url": "https://cdn.example.com/media/show.mp4?duration=3600",
            "enable_thumbnail": "false",
        },
    )
    body = spec_checked(response, 201)
    assert body["method"] == "url"
    assert body["filename"] == "show.mp4"
    seen = poll(api, f"/assets/{body['_id']}")
    assert seen[-1] == "ready"
    detail = api.get(f"/assets/{body['_id']}").json()
    assert detail["duration"] == 3600
    assert "thumbnail" not in detail


def test_url_containing_fail_makes_the_asset_fail(api: httpx.Client) -> None:
    body = api.post("/assets", data={"method": "url", "url": "https://x.example/fail/a.mp4"}).json()
    assert poll(api, f"/assets/{body['_id']}")[-1] == "failed"


@pytest.mark.parametrize(
    ("data", "files", "code"),
    [
        ({}, None, "parameter_not_provided"),
        ({"method": "ftp"}, None, "parameter_invalid"),
        ({"method": "direct"}, None, "parameter_not_provided"),
        ({"method": "url"}, None, "parameter_not_provided"),
        ({"method": "url", "url": "file:///etc/passwd"}, None, "parameter_invalid"),
        (
            {"method": "url", "url": "https://a/b.mp4", "user_metadata": "{not json"},
            None,
            "parameter_invalid",
        ),
        ({"method": "url", "url": "https://a/b.mp4", "user_metadata": "[1,2]"}, None, "parameter_invalid"),
        ({"method": "url", "url": "https://a/b.mp4", "enable_hls": "yes"}, None, "parameter_invalid"),
    ],
)
def test_create_asset_rejects_bad_forms_with_flat_400(
    api: httpx.Client, data: dict[str, str], files: dict[str, tuple[str, bytes]] | None, code: str
) -> None:
    response = api.post("/assets", data=data, files=files or {"unused": ("x.txt", b"x", "text/plain")})
    body = spec_checked(response, 400)
    assert body["code"] == code
    assert body["message"]


def test_create_asset_requires_a_form_body(api: httpx.Client) -> None:
    response = api.post("/assets", json={"method": "url", "url": "https://a/b.mp4"})
    assert response.status_code == 400
    assert response.json()["code"] == "parameter_invalid"


def test_list_assets_newest_first_with_filters_and_pages(api: httpx.Client) -> None:
    ids = [make_asset(api, f"clip-{i}.mp4") for i in range(3)]
    image = api.post("/assets", data={"method": "url", "url": "https://a.example/photo.jpg"}).json()["_id"]
    listing = spec_checked(api.get("/assets", params={"page": 1, "page_limit": 2}), 200)
    assert [a["_id"] for a in listing["data"]] == [image, ids[2]]
    assert listing["page_info"] == {"page": 1, "limit_per_page": 2, "total_page": 2, "total_results": 4}
    beyond = spec_checked(api.get("/assets", params={"page": 3, "page_limit": 2}), 200)
    assert beyond["data"] == [] and beyond["page_info"]["total_results"] == 4
    repeated = api.get("/assets", params=[("asset_ids", ids[0]), ("asset_ids", ids[1])]).json()
    assert {a["_id"] for a in repeated["data"]} == {ids[0], ids[1]}
    images = api.get("/assets", params={"asset_types": "image"}).json()
    assert [a["_id"] for a in images["data"]] == [image]
    by_name = api.get("/assets", params={"filename": "CLIP-1"}).json()
    assert [a["_id"] for a in by_name["data"]] == [ids[1]]


def test_page_limit_is_capped_at_50_and_invalid_pages_are_400(api: httpx.Client) -> None:
    info = api.get("/assets", params={"page_limit": 500}).json()["page_info"]
    assert info["limit_per_page"] == 50
    assert api.get("/assets", params={"page": 0}).json()["code"] == "parameter_invalid"
    assert api.get("/assets", params={"page_limit": "ten"}).status_code == 400


def test_listing_counts_as_a_read_of_each_listed_asset(api: httpx.Client) -> None:
    asset_id = make_asset(api)
    assert api.get("/assets").json()["data"][0]["status"] == "processing"
    assert api.get("/assets").json()["data"][0]["status"] == "ready"
    assert api.get(f"/assets/{asset_id}").json()["status"] == "ready"


def test_unknown_asset_is_404_resource_not_exist(api: httpx.Client) -> None:
    for response in (
        api.get("/assets/0123456789abcdef01234567"),
        api.delete("/assets/0123456789abcdef01234567"),
    ):
        assert response.status_code == 404
        assert response.json()["code"] == "resource_not_exist"


def test_delete_asset_is_409_while_indexed_unless_forced(api: httpx.Client, raw: httpx.Client) -> None:
    index_id = make_index(api)
    asset_id = ready_asset(api)
    indexed = api.post(f"/indexes/{index_id}/indexed-assets", json={"asset_id": asset_id}).json()["_id"]
    conflict = api.delete(f"/assets/{asset_id}")
    assert conflict.status_code == 409
    assert conflict.json()["code"] == "asset_in_use"
    spec_checked(api.delete(f"/assets/{asset_id}", params={"force": "true"}), 204)
    assert api.get(f"/assets/{asset_id}").status_code == 404
    # The indexed copy lives on in its index.
    assert api.get(f"/indexes/{index_id}/indexed-assets/{indexed}").status_code == 200


def test_delete_unindexed_asset_is_204_and_frees_the_bytes(
    api: httpx.Client, emulator: RunningEmulator
) -> None:
    asset_id = make_asset(api)
    path = emulator.state.media_path(asset_id)
    assert path.exists()
    spec_checked(api.delete(f"/assets/{asset_id}"), 204)
    assert not path.exists()
    assert api.get("/assets").json()["data"] == []


def test_asset_indexed_assets_lists_the_indexes_holding_it(api: httpx.Client) -> None:
    first, second = make_index(api, "one"), make_index(api, "two")
    asset_id = ready_asset(api)
    ids = [
        api.post(f"/indexes/{i}/indexed-assets", json={"asset_id": asset_id}).json()["_id"]
        for i in (first, second)
    ]
    body = api.get(f"/assets/{asset_id}/indexed-assets", params={"page_limit": 1}).json()
    assert body["data"] == [{"_id": ids[1], "index": {"_id": second, "name": "two"}}]
    assert body["page_info"]["total_results"] == 2


def test_asset_user_metadata_put_patch_delete(api: httpx.Client) -> None:
    asset_id = make_asset(api, user_metadata=json.dumps({"a": 1, "b": "x"}))
    assert (
        api.patch(
            f"/assets/{asset_id}/user-metadata", json={"user_metadata": {"a": None, "c": True}}
        ).status_code
        == 204
    )
    assert api.get(f"/assets/{asset_id}").json()["user_metadata"] == {"b": "x", "c": True}
    assert (
        api.put(f"/assets/{asset_id}/user-metadata", json={"user_metadata": {"z": ["p", "q"]}}).status_code
        == 204
    )
    assert api.get(f"/assets/{asset_id}").json()["user_metadata"] == {"z": ["p", "q"]}
    assert api.delete(f"/assets/{asset_id}/user-metadata").status_code == 204
    assert "user_metadata" not in api.get(f"/assets/{asset_id}").json()
    bad = api.patch(f"/assets/{asset_id}/user-metadata", json={"user_metadata": {"k": {"nested": 1}}})
    assert bad.status_code == 400


def test_media_urls_serve_the_bytes_a_manifest_and_a_thumbnail(api: httpx.Client) -> None:
    content = b"abc" * 333
    asset_id = ready_asset(api)
    detail = api.get(f"/assets/{asset_id}").json()
    manifest = httpx.get(detail["hls"]["manifest_url"])
    assert manifest.status_code == 200 and manifest.text.startswith("#EXTM3U")
    thumbnail = httpx.get(detail["thumbnail"]["representative_url"])
    assert thumbnail.headers["content-type"] == "image/jpeg" and thumbnail.content[:2] == b"\xff\xd8"
    other = make_asset(api, "raw.mp4", content)
    stored = httpx.get(
        f"{api.base_url.scheme}://{api.base_url.host}:{api.base_url.port}/_media/{other}/raw.mp4"
    )
    assert stored.content == content


def test_direct_upload_over_200_mb_is_rejected(api: httpx.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_twelvelabs.testing.emulator import routes_assets

    monkeypatch.setattr(routes_assets, "MAX_DIRECT_UPLOAD_BYTES", 1000)
    response = api.post(
        "/assets", data={"method": "direct"}, files={"file": ("big.mp4", b"x" * 1001, "video/mp4")}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "video_filesize_too_large"
    assert api.get("/assets").json()["data"] == []
