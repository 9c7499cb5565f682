"""Analyze, summarize and gist endpoints of the emulator, over real HTTP."""

from __future__ import annotations

import base64
import itertools
import json
from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema
import pytest

from airflow_provider_twelvelabs.testing.emulator.config import EmulatorConfig
from airflow_provider_twelvelabs.testing.emulator.server import RunningEmulator
from tests.integration.compute_support import (
    api_client,
    assert_flat_error,
    check,
    create_index,
    indexed_video,
    ndjson,
    ready_asset,
    validate_component,
)

pytestmark = pytest.mark.integration

VIDEO = {"type": "url", "url": "https://media.example.com/keynote.mp4?duration=300"}


@pytest.fixture
def twelvelabs_emulator_config() -> EmulatorConfig:
    # These tests also check the retired /summarize and /gist as the API served them.
    return EmulatorConfig(summarize_gone=False, gist_gone=False)


@pytest.fixture
def emulator(twelvelabs_emulator: RunningEmulator) -> RunningEmulator:
    return twelvelabs_emulator


@pytest.fixture
def client(emulator: RunningEmulator) -> Iterator[httpx.Client]:
    with api_client(emulator) as c:
        yield c


@pytest.fixture
def video_id(client: httpx.Client) -> str:
    # Generation by video id needs an index with a Pegasus model, as on the real API.
    index_id = create_index(client, pegasus=True)
    return indexed_video(client, index_id, "https://media.example.com/lecture.mp4?duration=240")


def test_generation_on_a_marengo_only_index_is_refused(client: httpx.Client) -> None:
    marengo_only = indexed_video(client, create_index(client), "https://media.example.com/talk.mp4")
    for path, body in (
        ("/analyze", {"video_id": marengo_only, "prompt": "Summarize.", "stream": False}),
        ("/summarize", {"video_id": marengo_only, "type": "summary"}),
        ("/gist", {"video_id": marengo_only, "types": ["title"]}),
    ):
        response = client.post(path, json=body)
        assert response.status_code == 400, (path, response.text)
        assert response.json()["code"] == "index_not_supported_for_generate"
        assert marengo_only in response.json()["message"]


def analyze(client: httpx.Client, **body: Any) -> httpx.Response:
    return client.post("/analyze", json={"video": VIDEO, "prompt": "Summarise the talk", **body})


# --------------------------------------------------------------------------------------------------
# POST /analyze
# --------------------------------------------------------------------------------------------------


def test_non_stream_response_and_rate_limit_headers(client: httpx.Client) -> None:
    response = analyze(client, stream=False)
    body = check(response)
    assert set(body) == {"id", "data", "finish_reason", "usage"}
    assert body["finish_reason"] == "stop"
    assert body["usage"]["output_tokens"] > 10 and body["usage"]["input_tokens"] > 0
    assert len(body["data"]) > 100
    for name in ("X-Ratelimit-Limit", "X-Ratelimit-Remaining", "X-Ratelimit-Used", "X-Ratelimit-Reset"):
        assert int(response.headers[name]) >= 0
    again = check(analyze(client, stream=False))
    assert again["data"] == body["data"]  # deterministic content
    assert again["id"] != body["id"]  # but every generation has its own id


def test_stream_is_default_and_assembles_to_the_same_text(client: httpx.Client) -> None:
    response = analyze(client)  # no "stream" key: the server default is true
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    events = ndjson(response)
    for event in events:
        validate_component("StreamAnalyzeResponse", event)
    start, *middle, end = events
    assert start["event_type"] == "stream_start"
    assert end["event_type"] == "stream_end"
    assert {e["event_type"] for e in middle} == {"text_generation"}
    assert len(middle) > 5
    assert end["metadata"]["generation_id"] == start["metadata"]["generation_id"]
    assert end["finish_reason"] == "stop" and "error" not in end
    text = "".join(e["text"] for e in middle)
    assert text == check(analyze(client, stream=False))["data"]
    assert end["metadata"]["usage"]["output_tokens"] > 0
    # Fragments are cut mid-word somewhere, as the real stream does.
    assert any(a["text"][-1:].isalnum() and b["text"][:1].isalnum() for a, b in itertools.pairwise(middle))


