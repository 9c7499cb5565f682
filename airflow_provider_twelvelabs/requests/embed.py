"""Marengo embedding requests: Embed API v2 (sync and task) and the v1 video embedding task.

Media given as ``file_path`` are sent inline as base64; a model does not read files itself:
:meth:`to_body` takes a ``read_media`` callable (the operators pass one that reads local and
object-storage files), so the models can be checked without any file or network.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Mapping
from typing import Annotated, Any, ClassVar
from urllib.parse import unquote, urlsplit

from pydantic import PrivateAttr, field_validator, model_validator

from airflow_provider_twelvelabs.requests.fields import (
    RequestModel,
    checked,
    choices,
    http_url,
    integer,
    number,
    one_of,
    optional_bool,
    optional_str,
    redact,
    resource_id,
)

__all__ = [
    "ASYNC_MAX_SECONDS",
    "EmbedV1TaskRequest",
    "EmbedV2Request",
    "EmbedV2TaskRequest",
    "EmbeddingOutput",
    "MediaReader",
]

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
#: Longest media per call: synchronous requests by model, asynchronous tasks (4 h).
SYNC_MAX_SECONDS = {"marengo3.0": 600.0, "marengo3.5": 30.0}
ASYNC_MAX_SECONDS = 4 * 3600.0
#: Text limits in tokens by model; texts are measured in words and punctuation marks, fewer than
#: a subword tokenizer counts, so only texts clearly too long are refused.
TEXT_MAX_TOKENS = {"marengo3.0": 500, "marengo3.5": 2000}
_TOKEN_RE = re.compile(r"\w+|[^\w\s]")
_UNSUPPORTED_IMAGE_EXTENSIONS = frozenset(
    {".gif", ".webp", ".bmp", ".tif", ".tiff", ".heic", ".heif", ".svg", ".avif", ".ico"}
)
_SEGMENT_LIMITS = {"dynamic": ("min_duration_sec", 2, 5), "fixed": ("duration_sec", 2, 10)}
_DEFAULT_SEGMENT_SECONDS = {("dynamic", "marengo3.0"): 4, ("dynamic", "marengo3.5"): 2, ("fixed", ""): 6}
#: The v1 default clip length, in seconds.
_V1_CLIP_SECONDS = 6.0
_MEDIA_OPTIONS = (
    "start_sec",
    "end_sec",
    "segmentation",
    "segment_duration_sec",
    "embedding_option",
    "embedding_scope",
    "embedding_type",
)

#: Reads a file: ``(parameter name, path, size limit in bytes, is an image)`` -> base64 text.
MediaReader = Callable[[str, str, int, bool], str]


def _text_tokens(text: str) -> int:
    return sum(1 for _ in _TOKEN_RE.finditer(text))


def _check_image_url(name: str, url: str) -> None:
    extension = posixpath.splitext(unquote(urlsplit(url).path))[1].lower()
    if extension in _UNSUPPORTED_IMAGE_EXTENSIONS:
        raise ValueError(f"{name}: {extension} images are not supported; use JPEG or PNG ({redact(url)})")


def _check_range(start: float | None, end: float | None, start_name: str, end_name: str) -> None:
    if start is not None and end is not None and end <= start:
        raise ValueError(f"{end_name} ({end:g}) must be greater than {start_name} ({start:g})")


def _inline(read_media: MediaReader | None, name: str, path: str, limit: int, image: bool) -> str:
    if read_media is None:
        raise ValueError(f"{name}: no reader was given for the file {path!r}")
    return read_media(name, path, limit, image)


# --------------------------------------------------------------------------- output


class EmbeddingOutput(RequestModel):
    """Where embedding results go: ``output_path`` (a manifest in XCom) or XCom under the limits.

    :param output_path: a local path or an object-storage URI; ``None`` or ``""`` for XCom.
    :param output_format: ``jsonl`` or ``parquet``.
    :param max_xcom_embeddings: without ``output_path``, the most vectors returned in XCom.
    :param max_xcom_bytes: without ``output_path``, the most bytes of JSON returned in XCom.
    """

    output_path: Annotated[str | None, checked(optional_str)] = None
    output_format: Annotated[str, checked(one_of, allowed=OUTPUT_FORMATS)] = "jsonl"
    max_xcom_embeddings: Annotated[int, checked(integer, minimum=0)]
    max_xcom_bytes: Annotated[int, checked(integer, minimum=0)]

    def to_body(self) -> dict[str, Any]:
        """Return the checked settings as a dict."""
        return self.model_dump()


# --------------------------------------------------------------------------- embed v2


class _EmbedV2Request(RequestModel):
    """The fields the sync and task embed v2 requests share, and the audio/video media object."""

    is_async: ClassVar[bool] = False
    input_types: ClassVar[tuple[str, ...]] = SYNC_INPUT_TYPES

    input_type: str
    model_name: Annotated[str, checked(one_of, allowed=MODELS)] = "marengo3.0"
    embedding_dimension: Annotated[int | None, checked(integer, minimum=1, maximum=512)] = None
    embedding_uncertainty: Annotated[bool | None, checked(optional_bool)] = None
    asset_id: Annotated[str | None, checked(optional_str)] = None
    url: Annotated[str | None, checked(optional_str)] = None
    file_path: Annotated[str | None, checked(optional_str)] = None
    start_sec: Annotated[float | None, checked(number, minimum=0)] = None
    end_sec: Annotated[float | None, checked(number, minimum=0)] = None
    segmentation: Any = None
    segment_duration_sec: Any = None
    # Their allowed values depend on the model and the input type: checked with the whole request.
    embedding_option: Any = None
    embedding_scope: Any = None
    embedding_type: Any = None

    _segmentation: dict[str, Any] | None = PrivateAttr(default=None)

    @field_validator("input_type", mode="before")
    @classmethod
    def _input_type(cls, value: Any) -> str:
        return one_of("input_type", value, allowed=cls.input_types)

    @model_validator(mode="after")
    def _check_request(self) -> _EmbedV2Request:
        is_35 = self.model_name == "marengo3.5"
        if self.embedding_dimension is not None and not is_35:
            raise ValueError("embedding_dimension is only supported by model_name='marengo3.5'")
        if self.embedding_uncertainty is not None and not is_35:
            raise ValueError("embedding_uncertainty is only supported by model_name='marengo3.5'")
        self._check_input()
        return self

    def _check_input(self) -> None:
        self._check_media()

    # ------------------------------------------------------------------ media sources

    def _source(self, kind: str) -> tuple[str, str]:
        """Return the one media source given, as ``(parameter name, value)``."""
        given = {
            name: value
            for name in ("asset_id", "url", "file_path")
            if (value := getattr(self, name)) is not None
        }
        if len(given) != 1:
            shown = ", ".join(given) or "none"
            raise ValueError(f"Give exactly one media source of asset_id, url or file_path (got {shown})")
        name, value = next(iter(given.items()))
        if name == "asset_id":
            resource_id("asset_id", value)
        elif name == "url":
            http_url("url", value)
            if kind == "image":
                _check_image_url("url", value)
        return name, value

    def _media_source(self, kind: str, read_media: MediaReader | None) -> dict[str, str]:
        name, value = self._source(kind)
        if name != "file_path":
            return {name: value}
        limit = IMAGE_MAX_BYTES if kind == "image" else MEDIA_BASE64_MAX_BYTES
        return {"base64_string": _inline(read_media, "file_path", value, limit, kind == "image")}

    # ------------------------------------------------------------------ audio and video

    def _check_media(self) -> None:
        kind = self.input_type
        model = self.model_name
        allowed = _OPTIONS[(model, kind)]
        self.embedding_option = choices("embedding_option", self.embedding_option, allowed=allowed)
        scope_values = (
            ("clip", "asset", "local") if self.is_async and model == "marengo3.5" else ("clip", "asset")
        )
        self.embedding_scope = choices("embedding_scope", self.embedding_scope, allowed=scope_values)
        self.embedding_type = choices("embedding_type", self.embedding_type, allowed=EMBEDDING_TYPES)
        if self.embedding_type is not None and len(self.embedding_option or allowed) < 2:
            raise ValueError(
                "embedding_type only applies when embedding_option has two or more values, "
                f"got {self.embedding_option!r}"
            )
        if self.embedding_uncertainty and "asset" in (self.embedding_scope or ["clip", "asset"]):
            raise ValueError(
                "embedding_uncertainty needs embedding_scope without 'asset' (the default includes it); "
                "set embedding_scope=['clip']"
            )
        start, end = self.start_sec, self.end_sec
        _check_range(start, end, "start_sec", "end_sec")
        limit = ASYNC_MAX_SECONDS if self.is_async else SYNC_MAX_SECONDS[model]
        if end is not None and end - (start or 0.0) > limit:
            hint = "" if self.is_async else "; use TwelveLabsCreateEmbeddingTaskOperator for longer media"
            raise ValueError(
                f"end_sec - start_sec is {end - (start or 0.0):g} s; {kind} embeddings cover at most "
                f"{limit:g} s per {'task' if self.is_async else 'request'}{hint}"
            )
        self._segmentation = self._segmentation_body()
        self._source(kind)

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
            if "temporal" in raw and model != "marengo3.5":
                raise ValueError(
                    "segmentation: the 'temporal' wrapper is only used with model_name='marengo3.5'"
                )
            inner = raw.get("temporal", raw) if model == "marengo3.5" else raw
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
        try:
            value = number("segment_duration_sec", seconds)
        except ValueError:
            value = None
        if value is None or not value.is_integer() or not low <= value <= high:
            raise ValueError(
                f"segment_duration_sec ({key} of {strategy} segmentation) must be a whole number of "
                f"seconds from {low} to {high}, got {seconds!r}"
            )
        body: dict[str, Any] = {"strategy": strategy, strategy: {key: int(value)}}
        return {"temporal": body} if model == "marengo3.5" else body

    def _media_body(self, read_media: MediaReader | None) -> dict[str, Any]:
        """Return the ``audio`` or ``video`` request object."""
        body: dict[str, Any] = {"media_source": self._media_source(self.input_type, read_media)}
        optional = {
            "start_sec": self.start_sec,
            "end_sec": self.end_sec,
            "segmentation": self._segmentation,
            "embedding_option": self.embedding_option,
            "embedding_scope": self.embedding_scope,
            "embedding_type": self.embedding_type,
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


class EmbedV2Request(_EmbedV2Request):
    """The ``POST /embed-v2`` request: text, an image, text with an image, audio, video or multi_input.

    The fields are :class:`~airflow_provider_twelvelabs.operators.embed.TwelveLabsEmbedOperator`'s
    request parameters, under the same names.
    """

    text: Any = None
    auto_truncate: Annotated[bool | None, checked(optional_bool)] = None
    media_sources: Any = None

    _text: str | None = PrivateAttr(default=None)
    _items: list[dict[str, Any]] = PrivateAttr(default_factory=list)

    def _check_input(self) -> None:
        is_35 = self.model_name == "marengo3.5"
        kind = self.input_type
        if is_35 and kind != "multi_input":
            raise ValueError(
                "model_name='marengo3.5' takes only input_type='multi_input' on the synchronous API"
            )
        if not is_35 and kind == "multi_input":
            raise ValueError("input_type='multi_input' needs model_name='marengo3.5'")
        if self.auto_truncate is not None and not is_35:
            raise ValueError("auto_truncate is only supported by model_name='marengo3.5'")
        if self.media_sources is not None and kind != "multi_input":
            raise ValueError("media_sources is only used with input_type='multi_input'")
        if kind in ("audio", "video"):
            if self.text is not None:
                raise ValueError(f"text is not used with input_type={kind!r}")
            self._check_media()
        elif kind == "text":
            self._no_media()
            self._no_media_options()
            self._text = self._checked_text(required=True)
        elif kind in ("image", "text_image"):
            self._no_media_options()
            if kind == "image" and self.text is not None:
                raise ValueError("text is not used with input_type='image'; use 'text_image'")
            self._source("image")
            if kind == "text_image":
                self._text = self._checked_text(required=True)
        else:
            self._no_media()
            self._no_media_options()
            self._check_multi_input()

    def _no_media(self) -> None:
        for name in ("asset_id", "url", "file_path"):
            if getattr(self, name):
                raise ValueError(f"{name} is not used with input_type={self.input_type!r}")

    def _no_media_options(self) -> None:
        for name in _MEDIA_OPTIONS:
            if getattr(self, name) is not None:
                raise ValueError(
                    f"{name} only applies to audio and video inputs, not input_type={self.input_type!r}"
                )

    def _checked_text(self, required: bool) -> str | None:
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

    def _check_multi_input(self) -> None:
        sources = self.media_sources or []
        if not isinstance(sources, (list, tuple)) or len(sources) > 10:
            raise ValueError("media_sources must be a list of at most 10 media sources")
        self._text = self._checked_text(required=not sources)
        kinds: set[str] = set()
        for i, raw in enumerate(sources):
            where = f"media_sources[{i}]"
            if not isinstance(raw, Mapping):
                raise ValueError(f"{where} must be a dict, got {raw!r}")
            unknown = set(raw) - {"media_type", "name", "url", "asset_id", "file_path"}
            if unknown:
                raise ValueError(f"{where} has unknown keys {sorted(unknown)}")
            media_type = one_of(f"{where}.media_type", raw.get("media_type"), allowed=MULTI_INPUT_MEDIA_TYPES)
            kinds.add(media_type)
            given = [k for k in ("url", "asset_id", "file_path") if raw.get(k)]
            if len(given) != 1:
                raise ValueError(f"{where} needs exactly one of url, asset_id or file_path")
            key = given[0]
            item: dict[str, Any] = {"media_type": media_type}
            if raw.get("name"):
                item["name"] = str(raw["name"])
            if key == "url":
                item["url"] = http_url(f"{where}.url", raw["url"])
            elif key == "asset_id":
                item["asset_id"] = resource_id(f"{where}.asset_id", raw["asset_id"])
            else:
                item["file_path"] = optional_str(f"{where}.file_path", raw["file_path"])
            self._items.append(item)
        if len(kinds) > 1 and not self._text:
            raise ValueError("media_sources of different media types need text to relate them")
        if "document" in kinds and len(self._items) > 1:
            raise ValueError("a document must be the only entry of media_sources")

    def _multi_input_body(self, read_media: MediaReader | None) -> dict[str, Any]:
        items = []
        for i, checked_item in enumerate(self._items):
            item = dict(checked_item)
            path = item.pop("file_path", None)
            if path is not None:
                item["base64_string"] = _inline(
                    read_media,
                    f"media_sources[{i}].file_path",
                    path,
                    IMAGE_MAX_BYTES,
                    item["media_type"] == "image",
                )
            items.append(item)
        body: dict[str, Any] = {}
        if self._text is not None:
            body["input_text"] = self._text
        if items:
            body["media_sources"] = items
        return body

    def to_body(self, read_media: MediaReader | None = None) -> dict[str, Any]:
        """Return the ``POST /embed-v2`` body.

        :param read_media: reads a ``file_path`` (or a media source's) as base64; needed only
            when one is given.
        """
        body = self._top_fields()
        kind = self.input_type
        if kind in ("audio", "video"):
            body[kind] = self._media_body(read_media)
        elif kind == "text":
            body["text"] = {"input_text": self._text}
        elif kind in ("image", "text_image"):
            part: dict[str, Any] = {"media_source": self._media_source("image", read_media)}
            if kind == "text_image":
                part["input_text"] = self._text
            body[kind] = part
        else:
            body["multi_input"] = self._multi_input_body(read_media)
        if self.auto_truncate is not None:
            body["auto_truncate"] = self.auto_truncate
        return body


class EmbedV2TaskRequest(_EmbedV2Request):
    """The ``POST /embed-v2/tasks`` request: audio or video up to 4 hours.

    The fields are
    :class:`~airflow_provider_twelvelabs.operators.embed.TwelveLabsCreateEmbeddingTaskOperator`'s
    request parameters, under the same names.
    """

    is_async: ClassVar[bool] = True
    input_types: ClassVar[tuple[str, ...]] = ASYNC_INPUT_TYPES

    def to_body(self, read_media: MediaReader | None = None) -> dict[str, Any]:
        """Return the ``POST /embed-v2/tasks`` body.

        :param read_media: reads ``file_path`` as base64; needed only when it is given.
        """
        body = self._top_fields()
        body[self.input_type] = self._media_body(read_media)
        return body


# --------------------------------------------------------------------------- embed v1


class EmbedV1TaskRequest(RequestModel):
    """The v1 ``POST /embed/tasks`` request (the video file itself is attached by the operator).

    The fields are
    :class:`~airflow_provider_twelvelabs.operators.embed.TwelveLabsCreateVideoEmbeddingTaskOperator`'s
    request parameters, under the same names.
    """

    model_name: Annotated[str, checked(one_of, allowed=V1_MODELS)] = "marengo3.0"
    video_url: Annotated[str | None, checked(optional_str)] = None
    video_file: Annotated[str | None, checked(optional_str)] = None
    video_clip_length: Annotated[float | None, checked(number, minimum=2, maximum=10)] = None
    video_start_offset_sec: Annotated[float | None, checked(number, minimum=0)] = None
    video_end_offset_sec: Annotated[float | None, checked(number, minimum=0)] = None
    video_embedding_scope: Annotated[list[str] | None, checked(choices, allowed=V1_SCOPES)] = None
    embedding_option: Annotated[list[str] | None, checked(choices, allowed=V1_OPTIONS)] = None

    @model_validator(mode="after")
    def _check_request(self) -> EmbedV1TaskRequest:
        if (self.video_url is None) == (self.video_file is None):
            raise ValueError("Give exactly one of video_url or video_file")
        start, end = self.video_start_offset_sec, self.video_end_offset_sec
        if (start is None) != (end is None):
            raise ValueError("Set both video_start_offset_sec and video_end_offset_sec, or neither")
        _check_range(start, end, "video_start_offset_sec", "video_end_offset_sec")
        clip = self.video_clip_length or _V1_CLIP_SECONDS
        if start is not None and end is not None and end - start < clip:
            raise ValueError(
                "video_end_offset_sec must be at least video_start_offset_sec + video_clip_length "
                f"({start:g} + {clip:g})"
            )
        scopes = self.video_embedding_scope
        if scopes is not None and "clip" not in scopes:
            raise ValueError("video_embedding_scope must include 'clip' (['clip'] or ['clip', 'video'])")
        if self.video_url is not None:
            http_url("video_url", self.video_url)
        return self

    def to_body(self) -> dict[str, Any]:
        """Return the create call's keyword arguments, without ``video_file`` (a file part)."""
        fields = {
            "model_name": self.model_name,
            "video_url": self.video_url,
            "video_start_offset_sec": self.video_start_offset_sec,
            "video_end_offset_sec": self.video_end_offset_sec,
            "video_clip_length": self.video_clip_length,
            "video_embedding_scope": self.video_embedding_scope,
        }
        return {k: v for k, v in fields.items() if v is not None}
