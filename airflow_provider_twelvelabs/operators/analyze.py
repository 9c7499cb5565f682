"""Operators for Pegasus text generation: summaries, chapters, highlights, gists and open-ended analysis.

TwelveLabs retired ``/summarize`` and ``/gist`` on 2026-02-15. :class:`TwelveLabsSummarizeOperator`
and :class:`TwelveLabsGistOperator` ask ``POST /analyze`` for the same content with a JSON-schema
``response_format`` and return the shape the legacy endpoints gave; only with
``use_legacy_endpoint=True`` do they call the legacy endpoint (falling back to ``/analyze`` when it
answers that it is gone).

``/analyze`` (SDK 1.3.6) names the video as ``video: {type: url | asset_id | base64_string}`` and
takes no ``video_id``. An indexed video id given as ``video_id`` is mapped to the asset it indexes:
with ``index_id``, by ``GET /indexes/{index_id}/indexed-assets/{video_id}``; without it, by looking
for the indexed asset in each index of the account (then, as a last resort, by reading the id as an
asset id). A ``video_id`` found nowhere fails with an error that says so.

``/analyze`` takes up to an hour of video. For a longer one (up to 2 hours) the summary and gist
operators create an asynchronous analyze task instead (``method="auto"``, the default), on the
provider's job model: the task id is kept for a retry to reconnect to, the wait defers with
``deferrable=True``, and ``on_kill`` or a wait timeout cancel the task. Chapters and highlights of
such a video use video segmentation (``analysis_mode: time_based_metadata``), whose segments carry
the model's own time ranges; ``method="segmentation"`` asks for it on a video of any length.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_twelvelabs import xcom_keys
from airflow_provider_twelvelabs.exceptions import (
    TwelveLabsEndpointGoneError,
    TwelveLabsError,
    TwelveLabsNotFoundError,
)
from airflow_provider_twelvelabs.operators.base import TwelveLabsBaseOperator, TwelveLabsJobOperator
from airflow_provider_twelvelabs.reporting import log_text_result, result_location
from airflow_provider_twelvelabs.requests.analyze import (
    GIST_TYPES,
    MAX_PROMPT_CHARS,
    MAX_TASK_VIDEO_SECONDS,
    MAX_VIDEO_SECONDS,
    SUMMARIZE_TYPES,
    AnalyzeOptions,
    AnalyzeRequest,
    GistOptions,
    GistRequest,
    SummarizeOptions,
    SummarizeRequest,
    as_standard_schema,
    video_body,
)

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_twelvelabs.hooks.twelvelabs import TwelveLabsHook
    from airflow_provider_twelvelabs.models import GistResult, SummarizeResult

__all__ = [
    "GIST_TYPES",
    "MAX_PROMPT_CHARS",
    "SUMMARIZE_TYPES",
    "TwelveLabsAnalyzeOperator",
    "TwelveLabsGistOperator",
    "TwelveLabsSummarizeOperator",
    "gist_fallback_request",
    "resolve_video",
    "summarize_fallback_request",
    "tidy_segments",
]

_GIST_KEYS = {"title": "title", "topic": "topics", "hashtag": "hashtags"}


# --------------------------------------------------------------------------- running /analyze


@dataclass
class _Generation:
    """The text of one generation, streamed or not, with how it ended."""

    id: str | None
    text: str
    finish_reason: str | None
    usage: dict[str, Any] = field(default_factory=dict)
    warning: str | None = None


class _ProgressLog:
    """Log streamed text as it arrives, by whole lines or about every ``every`` characters.

    Fragments are not aligned to words, so logging each one would shred the text; this buffers
    them and logs complete lines, or the buffer up to its last sentence end (or space) once it is
    long enough.
    """

    def __init__(self, log: logging.Logger | Any, every: int = 300) -> None:
        self.log = log
        self.every = max(1, every)
        self.buffer = ""
        self.chars = 0

    def feed(self, text: str) -> None:
        self.buffer += text
        self.chars += len(text)
        while "\n" in self.buffer:
            line, self.buffer = self.buffer.split("\n", 1)
            self._emit(line)
        if len(self.buffer) >= self.every:
            cut = max(self.buffer.rfind(mark) for mark in (". ", "! ", "? ", "; "))
            cut = cut + 1 if cut > 0 else self.buffer.rfind(" ")
            if cut <= 0:
                cut = len(self.buffer)
            self._emit(self.buffer[:cut])
            self.buffer = self.buffer[cut:].lstrip(" ")

    def flush(self) -> None:
        self._emit(self.buffer)
        self.buffer = ""

    def _emit(self, text: str) -> None:
        if text.strip():
            self.log.info("Pegasus> %s", text.rstrip())


def _run_analysis(
    hook: TwelveLabsHook, body: Mapping[str, Any], *, stream: bool, log: Any, log_every: int = 300
) -> _Generation:
    """Run ``POST /analyze``, streamed or not, and return the whole generation."""
    if not stream:
        result = hook.analyze(body)
        return _Generation(
            id=result.id,
            text=result.data or "",
            finish_reason=result.finish_reason,
            usage=dict(result.usage or {}),
            warning=result.error.message if result.error else None,
        )
    progress = _ProgressLog(log, log_every)
    parts: list[str] = []
    generation = _Generation(id=None, text="", finish_reason=None)
    ended = False
    for event in hook.analyze_stream(body):
        kind = event.get("event_type")
        raw_metadata = event.get("metadata")
        metadata: Mapping[str, Any] = raw_metadata if isinstance(raw_metadata, Mapping) else {}
        if kind == "stream_start":
            generation.id = metadata.get("generation_id")
            log.info("Pegasus generation %s started", generation.id)
        elif kind == "text_generation":
            text = event.get("text")
            if isinstance(text, str):
                parts.append(text)
                progress.feed(text)
        elif kind == "stream_end":
            ended = True
            generation.finish_reason = event.get("finish_reason")
            generation.id = generation.id or metadata.get("generation_id")
            usage = metadata.get("usage")
            generation.usage = dict(usage) if isinstance(usage, Mapping) else {}
            error = event.get("error")
            if isinstance(error, Mapping) and error.get("message"):
                generation.warning = str(error["message"])
    progress.flush()
    generation.text = "".join(parts)
    if not ended:
        # Without stream_end we cannot tell a finished text from a cut connection.
        raise TwelveLabsError(
            f"The analyze stream {generation.id or ''} ended without a stream_end event after "
            f"{len(generation.text):,} characters; the text may be incomplete."
        )
    return generation


def _structured(generation: _Generation, schema: Mapping[str, Any], log: Any, *, what: str) -> Any:
    """Parse a JSON-schema generation, refusing a truncated or non-JSON answer."""
    if generation.finish_reason == "length":
        raise TwelveLabsError(
            f"The {what} hit max_tokens (finish_reason=length) so its JSON output is incomplete "
            f"({len(generation.text):,} characters); raise max_tokens or ask for less."
        )
    try:
        value = json.loads(generation.text)
    except ValueError as exc:
        raise TwelveLabsError(
            f"The {what} was asked for JSON (response_format) but its output is not valid JSON: {exc}"
        ) from None
    _warn_if_not_matching(value, schema, log, what)
    return value


def _warn_if_not_matching(value: Any, schema: Mapping[str, Any], log: Any, what: str) -> None:
    try:
        from jsonschema import Draft202012Validator
    except ImportError:
        return
    errors = sorted(Draft202012Validator(as_standard_schema(schema)).iter_errors(value), key=str)
    if errors:
        where = "/".join(str(p) for p in errors[0].absolute_path) or "<root>"
        log.warning(
            "The %s's JSON does not match response_format.json_schema at %s: %s",
            what,
            where,
            errors[0].message,
        )


def _is_gone(exc: Exception) -> bool:
    """Whether an error says the endpoint itself no longer exists.

    A 404 that names a missing resource (``resource_not_exist``, ``not_found``) is about the video
    and must surface; only a bare not-found without any API error code (what a router answers for a
    removed path) is read as the endpoint being gone.
    """
    if isinstance(exc, TwelveLabsEndpointGoneError):
        return True
    return isinstance(exc, TwelveLabsNotFoundError) and not exc.code


# --------------------------------------------------------------------------- video sources


@dataclass
class ResolvedVideo:
    """A video source as ``/analyze`` takes it, with what is known about the video.

    :param body: the request's ``video`` part, ``{"video": {"type": ..., ...}}``.
    :param duration: the video's length in seconds, when known.
    :param described: the source for logs (a URL without its query string).
    """

    body: dict[str, Any]
    duration: float | None
    described: str


def _duration_of(metadata: Any) -> float | None:
    value = metadata.get("duration") if isinstance(metadata, Mapping) else None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return float(value)
    return None


def _indexed_asset_in(hook: TwelveLabsHook, index_id: str, video_id: str) -> Any:
    try:
        return hook.get_indexed_asset(index_id, video_id)
    except TwelveLabsNotFoundError:
        return None


def resolve_video(
    hook: TwelveLabsHook,
    *,
    video_id: str | None = None,
    asset_id: str | None = None,
    video_url: str | None = None,
    index_id: str | None = None,
    need_duration: bool = False,
    log: Any = None,
) -> ResolvedVideo:
    """Map the operator's video source to what ``/analyze`` takes.

    An asset id and a URL are sent as they are. An indexed video id (``video_id``) is mapped to the
    asset it indexes, read from ``GET /indexes/{index_id}/indexed-assets/{video_id}`` (the index
    given, or else each index of the account in turn); an id that is no indexed video but an asset
    is used as that asset. The indexed asset also gives the duration (``system_metadata.duration``).

    :param hook: the hook to look the video up with.
    :param video_id: an indexed video (indexed asset) id.
    :param asset_id: an asset id.
    :param video_url: a video URL.
    :param index_id: the index holding ``video_id``, saving the search through every index.
    :param need_duration: also look up an asset's duration (one ``GET /assets/{id}``).
    :param log: a logger for what the lookup found.
    :raises TwelveLabsError: when ``video_id`` is neither an indexed video nor an asset.
    """
    from airflow_provider_twelvelabs.hooks.twelvelabs import redact_url

    if video_url:
        return ResolvedVideo({"video": {"type": "url", "url": video_url}}, None, redact_url(video_url))
    if asset_id:
        duration = _duration_of({"duration": hook.get_asset(asset_id).duration}) if need_duration else None
        return ResolvedVideo(
            {"video": {"type": "asset_id", "asset_id": asset_id}}, duration, f"asset {asset_id}"
        )
    if not video_id:
        raise ValueError("give exactly one of video_id, asset_id or video_url")
    indexed = None
    if index_id:
        indexed = _indexed_asset_in(hook, index_id, video_id)
        searched = f"index {index_id}"
    else:
        count = 0
        for index in hook.list_indexes():
            count += 1
            indexed = _indexed_asset_in(hook, index.id, video_id)
            if indexed is not None:
                if log is not None:
                    log.info(
                        "Found video %s in index %s; pass index_id=%r to skip the search.",
                        video_id,
                        index.id,
                        index.id,
                    )
                break
        searched = f"any of the account's {count} index(es)"
    if indexed is not None:
        if not indexed.asset_id:
            raise TwelveLabsError(
                f"video_id {video_id!r} is an indexed video without an asset id, which /analyze cannot "
                "name; give the video's asset_id or video_url instead."
            )
        return ResolvedVideo(
            {"video": {"type": "asset_id", "asset_id": indexed.asset_id}},
            _duration_of(indexed.system_metadata),
            f"video {video_id} (asset {indexed.asset_id})",
        )
    try:
        asset = hook.get_asset(video_id)
    except TwelveLabsNotFoundError:
        raise TwelveLabsError(
            f"video_id {video_id!r} is not an indexed video in {searched}, nor an asset, so it cannot "
            "be mapped to the video source /analyze takes (/analyze no longer accepts video_id); check "
            "the id and index_id, or give asset_id or video_url."
        ) from None
    return ResolvedVideo(
        {"video": {"type": "asset_id", "asset_id": asset.id or video_id}},
        _duration_of({"duration": asset.duration}),
        f"asset {video_id}",
    )


def _check_length(video: ResolvedVideo, what: str) -> None:
    """Refuse, before the call, a video longer than the synchronous ``/analyze`` accepts."""
    if video.duration is not None and video.duration > MAX_VIDEO_SECONDS:
        raise TwelveLabsError(
            f"{video.described} is {video.duration:,.0f} s long; POST /analyze accepts up to "
            f"{MAX_VIDEO_SECONDS:,} s (1 hour). Leave method='auto' (the default) to generate the "
            f"{what} of a longer video with an asynchronous analyze task (up to 2 hours)."
        )


# --------------------------------------------------------------------------- result shaping


def _number(item: Mapping[str, Any], *keys: str) -> float | None:
    for key in keys:
        value = item.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                continue
    return None


def _text(item: Mapping[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = item.get(key)
        if isinstance(value, str):
            return value
    return None


def _segments(items: Any) -> list[dict[str, Any]]:
    """Normalise chapters or highlights of any shape to ``{start, end, title, text}``."""
    out = []
    for item in items or []:
        if not isinstance(item, Mapping):
            continue
        out.append(
            {
                "start": _number(item, "start_sec", "start", "start_time"),
                "end": _number(item, "end_sec", "end", "end_time"),
                "title": _text(item, "chapter_title", "highlight", "title"),
                "text": _text(item, "chapter_summary", "highlight_summary", "summary", "text"),
            }
        )
    return out


def tidy_segments(segments: list[dict[str, Any]], duration: float | None) -> list[dict[str, Any]]:
    """Order segments and make them non-overlapping and inside the video, as ``/summarize`` gave them.

    A model asked for JSON may list segments out of order, let them overlap or run past the end:
    they are sorted by start, clipped to ``[0, duration]``, and a segment starting before the
    previous one ends starts at that end; segments left without length are dropped.

    :param segments: ``{"start", "end", "title", "text"}`` items, times in seconds.
    :param duration: the video's length, when known.
    """
    timed = [s for s in segments if s["start"] is not None and s["end"] is not None]
    out: list[dict[str, Any]] = []
    for seg in sorted(timed, key=lambda s: (s["start"], s["end"])):
        start = max(0.0, seg["start"])
        end = seg["end"] if duration is None else min(seg["end"], duration)
        if out and start < out[-1]["end"]:
            start = out[-1]["end"]
        if end > start:
            out.append({**seg, "start": start, "end": end})
    return out


def _hashtag(value: str) -> str:
    tag = value.strip().replace(" ", "")
    return tag if tag.startswith("#") else f"#{tag}"


def _gist_result(types: Sequence[str], title: Any, topics: Any, hashtags: Any) -> dict[str, Any]:
    def strings(values: Any) -> list[str]:
        if isinstance(values, str):
            values = [values]
        return [str(v).strip() for v in values or [] if isinstance(v, str) and v.strip()]

    return {
        "title": (title.strip() if isinstance(title, str) else None) if "title" in types else None,
        "topics": strings(topics) if "topic" in types else None,
        "hashtags": [_hashtag(t) for t in strings(hashtags)] if "hashtag" in types else None,
    }


# --------------------------------------------------------------------------- fallback requests

_SEGMENT_ITEM = {
    "type": "object",
    "properties": {
        "start_time": {"type": "number", "description": "start, in seconds from the video's beginning"},
        "end_time": {"type": "number", "description": "end, in seconds from the video's beginning"},
        "title": {"type": "string"},
        "summary": {"type": "string"},
    },
    "required": ["start_time", "end_time", "title", "summary"],
}

_SUMMARY_PROMPT = "Summarize this video: a brief that presents its key points clearly and concisely."
_CHAPTER_PROMPT = (
    "Break this video into chapters, in chronological order, covering the whole video. For each "
    "chapter give its start and end time in seconds, a descriptive headline as the title, and a "
    "summary that elaborates on the headline."
)
_HIGHLIGHT_PROMPT = (
    "List the most important moments of this video in chronological order. For each highlight give "
    "its start and end time in seconds, a short title, and a brief description of the moment."
)
_GIST_PROMPTS = {
    "title": "a title that succinctly captures the video's main theme",
    "topic": "the central topics of the video",
    "hashtag": "hashtags (each starting with #) that represent the video's key themes",
}


def summarize_fallback_request(
    kind: str, prompt: str | None, response_format: Mapping[str, Any] | None
) -> tuple[str, dict[str, Any] | None]:
    """Return the ``/analyze`` prompt and response format that stand in for ``/summarize``.

    :param kind: ``summary``, ``chapter`` or ``highlight``.
    :param prompt: the user's own prompt (context, audience, tone), if any.
    :param response_format: the user's response format (``summary`` only), if any.
    """
    if kind == "summary":
        return prompt or _SUMMARY_PROMPT, dict(response_format) if response_format else None
    key = "chapters" if kind == "chapter" else "highlights"
    base = _CHAPTER_PROMPT if kind == "chapter" else _HIGHLIGHT_PROMPT
    schema = {
        "type": "object",
        "properties": {key: {"type": "array", "items": _SEGMENT_ITEM}},
        "required": [key],
    }
    text = f"{base}\n\nFurther instructions: {prompt}" if prompt else base
    return text, {"type": "json_schema", "json_schema": schema}


def gist_fallback_request(types: Sequence[str]) -> tuple[str, dict[str, Any]]:
    """Return the ``/analyze`` prompt and response format that stand in for ``/gist``.

    :param types: the requested gist parts (``title``, ``topic``, ``hashtag``).
    """
    properties: dict[str, Any] = {}
    for kind in types:
        key = _GIST_KEYS[kind]
        properties[key] = (
            {"type": "string"} if kind == "title" else {"type": "array", "items": {"type": "string"}}
        )
    wanted = "; ".join(_GIST_PROMPTS[k] for k in types)
    schema = {"type": "object", "properties": properties, "required": list(properties)}
    return f"Generate for this video: {wanted}.", {"type": "json_schema", "json_schema": schema}


# --------------------------------------------------------------------------- operators


_LEGACY_ALIAS = (
    "prefer_legacy_endpoint is deprecated: TwelveLabs retired /summarize and /gist on 2026-02-15; "
    "use use_legacy_endpoint (default False) instead."
)


def _legacy_flag(use_legacy_endpoint: bool, prefer_legacy_endpoint: bool | None) -> bool:
    if prefer_legacy_endpoint is None:
        return bool(use_legacy_endpoint)
    import warnings

    warnings.warn(_LEGACY_ALIAS, DeprecationWarning, stacklevel=3)
    return bool(prefer_legacy_endpoint)


_SEGMENT_FIELDS = {
    "chapter": (
        "Each chapter of the video, in chronological order, together covering the whole video",
        "a descriptive headline of the chapter",
        "a summary that elaborates on the headline",
    ),
    "highlight": (
        "Each of the most important moments of the video, in chronological order",
        "a short title of the moment",
        "a brief description of the moment",
    ),
}


def segmentation_definitions(kind: str, prompt: str | None) -> list[dict[str, Any]]:
    """Return the ``segment_definitions`` that cut a video into chapters or highlights.

    Each segment comes back with its time range (seconds) and a ``title`` and a ``summary``.

    :param kind: ``chapter`` or ``highlight``.
    :param prompt: the user's own instructions, added to the definition's description.
    """
    description, title, summary = _SEGMENT_FIELDS[kind]
    if prompt:
        description = f"{description}. Further instructions: {prompt}"
    return [
        {
            "id": f"{kind}s",
            "description": description,
            "fields": [
                {"name": "title", "type": "string", "description": title},
                {"name": "summary", "type": "string", "description": summary},
            ],
        }
    ]


class _PegasusJob(TwelveLabsJobOperator):
    """What the summary and gist operators share: ``/analyze``, or an analyze task beyond its reach.

    :meth:`route` picks the way for a resolved video; :meth:`run_task` creates (or, on a retry,
    reconnects to) an analyze task on the job model and waits for it, after which
    :meth:`finish_task` shapes what Pegasus wrote like the ``/analyze`` path does.
    """

    job_kind = "analyze_task"
    external_id_key = xcom_keys.ANALYZE_TASK_ID
    ui_color = "#f3e8fd"

    def __init__(self, *, method: str = "auto", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.method = method
        self._route: str | None = None
        self._duration: float | None = None
        self._task_body: dict[str, Any] = {}

    def route(self, video: ResolvedVideo, what: str, *, segments: bool) -> str:
        """Return ``sync``, ``task`` or ``segmentation`` for ``video``; refuse a video too long for it.

        :param video: the resolved video.
        :param what: what is generated, for messages.
        :param segments: whether the result is time ranges (chapters, highlights).
        """
        method = self.method
        too_long_for_sync = video.duration is not None and video.duration > MAX_VIDEO_SECONDS
        if method == "auto":
            method = ("segmentation" if segments else "task") if too_long_for_sync else "sync"
        if method == "sync":
            _check_length(video, what)
        elif video.duration is not None and video.duration > MAX_TASK_VIDEO_SECONDS:
            raise TwelveLabsError(
                f"{video.described} is {video.duration:,.0f} s long; an analyze task takes up to "
                f"{MAX_TASK_VIDEO_SECONDS:,} s (2 hours) of video. Analyse a window of it with "
                "TwelveLabsCreateAnalyzeTaskOperator (start_time/end_time), or cut the video."
            )
        return method

    def source_label(self) -> str:
        """The video source for logs: the id given, or the URL without its query string."""
        video_id, asset_id = getattr(self, "video_id", None), getattr(self, "asset_id", None)
        url = str(getattr(self, "video_url", None) or "").split("?", 1)[0]
        return str(video_id or asset_id or url or "the video")

    def too_long_for_sync(self, exc: TwelveLabsError, *, segments: bool) -> str:
        """Return the analyze task's way when ``/analyze`` refused a video of unknown length as too long.

        Re-raises ``exc`` for any other error, or when ``method`` is not ``auto``.

        :param exc: what ``POST /analyze`` raised.
        :param segments: whether the result is time ranges (chapters, highlights).
        """
        if self.method != "auto" or getattr(exc, "code", None) != "video_duration_too_long":
            raise exc
        self.log.info("POST /analyze refused the video as longer than an hour (%s)", exc)
        return "segmentation" if segments else "task"

    def run_task(self, context: Context, video: ResolvedVideo, route: str, **analysis: Any) -> Any:
        """Validate the analyze task's request, then create it (or reconnect to it) and finish.

        :param context: the task context.
        :param video: the resolved video.
        :param route: ``task`` or ``segmentation``.
        :param analysis: the analysis, as ``AnalyzeTaskRequest`` takes it (prompt, json_schema...).
        """
        from airflow_provider_twelvelabs.requests.analyze_async import AnalyzeTaskRequest

        source = video.body["video"]
        request = AnalyzeTaskRequest.build(asset_id=source.get("asset_id"), url=source.get("url"), **analysis)
        self._route, self._duration, self._task_body = route, video.duration, request.to_body()
        length = f"{video.duration:,.0f} s" if video.duration is not None else "of unknown length"
        self.log.info(
            "%s is %s: generating with an asynchronous analyze task (%s)",
            video.described,
            length,
            "video segmentation" if route == "segmentation" else "general mode",
        )
        return TwelveLabsJobOperator.execute(self, context)

    def _tagged_body(self) -> dict[str, Any]:
        body = dict(self._task_body)
        if not body.get("custom_id") and self._job_tag:
            body["custom_id"] = self._job_tag  # what finds the task if the create's answer is lost
        return body

    def find_lost_job(self, context: Context, since: Any) -> Any:
        """Find the analyze task an earlier try's create made although its answer was lost.

        The task carries the task instance's tag as its ``custom_id``: see
        :func:`~airflow_provider_twelvelabs.operators.analyze_async.lost_analyze_task`.

        :param context: the task context.
        :param since: when the lost create was sent, or ``None``.
        """
        from airflow_provider_twelvelabs.operators.analyze_async import lost_analyze_task

        body = self._tagged_body()
        if not body.get("custom_id"):
            return super().find_lost_job(context, since)
        return lost_analyze_task(self.hook, body, since)

    def create_job(self, context: Context) -> Any:
        """Create the analyze task.

        :param context: the task context.
        """
        task = self.hook.create_analyze_task(self._tagged_body())
        self.log.info("Created analyze task %s", task.id)
        return task

    def resume_state(self) -> dict[str, Any]:
        """The way taken and the video's length, needed to shape the result after a deferral."""
        return {"route": self._route, "duration": self._duration}

    def restore_state(self, state: dict[str, Any]) -> None:
        """Take back the way taken and the video's length.

        :param state: the deferral's keyword arguments.
        """
        self._route = state.get("route") or self._route
        self._duration = state.get("duration", self._duration)

    def on_resource_ready(self, context: Context, kind: str, resource: dict[str, Any]) -> Any:
        """Read the ready analyze task's result and shape it.

        :param context: the task context.
        :param kind: ``analyze_task``.
        :param resource: the task as JSON (without its result).
        """
        from airflow_provider_twelvelabs.operators.analyze_async import read_ready_task

        task_id = str(resource.get("id"))
        task = read_ready_task(self.hook, task_id, self.log)
        result = task.result
        generation = _Generation(
            id=task_id,
            text=result.data,
            finish_reason=result.finish_reason,
            usage=dict(result.usage or {}),
            warning=task.warning,
        )
        self.log.info("Analyze task %s done (usage: %s)", task_id, generation.usage)
        return self.finish_task(generation)

    def finish_task(self, generation: _Generation) -> Any:
        """Shape what the analyze task wrote into the operator's result.

        :param generation: the task's result.
        """
        raise NotImplementedError


