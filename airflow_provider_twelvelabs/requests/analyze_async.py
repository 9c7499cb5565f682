"""Asynchronous Pegasus requests: ``POST /analyze/tasks`` and the items of ``POST /analyze/batches``.

The rules follow the official SDK 1.3.6 (``twelvelabs/analyze_async``, contract.md section 18):
one video (an asset id or a URL) or 1 to 20 images; ``prompt`` for general analysis (not with
segmentation); ``response_format`` as a JSON schema (general) or segment definitions
(``time_based_metadata``, inferred when definitions are given); ``max_tokens`` within the mode's
range or ``"unlimited"`` (segmentation on Pegasus 1.6); a window of 1 s to 2 h.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from pydantic import model_validator

from airflow_provider_twelvelabs.requests.fields import (
    RequestModel,
    checked,
    http_url,
    number,
    one_of,
    optional_str,
    resource_id,
)
from airflow_provider_twelvelabs.requests.limits import MAX_BATCH_HOURS, MAX_BATCH_ITEMS

__all__ = [
    "ANALYSIS_MODES",
    "ASYNC_MODELS",
    "AnalyzeTaskRequest",
    "check_custom_id",
    "check_segment_definitions",
    "video_source",
]

ASYNC_MODELS = ("pegasus1.5", "pegasus1.6")
ANALYSIS_MODES = ("general", "time_based_metadata")
SEGMENT_TIME_FORMATS = ("seconds", "hh:mm:ss", "hh:mm:ss.fff")
SEGMENT_FIELD_TYPES = ("string", "boolean", "number", "integer", "array", "timestamp", "time_array")
#: ``max_tokens`` ranges per analysis mode (the SDK's table).
MAX_TOKENS_RANGE = {"general": (512, 98_304), "time_based_metadata": (2_048, 98_304)}
#: The longest analysis window, in seconds (2 hours), and the shortest (1 second).
MAX_WINDOW_SECONDS = 2 * 3600.0
MIN_WINDOW_SECONDS = 1.0
MIN_SEGMENT_SECONDS = 2.0
MAX_IMAGES = 20
_CUSTOM_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_IMAGE_NAME = re.compile(r"^[A-Za-z0-9_]+$")


def check_custom_id(name: str, value: Any) -> str | None:
    """Return a ``custom_id`` (1-64 letters, digits, ``-`` or ``_``), or ``None`` when not given.

    :param name: the parameter's name, for the error.
    :param value: the value given.
    """
    text = optional_str(name, value)
    if text is not None and not _CUSTOM_ID.match(text):
        raise ValueError(f"{name} must be 1-64 letters, digits, '-' or '_', got {value!r}")
    return text


def _json_value(name: str, value: Any) -> Any:
    """Read a templated value that rendered as JSON text."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise ValueError(f"{name} must be JSON (a rendered template gave {value[:80]!r})") from None
    return value


def check_json_schema(name: str, value: Any) -> dict[str, Any] | None:
    """Return a JSON schema (a dict, or JSON text); ``None`` when not given.

    :param name: the parameter's name, for the error.
    :param value: the value given.
    """
    if value is None or value == "":
        return None
    value = _json_value(name, value)
    if not isinstance(value, Mapping) or not value:
        raise ValueError(f"{name} must be a non-empty JSON schema object, got {type(value).__name__}")
    return dict(value)


def check_segment_definitions(name: str, value: Any) -> list[dict[str, Any]] | None:
    """Return segment definitions: each ``{id, description, fields: [{name, type, description}]}``.

    :param name: the parameter's name, for the error.
    :param value: a list of dicts, or JSON text of one.
    """
    if value is None or value == "":
        return None
    value = _json_value(name, value)
    if not isinstance(value, Sequence) or isinstance(value, (str, bytes)) or not value:
        raise ValueError(f"{name} must be a non-empty list of segment definitions")
    seen: set[str] = set()
    out: list[dict[str, Any]] = []
    for i, definition in enumerate(value):
        where = f"{name}[{i}]"
        if not isinstance(definition, Mapping):
            raise ValueError(f"{where} must be an object with id, description and fields")
        ident = definition.get("id")
        if not isinstance(ident, str) or not ident.strip():
            raise ValueError(f"{where}.id must be a non-empty string")
        if ident in seen:
            raise ValueError(f"{where}.id {ident!r} is used twice")
        seen.add(ident)
        if not isinstance(definition.get("description"), str) or not definition["description"].strip():
            raise ValueError(f"{where}.description must be a non-empty string")
        fields = definition.get("fields") or []
        if not isinstance(fields, Sequence) or isinstance(fields, (str, bytes)):
            raise ValueError(f"{where}.fields must be a list of {{name, type, description}}")
        names: set[str] = set()
        for j, field in enumerate(fields):
            at = f"{where}.fields[{j}]"
            if not isinstance(field, Mapping) or not isinstance(field.get("name"), str) or not field["name"]:
                raise ValueError(f"{at} must be an object with a name, a type and a description")
            if field["name"] in names:
                raise ValueError(f"{at}.name {field['name']!r} is used twice")
            if field["name"] in ("start_time", "end_time", "metadata"):
                raise ValueError(f"{at}.name {field['name']!r} is reserved by the API")
            names.add(field["name"])
            if field.get("type") not in SEGMENT_FIELD_TYPES:
                raise ValueError(
                    f"{at}.type must be one of {', '.join(SEGMENT_FIELD_TYPES)}, got {field.get('type')!r}"
                )
            if not isinstance(field.get("description"), str) or not field["description"].strip():
                raise ValueError(f"{at}.description must be a non-empty string")
        out.append(dict(definition))
    return out


