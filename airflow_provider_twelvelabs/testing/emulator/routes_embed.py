"""Embed endpoints of the emulator: Embed API v2 (sync and async tasks) and the legacy Embed API v1.

Media durations: an asset uses the duration the emulator gave it; a URL may carry its duration in
a ``duration`` query parameter (``https://host/talk.mp4?duration=14400`` is a 4-hour video), and
otherwise gets a deterministic 30-180 s; uploaded bytes and base64 strings get ``10 s + size /
250 kB`` (the rule the asset endpoints use). A URL, filename or asset filename containing ``fail``
makes a synchronous request fail with 400 and an asynchronous task end ``failed``.

Large results (a 4-hour video has ~2,400 segments per option) are rendered straight to JSON text, one
pre-built format string per vector, rather than through ``json.dumps`` of nested lists.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import posixpath
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from airflow_provider_twelvelabs.testing.emulator import synth
from airflow_provider_twelvelabs.testing.emulator.errors import APIError, ErrorShape, bad_request, not_found
from airflow_provider_twelvelabs.testing.emulator.media import mp4_duration
from airflow_provider_twelvelabs.testing.emulator.render import public_url
from airflow_provider_twelvelabs.testing.emulator.state import (
    EmulatorState,
    Lifecycle,
    failure_marker,
    isoformat,
)
from airflow_provider_twelvelabs.testing.emulator.wire import (
    json_response,
    page_params,
    paginate,
    parse_form,
    parse_query,
    read_json,
)

__all__ = [
    "EMBED_V1_TASKS",
    "EMBED_V2_TASKS",
    "EmbedJob",
    "EmbedTask",
    "SourceMedia",
    "resolve_source",
    "routes",
]

#: Names of the state collections holding embedding tasks.
EMBED_V2_TASKS = "embed_v2_tasks"
EMBED_V1_TASKS = "embed_v1_tasks"

_PREFIX = "/v1.3"
_MODELS = ("marengo3.0", "marengo3.5")
_SYNC_MAX_SECONDS = {"marengo3.0": 600.0, "marengo3.5": 30.0}
_ASYNC_MIN_SECONDS = 4.0
_ASYNC_MAX_SECONDS = 4 * 3600.0
_MAX_BASE64_BYTES = 36 * 1024 * 1024
_TEXT_TOKEN_LIMIT = 500
_RETENTION = timedelta(days=7)
_FAILED_MESSAGE = "failed to fetch or materialize source media"
_NESTED: ErrorShape = "nested"


# --------------------------------------------------------------------------------------------------
# Media sources
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceMedia:
    """A media input resolved to what synthetic results need.

    :param key: identity of the content, seeding every generated value.
    :param duration: duration in seconds (0 for images).
    :param input_url: the URL, when given by URL.
    :param input_filename: the filename, when known.
    :param failure: the failure marker of the URL or filename (see ``state.failure_marker``).
    """

    key: str
    duration: float
    input_url: str | None = None
    input_filename: str | None = None
    failure: str | None = None


def _uploaded_duration(size: int) -> float:
    # Same rule as the asset endpoints, so one file gets one duration whichever way it arrives.
    return round(10.0 + size / 250_000, 3)


class _ByteSink:
    """Spool uploaded bytes to a temporary file under the data directory, hashing them on the way.

    The duration of an MP4/MOV comes from its header boxes (``media.mp4_duration`` reads a file),
    and uploads may be large, so bytes go to disk rather than into memory.
    """

    def __init__(self, state: EmulatorState) -> None:
        folder = state.data_dir / "compute-uploads"
        folder.mkdir(parents=True, exist_ok=True)
        self._handle = tempfile.NamedTemporaryFile(dir=folder, delete=False)  # noqa: SIM115 - closed in finish()
        self._digest = hashlib.blake2b(digest_size=8)
        self.size = 0

    def write(self, chunk: bytes) -> None:
        """Add a chunk of the upload.

        :param chunk: the next bytes.
        """
        self._digest.update(chunk)
        self._handle.write(chunk)
        self.size += len(chunk)

    def finish(self, kind: str) -> tuple[str, float]:
        """Return ``(content key, duration)`` and delete the temporary file.

        :param kind: ``video``, ``audio`` or ``image`` (images have no duration).
        """
        self._handle.close()
        path = Path(self._handle.name)
        try:
            duration = 0.0 if kind == "image" else (mp4_duration(path) or _uploaded_duration(self.size))
        finally:
            path.unlink(missing_ok=True)
        return "bytes:" + self._digest.hexdigest(), round(duration, 3)


def resolve_source(
    state: EmulatorState,
    source: Any,
    field_name: str,
    kind: str,
    *,
    shape: ErrorShape = "flat",
    keys: tuple[str, str, str] = ("url", "base64_string", "asset_id"),
) -> SourceMedia:
    """Resolve a ``{url | base64_string | asset_id}`` media source, as embed v2 and analyze take it.

    :param state: the emulator state.
    :param source: the decoded JSON object.
    :param field_name: its dotted path in the request, for error messages.
    :param kind: ``video``, ``audio`` or ``image``.
    :param shape: the error body shape of the endpoint.
    :param keys: the names of the three source fields.
    :raises APIError: 400 on a malformed source or an asset that is missing, of the wrong type or
        not ready.
    """
    url_key, b64_key, _ = keys
    if not isinstance(source, dict):
        raise _invalid(f"{field_name} must be an object.", field_name, source, shape)
    given = [k for k in keys if source.get(k) is not None]
    if len(given) != 1:
        raise _invalid(
            f"{field_name} must contain exactly one of {', '.join(keys)}.", field_name, sorted(source), shape
        )
    which = given[0]
    value = source[which]
    if not isinstance(value, str) or not value:
        raise _invalid(
            f"{field_name}.{which} must be a non-empty string.", f"{field_name}.{which}", value, shape
        )
    if which == url_key:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise _invalid(
                f"{field_name}.{which} must be an http(s) URL.", f"{field_name}.{which}", value, shape
            )
        filename = posixpath.basename(unquote(parts.path)) or None
        return SourceMedia(
            key=f"url:{value}",
            duration=synth.media_duration(value, kind=kind),
            input_url=value,
            input_filename=filename,
            failure=failure_marker(value),
        )
    if which == b64_key:
        sink = _ByteSink(state)
        sink.write(_decode_base64(value, f"{field_name}.{which}", shape))
        key, duration = sink.finish(kind)
        return SourceMedia(key=key, duration=duration)
    media = state.resolve_media(value)
    if media is None or media.kind != "asset":
        raise APIError(
            400, "resource_not_exist", f"Resource with id {value} does not exist in assets.", shape=shape
        )
    if not media.ready:
        raise _invalid(
            f"The asset {value} is not ready (status: {media.status}); wait until its status is ready.",
            f"{field_name}.{which}",
            value,
            shape,
        )
    wanted = ("image",) if kind == "image" else ("video",) if kind == "video" else ("audio", "video")
    if media.asset_type not in wanted:
        raise _invalid(
            f"The asset {value} is of type {media.asset_type}; this input needs {' or '.join(wanted)}.",
            f"{field_name}.{which}",
            value,
            shape,
        )
    return SourceMedia(
        key=f"asset:{media.asset_id}",
        duration=0.0 if kind == "image" else float(media.duration or 0.0),
        input_filename=media.filename,
        failure=media.failure,
    )


def _decode_base64(value: str, field_name: str, shape: ErrorShape) -> bytes:
    if len(value) * 3 // 4 > _MAX_BASE64_BYTES + 3:
        raise APIError(
            413 if shape == "nested" else 400,
            "parameter_invalid",
            f"{field_name} decodes to more than 36 MB; use a URL or an asset for large files.",
            shape=shape,
        )
    try:
        # Unpadded base64 is accepted by the API, so pad before strict decoding.
        return base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise _invalid(f"{field_name} is not valid base64.", field_name, value[:32], shape) from None


def _invalid(message: str, field_name: str, value: Any, shape: ErrorShape) -> APIError:
    details = {"field": field_name, "value": value} if shape == "nested" else None
    return APIError(400, "parameter_invalid", message, shape=shape, details=details)


def _missing(field_name: str, shape: ErrorShape) -> APIError:
    details = {"field": field_name} if shape == "nested" else None
    return APIError(
        400,
        "parameter_not_provided",
        f"The {field_name} parameter is required.",
        shape=shape,
        details=details,
    )


# --------------------------------------------------------------------------------------------------
# Embedding jobs: what to embed, and how to render it
# --------------------------------------------------------------------------------------------------


@dataclass
class EmbedJob:
    """Everything needed to render the embeddings of one request or task.

    :param model_name: ``marengo3.0`` or ``marengo3.5``.
    :param input_type: the request's ``input_type``.
    :param media: the resolved media (``None`` for text).
    :param text: the text input, if any.
    :param start: first second embedded.
    :param end: last second embedded.
    :param segments: the clip segments.
    :param options: embedding options (``visual``, ``audio``, ``transcription``).
    :param scopes: embedding scopes (``clip``, ``asset``).
    :param types: embedding types (``separate_embedding``, ``fused_embedding``).
    :param clip_length: the fixed segment length, ``None`` for dynamic segmentation.
    :param dimension: vector length.
    """

    model_name: str
    input_type: str
    media: SourceMedia | None = None
    text: str | None = None
    start: float = 0.0
    end: float = 0.0
    segments: list[synth.Segment] = field(default_factory=list)
    options: list[str] = field(default_factory=list)
    scopes: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=lambda: ["separate_embedding"])
    clip_length: int | None = None
    dimension: int = synth.DEFAULT_DIMENSION
    uncertainty: bool = False
    has_document: bool = False

    @property
    def fail(self) -> bool:
        """Whether the media asks to fail (a ``fail`` marker in its URL or filename)."""
        return self.media is not None and self.media.failure is not None

    def _vector(self, *parts: object) -> str:
        vector = synth.embedding_json(self.model_name, *parts, dimension=self.dimension)
        if not self.uncertainty:
            return vector
        # Marengo 3.5 adds a per-dimension uncertainty vector (non-negative, same length).
        spread = synth.embedding_vector("uncertainty", self.model_name, *parts, dimension=self.dimension)
        return vector + ',"embedding_uncertainty":[' + ",".join(f"{abs(x):.6f}" for x in spread) + "]"

    def data_items(self) -> Iterator[str]:
        """Yield each ``data[]`` item as JSON text (segments by time, options within a segment)."""
        if self.input_type in ("text", "image", "text_image", "multi_input"):
            key = (self.input_type, self.media.key if self.media else "", self.text or "")
            yield (
                '{"embedding":' + self._vector(*key) + ',"embedding_option":null,'
                '"embedding_scope":null,"start_sec":null,"end_sec":null}'
            )
            return
        assert self.media is not None
        labels = self._labels()
        if "clip" in self.scopes:
            for seg in self.segments:
                for label in labels:
                    yield self._media_item(label, "clip", seg.start, seg.end)
        if "asset" in self.scopes:
            for label in labels:
                yield self._media_item(label, "asset", self.start, self.end)

    def _labels(self) -> list[str]:
        labels = list(self.options) if "separate_embedding" in self.types else []
        if "fused_embedding" in self.types and len(self.options) > 1:
            labels.append("fused")
        return labels

    def _media_item(self, option: str, scope: str, start: float, end: float) -> str:
        assert self.media is not None
        vector = self._vector(self.media.key, option, scope, start, end)
        return (
            f'{{"embedding":{vector},"embedding_option":"{option}","embedding_scope":"{scope}",'
            f'"start_sec":{_num(start)},"end_sec":{_num(end)}}}'
        )

    def metadata(self) -> dict[str, Any] | None:
        """Return the response ``metadata`` (``None`` for text, which has none)."""
        if self.input_type == "text":
            return None
        meta: dict[str, Any] = {"input_type": self.input_type}
        if self.media is not None and self.media.input_url:
            meta["input_url"] = self.media.input_url
        if self.media is not None and self.media.input_filename:
            meta["input_filename"] = self.media.input_filename
        if self.input_type in ("audio", "video") and self.media is not None:
            if self.input_type == "video" and self.clip_length is not None:
                meta["clip_length"] = self.clip_length
            meta["embedding_scopes"] = list(self.scopes)
            meta["embedding_options"] = list(self.options)
            meta["duration"] = self.media.duration
            meta["start_offset_sec"] = self.start
            meta["end_offset_sec"] = self.end
        if self.model_name == "marengo3.5":
            meta["embedding_dimension"] = self.dimension
        return meta

    def usage(self) -> dict[str, Any] | None:
        """Return ``usage`` (Marengo 3.5 only), with input tokens by modality."""
        if self.model_name != "marengo3.5":
            return None
        tokens: dict[str, int] = {}
        if self.text:
            tokens["text"] = synth.count_tokens(self.text)
        if self.media is not None:
            tokens[self.input_type if self.input_type in ("audio", "video") else "image"] = max(
                1, math.ceil(self.end - self.start) * 10
            )
        return {"input_tokens": tokens, "truncated": False}

    def data_json(self) -> str:
        """Return the whole ``data`` array as JSON text."""
        return "[" + ",".join(self.data_items()) + "]"


def _num(value: float) -> str:
    # repr() is the shortest form that round-trips (6.0, 4.25): what json.dumps writes for a float.
    return repr(float(value))


# --------------------------------------------------------------------------------------------------
# Embed v2 request parsing
# --------------------------------------------------------------------------------------------------

_V2_TOP_KEYS = {
    "input_type",
    "model_name",
    "text",
    "image",
    "text_image",
    "audio",
    "video",
    "multi_input",
    "auto_truncate",
    "embedding_uncertainty",
    "embedding_dimension",
}
_V2_TASK_TOP_KEYS = {
    "input_type",
    "model_name",
    "audio",
    "video",
    "embedding_dimension",
    "embedding_uncertainty",
}
_MEDIA_KEYS = {
    "media_source",
    "start_sec",
    "end_sec",
    "segmentation",
    "embedding_option",
    "embedding_scope",
    "embedding_type",
}


def _check_keys(obj: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(obj) - allowed)
    if unknown:
        raise _invalid(
            f"Unknown field {where}{unknown[0]}.", f"{where}{unknown[0]}", obj[unknown[0]], _NESTED
        )


def _string_list(value: Any, field_name: str, allowed: tuple[str, ...], default: list[str]) -> list[str]:
    if value is None:
        return list(default)
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise _invalid(f"{field_name} must be a non-empty array of strings.", field_name, value, _NESTED)
    bad = [v for v in value if v not in allowed]
    if bad:
        raise _invalid(
            f"Invalid value {bad[0]!r} in {field_name}. Must be one of: {', '.join(allowed)}.",
            field_name,
            bad[0],
            _NESTED,
        )
    if len(set(value)) != len(value):
        raise _invalid(f"{field_name} must not contain duplicates.", field_name, value, _NESTED)
    return list(value)


def _number(value: Any, field_name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _invalid(f"{field_name} must be a number.", field_name, value, _NESTED)
    return float(value)


def _int_in(value: Any, field_name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise _invalid(f"{field_name} must be an integer.", field_name, value, _NESTED)
    if not low <= value <= high:
        raise _invalid(f"{field_name} must be between {low} and {high}.", field_name, value, _NESTED)
    return int(value)


def _segmentation(raw: Any, where: str, *, audio: bool, model: str) -> tuple[str, int]:
    """Return ``(strategy, seconds)`` from a segmentation object of either model's shape."""
    default = ("fixed", 6) if audio else ("dynamic", 4 if model == "marengo3.0" else 2)
    if raw is None:
        return default
    if not isinstance(raw, dict):
        raise _invalid(f"{where} must be an object.", where, raw, _NESTED)
    if model == "marengo3.5":
        if set(raw) != {"temporal"} or not isinstance(raw["temporal"], dict):
            raise _invalid(
                f"{where} must be {{'temporal': {{...}}}} with marengo3.5.", where, sorted(raw), _NESTED
            )
        raw, where = raw["temporal"], f"{where}.temporal"
    elif "temporal" in raw:
        raise _invalid(f"{where}.temporal is only supported by marengo3.5.", where, sorted(raw), _NESTED)
    strategy = raw.get("strategy")
    allowed = ("fixed",) if audio and model == "marengo3.0" else ("fixed", "dynamic")
    if strategy not in allowed:
        raise _invalid(
            f"{where}.strategy must be one of: {', '.join(allowed)}.", f"{where}.strategy", strategy, _NESTED
        )
    _check_keys(raw, {"strategy", strategy}, f"{where}.")
    inner = raw.get(strategy)
    if not isinstance(inner, dict):
        raise _missing(f"{where}.{strategy}", _NESTED)
    key, low, high = ("duration_sec", 2, 10) if strategy == "fixed" else ("min_duration_sec", 2, 5)
    _check_keys(inner, {key}, f"{where}.{strategy}.")
    if key not in inner:
        raise _missing(f"{where}.{strategy}.{key}", _NESTED)
    return strategy, _int_in(inner[key], f"{where}.{strategy}.{key}", low, high)


