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
import posixpath
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow_provider_twelvelabs import xcom_keys
from airflow_provider_twelvelabs.exceptions import TwelveLabsError
from airflow_provider_twelvelabs.operators.base import TwelveLabsBaseOperator, TwelveLabsJobOperator
from airflow_provider_twelvelabs.requests.fields import choices, redact

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_twelvelabs.hooks.endpoints import FilePart
    from airflow_provider_twelvelabs.requests.embed import MediaReader

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

_MEGABYTE = 1024 * 1024
#: The v1 task upload limit.
V1_VIDEO_FILE_MAX_BYTES = 2 * 1024 * _MEGABYTE
_IMAGE_MIN_PIXELS = 128
_ROW_SOURCE_KEYS = ("input_type", "model", "task_id", "asset_id", "url", "file")


# --------------------------------------------------------------------------- validation helpers


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


def _filename(path: str) -> str:
    return posixpath.basename(urlsplit(path).path.rstrip("/")) or "video.mp4"


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
        from airflow_provider_twelvelabs.requests.embed import EmbeddingOutput

        output = EmbeddingOutput.build_from(self)
        # A template that renders empty means "no file": the embeddings go to XCom.
        self.output_path = output.output_path
        if output.output_format == "parquet" and output.output_path:
            # Fail before any request when the optional extra is missing.
            from airflow_provider_twelvelabs.results import import_pyarrow

            import_pyarrow()

    def _read_media(self) -> MediaReader:
        """Return the reader of inline media files, through ``file_conn_id`` if set."""
        conn_id = getattr(self, "file_conn_id", None)

        def read(name: str, path: str, limit: int, image: bool) -> str:
            return _read_media(name, path, conn_id, limit, image=image)

        return read

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
            options = manifest["options"]
            self.log.info(
                "Wrote %s embedding rows to %s as %s (%d modalit%s: %s; %s dimensions; scopes %s)",
                f"{stats.count:,}",
                manifest["path"],
                manifest["format"],
                len(options),
                "y" if len(options) == 1 else "ies",
                ", ".join(options) or "none",
                manifest["dimensions"],
                ", ".join(manifest["scopes"]) or "none",
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
        self.log.info(
            "Returning %s embedding rows in XCom (return_value; %s bytes of JSON; options %s)",
            f"{stats.count:,}",
            f"{size:,}",
            ", ".join(stats.options) or "none",
        )
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
            "url": redact(self.url) if self.url else None,
            "file": self.file_path or None,
        }


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

    def build_request(self) -> dict[str, Any]:
        """Validate every parameter and return the ``POST /embed-v2`` body; no request is made."""
        self._validate_output()
        from airflow_provider_twelvelabs.requests.embed import EmbedV2Request

        return EmbedV2Request.build_from(self).to_body(self._read_media())

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


class _EmbeddingTaskMixin(TwelveLabsJobOperator):
    """The embedding task kinds' part of the job model: the task id is the job's id."""

    def on_resource_ready(self, context: Context, kind: str, resource: dict[str, Any]) -> Any:
        """Read the ready task's embeddings as a stream and deliver them.

        :param context: the task context.
        :param kind: the task kind.
        :param resource: the task as JSON (without vectors).
        """
        task_id = str(resource.get("id") or resource.get("_id"))
        with self.open_results(task_id) as stream:
            return self.deliver_results(stream, task_id)

    def open_results(self, task_id: str) -> Any:
        """Open the ready task's results as a stream of items.

        :param task_id: the task id.
        """
        raise NotImplementedError

    def deliver_results(self, items: Any, task_id: str) -> Any:
        """Write the streamed items and return the manifest (or the rows, without an output path).

        :param items: the streamed result items.
        :param task_id: the task id.
        """
        raise NotImplementedError


