"""Run a DAG file of your own with ``airflow dags test`` in a throwaway Airflow home.

``python -m airflow_provider_twelvelabs.testing dag-test path/to/dag.py`` starts the emulator on
127.0.0.1 and a free port, makes a temporary ``AIRFLOW_HOME`` with a migrated SQLite database and
the DAG's folder as its DAGs folder, points the ``twelvelabs_default`` connection at the emulator,
runs ``airflow dags test`` and prints the state and the returned value (XCom ``return_value``) of
every task. See docs/testing.md.

From Python, :func:`run_dag_test` does the same against any base URL and key; the pytest fixture
``twelvelabs_dag_test`` (:mod:`airflow_provider_twelvelabs.testing.dag_test_plugin`) wraps it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from airflow_provider_twelvelabs.testing._airflow_probe import MARKER
from airflow_provider_twelvelabs.testing.emulator.config import EmulatorConfig
from airflow_provider_twelvelabs.testing.emulator.server import RunningEmulator, serve_emulator

__all__ = [
    "DEFAULT_TIMEOUT",
    "FAST_POLL_ENV",
    "DagTestError",
    "DagTestResult",
    "TaskResult",
    "airflow_env",
    "main",
    "run_dag_test",
]

#: The longest ``airflow dags test`` may run, in seconds, before it is stopped.
DEFAULT_TIMEOUT = 900.0

#: Poll settings for the emulator, which moves a resource on at each read: the operators and
#: sensors take them as their default poll intervals (``[twelvelabs] poll_interval`` and
#: ``poll_max_interval``), so DAGs written with production intervals run in seconds.
FAST_POLL_ENV = {
    "AIRFLOW__TWELVELABS__POLL_INTERVAL": "0.1",
    "AIRFLOW__TWELVELABS__POLL_MAX_INTERVAL": "0.5",
}

#: The real API, for ``--real``.
REAL_BASE_URL = "https://api.twelvelabs.io/v1.3"

# The caller's Airflow settings would leak into the throwaway home (its database, a secrets backend
# answering before the environment, a config file): the home starts from Airflow's defaults.
_STRIPPED_PREFIXES = ("AIRFLOW__", "_AIRFLOW", "AIRFLOW_CTX_")
_STRIPPED_NAMES = frozenset({"AIRFLOW_HOME", "AIRFLOW_CONFIG", "AIRFLOW_CONN_TWELVELABS_DEFAULT"})

# How much of Airflow's output a failure shows.
_TAIL_LINES = 60
# The widest returned value the table shows; --json prints every value whole.
_VALUE_WIDTH = 240


class DagTestError(Exception):
    """The DAG could not be run at all: a bad argument, a DAG file that does not import, no Airflow."""


@dataclass(frozen=True)
class TaskResult:
    """One task instance of the run.

    :param task_id: the task id.
    :param map_index: the map index; ``-1`` for a task that is not mapped.
    :param state: the final state (``success``, ``failed``, ``upstream_failed``...), or ``None``.
    :param try_number: the attempt the state belongs to.
    :param has_return: whether the task pushed a ``return_value`` XCom.
    :param return_value: the returned value (XCom ``return_value``), ``None`` when there is none.
        JSON-native values come back as they are, anything else as its ``repr``.
    """

    task_id: str
    map_index: int
    state: str | None
    try_number: int
    has_return: bool
    return_value: Any

    @property
    def label(self) -> str:
        """``task_id``, or ``task_id[map_index]`` for a mapped task instance."""
        return self.task_id if self.map_index < 0 else f"{self.task_id}[{self.map_index}]"


@dataclass
class DagTestResult:
    """What one ``airflow dags test`` run did.

    :param dag_id: the DAG that ran.
    :param run_id: the DAG run's id, ``None`` if no run was created.
    :param state: the DAG run's final state (``success`` or ``failed``), ``None`` without a run.
    :param returncode: the exit code of ``airflow dags test``.
    :param tasks: the task instances, in the order they started.
    :param output: everything ``airflow dags test`` printed (stdout and stderr).
    :param home: the Airflow home of the run (gone if it was not kept).
    :param duration: seconds ``airflow dags test`` took.
    :param emulator: the emulator the run talked to, if it was one started for it.
    """

    dag_id: str
    run_id: str | None
    state: str | None
    returncode: int
    tasks: list[TaskResult]
    output: str
    home: Path
    duration: float
    emulator: RunningEmulator | None = field(default=None, repr=False)

    @property
    def succeeded(self) -> bool:
        """Whether the run ended ``success`` and ``airflow dags test`` exited with 0."""
        return self.state == "success" and self.returncode == 0

    @property
    def task_states(self) -> dict[str, Any]:
        """Task id to final state; a mapped task gives the list of its instances' states."""
        return self._by_task(lambda task: task.state, lambda task: True)

    @property
    def returns(self) -> dict[str, Any]:
        """Task id to returned value, for the tasks that returned one; mapped tasks give a list."""
        return self._by_task(lambda task: task.return_value, lambda task: task.has_return)

    def _by_task(
        self, value: Callable[[TaskResult], Any], keep: Callable[[TaskResult], bool]
    ) -> dict[str, Any]:
        grouped: dict[str, Any] = {}
        for task_id in dict.fromkeys(task.task_id for task in self.tasks):
            instances = sorted((t for t in self.tasks if t.task_id == task_id), key=lambda t: t.map_index)
            if not any(keep(instance) for instance in instances):
                continue
            if len(instances) == 1 and instances[0].map_index < 0:
                grouped[task_id] = value(instances[0])
            else:
                grouped[task_id] = [value(instance) for instance in instances]
        return grouped

    def output_tail(self, lines: int = _TAIL_LINES) -> str:
        """The last ``lines`` lines Airflow printed.

        :param lines: how many lines.
        """
        return "\n".join(self.output.splitlines()[-lines:])

    def format(self) -> str:
        """A summary: the run's state, then one line per task instance with its state and returned value."""
        took = f" in {self.duration:.1f} s"
        head = f"DAG {self.dag_id}, run {self.run_id}: {self.state}{took}"
        if self.returncode != 0 and self.state == "success":
            head += f" (airflow dags test exited with {self.returncode})"
        if not self.tasks:
            return head + "\n(no task instances)"
        width = max(len("task"), *(len(task.label) for task in self.tasks))
        state_width = max(len("state"), *(len(str(task.state)) for task in self.tasks))
        lines = [head, "", f"{'task':<{width}}  {'state':<{state_width}}  returned"]
        for task in self.tasks:
            shown = _shown(task.return_value) if task.has_return else "-"
            lines.append(f"{task.label:<{width}}  {task.state!s:<{state_width}}  {shown}")
        return "\n".join(lines)

    def report(self) -> str:
        """:meth:`format`, followed by the tail of Airflow's output when the run did not succeed."""
        if self.succeeded:
            return self.format()
        return f"{self.format()}\n\nlast lines of airflow dags test:\n{self.output_tail()}"

    def as_dict(self) -> dict[str, Any]:
        """The result as JSON-friendly data (without the output and the emulator)."""
        return {
            "dag_id": self.dag_id,
            "run_id": self.run_id,
            "state": self.state,
            "returncode": self.returncode,
            "duration": round(self.duration, 3),
            "home": str(self.home),
            "task_states": self.task_states,
            "returns": self.returns,
            "tasks": [task.__dict__ for task in self.tasks],
        }


