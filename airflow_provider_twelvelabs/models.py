"""Pydantic models of the TwelveLabs API objects the provider reads.

The models are tolerant readers: ``_id`` (or ``id``) is read as ``id``, unknown fields are kept,
almost everything is optional, and statuses are plain strings checked against terminal sets, so
a field or status added by TwelveLabs never breaks a DAG.
"""

from __future__ import annotations

import enum
from typing import Any, Generic, TypeVar

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

__all__ = [
    "AnalyzeBatch",
    "AnalyzeBatchItemStatus",
    "AnalyzeBatchResult",
    "AnalyzeBatchStatus",
    "AnalyzeResult",
    "AnalyzeTask",
    "AnalyzeTaskResult",
    "AnalyzeTaskStatus",
    "Asset",
    "AssetStatus",
    "EmbedV1Task",
    "EmbedV2Task",
    "EmbeddingData",
    "EmbeddingResult",
    "EmbeddingTaskStatus",
    "GistResult",
    "Index",
    "IndexedAsset",
    "IndexedAssetStatus",
    "IndexingTask",
    "IndexingTaskStatus",
    "MultipartSession",
    "MultipartSessionStatus",
    "MultipartUploadStatus",
    "Page",
    "PageInfo",
    "PresignedUrl",
    "PresignedUrls",
    "ReportChunksResult",
    "SearchPage",
    "SearchPageInfo",
    "SummarizeResult",
    "TwelveLabsModel",
    "is_failed",
    "is_terminal",
]


class TwelveLabsModel(BaseModel):
    """Base of every API model: keeps unknown fields and accepts both field names and aliases."""

    # defer_build: validators are built on first use, not when a DAG file imports an operator (the
    # DAG processor imports every DAG file over and over; see docs/benchmarks.md, Import cost).
    model_config = ConfigDict(extra="allow", populate_by_name=True, protected_namespaces=(), defer_build=True)

    def to_json_dict(self) -> dict[str, Any]:
        """Return a JSON-native dict (for XCom and trigger events), ids under ``id``."""
        return self.model_dump(mode="json", exclude_none=True)


class _WithId(TwelveLabsModel):
    id: str = Field(validation_alias=AliasChoices("_id", "id"))


# --------------------------------------------------------------------------- statuses


class _Status(str, enum.Enum):
    """A status enum; models keep statuses as plain strings so an unknown value never breaks."""

    def __str__(self) -> str:
        return self.value

    def is_terminal(self) -> bool:
        """Whether this status is final."""
        return is_terminal(self.value)

    def is_failed(self) -> bool:
        """Whether this status is a final failure."""
        return is_failed(self.value)


class AssetStatus(_Status):
    """Statuses of an asset."""

    PROCESSING = "processing"
    READY = "ready"
    FAILED = "failed"


class IndexedAssetStatus(_Status):
    """Statuses of an indexed asset."""

    PENDING = "pending"
    QUEUED = "queued"
    INDEXING = "indexing"
    VALIDATING = "validating"
    READY = "ready"
    FAILED = "failed"


class IndexingTaskStatus(_Status):
    """Statuses of a legacy video indexing task (``/tasks``)."""

    UPLOADING = "uploading"
    VALIDATING = "validating"
    PENDING = "pending"
    QUEUED = "queued"
    INDEXING = "indexing"
    READY = "ready"
    FAILED = "failed"


class EmbeddingTaskStatus(_Status):
    """Statuses of an embedding task (embed v2 and v1)."""

    PROCESSING = "processing"
    READY = "ready"
    FAILED = "failed"


class MultipartSessionStatus(_Status):
    """Statuses of a multipart upload session."""

    ACTIVE = "active"
    COMPLETED = "completed"
    FAILED = "failed"
    EXPIRED = "expired"


# The status sets live in statuses.py (imported on DAG parses, without the models).
from airflow_provider_twelvelabs.statuses import is_failed, is_terminal  # noqa: E402

# --------------------------------------------------------------------------- pagination

T = TypeVar("T")


class PageInfo(TwelveLabsModel):
    """``page_info`` of a page-based list."""

    page: int | None = None
    limit_per_page: int | None = None
    total_page: int | None = None
    total_results: int | None = None


class Page(TwelveLabsModel, Generic[T]):
    """One page of a page-based list endpoint."""

    data: list[T] | None = None
    page_info: PageInfo | None = None


# --------------------------------------------------------------------------- assets


class _ErrorInfo(TwelveLabsModel):
    message: str | None = None


class Asset(_WithId):
    """An uploaded file (video, audio, image, document)."""

    method: str | None = None
    status: str | None = None
    filename: str | None = None
    file_type: str | None = None
    created_at: str | None = None
    user_metadata: dict[str, Any] | None = None
    hls: dict[str, Any] | None = None
    thumbnail: dict[str, Any] | None = None
    technical_metadata: dict[str, Any] | None = None
    size: int | None = None
    duration: float | None = None
    error: _ErrorInfo | None = None