def check_images(name: str, value: Any) -> list[dict[str, Any]] | None:
    """Return 1-20 images, each ``{name, url}`` or ``{name, asset_id}`` (a bare URL gets a name).

    :param name: the parameter's name, for the error.
    :param value: the value given.
    """
    if value is None or value == "" or value == []:
        return None
    value = _json_value(name, value) if isinstance(value, str) and value.lstrip().startswith("[") else value
    items = [value] if isinstance(value, (str, Mapping)) else value
    if not isinstance(items, Sequence) or not 1 <= len(items) <= MAX_IMAGES:
        raise ValueError(f"{name} must be 1 to {MAX_IMAGES} images")
    out: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        where = f"{name}[{i}]"
        if isinstance(item, str):
            item = {"name": f"image_{i + 1}", "url": item}
        if not isinstance(item, Mapping):
            raise ValueError(f"{where} must be a URL or an object with name and url or asset_id")
        image = {"name": str(item.get("name") or f"image_{i + 1}")}
        if not _IMAGE_NAME.match(image["name"]):
            raise ValueError(f"{where}.name may hold only letters, digits and underscores")
        sources = [key for key in ("url", "asset_id") if item.get(key)]
        if len(sources) != 1:
            raise ValueError(f"{where} needs exactly one of url or asset_id")
        key = sources[0]
        if key == "url":
            url = http_url(f"{where}.url", item["url"])
            if not url.lower().startswith("https://"):
                raise ValueError(f"{where}.url must be an https:// URL (the API refuses http)")
            image["url"] = url
        else:
            image["asset_id"] = resource_id(f"{where}.asset_id", item["asset_id"])
        out.append(image)
    if len({image["name"] for image in out}) != len(out):
        raise ValueError(f"{name}: image names must be unique")
    return out


def video_source(asset_id: str | None, url: str | None) -> dict[str, Any]:
    """Return the API's ``video`` object for an asset id or a URL.

    :param asset_id: an asset id.
    :param url: an http(s) URL of the video.
    """
    if asset_id:
        return {"type": "asset_id", "asset_id": asset_id}
    return {"type": "url", "url": url}


def _max_tokens(name: str, value: Any) -> int | str | None:
    if value is None or value == "":
        return None
    if value == "unlimited":
        return "unlimited"
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an integer or 'unlimited', got {value!r}")
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if not isinstance(value, int):
        raise ValueError(f"{name} must be an integer or 'unlimited', got {value!r}")
    return value


def response_format(
    json_schema: Mapping[str, Any] | None,
    segment_definitions: Sequence[Mapping[str, Any]] | None,
    segment_time_format: str | None,
) -> dict[str, Any] | None:
    """Return the API's ``response_format`` for a schema or segment definitions (``None``: text).

    :param json_schema: a JSON schema (general mode).
    :param segment_definitions: segment definitions (``time_based_metadata``).
    :param segment_time_format: how segment times are written.
    """
    if json_schema is not None:
        return {"type": "json_schema", "json_schema": dict(json_schema)}
    if segment_definitions is not None:
        fmt: dict[str, Any] = {
            "type": "segment_definitions",
            "segment_definitions": list(segment_definitions),
        }
        if segment_time_format:
            fmt["segment_time_format"] = segment_time_format
        return fmt
    return None


OptionalId = Annotated[str | None, checked(optional_str)]
Seconds = Annotated[float | None, checked(number, minimum=0)]


