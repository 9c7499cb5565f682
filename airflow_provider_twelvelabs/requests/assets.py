"""Asset upload requests: direct, URL and multipart uploads (``POST /assets``, multipart sessions).

The models check the parameters; which upload path runs, and its file access, is decided by the
operator once it knows the source's size.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
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

__all__ = ["MultipartUploadRequest", "UploadAssetRequest"]

FILE_TYPES = ("video", "audio", "image")
METHODS = ("direct", "url")
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

    @field_validator("wait_for_ready")
    @classmethod
    def _wait_given(cls, value: bool | None) -> bool:
        if value is None:
            raise ValueError("wait_for_ready must be a boolean, got None")
        return value

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
