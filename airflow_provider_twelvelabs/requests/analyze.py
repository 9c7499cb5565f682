"""Pegasus requests: ``POST /analyze``, ``POST /summarize`` and ``POST /gist``.

Each request comes in two parts: its options (the parameters that cannot be templated, checked
when the operator is created, so a DAG file with a bad one fails to parse) and the whole request
(checked again after templates are rendered, at execute time).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import field_validator, model_validator

from airflow_provider_twelvelabs.requests.fields import (
    RequestModel,
    checked,
    choices,
    http_url,
    integer,
    number,
    one_of,
    optional_str,
    resource_id,
)

__all__ = [
    "AnalyzeOptions",
    "AnalyzeRequest",
    "GistOptions",
    "GistRequest",
    "SummarizeOptions",
    "SummarizeRequest",
    "as_standard_schema",
    "check_prompt",
    "check_response_format",
    "check_video_source",
    "video_body",
]

SUMMARIZE_TYPES = ("summary", "chapter", "highlight")
GIST_TYPES = ("title", "topic", "hashtag")
#: How a summary, chapters or highlights reach Pegasus: ``auto`` (``/analyze`` up to an hour, an
#: analyze task beyond), ``sync`` (``/analyze`` only), ``task`` (an analyze task with a JSON schema)
#: or ``segmentation`` (chapters and highlights: an analyze task in video segmentation).
SUMMARIZE_METHODS = ("auto", "sync", "task", "segmentation")
#: How a gist reaches Pegasus (no segmentation: a gist has no time ranges).
GIST_METHODS = ("auto", "sync", "task")
#: The API's prompt limit, in tokens.
MAX_PROMPT_TOKENS = 2000
#: Tokens are estimated at this many characters each (English averages about four); the API counts
#: real tokens, so a prompt under this limit can still be refused with ``token_limit_exceeded``.
CHARS_PER_TOKEN = 4
#: The longest prompt accepted before any request, in characters (about 2,000 tokens).
MAX_PROMPT_CHARS = MAX_PROMPT_TOKENS * CHARS_PER_TOKEN
#: The API caps every generation at 4,096 tokens.
MAX_OUTPUT_TOKENS = 4096
#: The longest video the synchronous ``POST /analyze`` accepts, in seconds (1 hour).
MAX_VIDEO_SECONDS = 3600
#: The longest video an analyze task takes whole, in seconds (2 hours).
MAX_TASK_VIDEO_SECONDS = 7200
#: The shortest analysis window the API accepts, in seconds.
MIN_WINDOW_SECONDS = 1.0


# --------------------------------------------------------------------------- field rules of Pegasus


def check_prompt(name: str, value: Any, *, required: bool) -> str | None:
    """Return the prompt, or ``None`` when it is blank and not ``required``.

    :param name: the parameter's name, for the error.
    :param value: the value given.
    :param required: whether a prompt must be given.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ValueError(f"{name} is required and must not be blank: tell Pegasus what to generate")
        return None
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string, got {type(value).__name__}")
    if len(value) > MAX_PROMPT_CHARS:
        raise ValueError(
            f"{name} is {len(value):,} characters, about {len(value) // CHARS_PER_TOKEN:,} tokens "
            f"(estimated at {CHARS_PER_TOKEN} characters per token); the API accepts at most "
            f"{MAX_PROMPT_TOKENS:,} tokens, so keep it under {MAX_PROMPT_CHARS:,} characters"
        )
    return value


def check_response_format(name: str, value: Any) -> dict[str, Any] | None:
    """Return ``{"type": "json_schema", "json_schema": schema}``; a bare JSON schema is wrapped.

    :param name: the parameter's name, for the error.
    :param value: a dict, or a JSON object string (templated values render as strings).
    """
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ValueError(f"{name} must be a dict or a JSON object string") from None
    if not isinstance(value, Mapping):
        raise ValueError(f"{name} must be a dict, got {type(value).__name__}")
    if value.get("type") == "json_schema":
        schema = value.get("json_schema")
        unknown = sorted(set(value) - {"type", "json_schema"})
        if unknown:
            raise ValueError(f"{name} has unknown key(s) {unknown}: use type and json_schema")
    else:
        schema = value
    if not isinstance(schema, Mapping) or not schema:
        raise ValueError(f'{name} must be {{"type": "json_schema", "json_schema": {{...}}}} or a schema')
    try:
        from jsonschema import Draft202012Validator
        from jsonschema.exceptions import SchemaError
    except ImportError:  # jsonschema is optional at run time; the API checks the schema anyway
        pass
    else:
        try:
            Draft202012Validator.check_schema(as_standard_schema(schema))
        except SchemaError as exc:
            raise ValueError(f"{name}.json_schema is not a valid JSON Schema: {exc.message}") from None
    return {"type": "json_schema", "json_schema": dict(schema)}


