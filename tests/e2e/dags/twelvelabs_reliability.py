"""The DAGs of the reliability tests (``tests/e2e/test_reliability.py``, issue 13).

* ``reliability_pipeline``: the archive pipeline under faults and rate limits: list the files under
  ``source``, create the index, upload every file (multipart above a small threshold), index it,
  analyze the videos in one analyze batch, and write a catalog of one JSON line per file under
  ``output_path``. Every wait defers (unless ``$TWELVELABS_E2E_DEFERRABLE`` is ``false``).
  Partial failures: up to a quarter of the batch's items may fail (their catalog rows say so);
  anything more fails the run.
* ``reliability_killed_upload``: one multipart upload polled on the worker, whose process the test
  SIGKILLs halfway through.
* ``reliability_killed_batch``: one analyze batch polled on the worker, killed once it exists.
* ``reliability_killed_embedding``: one Embed v2 task over a sample video polled on the worker,
  killed once the task exists; the embeddings go to ``output_path``.
* ``reliability_triggerers``: one indexing wait per asset of ``asset_ids``, all deferred, while the
  test kills the triggerers under them.

The killed DAGs write ``<try number> <pid>`` to ``$TWELVELABS_E2E_PID_FILE`` before ``execute``, so
that the test kills exactly the process running the operator.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

from airflow.providers.common.compat.sdk import DAG, dag, task

from airflow_provider_twelvelabs.operators.analyze_async import TwelveLabsCreateAnalyzeBatchOperator
from airflow_provider_twelvelabs.operators.assets import (
    TwelveLabsMultipartUploadOperator,
    TwelveLabsUploadAssetOperator,
)
from airflow_provider_twelvelabs.operators.embed import TwelveLabsCreateEmbeddingTaskOperator
from airflow_provider_twelvelabs.operators.indexes import (
    TwelveLabsCreateIndexOperator,
    TwelveLabsIndexAssetOperator,
)

_DEFAULT_MEDIA = Path(__file__).resolve().parents[3] / "example_dags" / "media"
MEDIA = Path(os.environ.get("TWELVELABS_E2E_MEDIA") or _DEFAULT_MEDIA)

#: Files above this size go through a multipart upload (the API's limit is 200 MB; the tests use
#: small files and the emulator's small chunks, so that a few files of a few hundred KB are "large").
MULTIPART_THRESHOLD = int(os.environ.get("TWELVELABS_E2E_MULTIPART_THRESHOLD", "400000"))

#: Whether the pipeline's waits defer (the rate-limit test polls on the worker instead: 200 files make
#: 400 deferrals, each costing ``airflow dags test`` about a second of its own).
DEFERRABLE = os.environ.get("TWELVELABS_E2E_DEFERRABLE", "true") == "true"

_RETRY = {"retries": 4, "retry_delay": timedelta(seconds=1)}
_FAST_CHUNK_RETRIES = {"retry_base_delay": 0.05, "retry_max_delay": 0.5, "report_interval": 0.2}


class ArchiveUploadOperator(TwelveLabsUploadAssetOperator):
    """The upload operator with a lower multipart threshold (what the tests call a large file)."""

    max_direct_upload_bytes = MULTIPART_THRESHOLD


def _write_pid(context: Any) -> None:
    """Tell the test which process runs this try (with the try number)."""
    path = Path(os.environ["TWELVELABS_E2E_PID_FILE"])
    with path.open("a") as out:
        out.write(f"{context['ti'].try_number} {os.getpid()}\n")


@dag(
    dag_id="reliability_pipeline",
    schedule=None,
    catchup=False,
    params={"source": "", "index_name": "reliability", "output_path": ""},
    default_args=_RETRY,
    max_active_tasks=64,
)
def reliability_pipeline() -> None:
    """Upload, index and analyze every file under ``source``, then write the catalog."""

    @task
    def list_media(source: str) -> list[str]:
        """Return the ``.mp4`` files under ``source``, sorted."""
        return sorted(str(path) for path in Path(source).glob("*.mp4"))

    files = list_media(source="{{ params.source }}")
    index = TwelveLabsCreateIndexOperator(task_id="create_index", index_name="{{ params.index_name }}")
    uploads = ArchiveUploadOperator.partial(
        task_id="upload",
        multipart="auto",
        concurrency=4,
        upload_options=_FAST_CHUNK_RETRIES,
        deferrable=DEFERRABLE,
    ).expand(source=files)
    indexed = TwelveLabsIndexAssetOperator.partial(
        task_id="index", index_id=index.output, deferrable=DEFERRABLE
    ).expand(asset_id=uploads.output)
    analysis = TwelveLabsCreateAnalyzeBatchOperator(
        task_id="analyze",
        items=uploads.output,
        prompt="Give this video a title and a one-sentence summary.",
        output_path="{{ params.output_path }}/analysis.jsonl",
        max_failed_fraction=0.25,
        deferrable=DEFERRABLE,
    )
    indexed >> analysis

    @task
    def catalog(files: Any, asset_ids: Any, indexed_ids: Any, output_path: str) -> dict[str, Any]:
        """Write one JSON line per file (source, asset, indexed asset, analysis) and return counts."""
        results = {}
        with Path(output_path, "analysis.jsonl").open() as handle:
            for line in handle:
                row = json.loads(line)
                results[row["asset_id"]] = row
        out = Path(output_path, "catalog.jsonl")
        analysed = 0
        with out.open("w") as handle:
            for position, file in enumerate(files):
                asset_id = asset_ids[position]
                result = results.get(asset_id, {})
                analysed += result.get("status") == "ready"
                row = {
                    "source": file,
                    "asset_id": asset_id,
                    "indexed_asset_id": indexed_ids[position],
                    "analysis_status": result.get("status"),
                    "analysis": result.get("result"),
                }
                handle.write(json.dumps(row) + "\n")
        return {"path": str(out), "rows": len(files), "analysed": analysed}

    done = catalog(files, uploads.output, indexed.output, output_path="{{ params.output_path }}")
    analysis >> done


reliability_pipeline()


with DAG(
    dag_id="reliability_killed_upload",
    schedule=None,
    catchup=False,
    params={"source": ""},
    default_args={"retries": 1, "retry_delay": timedelta(seconds=1)},
):
    TwelveLabsMultipartUploadOperator(
        task_id="upload",
        source="{{ params.source }}",
        concurrency=4,
        upload_options={"report_interval": 0},
        deferrable=False,
        poll_interval=0.2,
        on_execute_callback=_write_pid,
    )


with DAG(
    dag_id="reliability_killed_batch",
    schedule=None,
    catchup=False,
    params={"asset_ids": [], "output_path": ""},
    render_template_as_native_obj=True,
    default_args={"retries": 1, "retry_delay": timedelta(seconds=1)},
):
    TwelveLabsCreateAnalyzeBatchOperator(
        task_id="analyze",
        items="{{ params.asset_ids }}",
        prompt="Give this video a title.",
        output_path="{{ params.output_path }}",
        deferrable=False,
        poll_interval=0.5,
        poll_max_interval=1.0,
        on_execute_callback=_write_pid,
    )


with DAG(
    dag_id="reliability_killed_embedding",
    schedule=None,
    catchup=False,
    params={"output_path": ""},
    default_args={"retries": 1, "retry_delay": timedelta(seconds=1)},
):
    TwelveLabsCreateEmbeddingTaskOperator(
        task_id="embed",
        input_type="video",
        file_path=str(sorted(MEDIA.glob("*.mp4"))[0]),
        output_path="{{ params.output_path }}",
        deferrable=False,
        poll_interval=1.0,
        poll_max_interval=2.0,
        on_execute_callback=_write_pid,
    )


@dag(
    dag_id="reliability_triggerers",
    schedule=None,
    catchup=False,
    params={"asset_ids": [], "index_id": ""},
    max_active_tasks=64,
)
def reliability_triggerers() -> None:
    """Index every asset of ``asset_ids``; every wait defers to the triggerer."""

    @task
    def asset_ids(params: dict[str, Any] | None = None) -> list[str]:
        """The assets to index, from the run's conf."""
        assert params is not None
        return list(params["asset_ids"])

    TwelveLabsIndexAssetOperator.partial(
        task_id="index",
        index_id="{{ params.index_id }}",
        deferrable=True,
        wait_timeout=timedelta(minutes=10),
        poll_interval=1.0,
        poll_max_interval=2.0,
    ).expand(asset_id=asset_ids())


reliability_triggerers()
