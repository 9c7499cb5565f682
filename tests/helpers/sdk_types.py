"""Check JSON answers against the official SDK's own response types (``twelvelabs`` 1.3.6), strictly.

The SDK parses every answer with ``parse_obj_as`` into generated pydantic models whose fields are
all optional, whose enums are open (``Union[Literal[...], Any]``) and which keep unknown keys. That
parse alone lets almost anything through, so :func:`check_sdk_type` also walks the answer against
the models' type hints: every key must be a field the SDK knows (by its wire name, ``_id``), every
value must have the declared type (an enum value one of the SDK's literals), and the fields a
caller names as required must be present and not null. Usage::

    check_sdk_type(IndexSchema, body, required=("id", "index_name", "models", "created_at"))

No file outside the repository is needed: the SDK is a test dependency.
"""

from __future__ import annotations

import datetime as dt
import functools
import types
import typing
from collections.abc import Iterable
from typing import Any

import pydantic

__all__ = ["SdkTypeError", "check_sdk_type"]


class SdkTypeError(AssertionError):
    """An answer does not match the SDK's type."""


def check_sdk_type(model: Any, body: Any, *, required: Iterable[str] = ()) -> Any:
    """Parse ``body`` as the SDK does, check it strictly against ``model``, return the SDK object.

    :param model: the SDK type the SDK's client parses this answer into (``twelvelabs.types.Asset``).
    :param body: the decoded JSON answer.
    :param required: wire names of top-level fields that must be present and not null; a dotted
        name (``data.id``) applies to every item of a list field (or to a nested object).
    :raises SdkTypeError: listing every mismatch.
    """
    from twelvelabs.core.pydantic_utilities import parse_obj_as

    problems: list[str] = []
    _check(model, body, "$", problems)
    for name in required:
        _require(body, name.split("."), "$", problems)
    if problems:
        raise SdkTypeError(f"{len(problems)} mismatch(es) with {model.__name__}:\n  " + "\n  ".join(problems))
    return parse_obj_as(model, body)


def _require(value: Any, parts: list[str], where: str, problems: list[str]) -> None:
    if isinstance(value, list):
        for i, item in enumerate(value):
            _require(item, parts, f"{where}[{i}]", problems)
        return
    if not isinstance(value, dict):
        problems.append(f"{where}: expected an object holding {'.'.join(parts)}")
        return
    head, rest = parts[0], parts[1:]
    if value.get(head) is None:
        problems.append(f"{where}.{head}: required, missing or null")
    elif rest:
        _require(value[head], rest, f"{where}.{head}", problems)


@functools.cache
def _fields(model: type[pydantic.BaseModel]) -> dict[str, tuple[Any, bool]]:
    """Map each wire name of ``model`` to ``(annotation, required)``."""
    from twelvelabs.core.serialization import FieldMetadata

    hints = typing.get_type_hints(model, include_extras=True)
    fields: dict[str, tuple[Any, bool]] = {}
    for name, info in model.model_fields.items():
        annotation = hints.get(name, info.annotation)
        wire = name
        if typing.get_origin(annotation) is typing.Annotated:
            for meta in annotation.__metadata__:
                if isinstance(meta, FieldMetadata) and meta.alias:
                    wire = meta.alias
        fields[wire] = (annotation, info.is_required())
    return fields


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel)


def _check(annotation: Any, value: Any, where: str, problems: list[str]) -> None:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is Any or annotation is object:
        return
    if origin is typing.Annotated:
        _check(args[0], value, where, problems)
        return
    if origin in (typing.Union, types.UnionType):
        _check_union(args, value, where, problems)
        return
    if origin is typing.Literal:
        if value not in args:
            problems.append(f"{where}: {value!r} is not one of {list(args)}")
        return
    if _is_model(annotation):
        _check_model(annotation, value, where, problems)
        return
    if origin in (list, typing.List, Iterable) or annotation is list:  # noqa: UP006 - SDK spelling
        if not isinstance(value, list):
            problems.append(f"{where}: expected a list, got {type(value).__name__}")
            return
        item = args[0] if args else Any
        for i, element in enumerate(value):
            _check(item, element, f"{where}[{i}]", problems)
        return
    if origin in (dict, typing.Dict) or annotation is dict:  # noqa: UP006 - SDK spelling
        if not isinstance(value, dict):
            problems.append(f"{where}: expected an object, got {type(value).__name__}")
            return
        item = args[1] if len(args) == 2 else Any
        for key, element in value.items():
            _check(item, element, f"{where}.{key}", problems)
        return
    _check_scalar(annotation, value, where, problems)


def _check_union(args: tuple[Any, ...], value: Any, where: str, problems: list[str]) -> None:
    if value is None and type(None) in args:
        return
    branches = [a for a in args if a is not type(None)]
    literals = [a for a in branches if typing.get_origin(a) is typing.Literal]
    if literals and any(a is Any for a in branches):
        # An open enum: the SDK accepts anything, the check wants one of its documented values.
        allowed = [v for a in literals for v in typing.get_args(a)]
        if value not in allowed:
            problems.append(f"{where}: {value!r} is not one of {allowed}")
        return
    failures: list[list[str]] = []
    for branch in branches:
        found: list[str] = []
        _check(branch, value, where, found)
        if not found:
            return
        failures.append(found)
    best = min(failures, key=len) if failures else [f"{where}: matches no branch"]
    problems.extend(best)


def _check_model(model: type[pydantic.BaseModel], value: Any, where: str, problems: list[str]) -> None:
    if not isinstance(value, dict):
        problems.append(f"{where}: expected a {model.__name__} object, got {type(value).__name__}")
        return
    fields = _fields(model)
    for key, element in value.items():
        if key not in fields:
            problems.append(f"{where}.{key}: not a field of the SDK's {model.__name__}")
            continue
        _check(fields[key][0], element, f"{where}.{key}", problems)
    for key, (_, required) in fields.items():
        if required and key not in value:
            problems.append(f"{where}.{key}: required by the SDK's {model.__name__}, missing")


def _check_scalar(annotation: Any, value: Any, where: str, problems: list[str]) -> None:
    if annotation is type(None):
        ok = value is None
    elif annotation is bool:
        ok = isinstance(value, bool)
    elif annotation is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif annotation is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif annotation is str:
        ok = isinstance(value, str)
    elif annotation in (dt.datetime, dt.date):
        ok = isinstance(value, str) and _is_iso(value)
    else:
        # Anything else (a class the SDK validates itself): leave it to the SDK's parse.
        return
    if not ok:
        name = getattr(annotation, "__name__", str(annotation))
        problems.append(f"{where}: expected {name}, got {type(value).__name__} {value!r:.60}")


def _is_iso(value: str) -> bool:
    try:
        dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True