class PresignedUrl(TwelveLabsModel):
    """A presigned URL for one chunk of a multipart upload. Its query string is a credential."""

    chunk_index: int
    url: str
    expires_at: str | None = None


class MultipartSession(TwelveLabsModel):
    """The answer to creating a multipart upload session."""

    upload_id: str
    asset_id: str | None = None
    upload_urls: list[PresignedUrl] = Field(default_factory=list)
    upload_headers: dict[str, str] | None = None
    chunk_size: int
    total_chunks: int | None = None
    expires_at: str | None = None
    # Present in the incomplete-uploads listing.
    status: str | None = None
    total_size: int | None = None
    created_at: str | None = None


class PresignedUrls(TwelveLabsModel):
    """The answer to asking for more presigned URLs."""

    upload_id: str | None = None
    start_index: int | None = None
    count: int | None = None
    upload_urls: list[PresignedUrl] = Field(default_factory=list)
    expires_at: str | None = None


class ReportChunksResult(TwelveLabsModel):
    """The answer to reporting completed chunks; ``url`` appears once every chunk is in."""

    url: str | None = None
    asset_id: str | None = None
    processed_chunks: int | None = None
    duplicate_chunks: int | None = None
    total_completed: int | None = None


class UploadedChunk(TwelveLabsModel):
    """A chunk entry of the multipart status endpoint."""

    index: int
    status: str | None = None
    uploaded_at: str | None = None
    error: Any = None


class MultipartUploadStatus(TwelveLabsModel):
    """One page of the multipart upload status endpoint."""

    upload_id: str | None = None
    status: str | None = None
    uploaded_chunks: list[UploadedChunk] | None = None
    chunks_completed: int | None = None
    chunks_failed: int | None = None
    chunks_pending: int | None = None
    page_info: PageInfo | None = None
    total_size: int | None = None
    uploaded_size: int | None = None


# --------------------------------------------------------------------------- indexes


class IndexModel(TwelveLabsModel):
    """A model enabled on an index."""

    model_name: str
    model_options: list[str] = Field(default_factory=list)


class Index(_WithId):
    """An index."""

    index_name: str | None = None
    models: list[IndexModel] | None = None
    addons: list[str] | None = None
    created_at: str | None = None
    updated_at: str | None = None
    expires_at: str | None = None
    total_duration: float | None = None
    # The spec types it as a number, not an integer: a tolerant reader takes both.
    video_count: int | float | None = None


class IndexedAsset(_WithId):
    """An asset indexed in an index (also the shape of a legacy video)."""

    asset_id: str | None = None
    status: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    indexed_at: str | None = None
    system_metadata: dict[str, Any] | None = None
    user_metadata: dict[str, Any] | None = None
    index_id: str | None = None


class IndexingTask(_WithId):
    """A legacy video indexing task (``/tasks``)."""

    video_id: str | None = None
    index_id: str | None = None
    status: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    system_metadata: dict[str, Any] | None = None
    hls: dict[str, Any] | None = None
    error: _ErrorInfo | None = None


# --------------------------------------------------------------------------- embeddings


class EmbeddingData(TwelveLabsModel):
    """One embedding of the embed v2 API."""

    embedding: list[float]
    embedding_option: str | None = None
    embedding_scope: str | None = None
    start_sec: float | None = None
    end_sec: float | None = None


class EmbeddingResult(TwelveLabsModel):
    """The answer of the synchronous embed v2 endpoint."""

    data: list[EmbeddingData] = Field(default_factory=list)
    metadata: dict[str, Any] | None = None
    usage: dict[str, Any] | None = None


class EmbedV2Task(_WithId):
    """An asynchronous embed v2 task; ``data`` is filled once ``ready``."""

    status: str | None = None
    model_name: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    data: list[EmbeddingData] | None = None
    metadata: dict[str, Any] | None = None
    usage: dict[str, Any] | None = None
    error: _ErrorInfo | None = None


class EmbedV1Segment(TwelveLabsModel):
    """One segment of an embed v1 result; the vector key is literally ``float``."""

    float_: list[float] | None = Field(default=None, alias="float")
    start_offset_sec: float | None = None
    end_offset_sec: float | None = None
    embedding_scope: str | None = None
    embedding_option: str | None = None


class EmbedV1Task(_WithId):
    """An embed v1 video embedding task (status, and segments once retrieved)."""

    model_name: str | None = None
    status: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    video_embedding: dict[str, Any] | None = None

    def segments(self) -> list[EmbedV1Segment]:
        """Return the task's embedding segments (empty until the task is retrieved when ready)."""
        raw = (self.video_embedding or {}).get("segments") or []
        return [EmbedV1Segment.model_validate(item) for item in raw]


# --------------------------------------------------------------------------- generation


class AnalyzeResult(TwelveLabsModel):
    """The answer of ``/analyze`` (non-streaming), or the assembled result of a stream."""

    id: str | None = None
    data: str | None = None
    finish_reason: str | None = None
    usage: dict[str, Any] | None = None
    error: _ErrorInfo | None = None


