"""Unit tests of the Pegasus operators against a scripted HTTP server (the network edge only)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_twelvelabs.exceptions import TwelveLabsError, TwelveLabsNotFoundError
from airflow_provider_twelvelabs.operators.analyze import (
    MAX_PROMPT_CHARS,
    TwelveLabsAnalyzeOperator,
    TwelveLabsGistOperator,
    TwelveLabsSummarizeOperator,
)
from airflow_provider_twelvelabs.testing.pytest_plugin import set_twelvelabs_connection
from tests.helpers.http_server import RecordingServer, Reply

API_KEY = "tlk_UNIT_analyze_3f9a1c7e5b2d"
VIDEO = "6298d673f1090f1100476d4c"
ASSET = "6298d673f1090f1100476d99"
INDEX = "6298d673f1090f1100470000"
#: The indexed asset ``VIDEO`` of ``INDEX``: it indexes ``ASSET``, a 61 s video.
INDEXED = {"_id": VIDEO, "asset_id": ASSET, "status": "ready", "system_metadata": {"duration": 61.0}}


@pytest.fixture
def server(recording_server: RecordingServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordingServer]:
    """The scripted server, with ``twelvelabs_default`` pointing at it (fast retries)."""
    extra = {"retry_base_delay": 0.01, "retry_max_wait": 0.05, "max_retries": 3}
    set_twelvelabs_connection(monkeypatch, recording_server.base_url, API_KEY, **extra)
    yield recording_server


@pytest.fixture
def unreachable(monkeypatch: pytest.MonkeyPatch) -> None:
    """A connection to a closed port: a request would fail with a transport error, not ValueError."""
    set_twelvelabs_connection(monkeypatch, "http://127.0.0.1:9/v1.3", API_KEY, max_retries=0)


def _stream(*texts: str, finish: str = "stop", end: bool = True, noise: bool = False) -> list[str]:
    lines = [json.dumps({"event_type": "stream_start", "metadata": {"generation_id": "g-1"}})]
    if noise:
        lines += ["", "not json at all", json.dumps({"event_type": "future_event", "x": 1})]
    lines += [json.dumps({"event_type": "text_generation", "text": t}) for t in texts]
    if end:
        end_event: dict[str, Any] = {
            "event_type": "stream_end",
            "finish_reason": finish,
            "metadata": {"generation_id": "g-1", "usage": {"output_tokens": 7}},
        }
        if finish == "length":
            end_event["error"] = {"message": "output truncated"}
        lines.append(json.dumps(end_event))
    return lines


def _pegasus_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    """The streamed text as logged: task logs go through Airflow's structlog to the console."""
    out = capsys.readouterr().out
    return [m.group(1) for m in re.finditer(r"Pegasus> (.*?)\s+\[airflow\.", out)]


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"temperature": 1.5}, "temperature"),
        ({"temperature": -0.1}, "temperature"),
        ({"temperature": True}, "temperature"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": 4097}, "max_tokens"),
        ({"max_tokens": 12.5}, "max_tokens"),
        ({"start_time": 10, "end_time": 10.5}, "end_time - start_time"),
        ({"start_time": -1}, "start_time"),
        ({"end_time": 0.5}, "end_time - start_time"),
        ({"model_name": "marengo3.0"}, "model_name"),
    ],
)
def test_analyze_static_arguments_fail_at_construction(kwargs: dict[str, Any], param: str) -> None:
    with pytest.raises(ValueError, match=param):
        TwelveLabsAnalyzeOperator(task_id="t", prompt="Describe", video_id=VIDEO, **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"prompt": "   "}, "prompt"),
        ({"prompt": "x" * (MAX_PROMPT_CHARS + 1)}, "prompt"),
        ({"video_id": None}, "exactly one of video_id, asset_id or video_url"),
        ({"asset_id": "a1"}, "exactly one of video_id, asset_id or video_url"),
        ({"video_id": None, "video_url": "ftp://x/y.mp4"}, "video_url"),
        ({"response_format": {"type": "json_schema", "json_schema": {}}}, "response_format"),
        ({"response_format": {"type": "object", "properties": 3}}, "response_format.json_schema"),
        ({"response_format": "{not json"}, "response_format"),
        ({"video_id": "a/b"}, "video_id"),
    ],
)
def test_analyze_invalid_input_fails_before_any_request(
    unreachable: None, kwargs: dict[str, Any], param: str
) -> None:
    args = {"task_id": "t", "prompt": "Describe", "video_id": VIDEO, **kwargs}
    with pytest.raises(ValueError, match=param):
        TwelveLabsAnalyzeOperator(**args).execute({})


