"""The Pegasus operators against the emulator over real HTTP: summaries, gists, analysis, legacy endpoints."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from airflow_provider_twelvelabs.exceptions import (
    TwelveLabsBadRequestError,
    TwelveLabsError,
    TwelveLabsNotFoundError,
)
from airflow_provider_twelvelabs.operators.analyze import (
    TwelveLabsAnalyzeOperator,
    TwelveLabsGistOperator,
    TwelveLabsSummarizeOperator,
)
from airflow_provider_twelvelabs.testing.emulator.server import RunningEmulator
from tests.integration.catalog_support import Catalog, serve_catalog

pytestmark = pytest.mark.integration

SCHEMA = {
    "type": "object",
    "properties": {
        "title": {"type": "string"},
        "summary": {"type": "string"},
        "keywords": {"type": "array", "items": {"type": "string"}},
        "people": {"type": "integer", "minimum": 0},
        "mood": {"type": "string", "enum": ["calm", "tense", "joyful"]},
    },
    "required": ["title", "summary", "keywords", "mood"],
}


@pytest.fixture(scope="module")
def catalog(twelvelabs_module_emulator: RunningEmulator) -> Iterator[Catalog]:
    """One emulator and one index of three ready videos for the whole module (read-only tests)."""
    with serve_catalog(twelvelabs_module_emulator) as catalog:
        yield catalog


@pytest.fixture
def video(catalog: Catalog) -> str:
    return catalog.video_ids[0]


def _raw(catalog: Catalog, path: str, body: dict[str, Any]) -> Any:
    with catalog.raw() as client:
        response = client.post(path, json=body)
    assert response.status_code == 200, response.text
    return response.json() if not body.get("stream", False) else response.text


def _segments(items: list[dict[str, Any]], title: str, text: str) -> list[dict[str, Any]]:
    return [
        {"start": float(i["start_sec"]), "end": float(i["end_sec"]), "title": i[title], "text": i[text]}
        for i in items
    ]


def _duration(catalog: Catalog, video_id: str) -> float:
    with catalog.raw() as client:
        asset_id = client.get(f"/indexes/{catalog.index_id}/indexed-assets/{video_id}").json()["asset_id"]
        return float(client.get(f"/assets/{asset_id}").json()["duration"])


def _analyze_raw(catalog: Catalog, body: dict[str, Any]) -> Any:
    """What the API itself answers to ``body`` (``None`` values dropped, as the hook does)."""
    clean = {k: v for k, v in body.items() if v is not None}
    return _raw(catalog, "/analyze", {**clean, "stream": False})["data"]


def _asset_of(catalog: Catalog, video_id: str) -> str:
    return catalog.asset_ids[catalog.video_ids.index(video_id)]


LEGACY_SERVED = {"summarize_gone": False, "gist_gone": False}


# --------------------------------------------------------------------------- summarize (today's API)


def test_summary_is_the_analyze_text_and_no_legacy_call_is_made(catalog: Catalog, video: str) -> None:
    mark = len(catalog.log())
    op = TwelveLabsSummarizeOperator(task_id="s", video_id=video, index_id=catalog.index_id)
    result = op.execute({})
    assert catalog.requests_since(mark) == [
        ("GET", f"/indexes/{catalog.index_id}/indexed-assets/{video}", 200),
        ("POST", "/analyze", 200),
    ]
    body = {**op.build_request(), "video": {"type": "asset_id", "asset_id": _asset_of(catalog, video)}}
    assert isinstance(result, str) and result == _analyze_raw(catalog, body)


def test_prompt_and_options_reach_the_api(catalog: Catalog, video: str) -> None:
    options = {"prompt": "For a children's TV guide, one sentence.", "temperature": 0.9, "max_tokens": 40}
    op = TwelveLabsSummarizeOperator(task_id="s", asset_id=_asset_of(catalog, video), **options)
    result = op.execute({})
    plain = TwelveLabsSummarizeOperator(task_id="s", asset_id=_asset_of(catalog, video)).execute({})
    body = op.build_request()
    assert "For a children's TV guide" in body["prompt"] and body["temperature"] == 0.9
    assert result == _analyze_raw(catalog, body)
    assert result != plain


@pytest.mark.parametrize("kind", ["chapter", "highlight"])
def test_chapters_and_highlights_are_ordered_apart_and_inside_the_video(
    catalog: Catalog, video: str, kind: str
) -> None:
    mark = len(catalog.log())
    result = TwelveLabsSummarizeOperator(task_id="s", video_id=video, type=kind).execute({})
    paths = [path for _, path, _ in catalog.requests_since(mark)]
    assert "/summarize" not in paths and paths[-1] == "/analyze"
    duration = _duration(catalog, video)
    assert result and all(set(s) == {"start", "end", "title", "text"} for s in result)
    assert all(0 <= s["start"] < s["end"] <= duration for s in result)
    assert all(a["end"] <= b["start"] for a, b in itertools.pairwise(result))
    assert json.loads(json.dumps(result)) == result  # JSON-native for XCom


def test_structured_summary_is_parsed_json(catalog: Catalog, video: str) -> None:
    result = TwelveLabsSummarizeOperator(
        task_id="s", video_id=video, response_format={"type": "json_schema", "json_schema": SCHEMA}
    ).execute({})
    jsonschema.validate(result, SCHEMA)


@pytest.mark.parametrize("reference", ["asset_id", "video_url"])
def test_summary_and_gist_of_an_asset_or_a_url(catalog: Catalog, reference: str) -> None:
    value = (
        catalog.asset_ids[1]
        if reference == "asset_id"
        else "https://cdn.example.com/clips/beach.mp4?duration=90"
    )
    mark = len(catalog.log())
    summary = TwelveLabsSummarizeOperator(task_id="s", **{reference: value}).execute({})
    gist = TwelveLabsGistOperator(task_id="g", **{reference: value}).execute({})
    assert [p for _, p, _ in catalog.requests_since(mark)] == ["/analyze", "/analyze"]
    expected = _analyze_raw(
        catalog, TwelveLabsSummarizeOperator(task_id="s", **{reference: value}).build_request()
    )
    assert summary == expected and summary
    assert gist["title"] and gist["topics"] and gist["hashtags"]


# --------------------------------------------------------------------------- gist


@pytest.mark.parametrize("types", [["title", "topic", "hashtag"], ["topic"], ["hashtag", "title"]])
def test_gist_returns_the_requested_parts(catalog: Catalog, video: str, types: list[str]) -> None:
    mark = len(catalog.log())
    result = TwelveLabsGistOperator(task_id="g", video_id=video, types=types).execute({})
    assert "/gist" not in [p for _, p, _ in catalog.requests_since(mark)]
    assert set(result) == {"title", "topics", "hashtags"}
    assert (result["title"] is not None) == ("title" in types)
    assert (result["topics"] is not None) == ("topic" in types)
    assert (result["hashtags"] is not None) == ("hashtag" in types)
    assert all(tag.startswith("#") and " " not in tag for tag in result["hashtags"] or [])


# --------------------------------------------------------------------------- video_id mapping


def test_video_id_is_mapped_to_the_asset_it_indexes(catalog: Catalog, video: str) -> None:
    by_video = TwelveLabsAnalyzeOperator(
        task_id="a", prompt="Describe.", video_id=video, stream=False
    ).execute({})
    by_asset = TwelveLabsAnalyzeOperator(
        task_id="a", prompt="Describe.", asset_id=_asset_of(catalog, video), stream=False
    ).execute({})
    assert by_video == by_asset and by_video


def test_unknown_video_id_is_rejected_clearly(catalog: Catalog) -> None:
    mark = len(catalog.log())
    with pytest.raises(TwelveLabsError, match="is not an indexed video in any of the account's"):
        TwelveLabsGistOperator(task_id="g", video_id="ffffffffffffffffffffffff").execute({})
    assert "/analyze" not in [p for _, p, _ in catalog.requests_since(mark)]


def test_video_id_in_another_index_is_rejected_clearly(catalog: Catalog, video: str) -> None:
    with pytest.raises(TwelveLabsError, match="is not an indexed video in index"):
        TwelveLabsSummarizeOperator(task_id="s", video_id=video, index_id="eeeeeeeeeeeeeeeeeeeeeeee").execute(
            {}
        )


# --------------------------------------------------------------------------- the legacy endpoints, on request


@pytest.mark.parametrize(
    ("kind", "key", "title", "text"),
    [
        ("summary", "summary", "", ""),
        ("chapter", "chapters", "chapter_title", "chapter_summary"),
        ("highlight", "highlights", "highlight", "highlight_summary"),
    ],
)
def test_use_legacy_endpoint_calls_summarize(
    catalog: Catalog, video: str, kind: str, key: str, title: str, text: str
) -> None:
    with catalog.config(**LEGACY_SERVED):
        mark = len(catalog.log())
        result = TwelveLabsSummarizeOperator(
            task_id="s", video_id=video, type=kind, use_legacy_endpoint=True
        ).execute({})
        assert catalog.requests_since(mark) == [("POST", "/summarize", 200)]
        raw = _raw(catalog, "/summarize", {"video_id": video, "type": kind})
    assert raw["summarize_type"] == kind
    assert result == (raw[key] if kind == "summary" else _segments(raw[key], title, text))


def test_use_legacy_endpoint_calls_gist(catalog: Catalog, video: str) -> None:
    with catalog.config(**LEGACY_SERVED):
        mark = len(catalog.log())
        result = TwelveLabsGistOperator(task_id="g", video_id=video, use_legacy_endpoint=True).execute({})
        assert catalog.requests_since(mark) == [("POST", "/gist", 200)]
        raw = _raw(catalog, "/gist", {"video_id": video, "types": ["title", "topic", "hashtag"]})
    assert result == {"title": raw["title"], "topics": raw["topics"], "hashtags": raw["hashtags"]}


def test_legacy_unknown_video_is_not_found_and_does_not_fall_back(catalog: Catalog) -> None:
    with catalog.config(**LEGACY_SERVED):
        mark = len(catalog.log())
        with pytest.raises(TwelveLabsNotFoundError, match="resource_not_exist"):
            TwelveLabsGistOperator(
                task_id="g", video_id="ffffffffffffffffffffffff", use_legacy_endpoint=True
            ).execute({})
        assert catalog.requests_since(mark) == [("POST", "/gist", 404)]


def _shape(value: Any) -> Any:
    """The type structure of a result: what a downstream task relies on."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(value[0])] if value else []
    return type(value).__name__


