"""The embedding request models, checked and built without Airflow, files or network."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_twelvelabs.requests.embed import (
    EmbeddingOutput,
    EmbedV1TaskRequest,
    EmbedV2Request,
    EmbedV2TaskRequest,
)

URL = "https://media.test/v.mp4"


class Reader:
    """A stand-in for the operators' file reader that records what it was asked for."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, int, bool]] = []

    def __call__(self, name: str, path: str, limit: int, image: bool) -> str:
        self.calls.append((name, path, limit, image))
        return f"b64:{path}"


def test_a_video_request_builds_the_api_body() -> None:
    body = EmbedV2Request.build(
        input_type="video",
        url=URL,
        start_sec="5",
        end_sec=65,
        segmentation="fixed",
        segment_duration_sec=4,
        embedding_option=["visual", "audio"],
        embedding_type="fused_embedding",
    ).to_body()
    assert body == {
        "input_type": "video",
        "model_name": "marengo3.0",
        "video": {
            "media_source": {"url": URL},
            "start_sec": 5.0,
            "end_sec": 65.0,
            "segmentation": {"strategy": "fixed", "fixed": {"duration_sec": 4}},
            "embedding_option": ["visual", "audio"],
            "embedding_type": ["fused_embedding"],
        },
    }


def test_duplicates_in_a_list_of_choices_are_dropped() -> None:
    body = EmbedV2TaskRequest.build(
        input_type="audio", asset_id="a1", embedding_option=["audio", "transcription", "audio"]
    ).to_body()
    assert body["audio"]["embedding_option"] == ["audio", "transcription"]


def test_marengo_35_tasks_get_the_temporal_wrapper_and_local_scope() -> None:
    body = EmbedV2TaskRequest.build(
        input_type="video",
        model_name="marengo3.5",
        url=URL,
        segmentation="dynamic",
        embedding_scope=["clip", "local"],
        embedding_dimension="256",
    ).to_body()
    assert body["embedding_dimension"] == 256
    assert body["video"]["segmentation"] == {
        "temporal": {"strategy": "dynamic", "dynamic": {"min_duration_sec": 2}}
    }
    assert body["video"]["embedding_scope"] == ["clip", "local"]


def test_files_are_read_through_the_given_reader_with_the_right_limit() -> None:
    reader = Reader()
    body = EmbedV2Request.build(input_type="text_image", text="a dog", file_path="/x/dog.png").to_body(reader)
    assert body["text_image"] == {"media_source": {"base64_string": "b64:/x/dog.png"}, "input_text": "a dog"}
    assert reader.calls == [("file_path", "/x/dog.png", 32 * 1024 * 1024, True)]


def test_multi_input_files_are_named_by_their_position() -> None:
    reader = Reader()
    request = EmbedV2Request.build(
        input_type="multi_input",
        model_name="marengo3.5",
        text="compare",
        media_sources=[{"media_type": "image", "file_path": "/x/a.png"}, {"media_type": "video", "url": URL}],
    )
    body = request.to_body(reader)
    assert body["multi_input"] == {
        "input_text": "compare",
        "media_sources": [
            {"media_type": "image", "base64_string": "b64:/x/a.png"},
            {"media_type": "video", "url": URL},
        ],
    }
    assert [call[0] for call in reader.calls] == ["media_sources[0].file_path"]


def test_a_file_without_a_reader_is_refused_by_name() -> None:
    request = EmbedV2Request.build(input_type="video", file_path="/x/v.mp4")
    with pytest.raises(ValueError, match="file_path: no reader"):
        request.to_body()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"input_type": "text", "text": "x", "url": ""}, None),
        (
            {"input_type": "video", "url": URL, "segment_duration_sec": 4},
            "segment_duration_sec needs segmentation",
        ),
        (
            {"input_type": "video", "url": URL, "segmentation": "dynamic", "segment_duration_sec": "six"},
            "segment_duration_sec",
        ),
        (
            {"input_type": "video", "url": URL, "embedding_option": []},
            "embedding_option must name at least one",
        ),
        (
            {"input_type": "image", "url": "https://media.test/a.webp"},
            r"url: \.webp images are not supported",
        ),
        ({"input_type": "video", "asset_id": "a/b"}, "asset_id must be a TwelveLabs id"),
        ({"input_type": "text", "text": "x", "start_sec": 1}, "start_sec only applies to audio and video"),
        ({"input_type": "video", "url": URL, "embedding_uncertainty": "yes"}, "embedding_uncertainty"),
    ],
)
def test_sync_requests_name_the_bad_parameter(kwargs: dict[str, Any], message: str | None) -> None:
    if message is None:
        # A template that rendered an empty source is "not given", not an error.
        assert EmbedV2Request.build(**kwargs).to_body()["text"] == {"input_text": "x"}
        return
    with pytest.raises(ValueError, match=message):
        EmbedV2Request.build(**kwargs)


def test_tasks_refuse_text_and_sync_length_limits_do_not_apply() -> None:
    with pytest.raises(ValueError, match="input_type must be 'audio' or 'video', got 'text'"):
        EmbedV2TaskRequest.build(input_type="text", url=URL)
    assert (
        EmbedV2TaskRequest.build(input_type="video", url=URL, end_sec=3600).to_body()["video"]["end_sec"]
        == 3600
    )


def test_v1_task_request_builds_the_form_fields() -> None:
    request = EmbedV1TaskRequest.build(
        video_url=URL,
        video_clip_length=5,
        video_start_offset_sec=0,
        video_end_offset_sec=30,
        video_embedding_scope=["clip", "video", "clip"],
        embedding_option="visual-text",
    )
    assert request.to_body() == {
        "model_name": "marengo3.0",
        "video_url": URL,
        "video_start_offset_sec": 0.0,
        "video_end_offset_sec": 30.0,
        "video_clip_length": 5.0,
        "video_embedding_scope": ["clip", "video"],
    }
    assert request.embedding_option == ["visual-text"]


def test_v1_file_source_leaves_the_file_part_to_the_operator() -> None:
    request = EmbedV1TaskRequest.build(video_file="s3://bucket/v.mp4")
    assert request.video_file == "s3://bucket/v.mp4"
    assert request.to_body() == {"model_name": "marengo3.0"}
    with pytest.raises(ValueError, match="video_url must be an http"):
        EmbedV1TaskRequest.build(video_url="ftp://media.test/v.mp4")


def test_output_settings() -> None:
    output = EmbeddingOutput.build(output_path="", max_xcom_embeddings=10, max_xcom_bytes="100")
    assert output.to_body() == {
        "output_path": None,
        "output_format": "jsonl",
        "max_xcom_embeddings": 10,
        "max_xcom_bytes": 100,
    }
    with pytest.raises(ValueError, match="output_format must be 'jsonl' or 'parquet', got 'csv'"):
        EmbeddingOutput.build(output_format="csv", max_xcom_embeddings=1, max_xcom_bytes=1)
