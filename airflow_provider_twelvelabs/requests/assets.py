"""Asset upload requests: direct, URL and multipart uploads (``POST /assets``, multipart sessions).

The models check the parameters; which upload path runs, and its file access, is decided by the
operator once it knows the source's size.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import field_validator, model_validator

from airflow_provider_twelvelabs.requests.fields import (
    RequestModel,
    checked,
    http_url,
    integer,
    one_of,
    optional_bool,
    optional_metadata,
    optional_str,
)

__all__ = [
    "CONTENT_METADATA_KEYS",
    "DEDUPE_MODES",
    "ON_CHANGE",
    "ContentKey",
    "MultipartUploadRequest",
    "UploadAssetRequest",
    "check_content_metadata",
]

FILE_TYPES = ("video", "audio", "image")
METHODS = ("direct", "url")
#: ``content``: reuse what the same file (source URI, size, SHA-256) already made; ``off``: always create.
DEDUPE_MODES = ("content", "off")
#: What becomes of the entry of an earlier content of the same source: kept, or replaced (deleted).
ON_CHANGE = ("keep", "replace")
#: The ``user_metadata`` keys that identify a file's content on the TwelveLabs side.
SOURCE_KEY, SIZE_KEY, SHA256_KEY = "twelvelabs_source", "twelvelabs_size", "twelvelabs_sha256"
CONTENT_METADATA_KEYS = (SOURCE_KEY, SIZE_KEY, SHA256_KEY)
#: The API's longest asset file name.
MAX_FILENAME_CHARS = 255
UPLOAD_OPTION_NAMES = frozenset(
    {
        "max_chunk_attempts",
        "retry_base_delay",
        "retry_max_delay",
        "url_expiry_margin",
        "report_interval",
        "progress_interval",
        "chunk_timeout",
        "progress_callback",
    }
)


def _source(name: str, value: Any) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValueError(f"{name} must be a file path, a URL or an ObjectStoragePath, got {value!r}")
    if not isinstance(value, str | os.PathLike) and not (hasattr(value, "fs") and hasattr(value, "path")):
        raise ValueError(
            f"{name} must be a file path, a URL or an ObjectStoragePath, got {type(value).__name__}"
        )
    return value.strip() if isinstance(value, str) else value


def _upload_options(name: str, value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError(f"{name} must be a mapping, got {type(value).__name__}")
    unknown = sorted(set(value) - UPLOAD_OPTION_NAMES)
    if unknown:
        raise ValueError(
            f"{name} has unknown keys {unknown}; allowed: {', '.join(sorted(UPLOAD_OPTION_NAMES))}"
        )
    return dict(value)


@dataclass(frozen=True)
class ContentKey:
    """What identifies a file's content: where it comes from, its size and its SHA-256.

    Stored in the ``user_metadata`` of the asset and of the indexed asset, so that any later run
    (after the Airflow metadata database was wiped, or from another deployment) finds them again.
    The size is a plain integer (files are far below the 53-bit limit of the API's numbers).

    :param source: the source URI (see :attr:`~airflow_provider_twelvelabs.sources.Source.uri`).
    :param size: the size in bytes.
    :param sha256: the SHA-256 of the bytes, as lowercase hex.
    """

    source: str
    size: int
    sha256: str

    def to_metadata(self) -> dict[str, Any]:
        """Return the key as ``user_metadata`` entries."""
        return {SOURCE_KEY: self.source, SIZE_KEY: self.size, SHA256_KEY: self.sha256}

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any] | None) -> ContentKey | None:
        """Return the key stored in ``metadata``, or ``None`` when it holds no complete key.

        :param metadata: a resource's ``user_metadata``.
        """
        metadata = metadata or {}
        source, size, digest = (metadata.get(key) for key in CONTENT_METADATA_KEYS)
        if not isinstance(source, str) or not isinstance(digest, str):
            return None
        try:
            # The API may hand a number back as a float or a string.
            size = int(size)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return None
        return cls(source, size, digest.lower())

    def merged(self, user_metadata: Mapping[str, Any] | None) -> dict[str, Any]:
        """Return the user's metadata with this key added.

        :param user_metadata: the user's own metadata (checked by :func:`check_content_metadata`).
        """
        return {**(user_metadata or {}), **self.to_metadata()}


def check_content_metadata(name: str, user_metadata: Mapping[str, Any] | None) -> None:
    """Refuse user metadata that sets the content keys the operators write themselves.

    :param name: the parameter's name, for the error.
    :param user_metadata: the user's metadata.
    :raises ValueError: when one of :data:`CONTENT_METADATA_KEYS` is set.
    """
    taken = sorted(set(user_metadata or {}) & set(CONTENT_METADATA_KEYS))
    if taken:
        raise ValueError(
            f"{name} must not set {', '.join(taken)}: with dedupe='content' the operator stores the "
            "file's content key there (use other keys, or dedupe='off')"
        )


class _UploadRequest(RequestModel):
    """What both upload requests take: the source, the asset's fields and the multipart tuning."""

    source: Annotated[Any, checked(_source)]
    filename: Annotated[str | None, checked(optional_str, max_length=MAX_FILENAME_CHARS)] = None
    enable_hls: Annotated[bool | None, checked(optional_bool)] = None
    enable_thumbnail: Annotated[bool | None, checked(optional_bool)] = None
    user_metadata: Annotated[dict[str, Any] | None, checked(optional_metadata)] = None
    wait_for_ready: Annotated[bool | None, checked(optional_bool)] = True
    #: ``None`` leaves the multipart engine's default.
    concurrency: Annotated[int | None, checked(integer, minimum=1, maximum=64)] = None
    upload_options: Annotated[dict[str, Any], checked(_upload_options)] = {}
    dedupe: Annotated[str, checked(one_of, allowed=DEDUPE_MODES)] = "content"

    @field_validator("wait_for_ready")
    @classmethod
    def _wait_given(cls, value: bool | None) -> bool:
        if value is None:
            raise ValueError("wait_for_ready must be a boolean, got None")
        return value

    @model_validator(mode="after")
    def _content_keys_free(self) -> _UploadRequest:
        if self.dedupe == "content":
            check_content_metadata("user_metadata", self.user_metadata)
        return self

    def to_body(self) -> dict[str, Any]:
        """Return the asset's fields (the source's bytes or URL are added by the upload path)."""
        return {
            "filename": self.filename,
            "enable_hls": self.enable_hls,
            "enable_thumbnail": self.enable_thumbnail,
            "user_metadata": self.user_metadata,
        }


class UploadAssetRequest(_UploadRequest):
    """A direct or URL upload (``POST /assets``), or a multipart one above the limit when asked.

    The fields are
    :class:`~airflow_provider_twelvelabs.operators.assets.TwelveLabsUploadAssetOperator`'s
    parameters, under the same names.
    """

    method: Annotated[str, checked(one_of, allowed=METHODS)] = "direct"
    multipart: Any = False
    file_type: Annotated[str | None, checked(one_of, allowed=FILE_TYPES, optional=True)] = None

    @field_validator("multipart", mode="before")
    @classmethod
    def _multipart(cls, value: Any) -> Any:
        if value is not True and value is not False and value != "auto":
            raise ValueError(f"multipart must be True, False or 'auto', got {value!r}")
        return value

    @model_validator(mode="after")
    def _url_source(self) -> UploadAssetRequest:
        if self.method == "url":
            if not isinstance(self.source, str):
                raise ValueError(f"with method='url', source must be an http(s) URL, got {self.source!r}")
            http_url("source", self.source)
        return self


class MultipartUploadRequest(_UploadRequest):
    """A multipart upload session and its chunks.

    The fields are
    :class:`~airflow_provider_twelvelabs.operators.assets.TwelveLabsMultipartUploadOperator`'s
    parameters, under the same names.
    """

    file_type: Annotated[str, checked(one_of, allowed=FILE_TYPES)] = "video"
