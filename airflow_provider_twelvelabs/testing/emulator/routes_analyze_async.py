"""Asynchronous Pegasus endpoints of the emulator: ``/analyze/tasks`` and ``/analyze/batches``.

Shapes, limits and error statuses follow SDK 1.3.6 (``twelvelabs/analyze_async``; contract.md 18).

A task moves ``queued`` → ``pending`` → ``processing`` → ``ready`` (or ``failed``) on the emulator's
schedule (:class:`~airflow_provider_twelvelabs.testing.emulator.state.Lifecycle`: reads and/or
simulated time, and ``POST /_emulator/advance``). A cancel ends it ``canceled`` at once. A batch has
no lifecycle of its own: its status is derived from its items' tasks, and every read of a batch
(``GET``, listing, results) counts as one read of each of its items.

Results are synthesized deterministically: text for ``general`` mode, JSON generated from the
caller's schema with ``response_format.json_schema``, and for ``time_based_metadata`` a JSON object
keyed by segment definition id, each holding segments with ``start_time``, ``end_time`` and a
``metadata`` object with every defined field.

Test switches (``EmulatorConfig``, read when a task or batch is created): ``analyze_task_fail``,
``analyze_task_never_finish``, ``analyze_task_warning`` and ``analyze_batch_item_failure_rate``;
``analyze_max_active_batches`` is the account's active-batch limit (5 on the real API). Media whose
name or URL carries the ``fail_analyze`` marker (or a URL with any ``fail`` marker) make the task
fail while processing, rather than being refused as by the synchronous ``/analyze``.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from airflow_provider_twelvelabs.testing.emulator import synth
from airflow_provider_twelvelabs.testing.emulator.errors import APIError, bad_request, not_found
from airflow_provider_twelvelabs.testing.emulator.routes_analyze import (
    TRUNCATION_MESSAGE,
    _check_schema,
    _clean,
    _prompt,
)
from airflow_provider_twelvelabs.testing.emulator.routes_embed import SourceMedia, resolve_source
from airflow_provider_twelvelabs.testing.emulator.state import EmulatorState, Lifecycle, isoformat
from airflow_provider_twelvelabs.testing.emulator.wire import (
    json_response,
    no_content,
    page_params,
    paginate,
    parse_query,
    read_json,
)

__all__ = [
    "ANALYZE_BATCHES",
    "ANALYZE_TASKS",
    "JSONL_MEDIA_TYPE",
    "TASK_STEPS",
    "AnalyzeBatch",
    "AnalyzeTask",
    "routes",
]

_PREFIX = "/v1.3"
#: Collections of the state holding the tasks and the batches.
ANALYZE_TASKS = "analyze_tasks"
ANALYZE_BATCHES = "analyze_batches"
#: Non-terminal statuses of an analyze task, in order.
TASK_STEPS = ("queued", "pending", "processing")
#: Content type of the batch results stream.
JSONL_MEDIA_TYPE = "application/jsonl"

_TASK_STATUSES = (*TASK_STEPS, "ready", "failed", "canceled")
_TASK_TERMINAL = ("ready", "failed", "canceled")
_BATCH_STATUSES = ("pending", "processing", "canceling", "canceled", "completed", "expired")
_BATCH_ACTIVE = ("pending", "processing", "canceling")
_BATCH_DONE = ("completed", "canceled", "expired")
_MODES = ("general", "time_based_metadata")
_TASK_MODELS = ("pegasus1.5", "pegasus1.6")
_BATCH_MODELS = ("pegasus1.5",)
_SOURCE_KEYS = ("url", "asset_id", "base64_string")
_TIME_FORMATS = ("seconds", "hh:mm:ss", "hh:mm:ss.fff")
_FIELD_TYPES = ("string", "boolean", "number", "integer", "array", "timestamp", "time_array")
_SCALARS = ("string", "number", "boolean", "integer")
_RESERVED_FIELDS = ("start_time", "end_time", "metadata")
_CUSTOM_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_IMAGE_NAME = re.compile(r"^[A-Za-z0-9_]+$")
#: max_tokens range and default per analysis mode (SDK 1.3.6 table).
_MAX_TOKENS = {"general": (512, 98_304, 4096), "time_based_metadata": (2048, 98_304, 32_768)}
_MAX_WINDOW = 2 * 3600.0
#: Pegasus analyses videos of at least 1 s (SDK 1.3.6 input requirements).
_MIN_VIDEO = 1.0
_MAX_VIDEO = 4 * 3600.0
_MAX_BATCH_REQUESTS = 1000
_MAX_BATCH_HOURS = 2000.0
_BATCH_EXPIRY = timedelta(hours=24)
_BATCH_RETENTION = timedelta(days=30)
_LIST_TEXT = 30

_TASK_KEYS = {
    "model_name",
    "custom_id",
    "video",
    "image",
    "prompt",
    "prompt_v2",
    "analysis_mode",
    "temperature",
    "max_tokens",
    "response_format",
    "min_segment_duration",
    "max_segment_duration",
    "start_time",
    "end_time",
}
_ITEM_OPTIONS = {
    "prompt",
    "response_format",
    "temperature",
    "max_tokens",
    "min_segment_duration",
    "max_segment_duration",
    "start_time",
    "end_time",
}
_FAILED_MESSAGE = "The video could not be processed for analysis; the file may be corrupt or unreachable."
_SWITCH_FAILED_MESSAGE = "The analysis could not be completed."
_OVER_LIMIT_MESSAGE = (
    "analysis failed: the time_based_metadata output reached the configured max_tokens before a complete "
    "result was produced. Raise max_tokens, or narrow the request (fewer segment_definitions or fields, a "
    "larger min_segment_duration, or a shorter analysis window)."
)
_CANCELED_MESSAGE = "The task was canceled by the user."
_BATCH_CANCELED_MESSAGE = "The task was canceled because its batch was canceled."
_BATCH_EXPIRED_MESSAGE = "The task was canceled because its batch expired before it finished."
_PARTIAL_MESSAGE = (
    "partial result: some output for segment_definitions {id} could not be recovered during analysis; "
    "returned results may be incomplete."
)


# --------------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------------


@dataclass
class _Spec:
    """A validated analysis request: what to analyse and how."""

    model: str
    mode: str
    media: SourceMedia
    video_source: dict[str, Any] | None
    images: list[dict[str, Any]] | None
    prompt: str | None
    prompt_v2: dict[str, Any] | None
    seed_key: str
    response_format: dict[str, Any] | None
    temperature: float | None
    max_tokens: int | str
    min_segment: float | None
    max_segment: float | None
    start_time: float | None
    end_time: float | None
    window: tuple[float, float]
    too_long: bool = False
    too_short: bool = False

    @property
    def prompt_text(self) -> str:
        """The prompt's text, whichever way it was given."""
        if self.prompt is not None:
            return self.prompt
        return str((self.prompt_v2 or {}).get("input_text") or "")


