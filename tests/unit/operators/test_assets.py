"""Unit tests of the upload operators, against a scripted HTTP server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_twelvelabs.exceptions import TwelveLabsResourceFailedError
from airflow_provider_twelvelabs.operators.assets import (
    MAX_DIRECT_UPLOAD_BYTES,
    MAX_URL_UPLOAD_BYTES,
    TwelveLabsMultipartUploadOperator,
    TwelveLabsUploadAssetOperator,
)
from airflow_provider_twelvelabs.operators.base import job_tag
from airflow_provider_twelvelabs.testing.pytest_plugin import set_twelvelabs_connection
from tests.helpers.airflow_fakes import StateStore
from tests.helpers.airflow_fakes import task_context as context
from tests.helpers.airflow_versions import needs_task_state_store
from tests.helpers.http_server import FormFile, RecordingServer, Reply

API_KEY = "tlk_TESTKEY_assets_51ac2e"
ASSET = "6b0000000000000000000001"
OTHER = "6b0000000000000000000002"
FAST = {"poll_interval": 0.01, "poll_max_interval": 0.02, "deferrable": False}


@pytest.fixture
def server(recording_server: RecordingServer, monkeypatch: pytest.MonkeyPatch) -> RecordingServer:
    extra = {"retry_base_delay": 0.01, "retry_max_wait": 0.05, "max_retries": 2}
    set_twelvelabs_connection(monkeypatch, recording_server.base_url, API_KEY, **extra)
    # The content lookup (dedupe="content", the default) lists the assets of the file's name: none here.
    recording_server.on(
        "GET", "assets", Reply(200, json={"data": [], "page_info": {"page": 1, "total_page": 1}})
    )
    recording_server.listen()
    return recording_server


def asset(status: str, asset_id: str = ASSET, **extra: Any) -> dict[str, Any]:
    return {"_id": asset_id, "method": "direct", "status": status, "filename": "clip.mp4", **extra}


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    path = tmp_path / "clip.mp4"
    path.write_bytes(b"\x00\x01video-bytes" * 100)
    return path


# --------------------------------------------------------------------------- validation, before any request


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"source": ""}, "source must be"),
        ({"source": None}, "source must be"),
        ({"source": 42}, "source must be"),
        ({"source": "x.mp4", "method": "ftp"}, "method must be 'direct' or 'url'"),
        ({"source": "x.mp4", "multipart": "sometimes"}, "multipart must be True, False or 'auto'"),
        ({"source": "/data/x.mp4", "method": "url"}, "source must be an http"),
        ({"source": "x.mp4", "filename": "   "}, "filename must be"),
        ({"source": "x.mp4", "filename": "a" * 256}, "at most 255"),
        ({"source": "x.mp4", "enable_hls": "maybe"}, "enable_hls must be"),
        ({"source": "x.mp4", "enable_thumbnail": 3}, "enable_thumbnail must be"),
        ({"source": "x.mp4", "user_metadata": ["a"]}, "user_metadata must be a mapping"),
        ({"source": "x.mp4", "user_metadata": {1: "a"}}, "user_metadata keys must be strings"),
        ({"source": "x.mp4", "wait_for_ready": None}, "wait_for_ready must be"),
        ({"source": "x.mp4", "concurrency": 0}, "concurrency must be"),
        ({"source": "x.mp4", "concurrency": 65}, "concurrency must be"),
        ({"source": "x.mp4", "file_type": "document"}, "file_type must be one of"),
        ({"source": "x.mp4", "upload_options": {"speed": 11}}, "upload_options has unknown keys"),
    ],
)
def test_invalid_parameters_fail_before_any_request(
    server: RecordingServer, kwargs: dict[str, Any], message: str
) -> None:
    op = TwelveLabsUploadAssetOperator(task_id="upload", **kwargs)

    with pytest.raises(ValueError, match=message):
        op.execute(context())

    assert server.requests == []


def test_multipart_operator_validates_file_type_before_any_request(
    server: RecordingServer, clip: Path
) -> None:
    op = TwelveLabsMultipartUploadOperator(task_id="upload", source=str(clip), file_type="pdf")

    with pytest.raises(ValueError, match="file_type must be one of video, audio, image"):
        op.execute(context())

    assert server.requests == []


def test_a_missing_file_fails_before_any_request(server: RecordingServer, tmp_path: Path) -> None:
    op = TwelveLabsUploadAssetOperator(task_id="upload", source=str(tmp_path / "nope.mp4"))

    with pytest.raises(FileNotFoundError):
        op.execute(context())

    assert server.requests == []


def test_limits_are_the_documented_ones() -> None:
    assert MAX_DIRECT_UPLOAD_BYTES == 200_000_000
    assert MAX_URL_UPLOAD_BYTES == 4_000_000_000


def test_templated_fields() -> None:
    for cls in (TwelveLabsUploadAssetOperator, TwelveLabsMultipartUploadOperator):
        assert set(cls.template_fields) == {"source", "filename", "user_metadata"}


def test_importing_the_module_is_cheap_and_offline() -> None:
    code = (
        "import sys, socket\n"
        "def refuse(*a, **k): raise AssertionError('network call at import')\n"
        "socket.socket.connect = refuse\n"
        "import airflow_provider_twelvelabs.operators.assets\n"
        "print('airflow_provider_twelvelabs.testing' not in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


# --------------------------------------------------------------------------- the wire


def test_direct_upload_sends_the_documented_form(server: RecordingServer, clip: Path) -> None:
    server.on("POST", "assets", Reply(201, json=asset("processing")))
    server.on("GET", f"assets/{ASSET}", Reply(200, json=asset("ready")))
    ctx = context()
    op = TwelveLabsUploadAssetOperator(
        task_id="upload",
        source=str(clip),
        filename="renamed.mp4",
        enable_hls=False,
        enable_thumbnail=True,
        user_metadata={"show": "evening", "episode": 4},
        **FAST,
    )

    assert op.execute(ctx) == ASSET

    create = next(r for r in server.requests if r.method == "POST")
    form = create.form_dict()
    assert form["method"] == ["direct"]
    assert form["filename"] == ["renamed.mp4"]
    assert form["enable_hls"] == ["false"]
    assert form["enable_thumbnail"] == ["true"]
    assert json.loads(str(form["user_metadata"][0])) == {
        "show": "evening",
        "episode": 4,
        "twelvelabs_source": clip.as_uri(),
        "twelvelabs_size": clip.stat().st_size,
        "twelvelabs_sha256": hashlib.sha256(clip.read_bytes()).hexdigest(),
        "twelvelabs_job": job_tag(ctx),
    }
    part = form["file"][0]
    assert isinstance(part, FormFile)
    assert part.content == clip.read_bytes()
    assert part.content_type == "video/mp4"
    assert create.header("x-api-key") == API_KEY
    assert ctx["ti"].pushed["asset"]["status"] == "ready"
    assert ctx["ti"].pushed["asset_id"] == ASSET


def test_url_upload_sends_the_url_and_no_file(server: RecordingServer) -> None:
    server.on("POST", "assets", Reply(201, json=asset("ready", method="url")))
    url = f"{server.root_url}/public/talk.mp4?token=abc"
    op = TwelveLabsUploadAssetOperator(task_id="upload", source=url, method="url", **FAST)

    assert op.execute(context()) == ASSET

    create = next(r for r in server.requests if r.method == "POST")
    form = create.form_dict()
    assert form["method"] == ["url"]
    assert form["url"] == [url]
    assert "file" not in form


def test_a_failed_asset_fails_the_task_with_the_api_reason(server: RecordingServer, clip: Path) -> None:
    server.on("POST", "assets", Reply(201, json=asset("processing")))
    server.on("GET", f"assets/{ASSET}", Reply(200, json=asset("failed", error={"message": "unplayable"})))
    op = TwelveLabsUploadAssetOperator(task_id="upload", source=str(clip), **FAST)

    with pytest.raises(TwelveLabsResourceFailedError, match="unplayable"):
        op.execute(context())


def test_a_retry_does_not_reuse_a_failed_asset(server: RecordingServer, clip: Path) -> None:
    server.on("GET", f"assets/{OTHER}", Reply(200, json=asset("failed", OTHER, error={"message": "bad"})))
    server.on("POST", "assets", Reply(201, json=asset("ready")))
    store = StateStore({"uploaded_asset_id": OTHER})
    op = TwelveLabsUploadAssetOperator(task_id="upload", source=str(clip), **FAST)

    assert op.execute(context(store)) == ASSET
    assert store.values == {}
    assert [r.method for r in server.requests].count("POST") == 1


@needs_task_state_store
def test_a_retry_reuses_a_processing_asset_without_uploading(server: RecordingServer, clip: Path) -> None:
    server.on(
        "GET",
        f"assets/{OTHER}",
        Reply(200, json=asset("processing", OTHER)),
        Reply(200, json=asset("ready", OTHER)),
    )
    op = TwelveLabsUploadAssetOperator(task_id="upload", source=str(clip), **FAST)

    assert op.execute(context(StateStore({"uploaded_asset_id": OTHER}))) == OTHER
    assert all(r.method == "GET" for r in server.requests)
