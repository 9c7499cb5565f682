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
]

SUMMARIZE_TYPES = ("summary", "chapter", "highlight")
GIST_TYPES = ("title", "topic", "hashtag")
#: The API's prompt limit, in tokens.
MAX_PROMPT_TOKENS = 2000
#: Tokens are estimated at this many characters each (English averages about four); the API counts
#: real tokens, so a prompt under this limit can still be refused with ``token_limit_exceeded``.
CHARS_PER_TOKEN = 4
#: The longest prompt accepted before any request, in characters (about 2,000 tokens).
MAX_PROMPT_CHARS = MAX_PROMPT_TOKENS * CHARS_PER_TOKEN
#: The API caps every generation at 4,096 tokens.
MAX_OUTPUT_TOKENS = 4096
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
    """Return how ``/analyze`` names the video: an indexed video, an asset or a URL.

    :param video_id: an indexed video id (the legacy shape, as ``/summarize`` and ``/gist`` take it).
    :param asset_id: an asset id.
    :param video_url: a video URL.
    """
    if video_id:
        return {"video_id": video_id}
    if asset_id:
        return {"video": {"type": "asset_id", "asset_id": asset_id}}
    return {"video": {"type": "url", "url": video_url}}


class AnalyzeRequest(AnalyzeOptions):
    """The ``POST /analyze`` request, with exactly one of ``video_id``, ``asset_id`` or ``video_url``.

    :param prompt: what to generate.
    :param video_id: an indexed video id.
    :param asset_id: an asset id.
    :param video_url: an http(s) video URL.
    :param response_format: a JSON schema, bare or as ``{"type": "json_schema", ...}``.
    :param output_path: where the operator writes the result (``None`` or ``""``: XCom).
    """

    prompt: Any = None
    video_id: OptionalStr = None
    asset_id: OptionalStr = None
    video_url: OptionalStr = None
    response_format: ResponseFormat = None
    output_path: OptionalStr = None

    @model_validator(mode="after")
    def _request(self) -> AnalyzeRequest:
        self.prompt = check_prompt("prompt", self.prompt, required=True)
        given = [name for name in ("video_id", "asset_id", "video_url") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(
                f"give exactly one of video_id, asset_id or video_url (got: {', '.join(given) or 'none'})"
            )
        if self.video_url is not None:
            http_url("video_url", self.video_url)
        for name in ("video_id", "asset_id"):
            if getattr(self, name) is not None:
                resource_id(name, getattr(self, name))
        return self

    def to_body(self) -> dict[str, Any]:
        """Return the ``POST /analyze`` body (``None`` values are left to the hook to drop)."""
        return {
            **video_body(self.video_id, self.asset_id, self.video_url),
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
    """

    type: Annotated[str, checked(one_of, allowed=SUMMARIZE_TYPES)] = "summary"
    temperature: Temperature = None
    max_tokens: MaxTokens = None

    def to_body(self) -> dict[str, Any]:
        """Return the options' part of the ``POST /summarize`` body."""
        return {"type": self.type, "temperature": self.temperature, "max_tokens": self.max_tokens}


class SummarizeRequest(SummarizeOptions):
    """The ``POST /summarize`` request.

    :param video_id: the indexed video id.
    :param prompt: context for the generation (optional).
    :param response_format: a JSON schema for the summary (``type="summary"`` only).
    """

    video_id: Annotated[str, checked(resource_id)]
    prompt: Any = None
    response_format: ResponseFormat = None

    @model_validator(mode="after")
    def _request(self) -> SummarizeRequest:
        self.prompt = check_prompt("prompt", self.prompt, required=False)
        if self.response_format is not None and self.type != "summary":
            raise ValueError(f"response_format is only valid with type='summary', not type={self.type!r}")
        return self

    def to_body(self) -> dict[str, Any]:
        """Return the ``POST /summarize`` body (``None`` values are left to the hook to drop)."""
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
    """

    types: Annotated[list[str], checked(choices, allowed=GIST_TYPES, required=True)]

    def to_body(self) -> dict[str, Any]:
        """Return the options' part of the ``POST /gist`` body."""
        return {"types": list(self.types)}


class GistRequest(GistOptions):
    """The ``POST /gist`` request (the hook call's keyword arguments).

    :param video_id: the indexed video id.
    """

    video_id: Annotated[str, checked(resource_id)]

    def to_body(self) -> dict[str, Any]:
        """Return the ``POST /gist`` body."""
        return {"video_id": self.video_id, **super().to_body()}
