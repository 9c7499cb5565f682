"""Multipart uploads: sessions, presigned chunk PUTs, reports, status, more URLs, expiry."""

from __future__ import annotations

import hashlib
import time
from typing import Any

import httpx
import pytest

from airflow_provider_twelvelabs.testing.emulator import EmulatorConfig, RunningEmulator
from tests.unit.emulator.conftest import spec_checked

CHUNK = 1024  # the emulator_config fixture's chunk size


def create(api: httpx.Client, total_size: int, **extra: Any) -> dict[str, Any]:
    body = {"filename": "big.mp4", "type": "video", "total_size": total_size, **extra}
    result: dict[str, Any] = spec_checked(api.post("/assets/multipart-uploads", json=body), 201)
    return result


def urls_for(api: httpx.Client, upload_id: str, start: int, count: int) -> dict[int, str]:
    body = spec_checked(
        api.post(
            f"/assets/multipart-uploads/{upload_id}/presigned-urls", json={"start": start, "count": count}
        ),
        200,
    )
    return {u["chunk_index"]: u["url"] for u in body["upload_urls"]}


def put(url: str, data: bytes) -> httpx.Response:
    return httpx.put(url, content=data, headers={"Content-Type": "application/octet-stream"})


def report(api: httpx.Client, upload_id: str, items: list[tuple[int, str, int]]) -> httpx.Response:
    chunks = [
        {"chunk_index": i, "proof": etag, "proof_type": "etag", "chunk_size": size} for i, etag, size in items
    ]
    return api.post(f"/assets/multipart-uploads/{upload_id}", json={"completed_chunks": chunks})


def test_create_session_reserves_a_processing_multipart_asset_and_gives_the_first_k_urls(
    api: httpx.Client,
) -> None:
    session = create(api, 5 * CHUNK + 10)
    assert session["chunk_size"] == CHUNK
    assert session["total_chunks"] == 6
    assert [u["chunk_index"] for u in session["upload_urls"]] == [1, 2]
    assert all(u["url"].startswith("http://127.0.0.1") and "sig=" in u["url"] for u in session["upload_urls"])
    assert session["upload_headers"] == {"Content-Type": "application/octet-stream"}
    assert session["expires_at"].endswith("Z")
    asset = api.get(f"/assets/{session['asset_id']}").json()
    assert asset["status"] == "processing" and asset["method"] == "multipart"
    # enable_hls and enable_thumbnail default to false for multipart uploads.
    assert "hls" not in asset and "thumbnail" not in asset


def test_chunk_size_grows_so_that_a_session_never_needs_too_many_chunks(
    api: httpx.Client, emulator: RunningEmulator
) -> None:
    emulator.config.update({"max_chunks": 10})
    session = create(api, 100 * CHUNK)
    assert session["total_chunks"] <= 10
    assert session["chunk_size"] * session["total_chunks"] >= 100 * CHUNK


@pytest.mark.parametrize(
    "body",
    [
        {"type": "video", "total_size": 10},
        {"filename": "", "type": "video", "total_size": 10},
        {"filename": "a.mp4", "type": "document", "total_size": 10},
        {"filename": "a.mp4", "type": "video", "total_size": 0},
        {"filename": "a.mp4", "type": "video", "total_size": "10"},
        {"filename": "a.jpg", "type": "image", "total_size": 33_000_000},
        {"filename": "a.mp4", "type": "video", "total_size": 10_000_000_001},
    ],
)
def test_create_session_validates_its_body(api: httpx.Client, body: dict[str, Any]) -> None:
    response = api.post("/assets/multipart-uploads", json=body)
    assert spec_checked(response, 400)["code"] in ("parameter_invalid", "video_filesize_too_large")