@dataclass
class AnalyzeTask:
    """An asynchronous analysis task.

    :param id: the task id.
    :param spec: the validated request.
    :param custom_id: the caller's identifier, or ``None``.
    :param created_at: creation time.
    :param lifecycle: ``queued`` → ``pending`` → ``processing`` → ``ready``/``failed``.
    :param batch_id: the batch that created it, if any.
    :param failure: the ``error`` of a failed task (``message`` and maybe ``code``).
    :param warning: whether a ready task carries a warning (the ``analyze_task_warning`` switch).
    """

    id: str
    spec: _Spec
    custom_id: str | None
    created_at: datetime
    lifecycle: Lifecycle
    batch_id: str | None = None
    failure: dict[str, str] | None = None
    warning: bool = False
    canceled_at: datetime | None = None
    cancel_code: str | None = None
    _result: tuple[dict[str, Any], dict[str, str] | None] | None = field(default=None, repr=False)

    def status(self, *, observe: bool = True) -> str:
        """Return the status, counting one read unless ``observe`` is false.

        :param observe: whether this is a read that moves the lifecycle on.
        """
        current = self.lifecycle.observe() if observe else self.lifecycle.peek()
        return "canceled" if self.canceled_at is not None else current

    def cancel(self, moment: datetime, code: str) -> None:
        """End the task ``canceled`` (the first reason is kept).

        :param moment: when it was canceled.
        :param code: the ``error.code`` (``user_canceled``, ``batch_canceled``, ``batch_expired``).
        """
        if self.canceled_at is None:
            self.canceled_at = moment
            self.cancel_code = code

    def completed_at(self, status: str) -> datetime | None:
        """When the task reached its final status, or ``None`` while it runs.

        :param status: the current status.
        """
        if status == "canceled":
            return self.canceled_at
        if status in ("ready", "failed"):
            return self.lifecycle.reached_at.get(status)
        return None


@dataclass
class AnalyzeBatch:
    """A batch of analysis tasks; its status is derived from its items.

    :param id: the batch id.
    :param model: the model of every item.
    :param mode: the analysis mode of every item.
    :param created_at: creation time.
    :param task_ids: the item tasks, in submission order.
    """

    id: str
    model: str
    mode: str
    created_at: datetime
    task_ids: list[str]
    cancel_requested_at: datetime | None = None
    expired: bool = False

    @property
    def expires_at(self) -> datetime:
        """24 hours after creation."""
        return self.created_at + _BATCH_EXPIRY


# --------------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------------


def _number(value: Any, name: str, *, minimum: float | None = None) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise bad_request(f"The {name} parameter must be a number.")
    if minimum is not None and value < minimum:
        raise bad_request(f"The {name} parameter must be at least {minimum:g}.")
    return float(value)


