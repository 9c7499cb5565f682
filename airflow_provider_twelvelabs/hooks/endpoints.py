"""Every TwelveLabs API call the provider makes, each described once.

A function here turns typed arguments into an :class:`ApiCall`: the method, the path relative to
the base URL, the query, how the body is encoded (JSON, or a multipart form with repeated keys for
lists, ``true``/``false`` strings for booleans and JSON-in-a-string fields) and how the answer is
parsed. :class:`~airflow_provider_twelvelabs.hooks.twelvelabs.TwelveLabsHook` executes the same
description on a sync or an async httpx client, so no endpoint has two hand-written bodies.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any, Generic, TypeVar
from urllib.parse import quote

from pydantic import BaseModel, TypeAdapter

from airflow_provider_twelvelabs.models import (
    AnalyzeBatch,
    AnalyzeResult,
    AnalyzeTask,
    Asset,
    EmbeddingResult,
    EmbedV1Task,
    EmbedV2Task,
    GistResult,
    Index,
    IndexedAsset,
    IndexingTask,
    MultipartSession,
    MultipartUploadStatus,
    Page,
    PresignedUrls,
    ReportChunksResult,
    SearchPage,
    SummarizeResult,
)

T = TypeVar("T")


@dataclass(frozen=True)
class FilePart:
    """A file sent as one part of a multipart form.

    :param field: the form field name (``file``, ``video_file``...).
    :param filename: the file name announced in the part.
    :param open: a callable returning a fresh binary file object; called once per attempt so a
        retried request carries the whole file again. The hook closes what it returns.
    :param content_type: the part's content type.
    """

    field: str
    filename: str
    open: Callable[[], IO[bytes]]
    content_type: str = "application/octet-stream"


@dataclass(frozen=True)
class ApiCall(Generic[T]):
    """The description of one API request and of how to read its answer.

    :param method: HTTP method.
    :param path: path relative to the base URL (``assets/{id}``), already formatted.
    :param parse: turns the decoded JSON answer (``None`` for an empty body) into the result.
    :param params: query parameters, as pairs so that keys can repeat.
    :param json: a JSON body.
    :param form: multipart form fields, as pairs so that keys can repeat.
    :param files: file parts of a multipart form.
    :param idempotent: whether repeating the request after it may have reached the server is
        harmless. Creates are not: after a dropped connection they are retried only when the
        request provably never left (connect errors).
    :param skip: the keys leading to an array of the JSON answer that the hook reads as a stream
        and leaves out before parsing (vectors too large to load just to read a status).
    """

    method: str
    path: str
    parse: Callable[[Any], T]
    params: Sequence[tuple[str, str]] = ()
    json: Any = None
    form: Sequence[tuple[str, str]] | None = None
    files: Sequence[FilePart] = ()
    idempotent: bool = True
    skip: tuple[str, ...] = ()

    @property
    def is_form(self) -> bool:
        """Whether the body is a multipart form."""
        return self.form is not None or bool(self.files)


# --------------------------------------------------------------------------- encoding helpers


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def encode_pairs(fields: Mapping[str, Any], *, json_fields: Iterable[str] = ()) -> list[tuple[str, str]]:
    """Encode fields as the API expects in forms and queries.

    ``None`` is dropped, booleans become ``true``/``false``, lists repeat the key, nested dicts use
    the deepObject style ``key[sub][subsub]=v`` (a list inside one repeats that key, as the SDK's
    query encoder does), and the fields named in ``json_fields`` are sent as one JSON string.

    :param fields: the fields to encode.
    :param json_fields: names of fields sent as a JSON-encoded string.
    """
    json_names = set(json_fields)
    pairs: list[tuple[str, str]] = []
    for key, value in fields.items():
        if value is None:
            continue
        if key in json_names:
            pairs.append((key, json.dumps(value, separators=(",", ":"))))
        else:
            pairs.extend(_flatten(key, value))
    return pairs


def _flatten(key: str, value: Any) -> Iterable[tuple[str, str]]:
    if value is None:
        return
    if isinstance(value, Mapping):
        for sub, item in value.items():
            yield from _flatten(f"{key}[{sub}]", item)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            # A list item is never a list itself on the wire: the key just repeats.
            yield from _flatten(key, item)
    else:
        yield key, _scalar(value)


def compact(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Return a JSON body without the ``None`` fields (the API treats absent and null alike).

    :param fields: the body fields.
    """
    return {k: v for k, v in fields.items() if v is not None}


