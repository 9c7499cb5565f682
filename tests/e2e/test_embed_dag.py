"""End to end: ``airflow dags test`` runs embedding DAGs against the emulator.

Real Airflow (a throwaway AIRFLOW_HOME with SQLite) in a subprocess; the emulator is served on
127.0.0.1 by the test. The embedding tasks defer, ``dags test`` runs their trigger in line, and
they resume to stream the vectors to files that must hold exactly what TwelveLabs returned.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from airflow_provider_twelvelabs.hooks.twelvelabs import TwelveLabsHook
from airflow_provider_twelvelabs.testing.emulator.server import RunningEmulator
from tests.helpers import airflow_home
from tests.helpers.airflow_versions import AIRFLOW_V_3_3_PLUS

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
DAG_FILES = (
    ROOT / "example_dags" / "twelvelabs_embeddings.py",
    Path(__file__).resolve().parent / "dags" / "twelvelabs_embed_retry.py",
)


@pytest.fixture(scope="module")
def airflow_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """An Airflow home with a migrated SQLite database and the DAGs under test, shared by the module."""
    home = tmp_path_factory.mktemp("airflow")
    return airflow_home.migrated_home(home, dags=DAG_FILES, TWELVELABS_EXAMPLE_POLL_INTERVAL="0.1")


@pytest.fixture
def emulator(airflow_env: dict[str, str], twelvelabs_connection: RunningEmulator) -> RunningEmulator:
    running = twelvelabs_connection
    airflow_env.update(airflow_home.connection_env(running))
    return running


def dags_test(env: dict[str, str], dag_id: str, conf: dict[str, Any]) -> str:
    logs = airflow_home.dags_test(env, dag_id, conf)
    assert "state=success" in logs, logs[-5000:]
    return logs


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def posts(emulator: RunningEmulator) -> list[str]:
    log = httpx.get(f"{emulator.url}/_emulator/requests").json()["data"]
    return sorted(e["path"] for e in log if e["method"] == "POST")


def test_example_dag_defers_and_writes_the_emulator_vectors(airflow_env, emulator, tmp_path):
    out_dir = tmp_path / "out"
    conf = {"video_url": "https://media.test/keynote.mp4?duration=480", "output_dir": str(out_dir)}
    logs = dags_test(airflow_env, "twelvelabs_embeddings", conf)
    assert logs.count("Pausing task as DEFERRED") == 2
    assert emulator.api_key not in logs

    (v2_file,) = out_dir.glob("*/video_v2.jsonl")
    (v1_file,) = out_dir.glob("*/video_v1.jsonl")
    v2_rows, v1_rows = read_jsonl(v2_file), read_jsonl(v1_file)
    with TwelveLabsHook() as hook:
        (v2_task,) = {row["task_id"] for row in v2_rows}
        expected = hook.get_embedding_task(v2_task).data or []
        assert [(r["embedding_option"], r["start_sec"], r["embedding"]) for r in v2_rows] == [
            (d.embedding_option, d.start_sec, d.embedding) for d in expected
        ]
        (v1_task,) = {row["task_id"] for row in v1_rows}
        segments = hook.get_video_embedding_task(v1_task, embedding_option=["visual"]).segments()
        assert [(r["start_sec"], r["embedding"]) for r in v1_rows] == [
            (s.start_offset_sec, s.float_) for s in segments
        ]
    assert posts(emulator) == ["/v1.3/embed-v2", "/v1.3/embed-v2/tasks", "/v1.3/embed/tasks"]


def test_a_retry_reuses_the_embedding_task_of_the_first_try(airflow_env, emulator, tmp_path):
    output = tmp_path / "retry.jsonl"
    logs = dags_test(airflow_env, "twelvelabs_embed_retry", {"output": str(output)})
    assert "up_for_retry" in logs and "exceed the XCom limit" in logs
    if AIRFLOW_V_3_3_PLUS:
        assert "from an earlier try instead of creating a new one" in logs
        assert posts(emulator) == ["/v1.3/embed-v2/tasks"]
    else:
        # Below Airflow 3.3 there is no task state store: the retry embeds (and bills) the video
        # again, as docs/compatibility.md says; the output holds the retry's task only.
        assert "from an earlier try" not in logs
        assert posts(emulator) == ["/v1.3/embed-v2/tasks"] * 2
    rows = read_jsonl(output)
    with TwelveLabsHook() as hook:
        (task_id,) = {row["task_id"] for row in rows}
        assert [r["embedding"] for r in rows] == [
            d.embedding for d in hook.get_embedding_task(task_id).data or []
        ]
