"""Operators that upload files to TwelveLabs as assets (contract sections 3 and 4).

* :class:`TwelveLabsUploadAssetOperator` uploads a file directly (up to 200 MB), has the platform
  fetch a public URL (up to 4 GB), or switches to a multipart upload for larger files when asked to.
* :class:`TwelveLabsMultipartUploadOperator` always uses a multipart upload: parallel chunk PUTs
  streamed from the source with bounded memory, resumed on an Airflow retry.

Both wait until the asset is ``ready`` (deferrable), return the asset id and push the asset as JSON
to XCom under ``asset``. Both are safe to retry: what a try created (the asset, or the multipart
session with the chunks already sent) is remembered in the task state store, and the next try carries
on from there instead of creating a duplicate.

Both are incremental by content (``dedupe="content"``, the default): the file's source URI, size and
SHA-256 are stored in the asset's ``user_metadata``, and a file whose asset already exists on
TwelveLabs is not uploaded again, whatever the Airflow metadata database remembers.

Every upload also stores the task instance's tag (``twelvelabs_job``, a hash of the DAG, task, run
and map index; it replaces a user value of that key), so that a retry finds the asset an earlier
try created even when the create's answer was lost (docs/reliability.md).
"""

from __future__ import annotations

import contextlib
import mimetypes
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from airflow_provider_twelvelabs.exceptions import TwelveLabsNotFoundError
from airflow_provider_twelvelabs.operators.base import (
    JOB_TAG_KEY,
    TwelveLabsJobOperator,
    created_since,
    push_xcom,
)
from airflow_provider_twelvelabs.reporting import (
    DEFAULT_PROGRESS_INTERVAL,
    ProgressReader,
    TransferProgress,
    asset_done_line,
    duration_text,
    mib_text,
)
from airflow_provider_twelvelabs.requests.assets import (
    ContentKey,
    MultipartUploadRequest,
    UploadAssetRequest,
)
from airflow_provider_twelvelabs.statuses import is_failed

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

Multipart = Literal["auto"] | bool
Dedupe = Literal["content", "off"]


# --------------------------------------------------------------------------- validation helpers


def _guess_file_type(name: str) -> str:
    mime = mimetypes.guess_type(name)[0] or ""
    major = mime.split("/", 1)[0]
    return major if major in ("audio", "image") else "video"


def _size_text(n: int) -> str:
    return f"{n / 1e6:,.1f} MB"


# --------------------------------------------------------------------------- shared machinery