def _seg(value: str) -> str:
    """Quote a path segment (ids come from users and XCom; never let them change the path)."""
    if not value or not isinstance(value, str):
        raise ValueError(f"Expected a non-empty id, got {value!r}")
    return quote(value, safe="")


def model(cls: type[BaseModel]) -> Callable[[Any], Any]:
    """Return a parser validating an answer into ``cls``.

    :param cls: the pydantic model of the answer.
    """
    return cls.model_validate


def page_of(item: type[T]) -> Callable[[Any], Page[T]]:
    """Return a parser for one page of a page-based list of ``item``.

    :param item: the model of one item.
    """
    adapter: TypeAdapter[Page[T]] = TypeAdapter(Page[item])  # type: ignore[valid-type]
    return adapter.validate_python


def nothing(_: Any) -> None:
    """Parse an answer whose body carries nothing (204)."""
    return None


def raw(payload: Any) -> Any:
    """Return the decoded JSON answer as it is."""
    return payload


def _paging(page: int | None, page_limit: int | None) -> dict[str, Any]:
    return {"page": page, "page_limit": page_limit}


# --------------------------------------------------------------------------- assets (contract 3)


def create_asset(
    *,
    method: str,
    file: FilePart | None = None,
    url: str | None = None,
    filename: str | None = None,
    enable_hls: bool | None = None,
    enable_thumbnail: bool | None = None,
    user_metadata: Mapping[str, Any] | None = None,
) -> ApiCall[Asset]:
    """``POST /assets``: upload a file directly or have the platform fetch a URL."""
    form = encode_pairs(
        {
            "method": method,
            "url": url,
            "filename": filename,
            "enable_hls": enable_hls,
            "enable_thumbnail": enable_thumbnail,
            "user_metadata": user_metadata,
        },
        json_fields=("user_metadata",),
    )
    return ApiCall("POST", "assets", model(Asset), form=form, files=(file,) if file else (), idempotent=False)


def list_assets(
    *,
    asset_ids: Sequence[str] | None = None,
    asset_types: Sequence[str] | None = None,
    filename: str | None = None,
    page: int | None = None,
    page_limit: int | None = None,
) -> ApiCall[Page[Asset]]:
    """``GET /assets``: list assets, newest first."""
    params = encode_pairs(
        {
            "asset_ids": asset_ids,
            "asset_types": asset_types,
            "filename": filename,
            **_paging(page, page_limit),
        }
    )
    return ApiCall("GET", "assets", page_of(Asset), params=params)


def get_asset(asset_id: str) -> ApiCall[Asset]:
    """``GET /assets/{asset_id}``."""
    return ApiCall("GET", f"assets/{_seg(asset_id)}", model(Asset))


def delete_asset(asset_id: str, *, force: bool | None = None) -> ApiCall[None]:
    """``DELETE /assets/{asset_id}``."""
    return ApiCall("DELETE", f"assets/{_seg(asset_id)}", nothing, params=encode_pairs({"force": force}))


def list_asset_indexed_assets(
    asset_id: str, *, page: int | None = None, page_limit: int | None = None
) -> ApiCall[Page[dict[str, Any]]]:
    """``GET /assets/{asset_id}/indexed-assets``: the indexed assets that reference an asset."""
    return ApiCall(
        "GET",
        f"assets/{_seg(asset_id)}/indexed-assets",
        page_of(dict),
        params=encode_pairs(_paging(page, page_limit)),
    )


# --------------------------------------------------------------------------- multipart (contract 4)


def create_multipart_upload(
    *,
    filename: str,
    total_size: int,
    type: str = "video",
    enable_hls: bool | None = None,
    enable_thumbnail: bool | None = None,
    user_metadata: Mapping[str, Any] | None = None,
) -> ApiCall[MultipartSession]:
    """``POST /assets/multipart-uploads``: open an upload session."""
    body = compact(
        {
            "filename": filename,
            "type": type,
            "total_size": total_size,
            "enable_hls": enable_hls,
            "enable_thumbnail": enable_thumbnail,
            "user_metadata": dict(user_metadata) if user_metadata else None,
        }
    )
    return ApiCall("POST", "assets/multipart-uploads", model(MultipartSession), json=body, idempotent=False)


