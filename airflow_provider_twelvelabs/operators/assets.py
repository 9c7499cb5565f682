"""Operators that upload files to TwelveLabs as assets (contract sections 3 and 4).

* :class:`TwelveLabsUploadAssetOperator` uploads a file directly (up to 200 MB), has the platform
  fetch a public URL (up to 4 GB), or switches to a multipart upload for larger files when asked to.
* :class:`TwelveLabsMultipartUploadOperator` always uses a multipart upload: parallel chunk PUTs
  streamed from the source with bounded memory, resumed on an Airflow retry.

Both wait until the asset is ``ready`` (deferrable), return the asset id and push the asset as JSON
to XCom under ``asset``. Both are safe to retry: what a try created (the asset, or the multipart
session with the chunks already sent) is remembered in the task state store, and the next try carries
on from there instead of creating a duplicate.
"""

from __future__ import annotations

import mimetypes
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from airflow_provider_twelvelabs.exceptions import TwelveLabsNotFoundError
from airflow_provider_twelvelabs.operators._validation import optional_bool, optional_metadata
from airflow_provider_twelvelabs.operators.base import TwelveLabsBaseOperator

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_twelvelabs.hooks.multipart import MultipartCheckpoint
    from airflow_provider_twelvelabs.models import Asset
    from airflow_provider_twelvelabs.sources import Source

__all__ = [
    "ASSET_XCOM_KEY",
    "MAX_DIRECT_UPLOAD_BYTES",
    "MAX_URL_UPLOAD_BYTES",
    "MULTIPART_XCOM_KEY",
    "TwelveLabsMultipartUploadOperator",
    "TwelveLabsUploadAssetOperator",
]

#: Direct uploads are limited to 200 MB (contract 3.1).
MAX_DIRECT_UPLOAD_BYTES = 200 * 1000 * 1000
#: URL uploads are limited to 4 GB (contract 3.1).
MAX_URL_UPLOAD_BYTES = 4 * 1000 * 1000 * 1000
#: XCom key of the uploaded asset, as JSON.
ASSET_XCOM_KEY = "asset"
#: XCom and task-state key of the multipart session's checkpoint (ids and geometry, no secret).
MULTIPART_XCOM_KEY = "multipart_upload"
#: Task-state key of an asset whose upload is complete (what a retry may reuse).
_UPLOADED_ASSET_KEY = "uploaded_asset_id"

