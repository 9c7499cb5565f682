"""Embed v2 and v1 endpoints of the emulator, over real HTTP, validated against the OpenAPI spec."""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from airflow_provider_twelvelabs.testing.emulator.server import RunningEmulator, serve_emulator
from tests.integration.compute_support import (
    api_client,
    assert_flat_error,
    assert_nested_error,
    check,
    ready_asset,
    unit_norm,
)
from tests.openapi import validate_response

pytestmark = pytest.mark.integration

VIDEO_33S = "https://media.example.com/clip.mp4?duration=33"


@pytest.fixture
def emulator(twelvelabs_emulator: RunningEmulator) -> RunningEmulator:
    return twelvelabs_emulator


@pytest.fixture
def client(emulator: RunningEmulator) -> Iterator[httpx.Client]:
    with api_client(emulator) as c:
        yield c


def embed(client: httpx.Client, **body: Any) -> httpx.Response:
    return client.post("/embed-v2", json={"model_name": "marengo3.0", **body})


def video_request(url: str = VIDEO_33S, **video: Any) -> dict[str, Any]:
    return {"input_type": "video", "video": {"media_source": {"url": url}, **video}}


# --------------------------------------------------------------------------------------------------
# POST /embed-v2
# --------------------------------------------------------------------------------------------------


def test_text_embedding(client: httpx.Client) -> None:
    body = check(embed(client, input_type="text", text={"input_text": "a man walking a dog"}))
    assert "metadata" not in body  # text has no metadata
    (item,) = body["data"]
    assert len(item["embedding"]) == 512
    assert unit_norm(item["embedding"])
    assert item["embedding_option"] is None and item["embedding_scope"] is None
    assert item["start_sec"] is None and item["end_sec"] is None
    again = check(embed(client, input_type="text", text={"input_text": "a man walking a dog"}))
    other = check(embed(client, input_type="text", text={"input_text": "a cat on a sofa"}))
    assert again["data"][0]["embedding"] == item["embedding"]
    assert other["data"][0]["embedding"] != item["embedding"]


def test_image_by_url_base64_and_asset(client: httpx.Client) -> None:
    by_url = check(
        embed(client, input_type="image", image={"media_source": {"url": "https://x.test/dog.jpg"}})
    )
    assert by_url["metadata"] == {
        "input_type": "image",
        "input_url": "https://x.test/dog.jpg",
        "input_filename": "dog.jpg",
    }
    assert len(by_url["data"]) == 1 and by_url["data"][0]["embedding_scope"] is None
    b64 = base64.b64encode(b"\x89PNG fake image bytes").decode()
    by_b64 = check(embed(client, input_type="image", image={"media_source": {"base64_string": b64}}))
    assert by_b64["metadata"] == {"input_type": "image"}
    assert by_b64["data"][0]["embedding"] != by_url["data"][0]["embedding"]
    asset_id = ready_asset(client, "https://x.test/photo.jpg")
    by_asset = check(embed(client, input_type="image", image={"media_source": {"asset_id": asset_id}}))
    assert by_asset["metadata"]["input_filename"] == "photo.jpg"


def test_text_image_embedding(client: httpx.Client) -> None:
    body = check(
        embed(
            client,
            input_type="text_image",
            text_image={"media_source": {"url": "https://x.test/car.jpg"}, "input_text": "red"},
        )
    )
    assert body["metadata"]["input_type"] == "text_image"
    blue = check(
        embed(
            client,
            input_type="text_image",
            text_image={"media_source": {"url": "https://x.test/car.jpg"}, "input_text": "blue"},
        )
    )
    assert blue["data"][0]["embedding"] != body["data"][0]["embedding"]


