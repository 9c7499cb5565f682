"""Helpers shared by the emulator's compute-endpoint tests (embed, analyze, search)."""

from __future__ import annotations

import functools
import hashlib
import json
import math
from pathlib import Path
from typing import Any

import httpx
import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from airflow_provider_twelvelabs.testing.emulator.server import RunningEmulator
from tests.openapi import load_spec, validate_response

__all__ = [
    "api_client",
    "assert_flat_error",
    "assert_nested_error",
    "check",
    "create_index",
    "indexed_video",
    "ndjson",
    "ready_asset",
    "stored_md5",
    "unit_norm",
    "validate_component",
    "write_random_file",
]


def write_random_file(path: Path, size: int, seed: int = 1) -> str:
    """Write ``size`` pseudo-random bytes (the same for the same ``seed``) to ``path``; return their MD5."""
    out = bytearray()
    block = hashlib.sha256(str(seed).encode()).digest()
    while len(out) < size:
        block = hashlib.sha256(block).digest()
        out += block
    path.write_bytes(bytes(out[:size]))
    return hashlib.md5(bytes(out[:size])).hexdigest()


def stored_md5(emulator: RunningEmulator, asset_id: str) -> str:
    """The MD5 of the bytes the emulator holds for an asset (its control endpoint)."""
    return str(httpx.get(f"{emulator.url}/_emulator/assets/{asset_id}").json()["md5"])


def api_client(emulator: RunningEmulator) -> httpx.Client:
    """Return an httpx client for the emulator's ``/v1.3`` API with the right key."""
    return httpx.Client(base_url=emulator.base_url, headers={"x-api-key": emulator.api_key}, timeout=60)


def check(response: httpx.Response, status: int = 200, *, sdk_only: tuple[str, ...] = ()) -> Any:
    """Assert the status, validate the body against the OpenAPI schema, and return the JSON.

    :param sdk_only: top-level keys that SDK 1.3.6 documents but the (older) OpenAPI file forbids;
        they are left out of the schema check only.
    """
    assert response.status_code == status, response.text
    body = response.json()
    checked = {k: v for k, v in body.items() if k not in sdk_only} if sdk_only else body
    validate_response(response.request.method, response.request.url.path, status, checked)
    return body


def assert_nested_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Assert an embed-v2 style ``{"error": {code, message, details?}}`` error."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code, body
    assert body["error"]["message"]
    validate_response(response.request.method, response.request.url.path, status, body)
    return body["error"]


def assert_flat_error(
    response: httpx.Response, status: int, code: str, *, validate: bool = True
) -> dict[str, Any]:
    """Assert a flat ``{code, message, docs_url?}`` error."""
    assert response.status_code == status, response.text
    body = response.json()
    assert "error" not in body
    assert body["code"] == code, body
    assert body["message"]
    if validate:
        validate_response(response.request.method, response.request.url.path, status, body)
    return body


def ready_asset(client: httpx.Client, url: str) -> str:
    """Create an asset by URL and poll it until ``ready``; return its id."""
    response = client.post("/assets", files={"method": (None, "url"), "url": (None, url)})
    assert response.status_code == 201, response.text
    asset_id = response.json()["_id"]
    for _ in range(20):
        if client.get(f"/assets/{asset_id}").json()["status"] == "ready":
            return str(asset_id)
    raise AssertionError(f"asset {asset_id} never became ready")


def create_index(
    client: httpx.Client,
    options: tuple[str, ...] = ("visual", "audio"),
    thumbnail: bool = False,
    *,
    pegasus: bool = False,
) -> str:
    """Create a Marengo 3.0 index (with Pegasus too if ``pegasus``, for generation) and return its id."""
    models = [{"model_name": "marengo3.0", "model_options": list(options)}]
    if pegasus:
        models.append({"model_name": "pegasus1.2", "model_options": ["visual", "audio"]})
    body: dict[str, Any] = {
        "index_name": f"idx-{options}-{thumbnail}-{pegasus}-{id(options)}",
        "models": models,
    }
    if thumbnail:
        body["addons"] = ["thumbnail"]
    response = client.post("/indexes", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["_id"])


def indexed_video(
    client: httpx.Client, index_id: str, url: str, user_metadata: dict[str, Any] | None = None
) -> str:
    """Upload ``url`` as an asset, index it and poll until ``ready``; return the video id."""
    asset_id = ready_asset(client, url)
    body: dict[str, Any] = {"asset_id": asset_id}
    if user_metadata is not None:
        body["user_metadata"] = user_metadata
    response = client.post(f"/indexes/{index_id}/indexed-assets", json=body)
    assert response.status_code == 202, response.text
    video_id = response.json()["_id"]
    for _ in range(20):
        if client.get(f"/indexes/{index_id}/indexed-assets/{video_id}").json()["status"] == "ready":
            return str(video_id)
    raise AssertionError(f"indexed asset {video_id} never became ready")


def unit_norm(vector: list[float]) -> bool:
    """Whether a vector has (rounded) unit length."""
    return math.isclose(math.fsum(x * x for x in vector), 1.0, abs_tol=1e-4)


def ndjson(response: httpx.Response) -> list[dict[str, Any]]:
    """Parse an NDJSON body into its events, skipping blank lines."""
    return [json.loads(line) for line in response.text.splitlines() if line.strip()]


@functools.cache
def _component_registry() -> Registry:
    resource = Resource.from_contents(load_spec(), default_specification=DRAFT202012)
    return Registry().with_resource(_SPEC, resource)


_SPEC = "urn:compute-tests:openapi"


def validate_component(name: str, instance: Any) -> None:
    """Validate ``instance`` against ``#/components/schemas/<name>`` of the OpenAPI file.

    Used where the response schema is a ``oneOf`` that a single NDJSON event cannot satisfy
    unambiguously (a stream event also matches the all-optional non-stream schema).
    """
    schema = {"$ref": f"{_SPEC}#/components/schemas/{name}"}
    jsonschema.Draft202012Validator(schema, registry=_component_registry()).validate(instance)
