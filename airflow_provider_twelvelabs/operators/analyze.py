"""Operators for Pegasus text generation: summaries, chapters, highlights, gists and open-ended analysis.

``/summarize`` and ``/gist`` have been announced for sunset. :class:`TwelveLabsSummarizeOperator` and
:class:`TwelveLabsGistOperator` call them first and, when the API answers that the endpoint is gone,
ask ``POST /analyze`` for the same content with a JSON-schema ``response_format``: the task's result
has the same shape whichever path produced it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_twelvelabs.exceptions import (
    TwelveLabsEndpointGoneError,
    TwelveLabsError,
    TwelveLabsNotFoundError,
)
from airflow_provider_twelvelabs.operators.base import TwelveLabsBaseOperator
from airflow_provider_twelvelabs.requests.analyze import (
    GIST_TYPES,
    MAX_PROMPT_CHARS,
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
    "summarize_fallback_request",
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


class TwelveLabsSummarizeOperator(TwelveLabsBaseOperator):
    """Summarize an indexed video, or list its chapters or highlights, with Pegasus.

    Calls ``POST /summarize``; when the API answers that the endpoint is gone (it was announced for
    sunset), logs a warning and asks ``POST /analyze`` for the same content with a JSON schema, so
    the result has the same shape either way:

    * ``type="summary"``: the summary text (or, with ``response_format``, the parsed JSON);
    * ``type="chapter"`` / ``"highlight"``: a list of ``{"start", "end", "title", "text"}`` with
      times in seconds.

    :param video_id: the indexed video (indexed asset) id. (templated)
    :param type: ``summary``, ``chapter`` or ``highlight``.
    :param prompt: context for the generation: audience, style, tone, purpose; up to 2,000 tokens,
        checked before the call as at most 8,000 characters (about 4 per token). (templated)
    :param temperature: randomness of the text, 0 to 1 (API default 0.2).
    :param max_tokens: the longest generation, 1 to 4,096 tokens.
    :param response_format: a JSON schema for the summary (``type="summary"`` only), either
        ``{"type": "json_schema", "json_schema": {...}}`` or the bare schema. (templated)
    :param prefer_legacy_endpoint: try ``/summarize`` first (default); ``False`` goes straight to
        ``/analyze``, saving a request once the endpoint is gone.
    :param kwargs: :class:`~airflow_provider_twelvelabs.operators.base.TwelveLabsBaseOperator`
        arguments (``twelvelabs_conn_id``) and ``BaseOperator`` arguments.
    """

    template_fields: Sequence[str] = ("video_id", "prompt", "response_format")

    def __init__(
        self,
        *,
        video_id: str,
        type: str = "summary",
        prompt: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        response_format: Mapping[str, Any] | None = None,
        prefer_legacy_endpoint: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.video_id = video_id
        self.type = type
        self.prompt = prompt
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.response_format = response_format
        self.prefer_legacy_endpoint = prefer_legacy_endpoint
        # The arguments that cannot be templated fail at DAG parse time already.
        self._check_static()

    def _check_static(self) -> None:
        SummarizeOptions.build_from(self)

    def _request(self) -> SummarizeRequest:
        return SummarizeRequest.build_from(self)

    def build_request(self) -> dict[str, Any]:
        """Validate every parameter and return the ``POST /summarize`` body; no request is made."""
        return self._request().to_body()

    def execute(self, context: Context) -> Any:
        """Generate the summary, chapters or highlights and return them JSON-native."""
        request = self._request()
        video_id, prompt, response_format = request.video_id, request.prompt, request.response_format
        if self.prefer_legacy_endpoint:
            body = request.to_body()
            try:
                result = self.hook.summarize(body)
            except TwelveLabsError as exc:
                if not _is_gone(exc):
                    raise
                self.log.warning(
                    "POST /summarize is gone (%s); generating the %s with POST /analyze and a JSON "
                    "schema instead. Set prefer_legacy_endpoint=False to skip /summarize.",
                    exc,
                    self.type,
                )
            else:
                return self._from_summarize(result, response_format)
        return self._from_analyze(video_id, prompt, response_format)

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
        self, video_id: str, prompt: str | None, response_format: Mapping[str, Any] | None
    ) -> Any:
        text, fmt = summarize_fallback_request(self.type, prompt, response_format)
        body = {
            **video_body(video_id, None, None),
            "prompt": text,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "response_format": fmt,
        }
        generation = _run_analysis(self.hook, body, stream=False, log=self.log)
        self.log.info("Analyze (%s) for video %s done (usage: %s)", self.type, video_id, generation.usage)
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
        # /summarize lists segments chronologically; a model asked for JSON may not, so sort them.
        return sorted(_segments(items), key=lambda s: (s["start"] is None, s["start"] or 0.0))

    def get_openlineage_facets_on_start(self) -> Any:
        """OpenLineage: keep the API's base URL for the completion facets (no dataset yet)."""
        from airflow_provider_twelvelabs.lineage import remember_api

        return remember_api(self)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the video in (the result goes to XCom only).

        :param task_instance: the finished task instance.
        """
        from airflow_provider_twelvelabs.lineage import api_base_url, operator_lineage, twelvelabs_dataset

        return operator_lineage([twelvelabs_dataset("videos", str(self.video_id), api_base_url(self))], [])


class TwelveLabsGistOperator(TwelveLabsBaseOperator):
    """Generate a title, topics and hashtags for an indexed video with Pegasus.

    Returns ``{"title": str | None, "topics": list[str] | None, "hashtags": list[str] | None}``;
    parts that were not requested are ``None`` and hashtags always start with ``#``. Calls
    ``POST /gist`` and, when the API answers that the endpoint is gone (its sunset was announced for
    2026-02-15), logs a warning and asks ``POST /analyze`` with a JSON schema for the same result.

    :param video_id: the indexed video (indexed asset) id. (templated)
    :param types: any of ``title``, ``topic`` and ``hashtag`` (default all three).
    :param prefer_legacy_endpoint: try ``/gist`` first (default); ``False`` goes straight to
        ``/analyze``.
    :param kwargs: :class:`~airflow_provider_twelvelabs.operators.base.TwelveLabsBaseOperator`
        arguments (``twelvelabs_conn_id``) and ``BaseOperator`` arguments.
    """

    template_fields: Sequence[str] = ("video_id",)

    def __init__(
        self,
        *,
        video_id: str,
        types: Sequence[str] = GIST_TYPES,
        prefer_legacy_endpoint: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.video_id = video_id
        self.types = GistOptions.build(types=types).types
        self.prefer_legacy_endpoint = prefer_legacy_endpoint

    def build_request(self) -> dict[str, Any]:
        """Validate every parameter and return the ``POST /gist`` body; no request is made."""
        return GistRequest.build_from(self).to_body()

    def execute(self, context: Context) -> dict[str, Any]:
        """Generate the gist and return ``{title, topics, hashtags}``."""
        body = self.build_request()
        video_id, types = body["video_id"], body["types"]
        if self.prefer_legacy_endpoint:
            try:
                result: GistResult = self.hook.gist(**body)
            except TwelveLabsError as exc:
                if not _is_gone(exc):
                    raise
                self.log.warning(
                    "POST /gist is gone (%s); generating the gist with POST /analyze and a JSON schema "
                    "instead. Set prefer_legacy_endpoint=False to skip /gist.",
                    exc,
                )
            else:
                self.log.info("Gist for video %s done (usage: %s)", video_id, result.usage or {})
                return _gist_result(types, result.title, result.topics, result.hashtags)
        prompt, fmt = gist_fallback_request(types)
        body = {**video_body(video_id, None, None), "prompt": prompt, "response_format": fmt}
        generation = _run_analysis(self.hook, body, stream=False, log=self.log)
        value = _structured(generation, fmt["json_schema"], self.log, what="gist generation")
        if not isinstance(value, Mapping):
            raise TwelveLabsError(f"The /analyze gist answer is not a JSON object: {str(value)[:200]}")
        self.log.info("Gist (via /analyze) for video %s done (usage: %s)", video_id, generation.usage)
        return _gist_result(types, value.get("title"), value.get("topics"), value.get("hashtags"))

    def get_openlineage_facets_on_start(self) -> Any:
        """OpenLineage: keep the API's base URL for the completion facets (no dataset yet)."""
        from airflow_provider_twelvelabs.lineage import remember_api

        return remember_api(self)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the video in (the result goes to XCom only).

        :param task_instance: the finished task instance.
        """
        from airflow_provider_twelvelabs.lineage import api_base_url, operator_lineage, twelvelabs_dataset

        return operator_lineage([twelvelabs_dataset("videos", str(self.video_id), api_base_url(self))], [])


class TwelveLabsAnalyzeOperator(TwelveLabsBaseOperator):
    """Run an open-ended Pegasus analysis of a video and return the generated text or JSON.

    Give exactly one video: ``video_id`` (an indexed video, the legacy request shape), ``asset_id``
    (an uploaded asset) or ``video_url`` (a public URL). With ``stream=True`` (default) the text is
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
        """Validate every parameter and return the ``POST /analyze`` body; no request is made."""
        return self._request().to_body()

    def _describe_video(self) -> str:
        if self.video_id:
            return f"video {self.video_id}"
        if self.asset_id:
            return f"asset {self.asset_id}"
        from airflow_provider_twelvelabs.hooks.twelvelabs import redact_url

        # A video URL may be presigned: its query string is a credential.
        return f"the video at {redact_url(str(self.video_url))}"

    def execute(self, context: Context) -> Any:
        """Run the analysis and return the text, the parsed JSON, or a manifest of the written file."""
        request = self._request()
        body = request.to_body()
        response_format = request.response_format
        self.log.info(
            "Analyzing %s with %s (%s)",
            self._describe_video(),
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

    def get_openlineage_facets_on_start(self) -> Any:
        """OpenLineage: keep the API's base URL for the completion facets (no dataset yet)."""
        from airflow_provider_twelvelabs.lineage import remember_api

        return remember_api(self)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the video, asset or URL (without its query) in; ``output_path`` out.

        :param task_instance: the finished task instance.
        """
        from airflow_provider_twelvelabs.lineage import (
            api_base_url,
            file_dataset,
            operator_lineage,
            twelvelabs_dataset,
        )

        base = api_base_url(self)
        return operator_lineage(
            [
                twelvelabs_dataset("videos", str(self.video_id), base) if self.video_id else None,
                twelvelabs_dataset("assets", str(self.asset_id), base) if self.asset_id else None,
                file_dataset(self.video_url),
            ],
            [file_dataset(self.output_path)],
        )