def test_audio_fixed_segments_options_and_scopes(client: httpx.Client) -> None:
    body = check(
        embed(
            client,
            input_type="audio",
            audio={
                "media_source": {"url": "https://x.test/talk.wav?duration=14"},
                "segmentation": {"strategy": "fixed", "fixed": {"duration_sec": 5}},
                "embedding_option": ["audio", "transcription"],
                "embedding_scope": ["clip", "asset"],
            },
        )
    )
    spans = [
        (d["embedding_option"], d["embedding_scope"], d["start_sec"], d["end_sec"]) for d in body["data"]
    ]
    assert spans == [
        ("audio", "clip", 0.0, 5.0),
        ("transcription", "clip", 0.0, 5.0),
        ("audio", "clip", 5.0, 10.0),
        ("transcription", "clip", 5.0, 10.0),
        ("audio", "clip", 10.0, 14.0),
        ("transcription", "clip", 10.0, 14.0),
        ("audio", "asset", 0.0, 14.0),
        ("transcription", "asset", 0.0, 14.0),
    ]
    meta = body["metadata"]
    assert meta["input_type"] == "audio" and meta["duration"] == 14.0
    assert meta["embedding_options"] == ["audio", "transcription"]
    assert meta["embedding_scopes"] == ["clip", "asset"]
    assert "clip_length" not in meta  # only video reports a clip length


def test_video_defaults(client: httpx.Client) -> None:
    body = check(embed(client, **video_request()))
    meta = body["metadata"]
    assert meta["embedding_options"] == ["visual", "audio", "transcription"]
    assert meta["embedding_scopes"] == ["clip", "asset"]
    assert "clip_length" not in meta  # default segmentation is dynamic
    clips = [d for d in body["data"] if d["embedding_scope"] == "clip"]
    assets = [d for d in body["data"] if d["embedding_scope"] == "asset"]
    assert {d["embedding_option"] for d in assets} == {"visual", "audio", "transcription"}
    assert all(d["start_sec"] == 0.0 and d["end_sec"] == 33.0 for d in assets)
    visual = [d for d in clips if d["embedding_option"] == "visual"]
    assert all(d["end_sec"] - d["start_sec"] >= 4 - 1e-9 for d in visual)  # dynamic minimum 4 s
    assert visual[0]["start_sec"] == 0.0 and visual[-1]["end_sec"] == 33.0


def test_video_fixed_segmentation_with_offsets(client: httpx.Client) -> None:
    body = check(
        embed(
            client,
            **video_request(
                start_sec=3,
                end_sec=20,
                segmentation={"strategy": "fixed", "fixed": {"duration_sec": 6}},
                embedding_option=["visual"],
                embedding_scope=["clip"],
            ),
        )
    )
    assert [(d["start_sec"], d["end_sec"]) for d in body["data"]] == [(3.0, 9.0), (9.0, 15.0), (15.0, 20.0)]
    assert body["metadata"]["clip_length"] == 6
    assert body["metadata"]["start_offset_sec"] == 3.0 and body["metadata"]["end_offset_sec"] == 20.0
    assert body["metadata"]["duration"] == 33.0


@pytest.mark.parametrize("minimum", [2, 5])
def test_video_dynamic_segmentation_minimum(client: httpx.Client, minimum: int) -> None:
    body = check(
        embed(
            client,
            **video_request(
                "https://x.test/long.mp4?duration=300",
                segmentation={"strategy": "dynamic", "dynamic": {"min_duration_sec": minimum}},
                embedding_option=["visual"],
                embedding_scope=["clip"],
            ),
        )
    )
    lengths = [d["end_sec"] - d["start_sec"] for d in body["data"]]
    assert min(lengths) >= minimum - 1e-9
    assert len({round(x, 2) for x in lengths}) > 1  # scene cuts, not a fixed grid


def test_video_fused_embedding(client: httpx.Client) -> None:
    response = embed(
        client,
        **video_request(
            embedding_option=["visual", "audio"],
            embedding_scope=["asset"],
            embedding_type=["separate_embedding", "fused_embedding"],
        ),
    )
    assert response.status_code == 200
    # "fused" is newer than the OpenAPI file's enum (SDK 1.3.6 has it), so no schema check here.
    assert [d["embedding_option"] for d in response.json()["data"]] == ["visual", "audio", "fused"]


def test_video_from_ready_asset_uses_asset_duration(client: httpx.Client, emulator: RunningEmulator) -> None:
    asset_id = ready_asset(client, "https://x.test/holiday.mp4")
    duration = emulator.state.get_asset(asset_id).duration  # type: ignore[union-attr]
    body = check(
        embed(
            client,
            input_type="video",
            video={"media_source": {"asset_id": asset_id}, "embedding_scope": ["asset"]},
        )
    )
    assert body["metadata"]["duration"] == duration
    assert body["metadata"]["input_filename"] == "holiday.mp4"