def test_full_upload_flow_reports_url_only_when_complete_then_asset_becomes_ready(
    api: httpx.Client, raw: httpx.Client
) -> None:
    data = bytes(range(256)) * 10  # 2560 bytes: chunks of 1024, 1024, 512
    session = create(api, len(data))
    upload_id = session["upload_id"]
    urls = {u["chunk_index"]: u["url"] for u in session["upload_urls"]} | urls_for(api, upload_id, 3, 1)
    etags = {}
    for index in (3, 1, 2):  # any order
        piece = data[(index - 1) * CHUNK : index * CHUNK]
        response = put(urls[index], piece)
        assert response.status_code == 200
        assert response.headers["ETag"] == f'"{hashlib.md5(piece).hexdigest()}"'
        etags[index] = (response.headers["ETag"], len(piece))
    first = spec_checked(report(api, upload_id, [(1, *etags[1]), (3, *etags[3])]), 200)
    assert first == {
        "asset_id": session["asset_id"],
        "processed_chunks": 2,
        "duplicate_chunks": 0,
        "total_completed": 2,
    }
    # ETags may be reported with or without their quotes; re-reporting counts as a duplicate.
    second = spec_checked(report(api, upload_id, [(1, etags[1][0].strip('"'), CHUNK), (2, *etags[2])]), 200)
    assert (
        second["processed_chunks"] == 1 and second["duplicate_chunks"] == 1 and second["total_completed"] == 3
    )
    assert second["url"].startswith("http://")
    assert httpx.get(second["url"]).content == data
    status = spec_checked(api.get(f"/assets/multipart-uploads/{upload_id}"), 200)
    assert status["status"] == "completed"
    # Completed is not ready: the asset is processed on a later read.
    assert api.get(f"/assets/{session['asset_id']}").json()["status"] == "processing"
    ready = api.get(f"/assets/{session['asset_id']}").json()
    assert ready["status"] == "ready" and ready["size"] == len(data)
    assert raw.get(f"/_emulator/assets/{session['asset_id']}").json()["md5"] == hashlib.md5(data).hexdigest()
    listed = spec_checked(api.get("/assets/multipart-uploads"), 200)
    assert listed["data"] == []


def test_report_validates_items_and_changes_nothing_on_error(api: httpx.Client) -> None:
    session = create(api, 2 * CHUNK)
    upload_id = session["upload_id"]
    etag = put(session["upload_urls"][0]["url"], b"a" * CHUNK).headers["ETag"]
    cases = [
        [(1, '"0000"', CHUNK)],  # wrong etag
        [(2, etag, CHUNK)],  # chunk 2 never uploaded
        [(1, etag, CHUNK - 1)],  # wrong size
        [(3, etag, CHUNK)],  # out of range
        [(1, etag, CHUNK), (2, etag, CHUNK)],  # one bad item rejects the whole report
    ]
    for items in cases:
        assert spec_checked(report(api, upload_id, items), 400)["code"] == "parameter_invalid"
    empty = api.post(f"/assets/multipart-uploads/{upload_id}", json={"completed_chunks": []})
    assert empty.status_code == 400
    missing = api.post(
        f"/assets/multipart-uploads/{upload_id}", json={"completed_chunks": [{"chunk_index": 1}]}
    )
    assert missing.json()["code"] == "parameter_not_provided"
    too_many = [(1, etag, CHUNK)] * 51
    assert report(api, upload_id, too_many).status_code == 400
    status = api.get(f"/assets/multipart-uploads/{upload_id}").json()
    assert status["chunks_completed"] == 0


