"""A DAG whose creates are done by the API but whose answers are lost once, then retried by Airflow.

The test's emulator loses the answer of the first ``POST /assets`` and of the first ``POST
/analyze/tasks``; each task's first try fails ("got no answer"), and its retry must find what the
first try created instead of creating it again.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.providers.common.compat.sdk import DAG

from airflow_provider_twelvelabs.operators.analyze_async import TwelveLabsCreateAnalyzeTaskOperator
from airflow_provider_twelvelabs.operators.assets import TwelveLabsUploadAssetOperator

RETRY = {"retries": 1, "retry_delay": timedelta(seconds=0), "deferrable": False, "poll_interval": 0.1}

with DAG(dag_id="twelvelabs_lost_answer", schedule=None, catchup=False):
    upload = TwelveLabsUploadAssetOperator(
        task_id="upload", source="https://example.invalid/videos/talk.mp4?duration=60", method="url", **RETRY
    )
    analyze = TwelveLabsCreateAnalyzeTaskOperator(
        task_id="analyze", asset_id="{{ ti.xcom_pull(task_ids='upload') }}", prompt="Describe", **RETRY
    )
    upload >> analyze