def test_marengo35_multi_input_dimension_prefix(client: httpx.Client) -> None:
    def run(dimension: int | None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "input_type": "multi_input",
            "model_name": "marengo3.5",
            "multi_input": {
                "input_text": "the <@car> in red",
                "media_sources": [{"name": "car", "media_type": "image", "url": "https://x.test/car.jpg"}],
            },
        }
        if dimension is not None:
            body["embedding_dimension"] = dimension
        response = client.post("/embed-v2", json=body)
        assert response.status_code == 200, response.text
        return response.json()

    full = run(None)
    short = run(256)
    assert len(full["data"][0]["embedding"]) == 512
    assert short["data"][0]["embedding"] == full["data"][0]["embedding"][:256]
    assert short["metadata"] == {"input_type": "multi_input", "embedding_dimension": 256}
    assert full["usage"]["input_tokens"]["text"] > 0 and full["usage"]["truncated"] is False


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"model_name": "marengo3.0"}, "parameter_not_provided", "input_type"),
        ({"input_type": "hologram", "model_name": "marengo3.0"}, "parameter_invalid", "input_type"),
        (
            {"input_type": "text", "model_name": "marengo9", "text": {"input_text": "x"}},
            "parameter_invalid",
            "model_name",
        ),
        (
            {"input_type": "text", "model_name": "marengo3.5", "text": {"input_text": "x"}},
            "parameter_invalid",
            "input_type",
        ),
        (
            {
                "input_type": "text",
                "model_name": "marengo3.0",
                "text": {"input_text": "x"},
                "embedding_dimension": 256,
            },
            "parameter_invalid",
            "embedding_dimension",
        ),
        ({"input_type": "text", "model_name": "marengo3.0"}, "parameter_not_provided", "text"),
        (
            {"input_type": "text", "model_name": "marengo3.0", "text": {"input_text": ""}},
            "parameter_invalid",
            "text.input_text",
        ),
        (
            {"input_type": "text", "model_name": "marengo3.0", "text": {"input_text": "x"}, "surprise": 1},
            "parameter_invalid",
            "surprise",
        ),
        (
            {
                "model_name": "marengo3.0",
                **video_request(segmentation={"strategy": "fixed", "fixed": {"duration_sec": 11}}),
            },
            "parameter_invalid",
            "video.segmentation.fixed.duration_sec",
        ),
        (
            {
                "model_name": "marengo3.0",
                **video_request(segmentation={"strategy": "dynamic", "dynamic": {"min_duration_sec": 1}}),
            },
            "parameter_invalid",
            "video.segmentation.dynamic.min_duration_sec",
        ),
        (
            {
                "input_type": "audio",
                "model_name": "marengo3.0",
                "audio": {
                    "media_source": {"url": "https://x.test/a.wav"},
                    "segmentation": {"strategy": "dynamic", "dynamic": {"min_duration_sec": 3}},
                },
            },
            "parameter_invalid",
            "audio.segmentation.strategy",
        ),
        (
            {"model_name": "marengo3.0", **video_request(start_sec=10, end_sec=5)},
            "parameter_invalid",
            "video.end_sec",
        ),
        ({"model_name": "marengo3.0", **video_request(start_sec=40)}, "parameter_invalid", "video.start_sec"),
        ({"model_name": "marengo3.0", **video_request(end_sec=40)}, "parameter_invalid", "video.end_sec"),
        (
            {"model_name": "marengo3.0", **video_request(embedding_option=["visual", "smell"])},
            "parameter_invalid",
            "video.embedding_option",
        ),
        (
            {"model_name": "marengo3.0", **video_request(embedding_scope=["clip", "clip"])},
            "parameter_invalid",
            "video.embedding_scope",
        ),
        (
            {
                "input_type": "image",
                "model_name": "marengo3.0",
                "image": {"media_source": {"url": "https://x.test/a.jpg", "asset_id": "abc"}},
            },
            "parameter_invalid",
            "image.media_source",
        ),
        (
            {
                "input_type": "image",
                "model_name": "marengo3.0",
                "image": {"media_source": {"base64_string": "@@@"}},
            },
            "parameter_invalid",
            "image.media_source.base64_string",
        ),
        (
            {
                "input_type": "image",
                "model_name": "marengo3.0",
                "image": {"media_source": {"url": "ftp://x/a.jpg"}},
            },
            "parameter_invalid",
            "image.media_source.url",
        ),
        (
            {"model_name": "marengo3.0", **video_request("https://x.test/broken_fail.mp4")},
            "parameter_invalid",
            "video.media_source",
        ),
    ],
)
def test_embed_validation_errors(client: httpx.Client, body: dict[str, Any], code: str, field: str) -> None:
    error = assert_nested_error(client.post("/embed-v2", json=body), 400, code)
    assert error["details"]["field"] == field