def test_max_tokens_truncates_with_length_reason(client: httpx.Client) -> None:
    body = check(analyze(client, stream=False, max_tokens=7), sdk_only=("error",))
    assert body["finish_reason"] == "length"
    assert body["usage"]["output_tokens"] == 7
    assert "max_tokens" in body["error"]["message"]
    end = ndjson(analyze(client, stream=True, max_tokens=7))[-1]
    assert end["finish_reason"] == "length" and end["error"]["message"] == body["error"]["message"]


SCHEMAS: list[dict[str, Any]] = [
    {
        "type": "object",
        "properties": {
            "title": {"type": "string"},
            "summary": {"type": "string"},
            "keywords": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["title", "summary"],
    },
    {
        "type": "object",
        "properties": {
            "sentiment": {"type": "string", "enum": ["positive", "neutral", "negative"]},
            "score": {"type": "integer", "minimum": 1, "maximum": 5},
            "confidence": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
            "safe": {"type": "boolean"},
            "note": {"type": ["string", "null"]},
        },
        "required": ["sentiment", "score"],
    },
    {
        "$defs": {
            "scene": {
                "type": "object",
                "properties": {
                    "start_time": {"type": "number"},
                    "end_time": {"type": "number"},
                    "label": {"anyOf": [{"type": "string", "pattern": "^[A-Z][a-z]+$"}, {"type": "null"}]},
                    "id": {"type": "string", "format": "uuid"},
                },
                "required": ["start_time", "end_time", "label"],
            }
        },
        "type": "object",
        "properties": {"scenes": {"type": "array", "items": {"$ref": "#/$defs/scene"}, "minItems": 1}},
        "required": ["scenes"],
    },
    {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}}}},
]


@pytest.mark.parametrize("schema", SCHEMAS, ids=["summary", "scalars", "defs-ref", "array"])
@pytest.mark.parametrize("stream", [False, True])
def test_structured_output_validates_against_the_schema(
    client: httpx.Client, schema: dict, stream: bool
) -> None:
    response = analyze(client, stream=stream, response_format={"type": "json_schema", "json_schema": schema})
    text = "".join(e.get("text", "") for e in ndjson(response)) if stream else check(response)["data"]
    value = json.loads(text)  # data is a JSON *string*
    jsonschema.Draft202012Validator(schema).validate(value)
    if "scenes" in schema.get("properties", {}):
        for scene in value["scenes"]:
            assert 0 <= scene["start_time"] <= 300 and 0 <= scene["end_time"] <= 300


def test_structured_output_respects_analysis_window(client: httpx.Client) -> None:
    schema = {
        "type": "object",
        "properties": {"start_time": {"type": "number"}, "end_time": {"type": "number"}},
    }
    for seed in range(5):
        body = check(
            analyze(
                client,
                stream=False,
                prompt=f"moment {seed}",
                start_time=10,
                end_time=40,
                response_format={"type": "json_schema", "json_schema": schema},
            )
        )
        value = json.loads(body["data"])
        assert 0 <= value["start_time"] <= 30 and 0 <= value["end_time"] <= 30


@pytest.mark.parametrize(
    "source",
    ["legacy-video_id", "asset_id", "base64_string"],
)
def test_video_sources(client: httpx.Client, video_id: str, source: str) -> None:
    if source == "legacy-video_id":
        body: dict[str, Any] = {"video_id": video_id}
    elif source == "asset_id":
        body = {"video": {"type": "asset_id", "asset_id": ready_asset(client, "https://x.test/talk.mp4")}}
    else:
        body = {
            "video": {"type": "base64_string", "base64_string": base64.b64encode(b"\x00" * 5000).decode()}
        }
    result = check(client.post("/analyze", json={"prompt": "What happens?", "stream": False, **body}))
    assert result["finish_reason"] == "stop" and result["data"]