def as_standard_schema(schema: Any) -> Any:
    """Replace Pegasus's ``timestamp`` type by ``number`` so standard validators accept the schema.

    :param schema: a JSON schema, or any part of one.
    """
    if isinstance(schema, Mapping):
        out = {k: as_standard_schema(v) for k, v in schema.items()}
        if out.get("type") == "timestamp":
            out["type"] = ["number", "string"]
            out.pop("format", None)
        return out
    if isinstance(schema, list):
        return [as_standard_schema(v) for v in schema]
    return schema


Temperature = Annotated[float | None, checked(number, minimum=0, maximum=1)]
MaxTokens = Annotated[int | None, checked(integer, minimum=1, maximum=MAX_OUTPUT_TOKENS)]
ResponseFormat = Annotated[dict[str, Any] | None, checked(check_response_format)]
OptionalStr = Annotated[str | None, checked(optional_str)]


# --------------------------------------------------------------------------- /analyze


class AnalyzeOptions(RequestModel):
    """The ``TwelveLabsAnalyzeOperator`` parameters that cannot be templated.

    :param model_name: a Pegasus model name, or ``None`` for the API's default.
    :param temperature: 0 to 1.
    :param max_tokens: 1 to 4,096.
    :param start_time: start of the analysed window, in seconds.
    :param end_time: end of the analysed window, in seconds (the window lasts at least 1 s).
    :param log_every_chars: while streaming, log the text at least every this many characters.
    """

    model_name: str | None = None
    temperature: Temperature = None
    max_tokens: MaxTokens = None
    start_time: Annotated[float | None, checked(number, minimum=0)] = None
    end_time: Annotated[float | None, checked(number, minimum=0)] = None
    log_every_chars: Annotated[int, checked(integer, minimum=1)] = 300

    @field_validator("model_name", mode="before")
    @classmethod
    def _pegasus(cls, value: Any) -> Any:
        if value is not None and (not isinstance(value, str) or not value.startswith("pegasus")):
            raise ValueError(f"model_name must name a Pegasus model (pegasus1.5, pegasus1.6), got {value!r}")
        return value

    @model_validator(mode="after")
    def _window(self) -> AnalyzeOptions:
        start, end = self.start_time, self.end_time
        if end is not None and end - (start or 0) < MIN_WINDOW_SECONDS:
            raise ValueError(
                f"the analysis window end_time - start_time must be at least {MIN_WINDOW_SECONDS:g} s, "
                f"got start_time={start!r}, end_time={end!r}"
            )
        return self

    def to_body(self) -> dict[str, Any]:
        """Return the options' part of the ``POST /analyze`` body."""
        return {
            "model_name": self.model_name,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "start_time": self.start_time,
            "end_time": self.end_time,
        }


def video_body(video_id: str | None, asset_id: str | None, video_url: str | None) -> dict[str, Any]:
    """Return how ``/analyze`` names the video (SDK 1.3.6 shape: ``video: {type, ...}``).

    ``/analyze`` no longer takes an indexed video id; the operators map a ``video_id`` to the
    asset it indexes before the call (see :func:`resolve_video`), so ``video_id`` is only accepted
    here for that mapped asset id.

    :param video_id: an asset id found for an indexed video id (``None`` when not given).
    :param asset_id: an asset id.
    :param video_url: a video URL.
    """
    if asset_id or video_id:
        return {"video": {"type": "asset_id", "asset_id": asset_id or video_id}}
    return {"video": {"type": "url", "url": video_url}}


def check_video_source(
    video_id: str | None, asset_id: str | None, video_url: str | None, index_id: str | None = None
) -> None:
    """Check that exactly one video source is given, each well formed.

    :param video_id: an indexed video (indexed asset) id.
    :param asset_id: an asset id.
    :param video_url: an http(s) video URL.
    :param index_id: the index of ``video_id`` (optional; only with ``video_id``).
    """
    values = {"video_id": video_id, "asset_id": asset_id, "video_url": video_url}
    given = [name for name, value in values.items() if value is not None]
    if len(given) != 1:
        raise ValueError(
            f"give exactly one of video_id, asset_id or video_url (got: {', '.join(given) or 'none'})"
        )
    if video_url is not None:
        http_url("video_url", video_url)
    for name in ("video_id", "asset_id"):
        if values[name] is not None:
            resource_id(name, values[name])
    if index_id is not None:
        resource_id("index_id", index_id)
        if video_id is None:
            raise ValueError("index_id only applies to video_id (the index that holds the video)")


