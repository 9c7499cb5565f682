"""Validate emulator (or client) traffic against the official OpenAPI 3.1 spec.

The spec is reference data kept outside the repository; it is read from ``../shared/twelvelabs-api/``
beside the repository (or from ``$TWELVELABS_OPENAPI``) and never copied. Where it is absent, the
tests that need it are skipped, with the reason. Usage::

    from tests.openapi import validate_response, validate_request

    validate_response("GET", "/v1.3/assets/abc", 200, response.json())
    validate_request("POST", "/indexes", {"index_name": "x", "models": [...]})

Paths may carry the ``/v1.3`` prefix and a query string; concrete ids are matched against the spec's
templated paths (``/indexes/{index-id}``). ``$ref``s anywhere in the spec (schemas, responses,
request bodies) are resolved.
"""

from __future__ import annotations

import functools
import json
import os
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

__all__ = [
    "OPENAPI_PATH",
    "SPEC_MISSING",
    "SpecError",
    "body_property_names",
    "form_instance",
    "load_spec",
    "match_path",
    "operation",
    "query_parameter_names",
    "request_schema",
    "resolved_response_schema",
    "response_examples",
    "response_schema",
    "spec_available",
    "success_status",
    "validate_request",
    "validate_response",
]

#: The shared references sit beside the repository: ``<repo>/../shared/twelvelabs-api``.
_REPOSITORY = Path(__file__).resolve().parent.parent
OPENAPI_PATH = Path(
    os.environ.get("TWELVELABS_OPENAPI")
    or _REPOSITORY.parent / "shared" / "twelvelabs-api" / "openapi-1.3.yaml"
).resolve()
SPEC_MISSING = (
    f"the OpenAPI spec is not at {OPENAPI_PATH} (it is kept beside the repository in "
    "../shared/twelvelabs-api/, never copied; set $TWELVELABS_OPENAPI to its path)"
)
_SPEC_URI = "urn:twelvelabs:openapi-1.3"


class SpecError(LookupError):
    """The spec has no such path, operation, status or content type."""


def spec_available() -> bool:
    """Whether the OpenAPI spec is where :data:`OPENAPI_PATH` says."""
    return OPENAPI_PATH.is_file()


@functools.cache
def load_spec() -> dict[str, Any]:
    """Load (once) and return the OpenAPI document.

    Without the spec, the test that needs it is skipped with the reason (a module that needs it
    while being collected is skipped whole).
    """
    if not spec_available():
        pytest.skip(SPEC_MISSING, allow_module_level=True)
    with OPENAPI_PATH.open(encoding="utf-8") as handle:
        spec: dict[str, Any] = yaml.safe_load(handle)
    return spec


@functools.cache
def _registry() -> Registry:
    resource = Resource.from_contents(load_spec(), default_specification=DRAFT202012)
    return Registry().with_resource(_SPEC_URI, resource)


@functools.cache
def _path_patterns() -> list[tuple[re.Pattern[str], str]]:
    patterns = []
    for template in load_spec()["paths"]:
        regex = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
        patterns.append((re.compile(f"^{regex}$"), template))
    # Literal segments must win over parameters: /assets/multipart-uploads over /assets/{asset_id}.
    patterns.sort(key=lambda item: item[1].count("{"))
    return patterns


def match_path(path: str) -> str:
    """Return the spec's templated path for a concrete request path.

    :param path: for example ``/v1.3/indexes/65f0.../indexed-assets?page=2``.
    :raises SpecError: when no spec path matches.
    """
    path = path.split("?", 1)[0]
    path = re.sub(r"^(https?://[^/]+)?", "", path)
    path = re.sub(r"^/v1\.3(?=/)", "", path)
    for pattern, template in _path_patterns():
        if pattern.match(path):
            return template
    raise SpecError(f"no OpenAPI path matches {path}")


