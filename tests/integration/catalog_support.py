"""Helpers of the Pegasus and search operator tests: an emulator with an index of ready videos."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from airflow_provider_twelvelabs.hooks.endpoints import FilePart
from airflow_provider_twelvelabs.hooks.twelvelabs import TwelveLabsHook
from airflow_provider_twelvelabs.testing.emulator.server import RunningEmulator
from airflow_provider_twelvelabs.testing.pytest_plugin import set_twelvelabs_connection

MEDIA = Path(__file__).resolve().parents[2] / "example_dags" / "media"
SAMPLES = ("testsrc_640x360.mp4", "smptebars_480x360.mp4", "mandelbrot_480x480.mp4")
#: Fast retries: the emulator answers at once, and the rate-limit tests must not wait for real.
FAST_RETRIES = {"retry_base_delay": 0.01, "retry_max_wait": 0.05, "max_retries": 5}


@dataclass
class Catalog:
    """A running emulator with one index of ready videos, and the connection pointing at it."""

    emulator: RunningEmulator
    index_id: str
    video_ids: list[str]
    asset_ids: list[str]
    metadata: dict[str, dict[str, Any]] = field(default_factory=dict)

    def log(self) -> list[dict[str, Any]]:
        """A copy of the emulator's request log."""
        return list(self.emulator.state.request_log)

    def requests_since(self, mark: int) -> list[tuple[str, str, int | None]]:
        """``(method, path without /v1.3, status)`` of the API requests after ``mark`` log entries."""
        return [
            (e["method"], e["path"].removeprefix("/v1.3"), e["status"])
            for e in self.emulator.state.request_log[mark:]
            if e["path"].startswith("/v1.3")
        ]

    def raw(self) -> httpx.Client:
        """A plain HTTP client on the emulator's API, to compare operators with the API's own answers."""
        return httpx.Client(
            base_url=self.emulator.base_url, headers={"x-api-key": self.emulator.api_key}, timeout=30
        )

    @contextmanager
    def config(self, **changes: Any) -> Iterator[None]:
        """Change emulator switches for a block, restoring them afterwards."""
        config = self.emulator.config
        before = {name: getattr(config, name) for name in changes}
        config.update(changes)
        try:
            yield
        finally:
            config.update(before)


def connect(monkeypatch: pytest.MonkeyPatch, emulator: RunningEmulator) -> None:
    """Point the ``twelvelabs_default`` connection at the emulator."""
    set_twelvelabs_connection(monkeypatch, emulator.base_url, emulator.api_key, **FAST_RETRIES)


def _opener(path: Path) -> Any:
    return lambda: path.open("rb")


def index_samples(
    hook: TwelveLabsHook,
    *,
    options: tuple[str, ...] = ("visual", "audio"),
    addons: tuple[str, ...] = ("thumbnail",),
    metadata: list[dict[str, Any]] | None = None,
) -> tuple[str, list[str], list[str]]:
    """Create an index, upload the sample videos, index them and poll until ready.

    :return: ``(index_id, video_ids, asset_ids)``.
    """
    index = hook.create_index(
        index_name=f"catalog-{'-'.join(options)}",
        models=[
            {"model_name": "marengo3.0", "model_options": list(options)},
            {"model_name": "pegasus1.2", "model_options": ["visual", "audio"]},
        ],
        addons=list(addons),
    )
    video_ids, asset_ids = [], []
    for i, name in enumerate(SAMPLES):
        path = MEDIA / name
        asset = hook.create_asset(method="direct", file=FilePart("file", name, _opener(path), "video/mp4"))
        for _ in range(20):
            if asset.status == "ready":
                break
            asset = hook.get_asset(asset.id)
        assert asset.status == "ready", asset
        user_metadata = metadata[i] if metadata else None
        indexed = hook.create_indexed_asset(index.id, asset_id=asset.id, user_metadata=user_metadata)
        for _ in range(20):
            if indexed.status == "ready":
                break
            indexed = hook.get_indexed_asset(index.id, indexed.id)
        assert indexed.status == "ready", indexed
        video_ids.append(indexed.id)
        asset_ids.append(asset.id)
    return index.id, video_ids, asset_ids


@contextmanager
def serve_catalog(
    emulator: RunningEmulator, metadata: list[dict[str, Any]] | None = None
) -> Iterator[Catalog]:
    """Fill ``emulator`` with an index of the three sample videos and connect it as the default."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        connect(monkeypatch, emulator)
        with TwelveLabsHook() as hook:
            index_id, video_ids, asset_ids = index_samples(hook, metadata=metadata)
        yield Catalog(
            emulator,
            index_id,
            video_ids,
            asset_ids,
            metadata=dict(zip(video_ids, metadata or [], strict=False)),
        )
