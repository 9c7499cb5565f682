"""The upload operators against the emulator served on 127.0.0.1 (real HTTP, real waiting)."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import fsspec
import httpx
import pytest
from airflow.providers.common.compat.sdk import TaskDeferred

from airflow_provider_twelvelabs.hooks.multipart import UploadProgress
from airflow_provider_twelvelabs.operators.assets import (
    TwelveLabsMultipartUploadOperator,
    TwelveLabsUploadAssetOperator,
)
from airflow_provider_twelvelabs.operators.base import job_tag
from airflow_provider_twelvelabs.testing.emulator.config import EmulatorConfig
from airflow_provider_twelvelabs.testing.emulator.server import RunningEmulator
from tests.helpers.airflow_fakes import RecordingTI, StateStore
from tests.helpers.airflow_fakes import task_context as try_context
from tests.helpers.airflow_versions import needs_task_state_store
from tests.integration.compute_support import stored_md5
from tests.integration.compute_support import write_random_file as write

pytestmark = pytest.mark.integration

CHUNK = 16 * 1024
FAST = {"poll_interval": 0.05, "poll_max_interval": 0.1, "deferrable": False}


@pytest.fixture
def twelvelabs_emulator_config() -> EmulatorConfig:
    return EmulatorConfig(chunk_size=CHUNK, initial_presigned_urls=2)


@pytest.fixture
def emulator(twelvelabs_connection: RunningEmulator) -> RunningEmulator:
    return twelvelabs_connection


def api_requests(emulator: RunningEmulator) -> list[tuple[str, str]]:
    entries = httpx.get(f"{emulator.url}/_emulator/requests").json()["data"]
    return [(e["method"], e["path"]) for e in entries if not e["path"].startswith("/_emulator")]


def chunk_puts(emulator: RunningEmulator) -> list[int]:
    return [int(p.rsplit("/", 1)[-1]) for m, p in api_requests(emulator) if m == "PUT"]


def clear_log(emulator: RunningEmulator) -> None:
    httpx.delete(f"{emulator.url}/_emulator/requests")


class Killed(Exception):
    """Stands for the worker dying."""


class SmallLimits(TwelveLabsUploadAssetOperator):
    """The operator with a 40 KB direct-upload limit, so 'above the limit' needs no 200 MB file."""

    max_direct_upload_bytes = 40_000


# --------------------------------------------------------------------------- direct and URL


def test_direct_upload_waits_for_ready_and_pushes_the_asset(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    source = tmp_path / "clip.mp4"
    md5 = write(source, 10_000)
    context = try_context(StateStore())
    op = TwelveLabsUploadAssetOperator(
        task_id="upload", source=str(source), user_metadata={"team": "news"}, **FAST
    )

    asset_id = op.execute(context)

    pushed = context["ti"].pushed
    assert pushed["asset_id"] == asset_id
    assert pushed["asset"]["id"] == asset_id
    assert pushed["asset"]["status"] == "ready"
    assert pushed["asset"]["filename"] == "clip.mp4"
    # The user's metadata, with the content key the operator adds (dedupe="content" by default)
    # and the task instance's tag (what finds an upload whose answer was lost).
    assert pushed["asset"]["user_metadata"] == {
        "team": "news",
        "twelvelabs_source": source.as_uri(),
        "twelvelabs_size": source.stat().st_size,
        "twelvelabs_sha256": hashlib.sha256(source.read_bytes()).hexdigest(),
        "twelvelabs_job": job_tag(context),
    }
    assert stored_md5(emulator, asset_id) == md5


class DiesBeforeWaiting(RecordingTI):
    """A first try whose worker dies right after the upload, as it starts waiting."""

    def xcom_push(self, key: str, value: Any) -> None:
        if key == "asset_id":
            raise Killed
        super().xcom_push(key, value)


def test_a_retry_reuses_the_asset_of_the_first_try(emulator: RunningEmulator, tmp_path: Path) -> None:
    source = tmp_path / "once.mp4"
    write(source, 5_000)
    store = StateStore()
    op = TwelveLabsUploadAssetOperator(task_id="upload", source=str(source), **FAST)
    with pytest.raises(Killed):
        op.execute({"ti": DiesBeforeWaiting(), "task_state_store": store})

    asset_id = op.execute(try_context(store))

    assert api_requests(emulator).count(("POST", "/v1.3/assets")) == 1
    assert stored_md5(emulator, asset_id)
    # Success forgets the retry memory: a deliberate re-run uploads afresh.
    assert store.values == {}


def test_direct_upload_from_an_fsspec_memory_path(emulator: RunningEmulator) -> None:
    fs = fsspec.filesystem("memory")
    fs.pipe_file("/media/mem.mp4", b"m" * 3000)
    try:
        op = TwelveLabsUploadAssetOperator(task_id="upload", source="memory://media/mem.mp4", **FAST)
        asset_id = op.execute(try_context(StateStore()))
    finally:
        fs.rm("/media/mem.mp4")
    assert stored_md5(emulator, asset_id) == hashlib.md5(b"m" * 3000).hexdigest()


def test_url_upload_lets_the_platform_fetch(emulator: RunningEmulator) -> None:
    context = try_context(StateStore())
    op = TwelveLabsUploadAssetOperator(
        task_id="upload", source="https://example.invalid/videos/talk.mp4", method="url", **FAST
    )

    asset_id = op.execute(context)

    assert context["ti"].pushed["asset"]["filename"] == "talk.mp4"
    assert context["ti"].pushed["asset"]["method"] == "url"
    assert asset_id == context["ti"].pushed["asset"]["id"]


@pytest.fixture
def huge_url() -> Iterator[str]:
    """A public URL whose HEAD announces 5 GB."""

    class Handler(BaseHTTPRequestHandler):
        def do_HEAD(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(5 * 10**9))
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/archive/huge.mp4"
    finally:
        server.shutdown()
        server.server_close()


def test_url_above_4_gb_names_the_limit_and_the_multipart_operator(
    emulator: RunningEmulator, huge_url: str
) -> None:
    op = TwelveLabsUploadAssetOperator(task_id="upload", source=huge_url, method="url", **FAST)

    with pytest.raises(ValueError, match=r"4,000\.0 MB.*TwelveLabsMultipartUploadOperator"):
        op.execute(try_context(StateStore()))

    assert api_requests(emulator) == []


# --------------------------------------------------------------------------- limits and multipart


def test_above_the_direct_limit_names_the_limit_and_the_multipart_operator(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    source = tmp_path / "big.mp4"
    write(source, 50_000)
    op = SmallLimits(task_id="upload", source=str(source), **FAST)

    with pytest.raises(ValueError, match=r"limited to 0\.0 MB.*TwelveLabsMultipartUploadOperator.*auto"):
        op.execute(try_context(StateStore()))

    assert api_requests(emulator) == []


def test_multipart_auto_switches_above_the_limit(emulator: RunningEmulator, tmp_path: Path) -> None:
    source = tmp_path / "big.mp4"
    md5 = write(source, 50_000)
    context = try_context(StateStore())
    op = SmallLimits(task_id="upload", source=str(source), multipart="auto", **FAST)

    asset_id = op.execute(context)

    assert stored_md5(emulator, asset_id) == md5
    assert ("POST", "/v1.3/assets") not in api_requests(emulator)
    assert len(chunk_puts(emulator)) == 4
    assert context["ti"].pushed["asset"]["method"] == "multipart"
    assert context["ti"].pushed["multipart_upload"]["upload_id"]


def test_multipart_true_forces_it_for_a_small_file(emulator: RunningEmulator, tmp_path: Path) -> None:
    source = tmp_path / "small.mp4"
    md5 = write(source, 1_000)
    op = TwelveLabsUploadAssetOperator(task_id="upload", source=str(source), multipart=True, **FAST)

    asset_id = op.execute(try_context(StateStore()))

    assert stored_md5(emulator, asset_id) == md5
    assert chunk_puts(emulator) == [1]


def test_an_empty_file_fails_before_any_request(emulator: RunningEmulator, tmp_path: Path) -> None:
    source = tmp_path / "empty.mp4"
    source.write_bytes(b"")
    for op in (
        TwelveLabsUploadAssetOperator(task_id="direct", source=str(source), **FAST),
        TwelveLabsMultipartUploadOperator(task_id="multipart", source=str(source), **FAST),
    ):
        with pytest.raises(ValueError, match="empty"):
            op.execute(try_context(StateStore()))
    assert api_requests(emulator) == []


# --------------------------------------------------------------------------- multipart operator


def test_multipart_operator_resumes_after_a_crash_and_sends_only_missing_chunks(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    source = tmp_path / "long.mp4"
    md5 = write(source, 24 * CHUNK)
    store = StateStore()

    def die_after_10(progress: UploadProgress) -> None:
        if progress.chunks_done >= 10:
            raise Killed

    crashing = TwelveLabsMultipartUploadOperator(
        task_id="upload",
        source=str(source),
        concurrency=2,
        upload_options={"report_interval": 0, "progress_callback": die_after_10},
        **FAST,
    )
    with pytest.raises(Killed):
        crashing.execute(try_context(store))
    first_puts = chunk_puts(emulator)
    checkpoint = store.values["multipart_upload"]
    clear_log(emulator)

    retry = TwelveLabsMultipartUploadOperator(task_id="upload", source=str(source), concurrency=2, **FAST)
    context = try_context(store)
    asset_id = retry.execute(context)

    assert asset_id == checkpoint["asset_id"]
    assert stored_md5(emulator, asset_id) == md5
    second_puts = chunk_puts(emulator)
    assert len(second_puts) <= 24 - 8
    assert set(first_puts) | set(second_puts) == set(range(1, 25))
    assert ("POST", "/v1.3/assets/multipart-uploads") not in api_requests(emulator)
    assert context["ti"].pushed["asset"]["status"] == "ready"


@needs_task_state_store
def test_multipart_operator_retry_after_completion_uploads_nothing(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    source = tmp_path / "done.wav"
    write(source, 3 * CHUNK)
    store = StateStore()
    op = TwelveLabsMultipartUploadOperator(task_id="upload", source=str(source), file_type="audio", **FAST)
    with pytest.raises(Killed):
        op.execute({"ti": DiesBeforeWaiting(), "task_state_store": store})
    first = store.values["uploaded_asset_id"]
    clear_log(emulator)

    second = op.execute(try_context(store))

    assert first == second
    assert chunk_puts(emulator) == []
    assert ("POST", "/v1.3/assets/multipart-uploads") not in api_requests(emulator)


def test_deferrable_upload_defers_then_completes(emulator: RunningEmulator, tmp_path: Path) -> None:
    source = tmp_path / "deferred.mp4"
    write(source, 2_000)
    context = try_context(StateStore())
    op = TwelveLabsMultipartUploadOperator(
        task_id="upload", source=str(source), deferrable=True, poll_interval=0.05
    )

    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context)

    trigger = deferred.value.trigger
    _, kwargs = trigger.serialize()
    assert kwargs["kind"] == "asset"
    asset_id = context["ti"].pushed["asset_id"]
    assert kwargs["resource_id"] == asset_id
    assert "api_key" not in json.dumps(kwargs, default=str)
    resource = {"id": asset_id, "status": "ready", "filename": "deferred.mp4"}
    assert (
        op.execute_complete(context, {"status": "success", "kind": "asset", "resource": resource}) == asset_id
    )
    assert context["ti"].pushed["asset"] == resource


def test_without_waiting_the_processing_asset_is_returned(emulator: RunningEmulator, tmp_path: Path) -> None:
    source = tmp_path / "nowait.mp4"
    write(source, 2_000)
    context = try_context(StateStore())
    op = TwelveLabsUploadAssetOperator(task_id="upload", source=str(source), wait_for_ready=False, **FAST)

    asset_id = op.execute(context)

    assert context["ti"].pushed["asset"]["id"] == asset_id
    assert context["ti"].pushed["asset"]["status"] == "processing"