def _deref(node: Any) -> tuple[Any, str | None]:
    """Follow ``$ref`` chains on a node; return it and the JSON pointer it was found at."""
    pointer = None
    while isinstance(node, dict) and "$ref" in node:
        pointer = node["$ref"].lstrip("#")
        node = load_spec()
        for part in pointer.strip("/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
    return node, pointer


def operation(method: str, path: str) -> dict[str, Any]:
    """Return the operation object of ``method`` on ``path``.

    :param method: the HTTP method.
    :param path: a concrete or templated path.
    :raises SpecError: when the spec does not define it.
    """
    template = match_path(path)
    op = load_spec()["paths"][template].get(method.lower())
    if op is None:
        raise SpecError(f"the spec defines no {method.upper()} {template}")
    return op


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


def _media_schema(content: dict[str, Any], content_type: str | None, where: str) -> Any:
    if not content:
        raise SpecError(f"{where} has no content")
    if content_type is None:
        content_type = "application/json" if "application/json" in content else next(iter(content))
    media = content.get(content_type)
    if media is None:
        raise SpecError(f"{where} has no {content_type} content (has {sorted(content)})")
    return media.get("schema", {}), content_type


def response_schema(method: str, path: str, status: int, content_type: str | None = None) -> dict[str, Any]:
    """Return a JSON schema (with resolvable ``$ref``s) for one response of the spec.

    :param method: the HTTP method.
    :param path: a concrete or templated path.
    :param status: the response status code.
    :param content_type: the media type; ``application/json`` (or the only one) by default.
    :raises SpecError: when the spec does not describe that response or it has no body.
    """
    template = match_path(path)
    responses = operation(method, path)["responses"]
    key = str(status) if str(status) in responses else ("default" if "default" in responses else None)
    if key is None:
        raise SpecError(f"{method.upper()} {template} documents no {status} response")
    response, pointer = _deref(responses[key])
    if pointer is None:
        pointer = f"/paths/{_escape(template)}/{method.lower()}/responses/{key}"
    _, content_type = _media_schema(response.get("content") or {}, content_type, f"{method} {template} {key}")
    return {"$ref": f"{_SPEC_URI}#{pointer}/content/{_escape(content_type)}/schema"}


def request_schema(method: str, path: str, content_type: str | None = None) -> dict[str, Any]:
    """Return a JSON schema for the request body of an operation.

    :param method: the HTTP method.
    :param path: a concrete or templated path.
    :param content_type: ``application/json`` (default when present) or ``multipart/form-data``.
    :raises SpecError: when the operation has no request body.
    """
    template = match_path(path)
    body = operation(method, path).get("requestBody")
    if body is None:
        raise SpecError(f"{method.upper()} {template} has no request body")
    resolved, pointer = _deref(body)
    if pointer is None:
        pointer = f"/paths/{_escape(template)}/{method.lower()}/requestBody"
    _, content_type = _media_schema(resolved.get("content") or {}, content_type, f"{method} {template} body")
    return {"$ref": f"{_SPEC_URI}#{pointer}/content/{_escape(content_type)}/schema"}


def _validate(schema: dict[str, Any], instance: Any) -> None:
    validator = jsonschema.Draft202012Validator(schema, registry=_registry())
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    if errors:
        details = "\n".join(f"  at {list(e.absolute_path)}: {e.message}" for e in errors[:10])
        raise jsonschema.ValidationError(f"{len(errors)} schema violation(s):\n{details}")


def validate_response(
    method: str, path: str, status: int, body: Any, content_type: str | None = None
) -> None:
    """Assert that ``body`` matches the spec's schema for this response.

    :param method: the HTTP method.
    :param path: the request path (concrete ids are fine).
    :param status: the response status.
    :param body: the parsed JSON body.
    :param content_type: the media type when not JSON.
    :raises jsonschema.ValidationError: listing every violation.
    """
    _validate(response_schema(method, path, status, content_type), body)


def validate_request(method: str, path: str, body: Any, content_type: str | None = None) -> None:
    """Assert that a request body matches the spec's schema.

    :param method: the HTTP method.
    :param path: the request path.
    :param body: the JSON body (or a dict of form fields).
    :param content_type: the media type when not JSON.
    :raises jsonschema.ValidationError: listing every violation.
    """
    _validate(request_schema(method, path, content_type), body)


def response_examples(method: str, path: str, status: int) -> list[tuple[str, Any]]:
    """Return the examples the spec gives for one JSON response, as ``(name, value)`` pairs.

    Collects the media type's ``example``, each of its named ``examples`` and an ``example`` on
    the response's top-level schema (after ``$ref``s).

    :param method: the HTTP method.
    :param path: a concrete or templated path.
    :param status: the response status code.
    """
    responses = operation(method, path)["responses"]
    response, _ = _deref(responses.get(str(status), {}))
    media = (response.get("content") or {}).get("application/json") or {}
    found: list[tuple[str, Any]] = []
    if "example" in media:
        found.append(("example", media["example"]))
    for name, example in (media.get("examples") or {}).items():
        example, _ = _deref(example)
        if "value" in example:
            found.append((name, example["value"]))
    schema, _ = _deref(media.get("schema") or {})
    if isinstance(schema, dict) and "example" in schema:
        found.append(("schema example", schema["example"]))
    return found


def success_status(method: str, path: str) -> int:
    """Return the first 2xx status the spec documents for an operation.

    :param method: the HTTP method.
    :param path: a concrete or templated path.
    """
    return min(int(code) for code in operation(method, path)["responses"] if str(code).startswith("2"))


def resolved_response_schema(method: str, path: str, status: int) -> dict[str, Any]:
    """Return a response's JSON schema with the spec's ``components`` beside it.

    Self-contained (``#/components/...`` references resolve inside it), for tools that take one
    schema document, such as the emulator's schema-driven generator.

    :param method: the HTTP method.
    :param path: a concrete or templated path.
    :param status: the response status code.
    """
    responses = operation(method, path)["responses"]
    response, _ = _deref(responses[str(status)])
    schema = response["content"]["application/json"]["schema"]
    return {**schema, "components": load_spec()["components"]}


def _property_schema(schema: Any, name: str) -> Any:
    """Find the schema of property ``name`` in an object schema (through ``$ref``/``allOf``/``oneOf``)."""
    schema, _ = _deref(schema)
    if not isinstance(schema, dict):
        return None
    found = (schema.get("properties") or {}).get(name)
    if found is not None:
        return _deref(found)[0]
    for combinator in ("allOf", "oneOf", "anyOf"):
        for branch in schema.get(combinator) or []:
            found = _property_schema(branch, name)
            if found is not None:
                return found
    return None


def _types(schema: Any) -> list[str]:
    if not isinstance(schema, dict):
        return []
    kind = schema.get("type")
    if isinstance(kind, list):
        return [str(k) for k in kind]
    if kind:
        return [str(kind)]
    kinds: list[str] = []
    for combinator in ("oneOf", "anyOf", "allOf"):
        for branch in schema.get(combinator) or []:
            kinds += _types(_deref(branch)[0])
    return kinds


def _form_scalar(value: str, schema: Any) -> Any:
    kinds = _types(schema)
    if "boolean" in kinds and value in ("true", "false"):
        return value == "true"
    if "integer" in kinds:
        try:
            return int(value)
        except ValueError:
            pass
    if "number" in kinds:
        try:
            return float(value)
        except ValueError:
            pass
    if "object" in kinds and "string" not in kinds:
        try:
            return json.loads(value)
        except ValueError:
            pass
    return value


def form_instance(method: str, path: str, fields: list[tuple[str, Any]]) -> dict[str, Any]:
    """Decode multipart form fields into the JSON instance the spec's form schema describes.

    What a server does with a form: repeated keys make an array, ``true``/``false`` become
    booleans, numbers are parsed, and object-typed fields are JSON-decoded; file parts become the
    string a ``format: binary`` schema expects.

    :param method: the HTTP method.
    :param path: a concrete or templated path.
    :param fields: the decoded form, as ``(name, value)`` pairs (a non-``str`` value is a file).
    """
    template = match_path(path)
    body, _ = _deref(operation(method, path)["requestBody"])
    schema = body["content"]["multipart/form-data"].get("schema", {})
    grouped: dict[str, list[Any]] = {}
    for name, value in fields:
        grouped.setdefault(name, []).append(value if isinstance(value, str) else "<file>")
    instance: dict[str, Any] = {}
    for name, values in grouped.items():
        prop = _property_schema(schema, name)
        if prop is None:
            instance[name] = values[0] if len(values) == 1 else values
        elif "array" in _types(prop):
            items = _deref(prop.get("items", {}))[0]
            instance[name] = [_form_scalar(v, items) for v in values]
        else:
            if len(values) > 1:
                raise jsonschema.ValidationError(f"{template}: {name} is not an array but was repeated")
            instance[name] = _form_scalar(values[0], prop)
    return instance


def query_parameter_names(method: str, path: str) -> set[str]:
    """Return the names of the query parameters the spec declares for an operation.

    :param method: the HTTP method.
    :param path: a concrete or templated path.
    """
    template = match_path(path)
    declared = [
        *load_spec()["paths"][template].get("parameters", []),
        *operation(method, path).get("parameters", []),
    ]
    names = set()
    for parameter in declared:
        parameter, _ = _deref(parameter)
        if parameter.get("in") == "query":
            names.add(parameter["name"])
    return names


def body_property_names(method: str, path: str, content_type: str = "application/json") -> set[str]:
    """Return every top-level property name a request body schema declares (in any branch).

    :param method: the HTTP method.
    :param path: a concrete or templated path.
    :param content_type: the body's media type.
    """
    body, _ = _deref(operation(method, path)["requestBody"])
    names: set[str] = set()

    def collect(schema: Any) -> None:
        schema, _ = _deref(schema)
        if not isinstance(schema, dict):
            return
        names.update((schema.get("properties") or {}).keys())
        for combinator in ("allOf", "oneOf", "anyOf"):
            for branch in schema.get(combinator) or []:
                collect(branch)

    collect(body["content"][content_type].get("schema", {}))
    return names