def report_multipart_chunks(
    upload_id: str, completed_chunks: Sequence[Mapping[str, Any]]
) -> ApiCall[ReportChunksResult]:
    """``POST /assets/multipart-uploads/{upload_id}``: report up to 50 uploaded chunks.

    Reporting a chunk twice is harmless (the API counts it as a duplicate), so this is idempotent.
    """
    if not 1 <= len(completed_chunks) <= 50:
        raise ValueError("completed_chunks must hold 1 to 50 chunks per report")
    return ApiCall(
        "POST",
        f"assets/multipart-uploads/{_seg(upload_id)}",
        model(ReportChunksResult),
        json={"completed_chunks": [dict(c) for c in completed_chunks]},
    )


def get_multipart_upload_status(
    upload_id: str, *, page: int | None = None, page_limit: int | None = None
) -> ApiCall[MultipartUploadStatus]:
    """``GET /assets/multipart-uploads/{upload_id}``: one page of an upload's status."""
    return ApiCall(
        "GET",
        f"assets/multipart-uploads/{_seg(upload_id)}",
        model(MultipartUploadStatus),
        params=encode_pairs(_paging(page, page_limit)),
    )


def get_presigned_urls(upload_id: str, *, start: int, count: int) -> ApiCall[PresignedUrls]:
    """``POST /assets/multipart-uploads/{upload_id}/presigned-urls``: up to 50 fresh URLs."""
    if start < 1 or not 1 <= count <= 50:
        raise ValueError("presigned URLs are asked for with start >= 1 and 1 <= count <= 50")
    return ApiCall(
        "POST",
        f"assets/multipart-uploads/{_seg(upload_id)}/presigned-urls",
        model(PresignedUrls),
        json={"start": start, "count": count},
    )


def list_incomplete_uploads(
    *, page: int | None = None, page_limit: int | None = None
) -> ApiCall[Page[MultipartSession]]:
    """``GET /assets/multipart-uploads``: the incomplete upload sessions."""
    return ApiCall(
        "GET",
        "assets/multipart-uploads",
        page_of(MultipartSession),
        params=encode_pairs(_paging(page, page_limit)),
    )


# --------------------------------------------------------------------------- indexes (contract 5)


def create_index(
    *, index_name: str, models: Sequence[Mapping[str, Any]], addons: Sequence[str] | None = None
) -> ApiCall[Index]:
    """``POST /indexes``."""
    body = compact({"index_name": index_name, "models": [dict(m) for m in models], "addons": addons})
    return ApiCall("POST", "indexes", model(Index), json=body, idempotent=False)


def list_indexes(
    *,
    index_name: str | None = None,
    model_family: str | None = None,
    sort_by: str | None = None,
    sort_option: str | None = None,
    page: int | None = None,
    page_limit: int | None = None,
) -> ApiCall[Page[Index]]:
    """``GET /indexes``."""
    params = encode_pairs(
        {
            "index_name": index_name,
            "model_family": model_family,
            "sort_by": sort_by,
            "sort_option": sort_option,
            **_paging(page, page_limit),
        }
    )
    return ApiCall("GET", "indexes", page_of(Index), params=params)


def get_index(index_id: str) -> ApiCall[Index]:
    """``GET /indexes/{index_id}``."""
    return ApiCall("GET", f"indexes/{_seg(index_id)}", model(Index))


def rename_index(index_id: str, index_name: str) -> ApiCall[None]:
    """``PUT /indexes/{index_id}``."""
    return ApiCall("PUT", f"indexes/{_seg(index_id)}", nothing, json={"index_name": index_name})


def delete_index(index_id: str) -> ApiCall[None]:
    """``DELETE /indexes/{index_id}``."""
    return ApiCall("DELETE", f"indexes/{_seg(index_id)}", nothing)


# --------------------------------------------------------------------------- indexed assets (6)


def create_indexed_asset(
    index_id: str,
    *,
    asset_id: str,
    enable_video_stream: bool | None = None,
    user_metadata: Mapping[str, Any] | None = None,
) -> ApiCall[IndexedAsset]:
    """``POST /indexes/{index_id}/indexed-assets``: index a ready asset (202)."""
    body = compact(
        {
            "asset_id": asset_id,
            "enable_video_stream": enable_video_stream,
            "user_metadata": dict(user_metadata) if user_metadata else None,
        }
    )
    return ApiCall(
        "POST", f"indexes/{_seg(index_id)}/indexed-assets", model(IndexedAsset), json=body, idempotent=False
    )


