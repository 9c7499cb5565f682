"""Cheap facts about uploaded media files: the duration of an MP4/MOV, read from its ``mvhd`` box.

Only box headers are read (a few seeks), never the media data, so this is safe on multi-GB files.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

__all__ = ["mp4_duration"]

_CONTAINERS = {b"moov"}
_MAX_BOXES = 10_000


def _boxes(handle: BinaryIO, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """Return ``(type, payload start, box end)`` of the boxes between ``start`` and ``end``."""
    found: list[tuple[bytes, int, int]] = []
    offset = start
    while offset + 8 <= end and len(found) < _MAX_BOXES:
        handle.seek(offset)
        header = handle.read(8)
        if len(header) < 8:
            break
        size, kind = struct.unpack(">I4s", header)
        payload = offset + 8
        if size == 1:
            large = handle.read(8)
            if len(large) < 8:
                break
            size = struct.unpack(">Q", large)[0]
            payload += 8
        elif size == 0:
            size = end - offset
        if size < payload - offset:
            break  # corrupt box header: stop rather than loop
        found.append((kind, payload, offset + size))
        offset += size
    return found


def mp4_duration(path: Path) -> float | None:
    """Return the duration in seconds of an MP4/MOV file, or ``None`` if it is not one.

    :param path: the file to inspect.
    """
    try:
        with path.open("rb") as handle:
            end = handle.seek(0, 2)
            top = _boxes(handle, 0, end)
            if not top or top[0][0] not in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip"):
                return None
            for kind, payload, box_end in top:
                if kind not in _CONTAINERS:
                    continue
                for child, child_payload, _ in _boxes(handle, payload, box_end):
                    if child != b"mvhd":
                        continue
                    handle.seek(child_payload)
                    version = handle.read(1)
                    if not version:
                        return None
                    if version[0] == 1:
                        handle.seek(child_payload + 4 + 16)
                        timescale, duration = struct.unpack(">IQ", handle.read(12))
                    else:
                        handle.seek(child_payload + 4 + 8)
                        timescale, duration = struct.unpack(">II", handle.read(8))
                    if timescale == 0:
                        return None
                    return round(duration / timescale, 3)
    except (OSError, struct.error):
        return None
    return None
