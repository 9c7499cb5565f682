"""JSON renderings of the emulator's resources, as the real API puts them on the wire.

``observe`` arguments decide whether rendering counts as a read of the resource (a ``GET`` or a
listing does; an internal look does not), which is what moves poll-driven lifecycles on.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from starlette.requests import Request

from airflow_provider_twelvelabs.testing.emulator.state import (
    Asset,
    EmulatorState,
    Index,
    IndexedAsset,
    Task,
    isoformat,
)
from airflow_provider_twelvelabs.testing.emulator.synth import embedding_vector, fixed_segments, rng_for

__all__ = [
    "asset_detail",
    "asset_summary",
    "index_json",
    "indexed_asset_json",
    "public_url",
    "task_json",
    "video_json",
]

#: Free-plan indexes expire 90 days after creation (developer-plan ones would say ``null``).
INDEX_LIFETIME = timedelta(days=90)
#: Clip length of the embeddings stored with indexed videos.
INDEXED_CLIP_SECONDS = 6.0
_WORDS = [
    "the",
    "team",
    "reviews",
    "footage",
    "of",
    "the",
    "city",
    "skyline",
    "at",
    "night",
    "while",
    "a",
    "narrator",
    "explains",
    "how",
    "traffic",
    "patterns",
    "shift",
    "across",
    "seasons",
    "and",
    "a",
    "drone",
    "follows",
    "the",
    "river",
    "towards",
    "the",
    "harbour",
]


def public_url(request: Request) -> str:
    """Return the emulator's root URL as clients reach it (no trailing slash).

    :param request: the current request.
    """
    state: EmulatorState = request.app.state.emulator
    if state.config.public_url:
        return state.config.public_url.rstrip("/")
    return str(request.base_url).rstrip("/")


def media_urls(root: str, asset: Asset) -> dict[str, str]:
    """Return the placeholder media URLs of an asset (served under ``/_media``).

    :param root: the public root URL.
    :param asset: the asset.
    """
    base = f"{root}/_media/{asset.id}"
    return {
        "manifest": f"{base}/stream.m3u8",
        "thumbnail": f"{base}/thumbnail.jpg",
        "file": f"{base}/{os.path.basename(asset.filename) or 'media'}",
    }


def asset_summary(asset: Asset, status: str) -> dict[str, Any]:
    """Return the ``Asset`` object (what create returns).

    :param asset: the asset.
    :param status: the status to show.
    """
    data: dict[str, Any] = {
        "_id": asset.id,
        "method": asset.method,
        "status": status,
        "filename": asset.filename,
        "file_type": asset.file_type,
        "created_at": isoformat(asset.created_at),
    }
    if asset.user_metadata:
        data["user_metadata"] = asset.user_metadata
    return data


def _technical_metadata(asset: Asset, complete: bool) -> dict[str, Any]:
    size = asset.size or 0
    meta: dict[str, Any] = {"file_size_bytes": size, "file_mime_type": asset.file_type}
    if not complete:
        return meta
    extension = os.path.splitext(asset.filename)[1].lstrip(".").lower() or "mp4"
    meta["file_container_format"] = {"mov": "mov,mp4,m4a,3gp,3g2,mj2", "mp4": "mov,mp4,m4a,3gp,3g2,mj2"}.get(
        extension, extension
    )
    duration = asset.duration or 0.0
    if asset.asset_type == "video":
        bitrate = int(size * 8 / duration) if duration else 0
        stream = {
            "index": 0,
            "codec": "h264",
            "width": asset.width,
            "height": asset.height,
            "fps": asset.fps,
            "avg_fps": asset.fps,
            "duration_seconds": duration,
            "bitrate_bps": bitrate,
            "rotation": 0,
            "pixel_aspect_ratio": "1:1",
            "display_aspect_ratio": "16:9",
            "scan_type": "progressive",
            "pixel_format": "yuv420p",
            "bit_depth": 8,
        }
        meta.update(
            video_streams=[stream],
            video_codec="h264",
            video_width=asset.width,
            video_height=asset.height,
            video_fps=asset.fps,
            video_duration_seconds=duration,
            video_bitrate_bps=bitrate,
            total_video_streams=1,
            storage_aspect_ratio=round((asset.width or 16) / (asset.height or 9), 4),
        )
    if asset.asset_type in ("video", "audio"):
        audio = {
            "index": 1 if asset.asset_type == "video" else 0,
            "codec": "aac",
            "codec_long": "AAC (Advanced Audio Coding)",
            "sample_rate": 48000,
            "channels": 2,
            "channel_layout": "stereo",
            "bitrate_bps": 128000,
            "duration_seconds": duration,
        }
        meta.update(
            audio_streams=[audio],
            audio_codec="aac",
            audio_sample_rate=48000,
            audio_channels=2,
            audio_duration_seconds=duration,
            total_audio_streams=1,
        )
    if asset.asset_type == "image":
        meta.update(
            image_width=asset.width,
            image_height=asset.height,
            image_format=extension,
            has_alpha=False,
            is_animated=False,
        )
    return meta


def asset_detail(asset: Asset, root: str, *, observe: bool) -> dict[str, Any]:
    """Return the ``AssetDetail`` object (what retrieve and list return).

    :param asset: the asset.
    :param root: the public root URL, for HLS and thumbnail URLs.
    :param observe: whether this rendering counts as a read.
    """
    status = asset.observe_status() if observe else asset.peek_status()
    data = asset_summary(asset, status)
    urls = media_urls(root, asset)
    derived = {"processing": "processing", "ready": "ready", "failed": "error"}[status]
    if asset.enable_hls:
        data["hls"] = {"status": derived}
        if derived == "ready":
            data["hls"]["manifest_url"] = urls["manifest"]
    if asset.enable_thumbnail and asset.asset_type in ("video", "image"):
        data["thumbnail"] = {"status": derived}
        if derived == "ready":
            data["thumbnail"]["representative_url"] = urls["thumbnail"]
    if status != "processing":
        data["technical_metadata"] = _technical_metadata(asset, complete=status == "ready")
    if status == "ready":
        data["size"] = asset.size
        if asset.duration is not None:
            data["duration"] = asset.duration
    if status == "failed":
        data["error"] = {
            "message": asset.error
            or "The file could not be processed: it is corrupt or in an unsupported format."
        }
    return data


def index_json(index: Index, state: EmulatorState) -> dict[str, Any]:
    """Return the ``Index`` object.

    :param index: the index.
    :param state: the emulator state (for the video count and total duration).
    """
    count, total = state.index_stats(index.id)
    return {
        "_id": index.id,
        "index_name": index.name,
        "created_at": isoformat(index.created_at),
        "updated_at": isoformat(index.updated_at),
        "expires_at": isoformat(index.created_at + INDEX_LIFETIME),
        "total_duration": total,
        "video_count": count,
        "models": [dict(model) for model in index.models],
        "addons": list(index.addons),
    }


def system_metadata(asset: Asset | None) -> dict[str, Any]:
    """Return the ``system_metadata`` of an indexed asset or video.

    :param asset: the underlying asset.
    """
    if asset is None:
        return {}
    data: dict[str, Any] = {"filename": asset.filename}
    for key in ("duration", "fps", "width", "height", "size"):
        value = getattr(asset, key)
        if value is not None:
            data[key] = value
    return data


def _hls(record: IndexedAsset, asset: Asset, root: str, ready: bool) -> dict[str, Any]:
    urls = media_urls(root, asset)
    return {
        "video_url": urls["manifest"],
        "thumbnail_urls": [urls["thumbnail"]],
        "status": "COMPLETE" if ready else "PROCESSING",
        "updated_at": isoformat(record.lifecycle.updated_at),
    }


def _embedding(record: IndexedAsset, asset: Asset, model_name: str, options: list[str]) -> dict[str, Any]:
    duration = asset.duration or INDEXED_CLIP_SECONDS
    segments = []
    for option in options:
        for segment in fixed_segments(0.0, duration, INDEXED_CLIP_SECONDS):
            vector = embedding_vector(model_name, asset.id, option, segment.start, segment.end)
            segments.append(
                {
                    "start_offset_sec": segment.start,
                    "end_offset_sec": segment.end,
                    "embedding_option": option,
                    "embedding_scope": "clip",
                    "float": [round(v, 6) for v in vector],
                }
            )
    return {"model_name": model_name, "video_embedding": {"segments": segments}}


def _transcription(asset: Asset) -> list[dict[str, Any]]:
    rng = rng_for("transcription", asset.id)
    duration = asset.duration or 0.0
    lines, start = [], 0.0
    while start < duration:
        end = min(duration, start + rng.uniform(2.0, 6.0))
        words = [rng.choice(_WORDS) for _ in range(rng.randint(4, 12))]
        lines.append(
            {"start": round(start, 3), "end": round(end, 3), "value": " ".join(words).capitalize() + "."}
        )
        start = end + rng.uniform(0.0, 1.5)
    return lines


def indexed_asset_json(
    record: IndexedAsset,
    state: EmulatorState,
    root: str,
    *,
    observe: bool,
    detailed: bool = False,
    embedding_options: list[str] | None = None,
    transcription: bool = False,
    video: bool = False,
) -> dict[str, Any]:
    """Return an ``IndexedAsset``/``IndexedAssetDetailed`` object, or a legacy ``VideoVector``.

    :param record: the indexed asset (a legacy video is the same record).
    :param state: the emulator state.
    :param root: the public root URL.
    :param observe: whether this rendering counts as a read.
    :param detailed: add ``user_metadata``, ``hls``, and the requested embeddings and transcription.
    :param embedding_options: embedding options to include (detailed only, once ready).
    :param transcription: include the transcription (detailed only, once ready).
    :param video: render the legacy video shape (no ``status``).
    """
    status = record.status(observe=observe)
    asset = state.media_asset(record.asset_id)
    data: dict[str, Any] = {
        "_id": record.id,
        "asset_id": record.asset_id,
        "created_at": isoformat(record.created_at),
        "updated_at": isoformat(max(record.updated_at, record.lifecycle.updated_at)),
    }
    if record.indexed_at is not None:
        data["indexed_at"] = isoformat(record.indexed_at)
    if not video:
        data["status"] = status
    data["system_metadata"] = system_metadata(asset)
    if not detailed or asset is None:
        return data
    data["user_metadata"] = dict(record.user_metadata or {})
    ready = status == "ready"
    if record.enable_video_stream:
        data["hls"] = _hls(record, asset, root, ready)
    if ready and embedding_options:
        index = state.indexes.get(record.index_id)
        models = [m["model_name"] for m in (index.models if index else []) if "marengo" in m["model_name"]]
        data["embedding"] = _embedding(
            record, asset, models[0] if models else "marengo3.0", embedding_options
        )
    if ready and transcription:
        data["transcription"] = _transcription(asset)
    return data


def video_json(record: IndexedAsset, state: EmulatorState, root: str, **kwargs: Any) -> dict[str, Any]:
    """Return a legacy ``VideoVector`` object (see :func:`indexed_asset_json` for the arguments).

    :param record: the video record.
    :param state: the emulator state.
    :param root: the public root URL.
    :param kwargs: ``observe``, ``detailed``, ``embedding_options``, ``transcription``.
    """
    return indexed_asset_json(record, state, root, video=True, **kwargs)


def task_json(
    task: Task, state: EmulatorState, root: str, *, observe: bool, detailed: bool = False
) -> dict[str, Any]:
    """Return a ``VideoIndexingTask`` object (with ``hls`` when detailed).

    :param task: the task.
    :param state: the emulator state.
    :param root: the public root URL.
    :param observe: whether this rendering counts as a read.
    :param detailed: add the ``hls`` object (retrieve does, list does not).
    """
    status = task.lifecycle.observe() if observe else task.lifecycle.peek()
    asset = state.media_asset(task.asset_id)
    meta: dict[str, Any] = {}
    if asset is not None:
        meta = {"filename": asset.filename}
        for key in ("duration", "width", "height"):
            if getattr(asset, key) is not None:
                meta[key] = getattr(asset, key)
    data: dict[str, Any] = {
        "_id": task.id,
        "video_id": task.video_id,
        "index_id": task.index_id,
        "status": status,
        "created_at": isoformat(task.created_at),
        "updated_at": isoformat(task.lifecycle.updated_at),
        "system_metadata": meta,
    }
    if status == "failed":
        data["error"] = {"message": "The video could not be indexed: it does not meet the requirements."}
    if detailed and task.enable_video_stream and asset is not None:
        urls = media_urls(root, asset)
        data["hls"] = {
            "video_url": urls["manifest"],
            "thumbnail_urls": [urls["thumbnail"]],
            "status": "COMPLETE" if status == "ready" else "PROCESSING",
            "updated_at": isoformat(task.lifecycle.updated_at),
        }
    return data