class _Analysis(RequestModel):
    """What an analysis asks for, shared by a task and by a batch's defaults (see their docstrings)."""

    prompt: OptionalId = None
    analysis_mode: Annotated[str | None, checked(one_of, allowed=ANALYSIS_MODES, optional=True)] = None
    json_schema: Annotated[dict[str, Any] | None, checked(check_json_schema)] = None
    segment_definitions: Annotated[list[dict[str, Any]] | None, checked(check_segment_definitions)] = None
    segment_time_format: Annotated[
        str | None, checked(one_of, allowed=SEGMENT_TIME_FORMATS, optional=True)
    ] = None
    min_segment_duration: Annotated[float | None, checked(number, minimum=MIN_SEGMENT_SECONDS)] = None
    max_segment_duration: Annotated[float | None, checked(number, minimum=MIN_SEGMENT_SECONDS)] = None
    start_time: Seconds = None
    end_time: Seconds = None
    temperature: Annotated[float | None, checked(number, minimum=0, maximum=1)] = None
    max_tokens: Annotated[int | str | None, checked(_max_tokens)] = None

    @property
    def mode(self) -> str:
        """The analysis mode, given or inferred."""
        if self.analysis_mode:
            return self.analysis_mode
        return "time_based_metadata" if self.segment_definitions is not None else "general"

    def response_format(self) -> dict[str, Any] | None:
        """Return the API's ``response_format``, or ``None`` for plain text."""
        return response_format(self.json_schema, self.segment_definitions, self.segment_time_format)


