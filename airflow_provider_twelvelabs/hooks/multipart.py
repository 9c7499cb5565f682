"""Parallel, resumable multipart upload with bounded memory (contract section 4).

The engine behind :meth:`TwelveLabsHook.multipart_upload
<airflow_provider_twelvelabs.hooks.twelvelabs.TwelveLabsHook.multipart_upload>`. It knows nothing
of the hook: it needs only the few calls of :class:`MultipartApi` (open a session, get presigned
URLs, PUT a chunk, report chunks, read the session's status, fetch the asset), which the hook
provides. Sources are resolved by :mod:`airflow_provider_twelvelabs.sources`.

* each worker thread reads its own chunk straight from the source (``os.pread`` on a local file, a
  ranged ``cat_file`` on any fsspec filesystem) and PUTs it to a presigned URL; at most
  ``concurrency`` chunks are in flight, so memory stays near ``concurrency x chunk_size`` whatever
  the file size, and nothing is ever written to disk;
* presigned URLs are fetched in batches of up to 50 ahead of need, replaced before they expire and
  after any failure (a presigned URL is single use);
* completed chunks are reported in batches of up to 50 while the upload runs, and the status
  endpoint confirms completion at the end;
* a :class:`MultipartCheckpoint` describes the session, so an interrupted upload can be resumed: the
  status endpoint tells which chunks are done and only the others are sent.

Threads with the sync httpx client were measured faster than an asyncio loop on loopback (see
``docs/benchmarks.md``): file reads and socket writes both release the GIL, while a single event
loop thread serialises the per-chunk Python work.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import os
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol

import httpx

from airflow_provider_twelvelabs.exceptions import (
    TwelveLabsError,
    TwelveLabsNotFoundError,
    TwelveLabsUploadError,
)
from airflow_provider_twelvelabs.models import (
    Asset,
    MultipartSession,
    MultipartUploadStatus,
    PresignedUrl,
    PresignedUrls,
    ReportChunksResult,
)
from airflow_provider_twelvelabs.reporting import (
    DEFAULT_PROGRESS_INTERVAL,
    TransferProgress,
    duration_text,
    mib_text,
)
from airflow_provider_twelvelabs.sources import Source, resolve

__all__ = [
    "DEFAULT_CONCURRENCY",
    "MultipartApi",
    "MultipartCheckpoint",
    "MultipartUploader",
    "UploadProgress",
    "UploadSource",
    "open_source",
]

log = logging.getLogger(__name__)

#: Parallel chunk PUTs by default; measured in ``benchmarks/multipart_upload.py``.
DEFAULT_CONCURRENCY = 16
#: The API's limit on presigned URLs per request and on chunks per report.
MAX_BATCH = 50
#: Session statuses after which the session can no longer take chunks.
_DEAD_SESSION = frozenset({"failed", "expired"})
_MIB = 1024 * 1024
#: Size of the pieces a local chunk is read and sent in.
_PIECE = _MIB


# ---------------------------------------------------------------------------------------- the API


class MultipartApi(Protocol):
    """The calls the engine makes: what it needs of the API, and nothing else of the hook."""

    def create_multipart_upload(self, **fields: Any) -> MultipartSession:
        """Open an upload session (the fields of ``POST /assets/multipart-uploads``)."""
        ...

    def get_presigned_urls(self, upload_id: str, *, start: int, count: int) -> PresignedUrls:
        """Return up to 50 fresh presigned URLs from chunk ``start``."""
        ...

    def put_chunk(
        self,
        url: str,
        data: bytes | Iterable[bytes],
        *,
        headers: Mapping[str, str] | None = None,
        client: httpx.Client | None = None,
    ) -> str:
        """PUT one chunk to a presigned URL with ``client`` and return its ETag."""
        ...

    def report_multipart_chunks(
        self, upload_id: str, completed_chunks: Sequence[Mapping[str, Any]]
    ) -> ReportChunksResult:
        """Report up to 50 uploaded chunks."""
        ...

    def get_multipart_upload_status(
        self, upload_id: str, *, page: int | None = None, page_limit: int | None = None
    ) -> MultipartUploadStatus:
        """Return one page of the session's status."""
        ...

    def get_asset(self, asset_id: str) -> Asset:
        """Return the uploaded asset."""
        ...


# ---------------------------------------------------------------------------------------- sources


