"""One embedding task polled on the worker: the DAG of the killed-worker test.

``embed`` creates an asynchronous Embed v2 task for a sample video and waits for it on the worker
(``deferrable=False``), so a worker process is running the operator while the task is processing.
Before ``execute`` it writes its process id to ``$TWELVELABS_E2E_PID_FILE``, so the test
(``tests/e2e/test_killed_worker.py``) can SIGKILL exactly that process. One retry is allowed: on
Airflow 3.3 it must reconnect to the remote task of the killed try instead of creating another.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

from airflow.providers.common.compat.sdk import DAG

from airflow_provider_twelvelabs.operators.embed import TwelveLabsCreateEmbeddingTaskOperator

_DEFAULT_MEDIA = Path(__file__).resolve().parents[3] / "example_dags" / "media"
MEDIA = Path(os.environ.get("TWELVELABS_E2E_MEDIA") or _DEFAULT_MEDIA)
VIDEO = sorted(MEDIA.glob("*.mp4"))[0]


def _write_pid(context: Any) -> None:
    """Tell the test which process runs this try (with the try number)."""
    path = Path(os.environ["TWELVELABS_E2E_PID_FILE"])
    with path.open("a") as out:
        out.write(f"{context['ti'].try_number} {os.getpid()}\n")


with DAG(
    dag_id="twelvelabs_killed_worker",
    schedule=None,
    catchup=False,
    default_args={"retries": 1, "retry_delay": timedelta(seconds=1)},
):
    TwelveLabsCreateEmbeddingTaskOperator(
        task_id="embed",
        input_type="video",
        file_path=str(VIDEO),
        output_path=os.environ.get("TWELVELABS_E2E_OUTPUT", "/tmp/twelvelabs-e2e-killed-worker.jsonl"),
        deferrable=False,
        poll_interval=1.0,
        poll_max_interval=2.0,
        on_execute_callback=_write_pid,
    )