def test_prompt_limit_error_explains_the_estimate(unreachable: None) -> None:
    op = TwelveLabsAnalyzeOperator(task_id="t", prompt="y" * (MAX_PROMPT_CHARS + 4), video_id=VIDEO)
    with pytest.raises(ValueError, match=r"estimated at 4 characters per token.*2,000 tokens"):
        op.execute({})


def test_presigned_video_url_is_not_echoed_in_errors(unreachable: None) -> None:
    secret = "X-Amz-Signature=deadbeefcafe"
    op = TwelveLabsAnalyzeOperator(task_id="t", prompt="Describe", video_url=f"s3x://b/k.mp4?{secret}")
    with pytest.raises(ValueError) as info:
        op.execute({})
    assert secret not in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"type": "toc"}, "type"),
        ({"temperature": 2}, "temperature"),
        ({"max_tokens": 5000}, "max_tokens"),
    ],
)
def test_summarize_static_arguments_fail_at_construction(kwargs: dict[str, Any], param: str) -> None:
    with pytest.raises(ValueError, match=param):
        TwelveLabsSummarizeOperator(task_id="t", video_id=VIDEO, **kwargs)


def test_summarize_response_format_only_with_summary(server: RecordingServer) -> None:
    op = TwelveLabsSummarizeOperator(
        task_id="t", video_id=VIDEO, type="chapter", response_format={"type": "object"}
    )
    with pytest.raises(ValueError, match="response_format is only valid with type='summary'"):
        op.execute({})
    assert server.requests == []


@pytest.mark.parametrize("types", [[], ["title", "summary"], "tags", [{"title": 1}]])
def test_gist_types_are_checked(types: Any) -> None:
    with pytest.raises(ValueError, match="types"):
        TwelveLabsGistOperator(task_id="t", video_id=VIDEO, types=types)


def test_gist_requires_video_id(server: RecordingServer) -> None:
    with pytest.raises(ValueError, match="video_id"):
        TwelveLabsGistOperator(task_id="t", video_id="").execute({})
    assert server.requests == []


# --------------------------------------------------------------------------- summarize shapes


def test_summarize_tolerates_the_old_answer_without_summarize_type(server: RecordingServer) -> None:
    chapters = [
        {"chapter_number": 0, "start": 0, "end": 30, "chapter_title": "Intro", "chapter_summary": "Hello."},
        {"chapter_number": 1, "start": 30, "end": 61, "chapter_title": "Main", "chapter_summary": "Body."},
    ]
    server.on("POST", "summarize", Reply(200, json={"id": "s1", "chapters": chapters, "usage": {}}))
    result = TwelveLabsSummarizeOperator(
        task_id="t", video_id=VIDEO, use_legacy_endpoint=True, type="chapter"
    ).execute({})
    assert result == [
        {"start": 0.0, "end": 30.0, "title": "Intro", "text": "Hello."},
        {"start": 30.0, "end": 61.0, "title": "Main", "text": "Body."},
    ]
    sent = server.requests[0].json()
    assert sent == {"video_id": VIDEO, "type": "chapter"}