class _AssetUploadBase(TwelveLabsJobOperator):
    """What both upload operators share: the asset as the job, the multipart path and the final wait.

    The job's id is the uploaded asset's: kept in the task state store once the upload is complete,
    so a retry waits for that asset instead of uploading again. A multipart session's checkpoint is
    kept from its creation on, so a retry of an interrupted upload sends only the missing chunks.

    With ``dedupe="content"``, :meth:`find_job` hashes the file (one streaming pass, bounded memory)
    and looks for an asset of the same file name whose ``user_metadata`` holds the same content key.
    """

    job_kind = "asset"
    external_id_key = _UPLOADED_ASSET_KEY
    retry_memory_keys = (MULTIPART_XCOM_KEY,)
    _upload_name: str | None = None
    _content: ContentKey | None = None
    _hashed: bool = False

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
        dedupe: Dedupe = "content",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.dedupe: str = dedupe
        self.source = source
        self.filename = filename
        self.enable_hls = enable_hls
        self.enable_thumbnail = enable_thumbnail
        self.user_metadata = user_metadata
        self.wait_for_ready = wait_for_ready
        self.concurrency = concurrency
        self.upload_options = upload_options

    # -- validation (no I/O) --------------------------------------------------------------------

    def _apply(self, request: UploadAssetRequest | MultipartUploadRequest) -> None:
        """Keep the checked (and rendered) parameters for the upload paths."""
        self.source = request.source
        self.filename = request.filename
        self.enable_hls = request.enable_hls
        self.enable_thumbnail = request.enable_thumbnail
        self.user_metadata = request.user_metadata
        self.wait_for_ready = bool(request.wait_for_ready)
        self.upload_options = request.upload_options
        self.dedupe = request.dedupe
        self._content, self._hashed = None, False
        if request.concurrency is None:
            # Imported here: the upload engine is not needed to parse a DAG file.
            from airflow_provider_twelvelabs.hooks.multipart import DEFAULT_CONCURRENCY

            self.concurrency = DEFAULT_CONCURRENCY
        else:
            self.concurrency = request.concurrency

    # -- the job model ---------------------------------------------------------------------------

    def is_reusable(self, resource: Any) -> bool:
        """Whether the asset an earlier try uploaded is the file this try uploads.

        :param resource: the remembered asset.
        """
        filename = getattr(resource, "filename", None)
        if self._upload_name and filename and filename != self._upload_name:
            self.log.info(
                "Asset %s from an earlier try is %s, not %s", resource.id, filename, self._upload_name
            )
            return False
        stored = ContentKey.from_metadata(getattr(resource, "user_metadata", None))
        key = self.content_key()
        if key is not None and stored is not None and stored != key:
            self.log.info("Asset %s from an earlier try holds other content than %s", resource.id, key.source)
            return False
        return True

    def hashable_source(self) -> Any:
        """The file whose content identifies the asset, or ``None`` when it is not read on the worker."""
        return self.source

    def content_key(self) -> ContentKey | None:
        """The file's content key (source URI, size, SHA-256), or ``None`` with ``dedupe="off"``.

        The file is read once, the first time this is asked, in blocks of
        :data:`~airflow_provider_twelvelabs.sources.HASH_BLOCK_BYTES`.
        """
        if self._hashed:
            return self._content
        self._hashed = True
        source = self.hashable_source() if self.dedupe == "content" else None
        if source is None:
            return None
        from airflow_provider_twelvelabs.sources import content_key

        key = self._content = content_key(source)
        self.log.info("Content of %s: %d bytes, sha256 %s", key.source, key.size, key.sha256)
        return key

    def find_job(self, context: Context) -> Any:
        """Return a usable asset of the same content, when ``dedupe="content"``.

        Lists the assets of the same file name (``GET /assets?filename=``, 50 a page, newest first;
        the API has no metadata filter on assets) and compares their stored content key. A failed
        asset is never reused, nor a multipart one still ``processing`` (its upload may never have
        been completed).

        :param context: the task context.
        """
        key = self.content_key()
        if key is None or not self._upload_name:
            return None
        for asset in self.hook.list_assets(filename=self._upload_name):
            if asset.filename != self._upload_name or ContentKey.from_metadata(asset.user_metadata) != key:
                continue
            if is_failed(asset.status) or (asset.method == "multipart" and asset.status != "ready"):
                self.log.info("Asset %s holds this content but is %s: not reusing it", asset.id, asset.status)
                continue
            self.log.info(
                "Asset %s already holds %s (%d bytes, sha256 %s; status %s): reusing it, nothing uploaded",
                asset.id,
                key.source,
                key.size,
                key.sha256,
                asset.status,
            )
            return asset
        return None

    def find_lost_job(self, context: Context, since: Any) -> Any:
        """Find the asset an earlier try's create made although its answer was lost.

        Every upload carries the task instance's tag in its ``user_metadata`` (``twelvelabs_job``),
        so the assets of the file name created since that create (``GET /assets``, newest first) are
        compared by tag. A multipart session whose create answer was lost cannot be found again (the
        API lists sessions without their asset or file name): its reserved asset, ``processing``
        for ever, is deleted, and the upload starts a new session (the old one expires unused).
        Without the task state store (Airflow before 3.3) such an asset is left alone: only the
        kept checkpoint tells a lost session from a complete upload still being processed.

        :param context: the task context.
        :param since: when the lost create was sent, or ``None``.
        """
        tag = self._job_tag
        if tag is None:
            return super().find_lost_job(context, since)
        if self.recall(context, MULTIPART_XCOM_KEY):
            return None  # the session's checkpoint was kept: the upload resumes it
        name = self.filename if getattr(self, "_path", None) == "url" else self._upload_name
        for asset in self.hook.list_assets(**({"filename": name} if name else {})):
            if not created_since(asset.created_at, since):
                break  # newest first: the rest is older than the lost create
            if (asset.user_metadata or {}).get(JOB_TAG_KEY) != tag or is_failed(asset.status):
                continue
            if asset.method == "multipart" and asset.status != "ready":
                if since is None:
                    # No task state (Airflow before 3.3): it may be a complete upload still being
                    # processed, which only its session could tell. Left alone; the upload starts over.
                    continue
                self.log.warning(
                    "Asset %s was reserved by a multipart session whose create answer was lost: the "
                    "session cannot be found again, so the asset is deleted and a new session started",
                    asset.id,
                )
                with contextlib.suppress(TwelveLabsNotFoundError):
                    self.hook.delete_asset(asset.id, force=True)
                continue
            return asset
        return None

    def upload_metadata(self) -> dict[str, Any] | None:
        """The ``user_metadata`` sent with an upload: the user's, plus what the operator adds.

        That is the content key when deduping, and the task instance's tag (``twelvelabs_job``, what
        finds an upload whose answer was lost).
        """
        key = self.content_key()
        metadata = key.merged(self.user_metadata) if key is not None else dict(self.user_metadata or {})
        if self._job_tag is not None:
            metadata[JOB_TAG_KEY] = self._job_tag
        return metadata or None

    def _remember(self, context: Context, key: str, value: Any) -> None:
        self.remember(context, key, value)
        push_xcom(context, **{key: value})

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
            user_metadata=self.upload_metadata(),
            resume=stored,
            on_session=keep,
            concurrency=self.concurrency,
            logger=self.log,
            **(self.upload_options or {}),
        )

    def on_resource_ready(self, context: Context, kind: str, resource: dict[str, Any]) -> Any:
        """Push the asset as JSON under the ``asset`` key and return its id.

        :param context: the task context.
        :param kind: ``asset``.
        :param resource: the asset as a JSON-native dict.
        """
        push_xcom(context, **{ASSET_XCOM_KEY: resource})
        self.log.info("%s", asset_done_line(resource))
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
    :param dedupe: ``"content"`` (default) reuses the asset that already holds this file (same source
        URI, size and SHA-256, stored in the asset's ``user_metadata`` as ``twelvelabs_source``,
        ``twelvelabs_size`` and ``twelvelabs_sha256``) instead of uploading it again; the file is
        read once beforehand to hash it. ``"off"`` always uploads. URL uploads (``method="url"``)
        are not hashed (that would download them on the worker) and always upload.
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

    def hashable_source(self) -> Any:
        """The file to hash: none for URL uploads, which the worker does not read."""
        return None if self.method == "url" else self.source

    def _validate(self) -> None:
        request = UploadAssetRequest.build_from(self)
        self._apply(request)
        self.file_type = request.file_type

    def prepare_job(self, context: Context) -> None:
        """Validate the rendered parameters and choose the upload path (no call to TwelveLabs).

        :param context: the task context.
        """
        self._validate()
        if self.method == "url":
            self._plan_url()
        else:
            self._plan_direct()

    def create_job(self, context: Context) -> Any:
        """Upload the file (or have the URL fetched); return the asset.

        :param context: the task context.
        """
        name = self._upload_name
        if self._path == "multipart":
            assert name is not None  # checked by the plan
            source = str(self.source) if self.method == "url" else self.source
            return self._multipart(context, source, name, self.file_type or _guess_file_type(name))
        if self._path == "url":
            return self.hook.create_asset(
                method="url",
                url=str(self.source),
                filename=self.filename,
                enable_hls=self.enable_hls,
                enable_thumbnail=self.enable_thumbnail,
                user_metadata=self.upload_metadata(),
            )
        from airflow_provider_twelvelabs.hooks.endpoints import FilePart
        from airflow_provider_twelvelabs.sources import resolve

        assert name is not None  # checked by the plan
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        src = resolve(self.source)
        size = src.size()
        interval = (self.upload_options or {}).get("progress_interval", DEFAULT_PROGRESS_INTERVAL)
        progress: list[TransferProgress] = []

        def open_counted() -> Any:
            # A fresh count for every attempt: a retried request sends the whole file again.
            progress.append(TransferProgress(self.log, f"Upload of {name}", size, interval=interval))
            return ProgressReader(src.open(), progress[-1])

        asset = self.hook.create_asset(
            method="direct",
            # The hook opens the file afresh for every attempt, and closes it.
            file=FilePart("file", name, open_counted, content_type),
            filename=name,
            enable_hls=self.enable_hls,
            enable_thumbnail=self.enable_thumbnail,
            user_metadata=self.upload_metadata(),
        )
        took = progress[-1].elapsed if progress else 0.0
        self.log.info(
            "Uploaded %s (%s) directly in %s (%.1f MB/s%s): asset %s",
            name,
            mib_text(size),
            duration_text(took),
            size / max(took, 1e-9) / 1e6,
            f", {len(progress)} attempts" if len(progress) > 1 else "",
            asset.id,
        )
        return asset

    def _plan_direct(self) -> None:
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
        how = "a multipart upload" if use_multipart else "directly"
        self.log.info("Uploading %s (%s) %s", description, _size_text(size), how)
        self._path = "multipart" if use_multipart else "direct"
        self._upload_name = name

    def _plan_url(self) -> None:
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
        if use_multipart and not name:
            raise ValueError(f"Cannot derive a file name from {url!r}: set filename")
        self._path = "multipart" if use_multipart else "url"
        self._upload_name = name

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the source file (URL without its query) in, the asset out.

        :param task_instance: the finished task instance.
        """
        from airflow_provider_twelvelabs.lineage import (
            asset_dataset,
            file_dataset,
            job_id,
            operator_lineage,
        )

        asset_id = job_id(self, task_instance)
        return operator_lineage([file_dataset(self.source)], [asset_dataset(self, asset_id)])


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
    :param dedupe: ``"content"`` (default) reuses the asset that already holds this file (same source
        URI, size and SHA-256, stored in its ``user_metadata``) instead of uploading it again. The
        hash is computed in a streaming pass before the upload, not while the chunks are sent: the
        chunks go out in parallel and out of order, and the key must be known for the lookup and
        for the session's metadata before the first chunk. ``"off"`` always uploads.
    """

    template_fields = ("source", "filename", "user_metadata")
    template_fields_renderers = {"user_metadata": "json"}

    def __init__(self, *, source: Any, file_type: str = "video", **kwargs: Any) -> None:
        super().__init__(source=source, **kwargs)
        self.file_type = file_type

    def prepare_job(self, context: Context) -> None:
        """Validate the rendered parameters and read the source's size and name.

        :param context: the task context.
        """
        request = MultipartUploadRequest.build_from(self)
        self._apply(request)
        self.file_type = request.file_type
        _, _, self._upload_name = _local_or_stored_file(self.source, self.filename)

    def create_job(self, context: Context) -> Any:
        """Run (or resume) the multipart upload; return the asset.

        :param context: the task context.
        """
        assert self._upload_name is not None  # set by prepare_job
        return self._multipart(context, self.source, self._upload_name, self.file_type)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the source file (URL without its query) in, the asset out.

        :param task_instance: the finished task instance.
        """
        from airflow_provider_twelvelabs.lineage import (
            asset_dataset,
            file_dataset,
            job_id,
            operator_lineage,
        )

        asset_id = job_id(self, task_instance)
        return operator_lineage([file_dataset(self.source)], [asset_dataset(self, asset_id)])


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