def test_images_with_pegasus16_and_prompt_v2(client: httpx.Client) -> None:
    images = [
        {"name": "before", "url": "https://x.test/a.jpg"},
        {"name": "after", "url": "https://x.test/b.jpg"},
    ]
    body = check(
        client.post(
            "/analyze",
            json={
                "model_name": "pegasus1.6",
                "image": images,
                "prompt": "Compare <@before> and <@after>",
                "stream": False,
            },
        )
    )
    assert body["data"]
    v2 = check(
        client.post(
            "/analyze",
            json={
                "video": VIDEO,
                "prompt_v2": {
                    "input_text": "Is <@logo> visible?",
                    "media_sources": [
                        {"name": "logo", "media_type": "image", "url": "https://x.test/logo.png"}
                    ],
                },
                "stream": False,
            },
        )
    )
    assert v2["data"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"video": VIDEO}, 400, "parameter_not_provided"),
        ({"prompt": "x"}, 400, "parameter_not_provided"),
        ({"video": VIDEO, "prompt": "x", "temperature": 1.5}, 400, "parameter_invalid"),
        ({"video": VIDEO, "prompt": "x", "max_tokens": 4097}, 400, "parameter_invalid"),
        ({"video": VIDEO, "prompt": "x", "max_tokens": 0}, 400, "parameter_invalid"),
        ({"video": VIDEO, "prompt": "x", "prompt_v2": {"input_text": "y"}}, 400, "parameter_invalid"),
        ({"video": VIDEO, "prompt": "word " * 2001}, 400, "token_limit_exceeded"),
        ({"video": {"type": "youtube", "url": "https://x"}, "prompt": "x"}, 400, "parameter_invalid"),
        (
            {"video": {"type": "url", "url": "https://x.test/fail.mp4"}, "prompt": "x"},
            400,
            "video_file_broken",
        ),
        (
            {"video": {"type": "url", "url": "https://x.test/long.mp4?duration=3601"}, "prompt": "x"},
            400,
            "video_duration_too_long",
        ),
        ({"video": VIDEO, "prompt": "x", "start_time": 10, "end_time": 10.5}, 400, "parameter_invalid"),
        ({"video": VIDEO, "prompt": "x", "start_time": 301}, 400, "parameter_invalid"),
        ({"video": VIDEO, "prompt": "x", "model_name": "gpt"}, 400, "parameter_invalid"),
        ({"image": [{"name": "a", "url": "https://x.test/a.jpg"}], "prompt": "x"}, 400, "parameter_invalid"),
        ({"video": VIDEO, "prompt": "x", "colour": "blue"}, 400, "parameter_unknown"),
        ({"video": {"type": "asset_id", "asset_id": "0" * 24}, "prompt": "x"}, 404, "resource_not_exist"),
        ({"video_id": "0" * 24, "prompt": "x"}, 404, "resource_not_exist"),
        ({"video": VIDEO, "prompt": "x", "response_format": {"type": "text"}}, 400, "parameter_invalid"),
        (
            {
                "video": VIDEO,
                "prompt": "x",
                "response_format": {"type": "json_schema", "json_schema": {"type": "timestamp"}},
            },
            400,
            "parameter_invalid",
        ),
    ],
)
def test_analyze_errors(client: httpx.Client, body: dict[str, Any], status: int, code: str) -> None:
    # The spec documents 400 (generic shape) for /analyze; 404 is what the SDK maps to NotFoundError.
    assert_flat_error(client.post("/analyze", json=body), status, code, validate=status == 400)


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "string", "minLength": 3},
        {"type": "object", "properties": {"a": {"type": "string", "maxLength": 9}}},
        {"type": "object", "additionalProperties": False},
        {"type": "array", "items": {"type": "string"}, "maxItems": 3},
        {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
        {"type": "array", "items": {"type": "string"}, "minItems": 2},
    ],
)
def test_unsupported_schema_keywords_are_rejected_with_422(client: httpx.Client, schema: dict) -> None:
    response = analyze(client, stream=False, response_format={"type": "json_schema", "json_schema": schema})
    assert_flat_error(response, 422, "parameter_invalid", validate=False)


def test_analyze_asset_not_ready(client: httpx.Client) -> None:
    asset_id = client.post(
        "/assets", files={"method": (None, "url"), "url": (None, "https://x.test/n.mp4")}
    ).json()["_id"]
    response = client.post(
        "/analyze", json={"video": {"type": "asset_id", "asset_id": asset_id}, "prompt": "x"}
    )
    assert_flat_error(response, 400, "parameter_invalid")


def test_analyze_bucket_answers_429_with_empty_body(
    client: httpx.Client, emulator: RunningEmulator, video_id: str
) -> None:
    emulator.config.rate_limits = {"analyze": 2}
    check(analyze(client, stream=False))
    check(client.post("/summarize", json={"video_id": video_id, "type": "summary"}))
    for response in (
        analyze(client, stream=False),
        client.post("/gist", json={"video_id": video_id, "types": ["title"]}),
        client.post("/summarize", json={"video_id": video_id, "type": "chapter"}),
    ):
        assert response.status_code == 429
        assert response.content == b""
        assert int(response.headers["Retry-After"]) >= 1