def test_status_pages_through_every_chunk_with_counts_and_sizes(api: httpx.Client) -> None:
    session = create(api, 5 * CHUNK)
    upload_id = session["upload_id"]
    urls = urls_for(api, upload_id, 1, 5)
    etag = put(urls[1], b"x" * CHUNK).headers["ETag"]
    put(urls[2], b"y" * CHUNK)  # uploaded but not reported: still pending
    report(api, upload_id, [(1, etag, CHUNK)])
    page1 = spec_checked(api.get(f"/assets/multipart-uploads/{upload_id}", params={"page_limit": 2}), 200)
    assert page1["status"] == "active"
    assert [c["index"] for c in page1["uploaded_chunks"]] == [1, 2]
    assert page1["uploaded_chunks"][0]["status"] == "completed" and page1["uploaded_chunks"][0]["uploaded_at"]
    assert (
        page1["uploaded_chunks"][1]["status"] == "pending"
        and "uploaded_at" not in page1["uploaded_chunks"][1]
    )
    assert page1["page_info"] == {"page": 1, "limit_per_page": 2, "total_page": 3, "total_results": 5}
    assert (page1["chunks_completed"], page1["chunks_failed"], page1["chunks_pending"]) == (1, 0, 4)
    assert page1["total_size"] == 5 * CHUNK and page1["uploaded_size"] == CHUNK
    page3 = api.get(f"/assets/multipart-uploads/{upload_id}", params={"page": 3, "page_limit": 2}).json()
    assert [c["index"] for c in page3["uploaded_chunks"]] == [5]
    assert (
        api.get(f"/assets/multipart-uploads/{upload_id}", params={"page": 9}).json()["uploaded_chunks"] == []
    )


def test_presigned_urls_count_is_limited_to_50(api: httpx.Client) -> None:
    session = create(api, 200 * CHUNK)
    upload_id = session["upload_id"]
    assert len(urls_for(api, upload_id, 1, 50)) == 50
    for body in (
        {"start": 1, "count": 51},
        {"start": 0, "count": 1},
        {"start": 1, "count": 0},
        {"start": 201, "count": 1},
        {},
    ):
        response = api.post(f"/assets/multipart-uploads/{upload_id}/presigned-urls", json=body)
        assert spec_checked(response, 400)["code"] == "parameter_invalid"
    tail = urls_for(api, upload_id, 190, 50)
    assert sorted(tail) == list(range(190, 201))


def test_unknown_upload_is_404(api: httpx.Client) -> None:
    for response in (
        api.get("/assets/multipart-uploads/0123456789abcdef01234567"),
        api.post("/assets/multipart-uploads/0123456789abcdef01234567", json={"completed_chunks": []}),
        api.post(
            "/assets/multipart-uploads/0123456789abcdef01234567/presigned-urls", json={"start": 1, "count": 1}
        ),
    ):
        assert response.status_code == 404 and response.json()["code"] == "resource_not_exist"


def test_list_incomplete_sessions(api: httpx.Client) -> None:
    first = create(api, 3 * CHUNK)
    second = create(api, 2 * CHUNK)
    body = spec_checked(api.get("/assets/multipart-uploads", params={"page_limit": 1}), 200)
    assert [s["upload_id"] for s in body["data"]] == [second["upload_id"]]
    assert body["page_info"]["total_results"] == 2
    item = body["data"][0]
    assert item["status"] == "active" and item["total_chunks"] == 2 and item["chunk_size"] == CHUNK
    assert (
        api.get("/assets/multipart-uploads", params={"page": 2, "page_limit": 1}).json()["data"][0][
            "upload_id"
        ]
        == (first["upload_id"])
    )


def test_presigned_put_checks_signature_and_size(api: httpx.Client) -> None:
    session = create(api, CHUNK + 100)
    url = session["upload_urls"][0]["url"]
    tampered = url.replace("/1?", "/2?")
    response = put(tampered, b"x" * 100)
    assert response.status_code == 403 and b"SignatureDoesNotMatch" in response.content
    assert put(url.split("?")[0], b"x").status_code == 403
    too_short = put(url, b"x" * 10)
    assert too_short.status_code == 400 and b"IncompleteBody" in too_short.content
    too_long = put(url, b"x" * (CHUNK + 1))
    assert too_long.status_code == 400 and b"EntityTooLarge" in too_long.content
    last = put(session["upload_urls"][1]["url"], b"z" * 100)  # the last chunk is the remainder
    assert last.status_code == 200
    failed = api.get(f"/assets/multipart-uploads/{session['upload_id']}").json()
    assert failed["chunks_failed"] == 1 and failed["uploaded_chunks"][0]["status"] == "failed"
    assert failed["uploaded_chunks"][0]["error"]