class UploadSource(Protocol):
    """A file to upload, read by byte ranges from several threads at once."""

    name: str
    size: int
    description: str

    def read(self, offset: int, length: int) -> bytes:
        """Return ``length`` bytes from ``offset`` (fewer only at the end of the file)."""
        ...

    def pieces(self, offset: int, length: int) -> Iterator[bytes]:
        """Yield the ``length`` bytes from ``offset`` in pieces, reading each only when it is sent."""
        ...

    def close(self) -> None:
        """Release the source."""
        ...


class _LocalSource:
    """A local file read with ``os.pread``: thread safe, no shared file position, no copy on disk."""

    def __init__(self, source: Source) -> None:
        self.description = source.description
        self.name = source.name
        self.size = source.size()
        self._fd = os.open(source.path, os.O_RDONLY | getattr(os, "O_BINARY", 0))

    def read(self, offset: int, length: int) -> bytes:
        data = os.pread(self._fd, length, offset)
        if len(data) == length or not data:
            return data
        # pread may return less than asked for; gather the rest without an intermediate copy per part.
        parts = [data]
        got = len(data)
        while got < length:
            more = os.pread(self._fd, length - got, offset + got)
            if not more:
                break
            parts.append(more)
            got += len(more)
        return b"".join(parts)

    def pieces(self, offset: int, length: int) -> Iterator[bytes]:
        # Reading a local file is cheap, so a chunk is streamed in pieces: memory per PUT in flight
        # stays at one piece instead of one chunk.
        end = offset + length
        while offset < end:
            piece = os.pread(self._fd, min(_PIECE, end - offset), offset)
            if not piece:
                raise _SourceError(f"{self.description} is shorter than when the upload started")
            offset += len(piece)
            yield piece

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._fd)


class _FsspecSource:
    """An object on any fsspec filesystem, read with one ranged request per chunk."""

    def __init__(self, source: Source) -> None:
        self.fs = source.fs
        self.path = source.path
        self.description = source.description
        self.name = source.name
        self.size = source.size()

    def read(self, offset: int, length: int) -> bytes:
        end = min(self.size, offset + length)
        data = self.fs.cat_file(self.path, start=offset, end=end)
        return bytes(data)

    def pieces(self, offset: int, length: int) -> Iterator[bytes]:
        # One ranged request per chunk: remote reads are costly per request, not per byte.
        data = self.read(offset, length)
        if len(data) != length:
            raise _SourceError(f"{self.description} is shorter than when the upload started")
        yield data

    def close(self) -> None:
        """Nothing to release: every read is its own request."""


def open_source(source: Any) -> UploadSource:
    """Open a local path, an ``ObjectStoragePath`` or an fsspec URL for ranged reads.

    :param source: anything :func:`airflow_provider_twelvelabs.sources.resolve` takes.
    """
    resolved = resolve(source)
    return _LocalSource(resolved) if resolved.is_local else _FsspecSource(resolved)


# ---------------------------------------------------------------------------------------- checkpoint