# --------------------------------------------------------------------------------------------------
# POST /summarize and POST /gist
# --------------------------------------------------------------------------------------------------


def test_summary(client: httpx.Client, video_id: str) -> None:
    response = client.post("/summarize", json={"video_id": video_id, "type": "summary", "prompt": "For kids"})
    body = check(response)
    assert body["summarize_type"] == "summary" and body["summary"] and body["usage"]["output_tokens"] > 0
    assert int(response.headers["X-Ratelimit-Used"]) >= 1


def test_summary_with_response_format(client: httpx.Client, video_id: str) -> None:
    schema = {"type": "object", "properties": {"points": {"type": "array", "items": {"type": "string"}}}}
    body = check(
        client.post(
            "/summarize",
            json={
                "video_id": video_id,
                "type": "summary",
                "response_format": {"type": "json_schema", "json_schema": schema},
            },
        )
    )
    jsonschema.validate(json.loads(body["summary"]), schema)


def test_chapters_cover_the_video(client: httpx.Client, video_id: str) -> None:
    body = check(client.post("/summarize", json={"video_id": video_id, "type": "chapter"}))
    chapters = body["chapters"]
    assert body["summarize_type"] == "chapter"
    assert [c["chapter_number"] for c in chapters] == list(range(len(chapters)))
    assert chapters[0]["start_sec"] == 0 and chapters[-1]["end_sec"] == 240
    for a, b in itertools.pairwise(chapters):
        assert a["end_sec"] == b["start_sec"]
    assert all(c["chapter_title"] and c["chapter_summary"] for c in chapters)


def test_highlights_inside_the_video(client: httpx.Client, video_id: str) -> None:
    body = check(client.post("/summarize", json={"video_id": video_id, "type": "highlight"}))
    assert body["summarize_type"] == "highlight"
    for h in body["highlights"]:
        assert 0 <= h["start_sec"] < h["end_sec"] <= 240
        assert h["highlight"] and h["highlight_summary"]


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        ({"type": "outline"}, "parameter_invalid"),
        (
            {
                "type": "chapter",
                "response_format": {"type": "json_schema", "json_schema": {"type": "object"}},
            },
            "parameter_invalid",
        ),
        ({"type": "summary", "max_tokens": 5000}, "parameter_invalid"),
        ({"type": "summary", "temperature": -0.1}, "parameter_invalid"),
    ],
)
def test_summarize_errors(client: httpx.Client, video_id: str, extra: dict[str, Any], code: str) -> None:
    assert_flat_error(client.post("/summarize", json={"video_id": video_id, **extra}), 400, code)


def test_summarize_unknown_video(client: httpx.Client) -> None:
    response = client.post("/summarize", json={"video_id": "0" * 24, "type": "summary"})
    assert_flat_error(response, 404, "resource_not_exist", validate=False)


def test_gist(client: httpx.Client, video_id: str) -> None:
    full = check(client.post("/gist", json={"video_id": video_id, "types": ["title", "topic", "hashtag"]}))
    assert full["title"] and full["topics"] and all(h.startswith("#") for h in full["hashtags"])
    only_title = check(client.post("/gist", json={"video_id": video_id, "types": ["title"]}))
    assert "topics" not in only_title and "hashtags" not in only_title
    assert only_title["title"] == full["title"]
    assert_flat_error(
        client.post("/gist", json={"video_id": video_id, "types": []}), 400, "parameter_invalid"
    )
    assert_flat_error(
        client.post("/gist", json={"video_id": video_id, "types": ["tone"]}), 400, "parameter_invalid"
    )


@pytest.mark.parametrize(("path", "switch"), [("/summarize", "summarize_gone"), ("/gist", "gist_gone")])
def test_sunset_switches(
    client: httpx.Client, emulator: RunningEmulator, video_id: str, path: str, switch: str
) -> None:
    body = {"video_id": video_id, "type": "summary", "types": ["title"]}
    body = {k: v for k, v in body.items() if (k == "type") == (path == "/summarize") or k == "video_id"}
    check(client.post(path, json=body))
    setattr(emulator.config, switch, True)
    response = client.post(path, json=body)
    error = assert_flat_error(response, 410, "endpoint_sunset", validate=False)
    assert "/analyze" in error["message"]
    # /analyze is the replacement and keeps working.
    check(analyze(client, stream=False))