def test_presigned_put_needs_no_api_key_and_is_not_rate_limited(
    api: httpx.Client, emulator: RunningEmulator
) -> None:
    session = create(api, CHUNK)
    emulator.config.update({"rate_limit_rpm": 1, "fault_rate": 1.0})
    response = put(session["upload_urls"][0]["url"], b"q" * CHUNK)
    assert response.status_code == 200


def test_presigned_urls_expire(api: httpx.Client, raw: httpx.Client, emulator: RunningEmulator) -> None:
    emulator.config.update({"presigned_url_ttl_seconds": 60})
    session = create(api, 2 * CHUNK)
    assert raw.post("/_emulator/advance", json={"seconds": 61}).status_code == 200
    expired = put(session["upload_urls"][0]["url"], b"x" * CHUNK)
    assert expired.status_code == 403 and b"Request has expired" in expired.content
    fresh = urls_for(api, session["upload_id"], 1, 1)
    assert put(fresh[1], b"x" * CHUNK).status_code == 200


def test_session_expires_after_24_hours(api: httpx.Client, raw: httpx.Client) -> None:
    session = create(api, 2 * CHUNK)
    raw.post("/_emulator/advance", json={"seconds": 24 * 3600 + 1})
    status = spec_checked(api.get(f"/assets/multipart-uploads/{session['upload_id']}"), 200)
    assert status["status"] == "expired"
    assert api.get("/assets/multipart-uploads").json()["data"] == []
    response = api.post(
        f"/assets/multipart-uploads/{session['upload_id']}/presigned-urls", json={"start": 1, "count": 1}
    )
    assert response.status_code == 400
    assert put(session["upload_urls"][0]["url"], b"x" * CHUNK).status_code in (403, 404)


@pytest.mark.parametrize(
    "emulator_config", [EmulatorConfig(chunk_size=CHUNK, reject_reused_presigned_urls=True)]
)
def test_reused_urls_are_rejected_when_switched_on(api: httpx.Client) -> None:
    session = create(api, 2 * CHUNK)
    url = session["upload_urls"][0]["url"]
    assert put(url, b"x" * CHUNK).status_code == 200
    again = put(url, b"x" * CHUNK)
    assert again.status_code == 403 and b"already been used" in again.content


def test_reused_urls_are_accepted_by_default_as_the_sdk_retries_on_them(api: httpx.Client) -> None:
    session = create(api, 2 * CHUNK)
    url = session["upload_urls"][0]["url"]
    assert put(url, b"x" * CHUNK).status_code == 200
    assert put(url, b"x" * CHUNK).status_code == 200


@pytest.mark.parametrize("emulator_config", [EmulatorConfig(chunk_size=CHUNK, early_expiry_rate=1.0)])
def test_early_expiry_fault_expires_urls_before_their_expires_at(api: httpx.Client) -> None:
    session = create(api, CHUNK)
    response = put(session["upload_urls"][0]["url"], b"x" * CHUNK)
    assert response.status_code == 403 and b"expired" in response.content


@pytest.mark.parametrize("emulator_config", [EmulatorConfig(chunk_size=CHUNK, chunk_failure_rate=1.0)])
def test_chunk_failure_fault_answers_500_and_marks_the_chunk_failed(api: httpx.Client) -> None:
    session = create(api, CHUNK)
    response = put(session["upload_urls"][0]["url"], b"x" * CHUNK)
    assert response.status_code == 500 and "ETag" not in response.headers
    status = api.get(f"/assets/multipart-uploads/{session['upload_id']}").json()
    assert status["chunks_failed"] == 1


@pytest.mark.parametrize(
    "emulator_config", [EmulatorConfig(chunk_size=400_000, chunk_latency_ms=200, chunk_bandwidth_mbps=1.0)]
)
def test_chunk_latency_and_bandwidth_slow_down_chunk_puts(api: httpx.Client) -> None:
    session = create(api, 400_000)
    started = time.monotonic()
    response = put(session["upload_urls"][0]["url"], b"x" * 400_000)
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    # 200 ms latency plus 400 kB at 1 MB/s = 0.6 s.
    assert elapsed >= 0.55, elapsed
