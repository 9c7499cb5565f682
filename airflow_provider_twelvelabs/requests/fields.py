"""One rule per kind of request field, and the base of every request model.

Each rule takes the parameter's name (an operator's own parameter name) and the given value,
returns the cleaned value, and raises a ``ValueError`` naming the parameter. Values may come
through Jinja templating, so strings that spell a number or a boolean are accepted.

The rules, once for all operators:

* **ids** (:func:`resource_id`): a non-empty string without ``/``, stripped.
* **optional strings** (:func:`optional_str`): ``None`` or ``""`` (a template that rendered empty)
  mean "not given"; anything else must be a non-blank string, returned stripped.
* **one choice** (:func:`one_of`): one of the allowed strings (``None`` too when optional).
* **lists of choices** (:func:`choices`): one string counts as a one-item list; ``None`` and ``""``
  mean "not given" (an error when the list is required); an empty list is an error; every value
  must be allowed; **duplicates are dropped**, keeping the first occurrence's order.
* **lists of strings** (:func:`str_list`: paths, URLs): one string counts as a one-item list;
  ``None``, ``""`` and ``[]`` mean "none given"; every item must be a non-blank string.
* **URLs** (:func:`http_url`): an ``http://`` or ``https://`` URL with a host; errors never show
  the query string (a presigned URL's signature is a credential).
* **numbers** (:func:`number`, :func:`integer`): no booleans, finite, within the given bounds.
* **booleans** (:func:`optional_bool`) and **metadata** (:func:`optional_metadata`).

A model's field validators apply these rules with the field's name, so every field is named like
the operator parameter it checks.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, ValidationInfo

__all__ = [
    "RequestModel",
    "checked",
    "choices",
    "http_url",
    "integer",
    "number",
    "one_of",
    "optional_bool",
    "optional_metadata",
    "optional_str",
    "redact",
    "require_str",
    "resource_id",
    "str_list",
]

_Model = TypeVar("_Model", bound="RequestModel")


class RequestModel(BaseModel):
    """A request's parameters, checked, and the request body built from them.

    Build one with :meth:`build` (a bad parameter raises a short ``ValueError`` naming it) and
    get the body with :meth:`to_body`. No model makes an HTTP call.
    """

    # ``model_name`` is an API field; unknown parameters are a programming error.
    model_config = ConfigDict(protected_namespaces=(), extra="forbid", arbitrary_types_allowed=True)

    @classmethod
    def build(cls: type[_Model], **params: Any) -> _Model:
        """Check ``params`` and return the model, or raise a ``ValueError`` naming the parameter.

        :param params: the request's parameters, by the operator's parameter names.
        """
        try:
            return cls.model_validate(params)
        except ValidationError as exc:
            raise ValueError(_first_message(exc)) from None

    @classmethod
    def build_from(cls: type[_Model], source: object) -> _Model:
        """Like :meth:`build`, reading each field from the attribute of the same name of ``source``.

        :param source: an object holding the parameters, typically the operator after rendering.
        """
        return cls.build(**{name: getattr(source, name) for name in cls.model_fields})

    def to_body(self) -> dict[str, Any]:
        """Return the request body (or the hook call's keyword arguments); no request is made."""
        raise NotImplementedError


def _first_message(exc: ValidationError) -> str:
    error = exc.errors()[0]
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, ValueError):
        return str(cause)
    where = ".".join(str(part) for part in error["loc"]) or "parameters"
    return f"{where}: {error['msg']}"


def checked(rule: Callable[..., Any], **options: Any) -> BeforeValidator:
    """Return a field validator applying ``rule(field name, value, **options)``.

    :param rule: one of this module's rules.
    :param options: the rule's keyword arguments (allowed values, bounds).
    """

    def validate(value: Any, info: ValidationInfo) -> Any:
        return rule(str(info.field_name), value, **options)

    return BeforeValidator(validate)


# --------------------------------------------------------------------------- strings and ids


def require_str(name: str, value: Any) -> str:
    """Return ``value`` stripped, or raise a ``ValueError`` naming the parameter.

    :param name: the parameter's name, for the error.
    :param value: the value given.
    """
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    return value.strip()


def resource_id(name: str, value: Any) -> str:
    """Return a TwelveLabs id (a non-empty string without ``/``, which would change the path).

    :param name: the parameter's name, for the error.
    :param value: the value given.
    """
    text = require_str(name, value)
    if "/" in text:
        raise ValueError(f"{name} must be a TwelveLabs id (no '/'), got {value!r}")
    return text


def optional_str(name: str, value: Any, *, max_length: int | None = None) -> str | None:
    """Return ``value`` stripped; ``None`` and ``""`` (an empty rendered template) give ``None``.

    :param name: the parameter's name, for the error.
    :param value: the value given.
    :param max_length: the longest string allowed, if any.
    """
    if value is None or value == "":
        return None
    text = require_str(name, value)
    if max_length is not None and len(text) > max_length:
        raise ValueError(f"{name} must be at most {max_length} characters long, got {len(text)}")
    return text


# --------------------------------------------------------------------------- choices


def one_of(name: str, value: Any, *, allowed: Sequence[str], optional: bool = False) -> Any:
    """Return ``value`` if it is one of ``allowed``, or raise a ``ValueError`` naming the parameter.

    :param name: the parameter's name, for the error.
    :param value: the value given.
    :param allowed: the values allowed.
    :param optional: whether ``None`` (not given) is allowed too.
    """
    if (isinstance(value, str) and value in allowed) or (optional and value is None):
        return value
    listed = f"{allowed[0]!r} or {allowed[1]!r}" if len(allowed) == 2 else f"one of {', '.join(allowed)}"
    raise ValueError(f"{name} must be {listed}, got {value!r}")


