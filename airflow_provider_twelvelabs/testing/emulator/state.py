"""In-memory state of the emulator: resources, lifecycles, ids and the (simulated) clock.

Everything a route reads or changes lives in one :class:`EmulatorState`, reachable from a handler as
``request.app.state.emulator``. Handlers run on the server's event loop, so plain dict access between
two ``await`` points is atomic; the lock guards against tests that inspect or change the state from
another thread.
"""

from __future__ import annotations

import hashlib
import mimetypes
import random
import re
import shutil
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal

from airflow_provider_twelvelabs.testing.emulator.config import EmulatorConfig
from airflow_provider_twelvelabs.testing.emulator.media import media_kind, mp4_duration
from airflow_provider_twelvelabs.testing.emulator.synth import media_duration

__all__ = [
    "ASSET_STEPS",
    "INDEXED_ASSET_STEPS",
    "TASK_STEPS",
    "Asset",
    "Chunk",
    "EmulatorState",
    "Index",
    "IndexedAsset",
    "Lifecycle",
    "Media",
    "Task",
    "UploadSession",
    "failure_marker",
    "isoformat",
]

#: Non-terminal statuses of an asset, in order; it then ends ``ready`` or ``failed``.
ASSET_STEPS = ("processing",)
#: Non-terminal statuses of an indexed asset.
INDEXED_ASSET_STEPS = ("pending", "queued", "indexing")
#: Non-terminal statuses of a legacy video indexing task.
TASK_STEPS = ("uploading", "validating", "pending", "queued", "indexing")

_FAILURE_PATTERNS = (
    ("index", re.compile(r"fail[-_ ]?index")),
    ("embed", re.compile(r"fail[-_ ]?embed")),
    ("analyze", re.compile(r"fail[-_ ]?analy[sz]e")),
    ("asset", re.compile(r"fail")),
)


def failure_marker(*texts: str | None) -> str | None:
    """Return which stage a filename or URL asks to fail, by the emulator's naming convention.

    ``fail_index`` (also ``fail-index``, ``failindex``) fails indexing, ``fail_embed`` fails embedding
    tasks, ``fail_analyze`` fails analysis, and any other ``fail`` fails the upload itself (the asset,
    or a legacy task at validation). Matching is case-insensitive.

    :param texts: filenames or URLs to inspect (``None`` entries are skipped).
    :return: ``"index"``, ``"embed"``, ``"analyze"``, ``"asset"`` or ``None``.
    """
    for text in texts:
        if not text:
            continue
        lowered = text.lower()
        for stage, pattern in _FAILURE_PATTERNS:
            if pattern.search(lowered):
                return stage
    return None


