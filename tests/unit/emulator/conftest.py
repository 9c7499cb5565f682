"""Fixtures for the emulator's tests: a real server on 127.0.0.1 and httpx clients talking to it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from airflow_provider_twelvelabs.testing.emulator import EmulatorConfig, RunningEmulator
from tests.openapi import SpecError, response_schema, validate_response


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    """Configuration of the ``emulator`` fixture; tests override it with ``@pytest.mark.parametrize``."""
    return EmulatorConfig(chunk_size=1024, initial_presigned_urls=2)


@pytest.fixture
def twelvelabs_emulator_config(emulator_config: EmulatorConfig) -> EmulatorConfig:
    return emulator_config


@pytest.fixture
def emulator(twelvelabs_emulator: RunningEmulator) -> RunningEmulator:
    """The plugin's emulator, on ``emulator_config``."""
    return twelvelabs_emulator


@pytest.fixture
def api(emulator: RunningEmulator) -> Iterator[httpx.Client]:
    """A client of the emulated API, authenticated."""
    with httpx.Client(
        base_url=emulator.base_url, headers={"x-api-key": emulator.api_key}, timeout=30
    ) as client:
        yield client


@pytest.fixture
def raw(emulator: RunningEmulator) -> Iterator[httpx.Client]:
    """A client of the emulator's root (control endpoints, presigned URLs), without API key."""
    with httpx.Client(base_url=emulator.url, timeout=30) as client:
        yield client


def spec_checked(response: httpx.Response, status: int) -> Any:
    """Assert the status, validate the JSON body against the OpenAPI spec when it describes it, return it."""
    assert response.status_code == status, response.text
    if status == 204:
        assert response.content == b""
        return None
    body = response.json()
    path = response.request.url.path
    try:
        response_schema(response.request.method, path, status)
    except SpecError:
        return body  # the spec does not describe this response (S-only endpoint or status)
    validate_response(response.request.method, path, status, body)
    return body


@pytest.fixture
def check() -> Callable[[httpx.Response, int], Any]:
    return spec_checked


def make_index(api: httpx.Client, name: str = "idx", options: tuple[str, ...] = ("visual", "audio")) -> str:
    response = api.post(
        "/indexes",
        json={"index_name": name, "models": [{"model_name": "marengo3.0", "model_options": list(options)}]},
    )
    assert response.status_code == 201, response.text
    index_id: str = response.json()["_id"]
    return index_id


def make_asset(
    api: httpx.Client, filename: str = "clip.mp4", content: bytes = b"0123456789" * 100, **fields: str
) -> str:
    response = api.post(
        "/assets", data={"method": "direct", **fields}, files={"file": (filename, content, "video/mp4")}
    )
    assert response.status_code == 201, response.text
    asset_id: str = response.json()["_id"]
    return asset_id


def poll(
    api: httpx.Client, path: str, terminal: tuple[str, ...] = ("ready", "failed"), limit: int = 20
) -> list[str]:
    """GET ``path`` until its status is terminal; return every status seen."""
    seen = []
    for _ in range(limit):
        response = api.get(path)
        assert response.status_code == 200, response.text
        seen.append(response.json()["status"])
        if seen[-1] in terminal:
            return seen
    raise AssertionError(f"{path} never reached {terminal}: {seen}")


def ready_asset(api: httpx.Client, filename: str = "clip.mp4", **fields: str) -> str:
    asset_id = make_asset(api, filename, **fields)
    assert poll(api, f"/assets/{asset_id}")[-1] == "ready"
    return asset_id
