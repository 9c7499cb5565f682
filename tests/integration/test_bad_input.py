"""Bad input (issue 13, item 8): invalid parameters of every operator and sensor fail with an error
naming the parameter, and not one request reaches the API.

Each case builds the operator as a DAG file would, renders its templates with real Jinja (a
``params`` context) where the value comes from a template, and executes it against the emulator on
127.0.0.1. The emulator's request log must stay empty.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from airflow_provider_twelvelabs.exceptions import TwelveLabsError
from airflow_provider_twelvelabs.operators.analyze import (
    TwelveLabsAnalyzeOperator,
    TwelveLabsGistOperator,
    TwelveLabsSummarizeOperator,
)
from airflow_provider_twelvelabs.operators.analyze_async import (
    TwelveLabsCreateAnalyzeBatchOperator,
    TwelveLabsCreateAnalyzeTaskOperator,
)
from airflow_provider_twelvelabs.operators.assets import (
    TwelveLabsMultipartUploadOperator,
    TwelveLabsUploadAssetOperator,
)
from airflow_provider_twelvelabs.operators.embed import (
    TwelveLabsCreateEmbeddingTaskOperator,
    TwelveLabsCreateVideoEmbeddingTaskOperator,
    TwelveLabsEmbedOperator,
)
from airflow_provider_twelvelabs.operators.indexes import (
    TwelveLabsCreateIndexingTaskOperator,
    TwelveLabsCreateIndexOperator,
    TwelveLabsDeleteIndexOperator,
    TwelveLabsIndexAssetOperator,
)
from airflow_provider_twelvelabs.operators.search import TwelveLabsSearchOperator
from airflow_provider_twelvelabs.sensors.twelvelabs import (
    TwelveLabsAnalyzeBatchSensor,
    TwelveLabsAnalyzeTaskSensor,
    TwelveLabsAssetSensor,
    TwelveLabsEmbeddingTaskSensor,
    TwelveLabsIndexedAssetSensor,
    TwelveLabsIndexingTaskSensor,
    TwelveLabsResourceSensor,
)
from airflow_provider_twelvelabs.testing.emulator.server import RunningEmulator, serve_emulator
from airflow_provider_twelvelabs.testing.pytest_plugin import set_twelvelabs_connection

pytestmark = pytest.mark.integration

URL = "https://media.example.com/keynote.mp4?duration=60"
ASSET = "6630f0c2a1b2c3d4e5f60718"
INDEX = "6630f0c2a1b2c3d4e5f60719"
WAIT = {"poll_interval": 0.02, "deferrable": False}


class Case:
    """One invalid configuration: how to build it, the parameter its error names, template params."""

    def __init__(self, build: Callable[[], Any], names: str, params: dict[str, Any] | None = None) -> None:
        self.build = build
        self.names = names
        self.params = params


C = Case
CASES: dict[str, Case] = {
    # ---- upload
    "upload-no-source": C(lambda: TwelveLabsUploadAssetOperator(task_id="t", source=None), "source"),
    "upload-unknown-method": C(
        lambda: TwelveLabsUploadAssetOperator(task_id="t", source=URL, method="ftp"), "method"
    ),
    "upload-unknown-file-type": C(
        lambda: TwelveLabsUploadAssetOperator(task_id="t", source=URL, method="url", file_type="movie"),
        "file_type",
    ),
    "upload-metadata-not-a-mapping": C(
        lambda: TwelveLabsUploadAssetOperator(task_id="t", source=URL, method="url", user_metadata=[1, 2]),
        "user_metadata",
    ),
    "upload-templated-url-renders-garbage": C(
        lambda: TwelveLabsUploadAssetOperator(task_id="t", source="{{ params.src }}", method="url"),
        "source|url",
        {"src": "not a url"},
    ),
    "multipart-unknown-file-type": C(
        lambda: TwelveLabsMultipartUploadOperator(task_id="t", source="/tmp/x.mp4", file_type="movie"),
        "file_type",
    ),
    "upload-wait-timeout-negative": C(
        lambda: TwelveLabsUploadAssetOperator(task_id="t", source=URL, method="url", wait_timeout=-5),
        "wait_timeout",
    ),
    # ---- indexes
    "create-index-empty-name": C(
        lambda: TwelveLabsCreateIndexOperator(task_id="t", index_name=""), "index_name"
    ),
    "create-index-unknown-model": C(
        lambda: TwelveLabsCreateIndexOperator(task_id="t", index_name="n", models=[{"model_name": "gpt"}]),
        "model",
    ),
    "create-index-addons-not-strings": C(
        lambda: TwelveLabsCreateIndexOperator(task_id="t", index_name="n", addons=[1, 2]), "addons"
    ),
    "create-index-model-not-a-mapping": C(
        lambda: TwelveLabsCreateIndexOperator(task_id="t", index_name="n", models=["marengo3.0"]), "models"
    ),
    "create-index-unknown-if-exists": C(
        lambda: TwelveLabsCreateIndexOperator(task_id="t", index_name="n", if_exists="merge"), "if_exists"
    ),
    "create-index-templated-models-garbage": C(
        lambda: TwelveLabsCreateIndexOperator(task_id="t", index_name="n", models="{{ params.m }}"),
        "models",
        {"m": "marengo please"},
    ),
    "delete-index-id-with-slash": C(
        lambda: TwelveLabsDeleteIndexOperator(task_id="t", index_id="../assets"), "index_id"
    ),
    "index-asset-missing-index": C(
        lambda: TwelveLabsIndexAssetOperator(task_id="t", index_id="", asset_id=ASSET, **WAIT), "index_id"
    ),
    "index-asset-templated-id-renders-empty": C(
        lambda: TwelveLabsIndexAssetOperator(task_id="t", index_id=INDEX, asset_id="{{ params.a }}", **WAIT),
        "asset_id",
        {"a": ""},
    ),
    "index-asset-unknown-dedupe": C(
        lambda: TwelveLabsIndexAssetOperator(task_id="t", index_id=INDEX, asset_id=ASSET, dedupe="hash"),
        "dedupe",
    ),
    "index-asset-templated-bool-garbage": C(
        lambda: TwelveLabsIndexAssetOperator(
            task_id="t", index_id=INDEX, asset_id=ASSET, enable_video_stream="{{ params.s }}", **WAIT
        ),
        "enable_video_stream",
        {"s": "perhaps"},
    ),
    "indexing-task-two-sources": C(
        lambda: TwelveLabsCreateIndexingTaskOperator(
            task_id="t", index_id=INDEX, video_path="/tmp/v.mp4", video_url=URL, **WAIT
        ),
        "video_path|video_url",
    ),
    "indexing-task-no-source": C(
        lambda: TwelveLabsCreateIndexingTaskOperator(task_id="t", index_id=INDEX, **WAIT),
        "video_path|video_url",
    ),
    # ---- embed
    "embed-unknown-input-type": C(
        lambda: TwelveLabsEmbedOperator(task_id="t", input_type="smell", text="x"), "input_type"
    ),
    "embed-text-missing": C(lambda: TwelveLabsEmbedOperator(task_id="t", input_type="text"), "text"),
    "embed-text-templated-empty": C(
        lambda: TwelveLabsEmbedOperator(task_id="t", input_type="text", text="{{ params.q }}"),
        "text",
        {"q": "   "},
    ),
    "embed-auto-truncate-not-bool": C(
        lambda: TwelveLabsEmbedOperator(task_id="t", input_type="text", text="x", auto_truncate="sometimes"),
        "auto_truncate",
    ),
    "embed-task-unknown-input-type": C(
        lambda: TwelveLabsCreateEmbeddingTaskOperator(task_id="t", input_type="text", url=URL, **WAIT),
        "input_type",
    ),
    "video-embedding-two-sources": C(
        lambda: TwelveLabsCreateVideoEmbeddingTaskOperator(
            task_id="t", video_url=URL, video_file="/tmp/v.mp4", **WAIT
        ),
        "video_url|video_file",
    ),
    "video-embedding-clip-length-out-of-range": C(
        lambda: TwelveLabsCreateVideoEmbeddingTaskOperator(
            task_id="t", video_url=URL, video_clip_length=0.5, **WAIT
        ),
        "video_clip_length",
    ),
    "video-embedding-unknown-scope": C(
        lambda: TwelveLabsCreateVideoEmbeddingTaskOperator(
            task_id="t", video_url=URL, video_embedding_scope=["galaxy"], **WAIT
        ),
        "video_embedding_scope",
    ),
    "video-embedding-templated-url-garbage": C(
        lambda: TwelveLabsCreateVideoEmbeddingTaskOperator(task_id="t", video_url="{{ params.u }}", **WAIT),
        "video_url",
        {"u": "ftp://example.com/v.mp4"},
    ),
    # ---- analyze (sync and legacy)
    "analyze-no-video": C(
        lambda: TwelveLabsAnalyzeOperator(task_id="t", prompt="Describe."), "video_id|asset_id"
    ),
    "analyze-two-videos": C(
        lambda: TwelveLabsAnalyzeOperator(task_id="t", prompt="Describe.", asset_id=ASSET, video_url=URL),
        "video_id|asset_id|video_url",
    ),
    "analyze-temperature-out-of-range": C(
        lambda: TwelveLabsAnalyzeOperator(task_id="t", prompt="Describe.", asset_id=ASSET, temperature=7),
        "temperature",
    ),
    "analyze-max-tokens-wrong-type": C(
        lambda: TwelveLabsAnalyzeOperator(task_id="t", prompt="Describe.", asset_id=ASSET, max_tokens="lots"),
        "max_tokens",
    ),
    "analyze-templated-prompt-empty": C(
        lambda: TwelveLabsAnalyzeOperator(task_id="t", prompt="{{ params.p }}", asset_id=ASSET),
        "prompt",
        {"p": ""},
    ),
    "analyze-window-reversed": C(
        lambda: TwelveLabsAnalyzeOperator(
            task_id="t", prompt="Describe.", asset_id=ASSET, start_time=30, end_time=10
        ),
        "start_time|end_time",
    ),
    "summarize-unknown-type": C(
        lambda: TwelveLabsSummarizeOperator(task_id="t", asset_id=ASSET, type="poem"), "type"
    ),
    "gist-unknown-type": C(
        lambda: TwelveLabsGistOperator(task_id="t", asset_id=ASSET, types=["memes"]), "types"
    ),
    # ---- analyze tasks and batches
    "analyze-task-unknown-mode": C(
        lambda: TwelveLabsCreateAnalyzeTaskOperator(
            task_id="t", url=URL, prompt="x", analysis_mode="dreaming", **WAIT
        ),
        "analysis_mode",
    ),
    "analyze-task-unknown-on-warning": C(
        lambda: TwelveLabsCreateAnalyzeTaskOperator(task_id="t", url=URL, prompt="x", on_warning="ignore"),
        "on_warning",
    ),
    "analyze-task-templated-schema-garbage": C(
        lambda: TwelveLabsCreateAnalyzeTaskOperator(
            task_id="t", url=URL, prompt="x", json_schema="{{ params.s }}", **WAIT
        ),
        "json_schema",
        {"s": "{not json"},
    ),
    "analyze-task-unknown-output-format": C(
        lambda: TwelveLabsCreateAnalyzeTaskOperator(task_id="t", url=URL, prompt="x", output_format="xlsx"),
        "output_format",
    ),
    "batch-item-unknown-key": C(
        lambda: TwelveLabsCreateAnalyzeBatchOperator(
            task_id="t", items=[{"asset_id": ASSET, "colour": "red"}], prompt="x", output_path="/tmp/o.jsonl"
        ),
        r"items\[0\]",
    ),
    "batch-templated-items-garbage": C(
        lambda: TwelveLabsCreateAnalyzeBatchOperator(
            task_id="t", items="{{ params.i }}", prompt="x", output_path="/tmp/o.jsonl", **WAIT
        ),
        "items",
        {"i": "[{'nope': 1}]"},
    ),
    "batch-negative-max-failed-items": C(
        lambda: TwelveLabsCreateAnalyzeBatchOperator(
            task_id="t", items=[ASSET], prompt="x", output_path="/tmp/o.jsonl", max_failed_items=-1
        ),
        "max_failed_items",
    ),
    "batch-fraction-above-one": C(
        lambda: TwelveLabsCreateAnalyzeBatchOperator(
            task_id="t", items=[ASSET], prompt="x", output_path="/tmp/o.jsonl", max_failed_fraction=1.5
        ),
        "max_failed_fraction",
    ),
    "batch-too-many-active-batches": C(
        lambda: TwelveLabsCreateAnalyzeBatchOperator(
            task_id="t", items=[ASSET], prompt="x", output_path="/tmp/o.jsonl", max_active_batches=99
        ),
        "max_active_batches",
    ),
    "batch-unknown-output-format": C(
        lambda: TwelveLabsCreateAnalyzeBatchOperator(
            task_id="t", items=[ASSET], prompt="x", output_path="/tmp/o.jsonl", output_format="csv"
        ),
        "output_format",
    ),
    # ---- search
    "search-no-query": C(lambda: TwelveLabsSearchOperator(task_id="t", index_id=INDEX), "query"),
    "search-unknown-option": C(
        lambda: TwelveLabsSearchOperator(
            task_id="t", index_id=INDEX, query_text="x", search_options=["smell"]
        ),
        "search_options",
    ),
    "search-unknown-group-by": C(
        lambda: TwelveLabsSearchOperator(task_id="t", index_id=INDEX, query_text="x", group_by="day"),
        "group_by",
    ),
    "search-max-results-zero": C(
        lambda: TwelveLabsSearchOperator(task_id="t", index_id=INDEX, query_text="x", max_results=0),
        "max_results",
    ),
    "search-page-limit-too-large": C(
        lambda: TwelveLabsSearchOperator(task_id="t", index_id=INDEX, query_text="x", page_limit=1000),
        "page_limit",
    ),
    "search-templated-filter-garbage": C(
        lambda: TwelveLabsSearchOperator(
            task_id="t", index_id=INDEX, query_text="x", filter="{{ params.f }}"
        ),
        "filter",
        {"f": "{broken"},
    ),
    # ---- sensors
    "sensor-unknown-kind": C(
        lambda: TwelveLabsResourceSensor(task_id="t", kind="video", resource_id=ASSET), "kind"
    ),
    "sensor-asset-templated-id-empty": C(
        lambda: TwelveLabsAssetSensor(task_id="t", asset_id="{{ params.a }}", poke_interval=0.01, timeout=1),
        "asset_id",
        {"a": ""},
    ),
    "sensor-indexed-asset-no-index": C(
        lambda: TwelveLabsIndexedAssetSensor(
            task_id="t", index_id="", indexed_asset_id=ASSET, poke_interval=0.01, timeout=1
        ),
        "index_id",
    ),
    "sensor-indexing-task-id-with-slash": C(
        lambda: TwelveLabsIndexingTaskSensor(
            task_id="t", indexing_task_id="a/b", poke_interval=0.01, timeout=1
        ),
        "indexing_task_id",
    ),
    "sensor-embedding-negative-poll-interval": C(
        lambda: TwelveLabsEmbeddingTaskSensor(task_id="t", embedding_task_id=ASSET, poll_interval=-1),
        "poll_interval",
    ),
    "sensor-analyze-task-backoff-below-one": C(
        lambda: TwelveLabsAnalyzeTaskSensor(task_id="t", analyze_task_id=ASSET, poll_backoff=0.5),
        "poll_backoff",
    ),
    "sensor-batch-wrong-type-id": C(
        lambda: TwelveLabsAnalyzeBatchSensor(
            task_id="t", analyze_batch_id=12345, poke_interval=0.01, timeout=1
        ),
        "analyze_batch_id",
    ),
    "wait-timeout-wrong-type": C(
        lambda: TwelveLabsCreateAnalyzeTaskOperator(task_id="t", url=URL, prompt="x", wait_timeout="soon"),
        "wait_timeout",
    ),
    "poll-interval-zero": C(
        lambda: TwelveLabsIndexAssetOperator(task_id="t", index_id=INDEX, asset_id=ASSET, poll_interval=0),
        "poll|interval",
    ),
    "wait-timeout-timedelta-negative": C(
        lambda: TwelveLabsIndexAssetOperator(
            task_id="t", index_id=INDEX, asset_id=ASSET, wait_timeout=timedelta(seconds=-1)
        ),
        "wait_timeout",
    ),
}


@pytest.fixture(scope="module")
def emulator() -> Iterator[RunningEmulator]:
    with serve_emulator() as running:
        yield running


@pytest.fixture
def api(emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch) -> RunningEmulator:
    set_twelvelabs_connection(monkeypatch, emulator.base_url, emulator.api_key, max_retries=0)
    httpx.delete(f"{emulator.url}/_emulator/requests").raise_for_status()
    return emulator


class _TI:
    stats_tags: dict[str, str] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        """Accept XComs (none should be pushed before the error)."""


def _run(case: Case) -> None:
    operator = case.build()
    context: dict[str, Any] = {"ti": _TI(), "params": case.params or {}, "task_state_store": None}
    if case.params is not None:
        operator.render_template_fields(context)
    operator.execute(context)


def test_the_table_covers_every_operator_and_sensor():
    import inspect

    from airflow_provider_twelvelabs.operators import analyze, analyze_async, assets, embed, indexes, search
    from airflow_provider_twelvelabs.sensors import twelvelabs as sensors

    public = {
        name
        for module in (analyze, analyze_async, assets, embed, indexes, search, sensors)
        for name, cls in vars(module).items()
        if inspect.isclass(cls)
        and cls.__module__ == module.__name__
        and name.startswith("TwelveLabs")
        and name.endswith(("Operator", "Sensor"))
        and name not in ("TwelveLabsBaseOperator", "TwelveLabsJobOperator")
    }
    used = {name for case in CASES.values() for name in case.build.__code__.co_names}
    assert len(CASES) >= 40
    assert public - used == set()


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_bad_input_names_the_parameter_before_any_request(api, case):
    with pytest.raises((ValueError, TypeError, TwelveLabsError)) as info:
        _run(case)
    assert re.search(case.names, str(info.value)), f"{type(info.value).__name__}: {info.value}"
    requests = httpx.get(f"{api.url}/_emulator/requests").json()["data"]
    assert [r for r in requests if r["path"].startswith("/v1.3")] == []