def _media_job(
    state: EmulatorState, body: dict[str, Any], input_type: str, model: str, *, is_async: bool
) -> EmbedJob:
    where = input_type
    raw = body.get(input_type)
    if raw is None:
        raise _missing(input_type, _NESTED)
    if not isinstance(raw, dict):
        raise _invalid(f"{where} must be an object.", where, raw, _NESTED)
    # time_based_metadata (3.5 async, with fused embeddings) is accepted; it does not change vectors here.
    allowed = _MEDIA_KEYS | ({"time_based_metadata"} if is_async and model == "marengo3.5" else set())
    _check_keys(raw, allowed, f"{where}.")
    if raw.get("media_source") is None:
        raise _missing(f"{where}.media_source", _NESTED)
    media = resolve_source(state, raw["media_source"], f"{where}.media_source", input_type, shape=_NESTED)
    audio = input_type == "audio"
    if model == "marengo3.0":
        option_values: tuple[str, ...] = (
            ("audio", "transcription") if audio else ("visual", "audio", "transcription")
        )
    else:
        option_values = ("audio", "transcription") if audio else ("visual", "audio")
    options = _string_list(
        raw.get("embedding_option"), f"{where}.embedding_option", option_values, list(option_values)
    )
    scope_values = ("clip", "asset", "local") if is_async and model == "marengo3.5" else ("clip", "asset")
    raw_scopes = _string_list(
        raw.get("embedding_scope"), f"{where}.embedding_scope", scope_values, ["clip", "asset"]
    )
    # Marengo 3.5's "local" scope is its name for per-segment ("clip") embeddings.
    scopes = ["clip" if s == "local" else s for s in raw_scopes]
    types = _string_list(
        raw.get("embedding_type"),
        f"{where}.embedding_type",
        ("separate_embedding", "fused_embedding"),
        ["separate_embedding"],
    )
    strategy, seconds = _segmentation(
        raw.get("segmentation"), f"{where}.segmentation", audio=audio, model=model
    )
    start = _number(raw.get("start_sec"), f"{where}.start_sec") or 0.0
    end = _number(raw.get("end_sec"), f"{where}.end_sec")
    if start < 0:
        raise _invalid(f"{where}.start_sec must be at least 0.", f"{where}.start_sec", start, _NESTED)
    if end is not None and end <= start:
        raise _invalid(f"{where}.end_sec must be greater than start_sec.", f"{where}.end_sec", end, _NESTED)
    duration = media.duration
    if media.failure is None:
        limit = _ASYNC_MAX_SECONDS if is_async else _SYNC_MAX_SECONDS[model]
        if duration > limit:
            hint = "" if is_async else " Use POST /embed-v2/tasks for longer media."
            raise APIError(
                400,
                f"{input_type}_duration_too_long",
                f"The {input_type} is {duration:g} s long; the limit is {limit:g} s.{hint}",
                shape=_NESTED,
                details={"field": f"{where}.media_source", "duration": duration},
            )
        if is_async and duration < _ASYNC_MIN_SECONDS:
            raise APIError(
                400,
                f"{input_type}_duration_too_short",
                f"The {input_type} is {duration:g} s long; the minimum is {_ASYNC_MIN_SECONDS:g} s.",
                shape=_NESTED,
                details={"field": f"{where}.media_source", "duration": duration},
            )
        if start >= duration:
            raise _invalid(
                f"{where}.start_sec ({start:g}) is beyond the media duration ({duration:g} s).",
                f"{where}.start_sec",
                start,
                _NESTED,
            )
        if end is not None and end > duration + 1e-6:
            raise _invalid(
                f"{where}.end_sec ({end:g}) is beyond the media duration ({duration:g} s).",
                f"{where}.end_sec",
                end,
                _NESTED,
            )
    end = duration if end is None else end
    if strategy == "fixed":
        segments = synth.fixed_segments(start, end, seconds)
    else:
        segments = synth.dynamic_segments(start, end, seconds, media.key)
    return EmbedJob(
        model_name=model,
        input_type=input_type,
        media=media,
        start=round(start, 3),
        end=round(end, 3),
        segments=segments,
        options=options,
        scopes=scopes,
        types=types,
        clip_length=seconds if strategy == "fixed" else None,
    )


