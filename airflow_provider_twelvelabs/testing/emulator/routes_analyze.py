"""Analyze endpoints of the emulator: ``/analyze`` (JSON or NDJSON stream), ``/summarize``, ``/gist``.

Generated text is deterministic for a given prompt and media. With ``response_format`` the output is
JSON generated from the caller's schema, so it validates against it (unless ``max_tokens`` cuts it,
as on the real platform). Schema keywords that SDK 1.3.6 documents as rejected (``minLength``,
``maxLength``, ``additionalProperties``, ``uniqueItems``, ``maxItems``, ``minItems`` above 1) get the
same 422 here, so a DAG that passes against the emulator does not fail on the real API for that reason.

``/summarize`` and ``/gist`` are being sunset; with ``EmulatorConfig.summarize_gone`` or ``gist_gone``
they answer ``410`` with ``{"code": "endpoint_sunset", "message": ...}``.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from airflow_provider_twelvelabs.testing.emulator import synth
from airflow_provider_twelvelabs.testing.emulator.errors import APIError, bad_request
from airflow_provider_twelvelabs.testing.emulator.routes_embed import SourceMedia, resolve_source
from airflow_provider_twelvelabs.testing.emulator.state import EmulatorState
from airflow_provider_twelvelabs.testing.emulator.wire import json_response, read_json

__all__ = ["NDJSON_MEDIA_TYPE", "TRUNCATION_MESSAGE", "routes"]

_PREFIX = "/v1.3"
#: Content type of the streamed analyze response (one JSON object per line).
NDJSON_MEDIA_TYPE = "application/x-ndjson"
#: The warning the platform attaches when ``max_tokens`` cut the output (SDK 1.3.6 wording).
TRUNCATION_MESSAGE = (
    "output truncated: the generation reached the configured max_tokens. The partial output is "
    "returned; raise max_tokens if you need a longer response."
)
_ANALYZE_MODELS = ("pegasus1.5", "pegasus1.6", "pegasus1.2")
_ANALYZE_KEYS = {
    "model_name",
    "video",
    "video_id",
    "image",
    "prompt",
    "prompt_v2",
    "temperature",
    "response_format",
    "max_tokens",
    "start_time",
    "end_time",
    "stream",
}
_MAX_TOKENS = 4096
_PROMPT_TOKENS = 2000
_MAX_VIDEO_SECONDS = 3600.0
#: Pegasus analyses videos of at least 1 s (SDK 1.3.6 input requirements).
_MIN_VIDEO_SECONDS = 1.0
_SUNSET_DOCS = "https://docs.twelvelabs.io/v1.3/docs/get-started/release-notes"


# --------------------------------------------------------------------------------------------------
# Shared validation
# --------------------------------------------------------------------------------------------------


def _clean(body: dict[str, Any]) -> dict[str, Any]:
    # Explicit nulls are what a client sends for "not set"; treat them as absent.
    return {k: v for k, v in body.items() if v is not None}


def _temperature(body: dict[str, Any]) -> float:
    value = body.get("temperature", 0.2)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise bad_request("The temperature parameter must be a number between 0 and 1.")
    return float(value)


def _max_tokens(body: dict[str, Any]) -> int:
    value = body.get("max_tokens", _MAX_TOKENS)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= _MAX_TOKENS:
        raise bad_request(f"The max_tokens parameter must be an integer between 1 and {_MAX_TOKENS}.")
    return value


def _prompt(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise bad_request(f"The {name} parameter must be a non-empty string.")
    if synth.count_tokens(value) > _PROMPT_TOKENS:
        raise bad_request(
            f"The {name} is longer than {_PROMPT_TOKENS} tokens; shorten it.", "token_limit_exceeded"
        )
    return value


def _indexed_video(state: EmulatorState, video_id: Any) -> SourceMedia:
    """Resolve the legacy ``video_id`` (an indexed video) used by summarize, gist and old analyze."""
    if not isinstance(video_id, str) or not video_id:
        raise bad_request("The video_id parameter must be a non-empty string.")
    media = state.resolve_media(video_id)
    if media is None or media.kind != "indexed_asset":
        raise APIError(404, "resource_not_exist", f"Resource with id {video_id} does not exist in videos.")
    index = state.indexes.get(media.index_id or "")
    if index is not None and not any(m["model_name"].startswith("pegasus") for m in index.models):
        # Generation reads what a Pegasus model extracted at indexing; a Marengo-only index has none.
        raise bad_request(
            f"The index {index.id} holding the video {video_id} was created without a Pegasus model; "
            "index the video into an index with a Pegasus model, or analyze its asset with "
            'video: {"type": "asset_id", ...}.',
            "index_not_supported_for_generate",
        )
    if not media.ready:
        raise bad_request(f"The video {video_id} is not ready for analysis (status: {media.status}).")
    return SourceMedia(
        key=f"asset:{media.asset_id}",
        duration=float(media.duration or 0.0),
        input_filename=media.filename,
        failure=media.failure,
    )


def _check_failure(media: SourceMedia) -> None:
    # An asset whose name says fail_analyze is ready but cannot be analysed; a URL with any fail
    # marker cannot be fetched at all.
    if media.failure == "analyze" or (media.input_url and media.failure):
        raise bad_request(
            "The video could not be processed for analysis; the file may be corrupt or unreachable.",
            "video_file_broken",
        )


# JSON Schema keywords SDK 1.3.6 documents as rejected with 422, with the message it quotes.
_REJECTED_KEYWORDS = {
    "minLength": "String length constraints (minLength) are not supported.",
    "maxLength": "String length constraints (maxLength) are not supported.",
    "additionalProperties": "The additionalProperties keyword is not supported.",
    "uniqueItems": "The uniqueItems keyword is not supported.",
    "maxItems": "The maxItems keyword is not supported.",
}
_TIMESTAMP_FORMATS = ("seconds", "hh:mm:ss", "hh:mm:ss.fff")


def _check_schema(schema: Any, where: str) -> None:
    """Reject what the platform rejects in a ``response_format.json_schema``."""
    if isinstance(schema, list):
        for i, item in enumerate(schema):
            _check_schema(item, f"{where}[{i}]")
        return
    if not isinstance(schema, dict):
        return
    for keyword, message in _REJECTED_KEYWORDS.items():
        if keyword in schema:
            raise APIError(422, "parameter_invalid", f"{where}: {message}")
    min_items = schema.get("minItems")
    if min_items is not None and min_items not in (0, 1):
        raise APIError(422, "parameter_invalid", f"{where}: minItems accepts only 0 or 1.")
    if schema.get("type") == "timestamp" and schema.get("format") not in _TIMESTAMP_FORMATS:
        raise bad_request(
            f"{where}.format: format is required for timestamp type; allowed values: "
            + ", ".join(_TIMESTAMP_FORMATS)
        )
    properties = schema.get("properties")
    if isinstance(properties, dict):
        for name, sub in properties.items():
            if name in ("start_time", "end_time") and isinstance(sub, dict):
                kind = sub.get("type")
                if kind in ("boolean", "object") or (kind == "string" and "format" in sub):
                    raise bad_request(
                        f"{where}.properties.{name}: the reserved {name} property must be a number, an "
                        "integer, a string without format, or a timestamp."
                    )
            _check_schema(sub, f"{where}.properties.{name}")
    for key, value in schema.items():
        if key in ("items", "prefixItems", "anyOf", "oneOf", "allOf", "$defs", "definitions", "not"):
            if key in ("$defs", "definitions") and isinstance(value, dict):
                for name, sub in value.items():
                    _check_schema(sub, f"{where}.{key}.{name}")
            else:
                _check_schema(value, f"{where}.{key}")


def _response_format(body: dict[str, Any]) -> dict[str, Any] | None:
    raw = body.get("response_format")
    if raw is None:
        return None
    if not isinstance(raw, dict) or raw.get("type") != "json_schema":
        raise bad_request(
            'The response_format parameter must be {"type": "json_schema", "json_schema": {...}}.'
        )
    schema = raw.get("json_schema")
    if not isinstance(schema, dict) or not schema:
        raise bad_request("The response_format.json_schema parameter must be a JSON Schema object.")
    _check_schema(schema, "response_format.json_schema")
    return schema


@dataclass
class _Generation:
    """One generated answer, before streaming or wrapping."""

    id: str
    text: str
    finish_reason: str
    input_tokens: int
    output_tokens: int

    @property
    def truncated(self) -> bool:
        return self.finish_reason == "length"


def _generate(
    state: EmulatorState,
    media_key: str,
    duration: float,
    prompt: str,
    schema: dict[str, Any] | None,
    max_tokens: int,
    temperature: float,
) -> _Generation:
    if schema is not None:
        try:
            value = synth.generate_from_schema(schema, media_key, prompt, temperature, duration=duration)
        except synth.SchemaGenerationError as exc:
            raise bad_request(f"response_format.json_schema: {exc}") from None
        full = json.dumps(value, ensure_ascii=False)
    else:
        full = synth.text_for_prompt(prompt, media_key, temperature)
    text = synth.truncate_to_tokens(full, max_tokens)
    finish = "length" if text != full else "stop"
    return _Generation(
        id=synth.new_generation_id(state.new_id()),
        text=text,
        finish_reason=finish,
        # Pegasus bills roughly one token per frame-second sampled plus the prompt.
        input_tokens=synth.count_tokens(prompt) + max(1, math.ceil(duration)) * 4,
        output_tokens=synth.count_tokens(text),
    )


# --------------------------------------------------------------------------------------------------
# POST /analyze
# --------------------------------------------------------------------------------------------------


def _analyze_media(state: EmulatorState, body: dict[str, Any], model: str) -> tuple[SourceMedia, str]:
    """Return the media to analyse and the seed key of the whole input (video or images)."""
    given = [k for k in ("video", "video_id", "image") if k in body]
    if len(given) != 1:
        code = "parameter_not_provided" if not given else "parameter_invalid"
        raise bad_request("Provide exactly one of video, video_id or image.", code)
    if "video_id" in body:
        return _indexed_video(state, body["video_id"]), ""
    if "video" in body:
        video = body["video"]
        if not isinstance(video, dict):
            raise bad_request("The video parameter must be an object.")
        kind = video.get("type")
        if kind not in ("url", "asset_id", "base64_string"):
            raise bad_request("The video.type parameter must be url, asset_id or base64_string.")
        source = {kind: video.get(kind)}
        extra = sorted(set(video) - {"type", kind})
        if extra:
            raise bad_request(
                f"The video.{extra[0]} parameter is not allowed with type {kind}.", "parameter_unknown"
            )
        try:
            media = resolve_source(state, source, "video", "video")
        except APIError as exc:
            if exc.code == "resource_not_exist":
                raise APIError(404, exc.code, exc.message) from None
            raise
        return media, ""
    images = body["image"]
    if model != "pegasus1.6":
        raise bad_request("The image parameter requires model_name pegasus1.6.")
    if not isinstance(images, list) or not 1 <= len(images) <= 20:
        raise bad_request("The image parameter must be an array of 1 to 20 images.")
    keys = []
    for i, item in enumerate(images):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise bad_request(f"image[{i}] must be an object with a name and one source.")
        source = {k: v for k, v in item.items() if k != "name"}
        keys.append(resolve_source(state, source, f"image[{i}]", "image").key)
    return SourceMedia(key="images:" + "|".join(keys), duration=0.0), "images"


def _analysis_window(body: dict[str, Any], duration: float) -> float:
    start = body.get("start_time")
    end = body.get("end_time")
    for name, value in (("start_time", start), ("end_time", end)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float) or value < 0):
            raise bad_request(f"The {name} parameter must be a non-negative number of seconds.")
    lo = float(start or 0.0)
    hi = float(end) if end is not None else duration
    if start is not None and lo >= duration:
        raise bad_request(f"The start_time parameter must be less than the video duration ({duration:g} s).")
    if hi - lo < 1.0:
        raise bad_request("The analysis window (end_time - start_time) must be at least 1 second.")
    return min(hi, duration) - lo


async def analyze(request: Request) -> Response:
    """``POST /analyze``: open-ended analysis of a video or images, streamed (default) or not."""
    state: EmulatorState = request.app.state.emulator
    body = _clean(await read_json(request))
    unknown = sorted(set(body) - _ANALYZE_KEYS)
    if unknown:
        raise bad_request(f"The {unknown[0]} parameter is not supported.", "parameter_unknown")
    model = body.get("model_name", "pegasus1.5")
    if model not in _ANALYZE_MODELS:
        raise bad_request(f"The model_name parameter must be one of: {', '.join(_ANALYZE_MODELS[:2])}.")
    stream = body.get("stream", True)
    if not isinstance(stream, bool):
        raise bad_request("The stream parameter must be a boolean.")
    if "prompt" in body and "prompt_v2" in body:
        raise bad_request("The prompt and prompt_v2 parameters are mutually exclusive.")
    if "image" in body and "prompt_v2" in body:
        raise bad_request("The image and prompt_v2 parameters are mutually exclusive.")
    # Reference images of prompt_v2 change the content; they seed it alongside the media.
    reference_keys: list[str] = []
    if "prompt" in body:
        prompt = _prompt(body["prompt"], "prompt")
    elif "prompt_v2" in body:
        raw = body["prompt_v2"]
        if not isinstance(raw, dict):
            raise bad_request("The prompt_v2 parameter must be an object with input_text.")
        prompt = _prompt(raw.get("input_text"), "prompt_v2.input_text")
        sources = raw.get("media_sources") or []
        if not isinstance(sources, list) or len(sources) > 4:
            raise bad_request("The prompt_v2.media_sources parameter must be an array of up to 4 images.")
        for i, item in enumerate(sources):
            if not isinstance(item, dict):
                raise bad_request(f"prompt_v2.media_sources[{i}] must be an object.")
            source = {k: v for k, v in item.items() if k in ("url", "asset_id", "base64_string")}
            reference_keys.append(resolve_source(state, source, f"prompt_v2.media_sources[{i}]", "image").key)
    else:
        raise bad_request("The prompt parameter is required.", "parameter_not_provided")
    temperature = _temperature(body)
    max_tokens = _max_tokens(body)
    schema = _response_format(body)
    media, kind = _analyze_media(state, body, model)
    _check_failure(media)
    duration = media.duration
    if kind != "images":
        if duration > _MAX_VIDEO_SECONDS:
            raise bad_request(
                f"The video is {duration:g} s long; POST /analyze accepts up to 1 hour. "
                "Use POST /analyze/tasks for longer videos.",
                "video_duration_too_long",
            )
        if duration < _MIN_VIDEO_SECONDS:
            raise bad_request(
                f"The video is {duration:g} s long; analysis needs a video of at least "
                f"{_MIN_VIDEO_SECONDS:g} s.",
                "video_duration_too_short",
            )
        duration = _analysis_window(body, duration)
    seed_key = "|".join([media.key, *reference_keys])
    generation = _generate(state, seed_key, duration, prompt, schema, max_tokens, temperature)
    usage = {"output_tokens": generation.output_tokens, "input_tokens": generation.input_tokens}
    if not stream:
        payload: dict[str, Any] = {
            "id": generation.id,
            "data": generation.text,
            "finish_reason": generation.finish_reason,
            "usage": usage,
        }
        if generation.truncated:
            payload["error"] = {"message": TRUNCATION_MESSAGE}
        return json_response(payload)
    return StreamingResponse(_ndjson(generation, usage), media_type=NDJSON_MEDIA_TYPE)


async def _ndjson(generation: _Generation, usage: dict[str, int]) -> AsyncIterator[bytes]:
    """Yield the stream events, one JSON object per line, flushing between them like a live model."""
    yield _line({"event_type": "stream_start", "metadata": {"generation_id": generation.id}})
    for fragment in synth.split_fragments(generation.text, generation.id):
        await asyncio.sleep(0)
        yield _line({"event_type": "text_generation", "text": fragment})
    end: dict[str, Any] = {
        "event_type": "stream_end",
        "finish_reason": generation.finish_reason,
        "metadata": {"generation_id": generation.id, "usage": usage},
    }
    if generation.truncated:
        end["error"] = {"message": TRUNCATION_MESSAGE}
    yield _line(end)


def _line(event: dict[str, Any]) -> bytes:
    return (json.dumps(event, ensure_ascii=False) + "\n").encode("utf-8")


# --------------------------------------------------------------------------------------------------
# Legacy: POST /summarize and POST /gist
# --------------------------------------------------------------------------------------------------


def _sunset(path: str) -> APIError:
    return APIError(
        410,
        "endpoint_sunset",
        f"The {path} endpoint has been sunset and removed. Use POST /analyze with the response_format "
        f"parameter instead; see {_SUNSET_DOCS}.",
        docs_url=False,
    )


async def summarize(request: Request) -> Response:
    """``POST /summarize`` (deprecated): a summary, chapters or highlights of an indexed video."""
    state: EmulatorState = request.app.state.emulator
    if state.config.summarize_gone:
        raise _sunset("/summarize")
    body = _clean(await read_json(request))
    unknown = sorted(
        set(body) - {"video_id", "type", "prompt", "temperature", "response_format", "max_tokens"}
    )
    if unknown:
        raise bad_request(f"The {unknown[0]} parameter is not supported.", "parameter_unknown")
    if "video_id" not in body:
        raise bad_request("The video_id parameter is required.", "parameter_not_provided")
    kind = body.get("type")
    if kind not in ("summary", "chapter", "highlight"):
        raise bad_request("The type parameter must be summary, chapter or highlight.")
    prompt = _prompt(body["prompt"], "prompt") if "prompt" in body else ""
    temperature = _temperature(body)
    max_tokens = _max_tokens(body)
    schema = _response_format(body)
    if schema is not None and kind != "summary":
        raise bad_request("The response_format parameter is only valid when type is summary.")
    media = _indexed_video(state, body["video_id"])
    _check_failure(media)
    result_id = synth.new_generation_id(state.new_id())
    if kind == "summary":
        if schema is not None:
            generation = _generate(state, media.key, media.duration, prompt, schema, max_tokens, temperature)
            text = generation.text
        else:
            text = synth.truncate_to_tokens(synth.summary_text(media.key, prompt, temperature), max_tokens)
        return json_response(
            {
                "summarize_type": "summary",
                "id": result_id,
                "summary": text,
                "usage": {"output_tokens": synth.count_tokens(text)},
            }
        )
    if kind == "chapter":
        chapters = synth.chapters(media.duration, media.key, prompt)
        tokens = sum(synth.count_tokens(c["chapter_title"] + " " + c["chapter_summary"]) for c in chapters)
        return json_response(
            {
                "summarize_type": "chapter",
                "id": result_id,
                "chapters": chapters,
                "usage": {"output_tokens": tokens},
            }
        )
    highlights = synth.highlights(media.duration, media.key, prompt)
    tokens = sum(synth.count_tokens(h["highlight"] + " " + h["highlight_summary"]) for h in highlights)
    return json_response(
        {
            "summarize_type": "highlight",
            "id": result_id,
            "highlights": highlights,
            "usage": {"output_tokens": tokens},
        }
    )


async def gist(request: Request) -> Response:
    """``POST /gist`` (deprecated): title, topics and/or hashtags of an indexed video."""
    state: EmulatorState = request.app.state.emulator
    if state.config.gist_gone:
        raise _sunset("/gist")
    body = _clean(await read_json(request))
    unknown = sorted(set(body) - {"video_id", "types"})
    if unknown:
        raise bad_request(f"The {unknown[0]} parameter is not supported.", "parameter_unknown")
    if "video_id" not in body:
        raise bad_request("The video_id parameter is required.", "parameter_not_provided")
    types = body.get("types")
    if not isinstance(types, list) or not types or any(t not in ("title", "topic", "hashtag") for t in types):
        raise bad_request("The types parameter must be a non-empty array of title, topic and hashtag.")
    media = _indexed_video(state, body["video_id"])
    _check_failure(media)
    parts = synth.gist(types, media.key)
    text = " ".join([parts.get("title", ""), *parts.get("topics", []), *parts.get("hashtags", [])])
    return json_response(
        {
            "id": synth.new_generation_id(state.new_id()),
            **parts,
            "usage": {"output_tokens": synth.count_tokens(text)},
        }
    )


routes: list[Route] = [
    Route(f"{_PREFIX}/analyze", analyze, methods=["POST"]),
    Route(f"{_PREFIX}/summarize", summarize, methods=["POST"]),
    Route(f"{_PREFIX}/gist", gist, methods=["POST"]),
]
