"""Upload and index the sample videos, every wait deferred: the DAG of the triggerer-restart test.

For each sample file: upload it (no wait), wait for the asset with a deferrable
``TwelveLabsAssetSensor``, then index it with a deferrable ``TwelveLabsIndexAssetOperator``.
The indexing tasks must finish on their first try even when the triggerer that runs their triggers
is killed (``tests/e2e/test_triggerer_restart.py``). One quick retry is allowed: Airflow 3.3 may
fail a deferred task whose trigger fires right after it deferred (a stale executor event,
apache/airflow#72716), which the asset sensors' short waits can hit.

The sample folder comes from ``TWELVELABS_E2E_MEDIA`` (default: the repository's
``example_dags/media``), read when the file is parsed.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from airflow.providers.common.compat.sdk import DAG

from airflow_provider_twelvelabs.operators.assets import TwelveLabsUploadAssetOperator
from airflow_provider_twelvelabs.operators.indexes import (
    TwelveLabsCreateIndexOperator,
    TwelveLabsIndexAssetOperator,
)
from airflow_provider_twelvelabs.sensors.twelvelabs import TwelveLabsAssetSensor

_DEFAULT_MEDIA = Path(__file__).resolve().parents[3] / "example_dags" / "media"
MEDIA = Path(os.environ.get("TWELVELABS_E2E_MEDIA") or _DEFAULT_MEDIA)
FILES = sorted(str(path) for path in MEDIA.glob("*.mp4"))

with DAG(
    dag_id="twelvelabs_triggerer_restart",
    schedule=None,
    catchup=False,
    params={"index_name": "e2e-triggerer-restart"},
    default_args={"retries": 1, "retry_delay": timedelta(seconds=2)},
):
    index = TwelveLabsCreateIndexOperator(task_id="create_index", index_name="{{ params.index_name }}")

    uploads = TwelveLabsUploadAssetOperator.partial(task_id="upload", wait_for_ready=False).expand(
        source=FILES
    )

    assets_ready = TwelveLabsAssetSensor.partial(
        task_id="asset_ready",
        deferrable=True,
        poll_interval=1.0,
        poke_interval=3.0,
        timeout=300,
    ).expand(asset_id=uploads.output)

    indexed = TwelveLabsIndexAssetOperator.partial(
        task_id="index",
        index_id=index.output,
        deferrable=True,
        poll_interval=1.0,
        poll_backoff=1.5,
        poll_max_interval=3.0,
        wait_timeout=300,
    ).expand(asset_id=uploads.output)

    assets_ready >> indexed