class TwelveLabsSummarizeOperator(_PegasusJob):
    """Summarize a video, or list its chapters or highlights, with Pegasus.

    Asks ``POST /analyze`` for the content (chapters and highlights with a JSON schema) and returns
    the shape the retired ``/summarize`` gave:

    * ``type="summary"``: the summary text (or, with ``response_format``, the parsed JSON);
    * ``type="chapter"`` / ``"highlight"``: a list of ``{"start", "end", "title", "text"}`` with
      times in seconds, ordered, non-overlapping and inside the video.

    Give exactly one video: ``video_id`` (an indexed video, mapped to its asset as the module
    docstring says), ``asset_id`` or ``video_url``. ``/analyze`` takes videos of up to 1 hour; with
    ``method="auto"`` (the default) a longer one (up to 2 hours, when its duration is known: an
    asset's or an indexed video's) goes to an asynchronous analyze task instead: a JSON schema for
    a summary, video segmentation for chapters and highlights. The task waits like every job of the
    provider (``deferrable=True`` frees the worker slot), a retry reconnects to it, and ``on_kill``
    or ``wait_timeout`` cancel it. The result has the same shape either way.

    :param video_id: an indexed video (indexed asset) id. (templated)
    :param asset_id: an asset id. (templated)
    :param video_url: a public video URL. (templated)
    :param index_id: the index holding ``video_id``: one lookup instead of a search through every
        index. (templated)
    :param type: ``summary``, ``chapter`` or ``highlight``.
    :param prompt: context for the generation: audience, style, tone, purpose; up to 2,000 tokens,
        checked before the call as at most 8,000 characters (about 4 per token). (templated)
    :param temperature: randomness of the text, 0 to 1 (API default 0.2).
    :param max_tokens: the longest generation, 1 to 4,096 tokens.
    :param response_format: a JSON schema for the summary (``type="summary"`` only), either
        ``{"type": "json_schema", "json_schema": {...}}`` or the bare schema. (templated)
    :param use_legacy_endpoint: call the retired ``POST /summarize`` first (``video_id`` only),
        falling back to ``/analyze`` when it answers that it is gone; default ``False``.
    :param prefer_legacy_endpoint: deprecated name of ``use_legacy_endpoint``.
    :param method: ``auto`` (default: ``/analyze`` up to an hour, an analyze task beyond),
        ``sync`` (``/analyze`` only: a longer video fails before the call), ``task`` (always an
        analyze task with a JSON schema) or ``segmentation`` (chapters and highlights: always an
        analyze task in video segmentation, whose segments carry the model's own time ranges).
    :param kwargs: :class:`~airflow_provider_twelvelabs.operators.base.TwelveLabsBaseOperator`
        arguments (``twelvelabs_conn_id``, ``deferrable``, ``wait_timeout``, ``poll_interval``...)
        and ``BaseOperator`` arguments.
    """

    template_fields: Sequence[str] = (
        "video_id",
        "asset_id",
        "video_url",
        "index_id",
        "prompt",
        "response_format",
    )

    def __init__(
        self,
        *,
        video_id: str | None = None,
        asset_id: str | None = None,
        video_url: str | None = None,
        index_id: str | None = None,
        type: str = "summary",
        prompt: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        response_format: Mapping[str, Any] | None = None,
        use_legacy_endpoint: bool = False,
        prefer_legacy_endpoint: bool | None = None,
        method: str = "auto",
        **kwargs: Any,
    ) -> None:
        super().__init__(method=method, **kwargs)
        self.video_id = video_id
        self.asset_id = asset_id
        self.video_url = video_url
        self.index_id = index_id
        self.type = type
        self.prompt = prompt
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.response_format = response_format
        self.use_legacy_endpoint = _legacy_flag(use_legacy_endpoint, prefer_legacy_endpoint)
        # The arguments that cannot be templated fail at DAG parse time already.
        self._check_static()

    def _check_static(self) -> None:
        SummarizeOptions.build_from(self)

    def _request(self) -> SummarizeRequest:
        request = SummarizeRequest.build_from(self)
        if self.use_legacy_endpoint and not request.video_id:
            raise ValueError(
                "use_legacy_endpoint=True needs video_id: the legacy /summarize takes only an indexed "
                "video id"
            )
        return request

    def build_request(self) -> dict[str, Any]:
        """Validate every parameter and return the ``POST /analyze`` body; no request is made.

        A ``video_id`` is shown as ``{"type": "asset_id", "asset_id": video_id}``: the mapping to
        the asset it indexes needs a lookup, which only ``execute`` makes.
        """
        request = self._request()
        text, fmt = summarize_fallback_request(self.type, request.prompt, request.response_format)
        return {
            **video_body(request.video_id, request.asset_id, request.video_url),
            "prompt": text,
            "temperature": request.temperature,
            "max_tokens": request.max_tokens,
            "response_format": fmt,
        }

    def execute(self, context: Context) -> Any:
        """Generate the summary, chapters or highlights, log them and return them JSON-native."""
        request = self._request()
        value = self._generate(request, context)
        if self._route is None:  # an analyze task's result was logged when it was shaped
            self._log_result(value)
        return value

    def _log_result(self, value: Any) -> None:
        names = {"summary": "Summary", "chapter": "Chapters", "highlight": "Highlights"}
        what = names.get(self.type, self.type)
        if isinstance(value, list):
            what = f"{len(value):,} {what.lower()}"
        log_text_result(self.log, f"{what} of {self.source_label()}", value, where=result_location())

    def _generate(self, request: SummarizeRequest, context: Context) -> Any:
        prompt, response_format = request.prompt, request.response_format
        if self.use_legacy_endpoint:
            body = request.to_body()
            try:
                result = self.hook.summarize(body)
            except TwelveLabsError as exc:
                if not _is_gone(exc):
                    raise
                self.log.warning(
                    "POST /summarize is gone (%s); generating the %s with POST /analyze and a JSON "
                    "schema instead. Leave use_legacy_endpoint=False to skip /summarize.",
                    exc,
                    self.type,
                )
            else:
                return self._from_summarize(result, response_format)
        video = resolve_video(
            self.hook,
            video_id=request.video_id,
            asset_id=request.asset_id,
            video_url=request.video_url,
            index_id=request.index_id,
            # Chapters are clipped to the video; a summary of a video of unknown length goes to
            # /analyze, which refuses one over an hour (and then an analyze task takes it).
            need_duration=self.type != "summary",
            log=self.log,
        )
        route = self.route(video, self.type, segments=self.type != "summary")
        if route == "sync":
            try:
                return self._from_analyze(video, prompt, response_format)
            except TwelveLabsError as exc:
                route = self.too_long_for_sync(exc, segments=self.type != "summary")
        if route == "segmentation":
            return self.run_task(
                context,
                video,
                route,
                segment_definitions=segmentation_definitions(self.type, prompt),
                segment_time_format="seconds",
                temperature=self.temperature,
            )
        text, fmt = summarize_fallback_request(self.type, prompt, response_format)
        return self.run_task(
            context,
            video,
            route,
            prompt=text,
            json_schema=fmt["json_schema"] if fmt else None,
            temperature=self.temperature,
            max_tokens=self.max_tokens,
        )

    def finish_task(self, generation: _Generation) -> Any:
        """Shape the analyze task's result: text, parsed JSON, or tidy segments.

        :param generation: the task's result.
        """
        if self._route == "segmentation":
            from airflow_provider_twelvelabs.operators.analyze_async import segment_rows

            value = tidy_segments(_segments(segment_rows(generation.text)), self._duration)
        else:
            request = self._request()
            _, fmt = summarize_fallback_request(self.type, request.prompt, request.response_format)
            value = self._shape(generation, fmt, self._duration)
        self._log_result(value)
        return value

    def _from_summarize(self, result: SummarizeResult, response_format: Mapping[str, Any] | None) -> Any:
        kind = result.summarize_type
        if kind is None:
            # Older answers have no discriminator: go by the field that is there.
            kind = next(
                (
                    k
                    for k, f in (("summary", "summary"), ("chapter", "chapters"), ("highlight", "highlights"))
                    if getattr(result, f) is not None
                ),
                None,
            )
        self.log.info("Summarize %s for video %s done (usage: %s)", kind, self.video_id, result.usage or {})
        if kind == "summary" and result.summary is not None:
            if response_format is not None:
                generation = _Generation(id=result.id, text=result.summary, finish_reason=None)
                return _structured(generation, response_format["json_schema"], self.log, what="summary")
            return result.summary
        if kind == "chapter" and result.chapters is not None:
            return _segments(result.chapters)
        if kind == "highlight" and result.highlights is not None:
            return _segments(result.highlights)
        raise TwelveLabsError(
            f"The /summarize answer {result.id or ''} for type={self.type!r} holds no summary, chapters "
            "or highlights."
        )

    def _from_analyze(
        self, video: ResolvedVideo, prompt: str | None, response_format: Mapping[str, Any] | None
    ) -> Any:
        text, fmt = summarize_fallback_request(self.type, prompt, response_format)
        body = {
            **video.body,
            "prompt": text,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "response_format": fmt,
        }
        generation = _run_analysis(self.hook, body, stream=False, log=self.log)
        self.log.info("Analyze (%s) for %s done (usage: %s)", self.type, video.described, generation.usage)
        return self._shape(generation, fmt, video.duration)

    def _shape(self, generation: _Generation, fmt: Mapping[str, Any] | None, duration: float | None) -> Any:
        if fmt is None:
            if generation.finish_reason == "length":
                self.log.warning("The summary was cut at max_tokens: %s", generation.warning or "")
            return generation.text
        value = _structured(generation, fmt["json_schema"], self.log, what=f"{self.type} generation")
        if self.type == "summary":
            return value
        key = "chapters" if self.type == "chapter" else "highlights"
        items = value.get(key) if isinstance(value, Mapping) else value
        if not isinstance(items, list):
            raise TwelveLabsError(f"The /analyze answer has no {key} list: {str(value)[:200]}")
        # /summarize gave segments in order, apart and inside the video; a model asked for JSON may not.
        return tidy_segments(_segments(items), duration)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the video in (the result goes to XCom only).

        :param task_instance: the finished task instance.
        """
        from airflow_provider_twelvelabs.lineage import api_base_url, operator_lineage, twelvelabs_dataset

        return operator_lineage([twelvelabs_dataset("videos", str(self.video_id), api_base_url(self))], [])


class TwelveLabsGistOperator(_PegasusJob):
    """Generate a title, topics and hashtags for a video with Pegasus.

    Returns ``{"title": str | None, "topics": list[str] | None, "hashtags": list[str] | None}``;
    parts that were not requested are ``None`` and hashtags always start with ``#``. Asks
    ``POST /analyze`` with a JSON schema (the retired ``/gist`` only with
    ``use_legacy_endpoint=True``). Give exactly one of ``video_id`` (mapped to its asset as the module
    docstring says), ``asset_id`` or ``video_url``.

    :param video_id: an indexed video (indexed asset) id. (templated)
    :param asset_id: an asset id. (templated)
    :param video_url: a public video URL. (templated)
    :param index_id: the index holding ``video_id``. (templated)
    :param types: any of ``title``, ``topic`` and ``hashtag`` (default all three).
    :param use_legacy_endpoint: call the retired ``POST /gist`` first (``video_id`` only), falling
        back to ``/analyze`` when it answers that it is gone; default ``False``.
    :param prefer_legacy_endpoint: deprecated name of ``use_legacy_endpoint``.
    :param method: ``auto`` (default: ``/analyze`` up to an hour, an asynchronous analyze task for
        a longer video, up to 2 hours), ``sync`` (``/analyze`` only) or ``task`` (always an
        analyze task). An analyze task waits, reconnects and cancels as
        :class:`TwelveLabsSummarizeOperator`'s does.
    :param kwargs: :class:`~airflow_provider_twelvelabs.operators.base.TwelveLabsBaseOperator`
        arguments (``twelvelabs_conn_id``, ``deferrable``, ``wait_timeout``...) and ``BaseOperator``
        arguments.
    """

    template_fields: Sequence[str] = ("video_id", "asset_id", "video_url", "index_id")

    def __init__(
        self,
        *,
        video_id: str | None = None,
        asset_id: str | None = None,
        video_url: str | None = None,
        index_id: str | None = None,
        types: Sequence[str] = GIST_TYPES,
        use_legacy_endpoint: bool = False,
        prefer_legacy_endpoint: bool | None = None,
        method: str = "auto",
        **kwargs: Any,
    ) -> None:
        super().__init__(method=method, **kwargs)
        self.video_id = video_id
        self.asset_id = asset_id
        self.video_url = video_url
        self.index_id = index_id
        self.types = GistOptions.build(types=types, method=method).types
        self.use_legacy_endpoint = _legacy_flag(use_legacy_endpoint, prefer_legacy_endpoint)

    def _request(self) -> GistRequest:
        request = GistRequest.build_from(self)
        if self.use_legacy_endpoint and not request.video_id:
            raise ValueError(
                "use_legacy_endpoint=True needs video_id: the legacy /gist takes only an indexed video id"
            )
        return request

    def build_request(self) -> dict[str, Any]:
        """Validate every parameter and return the ``POST /analyze`` body; no request is made.

        A ``video_id`` is shown as ``{"type": "asset_id", "asset_id": video_id}``: the mapping to
        the asset it indexes needs a lookup, which only ``execute`` makes.
        """
        request = self._request()
        prompt, fmt = gist_fallback_request(request.types)
        return {
            **video_body(request.video_id, request.asset_id, request.video_url),
            "prompt": prompt,
            "response_format": fmt,
        }

    def execute(self, context: Context) -> dict[str, Any]:
        """Generate the gist and return ``{title, topics, hashtags}``."""
        request = self._request()
        types = list(request.types)
        if self.use_legacy_endpoint:
            try:
                result: GistResult = self.hook.gist(**request.to_body())
            except TwelveLabsError as exc:
                if not _is_gone(exc):
                    raise
                self.log.warning(
                    "POST /gist is gone (%s); generating the gist with POST /analyze and a JSON schema "
                    "instead. Leave use_legacy_endpoint=False to skip /gist.",
                    exc,
                )
            else:
                self.log.info("Gist for video %s done (usage: %s)", request.video_id, result.usage or {})
                gist = _gist_result(types, result.title, result.topics, result.hashtags)
                log_text_result(self.log, f"Gist of {request.video_id}", gist, where=result_location())
                return gist
        video = resolve_video(
            self.hook,
            video_id=request.video_id,
            asset_id=request.asset_id,
            video_url=request.video_url,
            index_id=request.index_id,
            log=self.log,
        )
        route = self.route(video, "gist", segments=False)
        prompt, fmt = gist_fallback_request(types)
        if route == "sync":
            body = {**video.body, "prompt": prompt, "response_format": fmt}
            try:
                generation = _run_analysis(self.hook, body, stream=False, log=self.log)
            except TwelveLabsError as exc:
                route = self.too_long_for_sync(exc, segments=False)
            else:
                self.log.info(
                    "Gist (via /analyze) for %s done (usage: %s)", video.described, generation.usage
                )
                return self.finish_task(generation)
        return self.run_task(context, video, route, prompt=prompt, json_schema=fmt["json_schema"])

    def finish_task(self, generation: _Generation) -> dict[str, Any]:
        """Parse the generated JSON into ``{title, topics, hashtags}``.

        :param generation: what ``/analyze`` or the analyze task wrote.
        """
        types = list(self.types)
        _, fmt = gist_fallback_request(types)
        value = _structured(generation, fmt["json_schema"], self.log, what="gist generation")
        if not isinstance(value, Mapping):
            raise TwelveLabsError(f"The gist answer is not a JSON object: {str(value)[:200]}")
        gist = _gist_result(types, value.get("title"), value.get("topics"), value.get("hashtags"))
        log_text_result(self.log, f"Gist of {self.source_label()}", gist, where=result_location())
        return gist

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the video in (the result goes to XCom only).

        :param task_instance: the finished task instance.
        """
        from airflow_provider_twelvelabs.lineage import api_base_url, operator_lineage, twelvelabs_dataset

        return operator_lineage([twelvelabs_dataset("videos", str(self.video_id), api_base_url(self))], [])