def list_indexed_assets(
    index_id: str,
    *,
    status: Sequence[str] | None = None,
    filename: str | None = None,
    user_metadata: Mapping[str, Any] | None = None,
    sort_by: str | None = None,
    sort_option: str | None = None,
    page: int | None = None,
    page_limit: int | None = None,
) -> ApiCall[Page[IndexedAsset]]:
    """``GET /indexes/{index_id}/indexed-assets``."""
    params = encode_pairs(
        {
            "status": status,
            "filename": filename,
            "user_metadata": user_metadata,
            "sort_by": sort_by,
            "sort_option": sort_option,
            **_paging(page, page_limit),
        }
    )
    return ApiCall("GET", f"indexes/{_seg(index_id)}/indexed-assets", page_of(IndexedAsset), params=params)


def get_indexed_asset(
    index_id: str,
    indexed_asset_id: str,
    *,
    embedding_option: Sequence[str] | None = None,
    transcription: bool | None = None,
) -> ApiCall[IndexedAsset]:
    """``GET /indexes/{index_id}/indexed-assets/{indexed_asset_id}``."""
    params = encode_pairs({"embedding_option": embedding_option, "transcription": transcription})
    return ApiCall(
        "GET",
        f"indexes/{_seg(index_id)}/indexed-assets/{_seg(indexed_asset_id)}",
        model(IndexedAsset),
        params=params,
    )


def update_indexed_asset(
    index_id: str, indexed_asset_id: str, *, user_metadata: Mapping[str, Any]
) -> ApiCall[None]:
    """``PATCH /indexes/{index_id}/indexed-assets/{indexed_asset_id}``: merge user metadata."""
    return ApiCall(
        "PATCH",
        f"indexes/{_seg(index_id)}/indexed-assets/{_seg(indexed_asset_id)}",
        nothing,
        json={"user_metadata": dict(user_metadata)},
    )


def delete_indexed_asset(index_id: str, indexed_asset_id: str) -> ApiCall[None]:
    """``DELETE /indexes/{index_id}/indexed-assets/{indexed_asset_id}``."""
    return ApiCall("DELETE", f"indexes/{_seg(index_id)}/indexed-assets/{_seg(indexed_asset_id)}", nothing)


# --------------------------------------------------------------------------- legacy tasks and videos


def create_indexing_task(
    *,
    index_id: str,
    video_file: FilePart | None = None,
    video_url: str | None = None,
    enable_video_stream: bool | None = None,
    user_metadata: Mapping[str, Any] | None = None,
) -> ApiCall[IndexingTask]:
    """``POST /tasks``: upload and index a video in one call (legacy)."""
    form = encode_pairs(
        {
            "index_id": index_id,
            "video_url": video_url,
            "enable_video_stream": enable_video_stream,
            "user_metadata": user_metadata,
        },
        json_fields=("user_metadata",),
    )
    return ApiCall(
        "POST",
        "tasks",
        model(IndexingTask),
        form=form,
        files=(video_file,) if video_file else (),
        idempotent=False,
    )


def list_indexing_tasks(
    *,
    index_id: str | None = None,
    status: Sequence[str] | None = None,
    filename: str | None = None,
    sort_by: str | None = None,
    sort_option: str | None = None,
    page: int | None = None,
    page_limit: int | None = None,
) -> ApiCall[Page[IndexingTask]]:
    """``GET /tasks``."""
    params = encode_pairs(
        {
            "index_id": index_id,
            "status": status,
            "filename": filename,
            "sort_by": sort_by,
            "sort_option": sort_option,
            **_paging(page, page_limit),
        }
    )
    return ApiCall("GET", "tasks", page_of(IndexingTask), params=params)


def get_indexing_task(task_id: str) -> ApiCall[IndexingTask]:
    """``GET /tasks/{task_id}``."""
    return ApiCall("GET", f"tasks/{_seg(task_id)}", model(IndexingTask))


def delete_indexing_task(task_id: str) -> ApiCall[None]:
    """``DELETE /tasks/{task_id}``."""
    return ApiCall("DELETE", f"tasks/{_seg(task_id)}", nothing)


def list_videos(
    index_id: str,
    *,
    filename: str | None = None,
    page: int | None = None,
    page_limit: int | None = None,
) -> ApiCall[Page[IndexedAsset]]:
    """``GET /indexes/{index_id}/videos`` (legacy)."""
    params = encode_pairs({"filename": filename, **_paging(page, page_limit)})
    return ApiCall("GET", f"indexes/{_seg(index_id)}/videos", page_of(IndexedAsset), params=params)