def test_embed_sync_duration_limit(client: httpx.Client) -> None:
    error = assert_nested_error(
        embed(client, **video_request("https://x.test/movie.mp4?duration=601")),
        400,
        "video_duration_too_long",
    )
    assert "/embed-v2/tasks" in error["message"]
    check(embed(client, **video_request("https://x.test/movie.mp4?duration=600", embedding_scope=["asset"])))


def test_embed_asset_must_exist_and_be_ready(client: httpx.Client, emulator: RunningEmulator) -> None:
    assert_nested_error(
        embed(client, input_type="video", video={"media_source": {"asset_id": "0" * 24}}),
        400,
        "resource_not_exist",
    )
    response = client.post(
        "/assets", files={"method": (None, "url"), "url": (None, "https://x.test/new.mp4")}
    )
    asset_id = response.json()["_id"]  # not polled: still processing
    error = assert_nested_error(
        embed(client, input_type="video", video={"media_source": {"asset_id": asset_id}}),
        400,
        "parameter_invalid",
    )
    assert "not ready" in error["message"]
    image_id = ready_asset(client, "https://x.test/still.png")
    assert_nested_error(
        embed(client, input_type="video", video={"media_source": {"asset_id": image_id}}),
        400,
        "parameter_invalid",
    )


def test_embed_requires_api_key(emulator: RunningEmulator) -> None:
    response = httpx.post(
        f"{emulator.base_url}/embed-v2",
        json={"input_type": "text", "model_name": "marengo3.0", "text": {"input_text": "x"}},
        headers={"x-api-key": "wrong"},
    )
    assert response.status_code == 401
    assert response.json()["code"] == "api_key_invalid"


def test_embed_rate_limited_with_nested_429(client: httpx.Client, emulator: RunningEmulator) -> None:
    emulator.config.rate_limits = {"embed": 1}
    check(embed(client, input_type="text", text={"input_text": "one"}))
    response = embed(client, input_type="text", text={"input_text": "two"})
    assert_nested_error(response, 429, "too_many_requests")
    assert int(response.headers["Retry-After"]) >= 1


# --------------------------------------------------------------------------------------------------
# /embed-v2/tasks
# --------------------------------------------------------------------------------------------------


def create_task(client: httpx.Client, url: str = VIDEO_33S, **video: Any) -> httpx.Response:
    return client.post("/embed-v2/tasks", json={"model_name": "marengo3.0", **video_request(url, **video)})


def poll_task(client: httpx.Client, task_id: str, *, validate: bool = True) -> dict[str, Any]:
    for _ in range(10):
        response = client.get(f"/embed-v2/tasks/{task_id}")
        # A failed task carries error.message (SDK 1.3.6); the OpenAPI file predates it.
        body = check(response, sdk_only=("error",)) if validate else response.json()
        if body["status"] != "processing":
            return body
        assert body["data"] is None
    raise AssertionError("task never finished")


def test_task_lifecycle_to_ready(client: httpx.Client) -> None:
    response = create_task(client, segmentation={"strategy": "fixed", "fixed": {"duration_sec": 10}})
    created = check(response, 202)
    assert created == {"_id": created["_id"], "status": "processing", "data": None}
    task_id = created["_id"]
    assert response.headers["Location"].endswith(f"/v1.3/embed-v2/tasks/{task_id}")
    first = check(client.get(response.headers["Location"]))
    assert first["status"] == "processing" and first["data"] is None
    done = poll_task(client, task_id)
    assert done["status"] == "ready"
    assert "error" not in done
    assert done["metadata"]["clip_length"] == 10
    clips = [(d["start_sec"], d["end_sec"]) for d in done["data"] if d["embedding_option"] == "visual"]
    assert clips == [(0.0, 10.0), (10.0, 20.0), (20.0, 30.0), (30.0, 33.0), (0.0, 33.0)]
    assert done["created_at"] <= done["updated_at"]


