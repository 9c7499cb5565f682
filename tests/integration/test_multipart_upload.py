"""TwelveLabsHook.multipart_upload against the emulator served on 127.0.0.1 (real HTTP).

Every test checks what a user would see: the MD5 of the bytes the emulator holds for the asset
equals the source's, and the emulator's request log shows what was sent (how many PUTs, reports,
presigned URL batches). Chunks are small (16 KiB) so that many-chunk uploads stay fast.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import fsspec
import httpx
import pytest

from airflow_provider_twelvelabs.exceptions import TwelveLabsUploadError
from airflow_provider_twelvelabs.hooks.multipart import MultipartCheckpoint, UploadProgress
from airflow_provider_twelvelabs.hooks.twelvelabs import TwelveLabsHook
from airflow_provider_twelvelabs.testing.emulator.config import EmulatorConfig
from airflow_provider_twelvelabs.testing.emulator.server import RunningEmulator

pytestmark = pytest.mark.integration

CHUNK = 16 * 1024
#: Fast retries, so fault tests take milliseconds per retry.
FAST = {"retry_base_delay": 0.01, "retry_max_delay": 0.05}


@pytest.fixture
def config() -> EmulatorConfig:
    return EmulatorConfig(chunk_size=CHUNK, initial_presigned_urls=3)


@pytest.fixture
def twelvelabs_emulator_config(config: EmulatorConfig) -> EmulatorConfig:
    return config


@pytest.fixture
def emulator(twelvelabs_connection: RunningEmulator) -> RunningEmulator:
    return twelvelabs_connection


@pytest.fixture
def hook(emulator: RunningEmulator) -> Iterator[TwelveLabsHook]:
    with TwelveLabsHook(max_retries=2) as h:
        yield h


def write(path: Path, size: int, seed: int = 1) -> str:
    data = random_bytes(size, seed)
    path.write_bytes(data)
    return hashlib.md5(data).hexdigest()


def random_bytes(size: int, seed: int = 1) -> bytes:
    # Deterministic and incompressible enough: chunks differ, so a misplaced chunk changes the MD5.
    out = bytearray()
    block = hashlib.sha256(str(seed).encode()).digest()
    while len(out) < size:
        block = hashlib.sha256(block).digest()
        out += block
    return bytes(out[:size])


def stored(emulator: RunningEmulator, asset_id: str) -> dict[str, Any]:
    return httpx.get(f"{emulator.url}/_emulator/assets/{asset_id}").json()


def log_entries(emulator: RunningEmulator) -> list[dict[str, Any]]:
    return httpx.get(f"{emulator.url}/_emulator/requests").json()["data"]


def clear_log(emulator: RunningEmulator) -> None:
    httpx.delete(f"{emulator.url}/_emulator/requests")


def puts(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in entries if e["method"] == "PUT" and e["path"].startswith("/_presigned/")]


def chunk_of(entry: dict[str, Any]) -> int:
    return int(entry["path"].rsplit("/", 1)[-1])


def reports(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        e
        for e in entries
        if e["method"] == "POST" and e["path"].count("/") == 4 and "/multipart-uploads/" in e["path"]
    ]


def url_batches(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in entries if e["method"] == "POST" and e["path"].endswith("/presigned-urls")]


def assert_urls_used_once(entries: list[dict[str, Any]]) -> None:
    signatures = [parse_qs(e["query"])["sig"][0] for e in puts(entries)]
    assert len(signatures) == len(set(signatures)), "a presigned URL was used twice"


@pytest.mark.parametrize(
    ("size", "chunks"),
    [
        pytest.param(1000, 1, id="one-chunk"),
        pytest.param(2 * CHUNK + 123, 3, id="three-chunks"),
        pytest.param(4 * CHUNK, 4, id="exact-multiple"),
    ],
)
def test_upload_stores_the_exact_bytes(
    hook: TwelveLabsHook, emulator: RunningEmulator, tmp_path: Path, size: int, chunks: int
) -> None:
    source = tmp_path / "clip.mp4"
    md5 = write(source, size)

    asset = hook.multipart_upload(str(source), concurrency=4)

    assert stored(emulator, asset.id) == {"asset_id": asset.id, "size": size, "md5": md5, "stored": True}
    assert asset.filename == "clip.mp4"
    entries = log_entries(emulator)
    assert sorted(chunk_of(e) for e in puts(entries)) == list(range(1, chunks + 1))
    assert all(e["status"] == 200 for e in puts(entries))


def test_many_chunks_use_batches_of_at_most_50_while_uploading(
    hook: TwelveLabsHook, emulator: RunningEmulator, tmp_path: Path
) -> None:
    source = tmp_path / "long.mp4"
    md5 = write(source, 130 * CHUNK - 7)
    seen: list[tuple[int, int]] = []

    def progress(p: UploadProgress) -> None:
        # How many report calls the emulator had seen when the 110th chunk completed.
        if p.chunks_done == 110:
            seen.append((p.chunks_done, len(reports(log_entries(emulator)))))

    asset = hook.multipart_upload(source, concurrency=6, progress_callback=progress)

    assert stored(emulator, asset.id)["md5"] == md5
    entries = log_entries(emulator)
    assert len(puts(entries)) == 130
    # 3 URLs came with the session; 127 more in batches of at most 50.
    batches = url_batches(entries)
    assert 3 <= len(batches) <= 5
    assert len(reports(entries)) >= 3
    # Reports went out while chunks were still being uploaded, not only at the end.
    assert any(done < 130 and calls > 0 for done, calls in seen)
    assert_urls_used_once(entries)


def test_empty_file_is_refused_before_any_request(
    hook: TwelveLabsHook, emulator: RunningEmulator, tmp_path: Path
) -> None:
    source = tmp_path / "empty.mp4"
    source.write_bytes(b"")

    with pytest.raises(ValueError, match="empty"):
        hook.multipart_upload(source)

    assert [e for e in log_entries(emulator) if e["path"].startswith("/v1.3")] == []


def test_fsspec_memory_source(hook: TwelveLabsHook, emulator: RunningEmulator) -> None:
    data = random_bytes(5 * CHUNK + 99, seed=7)
    fs = fsspec.filesystem("memory")
    fs.pipe_file("/uploads/in-memory.mov", data)
    try:
        asset = hook.multipart_upload("memory://uploads/in-memory.mov", concurrency=3)
    finally:
        fs.rm("/uploads/in-memory.mov")

    assert stored(emulator, asset.id)["md5"] == hashlib.md5(data).hexdigest()
    assert asset.filename == "in-memory.mov"


@pytest.mark.parametrize("config", [EmulatorConfig(chunk_size=CHUNK, early_expiry_rate=0.3, seed=3)])
def test_urls_expired_early_are_replaced_not_reused(
    hook: TwelveLabsHook, emulator: RunningEmulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    source = tmp_path / "expiring.mp4"
    md5 = write(source, 40 * CHUNK)
    caplog.set_level(logging.DEBUG)

    asset = hook.multipart_upload(source, concurrency=4, max_chunk_attempts=12, **FAST)

    assert stored(emulator, asset.id)["md5"] == md5
    entries = log_entries(emulator)
    assert any(e["status"] == 403 for e in puts(entries)), "the switch expired no URL"
    assert_urls_used_once(entries)
    assert "sig=" not in caplog.text
    assert emulator.api_key not in caplog.text


@pytest.mark.parametrize(
    "config", [EmulatorConfig(chunk_size=CHUNK, initial_presigned_urls=50, presigned_url_ttl_seconds=2)]
)
def test_urls_are_replaced_before_they_expire(
    hook: TwelveLabsHook, emulator: RunningEmulator, tmp_path: Path
) -> None:
    source = tmp_path / "slow.mp4"
    md5 = write(source, 8 * CHUNK)
    # The session hands out every URL at once; a slow consumer then outlives them (TTL 2 s).
    slow = lambda _progress: __import__("time").sleep(0.4)  # noqa: E731

    asset = hook.multipart_upload(source, concurrency=1, progress_callback=slow)

    assert stored(emulator, asset.id)["md5"] == md5
    entries = log_entries(emulator)
    # No PUT was ever refused: URLs were replaced before expiry, not after a failure...
    assert [e["status"] for e in puts(entries)] == [200] * 8
    # ...which took fresh URLs, although the first answer covered every chunk.
    assert len(url_batches(entries)) >= 1


@pytest.mark.parametrize("config", [EmulatorConfig(chunk_size=CHUNK, chunk_failure_rate=0.2, seed=11)])
def test_failed_chunk_puts_are_retried_on_fresh_urls(
    hook: TwelveLabsHook, emulator: RunningEmulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    source = tmp_path / "flaky.mp4"
    md5 = write(source, 50 * CHUNK + 1)
    caplog.set_level(logging.DEBUG)

    asset = hook.multipart_upload(source, concurrency=5, max_chunk_attempts=15, **FAST)

    assert stored(emulator, asset.id)["md5"] == md5
    entries = log_entries(emulator)
    failed = [e for e in puts(entries) if e["status"] == 500]
    assert failed, "the switch failed no chunk"
    assert len(puts(entries)) == 51 + len(failed)
    assert_urls_used_once(entries)
    assert "retrying on a fresh URL" in caplog.text
    assert "sig=" not in caplog.text
    assert emulator.api_key not in caplog.text


@pytest.mark.parametrize("config", [EmulatorConfig(chunk_size=CHUNK, chunk_failure_rate=1.0)])
def test_a_chunk_failing_every_attempt_names_the_chunk_not_the_url(
    hook: TwelveLabsHook, emulator: RunningEmulator, tmp_path: Path
) -> None:
    source = tmp_path / "doomed.mp4"
    write(source, CHUNK)

    with pytest.raises(TwelveLabsUploadError) as caught:
        hook.multipart_upload(source, concurrency=1, max_chunk_attempts=3, **FAST)

    message = str(caught.value)
    assert "Chunk 1 of 1" in message
    assert "3 times" in message
    assert "sig=" not in message and "expires=" not in message
    assert len(puts(log_entries(emulator))) == 3


class Killed(Exception):
    """Stands for the worker dying mid-upload."""


def test_a_retry_after_a_crash_sends_only_the_missing_chunks(
    hook: TwelveLabsHook, emulator: RunningEmulator, tmp_path: Path
) -> None:
    source = tmp_path / "big.mp4"
    total = 30
    md5 = write(source, total * CHUNK - 5)
    kept: list[dict[str, Any]] = []

    def die_after_12(progress: UploadProgress) -> None:
        if progress.chunks_done >= 12:
            raise Killed

    with pytest.raises(Killed):
        hook.multipart_upload(
            source,
            concurrency=3,
            report_interval=0,
            progress_callback=die_after_12,
            on_session=lambda checkpoint: kept.append(checkpoint.to_dict()),
        )
    assert len(kept) == 1
    checkpoint = MultipartCheckpoint.from_dict(json.loads(json.dumps(kept[0])))
    assert checkpoint is not None
    status = hook.get_multipart_upload_status(checkpoint.upload_id, page_limit=50)
    done = {c.index for c in status.uploaded_chunks or [] if c.status == "completed"}
    assert 10 <= len(done) < total
    clear_log(emulator)

    asset = hook.multipart_upload(source, resume=checkpoint, concurrency=3)

    assert asset.id == checkpoint.asset_id
    assert stored(emulator, asset.id)["md5"] == md5
    resent = sorted(chunk_of(e) for e in puts(log_entries(emulator)))
    assert resent == sorted(set(range(1, total + 1)) - done)
    # The retry found the session again instead of opening a second one.
    assert not [e for e in log_entries(emulator) if e["method"] == "POST" and e["path"].endswith("uploads")]


def test_resuming_a_finished_upload_sends_nothing(
    hook: TwelveLabsHook, emulator: RunningEmulator, tmp_path: Path
) -> None:
    source = tmp_path / "done.mp4"
    write(source, 3 * CHUNK)
    kept: list[MultipartCheckpoint] = []
    first = hook.multipart_upload(source, on_session=kept.append)
    clear_log(emulator)

    again = hook.multipart_upload(source, resume=kept[0].to_dict())

    assert again.id == first.id
    assert puts(log_entries(emulator)) == []


def test_a_checkpoint_for_another_file_opens_a_new_session(
    hook: TwelveLabsHook, emulator: RunningEmulator, tmp_path: Path
) -> None:
    first_file, second_file = tmp_path / "a.mp4", tmp_path / "b.mp4"
    write(first_file, 2 * CHUNK)
    md5 = write(second_file, 3 * CHUNK, seed=2)
    kept: list[MultipartCheckpoint] = []
    hook.multipart_upload(first_file, on_session=kept.append)

    asset = hook.multipart_upload(second_file, resume=kept[0])

    assert asset.id != kept[0].asset_id
    assert stored(emulator, asset.id)["md5"] == md5


def test_progress_is_logged_with_rate_and_eta_and_a_summary(
    hook: TwelveLabsHook, emulator: RunningEmulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    source = tmp_path / "logged.mp4"
    write(source, 6 * CHUNK)
    caplog.set_level(logging.INFO, logger="airflow_provider_twelvelabs")
    slow = lambda _progress: __import__("time").sleep(0.06)  # noqa: E731

    hook.multipart_upload(source, concurrency=1, progress_interval=0.05, progress_callback=slow)

    text = caplog.text
    assert "%" in text and "MiB" in text and "MB/s" in text and "ETA" in text
    assert "complete: " in text
    assert "sig=" not in text


def test_the_chunk_puts_carry_no_api_key(
    hook: TwelveLabsHook, emulator: RunningEmulator, tmp_path: Path
) -> None:
    source = tmp_path / "keyless.mp4"
    write(source, 2 * CHUNK)
    seen: list[dict[str, str]] = []
    original = hook.put_chunk

    def spy(url: str, data: bytes, **kwargs: Any) -> str:
        client = kwargs["client"]
        seen.append({k.lower(): v for k, v in client.headers.items()})
        return original(url, data, **kwargs)

    hook.put_chunk = spy  # type: ignore[method-assign]
    hook.multipart_upload(source)

    assert len(seen) == 2
    assert all("x-api-key" not in headers for headers in seen)


def test_unreadable_source_fails_before_any_request(
    hook: TwelveLabsHook, emulator: RunningEmulator, tmp_path: Path
) -> None:
    with pytest.raises(FileNotFoundError):
        hook.multipart_upload(tmp_path / "missing.mp4")
    assert [e for e in log_entries(emulator) if e["path"].startswith("/v1.3")] == []
    assert not os.listdir(tmp_path)


KILLER = """
import json, os, signal, sys
from airflow_provider_twelvelabs.hooks.twelvelabs import TwelveLabsHook