def get_video(index_id: str, video_id: str) -> ApiCall[IndexedAsset]:
    """``GET /indexes/{index_id}/videos/{video_id}`` (legacy)."""
    return ApiCall("GET", f"indexes/{_seg(index_id)}/videos/{_seg(video_id)}", model(IndexedAsset))


# --------------------------------------------------------------------------- embed v2 (contract 9, 10)


def create_embedding(body: Mapping[str, Any]) -> ApiCall[EmbeddingResult]:
    """``POST /embed-v2``: synchronous embeddings. ``body`` is the request as the API defines it."""
    return ApiCall("POST", "embed-v2", model(EmbeddingResult), json=compact(body))


def create_embedding_task(body: Mapping[str, Any]) -> ApiCall[EmbedV2Task]:
    """``POST /embed-v2/tasks``: an asynchronous embedding task (202)."""
    return ApiCall("POST", "embed-v2/tasks", model(EmbedV2Task), json=compact(body), idempotent=False)


def get_embedding_task(task_id: str, *, with_data: bool = True) -> ApiCall[EmbedV2Task]:
    """``GET /embed-v2/tasks/{task_id}``: status, and the embeddings once ``ready``.

    :param task_id: the task id.
    :param with_data: keep the embeddings; without them the answer's ``data`` array (35 MB of JSON
        for a four-hour video) is read as a stream and dropped, for status polls.
    """
    return ApiCall(
        "GET", f"embed-v2/tasks/{_seg(task_id)}", model(EmbedV2Task), skip=() if with_data else ("data",)
    )


def list_embedding_tasks(
    *,
    status: str | None = None,
    started_at: str | None = None,
    ended_at: str | None = None,
    page: int | None = None,
    page_limit: int | None = None,
) -> ApiCall[Page[EmbedV2Task]]:
    """``GET /embed-v2/tasks``: tasks of the last 7 days by default, newest first."""
    params = encode_pairs(
        {"status": status, "started_at": started_at, "ended_at": ended_at, **_paging(page, page_limit)}
    )
    return ApiCall("GET", "embed-v2/tasks", page_of(EmbedV2Task), params=params)


# --------------------------------------------------------------------------- embed v1 (contract 11)


def create_embedding_v1(
    *,
    model_name: str,
    text: str | None = None,
    text_truncate: str | None = None,
    image_url: str | None = None,
    image_file: FilePart | None = None,
    audio_url: str | None = None,
    audio_file: FilePart | None = None,
    audio_start_offset_sec: float | None = None,
) -> ApiCall[dict[str, Any]]:
    """``POST /embed``: synchronous text, image or audio embeddings (v1, deprecated)."""
    form = encode_pairs(
        {
            "model_name": model_name,
            "text": text,
            "text_truncate": text_truncate,
            "image_url": image_url,
            "audio_url": audio_url,
            "audio_start_offset_sec": audio_start_offset_sec,
        }
    )
    files = tuple(f for f in (image_file, audio_file) if f)
    return ApiCall("POST", "embed", raw, form=form, files=files)


def create_video_embedding_task(
    *,
    model_name: str,
    video_file: FilePart | None = None,
    video_url: str | None = None,
    video_start_offset_sec: float | None = None,
    video_end_offset_sec: float | None = None,
    video_clip_length: float | None = None,
    video_embedding_scope: Sequence[str] | None = None,
) -> ApiCall[EmbedV1Task]:
    """``POST /embed/tasks``: a video embedding task (v1, deprecated)."""
    form = encode_pairs(
        {
            "model_name": model_name,
            "video_url": video_url,
            "video_start_offset_sec": video_start_offset_sec,
            "video_end_offset_sec": video_end_offset_sec,
            "video_clip_length": video_clip_length,
            "video_embedding_scope": video_embedding_scope,
        }
    )
    return ApiCall(
        "POST",
        "embed/tasks",
        model(EmbedV1Task),
        form=form,
        files=(video_file,) if video_file else (),
        idempotent=False,
    )


def get_video_embedding_task_status(task_id: str) -> ApiCall[EmbedV1Task]:
    """``GET /embed/tasks/{task_id}/status``."""
    return ApiCall("GET", f"embed/tasks/{_seg(task_id)}/status", model(EmbedV1Task))