def test_task_fails_for_fail_marker(client: httpx.Client) -> None:
    task_id = check(create_task(client, "https://x.test/fail_embed.mp4"), 202)["_id"]
    done = poll_task(client, task_id)
    assert done["status"] == "failed"
    assert done["data"] is None
    assert done["error"]["message"]


def test_task_duration_limits(client: httpx.Client) -> None:
    assert_nested_error(
        create_task(client, "https://x.test/a.mp4?duration=3"), 400, "video_duration_too_short"
    )
    assert_nested_error(
        create_task(client, "https://x.test/a.mp4?duration=14401"), 400, "video_duration_too_long"
    )
    # Text is synchronous only.
    response = client.post(
        "/embed-v2/tasks",
        json={"input_type": "text", "model_name": "marengo3.0", "text": {"input_text": "x"}},
    )
    assert_nested_error(response, 400, "parameter_invalid")


def test_unknown_task_is_nested_404(client: httpx.Client) -> None:
    assert_nested_error(client.get("/embed-v2/tasks/" + "f" * 24), 404, "resource_not_exist")


def test_four_hour_video_results_are_complete(client: httpx.Client) -> None:
    task_id = check(
        create_task(
            client,
            "https://x.test/conference.mp4?duration=14400",
            segmentation={"strategy": "fixed", "fixed": {"duration_sec": 6}},
            embedding_scope=["clip"],
        ),
        202,
    )["_id"]
    client.get(f"/embed-v2/tasks/{task_id}")
    response = client.get(f"/embed-v2/tasks/{task_id}")
    body = response.json()
    assert body["status"] == "ready"
    assert len(body["data"]) == 2400 * 3
    assert all(len(d["embedding"]) == 512 for d in body["data"][::2400])


def test_task_list_filters_and_pages(client: httpx.Client) -> None:
    ids = [check(create_task(client, f"https://x.test/v{i}.mp4"), 202)["_id"] for i in range(3)]
    failing = check(create_task(client, "https://x.test/fail-embed.mp4"), 202)["_id"]
    poll_task(client, ids[0])
    poll_task(client, failing)
    listing = check(client.get("/embed-v2/tasks", params={"page_limit": 2}))
    assert listing["page_info"] == {"page": 1, "limit_per_page": 2, "total_page": 2, "total_results": 4}
    assert [t["_id"] for t in listing["data"]] == [failing, ids[2]]  # newest first
    item = listing["data"][1]
    assert "data" not in item and "embedding" not in json.dumps(item).replace("_embedding", "")
    assert item["video_embedding"]["metadata"]["duration"] > 0
    second = check(client.get("/embed-v2/tasks", params={"page_limit": 2, "page": 2}))
    assert [t["_id"] for t in second["data"]] == [ids[1], ids[0]]
    past = check(client.get("/embed-v2/tasks", params={"page_limit": 2, "page": 3}))
    assert past["data"] == []
    failed = check(client.get("/embed-v2/tasks", params={"status": "failed"}))
    assert [t["_id"] for t in failed["data"]] == [failing]
    window = check(client.get("/embed-v2/tasks", params={"ended_at": "2000-01-01T00:00:00Z"}))
    assert window["data"] == []
    assert_flat_error(client.get("/embed-v2/tasks", params={"status": "done"}), 400, "parameter_invalid")
    assert_flat_error(
        client.get("/embed-v2/tasks", params={"started_at": "yesterday"}), 400, "parameter_invalid"
    )


def test_audio_task_list_item(client: httpx.Client) -> None:
    response = client.post(
        "/embed-v2/tasks",
        json={
            "input_type": "audio",
            "model_name": "marengo3.0",
            "audio": {"media_source": {"url": "https://x.test/pod.mp3?duration=90"}, "start_sec": 30},
        },
    )
    check(response, 202)
    item = check(client.get("/embed-v2/tasks"))["data"][0]
    meta = item["audio_embedding"]["metadata"]
    assert meta["audio_embedding_option"] == ["audio", "transcription"]
    assert meta["start_offset_sec"] == 30.0 and meta["end_offset_sec"] == 90.0


