"""Configuration of the local TwelveLabs API emulator."""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Any

__all__ = ["DEFAULT_API_KEY", "MALFORMED_KINDS", "EmulatorConfig"]

#: API key the emulator accepts when none is configured.
DEFAULT_API_KEY = "tlk_emulator_test_key"

_MIB = 1024 * 1024

#: The ways ``malformed_rate`` can spoil an answer (see :class:`EmulatorConfig`).
MALFORMED_KINDS = (
    "truncated_json",
    "html_502",
    "empty_200",
    "wrong_content_type",
    "html_200",
    "stalled_body",
)


@dataclass
class EmulatorConfig:
    """Every switch of the emulator; all fields can also be changed at runtime via ``POST /_emulator/config``.

    :param api_key: the only value of ``x-api-key`` accepted on ``/v1.3`` routes.
    :param seed: seed of every random choice (ids, faults, synthetic results), so runs are reproducible.
    :param data_dir: directory holding uploaded bytes; a temporary directory when ``None``.
    :param public_url: root URL (no trailing slash) used to build presigned and media URLs; derived from
        the request's ``Host`` when ``None``.
    :param polls_per_step: a resource moves one lifecycle step after this many reads (``GET`` or listing);
        ``0`` disables poll-driven progress.
    :param step_seconds: a resource also moves one lifecycle step every ``step_seconds`` of (simulated)
        time; ``0`` disables time-driven progress.
    :param presigned_url_ttl_seconds: lifetime of a presigned chunk URL (1 h on the real API).
    :param upload_session_ttl_seconds: lifetime of a multipart upload session (24 h on the real API).
    :param initial_presigned_urls: how many presigned URLs the multipart create response carries (K);
        the rest must be fetched with ``presigned-urls``.
    :param chunk_size: multipart chunk size in bytes.
    :param max_chunks: the chunk size is doubled until a session needs at most this many chunks.
    :param reject_reused_presigned_urls: reject a second PUT to the same presigned URL, as the docs say;
        off by default because the official SDK retries a failed chunk on the same URL.
    :param fault_rate: probability that a ``/v1.3`` request is answered with one of ``fault_statuses``
        before it is processed.
    :param fault_statuses: status codes a fault answer is chosen from.
    :param drop_rate: probability that a ``/v1.3`` request's connection is closed without any response.
    :param lose_answer_rate: probability that a ``/v1.3`` request of ``lose_answer_methods`` and
        ``lose_answer_paths`` is processed in full (a create does create) and its connection is then
        closed without the answer: the worst case of a create, whose outcome the client cannot know.
    :param lose_answer_methods: HTTP methods ``lose_answer_rate`` applies to (all when empty).
    :param lose_answer_paths: path prefixes after ``/v1.3`` that ``lose_answer_rate`` applies to (all
        when empty).
    :param lose_answers: targeted lost answers: ``"METHOD /path"`` (after ``/v1.3``; ``*`` stands for
        one path segment, e.g. ``"POST /indexes/*/indexed-assets"``) to how many of its next answers
        are lost; each lost answer counts one down, and the entry goes at zero.
    :param slow_rate: probability that a ``/v1.3`` request is delayed by ``slow_response_ms``.
    :param slow_response_ms: delay of a slow response, in milliseconds.
    :param chunk_failure_rate: probability that a chunk PUT fails with 500 after its body was read.
    :param early_expiry_rate: probability that a newly issued presigned URL is already expired although
        its ``expires_at`` says otherwise.
    :param chunk_latency_ms: latency added to every chunk PUT before its body is read.
    :param chunk_bandwidth_mbps: per-connection bandwidth cap of chunk PUTs in megabytes (10^6 bytes) per
        second; ``0`` means unlimited.
    :param rate_limit_rpm: requests per minute allowed per endpoint bucket; ``None`` disables limiting
        (the ``X-Ratelimit-*`` headers are still sent, with a large nominal limit).
    :param rate_limits: per-bucket overrides of ``rate_limit_rpm`` (buckets: ``search``, ``analyze``,
        ``embed``, ``indexing``, ``other``).
    :param gist_gone: answer ``POST /gist`` as the endpoint TwelveLabs retired on 2026-02-15 (410
        ``endpoint_sunset``; the default, as the real API); ``False`` serves it, for old-API tests.
    :param summarize_gone: the same for ``POST /summarize``.
    :param max_request_log: number of entries kept in the request log.
    :param analyze_task_fail: new analyze tasks (``/analyze/tasks``, batch items too) end ``failed``.
    :param analyze_task_never_finish: new analyze tasks stay ``processing`` for ever (cancel still works).
    :param analyze_task_warning: new analyze tasks end ``ready`` with a warning: ``finish_reason`` ``length``
        and a truncation ``error`` in ``general`` mode, an incomplete-segments ``error`` in
        ``time_based_metadata`` mode.
    :param analyze_batch_item_failure_rate: fraction of the items of a new batch that fail (chosen by the
        seed, so the same items fail on every run).
    :param analyze_max_active_batches: how many batches may be active (pending, processing, canceling) at
        once; one more is refused with 429 (5 on the real API).
    :param analyze_task_seconds: how many (simulated) seconds a new analyze task takes from ``queued`` to
        its end; its statuses then move with time only, not with reads. ``0`` keeps the shared schedule
        (``polls_per_step`` and ``step_seconds``).
    :param hold_indexing: indexed assets and legacy indexing tasks stay where they are while set (a
        backlog on the TwelveLabs side: neither reads nor time move them); once cleared they catch up
        with the shared schedule, counted from their creation.
    :param strict_media: refuse uploaded video files whose bytes are not a recognised video container
        (placeholder bytes included); off by default, when only files that are certainly not playable
        (a broken or truncated MP4/MOV, a PDF, an image, a ZIP, JSON or HTML) are refused.
    """

    api_key: str = DEFAULT_API_KEY
    seed: int = 0
    data_dir: str | None = None
    public_url: str | None = None
    polls_per_step: int = 1
    step_seconds: float = 0.0
    presigned_url_ttl_seconds: float = 3600.0
    upload_session_ttl_seconds: float = 24 * 3600.0
    initial_presigned_urls: int = 10
    chunk_size: int = 5 * _MIB
    max_chunks: int = 10_000
    reject_reused_presigned_urls: bool = False
    fault_rate: float = 0.0
    fault_statuses: tuple[int, ...] = (429, 500, 502, 503)
    drop_rate: float = 0.0
    lose_answer_rate: float = 0.0
    lose_answer_methods: tuple[str, ...] = ()
    lose_answer_paths: tuple[str, ...] = ()
    lose_answers: dict[str, int] = field(default_factory=dict)
    slow_rate: float = 0.0
    slow_response_ms: float = 2000.0
    chunk_failure_rate: float = 0.0
    early_expiry_rate: float = 0.0
    chunk_latency_ms: float = 0.0
    chunk_bandwidth_mbps: float = 0.0
    rate_limit_rpm: int | None = None
    rate_limits: dict[str, int] = field(default_factory=dict)
    gist_gone: bool = True
    summarize_gone: bool = True
    max_request_log: int = 100_000
    analyze_task_fail: bool = False
    analyze_task_never_finish: bool = False
    analyze_task_warning: bool = False
    analyze_batch_item_failure_rate: float = 0.0
    analyze_max_active_batches: int = 5
    analyze_task_seconds: float = 0.0
    strict_media: bool = False
    hold_indexing: bool = False
    # -- malformed answers and jobs that never finish (issue 13, items 2 and 5)
    malformed_rate: float = 0.0
    malformed_kinds: tuple[str, ...] = MALFORMED_KINDS
    malformed_methods: tuple[str, ...] = ()
    malformed_paths: tuple[str, ...] = ()
    malformed_stall_seconds: float = 3600.0
    indexing_never_finish: bool = False
    embedding_task_never_finish: bool = False

    def __post_init__(self) -> None:
        _check_malformed_kinds(self.malformed_kinds)
        self.lose_answers = _check_lose_answers(self.lose_answers)

    def update(self, changes: dict[str, Any]) -> list[str]:
        """Apply ``changes`` (field name → value) in place, coercing JSON values to the field types.

        :param changes: the fields to change.
        :return: the names of the fields that were changed.
        :raises ValueError: on an unknown field or a value of the wrong type.
        """
        hints = typing.get_type_hints(type(self))
        changed = []
        for name, value in changes.items():
            if name not in hints or name not in {f.name for f in dataclasses.fields(self)}:
                raise ValueError(f"unknown emulator config field: {name}")
            coerced = _coerce(name, hints[name], value)
            if name == "malformed_kinds":
                _check_malformed_kinds(coerced)
            if name == "lose_answers":
                coerced = _check_lose_answers(coerced)
            setattr(self, name, coerced)
            changed.append(name)
        return changed

    def as_dict(self) -> dict[str, Any]:
        """Return the configuration as a JSON-friendly dict, without the API key."""
        data = dataclasses.asdict(self)
        data.pop("api_key")
        for name, value in data.items():
            if isinstance(value, tuple):
                data[name] = list(value)
        return data

    def rate_limit_for(self, bucket: str) -> int | None:
        """Return the requests-per-minute budget of ``bucket``, or ``None`` when it is not limited.

        :param bucket: a rate-limit bucket name.
        """
        return self.rate_limits.get(bucket, self.rate_limit_rpm)


