"""End to end: ``airflow dags test`` runs the embeddings example DAG against the emulator.

Real Airflow (a throwaway AIRFLOW_HOME with SQLite) in a subprocess; the emulator is served on
127.0.0.1 by this test. The two embedding tasks defer, ``dags test`` runs their trigger in line,
and they resume to stream the vectors to files that must hold exactly what TwelveLabs returned.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from airflow_provider_twelvelabs.hooks.twelvelabs import TwelveLabsHook
from airflow_provider_twelvelabs.testing.emulator.server import RunningEmulator, serve_emulator

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
DAG_FILE = ROOT / "example_dags" / "twelvelabs_embeddings.py"


@pytest.fixture
def emulator() -> Iterator[RunningEmulator]:
    with serve_emulator() as running:
        yield running


def airflow(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "airflow", *args], env=env, capture_output=True, text=True, timeout=150
    )


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_example_dag_defers_and_writes_the_emulator_vectors(emulator, tmp_path, monkeypatch):
    dags = tmp_path / "dags"
    dags.mkdir()
    shutil.copy(DAG_FILE, dags / DAG_FILE.name)
    connection = json.dumps(
        {"conn_type": "twelvelabs", "password": emulator.api_key, "host": emulator.base_url}
    )
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path / "home"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path / 'airflow.db'}",
        "AIRFLOW_CONN_TWELVELABS_DEFAULT": connection,
        "TWELVELABS_EXAMPLE_POLL_INTERVAL": "0.1",
    }
    migrated = airflow(env, "db", "migrate")
    assert migrated.returncode == 0, migrated.stderr[-3000:]

    out_dir = tmp_path / "out"
    conf = {"video_url": "https://media.test/keynote.mp4?duration=480", "output_dir": str(out_dir)}
    run = airflow(env, "dags", "test", "twelvelabs_embeddings", "-c", json.dumps(conf))
    logs = run.stdout + run.stderr
    assert run.returncode == 0, logs[-5000:]
    assert "state=success" in logs and "run_type=manual" in logs
    assert logs.count("Pausing task as DEFERRED") == 2
    assert emulator.api_key not in logs

    (v2_file,) = out_dir.glob("*/video_v2.jsonl")
    (v1_file,) = out_dir.glob("*/video_v1.jsonl")
    v2_rows, v1_rows = read_jsonl(v2_file), read_jsonl(v1_file)
    monkeypatch.setenv("AIRFLOW_CONN_TWELVELABS_DEFAULT", connection)
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
    log = httpx.get(f"{emulator.url}/_emulator/requests").json()["data"]
    creates = [e["path"] for e in log if e["method"] == "POST"]
    assert sorted(creates) == ["/v1.3/embed-v2", "/v1.3/embed-v2/tasks", "/v1.3/embed/tasks"]
