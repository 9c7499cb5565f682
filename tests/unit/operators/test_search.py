"""Unit tests of TwelveLabsSearchOperator against a scripted HTTP server (the network edge only)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_twelvelabs.exceptions import TwelveLabsBadRequestError
from airflow_provider_twelvelabs.operators.search import TwelveLabsSearchOperator, validate_search_filter
from airflow_provider_twelvelabs.testing.pytest_plugin import set_twelvelabs_connection
from tests.helpers.http_server import FormFile, RecordingServer, Reply

API_KEY = "tlk_UNIT_search_8c1d2e3f4a5b"
INDEX = "639961c9e219c90227c371a2"


def _connect(monkeypatch: pytest.MonkeyPatch, host: str, **extra: Any) -> None:
    set_twelvelabs_connection(monkeypatch, host, API_KEY, retry_base_delay=0.01, retry_max_wait=0.05, **extra)


@pytest.fixture
def server(recording_server: RecordingServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordingServer]:
    """The scripted server, with ``twelvelabs_default`` pointing at it."""
    _connect(monkeypatch, recording_server.base_url, max_retries=3)
    yield recording_server


@pytest.fixture
def unreachable(monkeypatch: pytest.MonkeyPatch) -> None:
    """A connection to a closed port: a request would fail with a transport error, not ValueError."""
    _connect(monkeypatch, "http://127.0.0.1:9/v1.3", max_retries=0)


def _page(items: list[dict[str, Any]], token: str | None = None, total: int = 5) -> dict[str, Any]:
    info: dict[str, Any] = {"limit_per_page": len(items), "total_results": total}
    if token:
        info["next_page_token"] = token
    return {"data": items, "page_info": info, "search_pool": {"total_count": 3, "index_id": INDEX}}


def _clip(video: str, rank: int, **extra: Any) -> dict[str, Any]:
    return {"video_id": video, "start": float(rank), "end": rank + 4.5, "rank": rank, **extra}


# --------------------------------------------------------------------------- filter syntax


@pytest.mark.parametrize(
    "value",
    [
        {"id": ["v1", "v2"]},
        {"duration": 600},
        {"duration": {"gte": 600, "lte": 800}, "width": {"gte": 1280}},
        {"filename": "Animal Encounters part 1"},
        {"needs_review": True, "category": "news", "rating": 4.5},
        '{"size": {"lte": 5242880}}',
    ],
)
def test_valid_filters_are_accepted(value: Any) -> None:
    result = validate_search_filter(value)
    assert result == (json.loads(value) if isinstance(value, str) else value)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"id": "v1"}, 'filter\\["id"\\]'),
        ({"id": []}, 'filter\\["id"\\]'),
        ({"duration": "long"}, 'filter\\["duration"\\]'),
        ({"height": {"gt": 5}}, 'filter\\["height"\\]'),
        ({"size": {"gte": 10, "lte": 1}}, "gte > lte"),
        ({"width": {"gte": True}}, 'filter\\["width"\\] bounds'),
        ({"filename": 3}, 'filter\\["filename"\\]'),
        ({"tags": ["a", "b"]}, 'filter\\["tags"\\] \\(a user-metadata field\\)'),
        ({"nested": {"a": 1}}, 'filter\\["nested"\\]'),
        ("[1, 2]", "filter must be a dict"),
        ("{broken", "not JSON"),
    ],
)
def test_invalid_filters_name_the_field(value: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_search_filter(value)


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"search_options": []}, "search_options"),
        ({"search_options": ["visual", "smell"]}, "search_options"),
        ({"operator": "xor"}, "operator"),
        ({"group_by": "scene"}, "group_by"),
        ({"page_limit": 0}, "page_limit"),
        ({"page_limit": 51}, "page_limit"),
        ({"max_results": 0}, "max_results"),
        ({"transcription_options": ["lexical"]}, "transcription_options applies only"),
        (
            {"search_options": ["transcription"], "transcription_options": ["fuzzy"]},
            "transcription_options",
        ),
    ],
)
def test_static_arguments_fail_at_construction(kwargs: dict[str, Any], param: str) -> None:
    with pytest.raises(ValueError, match=param):
        TwelveLabsSearchOperator(task_id="s", index_id=INDEX, query_text="dog", **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"query_text": None}, "give a query"),
        ({"query_text": "   "}, "give a query"),
        ({"index_id": ""}, "index_id"),
        ({"filter": {"duration": "x"}}, "filter"),
        ({"query_media_url": "file:///etc/passwd"}, "query_media_url"),
        ({"query_media_url": [f"https://x/{i}.png" for i in range(11)]}, "at most 10"),
        ({"query_media_file": "/nonexistent/image.png"}, "query_media_file"),
    ],
)
def test_invalid_input_fails_before_any_request(
    unreachable: None, kwargs: dict[str, Any], param: str
) -> None:
    args = {"task_id": "s", "index_id": INDEX, "query_text": "dog", **kwargs}
    with pytest.raises(ValueError, match=param):
        TwelveLabsSearchOperator(**args).execute({})


# --------------------------------------------------------------------------- wire and paging


def test_composed_query_form_and_paging(server: RecordingServer, tmp_path: Path) -> None:
    image = tmp_path / "car.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\nfake")
    server.on(
        "POST", "search", Reply(200, json=_page([_clip("v1", 1, score=0.9, confidence="high")], "tok-2"))
    )
    server.on("GET", "search/tok-2", Reply(200, json=_page([_clip("v2", 2)], "tok-3")))
    server.on("GET", "search/tok-3", Reply(200, json=_page([_clip("v3", 3, transcription="hi")])))
    hits = TwelveLabsSearchOperator(
        task_id="s",
        index_id=INDEX,
        query_text="red color",
        query_media_file=str(image),
        search_options=["visual", "transcription"],
        transcription_options=["semantic"],
        operator="and",
        filter={"duration": {"gte": 10}, "id": ("v1", "v2", "v3")},
        page_limit=1,
        include_user_metadata=True,
    ).execute({})
    assert hits == [
        {"video_id": "v1", "start": 1.0, "end": 5.5, "rank": 1, "score": 0.9, "confidence": "high"},
        {"video_id": "v2", "start": 2.0, "end": 6.5, "rank": 2},
        {"video_id": "v3", "start": 3.0, "end": 7.5, "rank": 3, "transcription": "hi"},
    ]
    form = server.requests[0].form_dict()
    assert form["search_options"] == ["visual", "transcription"]
    assert form["transcription_options"] == ["semantic"]
    assert form["query_media_type"] == ["image"]
    assert form["operator"] == ["and"]
    assert form["page_limit"] == ["1"]
    assert form["include_user_metadata"] == ["true"]
    assert json.loads(str(form["filter"][0])) == {"duration": {"gte": 10}, "id": ["v1", "v2", "v3"]}
    (upload,) = form["query_media_file"]
    assert isinstance(upload, FormFile)
    assert (upload.filename, upload.content_type, upload.content) == (
        "car.png",
        "image/png",
        image.read_bytes(),
    )
    assert [r.api_path for r in server.requests[1:]] == ["search/tok-2", "search/tok-3"]
    assert all(("include_user_metadata", "true") in r.query for r in server.requests[1:])


def test_max_results_stops_paging(server: RecordingServer) -> None:
    server.on("POST", "search", Reply(200, json=_page([_clip("v1", 1), _clip("v1", 2)], "tok-2")))
    server.on("GET", "search/tok-2", Reply(200, json=_page([_clip("v2", 3), _clip("v2", 4)], "tok-3")))
    hits = TwelveLabsSearchOperator(task_id="s", index_id=INDEX, query_text="dog", max_results=3).execute({})
    assert [h["rank"] for h in hits] == [1, 2, 3]
    # The third page was never asked for.
    assert [r.api_path for r in server.requests] == ["search", "search/tok-2"]


def test_group_by_video_returns_videos_with_clips(server: RecordingServer) -> None:
    grouped = [
        {"id": "v1", "clips": [_clip("v1", 1), _clip("v1", 3)], "user_metadata": {"cat": "news"}},
        {"id": "v2", "clips": [_clip("v2", 2)]},
    ]
    server.on("POST", "search", Reply(200, json=_page(grouped)))
    hits = TwelveLabsSearchOperator(
        task_id="s", index_id=INDEX, query_media_url="https://img.example.com/a.jpg", group_by="video"
    ).execute({})
    assert hits == [
        {
            "video_id": "v1",
            "clips": [_clip("v1", 1), _clip("v1", 3)],
            "user_metadata": {"cat": "news"},
        },
        {"video_id": "v2", "clips": [_clip("v2", 2)]},
    ]
    form = server.requests[0].form_dict()
    assert form["query_media_url"] == ["https://img.example.com/a.jpg"]
    assert "query_text" not in form
    assert form["group_by"] == ["video"]


def test_rate_limited_search_with_empty_body_is_retried(server: RecordingServer) -> None:
    server.on("POST", "search", Reply(429), Reply(200, json=_page([_clip("v1", 1)])))
    hits = TwelveLabsSearchOperator(task_id="s", index_id=INDEX, query_text="dog").execute({})
    assert [h["video_id"] for h in hits] == ["v1"]
    assert len(server.requests) == 2


def test_api_refusal_surfaces_with_its_code(server: RecordingServer) -> None:
    server.on(
        "POST",
        "search",
        Reply(400, json={"code": "search_option_not_supported", "message": "audio is not enabled"}),
    )
    with pytest.raises(TwelveLabsBadRequestError, match="search_option_not_supported"):
        TwelveLabsSearchOperator(task_id="s", index_id=INDEX, query_text="dog").execute({})