def _text_value(raw: Any, field_name: str) -> str:
    if raw is None:
        raise _missing(field_name, _NESTED)
    if not isinstance(raw, str) or not raw.strip():
        raise _invalid(f"{field_name} must be a non-empty string.", field_name, raw, _NESTED)
    # Marengo 3.0 truncates text over 500 tokens from the end rather than failing.
    return synth.truncate_to_tokens(raw, _TEXT_TOKEN_LIMIT)


def _common(body: dict[str, Any], allowed_types: tuple[str, ...], top_keys: set[str]) -> tuple[str, str, int]:
    _check_keys(body, top_keys, "")
    input_type = body.get("input_type")
    model = body.get("model_name")
    if input_type is None:
        raise _missing("input_type", _NESTED)
    if input_type not in allowed_types:
        raise _invalid(
            f"Invalid input_type. Must be one of: {', '.join(allowed_types)}",
            "input_type",
            input_type,
            _NESTED,
        )
    if model is None:
        raise _missing("model_name", _NESTED)
    if model not in _MODELS:
        raise _invalid(
            f"Invalid model_name. Must be one of: {', '.join(_MODELS)}", "model_name", model, _NESTED
        )
    for name in ("embedding_dimension", "auto_truncate", "embedding_uncertainty"):
        if body.get(name) is not None and model != "marengo3.5":
            raise _invalid(f"{name} is only supported by marengo3.5.", name, body[name], _NESTED)
    dimension = synth.DEFAULT_DIMENSION
    if body.get("embedding_dimension") is not None:
        dimension = _int_in(body["embedding_dimension"], "embedding_dimension", 1, synth.DEFAULT_DIMENSION)
    # The body may carry only the input object matching input_type.
    for other in ("text", "image", "text_image", "audio", "video", "multi_input"):
        if other != input_type and body.get(other) is not None:
            raise _invalid(
                f"The {other} field must not be set when input_type is {input_type}.", other, "...", _NESTED
            )
    return input_type, model, dimension