def get_video_embedding_task(
    task_id: str, *, embedding_option: Sequence[str] | None = None
) -> ApiCall[EmbedV1Task]:
    """``GET /embed/tasks/{task_id}``: the embeddings of a ``ready`` task."""
    return ApiCall(
        "GET",
        f"embed/tasks/{_seg(task_id)}",
        model(EmbedV1Task),
        params=encode_pairs({"embedding_option": embedding_option}),
    )


def list_video_embedding_tasks(
    *, status: str | None = None, page: int | None = None, page_limit: int | None = None
) -> ApiCall[Page[EmbedV1Task]]:
    """``GET /embed/tasks``."""
    params = encode_pairs({"status": status, **_paging(page, page_limit)})
    return ApiCall("GET", "embed/tasks", page_of(EmbedV1Task), params=params)


# --------------------------------------------------------------------------- generation (12, 13)


def analyze(body: Mapping[str, Any], *, stream: bool = False) -> ApiCall[AnalyzeResult]:
    """``POST /analyze``. ``stream`` is always sent, since the API defaults to streaming.

    :param body: the request fields (``video`` or ``video_id``, ``prompt``, ``response_format``...).
    :param stream: ask for an NDJSON stream (read it with the hook's ``analyze_stream``).
    """
    return ApiCall("POST", "analyze", model(AnalyzeResult), json={**compact(body), "stream": stream})


def summarize(body: Mapping[str, Any]) -> ApiCall[SummarizeResult]:
    """``POST /summarize`` (legacy; announced for sunset)."""
    return ApiCall("POST", "summarize", model(SummarizeResult), json=compact(body))


def gist(*, video_id: str, types: Sequence[str]) -> ApiCall[GistResult]:
    """``POST /gist`` (legacy; announced for sunset)."""
    return ApiCall("POST", "gist", model(GistResult), json={"video_id": video_id, "types": list(types)})


# --------------------------------------------------------------------------- search (14)


def search(
    *,
    index_id: str,
    search_options: Sequence[str],
    query_text: str | None = None,
    query_media_type: str | None = None,
    query_media_url: str | Sequence[str] | None = None,
    query_media_files: Sequence[FilePart] = (),
    transcription_options: Sequence[str] | None = None,
    group_by: str | None = None,
    operator: str | None = None,
    page_limit: int | None = None,
    filter: Mapping[str, Any] | None = None,
    include_user_metadata: bool | None = None,
) -> ApiCall[SearchPage]:
    """``POST /search``: the first page of a search."""
    form = encode_pairs(
        {
            "index_id": index_id,
            "search_options": list(search_options),
            "query_text": query_text,
            "query_media_type": query_media_type,
            "query_media_url": [query_media_url] if isinstance(query_media_url, str) else query_media_url,
            "transcription_options": transcription_options,
            "group_by": group_by,
            "operator": operator,
            "page_limit": page_limit,
            "filter": filter,
            "include_user_metadata": include_user_metadata,
        },
        json_fields=("filter",),
    )
    return ApiCall("POST", "search", model(SearchPage), form=form, files=tuple(query_media_files))


def get_search_page(page_token: str, *, include_user_metadata: bool | None = None) -> ApiCall[SearchPage]:
    """``GET /search/{page_token}``: a further page of a search."""
    return ApiCall(
        "GET",
        f"search/{_seg(page_token)}",
        model(SearchPage),
        params=encode_pairs({"include_user_metadata": include_user_metadata}),
    )


# --------------------------------------------------------------------------- asynchronous analyze (18)

#: Most requests one analyze batch takes.
MAX_BATCH_REQUESTS = 1000


def create_analyze_task(body: Mapping[str, Any]) -> ApiCall[AnalyzeTask]:
    """``POST /analyze/tasks``: an asynchronous analysis; the answer holds ``task_id`` and ``status``.

    :param body: the request fields (``video`` or ``image``, ``prompt`` or ``prompt_v2``,
        ``analysis_mode``, ``response_format``, ``max_tokens``, ``custom_id``...).
    """
    if not isinstance(body, Mapping):
        raise ValueError(f"body must be a mapping of request fields, got {type(body).__name__}")
    return ApiCall(
        "POST",
        "analyze/tasks",
        model(AnalyzeTask),
        json=compact(body),
        idempotent=False,
    )


