"""Cheap facts about uploaded media files: what container they are, and an MP4/MOV's duration.

Only box headers and a few leading bytes are read (a few seeks), never the media data, so this is
safe on multi-GB files. The MP4/MOV duration comes from the ``mvhd`` box of ``moov`` (ISO BMFF,
ISO/IEC 14496-12): ``duration / timescale``.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO, Literal

__all__ = ["MediaKind", "media_kind", "mp4_duration"]

#: What :func:`media_kind` can say about a file.
MediaKind = Literal["video", "audio", "not_media", "unknown"]

_CONTAINERS = {b"moov"}
_MAX_BOXES = 10_000
# Boxes that may open an ISO BMFF file (MP4, MOV, M4V, 3GP).
_FIRST_BOXES = (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip", b"pnot")
# Leading bytes of containers FFmpeg reads as video, and of audio formats.
_VIDEO_MAGIC = (
    b"\x1a\x45\xdf\xa3",  # Matroska / WebM
    b"FLV",
    b"\x30\x26\xb2\x75\x8e\x66\xcf\x11",  # ASF / WMV
    b"\x00\x00\x01\xba",  # MPEG program stream
)
_AUDIO_MAGIC = (b"ID3", b"fLaC", b"OggS", b"\xff\xfb", b"\xff\xf3", b"\xff\xf2")
# Leading bytes of common files that are certainly not media.
_OTHER_MAGIC = (
    b"%PDF",
    b"\x89PNG",
    b"\xff\xd8\xff",  # JPEG
    b"GIF8",
    b"PK\x03\x04",  # ZIP, DOCX, XLSX
    b'{"',  # JSON, for example an API error saved under a video name
    b"[{",
    b"<!doctype",
    b"<html",
    b"<?xml",
)


def _boxes(handle: BinaryIO, start: int, end: int) -> list[tuple[bytes, int, int]] | None:
    """Return ``(type, payload start, box end)`` of the boxes between ``start`` and ``end``.

    :return: ``None`` when a box header is corrupt or a box runs past ``end`` (a truncated file).
    """
    found: list[tuple[bytes, int, int]] = []
    offset = start
    while offset < end and len(found) < _MAX_BOXES:
        if offset + 8 > end:
            return None
        handle.seek(offset)
        header = handle.read(8)
        if len(header) < 8:
            return None
        size, kind = struct.unpack(">I4s", header)
        payload = offset + 8
        if size == 1:
            large = handle.read(8)
            if len(large) < 8:
                return None
            size = struct.unpack(">Q", large)[0]
            payload += 8
        elif size == 0:
            size = end - offset
        if size < payload - offset or offset + size > end:
            return None
        found.append((kind, payload, offset + size))
        offset += size
    return found


def mp4_duration(path: Path) -> float | None:
    """Return the duration in seconds of an MP4/MOV file, or ``None`` if it is not a complete one.

    A file whose boxes run past its end (a truncated upload) has no duration.

    :param path: the file to inspect.
    """
    try:
        with path.open("rb") as handle:
            end = handle.seek(0, 2)
            top = _boxes(handle, 0, end)
            if not top or top[0][0] not in _FIRST_BOXES:
                return None
            for kind, payload, box_end in top:
                if kind not in _CONTAINERS:
                    continue
                for child, child_payload, child_end in _boxes(handle, payload, box_end) or []:
                    if child != b"mvhd":
                        continue
                    handle.seek(child_payload)
                    version = handle.read(1)
                    if not version:
                        return None
                    # version 1 has 64-bit creation/modification times and duration.
                    layout, skip, needed = (">IQ", 20, 32) if version[0] == 1 else (">II", 12, 20)
                    if child_end - child_payload < needed:
                        return None
                    handle.seek(child_payload + skip)
                    timescale, duration = struct.unpack(layout, handle.read(struct.calcsize(layout)))
                    if timescale == 0:
                        return None
                    return round(duration / timescale, 3)
    except (OSError, struct.error):
        return None
    return None


def media_kind(path: Path) -> MediaKind:
    """Say what a file is, from its leading bytes and (for MP4/MOV) its box structure.

    ``video``: a container FFmpeg reads as video (a complete MP4/MOV, Matroska/WebM, AVI, FLV, ASF,
    MPEG-PS/TS). ``audio``: WAV, MP3, FLAC or Ogg. ``not_media``: certainly not playable: a broken or
    truncated MP4/MOV, or a known non-media format (PDF, PNG, JPEG, GIF, ZIP, JSON, XML/HTML) or an
    empty file. ``unknown``: anything else (the emulator's tests upload such placeholder bytes).

    :param path: the file to inspect.
    """
    try:
        with path.open("rb") as handle:
            head = handle.read(376)
    except OSError:
        return "not_media"
    if not head:
        return "not_media"
    if head[4:8] in _FIRST_BOXES:
        return "video" if mp4_duration(path) is not None else "not_media"
    if head.startswith(b"RIFF") and head[8:12] in (b"AVI ", b"WAVE"):
        return "video" if head[8:12] == b"AVI " else "audio"
    if head[0:1] == b"\x47" and len(head) >= 189 and head[188:189] == b"\x47":
        return "video"  # MPEG transport stream: a sync byte every 188 bytes
    if head.startswith(_VIDEO_MAGIC):
        return "video"
    if head.startswith(_AUDIO_MAGIC):
        return "audio"
    if head.lstrip().lower().startswith(_OTHER_MAGIC) or head.startswith(_OTHER_MAGIC):
        return "not_media"
    return "unknown"