def test_legacy_gist_falls_back_to_analyze_when_gone(
    catalog: Catalog, video: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with catalog.config(**LEGACY_SERVED):
        legacy = TwelveLabsGistOperator(task_id="g", video_id=video, use_legacy_endpoint=True).execute({})
    with catalog.config(gist_gone=True):
        mark = len(catalog.log())
        op = TwelveLabsGistOperator(
            task_id="g", video_id=video, index_id=catalog.index_id, use_legacy_endpoint=True
        )
        result = op.execute({})
        assert catalog.requests_since(mark) == [
            ("POST", "/gist", 410),
            ("GET", f"/indexes/{catalog.index_id}/indexed-assets/{video}", 200),
            ("POST", "/analyze", 200),
        ]
    assert _shape(result) == _shape(legacy)
    assert "POST /gist is gone" in capsys.readouterr().out


@pytest.mark.parametrize("kind", ["summary", "chapter", "highlight"])
def test_legacy_summarize_falls_back_with_the_same_result_type(
    catalog: Catalog, video: str, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with catalog.config(**LEGACY_SERVED):
        legacy = TwelveLabsSummarizeOperator(
            task_id="s", video_id=video, type=kind, use_legacy_endpoint=True
        ).execute({})
    with catalog.config(summarize_gone=True):
        mark = len(catalog.log())
        result = TwelveLabsSummarizeOperator(
            task_id="s", video_id=video, type=kind, use_legacy_endpoint=True
        ).execute({})
        requests = catalog.requests_since(mark)
    assert requests[0] == ("POST", "/summarize", 410) and requests[-1] == ("POST", "/analyze", 200)
    assert _shape(result) == _shape(legacy)
    assert "POST /summarize is gone" in capsys.readouterr().out


# --------------------------------------------------------------------------- analyze


def _fragments(catalog: Catalog, body: dict[str, Any]) -> list[str]:
    text = _raw(catalog, "/analyze", {**body, "stream": True})
    events = [json.loads(line) for line in text.splitlines() if line.strip()]
    return [e["text"] for e in events if e["event_type"] == "text_generation"]


def test_streamed_analysis_is_assembled_and_logged_by_line(
    catalog: Catalog, video: str, capsys: pytest.CaptureFixture[str]
) -> None:
    prompt = "Write a detailed shot list of this video, one shot per line."
    streamed = TwelveLabsAnalyzeOperator(task_id="a", prompt=prompt, video_id=video).execute({})
    out = capsys.readouterr().out
    not_streamed = TwelveLabsAnalyzeOperator(
        task_id="a", prompt=prompt, video_id=video, stream=False
    ).execute({})
    fragments = _fragments(catalog, {"video_id": video, "prompt": prompt})
    assert streamed == not_streamed == "".join(fragments)
    logged = re.findall(r"Pegasus> (.*?)\s+\[airflow\.", out)
    assert logged and len(logged) < len(fragments)
    assert " ".join(logged).split() == streamed.split()


@pytest.mark.parametrize("reference", ["asset_id", "video_url"])
def test_analysis_by_asset_or_url(catalog: Catalog, reference: str) -> None:
    value = (
        catalog.asset_ids[1]
        if reference == "asset_id"
        else "https://cdn.example.com/clips/beach.mp4?duration=90"
    )
    video = {"type": reference.removeprefix("video_"), reference.removeprefix("video_"): value}
    prompt = "What happens in this video?"
    result = TwelveLabsAnalyzeOperator(
        task_id="a", prompt=prompt, stream=False, **{reference: value}
    ).execute({})
    expected = _raw(catalog, "/analyze", {"video": video, "prompt": prompt, "stream": False})["data"]
    assert result == expected and result


@pytest.mark.parametrize("stream", [True, False])
def test_structured_output_validates_against_the_schema(catalog: Catalog, video: str, stream: bool) -> None:
    result = TwelveLabsAnalyzeOperator(
        task_id="a",
        prompt="Describe the video as JSON.",
        video_id=video,
        model_name="pegasus1.5",
        temperature=0.1,
        stream=stream,
        response_format={"type": "json_schema", "json_schema": SCHEMA},
    ).execute({})
    jsonschema.validate(result, SCHEMA)


@pytest.mark.parametrize("stream", [True, False])
def test_truncated_structured_output_fails_clearly(catalog: Catalog, video: str, stream: bool) -> None:
    op = TwelveLabsAnalyzeOperator(
        task_id="a",
        prompt="Describe as JSON.",
        video_id=video,
        max_tokens=5,
        stream=stream,
        response_format=SCHEMA,
    )
    with pytest.raises(TwelveLabsError, match=r"max_tokens \(finish_reason=length\)"):
        op.execute({})


def test_truncated_text_is_returned_with_a_warning(
    catalog: Catalog, video: str, capsys: pytest.CaptureFixture[str]
) -> None:
    full = TwelveLabsAnalyzeOperator(task_id="a", prompt="Describe.", video_id=video).execute({})
    cut = TwelveLabsAnalyzeOperator(task_id="a", prompt="Describe.", video_id=video, max_tokens=8).execute({})
    assert cut and len(cut) < len(full)
    assert "finish_reason=length" in capsys.readouterr().out


def test_time_window_is_sent_and_checked_by_the_api(catalog: Catalog, video: str) -> None:
    duration = _duration(catalog, video)
    windowed = TwelveLabsAnalyzeOperator(
        task_id="a", prompt="Describe.", video_id=video, start_time=2, end_time=12, stream=False
    ).execute({})
    assert windowed
    with pytest.raises(TwelveLabsBadRequestError, match="start_time"):
        TwelveLabsAnalyzeOperator(
            task_id="a", prompt="Describe.", video_id=video, start_time=duration + 5, stream=False
        ).execute({})


def test_output_path_gets_the_text_and_xcom_a_manifest(catalog: Catalog, video: str, tmp_path: Path) -> None:
    text = TwelveLabsAnalyzeOperator(task_id="a", prompt="Describe.", video_id=video).execute({})
    target = tmp_path / "out" / "analysis.txt"
    manifest = TwelveLabsAnalyzeOperator(
        task_id="a", prompt="Describe.", video_id=video, output_path=str(target)
    ).execute({})
    assert target.read_text(encoding="utf-8") == text
    assert manifest["format"] == "text" and manifest["bytes"] == len(text.encode("utf-8"))
    assert manifest["finish_reason"] == "stop" and manifest["generation_id"]
    assert Path(manifest["path"].removeprefix("file://")) == target
    assert len(json.dumps(manifest)) < 1000


def test_output_path_gets_structured_json(catalog: Catalog, video: str, tmp_path: Path) -> None:
    target = tmp_path / "analysis.json"
    manifest = TwelveLabsAnalyzeOperator(
        task_id="a",
        prompt="Describe as JSON.",
        video_id=video,
        response_format=SCHEMA,
        output_path=str(target),
    ).execute({})
    assert manifest["format"] == "json"
    jsonschema.validate(json.loads(target.read_text(encoding="utf-8")), SCHEMA)


# --------------------------------------------------------------------------- validation and retries


@pytest.mark.parametrize(
    ("factory", "param"),
    [
        (lambda v: TwelveLabsAnalyzeOperator(task_id="a", prompt="", video_id=v), "prompt"),
        (lambda v: TwelveLabsAnalyzeOperator(task_id="a", prompt="x" * 9000, video_id=v), "prompt"),
        (lambda v: TwelveLabsAnalyzeOperator(task_id="a", prompt="p", video_id=v, asset_id=v), "exactly one"),
        (lambda v: TwelveLabsAnalyzeOperator(task_id="a", prompt="p"), "exactly one"),
        (
            lambda v: TwelveLabsAnalyzeOperator(task_id="a", prompt="p", video_id=v, temperature=3),
            "temperature",
        ),
        (
            lambda v: TwelveLabsAnalyzeOperator(task_id="a", prompt="p", video_id=v, max_tokens=9999),
            "max_tokens",
        ),
        (
            lambda v: TwelveLabsAnalyzeOperator(
                task_id="a", prompt="p", video_id=v, start_time=3, end_time=3.5
            ),
            "at least 1 s",
        ),
        (
            lambda v: TwelveLabsAnalyzeOperator(
                task_id="a", prompt="p", video_id=v, response_format={"type": 7}
            ),
            "response_format",
        ),
        (lambda v: TwelveLabsSummarizeOperator(task_id="s", video_id=v, type="recap"), "type"),
        (
            lambda v: TwelveLabsSummarizeOperator(
                task_id="s", video_id=v, type="chapter", response_format=SCHEMA
            ),
            "response_format",
        ),
        (lambda v: TwelveLabsGistOperator(task_id="g", video_id=v, types=["title", "mood"]), "types"),
        (lambda v: TwelveLabsGistOperator(task_id="g", video_id=" "), "video_id"),
    ],
)
def test_invalid_input_fails_before_any_request(
    catalog: Catalog, video: str, factory: Any, param: str
) -> None:
    before = len(catalog.log())
    with pytest.raises(ValueError, match=param):
        factory(video).execute({})
    assert len(catalog.log()) == before


def test_rate_limited_answers_with_empty_bodies_are_retried(catalog: Catalog, video: str) -> None:
    expected = TwelveLabsAnalyzeOperator(
        task_id="a", prompt="Describe.", video_id=video, stream=False
    ).execute({})
    mark = len(catalog.log())
    with catalog.config(fault_rate=0.5, fault_statuses=[429]):
        results = [
            TwelveLabsAnalyzeOperator(task_id="a", prompt="Describe.", video_id=video, stream=s).execute({})
            for s in (False, True, False, True, False, True)
        ]
    assert results == [expected] * 6
    statuses = [status for method, path, status in catalog.requests_since(mark) if path == "/analyze"]
    assert 429 in statuses
    assert statuses.count(200) == 6
    with catalog.raw() as client, catalog.config(fault_rate=1.0, fault_statuses=[429]):
        refused = client.post("/analyze", json={"video_id": video, "prompt": "Describe.", "stream": False})
    # What the hook retried: a 429 without any body, as the API documents for /analyze.
    assert refused.status_code == 429 and refused.content == b""
