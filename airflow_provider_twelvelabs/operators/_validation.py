"""Parameter checks shared by the operators: each raises a ``ValueError`` naming the parameter.

They run before any HTTP call, on values that may have come through Jinja templating.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def require_str(name: str, value: Any) -> str:
    """Return ``value`` stripped, or raise a ``ValueError`` naming the parameter.

    :param name: the parameter's name, for the error.
    :param value: the value given.
    """
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    return value.strip()


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