def test_summarize_highlights_prefer_the_float_seconds(server: RecordingServer) -> None:
    highlights = [
        {
            "start": 4,
            "end": 9,
            "start_sec": 4.56,
            "end_sec": 9.2,
            "highlight": "Goal",
            "highlight_summary": "A.",
        }
    ]
    server.on(
        "POST",
        "summarize",
        Reply(200, json={"summarize_type": "highlight", "id": "h", "highlights": highlights}),
    )
    op = TwelveLabsSummarizeOperator(
        task_id="t",
        video_id=VIDEO,
        use_legacy_endpoint=True,
        type="highlight",
        prompt="For fans",
        temperature=0.7,
        max_tokens=300,
    )
    assert op.execute({}) == [{"start": 4.56, "end": 9.2, "title": "Goal", "text": "A."}]
    assert server.requests[0].json() == {
        "video_id": VIDEO,
        "type": "highlight",
        "prompt": "For fans",
        "temperature": 0.7,
        "max_tokens": 300,
    }


def test_summarize_with_an_empty_answer_fails_clearly(server: RecordingServer) -> None:
    server.on("POST", "summarize", Reply(200, json={"id": "s1", "usage": {"output_tokens": 0}}))
    with pytest.raises(TwelveLabsError, match="holds no summary, chapters or highlights"):
        TwelveLabsSummarizeOperator(task_id="t", video_id=VIDEO, use_legacy_endpoint=True).execute({})


def test_missing_video_is_not_mistaken_for_a_gone_endpoint(server: RecordingServer) -> None:
    server.on(
        "POST",
        "summarize",
        Reply(
            404, json={"code": "resource_not_exist", "message": f"Resource with id {VIDEO} does not exist"}
        ),
    )
    with pytest.raises(TwelveLabsNotFoundError, match="does not exist"):
        TwelveLabsSummarizeOperator(task_id="t", video_id=VIDEO, use_legacy_endpoint=True).execute({})
    assert [r.api_path for r in server.requests] == ["summarize"]


def test_sunset_code_on_a_404_falls_back_to_analyze(
    server: RecordingServer, capsys: pytest.CaptureFixture[str]
) -> None:
    server.on("POST", "summarize", Reply(404, json={"code": "endpoint_sunset", "message": "Removed."}))
    server.on(
        "POST",
        "analyze",
        Reply(200, json={"id": "a", "data": "A short summary.", "finish_reason": "stop", "usage": {}}),
    )
    server.on("GET", f"indexes/{INDEX}/indexed-assets/{VIDEO}", Reply(200, json=INDEXED))
    result = TwelveLabsSummarizeOperator(
        task_id="t", video_id=VIDEO, index_id=INDEX, use_legacy_endpoint=True, prompt="For kids"
    ).execute({})
    assert result == "A short summary."
    paths = [r.api_path for r in server.requests]
    assert paths == ["summarize", f"indexes/{INDEX}/indexed-assets/{VIDEO}", "analyze"]
    body = server.requests[2].json()
    # The current request shape (the asset the video indexes), non-streaming, the user's prompt kept.
    assert body["video"] == {"type": "asset_id", "asset_id": ASSET}
    assert "video_id" not in body and body["stream"] is False and body["prompt"] == "For kids"
    assert "POST /summarize is gone" in capsys.readouterr().out


def test_bare_404_without_code_on_gist_is_read_as_gone(server: RecordingServer) -> None:
    server.on("POST", "gist", Reply(404, body=b"Not Found"))
    gist = {"title": "A title", "topics": ["Cooking"], "hashtags": ["food", "#Chef"]}
    server.on(
        "POST",
        "analyze",
        Reply(200, json={"id": "a", "data": json.dumps(gist), "finish_reason": "stop", "usage": {}}),
    )
    server.on("GET", f"indexes/{INDEX}/indexed-assets/{VIDEO}", Reply(200, json=INDEXED))
    result = TwelveLabsGistOperator(
        task_id="t", video_id=VIDEO, index_id=INDEX, use_legacy_endpoint=True
    ).execute({})
    assert result == {"title": "A title", "topics": ["Cooking"], "hashtags": ["#food", "#Chef"]}
    schema = server.requests[-1].json()["response_format"]["json_schema"]
    assert schema["required"] == ["title", "topics", "hashtags"]