@dataclass(frozen=True)
class MultipartCheckpoint:
    """What a later try needs to resume an upload session: ids, geometry and headers, no secret.

    :param upload_id: the session id.
    :param asset_id: the asset reserved for the upload.
    :param filename: the file name announced to the API.
    :param total_size: the file's size in bytes.
    :param chunk_size: the session's chunk size.
    :param total_chunks: the number of chunks.
    :param upload_headers: the headers every chunk PUT must carry.
    """

    upload_id: str
    asset_id: str | None
    filename: str
    total_size: int
    chunk_size: int
    total_chunks: int
    upload_headers: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the checkpoint as a JSON-native dict (for XCom or the task state store)."""
        return {
            "upload_id": self.upload_id,
            "asset_id": self.asset_id,
            "filename": self.filename,
            "total_size": self.total_size,
            "chunk_size": self.chunk_size,
            "total_chunks": self.total_chunks,
            "upload_headers": dict(self.upload_headers),
        }

    @classmethod
    def from_dict(cls, data: Any) -> MultipartCheckpoint | None:
        """Read a checkpoint written by :meth:`to_dict`; ``None`` if ``data`` is not one.

        :param data: the stored value.
        """
        if not isinstance(data, Mapping):
            return None
        try:
            return cls(
                upload_id=str(data["upload_id"]),
                asset_id=str(data["asset_id"]) if data.get("asset_id") else None,
                filename=str(data["filename"]),
                total_size=int(data["total_size"]),
                chunk_size=int(data["chunk_size"]),
                total_chunks=int(data["total_chunks"]),
                upload_headers={str(k): str(v) for k, v in (data.get("upload_headers") or {}).items()},
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            return None

    def chunk_length(self, index: int) -> int:
        """Return the size of the 1-based chunk ``index`` (the last one may be shorter).

        :param index: the chunk number.
        """
        if index < self.total_chunks:
            return self.chunk_size
        return self.total_size - self.chunk_size * (self.total_chunks - 1)


# ---------------------------------------------------------------------------------------- progress


@dataclass(frozen=True)
class UploadProgress:
    """A snapshot of an upload, handed to ``progress_callback`` after every chunk.

    :param upload_id: the session id.
    :param chunk_index: the chunk that just completed.
    :param chunks_done: chunks uploaded so far, resumed ones included.
    :param total_chunks: chunks in all.
    :param bytes_done: bytes uploaded so far, resumed ones included.
    :param total_bytes: the file's size.
    """

    upload_id: str
    chunk_index: int
    chunks_done: int
    total_chunks: int
    bytes_done: int
    total_bytes: int


_mib = mib_text
_duration = duration_text


class _Progress(TransferProgress):
    """Counts bytes and chunks; logs at most once per interval, and at 100%."""

    def __init__(
        self, label: str, total_bytes: int, total_chunks: int, interval: float, logger: Any = None
    ) -> None:
        super().__init__(logger or log, f"Multipart upload of {label}", total_bytes, interval=interval)
        self.total_chunks = total_chunks
        self.resumed_chunks = 0
        self.sent_chunks = 0
        self.retries = 0

    @property
    def done_chunks(self) -> int:
        return self.resumed_chunks + self.sent_chunks

    def _chunks(self) -> str:
        return f"{self.done_chunks} of {self.total_chunks} chunks"

    def maybe_log(self, extra: Callable[[], str] | None = None) -> None:
        super().maybe_log(extra or self._chunks)


# ---------------------------------------------------------------------------------------- URLs


@dataclass
class _Url:
    url: str = field(repr=False)
    #: Wall-clock epoch seconds after which the URL is not used any more (expiry minus a margin).
    use_before: float


def _parse_time(value: str | None) -> float | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()


# ---------------------------------------------------------------------------------------- the engine


@dataclass
class MultipartUploader:
    """Upload one file through a multipart session, in parallel, resumably, with bounded memory.

    :param api: what makes the API calls and the chunk PUTs (the hook).
    :param concurrency: parallel chunk PUTs (1 to 64).
    :param max_chunk_attempts: attempts per chunk, each on a fresh presigned URL, before giving up.
    :param retry_base_delay: the first backoff after a failed chunk, in seconds, doubled each time.
    :param retry_max_delay: the longest backoff, in seconds.
    :param url_expiry_margin: a presigned URL is replaced this many seconds before its expiry (at
        most a quarter of its lifetime).
    :param report_interval: completed chunks are reported at the latest after this many seconds,
        and at once when 50 are waiting.
    :param progress_interval: seconds between progress log lines (one is also logged at 100%).
    :param chunk_timeout: read and write timeout of a chunk PUT, in seconds.
    :param connect_timeout: connect timeout of a chunk PUT, in seconds.
    :param progress_callback: called with an :class:`UploadProgress` after every chunk; an
        exception it raises aborts the upload (resumable later).
    :param logger: where progress and warnings are logged (an operator passes its task logger, so
        they are in the task log); this module's logger by default.
    """

    api: MultipartApi
    concurrency: int = DEFAULT_CONCURRENCY
    max_chunk_attempts: int = 6
    retry_base_delay: float = 0.5
    retry_max_delay: float = 15.0
    url_expiry_margin: float = 60.0
    report_interval: float = 5.0
    progress_interval: float = DEFAULT_PROGRESS_INTERVAL
    chunk_timeout: float = 300.0
    connect_timeout: float = 10.0
    progress_callback: Callable[[UploadProgress], None] | None = None
    logger: Any = None

    @property
    def log(self) -> Any:
        """Where the progress and the engine's other lines go: ``logger``, else this module's."""
        return self.logger or log

    def __post_init__(self) -> None:
        if isinstance(self.concurrency, bool) or not isinstance(self.concurrency, int):
            raise TypeError(f"concurrency must be an integer, got {self.concurrency!r}")
        if not 1 <= self.concurrency <= 64:
            raise ValueError(f"concurrency must be between 1 and 64, got {self.concurrency}")
        if self.max_chunk_attempts < 1:
            raise ValueError(f"max_chunk_attempts must be at least 1, got {self.max_chunk_attempts}")

    def upload(
        self,
        source: Any,
        *,
        filename: str | None = None,
        file_type: str = "video",
        enable_hls: bool | None = None,
        enable_thumbnail: bool | None = None,
        user_metadata: Mapping[str, Any] | None = None,
        resume: MultipartCheckpoint | Mapping[str, Any] | None = None,
        on_session: Callable[[MultipartCheckpoint], None] | None = None,
    ) -> Asset:
        """Upload ``source`` and return its asset (usually still ``processing``).

        :param source: a local path, an fsspec URL or an ``ObjectStoragePath``.
        :param filename: the asset's file name; the source's own name by default.
        :param file_type: ``video``, ``audio`` or ``image``.
        :param enable_hls: ask for an HLS rendition (server default: false).
        :param enable_thumbnail: ask for a thumbnail (server default: false).
        :param user_metadata: metadata stored on the asset.
        :param resume: the checkpoint of an earlier, interrupted upload of the same file; its session
            is resumed if it still accepts chunks and matches the file, else a new one is opened.
        :param on_session: called with the session's checkpoint before the first chunk is sent, so
            the caller can store it where a retry finds it.
        :raises ValueError: if the source is empty or no file name can be derived.
        :raises TwelveLabsUploadError: if a chunk cannot be uploaded after all its attempts.
        """
        src = open_source(source)
        try:
            name = filename or src.name
            if not name:
                raise ValueError(f"Cannot derive a file name from {src.description!r}: pass filename=")
            if src.size == 0:
                raise ValueError(f"{src.description} is empty: there is nothing to upload")
            checkpoint = MultipartCheckpoint.from_dict(resume) if isinstance(resume, Mapping) else resume
            run: _Run | None = None
            if checkpoint is not None:
                run = self._resume(src, name, checkpoint)
            if run is None:
                session = self.api.create_multipart_upload(
                    filename=name,
                    type=file_type,
                    total_size=src.size,
                    enable_hls=enable_hls,
                    enable_thumbnail=enable_thumbnail,
                    user_metadata=user_metadata,
                )
                run = _Run(self, src, _checkpoint_of(session, name, src.size))
                run.add_urls(session.upload_urls)
                self.log.info(
                    "Opened multipart upload %s for %s: %s in %d chunks of %s, %d in parallel",
                    session.upload_id,
                    name,
                    _mib(src.size),
                    run.checkpoint.total_chunks,
                    _mib(run.checkpoint.chunk_size),
                    self.concurrency,
                )
            if on_session is not None:
                on_session(run.checkpoint)
            asset_id = run.execute()
        finally:
            src.close()
        return self.api.get_asset(asset_id)

    def _resume(self, src: UploadSource, name: str, checkpoint: MultipartCheckpoint) -> _Run | None:
        """Return a run over the stored session, or ``None`` when a new session is needed."""
        if checkpoint.total_size != src.size or checkpoint.filename != name:
            self.log.warning(
                "Not resuming upload %s: it was for %s (%d bytes), this is %s (%d bytes)",
                checkpoint.upload_id,
                checkpoint.filename,
                checkpoint.total_size,
                name,
                src.size,
            )
            return None
        run = _Run(self, src, checkpoint)
        try:
            status, done = run.fetch_status(all_pages=True)
        except TwelveLabsNotFoundError:
            self.log.warning("Upload session %s no longer exists; starting a new one", checkpoint.upload_id)
            return None
        if status in _DEAD_SESSION:
            self.log.warning("Upload session %s is %s; starting a new one", checkpoint.upload_id, status)
            return None
        run.mark_resumed(done)
        self.log.info(
            "Resuming multipart upload %s of %s: %d of %d chunks already completed",
            checkpoint.upload_id,
            name,
            len(done),
            checkpoint.total_chunks,
        )
        return run


def _checkpoint_of(session: MultipartSession, name: str, size: int) -> MultipartCheckpoint:
    chunk_size = session.chunk_size
    if chunk_size <= 0:
        raise TwelveLabsUploadError(
            f"Upload session {session.upload_id} announced a chunk size of {chunk_size}"
        )
    expected_chunks = -(-size // chunk_size)
    if session.total_chunks is not None and session.total_chunks != expected_chunks:
        raise TwelveLabsUploadError(
            f"Upload session {session.upload_id} expects {session.total_chunks} chunks of {chunk_size} "
            f"bytes, but {size} bytes make {expected_chunks}"
        )
    return MultipartCheckpoint(
        upload_id=session.upload_id,
        asset_id=session.asset_id,
        filename=name,
        total_size=size,
        chunk_size=chunk_size,
        total_chunks=expected_chunks,
        upload_headers=dict(session.upload_headers or {}),
    )


class _Run:
    """One attempt at moving the missing chunks of a session; the coordinator runs in the caller's thread."""

    def __init__(
        self, uploader: MultipartUploader, source: UploadSource, checkpoint: MultipartCheckpoint
    ) -> None:
        self.opts = uploader
        self.api = uploader.api
        self.source = source
        self.checkpoint = checkpoint
        self.asset_id = checkpoint.asset_id
        self.urls: dict[int, _Url] = {}
        self.attempts: dict[int, int] = {}
        self.unreported: list[dict[str, Any]] = []
        self.last_report = time.monotonic()
        self.completed: set[int] = set()
        self.log = uploader.log
        self.progress = _Progress(
            checkpoint.filename,
            checkpoint.total_size,
            checkpoint.total_chunks,
            uploader.progress_interval,
            uploader.log,
        )
        self._abort = threading.Event()

    # -- bookkeeping ------------------------------------------------------------------------------

    def mark_resumed(self, done: Iterable[int]) -> None:
        for index in done:
            if index not in self.completed and 1 <= index <= self.checkpoint.total_chunks:
                self.completed.add(index)
                self.progress.resumed_chunks += 1
                self.progress.resumed_bytes += self.checkpoint.chunk_length(index)

    def add_urls(self, urls: Iterable[PresignedUrl], wanted: set[int] | None = None) -> None:
        now = time.time()
        margin_cap = self.opts.url_expiry_margin
        for item in urls:
            if wanted is not None and item.chunk_index not in wanted:
                continue
            expires = _parse_time(item.expires_at)
            if expires is None:
                use_before = float("inf")
            else:
                # Never keep more than a quarter of the lifetime as margin, so short-lived URLs stay usable.
                margin = min(margin_cap, max(0.0, expires - now) / 4)
                use_before = expires - margin
            self.urls[item.chunk_index] = _Url(item.url, use_before)

    def _usable(self, index: int, now: float) -> bool:
        entry = self.urls.get(index)
        return entry is not None and entry.use_before > now

    def fetch_status(self, *, all_pages: bool) -> tuple[str | None, set[int]]:
        """Return the session status and the completed chunk numbers (first page only unless asked)."""
        upload_id = self.checkpoint.upload_id
        done: set[int] = set()
        page = 1
        status: str | None = None
        while True:
            answer = self.api.get_multipart_upload_status(upload_id, page=page, page_limit=MAX_BATCH)
            if page == 1:
                status = answer.status
                if not all_pages and (
                    status == "completed" or answer.chunks_completed == self.checkpoint.total_chunks
                ):
                    return "completed", set(range(1, self.checkpoint.total_chunks + 1))
            chunks = answer.uploaded_chunks or []
            done.update(c.index for c in chunks if c.status == "completed")
            if not all_pages:
                return status, done
            info = answer.page_info
            if not chunks or (info is not None and info.total_page is not None and page >= info.total_page):
                break
            page += 1
        if status == "completed":
            done = set(range(1, self.checkpoint.total_chunks + 1))
        return status, done

    # -- the run ----------------------------------------------------------------------------------

    def execute(self) -> str:
        """Send every missing chunk, report them, confirm completion; return the asset id."""
        total = self.checkpoint.total_chunks
        for round_number in range(3):
            missing = [i for i in range(1, total + 1) if i not in self.completed]
            if missing:
                self._transfer(missing)
            status, done = self.fetch_status(all_pages=False)
            if status == "completed":
                break
            # The API does not count every chunk as done: find out which, and send those again.
            status, done = self.fetch_status(all_pages=True)
            if status in _DEAD_SESSION:
                raise TwelveLabsUploadError(
                    f"Upload session {self.checkpoint.upload_id} of {self.checkpoint.filename} is {status}"
                )
            lost = set(range(1, total + 1)) - done
            if not lost:
                break
            self.log.warning(
                "Upload %s: the API lists %d chunk(s) as not completed (round %d); sending them again",
                self.checkpoint.upload_id,
                len(lost),
                round_number + 1,
            )
            self.completed -= lost
            self.progress.sent_chunks = max(0, self.progress.sent_chunks - len(lost))
            lost_bytes = sum(self.checkpoint.chunk_length(i) for i in lost)
            self.progress.sent_bytes = max(0, self.progress.sent_bytes - lost_bytes)
            self.progress.reopen()
        else:
            raise TwelveLabsUploadError(
                f"Upload session {self.checkpoint.upload_id} of {self.checkpoint.filename} is still "
                "incomplete after 3 rounds"
            )
        progress = self.progress
        self.log.info(
            "Multipart upload of %s complete: %s sent in %d chunk(s) (%d resumed, %d retried) in %s, "
            "%.1f MB/s; asset %s, upload %s",
            self.checkpoint.filename,
            _mib(progress.sent_bytes),
            progress.sent_chunks,
            progress.resumed_chunks,
            progress.retries,
            _duration(progress.elapsed),
            progress.rate / 1e6,
            self.asset_id,
            self.checkpoint.upload_id,
        )
        if not self.asset_id:
            raise TwelveLabsUploadError(f"Upload session {self.checkpoint.upload_id} never named its asset")
        return self.asset_id

    def _transfer(self, indices: list[int]) -> None:
        opts = self.opts
        queue: deque[int] = deque(sorted(indices))
        waiting: list[tuple[float, int]] = []  # (monotonic time it may go again, chunk)
        in_flight: dict[Future[tuple[str, int]], int] = {}
        # No API key on these: the PUTs go to object storage, and the key must not leave for it.
        http = httpx.Client(
            timeout=httpx.Timeout(opts.chunk_timeout, connect=opts.connect_timeout),
            limits=httpx.Limits(max_connections=opts.concurrency, max_keepalive_connections=opts.concurrency),
            follow_redirects=False,
        )
        pool = ThreadPoolExecutor(max_workers=opts.concurrency, thread_name_prefix="twelvelabs-upload")
        try:
            while queue or waiting or in_flight:
                now = time.monotonic()
                while len(in_flight) < opts.concurrency:
                    if waiting and waiting[0][0] <= now:
                        index = heapq.heappop(waiting)[1]
                    elif queue:
                        index = queue.popleft()
                    else:
                        break
                    url = self._take_url(index, queue, waiting)
                    in_flight[pool.submit(self._send, http, index, url)] = index
                # While every worker is busy, make sure the next chunks have URLs.
                self._prefetch(queue, waiting)
                if in_flight:
                    # A floor keeps short intervals from turning this into a busy loop.
                    timeout = max(0.05, min(opts.progress_interval, opts.report_interval))
                    if waiting and len(in_flight) < opts.concurrency:
                        # A free worker slot: wake up when the next retry is due.
                        timeout = max(0.0, min(timeout, waiting[0][0] - time.monotonic()))
                    done, _ = wait(in_flight, timeout=timeout, return_when=FIRST_COMPLETED)
                    for future in done:
                        self._settle(future, in_flight.pop(future), waiting)
                elif waiting:
                    time.sleep(max(0.0, waiting[0][0] - time.monotonic()))
                self._report(final=False)
                self.progress.maybe_log()
            self._report(final=True)
        finally:
            # Chunks already on the wire finish (a thread cannot be killed); queued ones are dropped.
            for future in in_flight:
                future.cancel()
            self._abort.set()
            pool.shutdown(wait=True, cancel_futures=True)
            http.close()
            self._abort.clear()

    def _send(self, http: httpx.Client, index: int, url: str) -> tuple[str, int]:
        """Read one chunk from the source and PUT it (runs in a worker thread)."""
        if self._abort.is_set():
            raise TwelveLabsUploadError("upload aborted")
        expected = self.checkpoint.chunk_length(index)
        offset = (index - 1) * self.checkpoint.chunk_size
        # The length is announced, so the pieces go out as one plain body (no chunked encoding).
        headers = {**self.checkpoint.upload_headers, "Content-Length": str(expected)}
        pieces = self.source.pieces(offset, expected)
        try:
            etag = self.api.put_chunk(url, pieces, headers=headers, client=http)
        except OSError as exc:
            raise _SourceError(
                f"Reading chunk {index} from {self.source.description} failed: {exc}"
            ) from None
        return etag, expected

    def _settle(self, future: Future[tuple[str, int]], index: int, waiting: list[tuple[float, int]]) -> None:
        try:
            etag, size = future.result()
        except _SourceError as exc:
            raise TwelveLabsUploadError(str(exc)) from None
        except TwelveLabsNotFoundError as exc:
            raise TwelveLabsUploadError(
                f"Chunk {index} of upload {self.checkpoint.upload_id} was refused: the session no longer "
                f"exists ({exc})"
            ) from None
        except TwelveLabsError as exc:
            attempts = self.attempts.get(index, 0) + 1
            self.attempts[index] = attempts
            if attempts >= self.opts.max_chunk_attempts:
                raise TwelveLabsUploadError(
                    f"Chunk {index} of {self.checkpoint.total_chunks} of {self.checkpoint.filename} "
                    f"(upload {self.checkpoint.upload_id}) failed {attempts} times; last error: {exc}"
                ) from None
            delay = min(self.opts.retry_max_delay, self.opts.retry_base_delay * 2 ** (attempts - 1))
            delay *= 0.5 + random.random() / 2  # noqa: S311 - jitter, not cryptography
            self.progress.retries += 1
            self.log.warning(
                "Chunk %d of upload %s failed (%s); retrying on a fresh URL in %.1f s (attempt %d of %d)",
                index,
                self.checkpoint.upload_id,
                exc,
                delay,
                attempts + 1,
                self.opts.max_chunk_attempts,
            )
            heapq.heappush(waiting, (time.monotonic() + delay, index))
            return
        self.completed.add(index)
        self.unreported.append(
            {"chunk_index": index, "proof": etag, "proof_type": "etag", "chunk_size": size}
        )
        progress = self.progress
        progress.sent_chunks += 1
        progress.sent_bytes += size
        if self.opts.progress_callback is not None:
            self.opts.progress_callback(
                UploadProgress(
                    upload_id=self.checkpoint.upload_id,
                    chunk_index=index,
                    chunks_done=progress.done_chunks,
                    total_chunks=self.checkpoint.total_chunks,
                    bytes_done=progress.done_bytes,
                    total_bytes=self.checkpoint.total_size,
                )
            )

    # -- presigned URLs ---------------------------------------------------------------------------

    def _take_url(self, index: int, queue: deque[int], waiting: list[tuple[float, int]]) -> str:
        """Return an unused, unexpired URL for ``index``; it is forgotten here, so it is never reused."""
        if not self._usable(index, time.time()):
            self._fetch_urls(index, queue, waiting)
        entry = self.urls.pop(index, None)
        if entry is None:
            raise TwelveLabsUploadError(
                f"The API gave no presigned URL for chunk {index} of upload {self.checkpoint.upload_id}"
            )
        return entry.url

    def _prefetch(self, queue: deque[int], waiting: list[tuple[float, int]]) -> None:
        now = time.time()
        for index in itertools.islice(queue, self.opts.concurrency):
            if not self._usable(index, now):
                self._fetch_urls(index, queue, waiting)
                return

    def _fetch_urls(self, start: int, queue: deque[int], waiting: list[tuple[float, int]]) -> None:
        """Fetch URLs for ``start`` and the following chunks still to send that lack one (≤ 50)."""
        now = time.time()
        needed = {start}
        needed.update(i for i in queue if start < i < start + MAX_BATCH and not self._usable(i, now))
        needed.update(i for _, i in waiting if start < i < start + MAX_BATCH)
        count = max(needed) - start + 1
        answer = self.api.get_presigned_urls(self.checkpoint.upload_id, start=start, count=count)
        self.add_urls(answer.upload_urls, wanted=needed)

    # -- reports ----------------------------------------------------------------------------------

    def _report(self, *, final: bool) -> None:
        """Report completed chunks: full batches of 50 at once, the rest after a while or at the end."""
        pending = self.unreported
        while len(pending) >= MAX_BATCH or (
            pending and (final or time.monotonic() - self.last_report >= self.opts.report_interval)
        ):
            batch = pending[:MAX_BATCH]
            result = self.api.report_multipart_chunks(self.checkpoint.upload_id, batch)
            del pending[: len(batch)]
            self.last_report = time.monotonic()
            if result.asset_id:
                self.asset_id = result.asset_id


class _SourceError(Exception):
    """Reading the source failed: not worth another attempt on a fresh URL."""