class AnalyzeTaskRequest(_Analysis):
    """The ``POST /analyze/tasks`` request: one video or 1-20 images, and what to generate.

    :param asset_id: the video as an asset id.
    :param url: the video as an http(s) URL of the raw file.
    :param images: 1 to 20 images (Pegasus 1.6), URLs or ``{name, url | asset_id}``.
    :param model_name: ``pegasus1.5`` or ``pegasus1.6``; ``None`` for the API's default.
    :param prompt: what to generate (general mode; required there).
    :param analysis_mode: ``general`` or ``time_based_metadata``; inferred from
        ``segment_definitions`` when ``None``.
    :param json_schema: a JSON schema for structured output (general mode).
    :param segment_definitions: what to segment the video into (``time_based_metadata``).
    :param segment_time_format: ``seconds``, ``hh:mm:ss`` or ``hh:mm:ss.fff``.
    :param min_segment_duration: shortest segment, seconds (at least 2).
    :param max_segment_duration: longest segment, seconds (at least ``min_segment_duration``).
    :param start_time: start of the analysed window, seconds.
    :param end_time: end of the analysed window, seconds (1 s to 2 h after the start).
    :param temperature: 0 to 1.
    :param max_tokens: an integer within the mode's range, or ``"unlimited"``.
    :param custom_id: 1-64 letters, digits, ``-`` or ``_``, returned with the task.
    """

    asset_id: OptionalId = None
    url: OptionalId = None
    images: Annotated[list[dict[str, Any]] | None, checked(check_images)] = None
    model_name: Annotated[str | None, checked(one_of, allowed=ASYNC_MODELS, optional=True)] = None
    custom_id: Annotated[str | None, checked(check_custom_id)] = None

    @model_validator(mode="after")
    def _request(self) -> AnalyzeTaskRequest:
        self._check_source()
        mode = self.mode
        if self.json_schema is not None and self.segment_definitions is not None:
            raise ValueError("json_schema and segment_definitions are mutually exclusive")
        if mode == "time_based_metadata":
            if self.segment_definitions is None:
                raise ValueError("analysis_mode='time_based_metadata' needs segment_definitions")
            if self.prompt is not None:
                raise ValueError("prompt is not used with segment_definitions (time_based_metadata)")
            if self.images is not None:
                raise ValueError("segment_definitions analyse a video, not images")
        else:
            if self.segment_definitions is not None:
                raise ValueError("segment_definitions need analysis_mode='time_based_metadata'")
            if self.prompt is None:
                raise ValueError("prompt is required for general analysis: tell Pegasus what to generate")
            for name in ("min_segment_duration", "max_segment_duration", "segment_time_format"):
                if getattr(self, name) is not None:
                    raise ValueError(
                        f"{name} needs segment_definitions (analysis_mode='time_based_metadata')"
                    )
        if self.images is not None and self.model_name != "pegasus1.6":
            raise ValueError("images need model_name='pegasus1.6'")
        self._check_durations()
        self._check_window()
        self._check_max_tokens(mode)
        return self

    def _check_source(self) -> None:
        given = [name for name in ("asset_id", "url", "images") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(
                f"give exactly one of asset_id, url or images (got: {', '.join(given) or 'none'})"
            )
        if self.asset_id is not None:
            resource_id("asset_id", self.asset_id)
        if self.url is not None:
            http_url("url", self.url)

    def _check_durations(self) -> None:
        low, high = self.min_segment_duration, self.max_segment_duration
        if low is not None and high is not None and high < low:
            raise ValueError(
                f"max_segment_duration ({high:g}) must be at least min_segment_duration ({low:g})"
            )

    def _check_window(self) -> None:
        start, end = self.start_time, self.end_time
        if end is None:
            return
        window = end - (start or 0.0)
        if not MIN_WINDOW_SECONDS <= window <= MAX_WINDOW_SECONDS:
            raise ValueError(
                "the analysis window end_time - start_time must be from 1 second to 2 hours, "
                f"got start_time={start!r}, end_time={end!r}"
            )

    def _check_max_tokens(self, mode: str) -> None:
        if self.max_tokens is None:
            return
        if self.max_tokens == "unlimited":
            if mode != "time_based_metadata" or self.model_name != "pegasus1.6":
                raise ValueError(
                    "max_tokens='unlimited' needs segment_definitions and model_name='pegasus1.6'"
                )
            return
        low, high = MAX_TOKENS_RANGE[mode]
        if not low <= int(self.max_tokens) <= high:
            raise ValueError(
                f"max_tokens must be from {low:,} to {high:,} in {mode} mode, got {self.max_tokens!r}"
            )

    def to_body(self) -> dict[str, Any]:
        """Return the ``POST /analyze/tasks`` body, without the fields left unset."""
        body: dict[str, Any] = {
            "model_name": self.model_name,
            "video": None if self.images is not None else video_source(self.asset_id, self.url),
            "image": self.images,
            "prompt": self.prompt,
            "analysis_mode": self.mode,
            "response_format": self.response_format(),
            "min_segment_duration": self.min_segment_duration,
            "max_segment_duration": self.max_segment_duration,
            "start_time": self.start_time,
            "end_time": self.end_time,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "custom_id": self.custom_id,
        }
        return {key: value for key, value in body.items() if value is not None}


# --------------------------------------------------------------------------- /analyze/batches

BATCH_MODELS = ("pegasus1.5",)


def check_batch_items(name: str, value: Any) -> list[dict[str, Any]]:
    """Return the items: each ``{asset_id, custom_id?, prompt?, duration?}`` (a string is an asset id).

    Items without a ``custom_id`` get their asset id as one (stable across runs, so results can be
    matched to earlier ones). ``custom_id`` values must be unique.

    :param name: the parameter's name, for the error.
    :param value: a list of asset ids or dicts (typically the mapped output of an upload step).
    """
    value = _json_value(name, value) if isinstance(value, str) and value.lstrip().startswith("[") else value
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence):
        raise ValueError(f"{name} must be a list of asset ids or of {{asset_id, custom_id, prompt}} objects")
    items: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(value):
        where = f"{name}[{i}]"
        item = {"asset_id": raw} if isinstance(raw, str) else raw
        if not isinstance(item, Mapping):
            raise ValueError(f"{where} must be an asset id or an object with asset_id")
        unknown = sorted(set(item) - {"asset_id", "custom_id", "prompt", "duration"})
        if unknown:
            raise ValueError(
                f"{where} has unknown keys {unknown}; allowed: asset_id, custom_id, prompt, duration"
            )
        asset_id = resource_id(f"{where}.asset_id", item.get("asset_id"))
        custom_id = check_custom_id(f"{where}.custom_id", item.get("custom_id")) or asset_id
        if not _CUSTOM_ID.match(custom_id):
            raise ValueError(f"{where}: set a custom_id (the asset id {asset_id!r} cannot serve as one)")
        if custom_id in seen:
            raise ValueError(f"{where}.custom_id {custom_id!r} is already used by {name}[{seen[custom_id]}]")
        seen[custom_id] = i
        entry: dict[str, Any] = {"asset_id": asset_id, "custom_id": custom_id}
        prompt = optional_str(f"{where}.prompt", item.get("prompt"))
        if prompt is not None:
            entry["prompt"] = prompt
        duration = number(f"{where}.duration", item.get("duration"), minimum=0)
        if duration is not None:
            entry["duration"] = duration
        items.append(entry)
    return items