def _check_malformed_kinds(kinds: tuple[str, ...]) -> None:
    unknown = sorted(set(kinds) - set(MALFORMED_KINDS))
    if unknown:
        raise ValueError(f"unknown malformed_kinds {unknown}: choose from {list(MALFORMED_KINDS)}")


def _check_lose_answers(patterns: dict[str, int]) -> dict[str, int]:
    """Normalise ``lose_answers``: ``"METHOD /path"`` keys (method upper-cased), positive counts."""
    checked: dict[str, int] = {}
    for key, count in patterns.items():
        method, _, path = str(key).strip().partition(" ")
        path = path.strip()
        if not method or not path.startswith("/"):
            raise ValueError(f"lose_answers keys are 'METHOD /path' (after /v1.3), got {key!r}")
        if count > 0:
            checked[f"{method.upper()} {path}"] = int(count)
    return checked


def _coerce(name: str, hint: Any, value: Any) -> Any:
    """Coerce a JSON value to a config field's declared type, or raise ``ValueError``."""
    args = typing.get_args(hint)
    if value is None:
        if type(None) in args:
            return None
        raise ValueError(f"{name} cannot be null")
    if type(None) in args:
        hint = next(a for a in args if a is not type(None))
    origin = typing.get_origin(hint) or hint
    if origin is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be a boolean")
        return value
    if isinstance(value, bool) and origin in (int, float):
        raise ValueError(f"{name} must be a number")
    try:
        if origin is tuple:
            item = typing.get_args(hint)[0]
            if isinstance(value, str):
                value = [value]
            return tuple(item(v) for v in value)
        if origin is dict:
            if not isinstance(value, dict):
                raise ValueError(f"{name} must be an object")
            return {str(k): int(v) for k, v in value.items()}
        return origin(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"invalid value for {name}: {value!r}") from exc