class TwelveLabsCreateEmbeddingTaskOperator(_EmbeddingTaskMixin, _EmbedV2Mixin):
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
    job_kind = "embed_v2_task"
    external_id_key = xcom_keys.EMBED_V2_TASK_ID

    def __init__(self, *, input_type: str = "video", **kwargs: Any) -> None:
        super().__init__(input_type=input_type, **kwargs)

    def build_request(self) -> dict[str, Any]:
        """Validate every parameter and return the ``POST /embed-v2/tasks`` body; no request is made."""
        self._validate_output()
        from airflow_provider_twelvelabs.requests.embed import EmbedV2TaskRequest

        return EmbedV2TaskRequest.build_from(self).to_body(self._read_media())

    def prepare_job(self, context: Context) -> None:
        """Validate the rendered parameters and build the task's request.

        :param context: the task context.
        """
        self._body = self.build_request()

    def find_lost_job(self, context: Context, since: Any) -> Any:
        """Find the embedding task an earlier try's create made although its answer was lost.

        Embedding tasks carry no free-form field, so the tasks created since that create (``GET
        /embed-v2/tasks?started_at=``) are compared by model and input: the same URL (any of them
        will do: the same media gives the same embeddings), or the same asset's file name (only
        when one task matches). A task of inline media (``file_path``) cannot be told apart: when
        any task of the model was created since, the retry fails naming them rather than create a
        duplicate.

        :param context: the task context.
        :param since: when the lost create was sent, or ``None`` (then nothing is searched).
        """
        if since is None:
            return super().find_lost_job(context, since)
        from airflow_provider_twelvelabs.operators.base import CLOCK_SKEW, created_since
        from airflow_provider_twelvelabs.statuses import is_failed

        kind = str(self._body.get("input_type"))
        media = (self._body.get(kind) or {}).get("media_source") or {}
        url, filename = media.get("url"), None
        if media.get("asset_id"):
            filename = self.hook.get_asset(media["asset_id"]).filename
        started = (since - CLOCK_SKEW).isoformat()
        candidates = []
        for task in self.hook.list_embedding_tasks(started_at=started):
            if not created_since(task.created_at, since):
                break
            data = task.to_json_dict()
            if data.get("model_name") not in (None, self._body.get("model_name")) or is_failed(task.status):
                continue
            meta = (data.get(f"{kind}_embedding") or {}).get("metadata") or {}
            if url is not None and meta.get("input_url") != url:
                continue
            if filename is not None and meta.get("input_filename") != filename:
                continue
            candidates.append(task)
        if not candidates:
            return None
        if url is not None or (filename is not None and len(candidates) == 1):
            return candidates[0]
        ids = ", ".join(t.id for t in candidates[:10])
        raise TwelveLabsError(
            f"An earlier try's create of an embedding task got no answer, and {len(candidates)} "
            f"{self.model_name} {kind} task(s) created since may be it ({ids}); embedding tasks carry "
            "no tag, so the API cannot tell which is this task's. Not creating another one: check "
            "those tasks (a new DAG run creates a new task)."
        )

    def create_job(self, context: Context) -> Any:
        """Create the embedding task.

        :param context: the task context.
        """
        task = self.hook.create_embedding_task(self._body)
        self.log.info("Created embedding task %s (%s, %s)", task.id, self.input_type, self.model_name)
        return task

    def open_results(self, task_id: str) -> Any:
        """Stream the ready task's embeddings.

        :param task_id: the task id.
        """
        return self.hook.stream_embedding_task_results(task_id)

    def deliver_results(self, items: Any, task_id: str) -> Any:
        """Write the embeddings row by row.

        :param items: the streamed embeddings.
        :param task_id: the task id.
        """
        return self._deliver((_v2_row(item) for item in items), model=self.model_name, task_id=task_id)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the asset, file or URL (without its query) in; ``output_path`` out.

        :param task_instance: the finished task instance.
        """
        from airflow_provider_twelvelabs.lineage import (
            asset_dataset,
            file_dataset,
            operator_lineage,
        )

        asset = asset_dataset(self, self.asset_id)
        return operator_lineage(
            [asset, file_dataset(self.file_path), file_dataset(self.url)], [file_dataset(self.output_path)]
        )


# --------------------------------------------------------------------------- embed v1 video tasks


class TwelveLabsCreateVideoEmbeddingTaskOperator(_EmbeddingTaskMixin, _EmbeddingOperatorMixin):
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
    job_kind = "embed_v1_task"
    external_id_key = xcom_keys.EMBED_V1_TASK_ID

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
            "url": redact(self.video_url) if self.video_url else None,
            "file": self.video_file or None,
        }

    def build_request(self) -> dict[str, Any]:
        """Validate every parameter and return the keyword arguments of the create call (no request)."""
        self._validate_output()
        from airflow_provider_twelvelabs.requests.embed import EmbedV1TaskRequest

        request = EmbedV1TaskRequest.build_from(self)
        fields = request.to_body()
        if request.video_file is not None:
            fields["video_file"] = self._file_part(request.video_file)
        return fields

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

    def prepare_job(self, context: Context) -> None:
        """Validate the rendered parameters and build the create call's fields.

        :param context: the task context.
        """
        self._fields = self.build_request()

    def create_job(self, context: Context) -> Any:
        """Create the video embedding task.

        :param context: the task context.
        """
        task = self.hook.create_video_embedding_task(**self._fields)
        self.log.info("Created video embedding task %s (v1, %s)", task.id, self.model_name)
        return task

    def open_results(self, task_id: str) -> Any:
        """Stream the ready task's segments.

        :param task_id: the task id.
        """
        from airflow_provider_twelvelabs.requests.embed import V1_OPTIONS

        options = choices("embedding_option", self.embedding_option, allowed=V1_OPTIONS)
        return self.hook.stream_video_embedding_task_results(task_id, embedding_option=options)

    def deliver_results(self, items: Any, task_id: str) -> Any:
        """Write the segments row by row.

        :param items: the streamed segments.
        :param task_id: the task id.
        """
        return self._deliver((_v1_row(segment) for segment in items), model=self.model_name, task_id=task_id)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the video file or URL (without its query) in; ``output_path`` out.

        :param task_instance: the finished task instance.
        """
        from airflow_provider_twelvelabs.lineage import file_dataset, operator_lineage

        return operator_lineage(
            [file_dataset(self.video_file), file_dataset(self.video_url)], [file_dataset(self.output_path)]
        )
