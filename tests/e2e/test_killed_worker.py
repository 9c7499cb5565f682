"""End to end: a worker killed while it waits on an embedding task; the retry reconnects to that task.

A real deployment (emulator CLI, ``airflow api-server``, ``scheduler``, ``dag-processor`` and
``triggerer`` on SQLite with the LocalExecutor) runs ``dags/twelvelabs_killed_worker.py``: one
``TwelveLabsCreateEmbeddingTaskOperator`` polling on the worker. The emulator holds the embedding
task in ``processing`` until the test lets it finish. Once the task was created, the test SIGKILLs
the process running the operator (no clean-up of any kind); Airflow fails the try and retries it.
On Airflow 3.3 the operator reads the id the first try kept in the task state store and reconnects:
the emulator's request log shows exactly one create call, and the run succeeds on its second try
with the embeddings written.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.airflow_stack import Stack, airflow_stack

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

DAG_FILE = Path(__file__).resolve().parent / "dags" / "twelvelabs_killed_worker.py"
DAG_ID = "twelvelabs_killed_worker"
RUN_ID = "killed_worker"
API_KEY = "tlk_E2E_KILLED_WORKER_3f9d1a"
CREATE = ("POST", "/v1.3/embed-v2/tasks")


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    env = {
        "TWELVELABS_E2E_PID_FILE": str(tmp_path / "pids.txt"),
        "TWELVELABS_E2E_OUTPUT": str(tmp_path / "embeddings.jsonl"),
    }
    # step_seconds=0: nothing moves on the emulator until the test says so.
    with airflow_stack(
        tmp_path,
        dag_file=DAG_FILE,
        dag_id=DAG_ID,
        run_id=RUN_ID,
        api_key=API_KEY,
        step_seconds=0,
        parallelism=1,
        extra_env=env,
    ) as running:
        yield running


def _tries(pid_file: Path) -> dict[int, int]:
    """Try number -> process id, as the DAG's execute callback wrote them."""
    if not pid_file.exists():
        return {}
    pairs = (line.split() for line in pid_file.read_text().splitlines() if line.strip())
    return {int(try_number): int(pid) for try_number, pid in pairs}


def test_a_killed_worker_s_retry_reconnects_to_the_embedding_task(stack: Stack, tmp_path: Path) -> None:
    pid_file = tmp_path / "pids.txt"
    stack.wait_for(
        f"the API server to serve the parsed DAG {DAG_ID}",
        lambda: stack.api("GET", f"/dags/{DAG_ID}").status_code == 200,
        timeout=120,
    )
    created = stack.api("POST", f"/dags/{DAG_ID}/dagRuns", json={"dag_run_id": RUN_ID, "logical_date": None})
    assert created.status_code == 200, created.text

    def creates() -> list[dict[str, object]]:
        return [e for e in stack.requests_log() if (e["method"], e["path"]) == CREATE]

    def first_try_waiting() -> int | None:
        # The task exists remotely and the first try is polling it (a GET after the create).
        tries = _tries(pid_file)
        log = stack.requests_log()
        created_at = next((i for i, e in enumerate(log) if (e["method"], e["path"]) == CREATE), None)
        polled = created_at is not None and any(
            e["method"] == "GET" and str(e["path"]).startswith("/v1.3/embed-v2/tasks/")
            for e in log[created_at + 1 :]
        )
        return tries.get(1) if polled else None

    pid = stack.wait_for("the first try to create the task and poll it", first_try_waiting, 120, 0.5)
    assert len(creates()) == 1

    os.kill(pid, signal.SIGKILL)

    # Airflow notices the dead process and retries; the second try reconnects and polls.
    stack.wait_for("a second try", lambda: 2 in _tries(pid_file), timeout=120, interval=0.5)
    stack.emulator_config(step_seconds=1)
    state = stack.wait_for(
        "the DAG run to finish",
        lambda: (s := stack.dag_run_state()) in ("success", "failed") and s,
        timeout=180,
    )
    tis = stack.task_instances()
    embed = tis[("embed", -1)]
    assert state == "success", f"DAG run {state}: {embed}\n{stack.report()}"
    assert embed["try_number"] == 2, embed

    # Exactly one task was created: the retry reconnected to it.
    assert len(creates()) == 1, creates()
    (task,) = stack.twelvelabs("/embed-v2/tasks", page_limit=50)["data"]
    assert task["status"] == "ready"
    answer = stack.api("GET", f"/dags/{DAG_ID}/dagRuns/{RUN_ID}/taskInstances/embed/xcomEntries/return_value")
    answer.raise_for_status()
    manifest = answer.json()["value"]
    manifest = json.loads(manifest) if isinstance(manifest, str) else manifest
    assert manifest["task_id"] == task["_id"]
    rows = [json.loads(row) for row in (tmp_path / "embeddings.jsonl").read_text().splitlines()]
    assert rows and all(row["embedding"] for row in rows)
    assert manifest["count"] == len(rows)
