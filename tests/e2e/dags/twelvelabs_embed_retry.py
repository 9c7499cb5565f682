"""A DAG whose embedding task fails on its first try after creating the remote task, then retries.

The first try has no ``output_path`` and a one-vector XCom limit, so it fails once the task is
ready; the retry writes the file. The retry must reuse the first try's embedding task.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.providers.common.compat.sdk import DAG

from airflow_provider_twelvelabs.operators.embed import TwelveLabsCreateEmbeddingTaskOperator

with DAG(
    dag_id="twelvelabs_embed_retry",
    schedule=None,
    catchup=False,
    params={"url": "https://media.test/retry.mp4?duration=120", "output": "/tmp/twelvelabs_retry.jsonl"},
):
    TwelveLabsCreateEmbeddingTaskOperator(
        task_id="embed",
        url="{{ params.url }}",
        output_path="{{ '' if ti.try_number == 1 else params.output }}",
        max_xcom_embeddings=1,
        retries=1,
        retry_delay=timedelta(seconds=0),
        deferrable=True,
        poll_interval=0.1,
    )