def _custom_id(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _CUSTOM_ID.match(value):
        raise bad_request(
            f"The {name} parameter must be 1-64 characters: letters, digits, hyphens and underscores."
        )
    return value


def _check_keys(obj: dict[str, Any], allowed: Iterable[str], where: str) -> None:
    unknown = sorted(set(obj) - set(allowed))
    if unknown:
        raise bad_request(f"The {where}{unknown[0]} parameter is not supported.", "parameter_unknown")


def _media_sources(state: EmulatorState, raw: Any, where: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Validate up to 4 reference images; return their echo (as the task shows them) and seed keys."""
    if raw is None:
        return [], []
    if not isinstance(raw, list) or len(raw) > 4:
        raise bad_request(f"The {where} parameter must be an array of up to 4 images.")
    echo: list[dict[str, Any]] = []
    keys: list[str] = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
            raise bad_request(f"{where}[{i}] must be an object with a name and one image source.")
        media_type = item.get("media_type", "image")
        if media_type != "image":
            raise bad_request(f"{where}[{i}].media_type must be image.")
        source = {k: item[k] for k in _SOURCE_KEYS if item.get(k) is not None}
        keys.append(resolve_source(state, source, f"{where}[{i}]", "image").key)
        echo.append(_image_echo(item))
    return echo, keys


def _image_echo(item: dict[str, Any]) -> dict[str, Any]:
    # A base64 image is echoed by name and type only (SDK AnalyzeTaskMediaSource).
    echo = {"name": item["name"], "media_type": "image"}
    for key in ("url", "asset_id"):
        if item.get(key) is not None:
            echo[key] = item[key]
    return echo


def _video(state: EmulatorState, raw: Any, where: str, *, batch: bool) -> tuple[SourceMedia, dict[str, Any]]:
    if not isinstance(raw, dict):
        raise bad_request(f"The {where} parameter must be an object.")
    kind = raw.get("type")
    allowed = ("asset_id",) if batch else _SOURCE_KEYS
    if kind not in allowed:
        raise bad_request(f"The {where}.type parameter must be {' or '.join(allowed)}.")
    extra = sorted(set(raw) - {"type", kind})
    if extra:
        raise bad_request(
            f"The {where}.{extra[0]} parameter is not allowed with type {kind}.", "parameter_unknown"
        )
    try:
        media = resolve_source(state, {kind: raw.get(kind)}, where, "video")
    except APIError as exc:
        if exc.code == "resource_not_exist":
            raise APIError(404, exc.code, exc.message) from None
        raise
    source: dict[str, Any] = {"type": kind}
    if kind != "base64_string":
        source[str(kind)] = raw[kind]
    source["system_metadata"] = {"duration": media.duration}
    return media, source


def _images(state: EmulatorState, raw: Any) -> tuple[SourceMedia, list[dict[str, Any]]]:
    if not isinstance(raw, list) or not 1 <= len(raw) <= 20:
        raise bad_request("The image parameter must be an array of 1 to 20 images.")
    names: set[str] = set()
    keys: list[str] = []
    echo: list[dict[str, Any]] = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise bad_request(f"image[{i}] must be an object with a name and one source.")
        name = item["name"]
        if not _IMAGE_NAME.match(name) or name in names:
            raise bad_request(
                f"image[{i}].name must be unique and contain only letters, digits and underscores."
            )
        names.add(name)
        source = {k: item[k] for k in _SOURCE_KEYS if item.get(k) is not None}
        keys.append(resolve_source(state, source, f"image[{i}]", "image").key)
        echo.append(_image_echo(item))
    return SourceMedia(key="images:" + "|".join(keys), duration=0.0), echo


def _check_field(raw: Any, where: str, model: str, *, in_event: bool = False) -> None:
    if not isinstance(raw, dict):
        raise bad_request(f"{where} must be an object with name, type and description.")
    name, kind = raw.get("name"), raw.get("type")
    if not isinstance(name, str) or not name:
        raise bad_request(f"{where}.name must be a non-empty string.")
    if name in _RESERVED_FIELDS:
        raise bad_request(f"{where}.name: {name} is reserved.")
    if not isinstance(raw.get("description"), str) or not raw["description"]:
        raise bad_request(f"{where}.description must be a non-empty string.")
    allowed: tuple[str, ...] = (
        ("string", "boolean", "number", "integer", "array") if in_event else _FIELD_TYPES
    )
    if kind == "time_array" and not in_event and model != "pegasus1.6":
        allowed = tuple(t for t in _FIELD_TYPES if t != "time_array")
    if kind not in allowed:
        raise bad_request(f"{where}.type must be one of: {', '.join(allowed)}.")
    fmt = raw.get("format")
    if kind == "timestamp":
        if fmt not in _TIME_FORMATS:
            raise bad_request(
                f"{where}.format: format is required for timestamp type; allowed values: "
                + ", ".join(_TIME_FORMATS)
            )
        if raw.get("enum") is not None or raw.get("items") is not None:
            raise bad_request(f"{where}: enum and items are not supported with type timestamp.")
    elif fmt is not None:
        raise bad_request(f"{where}.format is only allowed with type timestamp.")
    enum = raw.get("enum")
    if enum is not None:
        if (
            not isinstance(enum, list)
            or not enum
            or len(enum) > 100
            or not all(isinstance(v, str) for v in enum)
        ):
            raise bad_request(f"{where}.enum must be an array of 1 to 100 strings.")
        if in_event and kind != "string":
            raise bad_request(f"{where}.enum is only supported with type string.")
    items = raw.get("items")
    if kind in ("array", "time_array"):
        if not isinstance(items, dict):
            raise bad_request(f"{where}.items is required with type {kind}.")
        if kind == "array":
            if items.get("type") not in _SCALARS or "fields" in items:
                raise bad_request(
                    f"{where}.items.type must be one of: {', '.join(_SCALARS)}, without fields."
                )
        else:
            fields = items.get("fields")
            if items.get("type") != "object" or not isinstance(fields, list) or not fields:
                raise bad_request(
                    f"{where}.items must be {{type: object, fields: [...]}} with at least one field."
                )
            seen: set[str] = set()
            for j, sub in enumerate(fields):
                _check_field(sub, f"{where}.items.fields[{j}]", model, in_event=True)
                if sub["name"] in seen:
                    raise bad_request(f"{where}.items.fields[{j}].name must be unique.")
                seen.add(sub["name"])
    elif items is not None:
        raise bad_request(f"{where}.items is only allowed with type array or time_array.")


def _check_time_ranges(raw: Any, where: str, duration: float) -> list[tuple[float, float]]:
    if not isinstance(raw, list) or not raw:
        raise bad_request(f"{where} must be a non-empty array of {{start_time, end_time}}.")
    ranges: list[tuple[float, float]] = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise bad_request(f"{where}[{i}] must be an object with start_time and end_time.")
        start = _number(item.get("start_time"), f"{where}[{i}].start_time", minimum=0)
        end = _number(item.get("end_time"), f"{where}[{i}].end_time", minimum=0)
        if start is None or end is None or end - start < 2:
            raise bad_request(f"{where}[{i}]: end_time must exceed start_time by at least 2 seconds.")
        if end > duration:
            raise bad_request(
                f"{where}[{i}]: the range must fall within the video duration ({duration:g} s)."
            )
        ranges.append((start, end))
    ordered = sorted(ranges)
    for (_, a_end), (b_start, _) in itertools.pairwise(ordered):
        if b_start < a_end:
            raise bad_request(f"{where}: time ranges must not overlap.")
    return ranges


def _response_format(raw: Any, mode: str, model: str, where: str) -> dict[str, Any] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise bad_request(f"The {where} parameter must be an object.")
    kind = raw.get("type")
    if kind == "json_schema":
        _check_keys(raw, ("type", "json_schema"), f"{where}.")
        if mode != "general":
            raise bad_request(f"{where}.type json_schema requires analysis_mode general.")
        schema = raw.get("json_schema")
        if not isinstance(schema, dict) or not schema:
            raise bad_request(f"The {where}.json_schema parameter must be a JSON Schema object.")
        _check_schema(schema, f"{where}.json_schema")
        return {"type": "json_schema", "json_schema": schema}
    if kind == "segment_definitions":
        _check_keys(raw, ("type", "segment_definitions", "segment_time_format"), f"{where}.")
        if mode != "time_based_metadata":
            raise bad_request(f"{where}.type segment_definitions requires analysis_mode time_based_metadata.")
        time_format = raw.get("segment_time_format")
        if time_format is not None and time_format not in _TIME_FORMATS:
            raise bad_request(f"{where}.segment_time_format must be one of: {', '.join(_TIME_FORMATS)}.")
        definitions = raw.get("segment_definitions")
        if not isinstance(definitions, list) or not 1 <= len(definitions) <= 20:
            raise bad_request(f"{where}.segment_definitions must be an array of 1 to 20 definitions.")
        ids: set[str] = set()
        for i, definition in enumerate(definitions):
            at = f"{where}.segment_definitions[{i}]"
            if not isinstance(definition, dict):
                raise bad_request(f"{at} must be an object with id and description.")
            _check_keys(definition, ("id", "description", "fields", "media_sources", "time_ranges"), f"{at}.")
            def_id = definition.get("id")
            if not isinstance(def_id, str) or not def_id or def_id in ids:
                raise bad_request(f"{at}.id must be a unique non-empty string.")
            ids.add(def_id)
            if not isinstance(definition.get("description"), str) or not definition["description"]:
                raise bad_request(f"{at}.description must be a non-empty string.")
            fields = definition.get("fields") or []
            if not isinstance(fields, list):
                raise bad_request(f"{at}.fields must be an array.")
            names: set[str] = set()
            for j, item in enumerate(fields):
                _check_field(item, f"{at}.fields[{j}]", model)
                if item["name"] in names:
                    raise bad_request(f"{at}.fields[{j}].name must be unique.")
                names.add(item["name"])
        return dict(raw)
    raise bad_request(f"The {where}.type parameter must be json_schema or segment_definitions.")


def _parse_request(
    state: EmulatorState, body: dict[str, Any], *, batch: bool = False, where: str = ""
) -> _Spec:
    """Validate one analysis request (a task body, or a batch item merged with the defaults).

    :param state: the emulator state.
    :param body: the request fields, explicit nulls removed.
    :param batch: a batch item: the video is an asset, the prompt a structured object, and a window
        over 2 hours fails the item alone instead of the request.
    :param where: prefix of parameter names in messages (``requests[3].``).
    """
    model = body.get("model_name", "pegasus1.5")
    models = _BATCH_MODELS if batch else _TASK_MODELS
    if model not in models:
        raise bad_request(f"The model_name parameter must be one of: {', '.join(models)}.")
    mode = body.get("analysis_mode", "general")
    if mode not in _MODES:
        raise bad_request(f"The analysis_mode parameter must be one of: {', '.join(_MODES)}.")
    given = [k for k in ("video", "image") if k in body]
    if len(given) != 1:
        code = "parameter_not_provided" if not given else "parameter_invalid"
        raise bad_request(f"Provide exactly one of {where}video or {where}image.", code)
    prompt: str | None = None
    prompt_v2: dict[str, Any] | None = None
    reference_keys: list[str] = []
    raw_v2 = body.get("prompt") if batch else body.get("prompt_v2")
    v2_name = f"{where}prompt" if batch else "prompt_v2"
    if not batch and "prompt" in body:
        if "prompt_v2" in body:
            raise bad_request("The prompt and prompt_v2 parameters are mutually exclusive.")
        prompt = _prompt(body["prompt"], "prompt")
    elif raw_v2 is not None:
        if not isinstance(raw_v2, dict):
            raise bad_request(f"The {v2_name} parameter must be an object with input_text.")
        _check_keys(raw_v2, ("input_text", "media_sources"), f"{v2_name}.")
        text = _prompt(raw_v2.get("input_text"), f"{v2_name}.input_text")
        echo, reference_keys = _media_sources(state, raw_v2.get("media_sources"), f"{v2_name}.media_sources")
        prompt_v2 = {"input_text": text}
        if echo:
            prompt_v2["media_sources"] = echo
    if mode == "general" and prompt is None and prompt_v2 is None:
        raise bad_request(
            f"The {where}prompt parameter is required for general analysis.", "parameter_not_provided"
        )
    if mode == "time_based_metadata" and (prompt is not None or prompt_v2 is not None):
        raise bad_request(
            f"The {where}prompt parameter is not supported with analysis_mode time_based_metadata."
        )
    images: list[dict[str, Any]] | None = None
    video_source: dict[str, Any] | None = None
    if "image" in body:
        if model != "pegasus1.6":
            raise bad_request("The image parameter requires model_name pegasus1.6.")
        if prompt_v2 is not None:
            raise bad_request("The image and prompt_v2 parameters are mutually exclusive.")
        if prompt is None:
            raise bad_request("The prompt parameter is required with image.", "parameter_not_provided")
        media, images = _images(state, body["image"])
    else:
        media, video_source = _video(state, body["video"], f"{where}video", batch=batch)
    temperature = _number(body.get("temperature"), f"{where}temperature")
    if temperature is not None and not 0 <= temperature <= 1:
        raise bad_request(f"The {where}temperature parameter must be a number between 0 and 1.")
    response_format = _response_format(body.get("response_format"), mode, model, f"{where}response_format")
    if mode == "time_based_metadata" and response_format is None:
        raise bad_request(
            f"The {where}response_format parameter with type segment_definitions is required with "
            "analysis_mode time_based_metadata.",
            "parameter_not_provided",
        )
    low, high, default = _MAX_TOKENS[mode]
    max_tokens: int | str = body.get("max_tokens", default)
    if max_tokens == "unlimited" and not batch:
        if mode != "time_based_metadata" or model != "pegasus1.6":
            raise bad_request(
                "max_tokens unlimited requires analysis_mode time_based_metadata and pegasus1.6."
            )
    elif isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or not low <= max_tokens <= high:
        raise bad_request(f"The {where}max_tokens parameter must be an integer between {low} and {high}.")
    min_segment = _number(body.get("min_segment_duration"), f"{where}min_segment_duration", minimum=2)
    max_segment = _number(body.get("max_segment_duration"), f"{where}max_segment_duration", minimum=2)
    if (min_segment is not None or max_segment is not None) and mode != "time_based_metadata":
        raise bad_request(
            "min_segment_duration and max_segment_duration require analysis_mode time_based_metadata."
        )
    if min_segment is not None and max_segment is not None and max_segment < min_segment:
        raise bad_request(f"The {where}max_segment_duration parameter must be at least min_segment_duration.")
    start = _number(body.get("start_time"), f"{where}start_time", minimum=0)
    end = _number(body.get("end_time"), f"{where}end_time", minimum=0)
    duration = media.duration
    too_long = False
    too_short = images is None and duration < _MIN_VIDEO
    if too_short and not batch:
        raise bad_request(
            f"The video is {duration:g} s long; analysis needs a video of at least {_MIN_VIDEO:g} s.",
            "video_duration_too_short",
        )
    if too_short:
        lo, hi = 0.0, duration  # the item fails alone, like one over 2 hours
    elif images is None:
        if start is not None and start >= duration:
            raise bad_request(
                f"The {where}start_time parameter must be less than the video duration ({duration:g} s)."
            )
        if end is not None and end > duration:
            raise bad_request(
                f"The {where}end_time parameter must not exceed the video duration ({duration:g} s)."
            )
        lo, hi = start or 0.0, end if end is not None else duration
        if hi - lo < 1:
            raise bad_request(
                f"The {where}analysis window (end_time - start_time) must be at least 1 second."
            )
        too_long = hi - lo > _MAX_WINDOW or duration > _MAX_VIDEO
        if too_long and not batch:
            raise bad_request(
                f"The analysis window is {hi - lo:g} s of a {duration:g} s video; analyze at most 2 hours, "
                "of a video up to 4 hours long.",
                "video_duration_too_long",
            )
    else:
        lo, hi = 0.0, 0.0
    if response_format is not None and response_format["type"] == "segment_definitions":
        definitions = response_format["segment_definitions"]
        for i, definition in enumerate(definitions):
            if definition.get("time_ranges") is None:
                continue
            at = f"{where}response_format.segment_definitions[{i}].time_ranges"
            if start is not None or end is not None or min_segment is not None or max_segment is not None:
                raise bad_request(
                    f"{at} is mutually exclusive with start_time, end_time, min_segment_duration and "
                    "max_segment_duration."
                )
            if max_tokens == "unlimited":
                raise bad_request(f"{at} is mutually exclusive with max_tokens unlimited.")
            _check_time_ranges(definition["time_ranges"], at, duration)
    return _Spec(
        model=model,
        mode=mode,
        media=media,
        video_source=video_source,
        images=images,
        prompt=prompt,
        prompt_v2=prompt_v2,
        seed_key="|".join([media.key, *reference_keys]),
        response_format=response_format,
        temperature=temperature,
        max_tokens=max_tokens,
        min_segment=min_segment,
        max_segment=max_segment,
        start_time=start,
        end_time=end,
        window=(lo, hi),
        too_long=too_long,
        too_short=too_short,
    )


# --------------------------------------------------------------------------------------------------
# Synthetic results
# --------------------------------------------------------------------------------------------------


def _clock(seconds: float, fmt: str) -> str | float:
    if fmt == "seconds":
        return round(seconds, 3)
    seconds = max(seconds, 0.0)
    if fmt == "hh:mm:ss":
        whole = round(seconds)
        return f"{whole // 3600:02d}:{whole // 60 % 60:02d}:{whole % 60:02d}"
    millis = round(seconds * 1000)
    return (
        f"{millis // 3_600_000:02d}:{millis // 60_000 % 60:02d}:{millis // 1000 % 60:02d}.{millis % 1000:03d}"
    )


def _scalar(kind: str, rng: Any, enum: list[str] | None = None) -> Any:
    if enum:
        return rng.choice(enum)
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "integer":
        return rng.randint(0, 100)
    if kind == "number":
        return round(rng.uniform(0, 100), 2)
    return synth.truncate_to_tokens(synth.summary_text(rng.random()), 16)


def _field_value(item: dict[str, Any], span: tuple[float, float], time_format: str, rng: Any) -> Any:
    kind = item["type"]
    if kind == "timestamp":
        return _clock(rng.uniform(*span), item["format"])
    if kind == "array":
        return [_scalar(item["items"]["type"], rng) for _ in range(rng.randint(1, 3))]
    if kind == "time_array":
        events = []
        start, end = span
        for _ in range(rng.randint(1, 3)):
            a = rng.uniform(start, end)
            b = rng.uniform(a, end)
            event: dict[str, Any] = {"start_time": _clock(a, time_format), "end_time": _clock(b, time_format)}
            for sub in item["items"]["fields"]:
                event[sub["name"]] = _field_value(sub, (a, b), time_format, rng)
            events.append(event)
        events.sort(key=lambda e: str(e["start_time"]).zfill(16))
        return events
    return _scalar(kind, rng, item.get("enum"))


def _spans(start: float, end: float, low: float, high: float, rng: Any) -> list[tuple[float, float]]:
    """Cut ``[start, end]`` into contiguous spans of ``low``..``high`` seconds (the last may be shorter)."""
    if end - start <= low:
        return [(start, end)]
    spans: list[tuple[float, float]] = []
    t = start
    while end - t > 1e-9:
        length = min(rng.uniform(low, high), end - t)
        if end - (t + length) < low and end - t <= high:
            length = end - t
        spans.append((t, t + length))
        t += length
    return spans


def _segments(spec: _Spec, rng: Any) -> dict[str, list[dict[str, Any]]]:
    rf = spec.response_format or {}
    time_format = rf.get("segment_time_format") or "seconds"
    out: dict[str, list[dict[str, Any]]] = {}
    for definition in rf.get("segment_definitions") or []:
        ranges = [(r["start_time"], r["end_time"]) for r in definition.get("time_ranges") or []] or [
            spec.window
        ]
        segments: list[dict[str, Any]] = []
        for start, end in ranges:
            length = end - start
            low = spec.min_segment or max(2.0, length / 50)
            high = max(spec.max_segment or max(low, length / 5), low)
            candidates = _spans(start, end, low, high, rng)
            chosen = [span for span in candidates if rng.random() < 0.6] or [rng.choice(candidates)]
            for a, b in chosen:
                segment: dict[str, Any] = {
                    "start_time": _clock(a, time_format),
                    "end_time": _clock(b, time_format),
                    "metadata": {
                        item["name"]: _field_value(item, (a, b), time_format, rng)
                        for item in definition.get("fields") or []
                    },
                }
                segments.append(segment)
        out[definition["id"]] = segments
    return out


def _generate(state: EmulatorState, task: AnalyzeTask) -> tuple[dict[str, Any], dict[str, str] | None]:
    """Return the task's ``result`` and its warning ``error`` (or ``None``), computed once."""
    if task._result is not None:
        return task._result
    spec = task.spec
    prompt = spec.prompt_text
    temperature = spec.temperature if spec.temperature is not None else 0.2
    warning: dict[str, str] | None = None
    finish = "stop"
    if spec.mode == "time_based_metadata":
        rng = state.rng(
            "analyze-task", spec.seed_key, json.dumps(spec.response_format, sort_keys=True), spec.window
        )
        segments = _segments(spec, rng)
        if task.warning:
            first = next(iter(segments))
            if len(segments[first]) > 1:
                segments[first] = segments[first][:-1]
            warning = {"message": _PARTIAL_MESSAGE.format(id=first)}
        text = json.dumps(segments, ensure_ascii=False)
    else:
        schema = (spec.response_format or {}).get("json_schema")
        if schema is not None:
            duration = (spec.window[1] - spec.window[0]) or 60.0
            try:
                value = synth.generate_from_schema(
                    schema, spec.seed_key, prompt, temperature, duration=duration
                )
            except synth.SchemaGenerationError as exc:
                value = {"error": str(exc)}
            full = json.dumps(value, ensure_ascii=False)
        else:
            full = synth.text_for_prompt(prompt, spec.seed_key, temperature)
        budget = int(spec.max_tokens) if isinstance(spec.max_tokens, int) else synth.count_tokens(full)
        if task.warning:
            budget = min(budget, max(1, synth.count_tokens(full) // 2))
        text = synth.truncate_to_tokens(full, budget)
        if text != full:
            finish = "length"
            warning = {"message": TRUNCATION_MESSAGE}
    seconds = spec.window[1] - spec.window[0]
    result = {
        "generation_id": synth.new_generation_id(task.id),
        "data": text,
        "finish_reason": finish,
        "usage": {
            "output_tokens": synth.count_tokens(text),
            "input_tokens": synth.count_tokens(prompt) + max(1, math.ceil(seconds)) * 4,
        },
    }
    task._result = (result, warning)
    return task._result


# --------------------------------------------------------------------------------------------------
# Task store and rendering
# --------------------------------------------------------------------------------------------------


def _tasks(state: EmulatorState) -> dict[str, Any]:
    return state.collection(ANALYZE_TASKS)


def _batches(state: EmulatorState) -> dict[str, Any]:
    return state.collection(ANALYZE_BATCHES)


def _new_task(
    state: EmulatorState,
    spec: _Spec,
    custom_id: str | None,
    *,
    batch_id: str | None = None,
    fail_item: bool = False,
) -> AnalyzeTask:
    config = state.config
    media = spec.media
    failure: dict[str, str] | None = None
    if spec.too_long:
        failure = {
            "code": "video_duration_too_long",
            "message": "The analysis window exceeds 2 hours, or the video exceeds 4 hours.",
        }
    elif spec.too_short:
        failure = {
            "code": "video_duration_too_short",
            "message": f"The video is shorter than {_MIN_VIDEO:g} s, the minimum Pegasus analyses.",
        }
    elif media.failure == "analyze" or (media.input_url and media.failure):
        failure = {"code": "video_file_broken", "message": _FAILED_MESSAGE}
    elif fail_item:
        failure = {"code": "asset_unavailable", "message": "The asset could not be read."}
    elif config.analyze_task_fail:
        failure = {"message": _SWITCH_FAILED_MESSAGE}
    refused = spec.too_long or spec.too_short
    if config.analyze_task_never_finish and not refused:
        # The last status repeats as the "final" one: the task stays processing for ever.
        lifecycle = state.new_lifecycle(TASK_STEPS, success="processing")
    else:
        lifecycle = state.new_lifecycle(TASK_STEPS, fail=failure is not None)
        if refused:
            lifecycle.complete()  # refused at submission: the item is failed from the start
    if not refused:
        lifecycle.lasting(config.analyze_task_seconds)
    task = AnalyzeTask(
        id=state.new_id(),
        spec=spec,
        custom_id=custom_id,
        created_at=state.now(),
        lifecycle=lifecycle,
        batch_id=batch_id,
        failure=failure,
        warning=config.analyze_task_warning,
    )
    # With a numeric max_tokens, segmentation output over the limit fails the task (no partial
    # result), as SDK 1.3.6 documents; the output is deterministic, so it is known now.
    if (
        failure is None
        and not config.analyze_task_never_finish
        and spec.mode == "time_based_metadata"
        and isinstance(spec.max_tokens, int)
        and synth.count_tokens(_generate(state, task)[0]["data"]) > spec.max_tokens
    ):
        task.failure = {"message": _OVER_LIMIT_MESSAGE}
        task.lifecycle = state.new_lifecycle(TASK_STEPS, fail=True).lasting(config.analyze_task_seconds)
        task._result = None
    _tasks(state)[task.id] = task
    return task


def _clip(text: str, listing: bool) -> str:
    return text[:_LIST_TEXT] if listing else text


def _request_params(spec: _Spec, listing: bool) -> dict[str, Any]:
    params: dict[str, Any] = {"analysis_mode": spec.mode}
    if spec.prompt is not None and spec.mode == "general":
        params["prompt"] = _clip(spec.prompt, listing)
    if spec.prompt_v2 is not None:
        params["prompt_v2"] = {**spec.prompt_v2, "input_text": _clip(spec.prompt_v2["input_text"], listing)}
    if spec.images is not None:
        params["image"] = spec.images
    rf = spec.response_format
    if rf is not None:
        echo: dict[str, Any] = {"type": rf["type"]}
        if rf["type"] == "json_schema" and not listing:
            echo["json_schema"] = rf["json_schema"]
        if rf["type"] == "segment_definitions":
            definitions = rf["segment_definitions"]
            echo["segment_definitions"] = definitions[:1] if listing else definitions
            if rf.get("segment_time_format") is not None:
                echo["segment_time_format"] = rf["segment_time_format"]
        params["response_format"] = echo
    if spec.temperature is not None:
        params["temperature"] = spec.temperature
    params["max_tokens"] = spec.max_tokens
    if spec.mode == "time_based_metadata":
        for key, value in (
            ("min_segment_duration", spec.min_segment),
            ("max_segment_duration", spec.max_segment),
        ):
            if value is not None:
                params[key] = value
    if spec.start_time is not None:
        params["start_time"] = spec.start_time
    if spec.end_time is not None:
        params["end_time"] = spec.end_time
    return params


def _task_error(task: AnalyzeTask, status: str) -> dict[str, str] | None:
    if status == "failed":
        return dict(task.failure or {"message": _SWITCH_FAILED_MESSAGE})
    if status == "canceled":
        message = {
            "user_canceled": _CANCELED_MESSAGE,
            "batch_canceled": _BATCH_CANCELED_MESSAGE,
            "batch_expired": _BATCH_EXPIRED_MESSAGE,
        }.get(task.cancel_code or "", _CANCELED_MESSAGE)
        return {"code": task.cancel_code or "user_canceled", "message": message}
    return None


def _render_task(state: EmulatorState, task: AnalyzeTask, *, listing: bool = False) -> dict[str, Any]:
    """Render a task (``AnalyzeTaskResponse``); counts as one read of it."""
    if task.batch_id is not None:
        batch = _batches(state).get(task.batch_id)
        if isinstance(batch, AnalyzeBatch):
            _settle(state, batch)
    status = task.status()
    spec = task.spec
    out: dict[str, Any] = {"task_id": task.id, "custom_id": task.custom_id}
    if task.batch_id is not None:
        out["batch_id"] = task.batch_id
    if spec.video_source is not None:
        out["video_source"] = spec.video_source
    out["request_params"] = _request_params(spec, listing)
    out["status"] = status
    out["created_at"] = isoformat(task.created_at)
    completed = task.completed_at(status)
    if completed is not None:
        out["completed_at"] = isoformat(completed)
    error = _task_error(task, status)
    if status == "ready":
        result, warning = _generate(state, task)
        out["result"] = result
        error = warning
    if error is not None:
        out["error"] = error
    return out


def _task_or_404(state: EmulatorState, task_id: str) -> AnalyzeTask:
    task = _tasks(state).get(task_id)
    if not isinstance(task, AnalyzeTask):
        raise not_found(task_id, "analyze tasks")
    return task


# --------------------------------------------------------------------------------------------------
# Task handlers
# --------------------------------------------------------------------------------------------------


async def create_task(request: Request) -> Response:
    """``POST /analyze/tasks``: create an asynchronous analysis task."""
    state: EmulatorState = request.app.state.emulator
    _purge(state)
    body = _clean(await read_json(request))
    _check_keys(body, _TASK_KEYS, "")
    custom_id = _custom_id(body.get("custom_id"), "custom_id")
    spec = _parse_request(state, body)
    task = _new_task(state, spec, custom_id)
    return json_response({"task_id": task.id, "status": task.status(observe=False)})


async def list_tasks(request: Request) -> Response:
    """``GET /analyze/tasks``: tasks newest first, filtered by status, video URL, asset or mode."""
    state: EmulatorState = request.app.state.emulator
    _purge(state)
    query = parse_query(request.query_params)
    page, limit = page_params(query)
    status = query.get("status")
    if status is not None and status not in _TASK_STATUSES:
        raise bad_request(f"The status parameter must be one of: {', '.join(_TASK_STATUSES)}.")
    mode = query.get("analysis_mode")
    if mode is not None and mode not in _MODES:
        raise bad_request(f"The analysis_mode parameter must be one of: {', '.join(_MODES)}.")
    video_url, asset_id = query.get("video_url"), query.get("asset_id")
    for batch in list(_batches(state).values()):
        if isinstance(batch, AnalyzeBatch):
            _settle(state, batch)
    tasks: list[AnalyzeTask] = []
    for task in _tasks(state).values():
        if not isinstance(task, AnalyzeTask):
            continue
        source = task.spec.video_source or {}
        if video_url is not None and source.get("url") != video_url:
            continue
        if asset_id is not None and source.get("asset_id") != asset_id:
            continue
        if mode is not None and task.spec.mode != mode:
            continue
        if status is not None and task.status(observe=False) != status:
            continue
        tasks.append(task)
    tasks.reverse()  # creation order, newest first
    return json_response(paginate(tasks, page, limit, lambda t: _render_task(state, t, listing=True)))


async def retrieve_task(request: Request) -> Response:
    """``GET /analyze/tasks/{task_id}``: status, and the result once ``ready``."""
    state: EmulatorState = request.app.state.emulator
    _purge(state)
    task = _task_or_404(state, request.path_params["task_id"])
    return json_response(_render_task(state, task))


async def delete_task(request: Request) -> Response:
    """``DELETE /analyze/tasks/{task_id}``: only a task that is not being processed (409 otherwise)."""
    state: EmulatorState = request.app.state.emulator
    _purge(state)
    task = _task_or_404(state, request.path_params["task_id"])
    status = task.status(observe=False)
    if status not in _TASK_TERMINAL:
        raise APIError(
            409,
            "task_cannot_be_deleted",
            f"The analysis task {task.id} is {status}; cancel it or wait until it ends before deleting it.",
        )
    del _tasks(state)[task.id]
    return no_content()


async def cancel_task(request: Request) -> Response:
    """``POST /analyze/tasks/{task_id}/cancel``: cancel a queued, pending or processing task."""
    state: EmulatorState = request.app.state.emulator
    _purge(state)
    task = _task_or_404(state, request.path_params["task_id"])
    if task.batch_id is not None:
        raise bad_request(
            f"The analysis task {task.id} belongs to batch {task.batch_id}; cancel the batch instead "
            f"(POST /analyze/batches/{task.batch_id}/cancel)."
        )
    status = task.status(observe=False)
    if status in ("ready", "failed"):
        raise APIError(
            409, "task_cannot_be_canceled", f"The analysis task {task.id} has already ended ({status})."
        )
    task.cancel(state.now(), "user_canceled")
    return json_response({"task_id": task.id, "status": "canceled"})


# --------------------------------------------------------------------------------------------------
# Batches
# --------------------------------------------------------------------------------------------------


def _purge(state: EmulatorState) -> None:
    """Forget batches (and their tasks) older than the 30-day retention."""
    now = state.now()
    batches = _batches(state)
    for batch_id, batch in list(batches.items()):
        if isinstance(batch, AnalyzeBatch) and now - batch.created_at >= _BATCH_RETENTION:
            for task_id in batch.task_ids:
                _tasks(state).pop(task_id, None)
            del batches[batch_id]


def _batch_tasks(state: EmulatorState, batch: AnalyzeBatch) -> list[AnalyzeTask]:
    tasks = _tasks(state)
    return [t for t in (tasks.get(i) for i in batch.task_ids) if isinstance(t, AnalyzeTask)]


def _settle(state: EmulatorState, batch: AnalyzeBatch) -> None:
    """Apply expiry: at ``expires_at`` every unfinished item is canceled (``batch_expired``)."""
    if batch.expired or state.now() < batch.expires_at:
        return
    unfinished = [t for t in _batch_tasks(state, batch) if t.status(observe=False) not in _TASK_TERMINAL]
    # A batch whose items had all ended (completed or canceled) stays so when its expiry passes.
    if unfinished:
        batch.expired = True
        for task in unfinished:
            task.cancel(batch.expires_at, "batch_expired")


def _item_status(task_status: str) -> str:
    return "queued" if task_status in ("queued", "pending") else task_status


def _batch_state(state: EmulatorState, batch: AnalyzeBatch, *, observe: bool) -> tuple[str, dict[str, int]]:
    _settle(state, batch)
    counts = dict.fromkeys(("queued", "processing", "ready", "failed", "canceled"), 0)
    for task in _batch_tasks(state, batch):
        counts[_item_status(task.status(observe=observe))] += 1
    unfinished = counts["queued"] + counts["processing"]
    if unfinished == 0:
        status = "expired" if batch.expired else "canceled" if batch.cancel_requested_at else "completed"
    elif batch.cancel_requested_at is not None:
        status = "canceling"
    else:
        status = "pending" if counts["queued"] == sum(counts.values()) else "processing"
    return status, counts


def _render_batch(state: EmulatorState, batch: AnalyzeBatch, *, observe: bool = True) -> dict[str, Any]:
    """Render a batch (``AnalyzeBatchStatusResponse``); a read counts as one read of each item."""
    status, counts = _batch_state(state, batch, observe=observe)
    out: dict[str, Any] = {
        "batch_id": batch.id,
        "analysis_mode": batch.mode,
        "model_name": batch.model,
        "status": status,
        "total_items": len(batch.task_ids),
        "created_at": isoformat(batch.created_at),
        "expires_at": isoformat(batch.expires_at),
    }
    if status in ("completed", "canceled"):
        ends = [t.completed_at(t.status(observe=False)) for t in _batch_tasks(state, batch)]
        moments = [m for m in ends if m is not None]
        ended = max(moments) if moments else batch.created_at
        out["completed_at" if status == "completed" else "canceled_at"] = isoformat(ended)
    if status == "expired":
        out["expired_at"] = isoformat(batch.expires_at)
    out.update({f"{name}_items": count for name, count in counts.items()})
    return out


def _batch_or_404(state: EmulatorState, batch_id: str) -> AnalyzeBatch:
    batch = _batches(state).get(batch_id)
    if not isinstance(batch, AnalyzeBatch):
        raise not_found(batch_id, "analyze batches")
    return batch


def _merged_items(body: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str | None]]:
    requests = body.get("requests")
    if not isinstance(requests, list) or not 1 <= len(requests) <= _MAX_BATCH_REQUESTS:
        code = "parameter_not_provided" if requests is None else "parameter_invalid"
        raise bad_request(
            f"The requests parameter must be an array of 1 to {_MAX_BATCH_REQUESTS} requests.", code
        )
    defaults = body.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise bad_request("The defaults parameter must be an object.")
    defaults = _clean(defaults)
    _check_keys(defaults, _ITEM_OPTIONS, "defaults.")
    merged: list[dict[str, Any]] = []
    custom_ids: list[str | None] = []
    seen: set[str] = set()
    for i, item in enumerate(requests):
        where = f"requests[{i}]"
        if not isinstance(item, dict):
            raise bad_request(f"{where} must be an object with a video.")
        item = _clean(item)
        _check_keys(item, {*_ITEM_OPTIONS, "video", "custom_id"}, f"{where}.")
        if "video" not in item:
            raise bad_request(f"The {where}.video parameter is required.", "parameter_not_provided")
        custom_id = _custom_id(item.get("custom_id"), f"{where}.custom_id")
        if custom_id is not None:
            if custom_id in seen:
                raise bad_request(f"The {where}.custom_id value {custom_id} is used twice in this batch.")
            seen.add(custom_id)
        custom_ids.append(custom_id)
        fields = {**defaults, **{k: v for k, v in item.items() if k != "custom_id"}}
        fields["model_name"] = body["model_name"]
        fields["analysis_mode"] = body["analysis_mode"]
        merged.append(fields)
    return merged, custom_ids


async def create_batch(request: Request) -> Response:
    """``POST /analyze/batches``: one task per request, for one model and one analysis mode."""
    state: EmulatorState = request.app.state.emulator
    _purge(state)
    body = _clean(await read_json(request))
    _check_keys(body, ("model_name", "analysis_mode", "defaults", "requests"), "")
    for name, allowed in (("model_name", _BATCH_MODELS), ("analysis_mode", _MODES)):
        if name not in body:
            raise bad_request(f"The {name} parameter is required.", "parameter_not_provided")
        if body[name] not in allowed:
            raise bad_request(f"The {name} parameter must be one of: {', '.join(allowed)}.")
    merged, custom_ids = _merged_items(body)
    specs = [
        _parse_request(state, fields, batch=True, where=f"requests[{i}].") for i, fields in enumerate(merged)
    ]
    hours = sum(spec.window[1] - spec.window[0] for spec in specs) / 3600
    if hours > _MAX_BATCH_HOURS:
        raise bad_request(
            f"The batch holds {hours:.1f} content hours; a batch accepts at most {_MAX_BATCH_HOURS:g} hours."
        )
    limit = state.config.analyze_max_active_batches
    active = sum(
        1
        for b in _batches(state).values()
        if isinstance(b, AnalyzeBatch) and _batch_state(state, b, observe=False)[0] in _BATCH_ACTIVE
    )
    if active >= limit:
        # SDK 1.3.6 knows 429 for this endpoint; the limit is per account, not per minute.
        raise APIError(
            429,
            "too_many_active_batches",
            f"You already have {active} active batches; at most {limit} can be active at a time. Wait "
            "until one completes, or cancel one.",
        )
    batch_id = state.new_id()
    rate = state.config.analyze_batch_item_failure_rate
    tasks = [
        _new_task(
            state,
            spec,
            custom_id,
            batch_id=batch_id,
            fail_item=rate > 0 and state.rng("batch-item-failure", batch_id, i).random() < rate,
        )
        for i, (spec, custom_id) in enumerate(zip(specs, custom_ids, strict=True))
    ]
    batch = AnalyzeBatch(
        id=batch_id,
        model=body["model_name"],
        mode=body["analysis_mode"],
        created_at=state.now(),
        task_ids=[t.id for t in tasks],
    )
    _batches(state)[batch.id] = batch
    return json_response(
        {
            "batch_id": batch.id,
            "status": _batch_state(state, batch, observe=False)[0],
            "total_items": len(tasks),
            "created_at": isoformat(batch.created_at),
            "expires_at": isoformat(batch.expires_at),
            "items": [{"task_id": t.id, "custom_id": t.custom_id} for t in tasks],
        }
    )


async def list_batches(request: Request) -> Response:
    """``GET /analyze/batches``: batches newest first; ``status`` and ``analysis_mode`` repeat."""
    state: EmulatorState = request.app.state.emulator
    _purge(state)
    query = parse_query(request.query_params)
    page, limit = page_params(query)
    statuses, modes = query.getlist("status"), query.getlist("analysis_mode")
    for name, values, allowed in (("status", statuses, _BATCH_STATUSES), ("analysis_mode", modes, _MODES)):
        bad = [v for v in values if v not in allowed]
        if bad:
            raise bad_request(f"The {name} parameter must be one of: {', '.join(allowed)}.")
    batches = [b for b in _batches(state).values() if isinstance(b, AnalyzeBatch)]
    batches = [
        b
        for b in reversed(batches)
        if (not modes or b.mode in modes)
        and (not statuses or _batch_state(state, b, observe=False)[0] in statuses)
    ]
    return json_response(paginate(batches, page, limit, lambda b: _render_batch(state, b)))


async def retrieve_batch(request: Request) -> Response:
    """``GET /analyze/batches/{batch_id}``: status and item counts."""
    state: EmulatorState = request.app.state.emulator
    _purge(state)
    batch = _batch_or_404(state, request.path_params["batch_id"])
    return json_response(_render_batch(state, batch))


async def delete_batch(request: Request) -> Response:
    """``DELETE /analyze/batches/{batch_id}``: a completed, canceled or expired batch and its tasks."""
    state: EmulatorState = request.app.state.emulator
    _purge(state)
    batch = _batch_or_404(state, request.path_params["batch_id"])
    status, _ = _batch_state(state, batch, observe=False)
    if status not in _BATCH_DONE:
        raise APIError(
            409,
            "batch_cannot_be_deleted",
            f"The batch {batch.id} is {status}; only completed, canceled or expired batches can be deleted. "
            "Cancel it first.",
        )
    for task_id in batch.task_ids:
        _tasks(state).pop(task_id, None)
    del _batches(state)[batch.id]
    return no_content()


async def cancel_batch(request: Request) -> Response:
    """``POST /analyze/batches/{batch_id}/cancel``: cancel queued items; processing ones finish."""
    state: EmulatorState = request.app.state.emulator
    _purge(state)
    batch = _batch_or_404(state, request.path_params["batch_id"])
    status, _ = _batch_state(state, batch, observe=False)
    if status in ("completed", "expired"):
        raise APIError(409, "batch_cannot_be_canceled", f"The batch {batch.id} has already ended ({status}).")
    if batch.cancel_requested_at is None:
        now = state.now()
        batch.cancel_requested_at = now
        for task in _batch_tasks(state, batch):
            if task.status(observe=False) in ("queued", "pending"):
                task.cancel(now, "batch_canceled")
    return json_response(_render_batch(state, batch, observe=False))


def _result_line(state: EmulatorState, task: AnalyzeTask) -> bytes:
    status = task.status()
    item: dict[str, Any] = {"task_id": task.id, "custom_id": task.custom_id, "status": _item_status(status)}
    if status == "ready":
        item["data"] = _generate(state, task)[0]
    elif status == "failed":
        error = _task_error(task, status) or {}
        item["error"] = {"code": error.get("code", "analysis_failed"), "message": error.get("message", "")}
    return (json.dumps(item, ensure_ascii=False) + "\n").encode("utf-8")


async def batch_results(request: Request) -> Response:
    """``GET /analyze/batches/{batch_id}/results``: JSON Lines, one entry per item, streamed."""
    state: EmulatorState = request.app.state.emulator
    _purge(state)
    batch = _batch_or_404(state, request.path_params["batch_id"])
    _settle(state, batch)
    tasks = _batch_tasks(state, batch)

    async def lines() -> AsyncIterator[bytes]:
        for task in tasks:
            yield _result_line(state, task)

    return StreamingResponse(lines(), media_type=JSONL_MEDIA_TYPE)


routes: list[Route] = [
    Route(f"{_PREFIX}/analyze/tasks", create_task, methods=["POST"]),
    Route(f"{_PREFIX}/analyze/tasks", list_tasks, methods=["GET"]),
    Route(f"{_PREFIX}/analyze/tasks/{{task_id}}", retrieve_task, methods=["GET"]),
    Route(f"{_PREFIX}/analyze/tasks/{{task_id}}", delete_task, methods=["DELETE"]),
    Route(f"{_PREFIX}/analyze/tasks/{{task_id}}/cancel", cancel_task, methods=["POST"]),
    Route(f"{_PREFIX}/analyze/batches", create_batch, methods=["POST"]),
    Route(f"{_PREFIX}/analyze/batches", list_batches, methods=["GET"]),
    Route(f"{_PREFIX}/analyze/batches/{{batch_id}}", retrieve_batch, methods=["GET"]),
    Route(f"{_PREFIX}/analyze/batches/{{batch_id}}", delete_batch, methods=["DELETE"]),
    Route(f"{_PREFIX}/analyze/batches/{{batch_id}}/cancel", cancel_batch, methods=["POST"]),
    Route(f"{_PREFIX}/analyze/batches/{{batch_id}}/results", batch_results, methods=["GET"]),
]