# --------------------------------------------------------------------------------------------------
# Embed v1
# --------------------------------------------------------------------------------------------------


def form(**fields: Any) -> list[tuple[str, tuple[None, str]]]:
    parts: list[tuple[str, tuple[None, str]]] = []
    for name, value in fields.items():
        for item in value if isinstance(value, list) else [value]:
            parts.append((name, (None, str(item))))
    return parts


def test_v1_sync_text_image_audio(client: httpx.Client) -> None:
    response = client.post(
        "/embed",
        files=[
            *form(model_name="marengo3.0", text="a dog", audio_url="https://x.test/a.mp3?duration=13"),
            ("image_file", ("photo.jpg", b"jpeg bytes", "image/jpeg")),
        ],
    )
    body = check(response)
    assert body["model_name"] == "marengo3.0"
    assert len(body["text_embedding"]["segments"][0]["float"]) == 512
    assert body["image_embedding"]["metadata"] == {"input_filename": "photo.jpg"}
    audio = body["audio_embedding"]["segments"]
    assert [(s["start_offset_sec"], s["end_offset_sec"]) for s in audio[::2]] == [(0, 6), (6, 12), (12, 13)]
    assert body["audio_embedding"]["metadata"] == {"input_url": "https://x.test/a.mp3?duration=13"}
    # v1 and v2 text embeddings live in the same space: same text, same vector.
    v2 = check(embed(client, input_type="text", text={"input_text": "a dog"}))
    assert v2["data"][0]["embedding"] == pytest.approx(
        body["text_embedding"]["segments"][0]["float"], abs=1e-6
    )


def test_v1_sync_errors(client: httpx.Client) -> None:
    assert_flat_error(
        client.post("/embed", files=form(model_name="marengo3.0")), 400, "parameter_not_provided"
    )
    assert_flat_error(client.post("/embed", files=form(text="x")), 400, "parameter_not_provided")
    assert_flat_error(
        client.post("/embed", files=form(model_name="nope", text="x")), 400, "parameter_invalid"
    )
    assert_flat_error(
        client.post("/embed", files=form(model_name="marengo3.0", text="x", text_truncate="middle")),
        400,
        "parameter_invalid",
    )


def poll_v1(client: httpx.Client, task_id: str) -> str:
    for _ in range(10):
        status = check(client.get(f"/embed/tasks/{task_id}/status"))["status"]
        if status != "processing":
            return str(status)
    raise AssertionError("v1 task never finished")


@pytest.mark.parametrize("scopes", [["clip", "video"], ['["clip","video"]']], ids=["repeated", "json-array"])
def test_v1_task_lifecycle_and_retrieval(client: httpx.Client, scopes: list[str]) -> None:
    created = check(
        client.post(
            "/embed/tasks",
            files=form(
                model_name="marengo3.0",
                video_url="https://x.test/a.mp4?duration=21",
                video_clip_length=5,
                video_embedding_scope=scopes,
            ),
        )
    )
    task_id = created["_id"]
    # Each read moves the lifecycle one step (default polls_per_step=1): the first read is processing.
    not_ready = check(client.get(f"/embed/tasks/{task_id}"))
    assert not_ready["status"] == "processing"
    assert "segments" not in not_ready["video_embedding"]
    assert not_ready["video_embedding"]["metadata"]["video_embedding_scope"] == ["clip", "video"]
    assert poll_v1(client, task_id) == "ready"
    body = check(client.get(f"/embed/tasks/{task_id}", params=[("embedding_option", "visual")]))
    segments = body["video_embedding"]["segments"]
    assert {s["embedding_option"] for s in segments} == {"visual"}
    # The final 1-second clip (20-21 s) is dropped: v1 truncates clips shorter than 2 s.
    assert [(s["start_offset_sec"], s["end_offset_sec"], s["embedding_scope"]) for s in segments] == [
        (0, 5, "clip"),
        (5, 10, "clip"),
        (10, 15, "clip"),
        (15, 20, "clip"),
        (0, 21, "video"),
    ]
    everything = check(client.get(f"/embed/tasks/{task_id}"))
    assert {s["embedding_option"] for s in everything["video_embedding"]["segments"]} == {
        "visual",
        "audio",
        "transcription",
    }
    listing = check(client.get("/embed/tasks"))
    assert [t["_id"] for t in listing["data"]] == [task_id]


