"""A DAG whose multipart upload crashes on its first try after some chunks, then retries.

The first try fails once 5 chunks are uploaded (as a worker dying mid-upload would); the retry must
find the session again in the task state store and upload only the chunks still missing.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.providers.common.compat.sdk import DAG

from airflow_provider_twelvelabs.hooks.multipart import UploadProgress
from airflow_provider_twelvelabs.operators.assets import TwelveLabsMultipartUploadOperator


def crash_on_first_try(progress: UploadProgress) -> None:
    from airflow.sdk import get_current_context

    if get_current_context()["ti"].try_number == 1 and progress.chunks_done >= 5:
        raise RuntimeError("simulated worker crash after 5 chunks")


with DAG(
    dag_id="twelvelabs_multipart_retry",
    schedule=None,
    catchup=False,
    params={"source": "/tmp/twelvelabs_multipart_retry.mp4"},
):
    TwelveLabsMultipartUploadOperator(
        task_id="upload",
        source="{{ params.source }}",
        concurrency=2,
        upload_options={"report_interval": 0, "progress_callback": crash_on_first_try},
        retries=1,
        retry_delay=timedelta(seconds=0),
        deferrable=False,
        poll_interval=0.1,
    )