def list_analyze_tasks(
    *,
    status: str | None = None,
    video_url: str | None = None,
    asset_id: str | None = None,
    analysis_mode: str | None = None,
    page: int | None = None,
    page_limit: int | None = None,
) -> ApiCall[Page[AnalyzeTask]]:
    """``GET /analyze/tasks``: analyze tasks newest first (prompts shortened, schemas left out)."""
    params = encode_pairs(
        {
            "status": status,
            "video_url": video_url,
            "asset_id": asset_id,
            "analysis_mode": analysis_mode,
            **_paging(page, page_limit),
        }
    )
    return ApiCall("GET", "analyze/tasks", page_of(AnalyzeTask), params=params)


def get_analyze_task(task_id: str) -> ApiCall[AnalyzeTask]:
    """``GET /analyze/tasks/{task_id}``: status, and the result once ``ready``."""
    return ApiCall("GET", f"analyze/tasks/{_seg(task_id)}", model(AnalyzeTask))


def delete_analyze_task(task_id: str) -> ApiCall[None]:
    """``DELETE /analyze/tasks/{task_id}``: only a task that is not being processed (else 409)."""
    return ApiCall("DELETE", f"analyze/tasks/{_seg(task_id)}", nothing)


def cancel_analyze_task(task_id: str) -> ApiCall[AnalyzeTask]:
    """``POST /analyze/tasks/{task_id}/cancel``: answers ``{task_id, status: canceled}``, also on a repeat."""
    return ApiCall("POST", f"analyze/tasks/{_seg(task_id)}/cancel", model(AnalyzeTask))


def create_analyze_batch(
    *,
    model_name: str,
    analysis_mode: str,
    requests: Sequence[Mapping[str, Any]],
    defaults: Mapping[str, Any] | None = None,
) -> ApiCall[AnalyzeBatch]:
    """``POST /analyze/batches``: one analyze task per request, for one model and one mode.

    :param model_name: the model of every item.
    :param analysis_mode: ``general`` or ``time_based_metadata``, for every item.
    :param requests: 1 to 1,000 items, each with a ``video`` and optionally ``custom_id`` and overrides.
    :param defaults: fields applied to every item that does not set them.
    """
    if isinstance(requests, str | bytes | Mapping) or not isinstance(requests, Sequence):
        raise ValueError("requests must be a list of batch items")
    if not 1 <= len(requests) <= MAX_BATCH_REQUESTS:
        raise ValueError(f"requests must hold 1 to {MAX_BATCH_REQUESTS} items, got {len(requests)}")
    body = compact(
        {
            "model_name": model_name,
            "analysis_mode": analysis_mode,
            "defaults": dict(defaults) if defaults is not None else None,
            "requests": [compact(item) for item in requests],
        }
    )
    return ApiCall("POST", "analyze/batches", model(AnalyzeBatch), json=body, idempotent=False)


def list_analyze_batches(
    *,
    status: str | Sequence[str] | None = None,
    analysis_mode: str | Sequence[str] | None = None,
    page: int | None = None,
    page_limit: int | None = None,
) -> ApiCall[Page[AnalyzeBatch]]:
    """``GET /analyze/batches``: batches newest first; several statuses or modes repeat the key."""
    params = encode_pairs({"status": status, "analysis_mode": analysis_mode, **_paging(page, page_limit)})
    return ApiCall("GET", "analyze/batches", page_of(AnalyzeBatch), params=params)


def get_analyze_batch(batch_id: str) -> ApiCall[AnalyzeBatch]:
    """``GET /analyze/batches/{batch_id}``: status and item counts."""
    return ApiCall("GET", f"analyze/batches/{_seg(batch_id)}", model(AnalyzeBatch))


def delete_analyze_batch(batch_id: str) -> ApiCall[None]:
    """``DELETE /analyze/batches/{batch_id}``: a completed, canceled or expired batch and its tasks."""
    return ApiCall("DELETE", f"analyze/batches/{_seg(batch_id)}", nothing)


def cancel_analyze_batch(batch_id: str) -> ApiCall[AnalyzeBatch]:
    """``POST /analyze/batches/{batch_id}/cancel``: queued items are canceled, processing ones finish."""
    return ApiCall("POST", f"analyze/batches/{_seg(batch_id)}/cancel", model(AnalyzeBatch))


def get_analyze_batch_results(batch_id: str) -> ApiCall[Any]:
    """``GET /analyze/batches/{batch_id}/results``: JSON Lines, one entry per item (read as a stream)."""
    return ApiCall("GET", f"analyze/batches/{_seg(batch_id)}/results", raw)
