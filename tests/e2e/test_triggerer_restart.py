"""End to end through a real scheduler and triggerer: deferred waits survive a triggerer restart.

Everything runs as separate processes, as in a deployment: the emulator (its CLI, time-driven
lifecycles: an asset is ready 10 s after upload, an indexed asset 30 s after it is created), and a
throwaway ``AIRFLOW_HOME`` on SQLite with the LocalExecutor limited to two worker slots, served by
``airflow api-server`` (REST and the task execution API), ``airflow scheduler``,
``airflow dag-processor`` and ``airflow triggerer``.

The DAG (``dags/twelvelabs_triggerer_restart.py``) uploads the three sample videos, waits for each
asset with a deferrable sensor and indexes it with a deferrable operator. Once the three indexing
tasks are ``deferred`` together (three waits, two worker slots: waiting holds no slot) and their
triggers are polling, the triggerer is replaced twice: stopped with SIGTERM while indexing is held
(the new triggerer must take the same trigger rows over and poll), then killed with SIGKILL while
indexing finishes with no triggerer running (the next one must notice). The run must still
succeed, the indexing tasks on their first try, with exactly one indexed asset per file.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from airflow_provider_twelvelabs.testing.pytest_plugin import connection_json, connection_variable

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
MEDIA = ROOT / "example_dags" / "media"
SAMPLES = sorted(path.name for path in MEDIA.glob("*.mp4"))
DAG_FILE = Path(__file__).resolve().parent / "dags" / "twelvelabs_triggerer_restart.py"
DAG_ID = "twelvelabs_triggerer_restart"
RUN_ID = "triggerer_restart"
INDEX_NAME = "e2e-triggerer-restart"
API_KEY = "tlk_E2E_RESTART_5b7e2c91"
TRIGGER_CLASSPATH = "airflow_provider_twelvelabs.triggers.twelvelabs.TwelveLabsResourceTrigger"
AIRFLOW = str(Path(sys.executable).with_name("airflow"))
#: One lifecycle step per STEP_SECONDS, whoever polls: asset 1 step, indexed asset 3 steps.
STEP_SECONDS = 10
#: Fewer worker slots than indexing tasks.
PARALLELISM = 2

T = TypeVar("T")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Service:
    """A long-running process in its own session (so its children can be stopped with it)."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None
        #: Stopped on purpose: its exit is not a failure.
        self.retired = False

    def start(self) -> Service:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=self.log.parent,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self, sig: int) -> None:
        """Send ``sig`` to the whole process group and wait for the leader to exit."""
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        """SIGTERM the group, give it 15 s, then SIGKILL whatever is left of it."""
        if self.process is None:
            return
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=15)
        # Children (executor workers, the trigger runner) may outlive the leader.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)

    def tail(self, lines: int = 25) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class Stack:
    """The emulator and the Airflow services of one test, with REST helpers."""

    tmp: Path
    env: dict[str, str] = field(default_factory=dict)
    services: dict[str, Service] = field(default_factory=dict)
    emulator_url: str = ""
    api_url: str = ""

    def start(self, name: str, argv: list[str]) -> Service:
        service = Service(name, argv, self.env, self.tmp / f"{name}.log").start()
        self.services[name] = service
        return service

    def report(self) -> str:
        """The tail of every service's log, for failure messages."""
        parts = [
            f"--- {name} ({service.log}) ---\n{service.tail()}" for name, service in self.services.items()
        ]
        return "\n".join(parts)

    def fail(self, message: str) -> None:
        pytest.fail(f"{message}\n{self.report()}", pytrace=False)

    def wait_for(self, what: str, probe: Callable[[], T | None], timeout: float, interval: float = 1.0) -> T:
        """Call ``probe`` until it returns something truthy; fail after ``timeout`` or if a service dies."""
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(httpx.TransportError):
                value = probe()
                if value:
                    return value
            dead = [name for name, service in self.services.items() if not (service.alive or service.retired)]
            if dead:
                self.fail(f"{', '.join(dead)} exited while waiting for {what}")
            if time.monotonic() > deadline:
                self.fail(f"timed out after {timeout:.0f} s waiting for {what}")
            time.sleep(interval)

    # -- Airflow REST API ---------------------------------------------------------------------------

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(method, f"{self.api_url}/api/v2{path}", timeout=30, **kwargs)

    def task_instances(self) -> dict[tuple[str, int], dict[str, Any]]:
        answer = self.api("GET", f"/dags/{DAG_ID}/dagRuns/{RUN_ID}/taskInstances", params={"limit": 100})
        answer.raise_for_status()
        return {(ti["task_id"], ti["map_index"]): ti for ti in answer.json()["task_instances"]}

    def dag_run_state(self) -> str:
        answer = self.api("GET", f"/dags/{DAG_ID}/dagRuns/{RUN_ID}")
        answer.raise_for_status()
        return str(answer.json()["state"])

    # -- the emulator ---------------------------------------------------------------------------------

    def twelvelabs(self, path: str, **params: Any) -> dict[str, Any]:
        answer = httpx.get(
            f"{self.emulator_url}{path}", params=params, headers={"x-api-key": API_KEY}, timeout=30
        )
        answer.raise_for_status()
        return dict(answer.json())

    def emulator_config(self, **changes: Any) -> None:
        answer = httpx.post(f"{self.emulator_root}/_emulator/config", json=changes, timeout=30)
        answer.raise_for_status()

    @property
    def emulator_root(self) -> str:
        return self.emulator_url.rsplit("/v1.3", 1)[0]

    def requests_log(self) -> list[dict[str, Any]]:
        answer = httpx.get(f"{self.emulator_root}/_emulator/requests", timeout=30)
        answer.raise_for_status()
        return list(answer.json()["data"])