def choices(name: str, value: Any, *, allowed: Sequence[str], required: bool = False) -> list[str] | None:
    """Return ``value`` as a list of allowed strings, without duplicates.

    One string counts as a one-item list; ``None`` and ``""`` give ``None`` (or an error when
    ``required``); an empty list is an error; duplicates are dropped, keeping the first's order.

    :param name: the parameter's name, for the error.
    :param value: the value given.
    :param allowed: the values allowed.
    :param required: whether the list must be given.
    """
    listed = ", ".join(allowed)
    if value is None or value == "":
        if required:
            raise ValueError(f"{name} must name at least one of {listed}")
        return None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, Iterable) or isinstance(value, (Mapping, bytes)):
        raise ValueError(f"{name} must be a list of {listed}, got {value!r}")
    chosen = list(value)
    if not chosen:
        raise ValueError(f"{name} must name at least one of {listed}")
    bad = [v for v in chosen if not isinstance(v, str) or v not in allowed]
    if bad:
        raise ValueError(f"{name} has unsupported value(s) {bad}; allowed: {listed}")
    return list(dict.fromkeys(chosen))


def str_list(name: str, value: Any) -> list[str]:
    """Return ``value`` as a list of stripped strings; ``None``, ``""`` and ``[]`` give ``[]``.

    :param name: the parameter's name, for the error.
    :param value: one string or a list of strings.
    """
    if value is None or value == "":
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, Iterable) or isinstance(value, (Mapping, bytes)):
        raise ValueError(f"{name} must be a list of strings (or one string), got {type(value).__name__}")
    items = list(value)
    if not all(isinstance(v, str) and v.strip() for v in items):
        raise ValueError(f"{name} must be a list of strings (or one string), none blank, got {items!r}")
    return [v.strip() for v in items]


# --------------------------------------------------------------------------- URLs


def redact(url: str) -> str:
    """Return ``url`` without its query string (a presigned URL's signature is a credential).

    :param url: any URL.
    """
    # Imported here: the hook module loads the HTTP stack, which a model does not need otherwise.
    from airflow_provider_twelvelabs.hooks.twelvelabs import redact_url

    return redact_url(url)


def http_url(name: str, value: Any) -> str:
    """Return ``value`` if it is an ``http(s)`` URL with a host, or raise naming the parameter.

    :param name: the parameter's name, for the error.
    :param value: the value given.
    """
    text = require_str(name, value)
    try:
        parts = urlsplit(text)
    except ValueError:
        parts = urlsplit("")
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{name} must be an http:// or https:// URL, got {redact(text)!r}")
    return text


# --------------------------------------------------------------------------- numbers


def number(
    name: str, value: Any, *, minimum: float | None = None, maximum: float | None = None
) -> float | None:
    """Return ``value`` as a float within the bounds (``None`` allowed; numeric strings read).

    :param name: the parameter's name, for the error.
    :param value: the value given.
    :param minimum: the smallest value allowed, if any.
    :param maximum: the largest value allowed, if any.
    """
    if value is None:
        return None
    if isinstance(value, str):
        # Templated values render as strings.
        try:
            value = float(value)
        except ValueError:
            raise ValueError(f"{name} must be a number, got {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a number, got {value!r}")
    _bounds(name, value, "a number", minimum, maximum)
    return float(value)


def integer(name: str, value: Any, *, minimum: int | None = None, maximum: int | None = None) -> int | None:
    """Return ``value`` as an int within the bounds (``None`` allowed; digit strings read).

    :param name: the parameter's name, for the error.
    :param value: the value given.
    :param minimum: the smallest value allowed, if any.
    :param maximum: the largest value allowed, if any.
    """
    if value is None:
        return None
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        # Templated values render as strings.
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be {_range_text('an integer', minimum, maximum)}, got {value!r}")
    _bounds(name, value, "an integer", minimum, maximum)
    return value


def _bounds(name: str, value: float, kind: str, minimum: float | None, maximum: float | None) -> None:
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ValueError(f"{name} must be {_range_text(kind, minimum, maximum)}, got {value!r}")


def _range_text(kind: str, minimum: float | None, maximum: float | None) -> str:
    if minimum is not None and maximum is not None:
        return f"{kind} from {minimum:g} to {maximum:g}"
    if minimum is not None:
        return f"{kind} of at least {minimum:g}"
    if maximum is not None:
        return f"{kind} of at most {maximum:g}"
    return kind


# --------------------------------------------------------------------------- booleans, metadata


def optional_bool(name: str, value: Any) -> bool | None:
    """Return ``value`` as a boolean (``None`` allowed; ``"true"``/``"false"`` from templates).

    :param name: the parameter's name, for the error.
    :param value: the value given.
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        # Templated values render as strings.
        return value.strip().lower() == "true"
    raise ValueError(f"{name} must be a boolean or None, got {value!r}")


def optional_metadata(name: str, value: Any) -> dict[str, Any] | None:
    """Return ``value`` as a dict with string keys (``None`` allowed).

    :param name: the parameter's name, for the error.
    :param value: the value given.
    """
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ValueError(f"{name} must be a mapping of string keys to values, got {type(value).__name__}")
    bad = [key for key in value if not isinstance(key, str)]
    if bad:
        raise ValueError(f"{name} keys must be strings, got {bad!r}")
    return dict(value)