class AnalyzeBatchRequest(_Analysis):
    """An analyze batch operator's parameters: the items and what every item asks for (``defaults``).

    :param items: asset ids, or ``{asset_id, custom_id?, prompt?, duration?}`` (an empty list is
        allowed: nothing to do).
    :param model_name: ``pegasus1.5`` (the only model batches take).
    :param prompt: the default prompt (general mode).
    :param analysis_mode: ``general`` or ``time_based_metadata``; inferred when ``None``.
    :param json_schema: a JSON schema for every answer (general mode).
    :param segment_definitions: the segments to extract (``time_based_metadata``).
    :param segment_time_format: ``seconds``, ``hh:mm:ss`` or ``hh:mm:ss.fff``.
    :param min_segment_duration: the shortest segment, seconds.
    :param max_segment_duration: the longest segment, seconds.
    :param start_time: start of each analysed window, seconds.
    :param end_time: end of each analysed window, seconds.
    :param temperature: 0 to 1.
    :param max_tokens: within the mode's range.
    """

    items: Annotated[list[dict[str, Any]], checked(check_batch_items)]
    model_name: Annotated[str, checked(one_of, allowed=BATCH_MODELS)] = "pegasus1.5"

    @model_validator(mode="after")
    def _request(self) -> AnalyzeBatchRequest:
        per_item_prompt = all("prompt" in item for item in self.items) and bool(self.items)
        # The task rules, once, on a stand-in item: a prompt given per item counts as given.
        AnalyzeTaskRequest.build(
            asset_id="0" * 24,
            prompt=self.prompt or ("per item" if per_item_prompt and self.mode == "general" else None),
            **{name: getattr(self, name) for name in _SHARED_FIELDS},
        )
        if self.mode == "time_based_metadata" and any("prompt" in item for item in self.items):
            raise ValueError("items cannot carry a prompt with segment_definitions (time_based_metadata)")
        return self

    def defaults(self) -> dict[str, Any]:
        """Return the batch's ``defaults``: what every item asks for unless it says otherwise."""
        fields: dict[str, Any] = {
            "prompt": {"input_text": self.prompt} if self.prompt else None,
            "response_format": self.response_format(),
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "min_segment_duration": self.min_segment_duration,
            "max_segment_duration": self.max_segment_duration,
            "start_time": self.start_time,
            "end_time": self.end_time,
        }
        return {key: value for key, value in fields.items() if value is not None}

    def request_item(self, item: Mapping[str, Any]) -> dict[str, Any]:
        """Return one item of the batch's ``requests``.

        :param item: one of :attr:`items`.
        """
        out: dict[str, Any] = {
            "video": {"type": "asset_id", "asset_id": item["asset_id"]},
            "custom_id": item["custom_id"],
        }
        if item.get("prompt"):
            out["prompt"] = {"input_text": item["prompt"]}
        return out

    def chunks(
        self,
        items: Sequence[Mapping[str, Any]],
        *,
        max_items: int = MAX_BATCH_ITEMS,
        max_hours: float = MAX_BATCH_HOURS,
    ) -> list[list[dict[str, Any]]]:
        """Split items into batches of at most ``max_items`` items and ``max_hours`` known hours.

        The split is deterministic (the items' order), so every try and every resume of a task
        computes the same batches. An item's hours are its ``duration`` (or its window, when
        ``start_time``/``end_time`` are set); items of unknown duration count as none.

        :param items: the items to split.
        :param max_items: items per batch.
        :param max_hours: content hours per batch.
        """
        out: list[list[dict[str, Any]]] = []
        current: list[dict[str, Any]] = []
        hours = 0.0
        for item in items:
            item_hours = self._hours(item)
            if current and (len(current) >= max_items or hours + item_hours > max_hours):
                out.append(current)
                current, hours = [], 0.0
            current.append(dict(item))
            hours += item_hours
        if current:
            out.append(current)
        return out

    def _hours(self, item: Mapping[str, Any]) -> float:
        duration = item.get("duration")
        if self.end_time is not None:
            window = self.end_time - (self.start_time or 0.0)
            duration = window if duration is None else min(duration, window)
        return float(duration or 0.0) / 3600

    def to_body(self) -> dict[str, Any]:
        """Return the parts every batch of this request shares (``model_name``, mode, ``defaults``)."""
        return {"model_name": self.model_name, "analysis_mode": self.mode, "defaults": self.defaults()}


_SHARED_FIELDS = (
    "analysis_mode",
    "json_schema",
    "segment_definitions",
    "segment_time_format",
    "min_segment_duration",
    "max_segment_duration",
    "start_time",
    "end_time",
    "temperature",
    "max_tokens",
)