def _sync_job(state: EmulatorState, body: dict[str, Any]) -> EmbedJob:
    input_type, model, dimension = _common(
        body, ("text", "image", "text_image", "audio", "video", "multi_input"), _V2_TOP_KEYS
    )
    if model == "marengo3.5" and input_type != "multi_input":
        raise _invalid("marengo3.5 accepts only input_type multi_input.", "input_type", input_type, _NESTED)
    if model == "marengo3.0" and input_type == "multi_input":
        raise _invalid("input_type multi_input requires marengo3.5.", "input_type", input_type, _NESTED)
    raw = body.get(input_type)
    if input_type in ("audio", "video"):
        job = _media_job(state, body, input_type, model, is_async=False)
    elif input_type == "text":
        if not isinstance(raw, dict):
            raise (
                _missing("text", _NESTED)
                if raw is None
                else _invalid("text must be an object.", "text", raw, _NESTED)
            )
        _check_keys(raw, {"input_text"}, "text.")
        job = EmbedJob(
            model_name=model, input_type="text", text=_text_value(raw.get("input_text"), "text.input_text")
        )
    elif input_type in ("image", "text_image"):
        if not isinstance(raw, dict):
            if raw is None:
                raise _missing(input_type, _NESTED)
            raise _invalid(f"{input_type} must be an object.", input_type, raw, _NESTED)
        keys = {"media_source", "input_text"} if input_type == "text_image" else {"media_source"}
        _check_keys(raw, keys, f"{input_type}.")
        if raw.get("media_source") is None:
            raise _missing(f"{input_type}.media_source", _NESTED)
        media = resolve_source(
            state, raw["media_source"], f"{input_type}.media_source", "image", shape=_NESTED
        )
        text = (
            _text_value(raw.get("input_text"), f"{input_type}.input_text")
            if input_type == "text_image"
            else None
        )
        job = EmbedJob(model_name=model, input_type=input_type, media=media, text=text)
    else:
        job = _multi_input_job(state, raw, model)
    if job.fail:
        raise APIError(
            400,
            "parameter_invalid",
            _FAILED_MESSAGE,
            shape=_NESTED,
            details={
                "field": f"{input_type}.media_source",
                "value": job.media.input_url if job.media else None,
            },
        )
    job.dimension = dimension
    job.uncertainty = _uncertainty(body, job)
    return job