def test_v1_task_with_file_and_failure(client: httpx.Client) -> None:
    ok = check(
        client.post(
            "/embed/tasks",
            files=[*form(model_name="marengo3.0"), ("video_file", ("clip.mp4", b"x" * 1000, "video/mp4"))],
        )
    )
    assert poll_v1(client, ok["_id"]) == "ready"
    meta = check(client.get(f"/embed/tasks/{ok['_id']}/status"))["video_embedding"]["metadata"]
    assert meta["input_filename"] == "clip.mp4" and meta["video_embedding_scope"] == ["clip"]
    bad = check(
        client.post(
            "/embed/tasks",
            files=[*form(model_name="marengo3.0"), ("video_file", ("fail.mp4", b"x" * 1000, "video/mp4"))],
        )
    )
    assert poll_v1(client, bad["_id"]) == "failed"


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({}, "parameter_not_provided"),
        ({"video_clip_length": 11}, "parameter_invalid"),
        ({"video_clip_length": 1}, "parameter_invalid"),
        ({"video_start_offset_sec": 2}, "parameter_invalid"),
        ({"video_start_offset_sec": 10, "video_end_offset_sec": 5}, "parameter_invalid"),
        ({"video_start_offset_sec": 0, "video_end_offset_sec": 4}, "parameter_invalid"),
        ({"video_start_offset_sec": 0, "video_end_offset_sec": 99}, "parameter_invalid"),
        ({"video_embedding_scope": "scene"}, "parameter_invalid"),
        ({"video_embedding_scope": "[not json"}, "parameter_invalid"),
    ],
)
def test_v1_task_validation(client: httpx.Client, fields: dict[str, Any], code: str) -> None:
    base: dict[str, Any] = {"model_name": "marengo3.0"}
    if fields:
        base["video_url"] = "https://x.test/a.mp4?duration=21"
    assert_flat_error(client.post("/embed/tasks", files=form(**base, **fields)), 400, code)


def test_v1_unknown_task_and_bad_option(client: httpx.Client) -> None:
    response = client.get("/embed/tasks/" + "a" * 24 + "/status")
    assert_flat_error(response, 404, "resource_not_exist", validate=False)  # spec documents no 404 here
    task_id = check(
        client.post("/embed/tasks", files=form(model_name="marengo3.0", video_url="https://x.test/a.mp4"))
    )["_id"]
    assert_flat_error(
        client.get(f"/embed/tasks/{task_id}", params={"embedding_option": "smell"}), 400, "parameter_invalid"
    )


def test_validate_response_rejects_a_wrong_body() -> None:
    # Guard against a validator that accepts anything: a data item without its vector must fail.
    with pytest.raises(Exception, match="schema violation"):
        validate_response("POST", "/v1.3/embed-v2", 200, {"data": [{"embedding_option": "visual"}]})


# --------------------------------------------------------------------------------------------------
# Marengo 3.5 specifics (SDK 1.3.6; newer than the OpenAPI file, so no schema checks)
# --------------------------------------------------------------------------------------------------


def marengo35_task(client: httpx.Client, **extra: Any) -> httpx.Response:
    video: dict[str, Any] = {
        "media_source": {"url": "https://x.test/m.mp4?duration=20"},
        **extra.pop("video", {}),
    }
    return client.post(
        "/embed-v2/tasks", json={"input_type": "video", "model_name": "marengo3.5", "video": video, **extra}
    )


def test_marengo35_task_with_temporal_segmentation(client: httpx.Client) -> None:
    response = marengo35_task(
        client,
        embedding_dimension=128,
        video={
            "segmentation": {"temporal": {"strategy": "fixed", "fixed": {"duration_sec": 5}}},
            "embedding_scope": ["local"],
        },
    )
    assert response.status_code == 202, response.text
    created = response.json()
    assert created["metadata"] == {"embedding_dimension": 128}
    done = poll_task(client, created["_id"], validate=False)
    assert done["status"] == "ready"
    assert {d["embedding_option"] for d in done["data"]} == {"visual", "audio"}  # the 3.5 default
    assert all(len(d["embedding"]) == 128 and d["embedding_scope"] == "clip" for d in done["data"])
    assert [d["start_sec"] for d in done["data"][::2]] == [0.0, 5.0, 10.0, 15.0]
    assert done["usage"]["input_tokens"]["video"] > 0


