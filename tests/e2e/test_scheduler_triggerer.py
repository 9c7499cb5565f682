"""End to end with a real scheduler and triggerer: deferred waits free the only worker slot.

A throwaway AIRFLOW_HOME (SQLite, LocalExecutor with ``parallelism=1``), the API server, the
scheduler and the triggerer as separate processes, and the emulator served from this process on
127.0.0.1 with time-driven lifecycles (a resource takes several seconds). The example DAG is
triggered over two of the sample videos. With a single worker slot, several indexing tasks can
only wait at the same time if waiting holds no slot: the test watches the metadata database for
that, and checks that the run succeeds and that the emulator holds a ready indexed asset per file.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from airflow_provider_twelvelabs.hooks.twelvelabs import TwelveLabsHook
from airflow_provider_twelvelabs.testing.emulator.config import EmulatorConfig
from airflow_provider_twelvelabs.testing.emulator.server import RunningEmulator
from airflow_provider_twelvelabs.testing.pytest_plugin import connection_json, connection_variable

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
MEDIA = ROOT / "example_dags" / "media"
#: Two files are enough to show two waits at once, and keep the run short.
SAMPLES = sorted(path.name for path in MEDIA.glob("*.mp4"))[:2]
DAG_ID = "twelvelabs_index_archive"
AIRFLOW = str(Path(sys.executable).with_name("airflow"))
RUN_TIMEOUT = 150.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def twelvelabs_emulator_config() -> EmulatorConfig:
    # Time-driven lifecycles: a resource moves one step every 2 s whoever polls it, so indexing
    # a file takes long enough for the waits to overlap.
    return EmulatorConfig(api_key="tlk_E2E_SCHED_8d2a61", polls_per_step=0, step_seconds=2.0)


@pytest.fixture
def emulator(twelvelabs_connection: RunningEmulator) -> RunningEmulator:
    return twelvelabs_connection


def _connection(emulator: RunningEmulator) -> str:
    return connection_json(emulator.base_url, emulator.api_key)


def _dags_folder(home: Path) -> Path:
    """A DAGs folder with this test's DAG only: the scheduled example DAGs must not start runs here."""
    dags = home / "dags"
    dags.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "example_dags" / f"{DAG_ID}.py", dags / f"{DAG_ID}.py")
    return dags


def _env(home: Path, emulator: RunningEmulator, api_port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW__", "AIRFLOW_CONN_"))}
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(_dags_folder(home)),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            # One worker slot: waits that held it would run one after the other.
            "AIRFLOW__CORE__PARALLELISM": "1",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            # Airflow races when a trigger fires before the scheduler has processed the deferral
            # (it then fails the try); the retry reuses what the first try created. Retry soon.
            "AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY": "2",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(api_port),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
            "AIRFLOW__API_AUTH__JWT_SECRET": "e2e-scheduler-triggerer-jwt-secret-0123456789",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
            connection_variable(): _connection(emulator),
            "TWELVELABS_EXAMPLE_POLL_INTERVAL": "0.5",
        }
    )
    return env


def _run(args: list[str], env: dict[str, str], timeout: float = 120) -> None:
    result = subprocess.run(
        [AIRFLOW, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]


def _query(db: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db, timeout=10) as conn:
        return list(conn.execute(sql, params))


def _wait_for_api_server(port: int, processes: list[subprocess.Popen[bytes]], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert all(p.poll() is None for p in processes), "an Airflow service died at start; see its log"
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"the API server did not answer on port {port} within {timeout} s")


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    # Each service runs in its own session: stop it with the workers it forked.
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def test_deferred_waits_free_the_only_worker_slot(emulator: RunningEmulator, tmp_path: Path) -> None:
    source = tmp_path / "media"
    source.mkdir()
    for name in SAMPLES:
        shutil.copyfile(MEDIA / name, source / name)
    home = tmp_path / "airflow"
    env = _env(home, emulator, _free_port())
    _run(["db", "migrate"], env)

    processes: list[subprocess.Popen[bytes]] = []
    logs = {name: (tmp_path / f"{name}.log").open("wb") for name in ("api-server", "scheduler", "triggerer")}
    db = home / "airflow.db"
    most_deferred = 0
    most_triggers = 0
    state = None
    try:
        for name, log in logs.items():
            processes.append(
                subprocess.Popen(
                    [AIRFLOW, name],
                    env=env,
                    cwd=ROOT,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        # Serialize the DAG now rather than waiting for a DAG processor to find it, while the
        # services start; then wait for the API server, which the workers report to.
        _run(["dags", "reserialize"], env)
        _wait_for_api_server(int(env["AIRFLOW__API__PORT"]), processes)
        conf = json.dumps({"source": str(source), "index_name": "scheduled-archive"})
        _run(["dags", "trigger", DAG_ID, "-c", conf], env)

        deadline = time.monotonic() + RUN_TIMEOUT
        while time.monotonic() < deadline:
            (state,) = _query(db, "SELECT state FROM dag_run WHERE dag_id = ?", DAG_ID)[0]
            deferred = _query(db, "SELECT count(*) FROM task_instance WHERE state = 'deferred'")[0][0]
            triggers = _query(db, "SELECT count(*) FROM trigger")[0][0]
            most_deferred = max(most_deferred, deferred)
            most_triggers = max(most_triggers, triggers)
            if state in ("success", "failed"):
                break
            assert all(p.poll() is None for p in processes), "an Airflow service died; see its log"
            time.sleep(0.5)
    finally:
        _stop(processes)
        for log in logs.values():
            log.close()

    tails = {name: (tmp_path / f"{name}.log").read_text(errors="replace")[-2000:] for name in logs}
    assert state == "success", tails
    states = _query(db, "SELECT task_id, map_index, state FROM task_instance WHERE dag_id = ?", DAG_ID)
    assert {s for *_, s in states} == {"success"}, states
    # With one worker slot, several tasks waited at once: waiting held no slot.
    assert most_deferred >= 2, (most_deferred, most_triggers)
    assert most_triggers >= 2, (most_deferred, most_triggers)

    with TwelveLabsHook() as hook:
        (index,) = [
            i
            for i in hook.list_indexes(index_name="scheduled-archive")
            if i.index_name == "scheduled-archive"
        ]
        indexed = list(hook.list_indexed_assets(index.id))
    # One ready indexed asset per file, whatever retries happened on the way.
    assert sorted((item.system_metadata or {}).get("filename") for item in indexed) == SAMPLES
    assert {item.status for item in indexed} == {"ready"}
