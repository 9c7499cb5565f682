"""A throwaway Airflow deployment for end-to-end tests: the emulator and Airflow's services as processes.

:func:`airflow_stack` starts the emulator from its CLI (time-driven lifecycles), makes an
``AIRFLOW_HOME``, copies one DAG file into its DAG folder, and runs ``airflow api-server``,
``scheduler``, ``dag-processor`` and the triggerers, each in its own process session, with the
``twelvelabs_default`` connection pointing at the emulator. By default (:class:`Topology`) that is
SQLite, the LocalExecutor and one triggerer; ``Topology.distributed`` asks for a deployment as
teams run it: PostgreSQL as the metadata database, the CeleryExecutor with a Redis broker and its
workers, several triggerers (``tests/e2e/services.py`` runs PostgreSQL and Redis).
:class:`Stack` then drives the run through Airflow's REST API and reads the emulator's request log.
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
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from airflow_provider_twelvelabs.testing.pytest_plugin import connection_json, connection_variable

ROOT = Path(__file__).resolve().parents[2]
MEDIA = ROOT / "example_dags" / "media"
AIRFLOW = str(Path(sys.executable).with_name("airflow"))

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Service:
    """A long-running process in its own session (so its children can be stopped with it)."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        env: dict[str, str],
        log: Path,
        *,
        user: str | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.log = log
        self.user = user
        self.cwd = cwd or log.parent
        self.process: subprocess.Popen[bytes] | None = None
        #: Stopped on purpose: its exit is not a failure.
        self.retired = False

    def start(self) -> Service:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=self.cwd,
                user=self.user,
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

    def kill_tree(self) -> list[int]:
        """SIGKILL the leader and every process below it, whatever their process group; return their ids.

        The tree is stopped (SIGSTOP) first, so that nothing forks between reading it and killing it.
        """
        assert self.process is not None
        tree = [self.process.pid, *descendants(self.process.pid)]
        for pid in tree:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)
        tree = [self.process.pid, *descendants(self.process.pid)]
        for pid in tree:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        return tree

    def stop(self) -> None:
        """SIGTERM the group, give it 15 s, then SIGKILL whatever is left of it."""
        stop_all([self])

    def terminate(self) -> None:
        """Send SIGTERM to the group, if the leader still runs."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)

    def finish(self, deadline: float) -> None:
        """Wait for the leader until ``deadline`` (monotonic), then SIGKILL whatever is left of the group."""
        if self.process is None:
            return
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=max(deadline - time.monotonic(), 0.1))
        # Children (executor workers, the trigger runner) may outlive the leader.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)

    def tail(self, lines: int = 25) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def descendants(pid: int) -> list[int]:
    """The processes below ``pid`` (its children, theirs...), read from ``/proc``.

    Process groups are not enough to find them: Airflow's task supervisor puts each task runner in a
    process group of its own.
    """
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (command) state ppid ...": the command may hold spaces and parentheses.
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def gone(pid: int) -> bool:
    """Whether process ``pid`` has ended (it does not exist, or is a zombie waiting to be reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def stop_all(services: Sequence[Service], grace: float = 15) -> None:
    """Stop ``services`` together: SIGTERM to all, ``grace`` seconds for all, then SIGKILL."""
    for service in services:
        service.terminate()
    deadline = time.monotonic() + grace
    for service in services:
        service.finish(deadline)


@dataclass
class Stack:
    """The emulator and the Airflow services of one test, with REST helpers."""

    tmp: Path
    dag_id: str
    run_id: str
    api_key: str
    env: dict[str, str] = field(default_factory=dict)
    services: dict[str, Service] = field(default_factory=dict)
    emulator_url: str = ""
    api_url: str = ""
    broker_url: str = ""

    def start(
        self, name: str, argv: list[str], *, user: str | None = None, cwd: Path | None = None
    ) -> Service:
        service = Service(name, argv, self.env, self.tmp / f"{name}.log", user=user, cwd=cwd).start()
        self.services[name] = service
        return service

    def start_celery_worker(self, name: str, concurrency: int) -> Service:
        """Start an ``airflow celery worker`` of ``concurrency`` slots, named ``name@<host>`` in Celery."""
        return self.start(
            name,
            [
                AIRFLOW,
                "celery",
                "worker",
                "--concurrency",
                str(concurrency),
                "--celery-hostname",
                f"{name}@%h",
                "--pid",
                str(self.tmp / f"{name}.pid"),
                # One log server per host is enough; the API server reads the files here.
                "--skip-serve-logs",
            ],
        )

    def service_running(self, pid: int) -> Service | None:
        """The running service that process ``pid`` belongs to (its leader or one of its descendants)."""
        for service in self.services.values():
            leader = service.process.pid if service.alive and service.process is not None else None
            if leader is not None and (pid == leader or pid in descendants(leader)):
                return service
        return None

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
        answer = self.api(
            "GET", f"/dags/{self.dag_id}/dagRuns/{self.run_id}/taskInstances", params={"limit": 100}
        )
        answer.raise_for_status()
        return {(ti["task_id"], ti["map_index"]): ti for ti in answer.json()["task_instances"]}

    def dag_run_state(self) -> str:
        answer = self.api("GET", f"/dags/{self.dag_id}/dagRuns/{self.run_id}")
        answer.raise_for_status()
        return str(answer.json()["state"])

    # -- the emulator ---------------------------------------------------------------------------------

    def twelvelabs(self, path: str, **params: Any) -> dict[str, Any]:
        answer = httpx.get(
            f"{self.emulator_url}{path}", params=params, headers={"x-api-key": self.api_key}, timeout=30
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


def printed_url(log: Path) -> str | None:
    return next((line for line in log.read_text().splitlines() if line.startswith("http://")), None)


@dataclass(frozen=True)
class Topology:
    """Which Airflow services a :func:`airflow_stack` runs, and on what.

    :param database: ``"sqlite"`` (a file in ``AIRFLOW_HOME``) or ``"postgres"`` (a throwaway cluster).
    :param executor: ``"LocalExecutor"`` or ``"CeleryExecutor"`` (with a Redis broker).
    :param celery_workers: how many ``airflow celery worker`` processes (CeleryExecutor only).
    :param worker_concurrency: the slots of each Celery worker.
    :param triggerers: how many ``airflow triggerer`` processes, named ``triggerer-1``...
    :param triggerer_capacity: each triggerer's ``--capacity`` (Airflow's default when ``None``).
    """

    database: str = "sqlite"
    executor: str = "LocalExecutor"
    celery_workers: int = 0
    worker_concurrency: int = 1
    triggerers: int = 1
    triggerer_capacity: int | None = None

    @classmethod
    def distributed(cls, *, workers: int = 2, triggerers: int = 2, capacity: int | None = None) -> Topology:
        """PostgreSQL, the CeleryExecutor with ``workers`` one-slot workers, ``triggerers`` triggerers."""
        return cls(
            database="postgres",
            executor="CeleryExecutor",
            celery_workers=workers,
            worker_concurrency=1,
            triggerers=triggerers,
            triggerer_capacity=capacity,
        )


@contextlib.contextmanager
def airflow_stack(
    tmp_path: Path,
    *,
    dag_file: Path,
    dag_id: str,
    run_id: str,
    api_key: str,
    step_seconds: float,
    parallelism: int,
    extra_env: dict[str, str] | None = None,
    topology: Topology | None = None,
    emulator_args: Sequence[str] = (),
) -> Iterator[Stack]:
    """Run the emulator and an Airflow deployment serving ``dag_file``; stop everything afterwards.

    :param tmp_path: where the logs, the emulator's data and ``AIRFLOW_HOME`` go.
    :param dag_file: the one DAG file of the deployment.
    :param dag_id: the DAG the test runs.
    :param run_id: the run the test creates.
    :param api_key: the emulator's API key (the connection's password).
    :param step_seconds: the emulator's time-driven lifecycle step.
    :param parallelism: how many task instances the scheduler runs at once (``[core] parallelism``:
        the LocalExecutor's worker slots; with Celery the workers' slots are the limit).
    :param extra_env: more environment variables for every process.
    :param topology: the services and what they run on (SQLite, LocalExecutor, one triggerer by default).
    :param emulator_args: more options of the emulator's CLI (``--strict-media``...).
    """
    extra_env = extra_env or {}
    topology = topology or Topology()
    stack = Stack(tmp=tmp_path, dag_id=dag_id, run_id=run_id, api_key=api_key)
    with contextlib.ExitStack() as servers:
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
                    api_key,
                    "--data-dir",
                    str(tmp_path / "emulator-data"),
                    "--polls-per-step",
                    "0",
                    "--step-seconds",
                    str(step_seconds),
                    *emulator_args,
                ],
            )
            stack.emulator_url = stack.wait_for(
                "the emulator's base URL", lambda: printed_url(emulator.log), 30, 0.1
            )

            home = tmp_path / "airflow"
            dags = home / "dags"
            dags.mkdir(parents=True)
            shutil.copy(dag_file, dags / dag_file.name)
            api_port = free_port()
            stack.api_url = f"http://127.0.0.1:{api_port}"
            stack.env = {
                k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW__", "AIRFLOW_CONN_"))
            }
            backend = _backend_env(stack, servers, topology, home)
            stack.env.update(
                {
                    "AIRFLOW_HOME": str(home),
                    "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
                    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                    "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
                    "AIRFLOW__CORE__EXECUTOR": topology.executor,
                    "AIRFLOW__CORE__PARALLELISM": str(parallelism),
                    "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
                    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
                    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{stack.api_url}/execution/",
                    "AIRFLOW__API_AUTH__JWT_SECRET": "e2e-stack-jwt-secret-0123456789abcdef",
                    "AIRFLOW__API__SECRET_KEY": "e2e-stack-secret-key",
                    # Log servers on free ports, so that another Airflow on this machine does not clash.
                    "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
                    "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
                    # A killed triggerer's triggers go to another one once its heartbeat is this old.
                    "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "2",
                    "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "10",
                    connection_variable(): connection_json(stack.emulator_url, api_key),
                    "TWELVELABS_E2E_MEDIA": str(MEDIA),
                    **backend,
                    **extra_env,
                }
            )
            migrate = subprocess.run(
                [AIRFLOW, "db", "migrate"],
                env=stack.env,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            assert migrate.returncode == 0, (migrate.stdout + migrate.stderr)[-3000:]

            stack.start("api-server", [AIRFLOW, "api-server", "--host", "127.0.0.1", "--port", str(api_port)])
            stack.start("scheduler", [AIRFLOW, "scheduler"])
            stack.start("dag-processor", [AIRFLOW, "dag-processor"])
            for number in range(1, topology.celery_workers + 1):
                stack.start_celery_worker(f"worker-{number}", topology.worker_concurrency)
            for number in range(1, topology.triggerers + 1):
                argv = [AIRFLOW, "triggerer"]
                if topology.triggerer_capacity is not None:
                    argv += ["--capacity", str(topology.triggerer_capacity)]
                if number > 1:
                    argv += ["--skip-serve-logs", "--pid", str(tmp_path / f"triggerer-{number}.pid")]
                stack.start(f"triggerer-{number}", argv)
            yield stack
        finally:
            # Airflow's services together, then what they need (the database, the broker, the emulator).
            backing = {"emulator", "postgres", "redis"}
            stop_all([service for name, service in stack.services.items() if name not in backing])
            stop_all([service for name, service in stack.services.items() if name in backing])


def _backend_env(
    stack: Stack, servers: contextlib.ExitStack, topology: Topology, home: Path
) -> dict[str, str]:
    """Start the metadata database and broker ``topology`` asks for; return Airflow's settings for them."""
    env: dict[str, str] = {}
    if topology.database == "postgres":
        from tests.e2e.services import postgres_server

        url = servers.enter_context(postgres_server(stack))
        env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = url
    elif topology.database == "sqlite":
        env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{home}/airflow.db"
    else:
        raise ValueError(f"unknown database {topology.database!r}")
    if topology.executor == "CeleryExecutor":
        from tests.e2e.services import redis_server

        broker = servers.enter_context(redis_server(stack))
        env.update(
            {
                "AIRFLOW__CELERY__BROKER_URL": broker,
                "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"],
                "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(topology.worker_concurrency),
            }
        )
        stack.broker_url = broker
    return env
