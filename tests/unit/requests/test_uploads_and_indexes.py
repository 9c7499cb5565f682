"""The upload and index request models, checked and built without Airflow."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_twelvelabs.requests.assets import ContentKey, MultipartUploadRequest, UploadAssetRequest
from airflow_provider_twelvelabs.requests.indexes import (
    CreateIndexRequest,
    IndexAssetRequest,
    IndexingTaskRequest,
)

INDEX = "639961c9e219c90227c371a2"


def test_upload_request_checks_and_keeps_the_asset_fields() -> None:
    request = UploadAssetRequest.build(
        source=" clip.mp4 ", filename="", enable_hls="false", user_metadata={"k": 1}, concurrency="8"
    )
    assert request.source == "clip.mp4"
    assert request.concurrency == 8
    assert request.to_body() == {
        "filename": None,
        "enable_hls": False,
        "enable_thumbnail": None,
        "user_metadata": {"k": 1},
    }
    assert UploadAssetRequest.build(source=Path("/x/clip.mp4")).source == Path("/x/clip.mp4")


def test_upload_request_errors_name_the_parameter() -> None:
    with pytest.raises(ValueError, match="source must be an http:// or https:// URL"):
        UploadAssetRequest.build(source="/x/clip.mp4", method="url")
    with pytest.raises(ValueError, match="wait_for_ready must be a boolean, got None"):
        UploadAssetRequest.build(source="x.mp4", wait_for_ready=None)
    with pytest.raises(ValueError, match="file_type must be one of video, audio, image"):
        MultipartUploadRequest.build(source="x.mp4", file_type="pdf")


def test_create_index_request() -> None:
    models = [{"model_name": " marengo3.0 ", "model_options": ("visual",)}]
    body = CreateIndexRequest.build(index_name="archive", models=models, addons="thumbnail").to_body()
    assert body == {
        "index_name": "archive",
        "models": [{"model_name": "marengo3.0", "model_options": ["visual"]}],
        "addons": ["thumbnail"],
    }
    assert CreateIndexRequest.build(index_name="a", models=models, addons=[]).to_body()["addons"] is None


def test_index_asset_and_indexing_task_requests() -> None:
    body = IndexAssetRequest.build(index_id=INDEX, asset_id="as1", enable_video_stream="true").to_body()
    assert body == {"index_id": INDEX, "asset_id": "as1", "enable_video_stream": True, "user_metadata": None}
    task = IndexingTaskRequest.build(index_id=INDEX, video_path="", video_url="https://media.test/v.mp4")
    assert task.to_body()["video_url"] == "https://media.test/v.mp4"
    with pytest.raises(ValueError, match="video_url must be an http"):
        IndexingTaskRequest.build(index_id=INDEX, video_url="ftp://media.test/v.mp4")
    with pytest.raises(ValueError, match="Give exactly one of video_path"):
        IndexingTaskRequest.build(index_id=INDEX)


def test_the_content_key_round_trips_through_user_metadata() -> None:
    key = ContentKey("s3://b/a.mp4", 12, "ab" * 32)
    assert ContentKey.from_metadata({"team": "x", **key.to_metadata()}) == key
    # The API may hand numbers back as floats or strings; the hash compares case-insensitively.
    assert ContentKey.from_metadata({**key.to_metadata(), "twelvelabs_size": 12.0}) == key
    assert ContentKey.from_metadata({**key.to_metadata(), "twelvelabs_sha256": "AB" * 32}) == key
    assert ContentKey.from_metadata({"twelvelabs_source": "s3://b/a.mp4"}) is None
    assert ContentKey.from_metadata(None) is None
    assert key.merged({"team": "x"}) == {"team": "x", **key.to_metadata()}


def test_dedupe_and_on_change_are_checked() -> None:
    with pytest.raises(ValueError, match="dedupe must be 'content' or 'off', got 'yes'"):
        UploadAssetRequest.build(source="/a.mp4", dedupe="yes")
    with pytest.raises(ValueError, match="on_change must be 'keep' or 'replace'"):
        IndexAssetRequest.build(index_id=INDEX, asset_id="as1", on_change="drop")
    with pytest.raises(ValueError, match="user_metadata must not set twelvelabs_source"):
        MultipartUploadRequest.build(source="/a.mp4", user_metadata={"twelvelabs_source": "x"})
    # With dedupe="off" the keys are the user's to set.
    assert IndexAssetRequest.build(
        index_id=INDEX, asset_id="as1", dedupe="off", user_metadata={"twelvelabs_source": "x"}
    ).to_body()["user_metadata"] == {"twelvelabs_source": "x"}