def test_gist_truncated_json_fails_clearly(server: RecordingServer) -> None:
    server.on(
        "POST",
        "analyze",
        Reply(200, json={"id": "a", "data": '{"title": "Cut', "finish_reason": "length", "usage": {}}),
    )
    with pytest.raises(TwelveLabsError, match="max_tokens"):
        TwelveLabsGistOperator(task_id="t", asset_id=ASSET, types=["title"]).execute({})


# --------------------------------------------------------------------------- today's API by default


def _analyze_reply(data: Any) -> Reply:
    text = data if isinstance(data, str) else json.dumps(data)
    return Reply(200, json={"id": "a", "data": text, "finish_reason": "stop", "usage": {}})


def test_summarize_and_gist_go_straight_to_analyze(server: RecordingServer) -> None:
    server.on("POST", "analyze", _analyze_reply("A summary."))
    assert TwelveLabsSummarizeOperator(task_id="t", asset_id=ASSET).execute({}) == "A summary."
    server.on("POST", "analyze", _analyze_reply({"title": "T", "topics": ["x"], "hashtags": ["y"]}))
    gist = TwelveLabsGistOperator(task_id="t", video_url="https://cdn.example.com/v.mp4").execute({})
    assert gist == {"title": "T", "topics": ["x"], "hashtags": ["#y"]}
    assert [r.api_path for r in server.requests] == ["analyze", "analyze"]
    first, second = (r.json() for r in server.requests)
    assert first["video"] == {"type": "asset_id", "asset_id": ASSET} and "video_id" not in first
    assert second["video"] == {"type": "url", "url": "https://cdn.example.com/v.mp4"}


def test_chapters_are_ordered_apart_and_inside_the_video(server: RecordingServer) -> None:
    server.on("GET", f"assets/{ASSET}", Reply(200, json={"_id": ASSET, "status": "ready", "duration": 60.0}))
    chapters = [
        {"start_time": 30, "end_time": 45, "title": "B", "summary": "b"},
        {"start_time": 0, "end_time": 32, "title": "A", "summary": "a"},
        {"start_time": 44, "end_time": 75, "title": "C", "summary": "c"},
        {"start_time": 80, "end_time": 90, "title": "After the end", "summary": "x"},
    ]
    server.on("POST", "analyze", _analyze_reply({"chapters": chapters}))
    result = TwelveLabsSummarizeOperator(task_id="t", asset_id=ASSET, type="chapter").execute({})
    assert result == [
        {"start": 0.0, "end": 32.0, "title": "A", "text": "a"},
        {"start": 32.0, "end": 45.0, "title": "B", "text": "b"},
        {"start": 45.0, "end": 60.0, "title": "C", "text": "c"},
    ]


def test_video_id_is_mapped_to_its_asset_through_the_index(server: RecordingServer) -> None:
    server.on("GET", f"indexes/{INDEX}/indexed-assets/{VIDEO}", Reply(200, json=INDEXED))
    server.on("POST", "analyze", _analyze_reply("ok"))
    TwelveLabsAnalyzeOperator(
        task_id="t", prompt="Describe", video_id=VIDEO, index_id=INDEX, stream=False
    ).execute({})
    body = server.requests[-1].json()
    assert body["video"] == {"type": "asset_id", "asset_id": ASSET} and "video_id" not in body


def test_video_id_without_index_is_searched_in_each_index(server: RecordingServer) -> None:
    other = "6298d673f1090f1100471111"
    page = {"data": [{"_id": other, "index_name": "o"}, {"_id": INDEX, "index_name": "i"}], "page_info": {}}
    server.on("GET", "indexes", Reply(200, json={**page, "page_info": {"page": 1, "total_page": 1}}))
    server.on("GET", f"indexes/{INDEX}/indexed-assets/{VIDEO}", Reply(200, json=INDEXED))
    server.on("POST", "analyze", _analyze_reply({"title": "T"}))
    TwelveLabsGistOperator(task_id="t", video_id=VIDEO, types=["title"]).execute({})
    paths = [r.api_path for r in server.requests]
    assert paths == [
        "indexes",
        f"indexes/{other}/indexed-assets/{VIDEO}",
        f"indexes/{INDEX}/indexed-assets/{VIDEO}",
        "analyze",
    ]
    assert server.requests[-1].json()["video"] == {"type": "asset_id", "asset_id": ASSET}