def test_marengo35_rejects_the_30_segmentation_shape(client: httpx.Client) -> None:
    response = marengo35_task(
        client, video={"segmentation": {"strategy": "fixed", "fixed": {"duration_sec": 5}}}
    )
    error = assert_nested_error(response, 400, "parameter_invalid")
    assert error["details"]["field"] == "video.segmentation"
    response = create_task(
        client, segmentation={"temporal": {"strategy": "fixed", "fixed": {"duration_sec": 5}}}
    )
    assert_nested_error(response, 400, "parameter_invalid")


def test_marengo35_embedding_uncertainty(client: httpx.Client) -> None:
    # The default scopes include "asset", which uncertainty does not allow.
    assert_nested_error(marengo35_task(client, embedding_uncertainty=True), 400, "parameter_invalid")
    response = marengo35_task(client, embedding_uncertainty=True, video={"embedding_scope": ["clip"]})
    done = poll_task(client, response.json()["_id"], validate=False)
    item = done["data"][0]
    assert len(item["embedding_uncertainty"]) == len(item["embedding"]) == 512
    assert all(x >= 0 for x in item["embedding_uncertainty"])
    mixed = client.post(
        "/embed-v2",
        json={
            "input_type": "multi_input",
            "model_name": "marengo3.5",
            "embedding_uncertainty": True,
            "multi_input": {
                "input_text": "a <@dog>",
                "media_sources": [{"name": "dog", "media_type": "image", "url": "https://x.test/d.jpg"}],
            },
        },
    )
    assert_nested_error(mixed, 400, "parameter_invalid")


def tiny_mp4(seconds: int) -> bytes:
    """A minimal MP4: ftyp + moov/mvhd (timescale 1000) + a little mdat."""

    def box(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", 8 + len(payload)) + kind + payload

    mvhd = box(b"mvhd", bytes(4) + bytes(8) + struct.pack(">II", 1000, seconds * 1000) + bytes(80))
    return box(b"ftyp", b"isom\x00\x00\x02\x00isom") + box(b"moov", mvhd) + box(b"mdat", b"\x00" * 64)


def test_uploaded_mp4_bytes_get_their_real_duration(client: httpx.Client) -> None:
    content = tiny_mp4(17)
    by_b64 = check(
        embed(
            client,
            input_type="video",
            video={
                "media_source": {"base64_string": base64.b64encode(content).decode()},
                "embedding_option": ["visual"],
                "embedding_scope": ["asset"],
            },
        )
    )
    assert by_b64["metadata"]["duration"] == 17.0
    task_id = check(
        client.post(
            "/embed/tasks",
            files=[
                *form(model_name="marengo3.0", video_embedding_scope=["clip", "video"]),
                ("video_file", ("tiny.mp4", content, "video/mp4")),
            ],
        )
    )["_id"]
    assert poll_v1(client, task_id) == "ready"
    result = check(client.get(f"/embed/tasks/{task_id}", params={"embedding_option": "visual"}))
    assert result["video_embedding"]["metadata"]["duration"] == 17.0
    (whole,) = [s for s in result["video_embedding"]["segments"] if s["embedding_scope"] == "video"]
    # Same bytes, same content: a v1 file upload and a v2 base64 string embed identically.
    assert whole["float"] == by_b64["data"][0]["embedding"]


def test_results_never_leak_between_emulator_instances() -> None:
    # Ids are deterministic per seed, so both instances create a task with the same id.
    seen = []
    for url in ("https://x.test/first.mp4?duration=12", "https://x.test/second.mp4?duration=12"):
        with serve_emulator() as running, api_client(running) as c:
            task_id = check(create_task(c, url, embedding_scope=["asset"]), 202)["_id"]
            body = poll_task(c, task_id)
            seen.append((task_id, body["data"][0]["embedding"], body["metadata"]["input_url"]))
    assert seen[0][0] == seen[1][0]
    assert seen[0][1] != seen[1][1]
    assert seen[1][2].startswith("https://x.test/second.mp4")
