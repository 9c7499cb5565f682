"""Marengo embedding operators: Embed API v2 (sync and async tasks) and the v1 video embedding tasks.

Every parameter is checked before any request, with an error naming it. Results go to
``output_path`` (JSON Lines by default, or Parquet), one row per embedding, and XCom gets a small
manifest; without ``output_path`` the vectors go to XCom only while they stay under a size limit.
The results of an asynchronous task are read from the API as a stream and written row by row, so
a four-hour video does not need several copies of its vectors in memory.

The asynchronous operators are safe to retry: the remote task id is remembered in Airflow's task
state store, and a retry resumes that task unless it failed.
"""

from __future__ import annotations

import base64
import json
import math
import posixpath
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from airflow_provider_twelvelabs.exceptions import TwelveLabsError, TwelveLabsNotFoundError
from airflow_provider_twelvelabs.models import is_failed
from airflow_provider_twelvelabs.operators.base import TwelveLabsBaseOperator

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_twelvelabs.hooks.endpoints import FilePart

__all__ = [
    "DEFAULT_MAX_XCOM_BYTES",
    "DEFAULT_MAX_XCOM_EMBEDDINGS",
    "TwelveLabsCreateEmbeddingTaskOperator",
    "TwelveLabsCreateVideoEmbeddingTaskOperator",
    "TwelveLabsEmbedOperator",
    "embedding_parquet_schema",
]

#: Without ``output_path``, at most this many vectors go to XCom...
DEFAULT_MAX_XCOM_EMBEDDINGS = 100
#: ...and at most this many bytes of JSON (about a hundred 512-float vectors).
DEFAULT_MAX_XCOM_BYTES = 1024 * 1024

MODELS = ("marengo3.0", "marengo3.5")
V1_MODELS = ("marengo3.0",)
SYNC_INPUT_TYPES = ("text", "image", "text_image", "audio", "video", "multi_input")
ASYNC_INPUT_TYPES = ("audio", "video")
EMBEDDING_TYPES = ("separate_embedding", "fused_embedding")
OUTPUT_FORMATS = ("jsonl", "parquet")
V1_SCOPES = ("clip", "video")
V1_OPTIONS = ("visual", "audio", "transcription", "visual-text")
MULTI_INPUT_MEDIA_TYPES = ("image", "video", "audio", "document")

_OPTIONS: dict[tuple[str, str], tuple[str, ...]] = {
    ("marengo3.0", "video"): ("visual", "audio", "transcription"),
    ("marengo3.0", "audio"): ("audio", "transcription"),
    ("marengo3.5", "video"): ("visual", "audio"),
    ("marengo3.5", "audio"): ("audio", "transcription"),
}
_MEGABYTE = 1024 * 1024
#: Decoded size limits of inline (base64) media, contract section 9.
IMAGE_MAX_BYTES = 32 * _MEGABYTE
MEDIA_BASE64_MAX_BYTES = 36 * _MEGABYTE
#: The v1 task upload limit.
V1_VIDEO_FILE_MAX_BYTES = 2 * 1024 * _MEGABYTE
#: Longest media per call: synchronous requests by model, asynchronous tasks (4 h).
SYNC_MAX_SECONDS = {"marengo3.0": 600.0, "marengo3.5": 30.0}
ASYNC_MAX_SECONDS = 4 * 3600.0
#: Text limits in tokens by model; texts are measured in words and punctuation marks, fewer than
#: a subword tokenizer counts, so only texts clearly too long are refused.
TEXT_MAX_TOKENS = {"marengo3.0": 500, "marengo3.5": 2000}
_TOKEN_RE = re.compile(r"\w+|[^\w\s]")
_IMAGE_MIN_PIXELS = 128
_UNSUPPORTED_IMAGE_EXTENSIONS = frozenset(
    {".gif", ".webp", ".bmp", ".tif", ".tiff", ".heic", ".heif", ".svg", ".avif", ".ico"}
)
_SEGMENT_LIMITS = {"dynamic": ("min_duration_sec", 2, 5), "fixed": ("duration_sec", 2, 10)}
_DEFAULT_SEGMENT_SECONDS = {("dynamic", "marengo3.0"): 4, ("dynamic", "marengo3.5"): 2, ("fixed", ""): 6}
_ROW_SOURCE_KEYS = ("input_type", "model", "task_id", "asset_id", "url", "file")


# --------------------------------------------------------------------------- validation helpers