def _shown(value: Any) -> str:
    text = json.dumps(value, default=repr)
    return text if len(text) <= _VALUE_WIDTH else text[: _VALUE_WIDTH - 1] + "…"


def airflow_env(
    home: Path,
    dag_folder: Path,
    *,
    base_url: str,
    api_key: str,
    fast_polls: bool = True,
    extra: Mapping[str, str] | None = None,
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Return the environment of a throwaway Airflow home whose ``twelvelabs_default`` is ``base_url``.

    The caller's ``AIRFLOW__*`` settings, ``AIRFLOW_HOME`` and ``AIRFLOW_CONFIG`` are left out, so the
    home runs with Airflow's defaults plus these; other connections (``AIRFLOW_CONN_*``) and
    variables (``AIRFLOW_VAR_*``) are kept.

    :param home: the Airflow home (its SQLite database is ``home/airflow.db``).
    :param dag_folder: the DAGs folder.
    :param base_url: the TwelveLabs API base URL, version path included.
    :param api_key: the API key (the connection's password).
    :param fast_polls: add :data:`FAST_POLL_ENV` (for the emulator, not for the real API).
    :param extra: more variables, applied last.
    :param base: the environment to start from (default: ``os.environ``).
    """
    source = os.environ if base is None else base
    env = {
        name: value
        for name, value in source.items()
        if not name.startswith(_STRIPPED_PREFIXES) and name not in _STRIPPED_NAMES
    }
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dag_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW_CONN_TWELVELABS_DEFAULT": json.dumps(
                {"conn_type": "twelvelabs", "password": api_key, "host": base_url}
            ),
            # The official SDK reads these: DAG code calling it directly talks to the same API.
            "TWELVELABS_BASE_URL": base_url,
            "TWELVELABS_API_KEY": api_key,
        }
    )
    if fast_polls:
        env.update(FAST_POLL_ENV)
    env.update(extra or {})
    return env


def _python_m(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


def _run_quiet(argv: list[str], env: Mapping[str, str], what: str, timeout: float) -> str:
    try:
        # argv is this module's own command line (the interpreter running it, `-m airflow ...`).
        done = subprocess.run(  # noqa: S603
            argv, env=dict(env), capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise DagTestError(f"{what} did not finish within {timeout:.0f} s") from exc
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-_TAIL_LINES:])
        raise DagTestError(f"{what} failed (exit code {done.returncode}):\n{tail}")
    return done.stdout


def _probe(env: Mapping[str, str], what: str, *args: str) -> dict[str, Any]:
    out = _run_quiet(_python_m("airflow_provider_twelvelabs.testing._airflow_probe", *args), env, what, 300)
    for line in reversed(out.splitlines()):
        if line.startswith(MARKER):
            return dict(json.loads(line[len(MARKER) :]))
    raise DagTestError(f"{what} printed no answer:\n{out[-3000:]}")


def _find_dag_id(env: Mapping[str, str], dag_file: Path, dag_id: str | None) -> str:
    found = _probe(env, f"parsing {dag_file}", "dag-ids", str(dag_file))
    errors = found["import_errors"]
    if errors:
        shown = "\n".join(f"{path}:\n{message}" for path, message in errors.items())
        raise DagTestError(f"{dag_file} does not import:\n{shown}")
    ids: list[str] = found["dag_ids"]
    if dag_id is not None:
        if dag_id not in ids:
            raise DagTestError(
                f"dag_id {dag_id!r} is not defined in {dag_file} (it defines: {ids or 'none'})"
            )
        return dag_id
    if not ids:
        raise DagTestError(f"{dag_file} defines no DAG")
    if len(ids) > 1:
        raise DagTestError(f"{dag_file} defines several DAGs ({', '.join(ids)}): choose one with dag_id")
    return ids[0]


def _stream(
    argv: list[str], env: Mapping[str, str], log: Path, echo: TextIO | None, timeout: float
) -> tuple[int, str, bool]:
    """Run ``argv``, copying its output to ``log`` (and ``echo``); stop it after ``timeout``."""
    process = subprocess.Popen(  # noqa: S603 - `airflow dags test`, built by run_dag_test
        argv,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    )
    timed_out = threading.Event()

    def stop() -> None:
        timed_out.set()
        process.kill()

    timer = threading.Timer(timeout, stop)
    timer.daemon = True
    timer.start()
    chunks: list[str] = []
    try:
        assert process.stdout is not None
        with log.open("w") as out:
            for line in process.stdout:
                chunks.append(line)
                out.write(line)
                if echo is not None:
                    echo.write(line)
                    echo.flush()
        returncode = process.wait()
    except BaseException:
        # Ctrl-C or an error here: do not leave the run behind.
        process.kill()
        process.wait()
        raise
    finally:
        timer.cancel()
    return returncode, "".join(chunks), timed_out.is_set()


def run_dag_test(
    dag_file: str | os.PathLike[str],
    *,
    base_url: str,
    api_key: str,
    conf: Mapping[str, Any] | None = None,
    dag_id: str | None = None,
    home: str | os.PathLike[str] | None = None,
    fast_polls: bool = True,
    extra_env: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    echo: TextIO | None = None,
    emulator: RunningEmulator | None = None,
) -> DagTestResult:
    """Run ``dag_file``'s DAG once with ``airflow dags test`` in a fresh Airflow home and read the result.

    The home gets a migrated SQLite database (``airflow db migrate``), the DAG file's folder as its
    DAGs folder, no example DAGs, and a ``twelvelabs_default`` connection to ``base_url``.

    :param dag_file: the DAG file.
    :param base_url: the TwelveLabs API base URL, version path included (an emulator's ``base_url``).
    :param api_key: the API key; it reaches the subprocesses' environment only.
    :param conf: the DAG run's ``conf`` (``airflow dags test -c``), a JSON-serialisable mapping.
    :param dag_id: the DAG to run; required only when the file defines several.
    :param home: an empty or missing folder for the Airflow home; a new temporary folder when
        ``None`` (the caller removes it: it is ``result.home``).
    :param fast_polls: poll every 0.1-0.5 s by default (:data:`FAST_POLL_ENV`); keep it for the
        emulator, turn it off against the real API.
    :param extra_env: more environment variables for Airflow (``AIRFLOW__SECTION__KEY`` settings,
        ``AIRFLOW_VAR_*``, anything the DAG reads).
    :param timeout: seconds after which ``airflow dags test`` is stopped and the run counts as failed.
    :param echo: a stream to copy Airflow's output to as it comes (``sys.stderr`` for a live log).
    :param emulator: the emulator behind ``base_url``, attached to the result for assertions.
    :raises DagTestError: when the DAG cannot be run: the file is missing or does not import, it
        defines no DAG or several without ``dag_id``, ``conf`` is not a mapping, the migration fails.
    """
    path = Path(dag_file).expanduser().resolve()
    if not path.is_file():
        raise DagTestError(f"dag_file {str(dag_file)!r} is not a file")
    if conf is not None and not isinstance(conf, Mapping):
        raise DagTestError(f"conf must be a mapping (a JSON object), got {type(conf).__name__}")
    conf_json = None if conf is None else json.dumps(dict(conf))
    if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or timeout <= 0:
        raise DagTestError(f"timeout must be a positive number of seconds, got {timeout!r}")
    if home is None:
        airflow_home = Path(tempfile.mkdtemp(prefix="twelvelabs-dag-test-"))
    else:
        airflow_home = Path(home).resolve()
        if airflow_home.exists() and any(airflow_home.iterdir()):
            raise DagTestError(f"home {str(home)!r} is not empty: a run needs a fresh Airflow home")
        airflow_home.mkdir(parents=True, exist_ok=True)
    env = airflow_env(
        airflow_home, path.parent, base_url=base_url, api_key=api_key, fast_polls=fast_polls, extra=extra_env
    )

    _run_quiet(_python_m("airflow", "db", "migrate"), env, "airflow db migrate", 600)
    chosen = _find_dag_id(env, path, dag_id)

    argv = _python_m("airflow", "dags", "test", chosen, "--dagfile-path", str(path))
    if conf_json is not None:
        argv += ["--conf", conf_json]
    started = time.monotonic()
    returncode, output, timed_out = _stream(argv, env, airflow_home / "dag-test.log", echo, timeout)
    duration = time.monotonic() - started
    if timed_out:
        output += f"\n[dag-test] airflow dags test stopped after the {timeout:.0f} s timeout\n"
        returncode = returncode or 1

    found = _probe(env, "reading the run's results", "results", chosen)
    tasks = [
        TaskResult(
            task_id=row["task_id"],
            map_index=int(row["map_index"]),
            state=row["state"],
            try_number=int(row["try_number"]),
            has_return=bool(row["has_return"]),
            return_value=row["return_value"],
        )
        for row in found["tasks"]
    ]
    return DagTestResult(
        dag_id=chosen,
        run_id=found["run_id"],
        state=found["state"],
        returncode=returncode,
        tasks=tasks,
        output=output,
        home=airflow_home,
        duration=duration,
        emulator=emulator,
    )


# ---------------------------------------------------------------------------------------- the CLI


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of ``python -m airflow_provider_twelvelabs.testing``."""
    parser = argparse.ArgumentParser(
        prog="python -m airflow_provider_twelvelabs.testing",
        description="Test tools of the TwelveLabs provider.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser(
        "dag-test",
        help="run a DAG file with `airflow dags test` against the TwelveLabs emulator",
        description=(
            "Start the TwelveLabs API emulator on 127.0.0.1, make a throwaway Airflow home (SQLite, the "
            "DAG's folder as DAGs folder, twelvelabs_default pointing at the emulator), run "
            "`airflow dags test` and print each task's state and returned value. Exit code 0 when the run "
            "succeeded, 1 when it failed, 2 when it could not start."
        ),
    )
    add = run.add_argument
    add("dag_file", help="the DAG file to run")
    add("--conf", "-c", default=None, help="the DAG run's conf, a JSON object")
    add("--dag-id", default=None, help="the DAG to run, when the file defines several")
    add("--keep-home", action="store_true", help="keep the Airflow home (its database, logs) and print where")
    add(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help=f"seconds before the run is stopped ({DEFAULT_TIMEOUT:.0f})",
    )
    add(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an environment variable for Airflow (repeatable)",
    )
    add(
        "--emulator-config",
        default=None,
        metavar="JSON",
        help='emulator switches as a JSON object, e.g. \'{"fault_rate": 0.1, "seed": 3}\' '
        "(see docs/emulator.md)",
    )
    add(
        "--real",
        action="store_true",
        help="use the real API instead of the emulator: key from TWELVELABS_API_KEY, base URL from "
        f"TWELVELABS_BASE_URL (default {REAL_BASE_URL}); production poll intervals",
    )
    add("--verbose", "-v", action="store_true", help="show Airflow's output as the run goes")
    add("--json", action="store_true", help="print the result as JSON instead of a table")
    return parser


def _json_object(text: str | None, option: str) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DagTestError(f"{option} is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise DagTestError(f"{option} must be a JSON object, got {text!r}")
    return value


def _env_pairs(pairs: Sequence[str]) -> dict[str, str]:
    env = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise DagTestError(f"--env takes NAME=VALUE, got {pair!r}")
        env[name] = value
    return env


@contextlib.contextmanager
def _target(args: argparse.Namespace) -> Iterator[tuple[str, str, RunningEmulator | None]]:
    if args.real:
        key = os.environ.get("TWELVELABS_API_KEY", "")
        if not key:
            raise DagTestError("--real needs the API key in the TWELVELABS_API_KEY environment variable")
        yield os.environ.get("TWELVELABS_BASE_URL") or REAL_BASE_URL, key, None
        return
    config = EmulatorConfig()
    switches = _json_object(args.emulator_config, "--emulator-config") or {}
    try:
        config.update(switches)
    except ValueError as exc:
        raise DagTestError(f"--emulator-config: {exc}") from exc
    with serve_emulator(config) as emulator:
        yield emulator.base_url, emulator.api_key, emulator


def _dag_test(args: argparse.Namespace) -> int:
    conf = _json_object(args.conf, "--conf")
    extra_env = _env_pairs(args.env)
    if not Path(args.dag_file).is_file():
        raise DagTestError(f"dag_file {args.dag_file!r} is not a file")
    if args.real and args.emulator_config is not None:
        raise DagTestError("--emulator-config and --real exclude each other")
    home = Path(tempfile.mkdtemp(prefix="twelvelabs-dag-test-"))
    result: DagTestResult | None = None
    try:
        with _target(args) as (base_url, api_key, emulator):
            where = "the TwelveLabs API" if emulator is None else "the TwelveLabs emulator"
            print(f"Running {args.dag_file} against {where} at {base_url}", file=sys.stderr, flush=True)
            result = run_dag_test(
                args.dag_file,
                base_url=base_url,
                api_key=api_key,
                conf=conf,
                dag_id=args.dag_id,
                home=home,
                fast_polls=not args.real,
                extra_env=extra_env,
                timeout=args.timeout,
                echo=sys.stderr if args.verbose else None,
                emulator=emulator,
            )
    finally:
        if args.keep_home:
            print(f"Airflow home kept at {home} (Airflow's output: {home / 'dag-test.log'})", file=sys.stderr)
        else:
            shutil.rmtree(home, ignore_errors=True)
    if args.json:
        shown = result.as_dict()
        if not args.keep_home:
            shown["home"] = None  # removed above
        print(json.dumps(shown, indent=2, default=repr))
    else:
        print(result.format())
    if not result.succeeded and not args.verbose:
        print(f"\nlast lines of airflow dags test:\n{result.output_tail()}", file=sys.stderr)
    return 0 if result.succeeded else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``python -m airflow_provider_twelvelabs.testing``.

    :param argv: command-line arguments (``sys.argv[1:]`` when ``None``).
    :return: the exit code: 0 when the run succeeded, 1 when it failed, 2 when it could not start.
    """
    args = build_parser().parse_args(argv)
    try:
        return _dag_test(args)
    except DagTestError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