def isoformat(moment: datetime | None) -> str | None:
    """Format a UTC datetime as RFC 3339 with milliseconds and a ``Z`` suffix.

    :param moment: the datetime, or ``None``.
    """
    if moment is None:
        return None
    return (
        moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


class Lifecycle:
    """A resource status that advances deterministically on reads and/or with simulated time.

    The path is ``steps`` followed by ``success``; with ``fail`` it is ``steps[: fail_after + 1]``
    followed by ``failure``. The position on that path is the largest of the poll-driven position
    (one step per ``config.polls_per_step`` observations; the first observation still shows the first
    step, like a real API right after creation), the time-driven position (one step per
    ``config.step_seconds`` since ``started_at``) and any fast-forward from ``POST /_emulator/advance``.

    :param state: the emulator state (for the clock and the live configuration).
    :param steps: the non-terminal statuses, in order.
    :param success: the terminal success status.
    :param failure: the terminal failure status.
    :param fail: whether this resource ends in ``failure``.
    :param fail_after: index in ``steps`` of the last status shown before failing (default: last).
    """

    def __init__(
        self,
        state: EmulatorState,
        steps: Sequence[str],
        *,
        success: str = "ready",
        failure: str = "failed",
        fail: bool = False,
        fail_after: int | None = None,
    ) -> None:
        if not steps:
            raise ValueError("a lifecycle needs at least one non-terminal step")
        self._state = state
        last = len(steps) - 1 if fail_after is None else max(0, min(fail_after, len(steps) - 1))
        self.path: tuple[str, ...] = (*steps[: last + 1], failure) if fail else (*steps, success)
        self.fails = fail
        self.started_at = state.now()
        self.reads = 0
        self.bonus_steps = 0
        #: Per-resource schedule overriding ``config.step_seconds`` and ``config.polls_per_step``.
        self.step_seconds: float | None = None
        self.polls_per_step: int | None = None
        #: The name of a boolean ``EmulatorConfig`` switch that holds this lifecycle where it is while set.
        self.held_by: str | None = None
        self._position = 0
        #: When each status on the path was first reached.
        self.reached_at: dict[str, datetime] = {self.path[0]: self.started_at}

    def _compute(self) -> str:
        config = self._state.config
        polls = config.polls_per_step if self.polls_per_step is None else self.polls_per_step
        seconds = config.step_seconds if self.step_seconds is None else self.step_seconds
        position = self.bonus_steps
        held = self.held_by is not None and bool(getattr(config, self.held_by))
        if polls > 0 and self.reads > 0 and not held:
            position = max(position, (self.reads - 1) // polls)
        if seconds > 0 and not held:
            elapsed = (self._state.now() - self.started_at).total_seconds()
            position = max(position, int(elapsed // seconds + 1e-9))
        position = min(max(position, self._position), len(self.path) - 1)
        if position > self._position:
            now = self._state.now()
            for index in range(self._position + 1, position + 1):
                self.reached_at.setdefault(self.path[index], now)
            self._position = position
        return self.path[position]

    def observe(self) -> str:
        """Count one read of the resource and return its status (what a ``GET`` or a listing does)."""
        self.reads += 1
        return self._compute()

    def peek(self) -> str:
        """Return the current status without counting a read."""
        return self._compute()

    @property
    def terminal(self) -> bool:
        """Whether the lifecycle has reached its final status."""
        return self.peek() == self.path[-1]

    @property
    def updated_at(self) -> datetime:
        """When the status last changed."""
        self._compute()
        return self.reached_at[self.path[self._position]]

    def advance(self, steps: int = 1) -> str:
        """Fast-forward by ``steps`` statuses and return the new status.

        :param steps: how many statuses to move on.
        """
        self.bonus_steps = max(self.bonus_steps, self._position) + steps
        return self._compute()

    def complete(self) -> str:
        """Jump to the terminal status and return it."""
        return self.advance(len(self.path))

    def held_while(self, switch: str) -> Lifecycle:
        """Hold this lifecycle where it is while the configuration switch ``switch`` is set.

        Neither reads nor time move it meanwhile (``POST /_emulator/advance`` still does); once the
        switch is cleared it catches up with its schedule, counted from when it started.

        :param switch: the name of a boolean :class:`EmulatorConfig` field.
        :return: the lifecycle itself.
        """
        self.held_by = switch
        return self

    def lasting(self, seconds: float) -> Lifecycle:
        """Make this lifecycle reach its final status ``seconds`` after it started, with time only.

        Reads no longer move it; ``POST /_emulator/advance`` still does.

        :param seconds: the total duration; ``0`` or less leaves the shared schedule in place.
        :return: the lifecycle itself.
        """
        if seconds > 0:
            self.step_seconds = seconds / (len(self.path) - 1)
            self.polls_per_step = 0
        return self


@dataclass
class Asset:
    """An uploaded file (``/assets``), also the media behind indexed assets and legacy videos."""

    id: str
    method: str
    filename: str
    file_type: str
    asset_type: str
    created_at: datetime
    enable_hls: bool
    enable_thumbnail: bool
    user_metadata: dict[str, Any] | None = None
    url: str | None = None
    path: Path | None = None
    size: int | None = None
    duration: float | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    lifecycle: Lifecycle | None = None
    failure: str | None = None
    upload_id: str | None = None
    md5: str | None = None
    #: Why a failed asset failed, when the emulator can say (shown as ``error.message``).
    error: str | None = None

    def peek_status(self) -> str:
        """Return the status without counting a read (``processing`` while an upload is incomplete)."""
        return self.lifecycle.peek() if self.lifecycle else "processing"

    def observe_status(self) -> str:
        """Count one read and return the status."""
        return self.lifecycle.observe() if self.lifecycle else "processing"


@dataclass
class Index:
    """An index (``/indexes``)."""

    id: str
    name: str
    models: list[dict[str, Any]]
    addons: list[str]
    created_at: datetime
    updated_at: datetime


@dataclass
class IndexedAsset:
    """An asset indexed into an index; the same record is the legacy ``video`` (same id)."""

    id: str
    index_id: str
    asset_id: str
    created_at: datetime
    updated_at: datetime
    lifecycle: Lifecycle
    user_metadata: dict[str, Any] | None = None
    enable_video_stream: bool = False
    task_id: str | None = None

    def status(self, *, observe: bool = False) -> str:
        """Return the indexed-asset status (legacy task statuses are mapped onto its vocabulary).

        :param observe: count a read of the resource.
        """
        raw = self.lifecycle.observe() if observe else self.lifecycle.peek()
        return "pending" if raw == "uploading" else raw

    @property
    def indexed_at(self) -> datetime | None:
        """When indexing finished successfully, or ``None``."""
        return self.lifecycle.reached_at.get("ready")


@dataclass
class Task:
    """A legacy video indexing task (``/tasks``)."""

    id: str
    index_id: str
    video_id: str
    asset_id: str
    created_at: datetime
    lifecycle: Lifecycle
    enable_video_stream: bool = True


@dataclass
class Chunk:
    """One uploaded multipart chunk."""

    index: int
    size: int
    md5: str
    uploaded_at: datetime
    reported_at: datetime | None = None


@dataclass
class UploadSession:
    """A multipart upload session."""

    upload_id: str
    asset_id: str
    filename: str
    total_size: int
    chunk_size: int
    total_chunks: int
    created_at: datetime
    expires_at: datetime
    path: Path
    status: Literal["active", "completed", "failed"] = "active"
    updated_at: datetime | None = None
    chunks: dict[int, Chunk] = field(default_factory=dict)
    failed_chunks: dict[int, str] = field(default_factory=dict)
    used_signatures: set[str] = field(default_factory=set)
    early_expired: set[str] = field(default_factory=set)
    url_serial: int = 0

    def expected_size(self, chunk_index: int) -> int:
        """Return the byte size chunk ``chunk_index`` (1-based) must have.

        :param chunk_index: the 1-based chunk number.
        """
        if chunk_index < self.total_chunks:
            return self.chunk_size
        return self.total_size - self.chunk_size * (self.total_chunks - 1)


@dataclass
class Media:
    """What part B's compute endpoints need to know about an asset, indexed asset or video.

    :param id: the id that was looked up.
    :param kind: ``asset``, ``indexed_asset`` (also legacy videos: same record) .
    :param asset_id: the underlying asset id.
    :param index_id: the index, for indexed assets.
    :param filename: the original filename.
    :param asset_type: ``video``, ``audio``, ``image`` or ``document``.
    :param duration: media duration in seconds (``None`` for images and documents).
    :param status: current status, without counting a read.
    :param ready: whether the media can be used (asset ``ready`` / indexed asset ``ready``).
    :param failure: the failure marker of the filename or URL (see :func:`failure_marker`).
    """

    id: str
    kind: str
    asset_id: str
    index_id: str | None
    filename: str
    asset_type: str
    duration: float | None
    status: str
    ready: bool
    failure: str | None


def _lifecycle_of(record: Any) -> Lifecycle | None:
    candidate = record.get("lifecycle") if isinstance(record, dict) else record
    candidate = getattr(candidate, "lifecycle", candidate)
    return candidate if isinstance(candidate, Lifecycle) else None


class EmulatorState:
    """Every resource of the emulator, its id generator, its clock and its random sources.

    :param config: the configuration; a default one when ``None``.
    """

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.config = config or EmulatorConfig()
        self.lock = threading.RLock()
        self._tempdir: tempfile.TemporaryDirectory[str] | None = None
        if self.config.data_dir:
            self.data_dir = Path(self.config.data_dir)
            self.data_dir.mkdir(parents=True, exist_ok=True)
        else:
            self._tempdir = tempfile.TemporaryDirectory(prefix="twelvelabs-emulator-")
            self.data_dir = Path(self._tempdir.name)
        self._clock_offset = timedelta()
        self._init_resources()

    def _init_resources(self) -> None:
        self._id_counter = 0
        self.fault_rng = random.Random(f"faults:{self.config.seed}")  # noqa: S311 - simulation only
        self.assets: dict[str, Asset] = {}
        #: Assets deleted with ``force=true`` while still indexed: gone from /assets, kept for their media.
        self.retired_assets: dict[str, Asset] = {}
        self.indexes: dict[str, Index] = {}
        self.indexed_assets: dict[str, IndexedAsset] = {}
        self.tasks: dict[str, Task] = {}
        self.uploads: dict[str, UploadSession] = {}
        self.request_log: list[dict[str, Any]] = []
        #: Fixed-window rate-limit counters: bucket → (window start epoch, count).
        self.rate_windows: dict[str, tuple[int, int]] = {}
        self._collections: dict[str, dict[str, Any]] = {}

    # -- clock, ids, randomness -------------------------------------------------------------------

    def now(self) -> datetime:
        """Return the simulated current time (wall clock plus any ``advance``)."""
        return datetime.now(timezone.utc) + self._clock_offset

    def timestamp(self) -> str:
        """Return the simulated current time as an RFC 3339 ``Z`` string."""
        return isoformat(self.now()) or ""

    def advance_clock(self, seconds: float) -> None:
        """Move the simulated clock forward (affects time-driven lifecycles, expiries, rate windows).

        :param seconds: how far to move.
        """
        with self.lock:
            self._clock_offset += timedelta(seconds=seconds)

    def new_id(self) -> str:
        """Return a new 24-hex id, deterministic for a given seed and creation order."""
        with self.lock:
            self._id_counter += 1
            counter = self._id_counter
        return hashlib.sha256(f"{self.config.seed}:id:{counter}".encode()).hexdigest()[:24]

    def rng(self, *parts: object) -> random.Random:
        """Return a random generator seeded by the config seed and ``parts``.

        The same inputs always give the same sequence, so synthetic results are reproducible.

        :param parts: anything identifying the input (ids, prompts, options).
        """
        digest = hashlib.sha256(repr((self.config.seed, *parts)).encode()).digest()
        return random.Random(int.from_bytes(digest[:8], "big"))  # noqa: S311 - simulation only

    def new_lifecycle(
        self,
        steps: Sequence[str],
        *,
        success: str = "ready",
        failure: str = "failed",
        fail: bool = False,
        fail_after: int | None = None,
    ) -> Lifecycle:
        """Create a lifecycle driven by this state's clock and configuration.

        Part B's embed tasks use this too, for example ``new_lifecycle(["processing"], fail=...)``.

        :param steps: the non-terminal statuses, in order.
        :param success: the terminal success status.
        :param failure: the terminal failure status.
        :param fail: whether it ends in ``failure``.
        :param fail_after: index in ``steps`` of the last status shown before failing.
        """
        return Lifecycle(self, steps, success=success, failure=failure, fail=fail, fail_after=fail_after)

    def collection(self, name: str) -> dict[str, Any]:
        """Return a named dict for resources of other route modules (cleared by a reset).

        :param name: the collection name, for example ``embed_v2_tasks``.
        """
        with self.lock:
            return self._collections.setdefault(name, {})

    def all_lifecycles(self) -> list[Lifecycle]:
        """Return every lifecycle held by the state, including lifecycles stored in collections.

        Records in collections are found when they are a :class:`Lifecycle`, have a ``lifecycle``
        attribute, or are dicts with a ``"lifecycle"`` key.
        """
        found: dict[int, Lifecycle] = {}
        records: list[Any] = [*self.assets.values(), *self.indexed_assets.values(), *self.tasks.values()]
        for collection in self._collections.values():
            records.extend(collection.values())
        for record in records:
            lifecycle = _lifecycle_of(record)
            if lifecycle is not None:
                found.setdefault(id(lifecycle), lifecycle)
        return list(found.values())

    def find_lifecycle(self, resource_id: str) -> Lifecycle | None:
        """Return the lifecycle of the resource ``resource_id`` of any kind, or ``None``.

        :param resource_id: an asset, indexed asset, task or collection record id.
        """
        stores: tuple[dict[str, Any], ...] = (self.assets, self.indexed_assets, self.tasks)
        for records in (*stores, *self._collections.values()):
            if resource_id in records:
                return _lifecycle_of(records[resource_id])
        return None

    def has_resource(self, resource_id: str) -> bool:
        """Return whether any resource (of any kind) has the id ``resource_id``.

        :param resource_id: the id.
        """
        stores: tuple[dict[str, Any], ...] = (
            self.assets,
            self.indexed_assets,
            self.tasks,
            self.uploads,
            self.indexes,
        )
        return any(resource_id in store for store in (*stores, *self._collections.values()))

    def reset(self) -> None:
        """Forget every resource and uploaded byte; keep the configuration and the clock."""
        with self.lock:
            for child in self.data_dir.iterdir():
                if child.is_dir():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    child.unlink(missing_ok=True)
            self._init_resources()

    def close(self) -> None:
        """Delete the temporary data directory, if the state created one."""
        if self._tempdir is not None:
            self._tempdir.cleanup()
            self._tempdir = None

    # -- media -------------------------------------------------------------------------------------

    def media_path(self, asset_id: str) -> Path:
        """Return where the bytes of ``asset_id`` are (or will be) stored.

        :param asset_id: the asset id.
        """
        return self.data_dir / "assets" / asset_id

    def synthetic_media(self, asset: Asset) -> None:
        """Fill in duration and geometry of ``asset`` deterministically from its size, URL and seed.

        An uploaded MP4/MOV gets its real duration (read from its ``mvhd`` box); other uploaded bytes
        count as roughly 2 Mbit/s of media plus 10 s, so tiny test files still have a usable timeline;
        URL media follow :func:`synth.media_duration` (30-180 s, or ``?duration=``).

        :param asset: the asset to complete.
        """
        rng = self.rng("media", asset.url or asset.filename, asset.size)
        if asset.asset_type in ("video", "audio"):
            real = mp4_duration(asset.path) if asset.path is not None else None
            if real:
                asset.duration = real
            elif asset.url is not None:
                # Same rule as the compute endpoints: a URL may state ``?duration=<seconds>``.
                asset.duration = media_duration(asset.url, kind=asset.asset_type)
            else:
                asset.duration = round(10.0 + (asset.size or 0) / 250_000, 3)
        if asset.asset_type in ("video", "image"):
            asset.width, asset.height = rng.choice([(1280, 720), (1920, 1080), (3840, 2160), (640, 360)])
        if asset.asset_type == "video":
            asset.fps = rng.choice([24.0, 25.0, 29.97, 30.0, 60.0])

    def new_asset(
        self,
        *,
        method: str,
        filename: str,
        enable_hls: bool,
        enable_thumbnail: bool,
        user_metadata: dict[str, Any] | None = None,
        url: str | None = None,
        asset_type: str | None = None,
        start_lifecycle: bool = True,
    ) -> Asset:
        """Create and store an asset in ``processing``.

        :param method: ``direct``, ``url`` or ``multipart``.
        :param filename: the filename.
        :param enable_hls: whether an HLS rendition is produced.
        :param enable_thumbnail: whether a thumbnail is produced.
        :param user_metadata: metadata given at creation.
        :param url: the source URL for ``method=url``.
        :param asset_type: ``video``, ``audio``, ``image`` or ``document``; guessed from the name if
            ``None``.
        :param start_lifecycle: ``False`` for multipart assets, which stay ``processing`` until the
            upload completes.
        """
        file_type = mimetypes.guess_type(filename)[0] or "video/mp4"
        if asset_type is None:
            major = file_type.split("/", 1)[0]
            asset_type = major if major in ("video", "audio", "image") else "document"
        failure = failure_marker(filename, url)
        asset = Asset(
            id=self.new_id(),
            method=method,
            filename=filename,
            file_type=file_type,
            asset_type=asset_type,
            created_at=self.now(),
            enable_hls=enable_hls and asset_type in ("video", "audio"),
            enable_thumbnail=enable_thumbnail,
            user_metadata=user_metadata or None,
            url=url,
            failure=failure,
        )
        if start_lifecycle:
            self.start_asset_processing(asset)
        with self.lock:
            self.assets[asset.id] = asset
        return asset

    def start_asset_processing(self, asset: Asset) -> None:
        """Start the ``processing`` → ``ready``/``failed`` lifecycle of ``asset`` (bytes are all in).

        :param asset: the asset.
        """
        self.synthetic_media(asset)
        if asset.asset_type == "video" and asset.path is not None and asset.failure is None:
            kind = media_kind(asset.path)
            if kind == "not_media" or (self.config.strict_media and kind != "video"):
                # What the platform's probe does with a file no video decoder can open.
                asset.failure = "asset"
                asset.error = (
                    f"video_file_broken: {asset.filename} is not a video container the platform can read "
                    "(supported: the formats FFmpeg reads, such as MP4, MOV, WebM, MKV, AVI); "
                    "the file may be truncated or not a video."
                )
                asset.duration = None
        asset.lifecycle = self.new_lifecycle(ASSET_STEPS, fail=asset.failure == "asset")

    def get_asset(self, asset_id: str) -> Asset | None:
        """Return the asset ``asset_id``, or ``None``.

        :param asset_id: the asset id.
        """
        return self.assets.get(asset_id)

    def media_asset(self, asset_id: str) -> Asset | None:
        """Return the asset behind an indexed asset, even if it was force-deleted from ``/assets``.

        :param asset_id: the asset id.
        """
        return self.assets.get(asset_id) or self.retired_assets.get(asset_id)

    def get_indexed_asset(self, indexed_asset_id: str, index_id: str | None = None) -> IndexedAsset | None:
        """Return an indexed asset (equivalently, a legacy video), optionally checking its index.

        :param indexed_asset_id: the indexed asset id or legacy video id.
        :param index_id: when given, the record must belong to this index.
        """
        record = self.indexed_assets.get(indexed_asset_id)
        if record is None or (index_id is not None and record.index_id != index_id):
            return None
        return record

    def list_indexed(self, index_id: str, *, ready_only: bool = True) -> list[IndexedAsset]:
        """Return the indexed assets (videos) of an index, newest first, without counting reads.

        :param index_id: the index id.
        :param ready_only: only those whose indexing finished successfully (what search sees).
        """
        records = [r for r in self.indexed_assets.values() if r.index_id == index_id]
        if ready_only:
            records = [r for r in records if r.status() == "ready"]
        return sorted(records, key=lambda r: r.created_at, reverse=True)

    def resolve_media(self, media_id: str) -> Media | None:
        """Describe the asset, indexed asset or legacy video ``media_id`` for compute endpoints.

        :param media_id: an asset id, indexed asset id or video id.
        """
        record = self.indexed_assets.get(media_id)
        if record is not None:
            asset = self.media_asset(record.asset_id)
            if asset is None:
                return None
            status = record.status()
            return Media(
                id=media_id,
                kind="indexed_asset",
                asset_id=asset.id,
                index_id=record.index_id,
                filename=asset.filename,
                asset_type=asset.asset_type,
                duration=asset.duration,
                status=status,
                ready=status == "ready",
                failure=asset.failure,
            )
        asset = self.assets.get(media_id)
        if asset is None:
            return None
        status = asset.peek_status()
        return Media(
            id=media_id,
            kind="asset",
            asset_id=asset.id,
            index_id=None,
            filename=asset.filename,
            asset_type=asset.asset_type,
            duration=asset.duration,
            status=status,
            ready=status == "ready",
            failure=asset.failure,
        )

    def index_stats(self, index_id: str) -> tuple[int, float]:
        """Return ``(video_count, total_duration)`` of an index: only successfully indexed media count.

        :param index_id: the index id.
        """
        count, total = 0, 0.0
        for record in self.list_indexed(index_id, ready_only=True):
            asset = self.media_asset(record.asset_id)
            count += 1
            total += (asset.duration or 0.0) if asset else 0.0
        return count, round(total, 3)