def _str_list(name: str, value: Any, allowed: Sequence[str]) -> list[str] | None:
    """Return ``value`` as a list of allowed strings (``None`` stays ``None``)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not value:
        raise ValueError(f"{name} must be a non-empty list of {', '.join(allowed)}; got {value!r}")
    bad = [v for v in value if v not in allowed]
    if bad:
        raise ValueError(f"{name} has unsupported value {bad[0]!r}; allowed: {', '.join(allowed)}")
    if len(set(value)) != len(value):
        raise ValueError(f"{name} lists a value twice: {list(value)!r}")
    return list(value)


def _number(name: str, value: Any, *, minimum: float | None = None) -> float | None:
    if value is None:
        return None
    if isinstance(value, str):
        # Templated values render as strings.
        try:
            value = float(value)
        except ValueError:
            raise ValueError(f"{name} must be a number of seconds, got {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a number of seconds, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be at least {minimum:g}, got {value!r}")
    return float(value)


def _optional_str(name: str, value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    return value.strip()


def _check_url(name: str, url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(
            f"{name} must be an http(s) URL pointing at the raw media file, got {_redact(url)!r}"
        )


def _redact(url: str) -> str:
    """Return ``url`` without its query string (a presigned URL's signature is a credential)."""
    from airflow_provider_twelvelabs.hooks.twelvelabs import redact_url

    return redact_url(url)


def _text_tokens(text: str) -> int:
    return sum(1 for _ in _TOKEN_RE.finditer(text))


def _image_dimensions(data: bytes) -> tuple[str, int | None, int | None]:
    """Return ``(format, width, height)`` of JPEG or PNG bytes; format ``""`` when neither."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        if len(data) >= 24 and data[12:16] == b"IHDR":
            return "png", int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        return "png", None, None
    if data.startswith(b"\xff\xd8\xff"):
        pos = 2
        while pos + 9 < len(data):
            if data[pos] != 0xFF:
                pos += 1
                continue
            marker = data[pos + 1]
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7 or marker == 0xFF:
                pos += 1 if marker == 0xFF else 2
                continue
            length = int.from_bytes(data[pos + 2 : pos + 4], "big")
            # Start-of-frame markers carry the picture size (C4, C8 and CC are not frames).
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                height = int.from_bytes(data[pos + 5 : pos + 7], "big")
                width = int.from_bytes(data[pos + 7 : pos + 9], "big")
                return "jpeg", width, height
            pos += 2 + length
        return "jpeg", None, None
    return "", None, None


def _read_media(name: str, path: str, conn_id: str | None, limit: int, *, image: bool = False) -> str:
    """Read a local or object-storage file within ``limit`` bytes and return it base64 encoded."""
    from airflow_provider_twelvelabs.sources import SourceTooLargeError, resolve

    try:
        data = resolve(path, conn_id=conn_id).read(limit)
    except FileNotFoundError:
        raise ValueError(f"{name}: no file at {path!r}") from None
    except SourceTooLargeError as exc:
        raise ValueError(
            f"{name}: {path!r} is {exc.size / _MEGABYTE:.1f} MB; inline (base64) media may be at most "
            f"{limit / _MEGABYTE:.0f} MB. Upload it as an asset and pass asset_id, or pass a url."
        ) from None
    if image:
        _check_image(name, path, data)
    return base64.b64encode(data).decode("ascii")


def _check_image(name: str, path: str, data: bytes) -> None:
    fmt, width, height = _image_dimensions(data)
    if not fmt:
        raise ValueError(f"{name}: {path!r} is not a JPEG or PNG image (the formats Marengo accepts)")
    if width is not None and height is not None and min(width, height) < _IMAGE_MIN_PIXELS:
        raise ValueError(
            f"{name}: {path!r} is {width}x{height} pixels; images must be at least "
            f"{_IMAGE_MIN_PIXELS}x{_IMAGE_MIN_PIXELS}"
        )


def _check_image_url(name: str, url: str) -> None:
    extension = posixpath.splitext(unquote(urlsplit(url).path))[1].lower()
    if extension in _UNSUPPORTED_IMAGE_EXTENSIONS:
        raise ValueError(f"{name}: {extension} images are not supported; use JPEG or PNG ({_redact(url)})")


def _filename(path: str) -> str:
    return posixpath.basename(urlsplit(path).path.rstrip("/")) or "video.mp4"


def _check_range(start: float | None, end: float | None, start_name: str, end_name: str) -> None:
    if start is not None and end is not None and end <= start:
        raise ValueError(f"{end_name} ({end:g}) must be greater than {start_name} ({start:g})")


def embedding_parquet_schema() -> Any:
    """Return the ``pyarrow.Schema`` of embedding rows written as Parquet (vectors as float64 lists)."""
    from airflow_provider_twelvelabs.results import import_pyarrow

    pa, _ = import_pyarrow()
    return pa.schema(
        [
            ("embedding_option", pa.string()),
            ("embedding_scope", pa.string()),
            ("start_sec", pa.float64()),
            ("end_sec", pa.float64()),
            ("embedding", pa.list_(pa.float64())),
            ("embedding_uncertainty", pa.float64()),
            *((key, pa.string()) for key in _ROW_SOURCE_KEYS),
        ]
    )


# --------------------------------------------------------------------------- results delivery


class _Stats:
    """Counts rows as they pass, and notes their dimensions, options and scopes."""

    def __init__(self) -> None:
        self.count = 0
        self.dimensions: set[int] = set()
        self.options: dict[str, None] = {}
        self.scopes: dict[str, None] = {}

    def watch(self, rows: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for row in rows:
            self.count += 1
            vector = row.get("embedding")
            if isinstance(vector, list):
                self.dimensions.add(len(vector))
            if row.get("embedding_option"):
                self.options.setdefault(str(row["embedding_option"]), None)
            if row.get("embedding_scope"):
                self.scopes.setdefault(str(row["embedding_scope"]), None)
            yield row

    def summary(self) -> dict[str, Any]:
        dims = sorted(self.dimensions)
        return {
            "count": self.count,
            "dimensions": dims[0] if len(dims) == 1 else (dims or None),
            "options": list(self.options),
            "scopes": list(self.scopes),
        }


class _EmbeddingOperatorMixin(TwelveLabsBaseOperator):
    """Where embedding results go: ``output_path`` with a manifest in XCom, or XCom under a limit."""

    def __init__(
        self,
        *,
        output_path: str | None = None,
        output_format: str = "jsonl",
        output_conn_id: str | None = None,
        max_xcom_embeddings: int = DEFAULT_MAX_XCOM_EMBEDDINGS,
        max_xcom_bytes: int = DEFAULT_MAX_XCOM_BYTES,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.output_path = output_path
        self.output_format = output_format
        self.output_conn_id = output_conn_id
        self.max_xcom_embeddings = max_xcom_embeddings
        self.max_xcom_bytes = max_xcom_bytes

    def _validate_output(self) -> None:
        if self.output_format not in OUTPUT_FORMATS:
            raise ValueError(
                f"output_format must be one of {', '.join(OUTPUT_FORMATS)}, got {self.output_format!r}"
            )
        if isinstance(self.output_path, str) and not self.output_path.strip():
            # A template that renders empty means "no file": the embeddings go to XCom.
            self.output_path = None
        if self.output_path is not None and not isinstance(self.output_path, str):
            raise ValueError(
                f"output_path must be a local path or an object-storage URI, got {self.output_path!r}"
            )
        for name in ("max_xcom_embeddings", "max_xcom_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
        if self.output_format == "parquet" and self.output_path:
            # Fail before any request when the optional extra is missing.
            from airflow_provider_twelvelabs.results import import_pyarrow

            import_pyarrow()

    def _source(self) -> dict[str, Any]:
        """Return the source ids copied into every row and the manifest (no secrets)."""
        return {}

    def _deliver(
        self, items: Iterable[dict[str, Any]], *, model: str | None, task_id: str | None
    ) -> dict[str, Any]:
        """Write rows to ``output_path`` and return the manifest, or return the rows within the XCom limit.

        :param items: the embeddings as rows (``embedding_option``, ``embedding_scope``, ``start_sec``,
            ``end_sec``, ``embedding``...); consumed once.
        :param model: the model name.
        :param task_id: the remote task id, for asynchronous tasks.
        """
        source = {"model": model, "task_id": task_id, **self._source()}
        stats = _Stats()
        if self.output_path:
            from airflow_provider_twelvelabs.results import write_records

            sourced = ({**row, **source} for row in items)
            schema = embedding_parquet_schema() if self.output_format == "parquet" else None
            written = write_records(
                self.output_path,
                stats.watch(sourced),
                format=self.output_format,
                schema=schema,
                conn_id=self.output_conn_id,
            )
            manifest = {**written, **stats.summary(), **source}
            self.log.info(
                "Wrote %d embeddings (%s dimensions, options %s, scopes %s) to %s as %s",
                stats.count,
                manifest["dimensions"],
                manifest["options"],
                manifest["scopes"],
                manifest["path"],
                manifest["format"],
            )
            return manifest
        kept: list[dict[str, Any]] = []
        size = 0
        for row in stats.watch(items):
            size += len(json.dumps(row, separators=(",", ":")))
            if len(kept) >= self.max_xcom_embeddings or size > self.max_xcom_bytes:
                raise TwelveLabsError(
                    f"The embeddings exceed the XCom limit (max_xcom_embeddings={self.max_xcom_embeddings}, "
                    f"max_xcom_bytes={self.max_xcom_bytes}); set output_path to a local path or an "
                    "object-storage URI (s3://..., gs://...) to write them there with a manifest in XCom."
                )
            kept.append(row)
        self.log.info("Returning %d embeddings in XCom (%d bytes of JSON)", stats.count, size)
        return {"path": None, "format": "xcom", **stats.summary(), **source, "embeddings": kept}


def _v2_row(item: Mapping[str, Any]) -> dict[str, Any]:
    """Return an embed v2 ``data[]`` item as a row (the API's keys, any extra field kept)."""
    row = {
        "embedding_option": item.get("embedding_option"),
        "embedding_scope": item.get("embedding_scope"),
        "start_sec": item.get("start_sec"),
        "end_sec": item.get("end_sec"),
        "embedding": item.get("embedding"),
    }
    for key, value in item.items():
        if key not in row and value is not None:
            row[key] = value
    return row


def _v1_row(segment: Mapping[str, Any]) -> dict[str, Any]:
    """Return an embed v1 segment as a row with the v2 key names (``float`` becomes ``embedding``)."""
    return {
        "embedding_option": segment.get("embedding_option"),
        "embedding_scope": segment.get("embedding_scope"),
        "start_sec": segment.get("start_offset_sec"),
        "end_sec": segment.get("end_offset_sec"),
        "embedding": segment.get("float"),
    }


# --------------------------------------------------------------------------- embed v2 request


class _EmbedV2Mixin(_EmbeddingOperatorMixin):
    """The request fields shared by the sync and async embed v2 operators."""

    is_async = False

    def __init__(
        self,
        *,
        input_type: str,
        model_name: str = "marengo3.0",
        asset_id: str | None = None,
        url: str | None = None,
        file_path: str | None = None,
        file_conn_id: str | None = None,
        start_sec: float | None = None,
        end_sec: float | None = None,
        segmentation: str | Mapping[str, Any] | None = None,
        segment_duration_sec: float | None = None,
        embedding_option: Sequence[str] | None = None,
        embedding_scope: Sequence[str] | None = None,
        embedding_type: Sequence[str] | None = None,
        embedding_dimension: int | None = None,
        embedding_uncertainty: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.input_type = input_type
        self.model_name = model_name
        self.asset_id = asset_id
        self.url = url
        self.file_path = file_path
        self.file_conn_id = file_conn_id
        self.start_sec = start_sec
        self.end_sec = end_sec
        self.segmentation = segmentation
        self.segment_duration_sec = segment_duration_sec
        self.embedding_option = embedding_option
        self.embedding_scope = embedding_scope
        self.embedding_type = embedding_type
        self.embedding_dimension = embedding_dimension
        self.embedding_uncertainty = embedding_uncertainty

    def _source(self) -> dict[str, Any]:
        return {
            "input_type": self.input_type,
            "asset_id": self.asset_id or None,
            "url": _redact(self.url) if self.url else None,
            "file": self.file_path or None,
        }

    # ------------------------------------------------------------------ validation

    def _check_common(self, input_types: Sequence[str]) -> None:
        if self.input_type not in input_types:
            raise ValueError(f"input_type must be one of {', '.join(input_types)}, got {self.input_type!r}")
        if self.model_name not in MODELS:
            raise ValueError(f"model_name must be one of {', '.join(MODELS)}, got {self.model_name!r}")
        is_35 = self.model_name == "marengo3.5"
        if self.embedding_dimension is not None:
            if not is_35:
                raise ValueError("embedding_dimension is only supported by model_name='marengo3.5'")
            dim = self.embedding_dimension
            if isinstance(dim, bool) or not isinstance(dim, int) or not 1 <= dim <= 512:
                raise ValueError(f"embedding_dimension must be an integer from 1 to 512, got {dim!r}")
        if self.embedding_uncertainty is not None:
            if not is_35:
                raise ValueError("embedding_uncertainty is only supported by model_name='marengo3.5'")
            if not isinstance(self.embedding_uncertainty, bool):
                raise ValueError(
                    f"embedding_uncertainty must be a boolean, got {self.embedding_uncertainty!r}"
                )

    def _media_source(self, kind: str) -> dict[str, str]:
        """Validate the three media source parameters and return the API's ``media_source``."""
        given = {
            name: value
            for name in ("asset_id", "url", "file_path")
            if (value := _optional_str(name, getattr(self, name))) is not None
        }
        if len(given) != 1:
            shown = ", ".join(given) or "none"
            raise ValueError(f"Give exactly one media source of asset_id, url or file_path (got {shown})")
        name, value = next(iter(given.items()))
        if name == "asset_id":
            return {"asset_id": value}
        if name == "url":
            _check_url("url", value)
            if kind == "image":
                _check_image_url("url", value)
            return {"url": value}
        limit = IMAGE_MAX_BYTES if kind == "image" else MEDIA_BASE64_MAX_BYTES
        return {
            "base64_string": _read_media("file_path", value, self.file_conn_id, limit, image=kind == "image")
        }

    def _no_media(self) -> None:
        for name in ("asset_id", "url", "file_path"):
            if getattr(self, name):
                raise ValueError(f"{name} is not used with input_type={self.input_type!r}")

    def _no_media_options(self) -> None:
        for name in (
            "start_sec",
            "end_sec",
            "segmentation",
            "segment_duration_sec",
            "embedding_option",
            "embedding_scope",
            "embedding_type",
        ):
            if getattr(self, name) is not None:
                raise ValueError(
                    f"{name} only applies to audio and video inputs, not input_type={self.input_type!r}"
                )

    def _segmentation_body(self) -> dict[str, Any] | None:
        audio = self.input_type == "audio"
        model = self.model_name
        raw = self.segmentation
        seconds: Any = self.segment_duration_sec
        if raw is None:
            if seconds is not None:
                raise ValueError("segment_duration_sec needs segmentation='dynamic' or 'fixed'")
            return None
        if isinstance(raw, Mapping):
            if seconds is not None:
                raise ValueError("segment_duration_sec cannot be combined with a segmentation object")
            inner = raw.get("temporal", raw) if model == "marengo3.5" else raw
            if "temporal" in raw and model != "marengo3.5":
                raise ValueError(
                    "segmentation: the 'temporal' wrapper is only used with model_name='marengo3.5'"
                )
            if not isinstance(inner, Mapping):
                raise ValueError(
                    f"segmentation must be 'dynamic', 'fixed' or an API segmentation object, got {raw!r}"
                )
            strategy = inner.get("strategy")
            params = inner.get(strategy) if isinstance(strategy, str) else None
            key = _SEGMENT_LIMITS.get(strategy, ("",))[0] if isinstance(strategy, str) else ""
            seconds = params.get(key) if isinstance(params, Mapping) else None
            if seconds is None and strategy in _SEGMENT_LIMITS:
                raise ValueError(f"segmentation.{strategy}.{key} is required")
        else:
            strategy = raw
        if strategy not in _SEGMENT_LIMITS:
            raise ValueError(f"segmentation strategy must be 'dynamic' or 'fixed', got {strategy!r}")
        if audio and strategy == "dynamic" and model == "marengo3.0":
            raise ValueError("segmentation: audio inputs only support the 'fixed' strategy with marengo3.0")
        key, low, high = _SEGMENT_LIMITS[strategy]
        if seconds is None:
            seconds = _DEFAULT_SEGMENT_SECONDS.get(
                (strategy, model), _DEFAULT_SEGMENT_SECONDS.get((strategy, ""))
            )
        value = _number("segment_duration_sec", seconds)
        if value is None or not value.is_integer() or not low <= value <= high:
            raise ValueError(
                f"segment_duration_sec ({key} of {strategy} segmentation) must be a whole number of "
                f"seconds from {low} to {high}, got {seconds!r}"
            )
        body: dict[str, Any] = {"strategy": strategy, strategy: {key: int(value)}}
        return {"temporal": body} if model == "marengo3.5" else body

    def _media_body(self) -> dict[str, Any]:
        """Validate the audio/video options and return the ``audio`` or ``video`` request object."""
        kind = self.input_type
        model = self.model_name
        options = _str_list("embedding_option", self.embedding_option, _OPTIONS[(model, kind)])
        scope_values = (
            ("clip", "asset", "local") if self.is_async and model == "marengo3.5" else ("clip", "asset")
        )
        scopes = _str_list("embedding_scope", self.embedding_scope, scope_values)
        types = _str_list("embedding_type", self.embedding_type, EMBEDDING_TYPES)
        effective_options = options or list(_OPTIONS[(model, kind)])
        if types is not None and len(effective_options) < 2:
            raise ValueError(
                f"embedding_type only applies when embedding_option has two or more values, got {options!r}"
            )
        if self.embedding_uncertainty and "asset" in (scopes or ["clip", "asset"]):
            raise ValueError(
                "embedding_uncertainty needs embedding_scope without 'asset' (the default includes it); "
                "set embedding_scope=['clip']"
            )
        start = _number("start_sec", self.start_sec, minimum=0)
        end = _number("end_sec", self.end_sec, minimum=0)
        _check_range(start, end, "start_sec", "end_sec")
        limit = ASYNC_MAX_SECONDS if self.is_async else SYNC_MAX_SECONDS[model]
        if end is not None and end - (start or 0.0) > limit:
            hint = "" if self.is_async else "; use TwelveLabsCreateEmbeddingTaskOperator for longer media"
            raise ValueError(
                f"end_sec - start_sec is {end - (start or 0.0):g} s; {kind} embeddings cover at most "
                f"{limit:g} s per {'task' if self.is_async else 'request'}{hint}"
            )
        segmentation = self._segmentation_body()
        body: dict[str, Any] = {"media_source": self._media_source(kind)}
        optional = {
            "start_sec": start,
            "end_sec": end,
            "segmentation": segmentation,
            "embedding_option": options,
            "embedding_scope": scopes,
            "embedding_type": types,
        }
        body.update({k: v for k, v in optional.items() if v is not None})
        return body

    def _top_fields(self) -> dict[str, Any]:
        body: dict[str, Any] = {"input_type": self.input_type, "model_name": self.model_name}
        if self.embedding_dimension is not None:
            body["embedding_dimension"] = self.embedding_dimension
        if self.embedding_uncertainty is not None:
            body["embedding_uncertainty"] = self.embedding_uncertainty
        return body


# --------------------------------------------------------------------------- sync embed v2


class TwelveLabsEmbedOperator(_EmbedV2Mixin):
    """Create embeddings synchronously with the Embed API v2 (``POST /embed-v2``).

    Takes text, an image, text with an image, or audio or video up to 10 minutes (Marengo 3.0),
    or a ``multi_input`` of text and up to 10 media sources (Marengo 3.5). Media come by
    ``asset_id`` (a ready asset), ``url`` (the raw file), or ``file_path`` (a local or
    object-storage file, sent inline as base64). Returns the manifest of ``output_path``, or, when
    there is none, the embeddings themselves under ``"embeddings"`` (within the XCom limits).

    :param input_type: ``text``, ``image``, ``text_image``, ``audio``, ``video`` or ``multi_input``.
    :param model_name: ``marengo3.0`` (default) or ``marengo3.5`` (``multi_input`` only).
    :param text: the text of ``text``, ``text_image`` and ``multi_input`` inputs (templated).
    :param asset_id: the media as a ready asset's id (templated).
    :param url: the media as a URL of the raw file (templated).
    :param file_path: the media as a local path or object-storage URI, sent as base64 (templated).
    :param file_conn_id: an Airflow connection to read ``file_path`` with.
    :param start_sec: first second of audio or video to embed.
    :param end_sec: last second of audio or video to embed (after ``start_sec``).
    :param segmentation: ``dynamic`` (scene based, video only) or ``fixed``, or the API's object.
    :param segment_duration_sec: the minimum (dynamic, 2-5 s) or exact (fixed, 2-10 s) segment length.
    :param embedding_option: ``visual``, ``audio``, ``transcription`` (what the model allows).
    :param embedding_scope: ``clip`` (per segment) and/or ``asset`` (whole media).
    :param embedding_type: ``separate_embedding`` and/or ``fused_embedding`` (two or more options).
    :param embedding_dimension: vector length, 1-512 (Marengo 3.5 only).
    :param embedding_uncertainty: add per-embedding uncertainty (Marengo 3.5 only).
    :param auto_truncate: truncate text over the model's limit instead of failing (Marengo 3.5 only).
    :param media_sources: ``multi_input`` media: dicts with ``media_type`` (image, video, audio,
        document), one of ``url``, ``asset_id`` or ``file_path``, and an optional ``name`` (templated).
    :param output_path: where to write the embeddings: a local path or an object-storage URI (templated).
    :param output_format: ``jsonl`` (default) or ``parquet`` (needs the ``parquet`` extra).
    :param output_conn_id: an Airflow connection for the object store of ``output_path``.
    :param max_xcom_embeddings: without ``output_path``, the most vectors returned in XCom.
    :param max_xcom_bytes: without ``output_path``, the most bytes of JSON returned in XCom.
    """

    template_fields: Sequence[str] = ("text", "asset_id", "url", "file_path", "media_sources", "output_path")
    template_fields_renderers = {"media_sources": "json"}

    def __init__(
        self,
        *,
        input_type: str,
        text: str | None = None,
        auto_truncate: bool | None = None,
        media_sources: Sequence[Mapping[str, Any]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(input_type=input_type, **kwargs)
        self.text = text
        self.auto_truncate = auto_truncate
        self.media_sources = media_sources

    def _text(self, required: bool) -> str | None:
        text = self.text
        if text is None or (isinstance(text, str) and not text.strip()):
            if required:
                raise ValueError(f"text is required with input_type={self.input_type!r}")
            return None
        if not isinstance(text, str):
            raise ValueError(f"text must be a string, got {type(text).__name__}")
        limit = TEXT_MAX_TOKENS[self.model_name]
        tokens = _text_tokens(text)
        if tokens > limit and not self.auto_truncate:
            raise ValueError(
                f"text has at least {tokens} tokens; {self.model_name} takes at most {limit}"
                + (" (or set auto_truncate=True)" if self.model_name == "marengo3.5" else "")
            )
        return text

    def _multi_input(self) -> dict[str, Any]:
        sources = self.media_sources or []
        if not isinstance(sources, (list, tuple)) or len(sources) > 10:
            raise ValueError("media_sources must be a list of at most 10 media sources")
        text = self._text(required=not sources)
        items: list[dict[str, Any]] = []
        kinds: set[str] = set()
        for i, raw in enumerate(sources):
            where = f"media_sources[{i}]"
            if not isinstance(raw, Mapping):
                raise ValueError(f"{where} must be a dict, got {raw!r}")
            unknown = set(raw) - {"media_type", "name", "url", "asset_id", "file_path"}
            if unknown:
                raise ValueError(f"{where} has unknown keys {sorted(unknown)}")
            media_type = raw.get("media_type")
            if media_type not in MULTI_INPUT_MEDIA_TYPES:
                raise ValueError(f"{where}.media_type must be one of {', '.join(MULTI_INPUT_MEDIA_TYPES)}")
            kinds.add(media_type)
            given = [k for k in ("url", "asset_id", "file_path") if raw.get(k)]
            if len(given) != 1:
                raise ValueError(f"{where} needs exactly one of url, asset_id or file_path")
            item: dict[str, Any] = {"media_type": media_type}
            if raw.get("name"):
                item["name"] = str(raw["name"])
            key = given[0]
            if key == "url":
                _check_url(f"{where}.url", raw["url"])
                item["url"] = raw["url"]
            elif key == "asset_id":
                item["asset_id"] = raw["asset_id"]
            else:
                item["base64_string"] = _read_media(
                    f"{where}.file_path",
                    raw["file_path"],
                    self.file_conn_id,
                    IMAGE_MAX_BYTES,
                    image=media_type == "image",
                )
            items.append(item)
        if len(kinds) > 1 and not text:
            raise ValueError("media_sources of different media types need text to relate them")
        if "document" in kinds and len(items) > 1:
            raise ValueError("a document must be the only entry of media_sources")
        body: dict[str, Any] = {}
        if text is not None:
            body["input_text"] = text
        if items:
            body["media_sources"] = items
        return body

    def build_request(self) -> dict[str, Any]:
        """Validate every parameter and return the ``POST /embed-v2`` body; no request is made."""
        self._validate_output()
        self._check_common(SYNC_INPUT_TYPES)
        is_35 = self.model_name == "marengo3.5"
        if is_35 and self.input_type != "multi_input":
            raise ValueError(
                "model_name='marengo3.5' takes only input_type='multi_input' on the synchronous API"
            )
        if not is_35 and self.input_type == "multi_input":
            raise ValueError("input_type='multi_input' needs model_name='marengo3.5'")
        if self.auto_truncate is not None and not is_35:
            raise ValueError("auto_truncate is only supported by model_name='marengo3.5'")
        if self.media_sources is not None and self.input_type != "multi_input":
            raise ValueError("media_sources is only used with input_type='multi_input'")
        body = self._top_fields()
        kind = self.input_type
        if kind in ("audio", "video"):
            if self.text is not None:
                raise ValueError(f"text is not used with input_type={kind!r}")
            body[kind] = self._media_body()
        elif kind == "text":
            self._no_media()
            self._no_media_options()
            body["text"] = {"input_text": self._text(required=True)}
        elif kind in ("image", "text_image"):
            self._no_media_options()
            if kind == "image" and self.text is not None:
                raise ValueError("text is not used with input_type='image'; use 'text_image'")
            part: dict[str, Any] = {"media_source": self._media_source("image")}
            if kind == "text_image":
                part["input_text"] = self._text(required=True)
            body[kind] = part
        else:
            self._no_media()
            self._no_media_options()
            body["multi_input"] = self._multi_input()
        if self.auto_truncate is not None:
            body["auto_truncate"] = self.auto_truncate
        return body

    def execute(self, context: Context) -> dict[str, Any]:
        """Validate, create the embeddings, and deliver them (file and manifest, or XCom).

        :param context: the task context.
        """
        body = self.build_request()
        self.log.info("Creating %s embeddings with %s", self.input_type, self.model_name)
        result = self.hook.create_embedding(body)
        rows = (_v2_row(item.model_dump(exclude_none=False)) for item in result.data)
        return self._deliver(rows, model=self.model_name, task_id=None)


# --------------------------------------------------------------------------- retry-safe tasks


class _RemoteTaskMixin(_EmbeddingOperatorMixin):
    """Remembers the remote task id across Airflow retries, in Airflow's task state store."""

    task_kind = ""

    @property
    def _memory_key(self) -> str:
        return f"{self.task_kind}_id"

    def _reusable(self, remote_id: str) -> Any:
        """Return the remembered task's status resource if it can be resumed, else ``None``."""
        raise NotImplementedError

    def _create(self) -> tuple[str, Any]:
        raise NotImplementedError

    def _start(self, context: Context) -> Any:
        remembered = self.recall(context, self._memory_key)
        remote_id = remembered if isinstance(remembered, str) else None
        resource: Any = None
        if remote_id:
            resource = self._reusable(remote_id)
            if resource is None:
                remote_id = None
            else:
                self.log.info(
                    "Resuming %s %s from an earlier try instead of creating a new one",
                    self.task_kind,
                    remote_id,
                )
        if not remote_id:
            remote_id, resource = self._create()
            self.remember(context, self._memory_key, remote_id)
        return self.wait_for_resource(context, kind=self.task_kind, resource_id=remote_id, resource=resource)


class TwelveLabsCreateEmbeddingTaskOperator(_RemoteTaskMixin, _EmbedV2Mixin):
    """Create an asynchronous Embed API v2 task for audio or video up to 4 hours, wait, and deliver.

    Pushes the task id to XCom (``embed_v2_task_id``) before waiting, defers to the triggerer (or
    polls on the worker), then reads the embeddings once as a stream and writes them to
    ``output_path`` row by row. An Airflow retry resumes the task of an earlier try unless it
    failed.

    :param input_type: ``video`` or ``audio``.
    :param model_name: ``marengo3.0`` (default) or ``marengo3.5``.
    :param asset_id: the media as a ready asset's id (templated).
    :param url: the media as a URL of the raw file (templated).
    :param file_path: the media as a local path or object-storage URI, sent as base64 (up to 36 MB)
        (templated).
    :param file_conn_id: an Airflow connection to read ``file_path`` with.
    :param start_sec: first second to embed.
    :param end_sec: last second to embed (after ``start_sec``).
    :param segmentation: ``dynamic`` (video) or ``fixed``, or the API's object; Marengo 3.5's
        ``temporal`` wrapper is added for you.
    :param segment_duration_sec: the minimum (dynamic, 2-5 s) or exact (fixed, 2-10 s) segment length.
    :param embedding_option: ``visual``, ``audio``, ``transcription`` (what the model allows).
    :param embedding_scope: ``clip`` and/or ``asset`` (and ``local`` with Marengo 3.5).
    :param embedding_type: ``separate_embedding`` and/or ``fused_embedding`` (two or more options).
    :param embedding_dimension: vector length, 1-512 (Marengo 3.5 only).
    :param embedding_uncertainty: add per-embedding uncertainty (Marengo 3.5 only, no ``asset`` scope).
    :param output_path: where to write the embeddings: a local path or an object-storage URI (templated).
    :param output_format: ``jsonl`` (default) or ``parquet`` (needs the ``parquet`` extra).
    :param output_conn_id: an Airflow connection for the object store of ``output_path``.
    :param max_xcom_embeddings: without ``output_path``, the most vectors returned in XCom.
    :param max_xcom_bytes: without ``output_path``, the most bytes of JSON returned in XCom.
    """

    template_fields: Sequence[str] = ("asset_id", "url", "file_path", "output_path")
    is_async = True
    task_kind = "embed_v2_task"

    def __init__(self, *, input_type: str = "video", **kwargs: Any) -> None:
        super().__init__(input_type=input_type, **kwargs)

    def build_request(self) -> dict[str, Any]:
        """Validate every parameter and return the ``POST /embed-v2/tasks`` body; no request is made."""
        self._validate_output()
        self._check_common(ASYNC_INPUT_TYPES)
        body = self._top_fields()
        body[self.input_type] = self._media_body()
        return body

    def execute(self, context: Context) -> Any:
        """Validate, create (or resume) the task, wait for it, and deliver its embeddings.

        :param context: the task context.
        """
        self._body = self.build_request()
        return self._start(context)

    def _create(self) -> tuple[str, Any]:
        task = self.hook.create_embedding_task(self._body)
        self.log.info("Created embedding task %s (%s, %s)", task.id, self.input_type, self.model_name)
        return task.id, task

    def _reusable(self, remote_id: str) -> Any:
        try:
            task = self.hook.get_embedding_task_status(remote_id)
        except TwelveLabsNotFoundError:
            self.log.info("The embedding task %s of an earlier try no longer exists", remote_id)
            return None
        if is_failed(task.status):
            self.log.info("The embedding task %s of an earlier try failed; creating a new one", remote_id)
            return None
        return task

    def on_resource_ready(self, context: Context, kind: str, resource: dict[str, Any]) -> Any:
        """Read the ready task's embeddings as a stream and deliver them.

        :param context: the task context.
        :param kind: ``embed_v2_task``.
        :param resource: the task as JSON (without vectors).
        """
        task_id = str(resource.get("id") or resource.get("_id"))
        with self.hook.stream_embedding_task_results(task_id) as stream:
            rows = (_v2_row(item) for item in stream)
            result = self._deliver(rows, model=self.model_name, task_id=task_id)
        self.forget(context, self._memory_key)
        return result


# --------------------------------------------------------------------------- embed v1 video tasks


class TwelveLabsCreateVideoEmbeddingTaskOperator(_RemoteTaskMixin):
    """Create a v1 video embedding task (``POST /embed/tasks``), wait, and deliver its segments.

    The v1 Embed API is deprecated in favour of v2 (:class:`TwelveLabsCreateEmbeddingTaskOperator`)
    but still serves existing DAGs. Pushes the task id to XCom (``embed_v1_task_id``) before
    waiting; an Airflow retry resumes the task of an earlier try unless it failed. Rows use the v2
    key names (``start_sec``, ``end_sec``, ``embedding``); the whole-video scope stays ``video``.

    :param video_url: the video as a URL of the raw file (templated).
    :param video_file: the video as a local path or object-storage URI, uploaded (up to 2 GB)
        (templated).
    :param file_conn_id: an Airflow connection to read ``video_file`` with.
    :param model_name: ``marengo3.0``.
    :param video_clip_length: seconds per clip, 2-10 (default 6 on the API side).
    :param video_start_offset_sec: where to start; set both offsets or neither.
    :param video_end_offset_sec: where to stop (at least start + clip length).
    :param video_embedding_scope: ``clip``, or ``clip`` and ``video``.
    :param embedding_option: which embeddings to retrieve: ``visual``, ``audio``,
        ``transcription`` (``visual-text`` is the Marengo 2.7 name of ``visual``); all by default.
    :param output_path: where to write the embeddings: a local path or an object-storage URI (templated).
    :param output_format: ``jsonl`` (default) or ``parquet`` (needs the ``parquet`` extra).
    :param output_conn_id: an Airflow connection for the object store of ``output_path``.
    :param max_xcom_embeddings: without ``output_path``, the most vectors returned in XCom.
    :param max_xcom_bytes: without ``output_path``, the most bytes of JSON returned in XCom.
    """

    template_fields: Sequence[str] = ("video_url", "video_file", "output_path")
    task_kind = "embed_v1_task"

    def __init__(
        self,
        *,
        video_url: str | None = None,
        video_file: str | None = None,
        file_conn_id: str | None = None,
        model_name: str = "marengo3.0",
        video_clip_length: float | None = None,
        video_start_offset_sec: float | None = None,
        video_end_offset_sec: float | None = None,
        video_embedding_scope: Sequence[str] | None = None,
        embedding_option: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.video_url = video_url
        self.video_file = video_file
        self.file_conn_id = file_conn_id
        self.model_name = model_name
        self.video_clip_length = video_clip_length
        self.video_start_offset_sec = video_start_offset_sec
        self.video_end_offset_sec = video_end_offset_sec
        self.video_embedding_scope = video_embedding_scope
        self.embedding_option = embedding_option

    def _source(self) -> dict[str, Any]:
        return {
            "input_type": "video",
            "asset_id": None,
            "url": _redact(self.video_url) if self.video_url else None,
            "file": self.video_file or None,
        }

    def build_request(self) -> dict[str, Any]:
        """Validate every parameter and return the keyword arguments of the create call (no request)."""
        self._validate_output()
        if self.model_name not in V1_MODELS:
            raise ValueError(
                f"model_name must be one of {', '.join(V1_MODELS)} for v1 tasks, got {self.model_name!r}"
            )
        url = _optional_str("video_url", self.video_url)
        file = _optional_str("video_file", self.video_file)
        if (url is None) == (file is None):
            raise ValueError("Give exactly one of video_url or video_file")
        clip = _number("video_clip_length", self.video_clip_length)
        if clip is not None and not 2 <= clip <= 10:
            raise ValueError(
                f"video_clip_length must be from 2 to 10 seconds, got {self.video_clip_length!r}"
            )
        start = _number("video_start_offset_sec", self.video_start_offset_sec, minimum=0)
        end = _number("video_end_offset_sec", self.video_end_offset_sec, minimum=0)
        if (start is None) != (end is None):
            raise ValueError("Set both video_start_offset_sec and video_end_offset_sec, or neither")
        _check_range(start, end, "video_start_offset_sec", "video_end_offset_sec")
        if start is not None and end is not None and end - start < (clip or 6.0):
            raise ValueError(
                f"video_end_offset_sec must be at least video_start_offset_sec + video_clip_length "
                f"({start:g} + {clip or 6.0:g})"
            )
        scopes = _str_list("video_embedding_scope", self.video_embedding_scope, V1_SCOPES)
        if scopes is not None and "clip" not in scopes:
            raise ValueError("video_embedding_scope must include 'clip' (['clip'] or ['clip', 'video'])")
        self._options = _str_list("embedding_option", self.embedding_option, V1_OPTIONS)
        fields: dict[str, Any] = {
            "model_name": self.model_name,
            "video_url": url,
            "video_start_offset_sec": start,
            "video_end_offset_sec": end,
            "video_clip_length": clip,
            "video_embedding_scope": scopes,
        }
        if url is not None:
            _check_url("video_url", url)
        else:
            fields["video_file"] = self._file_part(str(file))
        return {k: v for k, v in fields.items() if v is not None}

    def _file_part(self, path: str) -> FilePart:
        import mimetypes

        from airflow_provider_twelvelabs.hooks.endpoints import FilePart
        from airflow_provider_twelvelabs.sources import resolve

        target = resolve(path, conn_id=self.file_conn_id)
        try:
            size = target.size()
        except FileNotFoundError:
            raise ValueError(f"video_file: no file at {path!r}") from None
        if size > V1_VIDEO_FILE_MAX_BYTES:
            raise ValueError(
                f"video_file: {path!r} is {size / _MEGABYTE:.0f} MB; v1 tasks take files up to 2 GB. "
                "Use a video_url, or upload it as an asset and use TwelveLabsCreateEmbeddingTaskOperator."
            )
        name = _filename(path)
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        return FilePart("video_file", name, target.open, content_type)

    def execute(self, context: Context) -> Any:
        """Validate, create (or resume) the task, wait for it, and deliver its segments.

        :param context: the task context.
        """
        self._fields = self.build_request()
        return self._start(context)

    def _create(self) -> tuple[str, Any]:
        task = self.hook.create_video_embedding_task(**self._fields)
        self.log.info("Created video embedding task %s (v1, %s)", task.id, self.model_name)
        return task.id, None

    def _reusable(self, remote_id: str) -> Any:
        try:
            task = self.hook.get_video_embedding_task_status(remote_id)
        except TwelveLabsNotFoundError:
            self.log.info("The video embedding task %s of an earlier try no longer exists", remote_id)
            return None
        if is_failed(task.status):
            self.log.info(
                "The video embedding task %s of an earlier try failed; creating a new one", remote_id
            )
            return None
        return task

    def on_resource_ready(self, context: Context, kind: str, resource: dict[str, Any]) -> Any:
        """Read the ready task's segments as a stream and deliver them.

        :param context: the task context.
        :param kind: ``embed_v1_task``.
        :param resource: the task status as JSON.
        """
        task_id = str(resource.get("id") or resource.get("_id"))
        options = _str_list("embedding_option", self.embedding_option, V1_OPTIONS)
        with self.hook.stream_video_embedding_task_results(task_id, embedding_option=options) as stream:
            rows = (_v1_row(segment) for segment in stream)
            result = self._deliver(rows, model=self.model_name, task_id=task_id)
        self.forget(context, self._memory_key)
        return result