class TwelveLabsAnalyzeOperator(TwelveLabsBaseOperator):
    """Run an open-ended Pegasus analysis of a video and return the generated text or JSON.

    Give exactly one video: ``video_id`` (an indexed video, mapped to the asset it indexes as the
    module docstring says, since ``/analyze`` no longer takes ``video_id``), ``asset_id`` (an
    uploaded asset) or ``video_url`` (a public URL). With ``stream=True`` (default) the text is
    logged as it is generated, line by line (or about every ``log_every_chars`` characters), and
    assembled; with ``stream=False`` it comes in one answer.

    The result is the generated text or, with ``response_format``, the parsed JSON. A truncated
    structured answer (``finish_reason == "length"``) fails the task, since its JSON is incomplete;
    a truncated text is returned with a warning in the log. With ``output_path`` the result is
    written there (a JSON document, or plain text) and a small manifest
    ``{"path", "format", "bytes", "generation_id", "finish_reason", "usage"}`` (``characters`` too
    for text) is returned instead, to keep long analyses out of XCom.

    :param prompt: what to generate; up to 2,000 tokens, checked before the call as at most
        8,000 characters (about 4 per token). (templated)
    :param video_id: an indexed video id. (templated)
    :param asset_id: an asset id. (templated)
    :param video_url: a public video URL. (templated)
    :param index_id: the index holding ``video_id``: one lookup instead of a search through every
        index. (templated)
    :param model_name: ``pegasus1.5`` or ``pegasus1.6`` (API default ``pegasus1.5``).
    :param temperature: randomness of the text, 0 to 1 (API default 0.2).
    :param max_tokens: the longest generation, 1 to 4,096 tokens.
    :param response_format: a JSON schema for structured output, either
        ``{"type": "json_schema", "json_schema": {...}}`` or the bare schema. (templated)
    :param start_time: start of the analysed window, in seconds.
    :param end_time: end of the analysed window, in seconds (the window must be at least 1 s).
    :param stream: stream the generation (default) or ask for it in one answer.
    :param log_every_chars: while streaming, log the text at least every this many characters.
    :param output_path: where to write the result, local or an object-storage URI
        (``s3://bucket/key.txt``); a manifest goes to XCom instead of the text. (templated)
    :param output_conn_id: an Airflow connection with the object store's credentials, if needed.
    :param kwargs: :class:`~airflow_provider_twelvelabs.operators.base.TwelveLabsBaseOperator`
        arguments (``twelvelabs_conn_id``) and ``BaseOperator`` arguments.
    """

    template_fields: Sequence[str] = (
        "prompt",
        "video_id",
        "asset_id",
        "video_url",
        "index_id",
        "response_format",
        "output_path",
    )

    def __init__(
        self,
        *,
        prompt: str,
        video_id: str | None = None,
        asset_id: str | None = None,
        video_url: str | None = None,
        index_id: str | None = None,
        model_name: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        response_format: Mapping[str, Any] | None = None,
        start_time: float | None = None,
        end_time: float | None = None,
        stream: bool = True,
        log_every_chars: int = 300,
        output_path: str | None = None,
        output_conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.prompt = prompt
        self.video_id = video_id
        self.asset_id = asset_id
        self.video_url = video_url
        self.index_id = index_id
        self.model_name = model_name
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.response_format = response_format
        self.start_time = start_time
        self.end_time = end_time
        self.stream = stream
        self.log_every_chars = log_every_chars
        self.output_path = output_path
        self.output_conn_id = output_conn_id
        self._check_static()

    def _check_static(self) -> None:
        AnalyzeOptions.build_from(self)

    def _request(self) -> AnalyzeRequest:
        return AnalyzeRequest.build_from(self)

    def build_request(self) -> dict[str, Any]:
        """Validate every parameter and return the ``POST /analyze`` body; no request is made.

        A ``video_id`` is shown as ``{"type": "asset_id", "asset_id": video_id}``: the mapping to
        the asset it indexes needs a lookup, which only ``execute`` makes.
        """
        return self._request().to_body()

    def execute(self, context: Context) -> Any:
        """Run the analysis and return the text, the parsed JSON, or a manifest of the written file."""
        request = self._request()
        video = resolve_video(
            self.hook,
            video_id=request.video_id,
            asset_id=request.asset_id,
            video_url=request.video_url,
            index_id=request.index_id,
            log=self.log,
        )
        # A URL may be presigned: ``described`` has no query string, which may be a credential.
        body = {**request.to_body(), **video.body}
        response_format = request.response_format
        self.log.info(
            "Analyzing %s with %s (%s)",
            video.described,
            self.model_name or "the default Pegasus model",
            "streaming" if self.stream else "not streaming",
        )
        generation = _run_analysis(
            self.hook, body, stream=self.stream, log=self.log, log_every=self.log_every_chars
        )
        self.log.info(
            "Generation %s finished (%s), %d characters, usage %s",
            generation.id,
            generation.finish_reason,
            len(generation.text),
            generation.usage,
        )
        if response_format is not None:
            value: Any = _structured(generation, response_format["json_schema"], self.log, what="analysis")
        else:
            if generation.finish_reason == "length":
                self.log.warning(
                    "The analysis was cut at max_tokens (finish_reason=length); the text is partial. %s",
                    generation.warning or "",
                )
            value = generation.text
        where = result_location(request.output_path)
        if self.stream:
            # The text went to the log as it streamed: say where the whole of it is.
            self.log.info("The analysis (%s characters) is in %s", f"{len(generation.text):,}", where)
        else:
            log_text_result(self.log, f"Analysis of {video.described}", value, where=where)
        if request.output_path:
            return self._write(value, generation, is_json=response_format is not None)
        return value

    def _write(self, value: Any, generation: _Generation, *, is_json: bool) -> dict[str, Any]:
        from airflow_provider_twelvelabs.results import write_json, write_text

        path = str(self.output_path)
        conn_id = self.output_conn_id
        manifest = (
            write_json(path, value, conn_id=conn_id) if is_json else write_text(path, value, conn_id=conn_id)
        )
        self.log.info("Wrote %s bytes of analysis to %s", manifest.get("bytes"), manifest.get("path"))
        return {
            **manifest,
            "generation_id": generation.id,
            "finish_reason": generation.finish_reason,
            "usage": generation.usage,
        }

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the video, asset or URL (without its query) in; ``output_path`` out.

        :param task_instance: the finished task instance.
        """
        from airflow_provider_twelvelabs.lineage import (
            api_base_url,
            asset_dataset,
            file_dataset,
            operator_lineage,
            twelvelabs_dataset,
        )

        base = api_base_url(self)
        return operator_lineage(
            [
                twelvelabs_dataset("videos", str(self.video_id), base) if self.video_id else None,
                asset_dataset(self, self.asset_id),
                file_dataset(self.video_url),
            ],
            [file_dataset(self.output_path)],
        )