def _uncertainty(body: dict[str, Any], job: EmbedJob) -> bool:
    """Apply the documented restrictions of ``embedding_uncertainty`` (Marengo 3.5 only)."""
    wanted = body.get("embedding_uncertainty")
    if wanted is None:
        return False
    if not isinstance(wanted, bool):
        raise _invalid("embedding_uncertainty must be a boolean.", "embedding_uncertainty", wanted, _NESTED)
    if not wanted:
        return False
    if job.has_document or (job.text and job.media is not None):
        raise _invalid(
            "embedding_uncertainty is not available when text and media are mixed or a document is included.",
            "embedding_uncertainty",
            wanted,
            _NESTED,
        )
    if job.input_type in ("audio", "video") and "asset" in job.scopes:
        raise _invalid(
            f"embedding_uncertainty requires {job.input_type}.embedding_scope without asset.",
            f"{job.input_type}.embedding_scope",
            job.scopes,
            _NESTED,
        )
    return True


def _multi_input_job(state: EmulatorState, raw: Any, model: str) -> EmbedJob:
    if not isinstance(raw, dict):
        raise (
            _missing("multi_input", _NESTED)
            if raw is None
            else _invalid("multi_input must be an object.", "multi_input", raw, _NESTED)
        )
    _check_keys(raw, {"input_text", "media_sources"}, "multi_input.")
    text = raw.get("input_text")
    sources = raw.get("media_sources") or []
    if not isinstance(sources, list) or len(sources) > 10:
        raise _invalid(
            "multi_input.media_sources must be an array of up to 10 items.",
            "multi_input.media_sources",
            len(sources) if isinstance(sources, list) else sources,
            _NESTED,
        )
    if text is None and not sources:
        raise _missing("multi_input.input_text", _NESTED)
    keys: list[str] = []
    kinds: set[str] = set()
    for i, item in enumerate(sources):
        where = f"multi_input.media_sources[{i}]"
        if not isinstance(item, dict):
            raise _invalid(f"{where} must be an object.", where, item, _NESTED)
        media_type = item.get("media_type")
        if media_type not in ("image", "video", "audio", "document"):
            raise _invalid(
                f"{where}.media_type must be image, video, audio or document.",
                f"{where}.media_type",
                media_type,
                _NESTED,
            )
        kinds.add(media_type)
        source = {k: v for k, v in item.items() if k in ("url", "base64_string", "asset_id")}
        kind = media_type if media_type in ("image", "video", "audio") else "image"
        media = resolve_source(state, source, where, kind, shape=_NESTED)
        if media_type in ("video", "audio") and media.duration > _SYNC_MAX_SECONDS[model]:
            raise _invalid(f"{where} is longer than 30 s.", where, media.duration, _NESTED)
        keys.append(media.key)
    if len(kinds) > 1 and not text:
        raise _invalid("Mixing media types requires input_text.", "multi_input.input_text", None, _NESTED)
    combined = SourceMedia(key="multi:" + "|".join(keys), duration=0.0) if keys else None
    return EmbedJob(
        model_name=model,
        input_type="multi_input",
        media=combined,
        text=synth.truncate_to_tokens(text, 2000) if isinstance(text, str) else None,
        has_document="document" in kinds,
    )


def _task_job(state: EmulatorState, body: dict[str, Any]) -> EmbedJob:
    input_type, model, dimension = _common(body, ("audio", "video"), _V2_TASK_TOP_KEYS)
    job = _media_job(state, body, input_type, model, is_async=True)
    job.dimension = dimension
    job.uncertainty = _uncertainty(body, job)
    return job


# --------------------------------------------------------------------------------------------------
# Tasks
# --------------------------------------------------------------------------------------------------


@dataclass
class EmbedTask:
    """An asynchronous embedding task (v2 or v1), with its lifecycle.

    :param id: the task id.
    :param job: what to embed.
    :param created_at: creation time.
    :param lifecycle: ``processing`` → ``ready`` or ``failed``.
    :param version: ``v2`` or ``v1``.
    """

    id: str
    job: EmbedJob
    created_at: datetime
    lifecycle: Lifecycle
    version: str = "v2"
    rendered: str | None = field(default=None, repr=False)

    def timestamps(self) -> dict[str, str | None]:
        """Return ``created_at``/``updated_at`` as RFC 3339 strings."""
        return {"created_at": isoformat(self.created_at), "updated_at": isoformat(self.lifecycle.updated_at)}


def _new_task(state: EmulatorState, job: EmbedJob, version: str) -> EmbedTask:
    task = EmbedTask(
        id=state.new_id(),
        job=job,
        created_at=state.now(),
        lifecycle=(
            # embedding_task_never_finish: "processing" repeats as the final status.
            state.new_lifecycle(["processing"], success="processing")
            if state.config.embedding_task_never_finish
            else state.new_lifecycle(["processing"], fail=job.fail)
        ),
        version=version,
    )
    state.collection(EMBED_V2_TASKS if version == "v2" else EMBED_V1_TASKS)[task.id] = task
    return task


def _task_or_404(state: EmulatorState, collection: str, task_id: str, shape: ErrorShape) -> EmbedTask:
    task = state.collection(collection).get(task_id)
    if not isinstance(task, EmbedTask):
        raise not_found(task_id, "embedding tasks", shape=shape)
    return task