source, checkpoint_file, kill_after = sys.argv[1], sys.argv[2], int(sys.argv[3])

def keep(checkpoint):
    with open(checkpoint_file, "w") as handle:
        json.dump(checkpoint.to_dict(), handle)

def die(progress):
    if progress.chunks_done >= kill_after:
        os.kill(os.getpid(), signal.SIGKILL)

TwelveLabsHook().multipart_upload(
    source, concurrency=2, report_interval=0, on_session=keep, progress_callback=die
)
"""


def test_a_worker_killed_with_sigkill_is_resumed_from_its_checkpoint(
    hook: TwelveLabsHook, emulator: RunningEmulator, tmp_path: Path
) -> None:
    source = tmp_path / "killed.mp4"
    total = 20
    md5 = write(source, total * CHUNK)
    checkpoint_file = tmp_path / "checkpoint.json"

    killed = subprocess.run(
        [sys.executable, "-c", KILLER, str(source), str(checkpoint_file), "8"],
        env=os.environ.copy(),
        capture_output=True,
        timeout=120,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()[-2000:]
    before = puts(log_entries(emulator))
    assert 8 <= len(before) < total
    clear_log(emulator)

    asset = hook.multipart_upload(source, resume=json.loads(checkpoint_file.read_text()))

    assert stored(emulator, asset.id)["md5"] == md5
    again = sorted(chunk_of(e) for e in puts(log_entries(emulator)))
    # Only chunks the API did not count as completed went out again: never all of them.
    assert len(again) <= total - 6
    assert set(again) | {chunk_of(e) for e in before} == set(range(1, total + 1))


def test_an_object_storage_path_source(
    hook: TwelveLabsHook, emulator: RunningEmulator, tmp_path: Path
) -> None:
    from airflow.providers.common.compat.sdk import ObjectStoragePath

    source = tmp_path / "osp.mp4"
    md5 = write(source, 3 * CHUNK + 5)

    asset = hook.multipart_upload(ObjectStoragePath(f"file://{source}"))

    assert stored(emulator, asset.id)["md5"] == md5
    assert asset.filename == "osp.mp4"