def test_unknown_video_id_is_rejected_clearly(server: RecordingServer) -> None:
    server.on("GET", "indexes", Reply(200, json={"data": [], "page_info": {"page": 1, "total_page": 1}}))
    with pytest.raises(TwelveLabsError, match=r"video_id '6298d673f1090f1100476d4c' is not an indexed video"):
        TwelveLabsSummarizeOperator(task_id="t", video_id=VIDEO).execute({})
    assert "analyze" not in [r.api_path for r in server.requests]


def test_video_over_an_hour_is_refused_before_analyze_with_method_sync(server: RecordingServer) -> None:
    long = {**INDEXED, "system_metadata": {"duration": 5400.0}}
    server.on("GET", f"indexes/{INDEX}/indexed-assets/{VIDEO}", Reply(200, json=long))
    op = TwelveLabsSummarizeOperator(task_id="t", video_id=VIDEO, index_id=INDEX, method="sync")
    with pytest.raises(
        TwelveLabsError, match=r"5,400 s long; POST /analyze accepts up to 3,600 s.*method='auto'"
    ):
        op.execute({})
    assert [r.api_path for r in server.requests] == [f"indexes/{INDEX}/indexed-assets/{VIDEO}"]


@pytest.mark.parametrize("method", ["auto", "task"])
def test_video_over_two_hours_is_refused_before_any_analysis(server: RecordingServer, method: str) -> None:
    long = {**INDEXED, "system_metadata": {"duration": 9000.0}}
    server.on("GET", f"indexes/{INDEX}/indexed-assets/{VIDEO}", Reply(200, json=long))
    op = TwelveLabsGistOperator(task_id="t", video_id=VIDEO, index_id=INDEX, method=method)
    with pytest.raises(TwelveLabsError, match=r"9,000 s long; an analyze task takes up to 7,200 s"):
        op.execute({})
    assert [r.api_path for r in server.requests] == [f"indexes/{INDEX}/indexed-assets/{VIDEO}"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "segmentation"}, "method='segmentation' cuts the video into chapters or highlights"),
        ({"method": "later"}, "method must be one of"),
    ],
)
def test_bad_method_fails_at_parse_time(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TwelveLabsSummarizeOperator(task_id="t", video_id=VIDEO, **kwargs)


def test_gist_has_no_segmentation_method() -> None:
    with pytest.raises(ValueError, match="method must be one of"):
        TwelveLabsGistOperator(task_id="t", video_id=VIDEO, method="segmentation")


def test_legacy_endpoint_needs_a_video_id() -> None:
    with pytest.raises(ValueError, match="use_legacy_endpoint=True needs video_id"):
        TwelveLabsGistOperator(task_id="t", asset_id=ASSET, use_legacy_endpoint=True).execute({})


def test_prefer_legacy_endpoint_is_a_deprecated_alias() -> None:
    with pytest.warns(DeprecationWarning, match="use_legacy_endpoint"):
        op = TwelveLabsSummarizeOperator(task_id="t", video_id=VIDEO, prefer_legacy_endpoint=True)
    assert op.use_legacy_endpoint is True


# --------------------------------------------------------------------------- analyze


def test_stream_is_assembled_and_logged_by_line_not_by_fragment(
    server: RecordingServer, capsys: pytest.CaptureFixture[str]
) -> None:
    fragments = ["First li", "ne of te", "xt.\nSecond", " line", " here.\n", "Tail"]
    server.on("POST", "analyze", Reply(200, lines=_stream(*fragments, noise=True)))
    result = TwelveLabsAnalyzeOperator(task_id="t", prompt="Describe", asset_id="a1").execute({})
    assert result == "".join(fragments)
    assert _pegasus_lines(capsys) == ["First line of text.", "Second line here.", "Tail"]
    body = server.requests[0].json()
    assert body["stream"] is True
    assert body["video"] == {"type": "asset_id", "asset_id": "a1"}


def test_long_unbroken_stream_is_logged_in_bounded_pieces(
    server: RecordingServer, capsys: pytest.CaptureFixture[str]
) -> None:
    words = [f"word{i} " for i in range(200)]
    server.on("POST", "analyze", Reply(200, lines=_stream(*words)))
    result = TwelveLabsAnalyzeOperator(
        task_id="t", prompt="Describe", asset_id=ASSET, log_every_chars=100
    ).execute({})
    assert result == "".join(words)
    pieces = _pegasus_lines(capsys)
    assert 1 < len(pieces) < len(words)
    assert all(len(p) <= 100 + len("word199 ") for p in pieces)
    assert " ".join(pieces) == result.strip()


def test_stream_without_stream_end_fails(server: RecordingServer) -> None:
    server.on("POST", "analyze", Reply(200, lines=_stream("partial", end=False)))
    with pytest.raises(TwelveLabsError, match="without a stream_end"):
        TwelveLabsAnalyzeOperator(task_id="t", prompt="Describe", asset_id=ASSET).execute({})


def test_truncated_text_is_returned_with_a_warning(
    server: RecordingServer, capsys: pytest.CaptureFixture[str]
) -> None:
    server.on("POST", "analyze", Reply(200, lines=_stream("Cut he", "re", finish="length")))
    result = TwelveLabsAnalyzeOperator(task_id="t", prompt="Describe", asset_id=ASSET).execute({})
    assert result == "Cut here"
    assert "finish_reason=length" in capsys.readouterr().out


def test_structured_output_that_is_not_json_fails(server: RecordingServer) -> None:
    server.on(
        "POST",
        "analyze",
        Reply(200, json={"id": "a", "data": "Sure! Here it is", "finish_reason": "stop", "usage": {}}),
    )
    op = TwelveLabsAnalyzeOperator(
        task_id="t", prompt="Describe", asset_id=ASSET, stream=False, response_format={"type": "object"}
    )
    with pytest.raises(TwelveLabsError, match="not valid JSON"):
        op.execute({})
    # A bare schema is wrapped the way the API expects.
    assert server.requests[0].json()["response_format"] == {
        "type": "json_schema",
        "json_schema": {"type": "object"},
    }


def test_analyze_request_body_carries_every_option(server: RecordingServer) -> None:
    server.on(
        "POST",
        "analyze",
        Reply(200, json={"id": "a", "data": "ok", "finish_reason": "stop", "usage": {}}),
    )
    TwelveLabsAnalyzeOperator(
        task_id="t",
        prompt="Describe",
        video_url="https://cdn.example.com/v.mp4",
        model_name="pegasus1.6",
        temperature=0,
        max_tokens=100,
        start_time=5,
        end_time=20.5,
        stream=False,
    ).execute({})
    assert server.requests[0].json() == {
        "video": {"type": "url", "url": "https://cdn.example.com/v.mp4"},
        "model_name": "pegasus1.6",
        "prompt": "Describe",
        "temperature": 0.0,
        "max_tokens": 100,
        "start_time": 5,
        "end_time": 20.5,
        "stream": False,
    }


def test_rate_limited_empty_429_is_retried(server: RecordingServer) -> None:
    server.on(
        "POST",
        "analyze",
        Reply(429, headers={"Retry-After": "0"}),
        Reply(200, json={"id": "a", "data": "after the wait", "finish_reason": "stop", "usage": {}}),
    )
    op = TwelveLabsAnalyzeOperator(task_id="t", prompt="Describe", asset_id=ASSET, stream=False)
    assert op.execute({}) == "after the wait"
    assert len(server.requests) == 2


def test_templated_fields_are_declared() -> None:
    assert {"prompt", "video_id", "asset_id", "video_url", "response_format", "output_path"} <= set(
        TwelveLabsAnalyzeOperator.template_fields
    )
    assert {"video_id", "prompt"} <= set(TwelveLabsSummarizeOperator.template_fields)
    assert "video_id" in TwelveLabsGistOperator.template_fields
