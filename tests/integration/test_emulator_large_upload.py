"""A 2 GiB multipart upload through the CLI-started emulator keeps its resident memory under 300 MB.

The data is generated on the fly (never a 2 GiB file or buffer on the client side) and streamed to the
presigned URLs; the emulator's RSS is sampled throughout.
"""

from __future__ import annotations

import hashlib
import struct
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil
import pytest

from airflow_provider_twelvelabs.testing.emulator.process import EmulatorProcess

# About 30 s on 2 cores: still in the default run; deselect with -m "not slow".
pytestmark = [pytest.mark.integration, pytest.mark.slow]

TOTAL = 2 * 1024**3
CHUNK = 64 * 1024**2
PIECE = 1024**2
RSS_LIMIT = 300 * 1024**2
API_KEY = "big-upload-key"
_BLOCK = hashlib.sha256(b"emulator-large-upload").digest() * (PIECE // 32)


def chunk_pieces(index: int, size: int) -> Iterator[bytes]:
    """Yield chunk ``index`` (1-based) piece by piece: 1 MiB blocks stamped with their position."""
    for piece in range(0, size, PIECE):
        stamp = struct.pack(">QQ", index, piece)
        yield (stamp + _BLOCK[len(stamp) :])[: min(PIECE, size - piece)]


def test_two_gib_multipart_upload_keeps_emulator_rss_low(tmp_path: Path) -> None:
    emulator = EmulatorProcess(api_key=API_KEY, data_dir=tmp_path, chunk_size=CHUNK).start()
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        watched = psutil.Process(emulator.pid)
        while not stop.is_set():
            try:
                peak = max(peak, watched.memory_info().rss)
            except psutil.NoSuchProcess:
                return
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        base_url, root = emulator.base_url, emulator.url
        headers = {"x-api-key": API_KEY}
        with httpx.Client(base_url=base_url, headers=headers, timeout=300) as api:
            session = api.post(
                "/assets/multipart-uploads",
                json={"filename": "huge.mp4", "type": "video", "total_size": TOTAL},
            ).json()
            total_chunks = session["total_chunks"]
            assert total_chunks == TOTAL // CHUNK
            urls = api.post(
                f"/assets/multipart-uploads/{session['upload_id']}/presigned-urls",
                json={"start": 1, "count": total_chunks},
            ).json()["upload_urls"]

            def upload(item: dict[str, object]) -> tuple[int, str, int]:
                index = int(str(item["chunk_index"]))
                size = min(CHUNK, TOTAL - (index - 1) * CHUNK)
                response = httpx.put(
                    str(item["url"]),
                    content=chunk_pieces(index, size),
                    headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
                    timeout=300,
                )
                assert response.status_code == 200, response.text
                return index, response.headers["ETag"], size

            with ThreadPoolExecutor(max_workers=4) as pool:
                reported = list(pool.map(upload, urls))
            for start in range(0, len(reported), 50):
                batch = reported[start : start + 50]
                body = {
                    "completed_chunks": [
                        {"chunk_index": i, "proof": etag, "proof_type": "etag", "chunk_size": size}
                        for i, etag, size in batch
                    ]
                }
                result = api.post(f"/assets/multipart-uploads/{session['upload_id']}", json=body).json()
            assert result["total_completed"] == total_chunks and result["url"]

        expected = hashlib.md5()
        for index in range(1, total_chunks + 1):
            for piece in chunk_pieces(index, CHUNK):
                expected.update(piece)
        held = httpx.get(f"{root}/_emulator/assets/{session['asset_id']}", timeout=300).json()
        assert held["size"] == TOTAL
        assert held["md5"] == expected.hexdigest()
    finally:
        stop.set()
        sampler.join(timeout=5)
        emulator.stop(timeout=30)
    print(f"emulator peak RSS {peak / 1024**2:.0f} MB")
    assert 0 < peak < RSS_LIMIT, f"emulator peak RSS {peak / 1024**2:.0f} MB"