def _list_window(request: Request, state: EmulatorState) -> tuple[datetime, datetime, str | None, int, int]:
    query = parse_query(request.query_params)
    page, limit = page_params(query)
    now = state.now()
    started = _parse_time(query.get("started_at"), "started_at")
    ended = _parse_time(query.get("ended_at"), "ended_at")
    if started is None and ended is None:
        started = now - _RETENTION
    status = query.get("status")
    if status is not None and status not in ("processing", "ready", "failed"):
        raise bad_request("The status parameter must be one of: processing, ready, failed.")
    return started or datetime.min.replace(tzinfo=timezone.utc), ended or now, status, page, limit


def _parse_time(raw: str | None, name: str) -> datetime | None:
    if raw is None or raw == "":
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise bad_request(f"The {name} parameter must be an RFC 3339 date-time.") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _listed_tasks(
    state: EmulatorState, collection: str, request: Request
) -> tuple[list[EmbedTask], int, int]:
    started, ended, status, page, limit = _list_window(request, state)
    tasks = [
        t
        for t in state.collection(collection).values()
        if isinstance(t, EmbedTask) and started <= t.created_at <= ended
    ]
    tasks.sort(key=lambda t: t.created_at, reverse=True)
    if status is not None:
        tasks = [t for t in tasks if t.lifecycle.peek() == status]
    return tasks, page, limit


def _summary_item(task: EmbedTask) -> dict[str, Any]:
    """Render a task as a list item (``MediaEmbeddingTask``): metadata, never vectors."""
    status = task.lifecycle.observe()
    job = task.job
    assert job.media is not None
    item: dict[str, Any] = {
        "_id": task.id,
        "model_name": job.model_name,
        "status": status,
        **task.timestamps(),
    }
    meta: dict[str, Any] = {}
    if job.media.input_url:
        meta["input_url"] = job.media.input_url
    if job.media.input_filename:
        meta["input_filename"] = job.media.input_filename
    if job.input_type == "video":
        if job.clip_length is not None:
            meta["video_clip_length"] = job.clip_length
        meta["video_embedding_scope"] = (
            ["video" if s == "asset" else s for s in job.scopes] if task.version == "v1" else list(job.scopes)
        )
        if task.version == "v2":
            meta["video_embedding_option"] = list(job.options)
        meta["duration"] = job.media.duration
        item["video_embedding"] = {"metadata": meta}
    else:
        # SDK 1.3.6 spells these keys in the singular; the Feb 2026 spec used plurals.
        meta["audio_embedding_option"] = list(job.options)
        meta["audio_embedding_scope"] = list(job.scopes)
        meta["duration"] = job.media.duration
        meta["start_offset_sec"] = job.start
        meta["end_offset_sec"] = job.end
        item["audio_embedding"] = {"metadata": meta}
    return item


# --------------------------------------------------------------------------------------------------
# Embed v2 handlers
# --------------------------------------------------------------------------------------------------


