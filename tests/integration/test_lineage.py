"""OpenLineage of the operators, run against the emulator on 127.0.0.1 (real HTTP, real waiting).

Each operator runs for real, then is asked for ``get_openlineage_facets_on_complete`` as the
OpenLineage listener does when the task succeeds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

pytest.importorskip(
    "airflow.providers.openlineage", reason="apache-airflow-providers-openlineage is not installed"
)

from airflow_provider_twelvelabs.operators.analyze_async import TwelveLabsCreateAnalyzeTaskOperator
from airflow_provider_twelvelabs.operators.assets import TwelveLabsUploadAssetOperator
from airflow_provider_twelvelabs.operators.embed import TwelveLabsCreateEmbeddingTaskOperator
from airflow_provider_twelvelabs.operators.indexes import (
    TwelveLabsCreateIndexingTaskOperator,
    TwelveLabsCreateIndexOperator,
    TwelveLabsIndexAssetOperator,
)
from airflow_provider_twelvelabs.testing.emulator.server import RunningEmulator
from tests.helpers.airflow_fakes import RecordingTI

pytestmark = pytest.mark.integration

SAMPLE = Path(__file__).resolve().parents[2] / "example_dags" / "media" / "testsrc_640x360.mp4"
FAST = {"poll_interval": 0.05, "poll_max_interval": 0.1, "deferrable": False}
SIGNED = "https://media.test/keynote.mp4?duration=30&X-Amz-Signature=deadbeefsecret&sig=s3cr3t"


@pytest.fixture
def emulator(twelvelabs_connection: RunningEmulator) -> RunningEmulator:
    return twelvelabs_connection


def namespace(emulator: RunningEmulator) -> str:
    return f"twelvelabs://{urlsplit(emulator.base_url).netloc}"


def names(datasets: list[Any]) -> list[tuple[str, str]]:
    return [(d.namespace, d.name) for d in datasets]


def run(op: Any) -> tuple[Any, Any]:
    ti = RecordingTI()
    result = op.execute({"ti": ti})
    return result, op.get_openlineage_facets_on_complete(ti)


def upload(emulator: RunningEmulator) -> str:
    asset_id, _ = run(TwelveLabsUploadAssetOperator(task_id="up", source=str(SAMPLE), **FAST))
    return str(asset_id)


def test_upload_reads_the_local_file_and_writes_the_asset(emulator):
    asset_id, lineage = run(TwelveLabsUploadAssetOperator(task_id="up", source=str(SAMPLE), **FAST))

    assert names(lineage.inputs) == [("file", str(SAMPLE))]
    assert names(lineage.outputs) == [(namespace(emulator), f"assets/{asset_id}")]


def test_index_asset_reads_the_asset_and_writes_the_index(emulator):
    asset_id = upload(emulator)
    index_id = TwelveLabsCreateIndexOperator(task_id="ix", index_name="lineage").execute(
        {"ti": RecordingTI()}
    )

    indexed_id, lineage = run(
        TwelveLabsIndexAssetOperator(task_id="t", index_id=index_id, asset_id=asset_id, **FAST)
    )

    ns = namespace(emulator)
    assert names(lineage.inputs) == [(ns, f"assets/{asset_id}")]
    assert names(lineage.outputs) == [
        (ns, f"indexes/{index_id}"),
        (ns, f"indexes/{index_id}/indexed-assets/{indexed_id}"),
    ]


def test_indexing_task_reads_the_video_file_and_writes_the_index(emulator):
    index_id = TwelveLabsCreateIndexOperator(task_id="ix", index_name="tasks").execute({"ti": RecordingTI()})

    _, lineage = run(
        TwelveLabsCreateIndexingTaskOperator(task_id="t", index_id=index_id, video_path=str(SAMPLE), **FAST)
    )

    assert names(lineage.inputs) == [("file", str(SAMPLE))]
    assert names(lineage.outputs) == [(namespace(emulator), f"indexes/{index_id}")]


def test_embedding_task_reads_a_signed_url_without_its_signature_and_writes_the_file(emulator, tmp_path):
    out = tmp_path / "vectors.jsonl"

    _, lineage = run(
        TwelveLabsCreateEmbeddingTaskOperator(task_id="e", url=SIGNED, output_path=str(out), **FAST)
    )

    assert out.exists()
    assert names(lineage.inputs) == [("https://media.test", "/keynote.mp4")]
    assert names(lineage.outputs) == [("file", str(out))]
    text = repr(lineage)
    assert "deadbeefsecret" not in text and "s3cr3t" not in text and emulator.api_key not in text


def test_analyze_task_reads_the_asset_and_writes_the_result_file(emulator, tmp_path):
    asset_id = upload(emulator)
    out = tmp_path / "summary.txt"

    _, lineage = run(
        TwelveLabsCreateAnalyzeTaskOperator(
            task_id="a", asset_id=asset_id, prompt="Summarise", output_path=str(out), **FAST
        )
    )

    assert out.exists()
    assert names(lineage.inputs) == [(namespace(emulator), f"assets/{asset_id}")]
    assert names(lineage.outputs) == [("file", str(out))]