class SummarizeResult(TwelveLabsModel):
    """The answer of ``/summarize``: a summary, chapters or highlights."""

    id: str | None = None
    summarize_type: str | None = None
    summary: str | None = None
    chapters: list[dict[str, Any]] | None = None
    highlights: list[dict[str, Any]] | None = None
    usage: dict[str, Any] | None = None


class GistResult(TwelveLabsModel):
    """The answer of ``/gist``."""

    id: str | None = None
    title: str | None = None
    topics: list[str] | None = None
    hashtags: list[str] | None = None
    usage: dict[str, Any] | None = None


# --------------------------------------------------------------------------- search


class SearchPageInfo(TwelveLabsModel):
    """``page_info`` of a search page (token based)."""

    limit_per_page: int | None = None
    total_results: int | None = None
    page_expires_at: str | None = None
    next_page_token: str | None = None
    total_inner_matches: int | None = None


class SearchPage(TwelveLabsModel):
    """One page of search results; items are clips, or videos with clips when grouped."""

    data: list[dict[str, Any]] = Field(default_factory=list)
    page_info: SearchPageInfo | None = None
    search_pool: dict[str, Any] | None = None


# --------------------------------------------------------------------------- asynchronous analyze


class AnalyzeTaskStatus(_Status):
    """Statuses of an asynchronous analyze task (``/analyze/tasks``); ``canceled`` is a final failure."""

    QUEUED = "queued"
    PENDING = "pending"
    PROCESSING = "processing"
    READY = "ready"
    FAILED = "failed"
    CANCELED = "canceled"


class AnalyzeBatchStatus(_Status):
    """Statuses of an analyze batch.

    ``completed`` means every item ended, not that every item succeeded: read the item counts. A batch
    is never ``failed``; ``canceling`` is not final (processing items still finish).
    """

    PENDING = "pending"
    PROCESSING = "processing"
    CANCELING = "canceling"
    CANCELED = "canceled"
    COMPLETED = "completed"
    EXPIRED = "expired"


class AnalyzeBatchItemStatus(_Status):
    """Statuses of one item in the results of an analyze batch."""

    QUEUED = "queued"
    PROCESSING = "processing"
    READY = "ready"
    FAILED = "failed"
    CANCELED = "canceled"


class _CodedError(TwelveLabsModel):
    code: str | None = None
    message: str | None = None


class AnalyzeTaskResult(TwelveLabsModel):
    """The ``result`` of a ready analyze task (also the ``data`` of a ready batch item).

    ``data`` is text in ``general`` mode, a JSON string with ``response_format.json_schema``, and a
    JSON string of segments keyed by segment definition id in ``time_based_metadata`` mode.
    """

    generation_id: str | None = None
    data: str | None = None
    finish_reason: str | None = None
    usage: dict[str, Any] | None = None


class AnalyzeTask(TwelveLabsModel):
    """An asynchronous analyze task; the API's ``task_id`` is read as ``id``.

    A ``ready`` task may still carry a warning in ``error`` (truncated output, ``finish_reason``
    ``length``, or incomplete segments): see :attr:`warning`.
    """

    id: str = Field(validation_alias=AliasChoices("task_id", "id", "_id"))
    status: str | None = None
    custom_id: str | None = None
    batch_id: str | None = None
    video_source: dict[str, Any] | None = None
    request_params: dict[str, Any] | None = None
    created_at: str | None = None
    completed_at: str | None = None
    result: AnalyzeTaskResult | None = None
    error: _CodedError | None = None
    webhooks: list[dict[str, Any]] | None = None

    @property
    def task_id(self) -> str:
        """The task id, as the API names it."""
        return self.id

    @property
    def warning(self) -> str | None:
        """The warning message of a ``ready`` task whose output is truncated or incomplete, else ``None``."""
        if str(self.status).lower() != "ready" or self.error is None:
            return None
        return self.error.message or self.error.code or "the result may be incomplete"


class AnalyzeBatch(TwelveLabsModel):
    """An analyze batch with its item counts; the API's ``batch_id`` is read as ``id``.

    ``items`` (task id and custom id per request) is only in the answer to creating the batch.
    """

    id: str = Field(validation_alias=AliasChoices("batch_id", "id", "_id"))
    status: str | None = None
    analysis_mode: str | None = None
    model_name: str | None = None
    total_items: int | None = None
    created_at: str | None = None
    expires_at: str | None = None
    completed_at: str | None = None
    canceled_at: str | None = None
    expired_at: str | None = None
    queued_items: int | None = None
    processing_items: int | None = None
    ready_items: int | None = None
    failed_items: int | None = None
    canceled_items: int | None = None
    items: list[dict[str, Any]] | None = None
    webhooks: list[dict[str, Any]] | None = None

    @property
    def batch_id(self) -> str:
        """The batch id, as the API names it."""
        return self.id


class AnalyzeBatchResult(TwelveLabsModel):
    """One line of an analyze batch's results: an item's status, and its result or error."""

    task_id: str
    custom_id: str | None = None
    status: str | None = None
    data: AnalyzeTaskResult | None = None
    error: _CodedError | None = None