_FILE_TYPES = ("video", "audio", "image")
_UPLOAD_OPTION_NAMES = frozenset(
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

Multipart = Literal["auto"] | bool


# --------------------------------------------------------------------------- validation helpers


def _require_source(value: Any) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValueError(f"source must be a file path, a URL or an ObjectStoragePath, got {value!r}")
    if not isinstance(value, str | os.PathLike) and not (hasattr(value, "fs") and hasattr(value, "path")):
        raise ValueError(
            f"source must be a file path, a URL or an ObjectStoragePath, got {type(value).__name__}"
        )
    return value.strip() if isinstance(value, str) else value


def _optional_str(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string or None, got {value!r}")
    if len(value.strip()) > 255:
        raise ValueError(f"{name} must be at most 255 characters long, got {len(value.strip())}")
    return value.strip()


def _concurrency(value: Any) -> int:
    if value is None:
        # Imported here: the upload engine is not needed to parse a DAG file.
        from airflow_provider_twelvelabs.hooks.multipart import DEFAULT_CONCURRENCY

        return DEFAULT_CONCURRENCY
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 64:
        raise ValueError(f"concurrency must be an integer from 1 to 64, got {value!r}")
    return value


def _file_type(value: Any) -> str:
    if value not in _FILE_TYPES:
        raise ValueError(f"file_type must be one of {', '.join(_FILE_TYPES)}, got {value!r}")
    return str(value)


def _upload_options(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError(f"upload_options must be a mapping, got {type(value).__name__}")
    unknown = sorted(set(value) - _UPLOAD_OPTION_NAMES)
    if unknown:
        raise ValueError(
            f"upload_options has unknown keys {unknown}; allowed: {', '.join(sorted(_UPLOAD_OPTION_NAMES))}"
        )
    return dict(value)


def _guess_file_type(name: str) -> str:
    mime = mimetypes.guess_type(name)[0] or ""
    major = mime.split("/", 1)[0]
    return major if major in ("audio", "image") else "video"


def _is_http_url(value: Any) -> bool:
    return isinstance(value, str) and value.lower().startswith(("http://", "https://"))


def _size_text(n: int) -> str:
    return f"{n / 1e6:,.1f} MB"


# --------------------------------------------------------------------------- shared machinery


class _AssetUploadBase(TwelveLabsBaseOperator):
    """What both upload operators share: retry memory, the multipart path and the final wait."""

    def __init__(
        self,
        *,
        source: Any,
        filename: str | None = None,
        enable_hls: bool | None = None,
        enable_thumbnail: bool | None = None,
        user_metadata: Mapping[str, Any] | None = None,
        wait_for_ready: bool = True,
        concurrency: int | None = None,
        upload_options: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.source = source
        self.filename = filename
        self.enable_hls = enable_hls
        self.enable_thumbnail = enable_thumbnail
        self.user_metadata = user_metadata
        self.wait_for_ready = wait_for_ready
        self.concurrency = concurrency
        self.upload_options = upload_options

    # -- validation (no I/O) --------------------------------------------------------------------

    def _validate_common(self) -> None:
        self.source = _require_source(self.source)
        self.filename = _optional_str("filename", self.filename)
        self.enable_hls = optional_bool("enable_hls", self.enable_hls)
        self.enable_thumbnail = optional_bool("enable_thumbnail", self.enable_thumbnail)
        self.user_metadata = optional_metadata("user_metadata", self.user_metadata)
        wait = optional_bool("wait_for_ready", self.wait_for_ready)
        if wait is None:
            raise ValueError("wait_for_ready must be a boolean, got None")
        self.wait_for_ready = wait
        self.concurrency = _concurrency(self.concurrency)
        self.upload_options = _upload_options(self.upload_options)

    # -- memory across tries ----------------------------------------------------------------------

    def _remember(self, context: Context, key: str, value: Any, *, xcom: bool = True) -> None:
        self.remember(context, key, value)
        ti = context.get("ti") if isinstance(context, Mapping) else None
        if xcom and ti is not None:
            ti.xcom_push(key=key, value=value)

    def _reusable_asset(self, context: Context, filename: str) -> Asset | None:
        """Return the asset an earlier try finished uploading, unless it failed or is gone."""
        asset_id = self.recall(context, _UPLOADED_ASSET_KEY)
        if not isinstance(asset_id, str):
            return None
        try:
            asset = self.hook.get_asset(asset_id)
        except TwelveLabsNotFoundError:
            self.log.warning("Asset %s from an earlier try no longer exists; uploading again", asset_id)
            return None
        if asset.status == "failed":
            self.log.warning("Asset %s from an earlier try failed; uploading again", asset_id)
            return None
        if asset.filename and asset.filename != filename:
            return None
        self.log.info("Reusing asset %s uploaded by an earlier try (status %s)", asset.id, asset.status)
        return asset

    # -- upload paths -----------------------------------------------------------------------------

    def _multipart(self, context: Context, source: Any, filename: str, file_type: str) -> Asset:
        """Run (or resume) a multipart upload, keeping its checkpoint where a retry finds it."""
        from airflow_provider_twelvelabs.hooks.multipart import MultipartCheckpoint

        stored = MultipartCheckpoint.from_dict(self.recall(context, MULTIPART_XCOM_KEY))

        def keep(checkpoint: MultipartCheckpoint) -> None:
            self._remember(context, MULTIPART_XCOM_KEY, checkpoint.to_dict())

        return self.hook.multipart_upload(
            source,
            filename=filename,
            file_type=file_type,
            enable_hls=self.enable_hls,
            enable_thumbnail=self.enable_thumbnail,
            user_metadata=self.user_metadata,
            resume=stored,
            on_session=keep,
            concurrency=self.concurrency,
            **(self.upload_options or {}),
        )

    def _finish(self, context: Context, asset: Asset) -> Any:
        """Remember the uploaded asset, then wait for ``ready`` (or not) and return its id."""
        self._remember(context, _UPLOADED_ASSET_KEY, asset.id, xcom=False)
        if not self.wait_for_ready:
            return self.on_resource_ready(context, "asset", asset.to_json_dict())
        return self.wait_for_resource(context, kind="asset", resource_id=asset.id, resource=asset)

    def on_resource_ready(self, context: Context, kind: str, resource: dict[str, Any]) -> Any:
        """Push the asset as JSON under the ``asset`` key and return its id.

        :param context: the task context.
        :param kind: ``asset``.
        :param resource: the asset as a JSON-native dict.
        """
        ti = context.get("ti") if isinstance(context, Mapping) else None
        if ti is not None:
            ti.xcom_push(key=ASSET_XCOM_KEY, value=resource)
        self.forget(context, _UPLOADED_ASSET_KEY, MULTIPART_XCOM_KEY)
        return resource.get("id")


# --------------------------------------------------------------------------- the operators


class TwelveLabsUploadAssetOperator(_AssetUploadBase):
    """Upload a file to TwelveLabs as an asset and wait until it is ready.

    With ``method="direct"`` the file (a local path, an fsspec URL such as ``s3://bucket/key`` or
    ``memory://x/y``, or an ``ObjectStoragePath``) is sent in one request, up to 200 MB. With
    ``method="url"`` the platform fetches a public ``http(s)`` URL itself, up to 4 GB. Larger files
    raise an error naming the limit, unless ``multipart="auto"`` switches to a multipart upload
    (as :class:`TwelveLabsMultipartUploadOperator` does; ``multipart=True`` always uses one).

    Returns the asset id and pushes the asset as JSON under the XCom key ``asset``. Retry-safe: a
    retry reuses the asset an earlier try uploaded (unless it failed) and resumes an interrupted
    multipart upload.

    :param source: the file or URL to upload. (templated)
    :param method: ``direct`` (send the bytes) or ``url`` (the platform fetches ``source``).
    :param multipart: ``False`` (never), ``True`` (always) or ``"auto"`` (above the limit of ``method``).
    :param filename: the asset's file name; the source's own name by default. (templated)
    :param user_metadata: metadata stored on the asset. (templated)
    :param enable_hls: ask for an HLS rendition (API default: true for direct/URL, false for multipart).
    :param enable_thumbnail: ask for a thumbnail (same defaults as ``enable_hls``).
    :param wait_for_ready: wait until the asset is ``ready`` (deferrable); else return at once.
    :param file_type: ``video``, ``audio`` or ``image`` for multipart uploads; guessed from the name
        when ``None``.
    :param concurrency: parallel chunk PUTs of a multipart upload (default: the engine's, 16).
    :param upload_options: multipart tuning (``max_chunk_attempts``, ``retry_base_delay``,
        ``progress_interval``...), see
        :class:`~airflow_provider_twelvelabs.hooks.multipart.MultipartUploader`.
    """

    template_fields = ("source", "filename", "user_metadata")
    template_fields_renderers = {"user_metadata": "json"}
    #: The largest direct upload, in bytes (the API's limit; a subclass may lower it).
    max_direct_upload_bytes: int = MAX_DIRECT_UPLOAD_BYTES
    #: The largest URL upload, in bytes.
    max_url_upload_bytes: int = MAX_URL_UPLOAD_BYTES

    def __init__(
        self,
        *,
        source: Any,
        method: str = "direct",
        multipart: Multipart = False,
        file_type: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(source=source, **kwargs)
        self.method = method
        self.multipart = multipart
        self.file_type = file_type

    def _validate(self) -> None:
        self._validate_common()
        if self.method not in ("direct", "url"):
            raise ValueError(f"method must be 'direct' or 'url', got {self.method!r}")
        if self.multipart not in (True, False, "auto"):
            raise ValueError(f"multipart must be True, False or 'auto', got {self.multipart!r}")
        if self.file_type is not None:
            self.file_type = _file_type(self.file_type)
        if self.method == "url" and not _is_http_url(self.source):
            raise ValueError(f"with method='url', source must be an http(s) URL, got {self.source!r}")

    def execute(self, context: Context) -> Any:
        """Upload the file (or have the URL fetched), then wait for the asset.

        :param context: the task context.
        """
        self._validate()
        if self.method == "url":
            return self._execute_url(context)
        return self._execute_direct(context)

    def _execute_direct(self, context: Context) -> Any:
        from airflow_provider_twelvelabs.hooks.endpoints import FilePart

        src, size, name = _local_or_stored_file(self.source, self.filename)
        description = src.description
        use_multipart = self.multipart is True or (
            self.multipart == "auto" and size > self.max_direct_upload_bytes
        )
        if not use_multipart and size > self.max_direct_upload_bytes:
            raise ValueError(
                f"source {description} is {_size_text(size)}: direct uploads are limited to "
                f"{_size_text(self.max_direct_upload_bytes)}. Use TwelveLabsMultipartUploadOperator, or "
                "multipart='auto' to switch to a multipart upload above the limit."
            )
        asset = self._reusable_asset(context, name)
        if asset is None:
            if use_multipart:
                self.log.info("Uploading %s (%s) with a multipart upload", description, _size_text(size))
                asset = self._multipart(context, self.source, name, self.file_type or _guess_file_type(name))
            else:
                self.log.info("Uploading %s (%s) directly", description, _size_text(size))
                content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
                asset = self.hook.create_asset(
                    method="direct",
                    # The hook opens the file afresh for every attempt, and closes it.
                    file=FilePart("file", name, src.open, content_type),
                    filename=name,
                    enable_hls=self.enable_hls,
                    enable_thumbnail=self.enable_thumbnail,
                    user_metadata=self.user_metadata,
                )
        return self._finish(context, asset)

    def _execute_url(self, context: Context) -> Any:
        from airflow_provider_twelvelabs.sources import remote_size

        url = str(self.source)
        name = self.filename or url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1] or None
        size = remote_size(url)
        too_big = size is not None and size > self.max_url_upload_bytes
        use_multipart = self.multipart is True or (self.multipart == "auto" and too_big)
        if too_big and not use_multipart:
            raise ValueError(
                f"{url.split('?', 1)[0]} is {_size_text(size or 0)}: URL uploads are limited to "
                f"{_size_text(self.max_url_upload_bytes)}. Use TwelveLabsMultipartUploadOperator, or "
                "multipart='auto' to switch to a multipart upload above the limit."
            )
        if use_multipart:
            if not name:
                raise ValueError(f"Cannot derive a file name from {url!r}: set filename")
            asset = self._reusable_asset(context, name)
            if asset is None:
                asset = self._multipart(context, url, name, self.file_type or _guess_file_type(name))
            return self._finish(context, asset)
        asset = self._reusable_asset(context, name) if name else None
        if asset is None:
            asset = self.hook.create_asset(
                method="url",
                url=url,
                filename=self.filename,
                enable_hls=self.enable_hls,
                enable_thumbnail=self.enable_thumbnail,
                user_metadata=self.user_metadata,
            )
        return self._finish(context, asset)


class TwelveLabsMultipartUploadOperator(_AssetUploadBase):
    """Upload a file of any size through a multipart upload and wait until the asset is ready.

    Chunks are read straight from the source (a local path, an fsspec URL or an
    ``ObjectStoragePath``; never copied to disk) and sent ``concurrency`` at a time, so memory stays
    near ``concurrency x chunk size``. Progress (percent, bytes, MB/s, ETA) is logged every few
    seconds. On an Airflow retry after a crash, the session is found again in the task state store,
    the status endpoint tells which chunks are done, and only the others are sent.

    Returns the asset id and pushes the asset as JSON under the XCom key ``asset``; the session's
    checkpoint (ids and geometry) is pushed under ``multipart_upload`` before the first chunk.

    :param source: the file to upload. (templated)
    :param filename: the asset's file name; the source's own name by default. (templated)
    :param file_type: ``video``, ``audio`` or ``image``.
    :param concurrency: parallel chunk PUTs (1 to 64; default: the engine's, 16).
    :param enable_hls: ask for an HLS rendition (API default for multipart: false).
    :param enable_thumbnail: ask for a thumbnail (API default for multipart: false).
    :param user_metadata: metadata stored on the asset. (templated)
    :param wait_for_ready: wait until the asset is ``ready`` (deferrable); else return at once.
    :param upload_options: tuning (``max_chunk_attempts``, ``retry_base_delay``, ``progress_interval``...),
        see :class:`~airflow_provider_twelvelabs.hooks.multipart.MultipartUploader`.
    """

    template_fields = ("source", "filename", "user_metadata")
    template_fields_renderers = {"user_metadata": "json"}

    def __init__(self, *, source: Any, file_type: str = "video", **kwargs: Any) -> None:
        super().__init__(source=source, **kwargs)
        self.file_type = file_type

    def execute(self, context: Context) -> Any:
        """Upload (or resume uploading) the file, then wait for the asset.

        :param context: the task context.
        """
        self._validate_common()
        self.file_type = _file_type(self.file_type)
        _, _, name = _local_or_stored_file(self.source, self.filename)
        asset = self._reusable_asset(context, name)
        if asset is None:
            asset = self._multipart(context, self.source, name, self.file_type)
        return self._finish(context, asset)


def _local_or_stored_file(source: Any, filename: str | None) -> tuple[Source, int, str]:
    """Resolve the file to upload and return it with its size and the asset's file name.

    :raises ValueError: when the file is empty or no file name can be derived.
    """
    from airflow_provider_twelvelabs.sources import resolve

    src = resolve(source)
    size, name = src.size(), filename or src.name
    if size == 0:
        raise ValueError(f"source {src.description} is empty: there is nothing to upload")
    if not name:
        raise ValueError(f"Cannot derive a file name from source {src.description!r}: set filename")
    return src, size, name