def _printed_url(log: Path) -> str | None:
    return next((line for line in log.read_text().splitlines() if line.startswith("http://")), None)


def _states(tis: dict[tuple[str, int], dict[str, Any]]) -> dict[str, str | None]:
    return {f"{task_id}[{index}]": ti["state"] for (task_id, index), ti in sorted(tis.items())}


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    stack = Stack(tmp=tmp_path)
    try:
        # The emulator, from its CLI: it prints its base URL once it is listening.
        emulator = stack.start(
            "emulator",
            [
                sys.executable,
                "-m",
                "airflow_provider_twelvelabs.testing.emulator",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--api-key",
                API_KEY,
                "--data-dir",
                str(tmp_path / "emulator-data"),
                "--polls-per-step",
                "0",
                "--step-seconds",
                str(STEP_SECONDS),
            ],
        )
        stack.emulator_url = stack.wait_for(
            "the emulator's base URL", lambda: _printed_url(emulator.log), 30, 0.1
        )

        home = tmp_path / "airflow"
        dags = home / "dags"
        dags.mkdir(parents=True)
        shutil.copy(DAG_FILE, dags / DAG_FILE.name)
        api_port = _free_port()
        stack.api_url = f"http://127.0.0.1:{api_port}"
        stack.env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW__", "AIRFLOW_CONN_"))}
        stack.env.update(
            {
                "AIRFLOW_HOME": str(home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
                "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
                "AIRFLOW__CORE__PARALLELISM": str(PARALLELISM),
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{stack.api_url}/execution/",
                "AIRFLOW__API_AUTH__JWT_SECRET": "e2e-triggerer-restart-jwt-secret-0123456789",
                "AIRFLOW__API__SECRET_KEY": "e2e-triggerer-restart-secret-key",
                # Log servers on free ports, so that another Airflow on this machine does not clash.
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(_free_port()),
                "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(_free_port()),
                # A killed triggerer's triggers go to another one once its heartbeat is this old.
                "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "2",
                "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "10",
                connection_variable(): connection_json(stack.emulator_url, API_KEY),
                "TWELVELABS_E2E_MEDIA": str(MEDIA),
            }
        )
        migrate = subprocess.run(
            [AIRFLOW, "db", "migrate"],
            env=stack.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert migrate.returncode == 0, (migrate.stdout + migrate.stderr)[-3000:]

        stack.start("api-server", [AIRFLOW, "api-server", "--host", "127.0.0.1", "--port", str(api_port)])
        stack.start("scheduler", [AIRFLOW, "scheduler"])
        stack.start("dag-processor", [AIRFLOW, "dag-processor"])
        stack.start("triggerer-1", [AIRFLOW, "triggerer"])
        yield stack
    finally:
        for service in reversed(list(stack.services.values())):
            service.stop()


def test_deferred_tasks_survive_a_triggerer_restart(stack: Stack) -> None:
    stack.wait_for(
        f"the API server to serve the parsed DAG {DAG_ID}",
        lambda: stack.api("GET", f"/dags/{DAG_ID}").status_code == 200,
        timeout=120,
    )
    created = stack.api(
        "POST",
        f"/dags/{DAG_ID}/dagRuns",
        json={"dag_run_id": RUN_ID, "logical_date": None, "conf": {"index_name": INDEX_NAME}},
    )
    assert created.status_code == 200, created.text

    # 1. The three indexing tasks wait in the triggerer at the same time, with two worker slots.
    def all_indexing_deferred() -> dict[tuple[str, int], dict[str, Any]] | None:
        tis = stack.task_instances()
        if any(ti["state"] in ("failed", "upstream_failed") for ti in tis.values()):
            stack.fail(f"a task failed before the restart: {_states(tis)}")
        waiting = [ti for (task_id, _), ti in tis.items() if task_id == "index"]
        ready = len(waiting) == len(SAMPLES) and all(
            ti["state"] == "deferred" and ti["trigger"] and ti["trigger"]["triggerer_id"] for ti in waiting
        )
        return tis if ready else None

    before = stack.wait_for("the three indexing tasks to be deferred", all_indexing_deferred, timeout=150)
    indexing = {index: ti for (task_id, index), ti in before.items() if task_id == "index"}
    assert sorted(indexing) == list(range(len(SAMPLES)))
    assert {ti["trigger"]["classpath"] for ti in indexing.values()} == {TRIGGER_CLASSPATH}
    trigger_ids = {index: ti["trigger"]["id"] for index, ti in indexing.items()}
    (first_triggerer,) = {ti["trigger"]["triggerer_id"] for ti in indexing.values()}
    # Deferred means the worker process is gone: nothing of this run holds a slot meanwhile.
    busy = {key: s for key, s in _states(before).items() if s in ("queued", "running")}
    assert not busy, f"tasks hold worker slots while the indexing tasks wait: {busy}"

    (index,) = [i for i in stack.twelvelabs("/indexes")["data"] if i["index_name"] == INDEX_NAME]
    index_id = index["_id"]
    list_path = f"/v1.3/indexes/{index_id}/indexed-assets"

    def is_trigger_read(entry: dict[str, Any], since: datetime) -> bool:
        # The trigger lists finished indexed assets (or reads one); the test lists without filter.
        return (
            entry["method"] == "GET"
            and entry["path"].startswith(list_path)
            and (entry["path"] != list_path or "status=ready" in entry["query"])
            and datetime.fromisoformat(entry["time"].replace("Z", "+00:00")) >= since
        )

    def trigger_polls(since: datetime) -> list[dict[str, Any]]:
        return [entry for entry in stack.requests_log() if is_trigger_read(entry, since)]

    def indexing_statuses() -> dict[str, str]:
        items = stack.twelvelabs(f"/indexes/{index_id}/indexed-assets", page_limit=50)["data"]
        return {item["_id"]: item["status"] for item in items}

    def replace_triggerer(name: str, sig: int) -> None:
        stack.services[name].kill(sig)
        stack.services[name].retired = True
        tis = stack.task_instances()
        states = {tis[("index", i)]["state"] for i in indexing}
        assert states == {"deferred"}, f"after {signal.Signals(sig).name} to {name}: {_states(tis)}"

    deferred_at = datetime.now(timezone.utc)
    stack.wait_for("triggerer-1 to poll the indexed assets", lambda: trigger_polls(deferred_at), 30, 0.5)

    # 2. A deployment: stop the triggerer (SIGTERM cancels its triggers) and start another one.
    # Indexing is held meanwhile (the emulator's time-driven progress is switched off), so the new
    # triggerer has to take the triggers over and wait.
    stack.emulator_config(step_seconds=0)
    statuses = indexing_statuses()
    assert len(statuses) == len(SAMPLES), statuses
    if set(statuses.values()) & {"ready", "failed"}:
        stack.fail(
            f"indexing finished before the triggerer could be stopped (raise STEP_SECONDS): {statuses}"
        )
    replace_triggerer("triggerer-1", signal.SIGTERM)
    stack.start("triggerer-2", [AIRFLOW, "triggerer"])

    def taken_over() -> set[int] | None:
        tis = stack.task_instances()
        triggers = [tis[("index", i)]["trigger"] or {} for i in indexing]
        if {t.get("id") for t in triggers} != set(trigger_ids.values()):
            stack.fail(f"the deferred tasks lost their triggers: {triggers} (expected {trigger_ids})")
        owners = {t.get("triggerer_id") for t in triggers}
        return owners if None not in owners and first_triggerer not in owners else None

    stack.wait_for("triggerer-2 to take the triggers over", taken_over, timeout=90)
    taken_at = datetime.now(timezone.utc)
    stack.wait_for("triggerer-2 to poll the indexed assets", lambda: trigger_polls(taken_at), 30, 0.5)
    assert not set(indexing_statuses().values()) & {"ready", "failed"}

    # 3. A crash: kill that triggerer (SIGKILL, no clean-up at all). Indexing finishes while no
    # triggerer runs; the next one, started afterwards, must notice.
    replace_triggerer("triggerer-2", signal.SIGKILL)
    killed_at = datetime.now(timezone.utc)
    stack.emulator_config(step_seconds=STEP_SECONDS)
    stack.wait_for(
        "indexing to finish on the emulator",
        lambda: set(indexing_statuses().values()) == {"ready"},
        timeout=STEP_SECONDS * 4,
    )
    tis = stack.task_instances()
    assert {tis[("index", i)]["state"] for i in indexing} == {"deferred"}, _states(tis)
    stack.start("triggerer-3", [AIRFLOW, "triggerer"])

    # 4. The run finishes.
    state = stack.wait_for(
        "the DAG run to finish",
        lambda: (s := stack.dag_run_state()) in ("success", "failed") and s,
        timeout=150,
    )
    tis = stack.task_instances()
    assert state == "success", f"DAG run {state}: {_states(tis)}\n{stack.report()}"
    assert set(_states(tis).values()) == {"success"}, _states(tis)
    # The indexing tasks resumed from their trigger's event: no retry, no new attempt.
    assert {tis[("index", i)]["try_number"] for i in indexing} == {1}, _states(tis)
    # Only triggerer-3 was alive after the kill: it read the indexed assets that had finished.
    assert [e for e in stack.requests_log() if is_trigger_read(e, killed_at)], "triggerer-3 never polled"

    # 5. Exactly one indexed asset per file in the emulator, each ready, and no duplicate create.
    items = stack.twelvelabs(f"/indexes/{index_id}/indexed-assets", page_limit=50)["data"]
    assert sorted(item["system_metadata"]["filename"] for item in items) == SAMPLES
    assert {item["status"] for item in items} == {"ready"}
    assert len({item["_id"] for item in items}) == len(SAMPLES)
    creates = Counter(
        entry["path"]
        for entry in stack.requests_log()
        if entry["method"] == "POST" and 200 <= (entry["status"] or 0) < 300
    )
    assert creates["/v1.3/indexes"] == 1, creates
    assert creates["/v1.3/assets"] == len(SAMPLES), creates
    assert creates[list_path] == len(SAMPLES), creates
    assert sorted(statuses) == sorted(item["_id"] for item in items)