class AnalyzeRequest(AnalyzeOptions):
    """The ``POST /analyze`` request, with exactly one of ``video_id``, ``asset_id`` or ``video_url``.

    :param prompt: what to generate.
    :param video_id: an indexed video id.
    :param asset_id: an asset id.
    :param video_url: an http(s) video URL.
    :param response_format: a JSON schema, bare or as ``{"type": "json_schema", ...}``.
    :param output_path: where the operator writes the result (``None`` or ``""``: XCom).
    :param index_id: the index holding ``video_id``, to look the video's asset up directly.
    """

    prompt: Any = None
    video_id: OptionalStr = None
    asset_id: OptionalStr = None
    video_url: OptionalStr = None
    response_format: ResponseFormat = None
    output_path: OptionalStr = None
    index_id: OptionalStr = None

    @model_validator(mode="after")
    def _request(self) -> AnalyzeRequest:
        self.prompt = check_prompt("prompt", self.prompt, required=True)
        check_video_source(self.video_id, self.asset_id, self.video_url, self.index_id)
        return self

    def to_body(self, asset_id: str | None = None) -> dict[str, Any]:
        """Return the ``POST /analyze`` body (``None`` values are left to the hook to drop).

        :param asset_id: the asset a ``video_id`` was mapped to; without it, a ``video_id`` is
            sent as ``{"type": "asset_id", "asset_id": video_id}`` (an indexed video id is not an
            asset id in general, so the operator maps it first).
        """
        return {
            **video_body(self.video_id, asset_id or self.asset_id, self.video_url),
            **super().to_body(),
            "prompt": self.prompt,
            "response_format": self.response_format,
        }


# --------------------------------------------------------------------------- /summarize


class SummarizeOptions(RequestModel):
    """The ``TwelveLabsSummarizeOperator`` parameters that cannot be templated.

    :param type: ``summary``, ``chapter`` or ``highlight``.
    :param temperature: 0 to 1.
    :param max_tokens: 1 to 4,096.
    :param method: one of :data:`SUMMARIZE_METHODS` (``segmentation``: chapters and highlights only).
    """

    type: Annotated[str, checked(one_of, allowed=SUMMARIZE_TYPES)] = "summary"
    temperature: Temperature = None
    max_tokens: MaxTokens = None
    method: Annotated[str, checked(one_of, allowed=SUMMARIZE_METHODS)] = "auto"

    @model_validator(mode="after")
    def _method(self) -> SummarizeOptions:
        if self.method == "segmentation" and self.type == "summary":
            raise ValueError(
                "method='segmentation' cuts the video into chapters or highlights: it needs "
                "type='chapter' or type='highlight', not type='summary'"
            )
        return self

    def to_body(self) -> dict[str, Any]:
        """Return the options' part of the ``POST /summarize`` body."""
        return {"type": self.type, "temperature": self.temperature, "max_tokens": self.max_tokens}


class SummarizeRequest(SummarizeOptions):
    """A summary, chapters or highlights request, with exactly one video source.

    :param video_id: an indexed video id (the only source the legacy ``/summarize`` takes).
    :param asset_id: an asset id.
    :param video_url: an http(s) video URL.
    :param index_id: the index holding ``video_id`` (optional).
    :param prompt: context for the generation (optional).
    :param response_format: a JSON schema for the summary (``type="summary"`` only).
    """

    video_id: OptionalStr = None
    asset_id: OptionalStr = None
    video_url: OptionalStr = None
    index_id: OptionalStr = None
    prompt: Any = None
    response_format: ResponseFormat = None

    @model_validator(mode="after")
    def _request(self) -> SummarizeRequest:
        self.prompt = check_prompt("prompt", self.prompt, required=False)
        check_video_source(self.video_id, self.asset_id, self.video_url, self.index_id)
        if self.response_format is not None and self.type != "summary":
            raise ValueError(f"response_format is only valid with type='summary', not type={self.type!r}")
        return self

    def to_body(self) -> dict[str, Any]:
        """Return the legacy ``POST /summarize`` body (``None`` values are left to the hook to drop)."""
        if not self.video_id:
            raise ValueError("the legacy /summarize endpoint takes only video_id (an indexed video id)")
        return {
            "video_id": self.video_id,
            **super().to_body(),
            "prompt": self.prompt,
            "response_format": self.response_format,
        }


# --------------------------------------------------------------------------- /gist


class GistOptions(RequestModel):
    """The ``TwelveLabsGistOperator`` parameters that cannot be templated.

    :param types: any of ``title``, ``topic`` and ``hashtag`` (duplicates dropped).
    :param method: one of :data:`GIST_METHODS`.
    """

    types: Annotated[list[str], checked(choices, allowed=GIST_TYPES, required=True)]
    method: Annotated[str, checked(one_of, allowed=GIST_METHODS)] = "auto"

    def to_body(self) -> dict[str, Any]:
        """Return the options' part of the ``POST /gist`` body."""
        return {"types": list(self.types)}


class GistRequest(GistOptions):
    """A gist request, with exactly one video source.

    :param video_id: an indexed video id (the only source the legacy ``/gist`` takes).
    :param asset_id: an asset id.
    :param video_url: an http(s) video URL.
    :param index_id: the index holding ``video_id`` (optional).
    """

    video_id: OptionalStr = None
    asset_id: OptionalStr = None
    video_url: OptionalStr = None
    index_id: OptionalStr = None

    @model_validator(mode="after")
    def _request(self) -> GistRequest:
        check_video_source(self.video_id, self.asset_id, self.video_url, self.index_id)
        return self

    def to_body(self) -> dict[str, Any]:
        """Return the legacy ``POST /gist`` body (the hook call's keyword arguments)."""
        if not self.video_id:
            raise ValueError("the legacy /gist endpoint takes only video_id (an indexed video id)")
        return {"video_id": self.video_id, **super().to_body()}
