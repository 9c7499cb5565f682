"""The Pegasus request models (analyze, summarize, gist), checked and built without Airflow."""

from __future__ import annotations

import pytest

from airflow_provider_twelvelabs.requests.analyze import (
    AnalyzeOptions,
    AnalyzeRequest,
    GistOptions,
    GistRequest,
    SummarizeRequest,
)

VIDEO = "6a0000000000000000000001"
SCHEMA = {"type": "object", "properties": {"title": {"type": "string"}}}


def test_analyze_request_wraps_a_bare_schema_and_names_the_video() -> None:
    body = AnalyzeRequest.build(
        prompt="Describe", asset_id="as1", response_format=SCHEMA, temperature="0.3", start_time=0, end_time=5
    ).to_body()
    assert body == {
        "video": {"type": "asset_id", "asset_id": "as1"},
        "model_name": None,
        "temperature": 0.3,
        "max_tokens": None,
        "start_time": 0.0,
        "end_time": 5.0,
        "prompt": "Describe",
        "response_format": {"type": "json_schema", "json_schema": SCHEMA},
    }


def test_analyze_by_url_and_by_indexed_video() -> None:
    by_url = AnalyzeRequest.build(prompt="p", video_url="https://media.test/v.mp4", video_id="").to_body()
    assert by_url["video"] == {"type": "url", "url": "https://media.test/v.mp4"}
    # SDK 1.3.6 sends no video_id: the model names the video as an asset (the operator maps an
    # indexed video to its asset at execute time).
    body = AnalyzeRequest.build(prompt="p", video_id=VIDEO).to_body()
    assert "video_id" not in body
    assert body["video"] == {"type": "asset_id", "asset_id": VIDEO}


def test_analyze_options_alone_check_what_cannot_be_templated() -> None:
    with pytest.raises(ValueError, match="end_time - start_time must be at least 1 s"):
        AnalyzeOptions.build(start_time=3, end_time=3.5)
    with pytest.raises(ValueError, match="model_name must name a Pegasus model"):
        AnalyzeOptions.build(model_name="marengo3.0")
    with pytest.raises(ValueError, match="log_every_chars must be an integer of at least 1"):
        AnalyzeOptions.build(log_every_chars=0)


def test_analyze_request_refuses_two_videos_and_a_blank_prompt() -> None:
    with pytest.raises(
        ValueError, match=r"exactly one of video_id, asset_id or video_url \(got: video_id, asset_id\)"
    ):
        AnalyzeRequest.build(prompt="p", video_id=VIDEO, asset_id="a")
    with pytest.raises(ValueError, match="prompt is required"):
        AnalyzeRequest.build(prompt=" ", video_id=VIDEO)


def test_summarize_request() -> None:
    body = SummarizeRequest.build(video_id=VIDEO, type="chapter", prompt="  ", max_tokens=100).to_body()
    assert body == {
        "video_id": VIDEO,
        "type": "chapter",
        "temperature": None,
        "max_tokens": 100,
        "prompt": None,
        "response_format": None,
    }
    with pytest.raises(ValueError, match="response_format is only valid with type='summary'"):
        SummarizeRequest.build(video_id=VIDEO, type="highlight", response_format=SCHEMA)
    with pytest.raises(ValueError, match="type must be one of summary, chapter, highlight, got 'toc'"):
        SummarizeRequest.build(video_id=VIDEO, type="toc")


def test_gist_types_drop_duplicates_and_refuse_an_empty_list() -> None:
    assert GistRequest.build(video_id=VIDEO, types=["title", "hashtag", "title"]).to_body() == {
        "video_id": VIDEO,
        "types": ["title", "hashtag"],
    }
    with pytest.raises(ValueError, match="types must name at least one of title, topic, hashtag"):
        GistOptions.build(types=[])