def _raw_json(body: str, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(body, status_code=status, media_type="application/json", headers=headers)


async def create_embeddings(request: Request) -> Response:
    """``POST /embed-v2``: synchronous embeddings for text, image, text_image, audio, video, multi_input."""
    state: EmulatorState = request.app.state.emulator
    body = await read_json(request, shape=_NESTED)
    job = _sync_job(state, body)
    parts = ['{"data":', job.data_json()]
    metadata = job.metadata()
    if metadata is not None:
        parts += [',"metadata":', json.dumps(metadata)]
    usage = job.usage()
    if usage is not None:
        parts += [',"usage":', json.dumps(usage)]
    parts.append("}")
    return _raw_json("".join(parts))


async def create_embedding_task(request: Request) -> Response:
    """``POST /embed-v2/tasks``: create an asynchronous audio or video embedding task (202)."""
    state: EmulatorState = request.app.state.emulator
    body = await read_json(request, shape=_NESTED)
    job = _task_job(state, body)
    task = _new_task(state, job, "v2")
    location = f"{public_url(request)}{_PREFIX}/embed-v2/tasks/{task.id}"
    payload: dict[str, Any] = {"_id": task.id, "status": "processing", "data": None}
    if job.model_name == "marengo3.5":
        payload["metadata"] = {"embedding_dimension": job.dimension}
    return json_response(payload, status=202, headers={"Location": location})


async def retrieve_embedding_task(request: Request) -> Response:
    """``GET /embed-v2/tasks/{task_id}``: status, and the embeddings once ``ready``."""
    state: EmulatorState = request.app.state.emulator
    task = _task_or_404(state, EMBED_V2_TASKS, request.path_params["task_id"], _NESTED)
    status = task.lifecycle.observe()
    head: dict[str, Any] = {"_id": task.id, "status": status, **task.timestamps()}
    tail: dict[str, Any] = {"metadata": task.job.metadata()}
    if status == "ready":
        usage = task.job.usage()
        if usage is not None:
            tail["usage"] = usage
    if status == "failed":
        tail["error"] = {"message": "The embedding task could not complete processing: " + _FAILED_MESSAGE}
    data = _cached_data(task) if status == "ready" else "null"
    head_json = json.dumps(head)[:-1]
    tail_json = json.dumps(tail)[1:]
    return _raw_json(f'{head_json},"data":{data},{tail_json}')


# Rendered results of the most recently fetched ready tasks: pollers often fetch a ready task twice
# (status check, then results), and a 4-hour video renders to ~35 MB of JSON. The render lives on
# the task object itself (ids repeat across emulator instances with the same seed, so a cache keyed
# by id could serve another instance's result); this list only bounds how many tasks keep one.
_RENDERED: list[EmbedTask] = []
_RENDERED_MAX = 2


def _cached_data(task: EmbedTask) -> str:
    if task.rendered is None:
        task.rendered = task.job.data_json()
        _RENDERED.append(task)
        while len(_RENDERED) > _RENDERED_MAX:
            _RENDERED.pop(0).rendered = None
    return task.rendered


async def list_embedding_tasks(request: Request) -> Response:
    """``GET /embed-v2/tasks``: async tasks of the last 7 days (or a window), newest first."""
    state: EmulatorState = request.app.state.emulator
    tasks, page, limit = _listed_tasks(state, EMBED_V2_TASKS, request)
    return json_response(paginate(tasks, page, limit, _summary_item))


# --------------------------------------------------------------------------------------------------
# Embed v1 handlers
# --------------------------------------------------------------------------------------------------


def _v1_model(value: str | None) -> str:
    if not value:
        raise bad_request("The model_name parameter is required.", "parameter_not_provided")
    if value != "marengo3.0":
        raise bad_request(f"The model {value} is not supported. Use marengo3.0.")
    return value


def _form_number(raw: str | None, name: str) -> float | None:
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        raise bad_request(f"The {name} parameter must be a number.") from None
    if not math.isfinite(value):
        raise bad_request(f"The {name} parameter must be a number.")
    return value


async def _file_media(state: EmulatorState, upload: Any, kind: str) -> SourceMedia:
    sink = _ByteSink(state)
    while chunk := await upload.read(1024 * 1024):
        sink.write(chunk)
    key, duration = sink.finish(kind)
    name = upload.filename or f"upload.{'jpg' if kind == 'image' else 'mp4'}"
    return SourceMedia(key=key, duration=duration, input_filename=name, failure=failure_marker(name))


def _url_media(url: str, name: str, kind: str) -> SourceMedia:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise bad_request(f"The {name} parameter must be an http(s) URL.")
    return SourceMedia(
        key=f"url:{url}",
        duration=synth.media_duration(url, kind=kind),
        input_url=url,
        input_filename=posixpath.basename(unquote(parts.path)) or None,
        failure=failure_marker(url),
    )


def _v1_meta(media: SourceMedia) -> dict[str, str]:
    return (
        {"input_url": media.input_url} if media.input_url else {"input_filename": media.input_filename or ""}
    )


async def create_embeddings_v1(request: Request) -> Response:
    """``POST /embed``: v1 text, image and audio embeddings (multipart form)."""
    state: EmulatorState = request.app.state.emulator
    form = await parse_form(request)
    model = _v1_model(form.get("model_name"))
    truncate = form.get("text_truncate")
    if truncate is not None and truncate not in ("none", "start", "end"):
        raise bad_request("The text_truncate parameter must be none, start or end.")
    out: dict[str, Any] = {"model_name": model}
    text = form.get("text")
    if text:
        out["text_embedding"] = {
            "segments": [
                {"float": synth.embedding_vector(model, "text", "", synth.truncate_to_tokens(text, 500))}
            ]
        }
    image: SourceMedia | None = None
    if form.get("image_url"):
        image = _url_media(form.get("image_url") or "", "image_url", "image")
    elif "image_file" in form.files:
        image = await _file_media(state, form.files["image_file"], "image")
    if image is not None:
        if image.failure:
            raise bad_request(f"The image could not be processed: {_FAILED_MESSAGE}.")
        out["image_embedding"] = {
            "segments": [{"float": synth.embedding_vector(model, "image", image.key, "")}],
            "metadata": _v1_meta(image),
        }
    audio: SourceMedia | None = None
    if form.get("audio_url"):
        audio = _url_media(form.get("audio_url") or "", "audio_url", "audio")
    elif "audio_file" in form.files:
        audio = await _file_media(state, form.files["audio_file"], "audio")
    if audio is not None:
        if audio.failure:
            raise bad_request(f"The audio could not be processed: {_FAILED_MESSAGE}.")
        offset = _form_number(form.get("audio_start_offset_sec"), "audio_start_offset_sec") or 0.0
        if offset < 0 or offset >= audio.duration:
            raise bad_request(
                "The audio_start_offset_sec parameter must be between 0 and the audio duration "
                f"({audio.duration:g} s)."
            )
        segments = []
        for seg in synth.fixed_segments(offset, audio.duration, 6):
            for option in ("audio", "transcription"):
                segments.append(
                    {
                        "start_offset_sec": seg.start,
                        "end_offset_sec": seg.end,
                        "embedding_option": option,
                        "float": synth.embedding_vector(model, audio.key, option, "clip", seg.start, seg.end),
                    }
                )
        out["audio_embedding"] = {"segments": segments, "metadata": _v1_meta(audio)}
    if len(out) == 1:
        raise bad_request(
            "Provide at least one of text, image_url, image_file, audio_url or audio_file.",
            "parameter_not_provided",
        )
    return json_response(out)


def _v1_scopes(values: list[str]) -> list[str]:
    # The SDK repeats the form field; the docs' curl example sends one JSON array string.
    scopes: list[str] = []
    for value in values:
        stripped = value.strip()
        if stripped.startswith("["):
            try:
                decoded = json.loads(stripped)
            except ValueError:
                raise bad_request("The video_embedding_scope parameter is not a valid JSON array.") from None
            if not isinstance(decoded, list) or not all(isinstance(v, str) for v in decoded):
                raise bad_request("The video_embedding_scope parameter must be a list of strings.")
            scopes.extend(decoded)
        else:
            scopes.append(stripped)
    bad = [s for s in scopes if s not in ("clip", "video")]
    if bad:
        raise bad_request(f"Invalid video_embedding_scope {bad[0]!r}: must be clip or video.")
    if scopes and "clip" not in scopes:
        raise bad_request("The video_embedding_scope parameter must include clip.")
    return list(dict.fromkeys(scopes)) or ["clip"]


async def create_embedding_task_v1(request: Request) -> Response:
    """``POST /embed/tasks``: create a v1 video embedding task (multipart form)."""
    state: EmulatorState = request.app.state.emulator
    form = await parse_form(request)
    model = _v1_model(form.get("model_name"))
    if form.get("video_url"):
        media = _url_media(form.get("video_url") or "", "video_url", "video")
    elif "video_file" in form.files:
        media = await _file_media(state, form.files["video_file"], "video")
    else:
        raise bad_request("Provide either video_url or video_file.", "parameter_not_provided")
    clip = _form_number(form.get("video_clip_length"), "video_clip_length")
    clip_length = 6 if clip is None else clip
    if not 2 <= clip_length <= 10:
        raise bad_request("The video_clip_length parameter must be between 2 and 10.")
    start = _form_number(form.get("video_start_offset_sec"), "video_start_offset_sec")
    end = _form_number(form.get("video_end_offset_sec"), "video_end_offset_sec")
    if (start is None) != (end is None):
        raise bad_request("Set both video_start_offset_sec and video_end_offset_sec, or neither.")
    scopes = _v1_scopes(form.getlist("video_embedding_scope"))
    duration = media.duration
    start = start or 0.0
    end = duration if end is None else end
    if start < 0:
        raise bad_request("The video_start_offset_sec parameter must be at least 0.")
    if end <= start:
        raise bad_request("The video_end_offset_sec parameter must be greater than video_start_offset_sec.")
    if end < start + clip_length:
        raise bad_request(
            "The video_end_offset_sec parameter must be at least video_start_offset_sec + video_clip_length."
        )
    if media.failure is None and end > duration + 1e-6:
        raise bad_request(f"The video_end_offset_sec parameter exceeds the video duration ({duration:g} s).")
    clip_value = int(clip_length) if float(clip_length).is_integer() else clip_length
    job = EmbedJob(
        model_name=model,
        input_type="video",
        media=media,
        start=round(start, 3),
        end=round(end, 3),
        # v1 drops a final clip shorter than 2 s (documented on video_clip_length).
        segments=synth.fixed_segments(start, end, clip_length, drop_short_tail=2.0),
        options=["visual", "audio", "transcription"],
        scopes=["asset" if s == "video" else s for s in scopes],
        clip_length=clip_value,  # type: ignore[arg-type]
    )
    task = _new_task(state, job, "v1")
    return json_response({"_id": task.id})


def _v1_metadata(task: EmbedTask) -> dict[str, Any]:
    job = task.job
    assert job.media is not None
    meta: dict[str, Any] = {}
    if job.media.input_url:
        meta["input_url"] = job.media.input_url
    if job.media.input_filename:
        meta["input_filename"] = job.media.input_filename
    meta["video_clip_length"] = job.clip_length
    meta["video_embedding_scope"] = ["video" if s == "asset" else s for s in job.scopes]
    meta["duration"] = job.media.duration
    return meta


async def retrieve_embedding_task_status_v1(request: Request) -> Response:
    """``GET /embed/tasks/{task_id}/status``: status of a v1 video embedding task."""
    state: EmulatorState = request.app.state.emulator
    task = _task_or_404(state, EMBED_V1_TASKS, request.path_params["task_id"], "flat")
    status = task.lifecycle.observe()
    return json_response(
        {
            "_id": task.id,
            "model_name": task.job.model_name,
            "status": status,
            "video_embedding": {"metadata": _v1_metadata(task)},
        }
    )


async def retrieve_embedding_task_v1(request: Request) -> Response:
    """``GET /embed/tasks/{task_id}``: v1 task with its segments once ready (``embedding_option`` filter)."""
    state: EmulatorState = request.app.state.emulator
    task = _task_or_404(state, EMBED_V1_TASKS, request.path_params["task_id"], "flat")
    query = parse_query(request.query_params)
    wanted = query.getlist("embedding_option")
    bad = [o for o in wanted if o not in ("visual", "audio", "transcription", "visual-text")]
    if bad:
        raise bad_request(f"Invalid embedding_option {bad[0]!r}: must be visual, audio or transcription.")
    # visual-text is the Marengo 2.7 name of the visual embedding.
    options = [
        o
        for o in task.job.options
        if not wanted or o in wanted or (o == "visual" and "visual-text" in wanted)
    ]
    status = task.lifecycle.observe()
    head: dict[str, Any] = {
        "_id": task.id,
        "model_name": task.job.model_name,
        "status": status,
        **task.timestamps(),
    }
    meta_json = json.dumps(_v1_metadata(task))
    if status != "ready":
        return _raw_json(json.dumps(head)[:-1] + f',"video_embedding":{{"metadata":{meta_json}}}}}')
    job = task.job
    assert job.media is not None
    items: list[str] = []
    for option in options:
        if "clip" in job.scopes:
            items.extend(_v1_segment(job, option, "clip", seg.start, seg.end) for seg in job.segments)
        if "asset" in job.scopes:
            items.append(_v1_segment(job, option, "video", job.start, job.end))
    body = (
        json.dumps(head)[:-1]
        + f',"video_embedding":{{"metadata":{meta_json},"segments":[{",".join(items)}]}}}}'
    )
    return _raw_json(body)


def _v1_segment(job: EmbedJob, option: str, scope: str, start: float, end: float) -> str:
    assert job.media is not None
    seed_scope = "asset" if scope == "video" else scope
    vector = synth.embedding_json(job.model_name, job.media.key, option, seed_scope, start, end)
    return (
        f'{{"start_offset_sec":{_num(start)},"end_offset_sec":{_num(end)},'
        f'"embedding_scope":"{scope}","embedding_option":"{option}","float":{vector}}}'
    )


async def list_embedding_tasks_v1(request: Request) -> Response:
    """``GET /embed/tasks``: v1 video embedding tasks of the last 7 days (or a window), newest first."""
    state: EmulatorState = request.app.state.emulator
    tasks, page, limit = _listed_tasks(state, EMBED_V1_TASKS, request)
    return json_response(paginate(tasks, page, limit, _summary_item))


routes: list[Route] = [
    Route(f"{_PREFIX}/embed-v2", create_embeddings, methods=["POST"]),
    Route(f"{_PREFIX}/embed-v2/tasks", create_embedding_task, methods=["POST"]),
    Route(f"{_PREFIX}/embed-v2/tasks", list_embedding_tasks, methods=["GET"]),
    Route(f"{_PREFIX}/embed-v2/tasks/{{task_id}}", retrieve_embedding_task, methods=["GET"]),
    Route(f"{_PREFIX}/embed", create_embeddings_v1, methods=["POST"]),
    Route(f"{_PREFIX}/embed/tasks", create_embedding_task_v1, methods=["POST"]),
    Route(f"{_PREFIX}/embed/tasks", list_embedding_tasks_v1, methods=["GET"]),
    Route(f"{_PREFIX}/embed/tasks/{{task_id}}/status", retrieve_embedding_task_status_v1, methods=["GET"]),
    Route(f"{_PREFIX}/embed/tasks/{{task_id}}", retrieve_embedding_task_v1, methods=["GET"]),
]
