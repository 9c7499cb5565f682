"""Real durations of uploaded MP4/MOV files."""

from __future__ import annotations

import struct
from pathlib import Path

import httpx
import pytest

from airflow_provider_twelvelabs.testing.emulator.media import mp4_duration
from tests.unit.emulator.conftest import poll


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def mvhd(timescale: int, duration: int, version: int = 0) -> bytes:
    if version == 1:
        times = struct.pack(">QQIQ", 0, 0, timescale, duration)
    else:
        times = struct.pack(">IIII", 0, 0, timescale, duration)
    return box(b"mvhd", bytes([version, 0, 0, 0]) + times + b"\0" * 80)


def mp4(timescale: int, duration: int, *, version: int = 0, moov_last: bool = False) -> bytes:
    ftyp = box(b"ftyp", b"isom\0\0\x02\0isomiso2")
    moov = box(b"moov", mvhd(timescale, duration, version))
    mdat = box(b"mdat", b"\0" * 1000)
    return ftyp + (mdat + moov if moov_last else moov + mdat)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (mp4(1000, 12_500), 12.5),
        (mp4(90_000, 90_000 * 3600, version=1), 3600.0),
        (mp4(600, 1234, moov_last=True), 2.057),
        (b"not a video at all", None),
        (box(b"ftyp", b"isom") + box(b"moov", b""), None),
        (mp4(0, 10), None),
    ],
)
def test_mp4_duration(tmp_path: Path, content: bytes, expected: float | None) -> None:
    path = tmp_path / "v.mp4"
    path.write_bytes(content)
    assert mp4_duration(path) == expected


def test_uploaded_mp4_gets_its_real_duration(api: httpx.Client) -> None:
    files = {"file": ("real.mp4", mp4(1000, 42_000), "video/mp4")}
    asset_id = api.post("/assets", data={"method": "direct"}, files=files).json()["_id"]
    poll(api, f"/assets/{asset_id}")
    assert api.get(f"/assets/{asset_id}").json()["duration"] == 42.0
