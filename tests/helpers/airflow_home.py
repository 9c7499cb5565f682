"""A throwaway Airflow home for end-to-end tests, and the Airflow commands run in it.

Every e2e test that runs real Airflow in a subprocess builds the same environment: its own
``AIRFLOW_HOME`` with a SQLite database in it, a DAGs folder, no example DAGs, the ``twelvelabs_default``
connection pointing at an emulator. :func:`airflow_env` builds it, always without the caller's own
``AIRFLOW__*``/``AIRFLOW_CONN_*`` variables (and ``AIRFLOW_CONFIG``), so that a test never runs with
the developer's Airflow settings; :func:`run_airflow` and friends run ``airflow`` commands with it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from airflow_provider_twelvelabs.testing.emulator.server import RunningEmulator
from airflow_provider_twelvelabs.testing.pytest_plugin import connection_json, connection_variable

#: The ``airflow`` command of the interpreter running the tests.
AIRFLOW = str(Path(sys.executable).with_name("airflow"))
#: What of the caller's environment never reaches a test's Airflow.
_INHERITED_PREFIXES = ("AIRFLOW__", "AIRFLOW_CONN_")
_INHERITED_NAMES = ("AIRFLOW_CONFIG",)


def connection_env(emulator: RunningEmulator) -> dict[str, str]:
    """The environment variable of a ``twelvelabs_default`` connection to ``emulator``.

    :param emulator: the running emulator (its base URL and API key).
    """
    return {connection_variable(): connection_json(emulator.base_url, emulator.api_key)}


def airflow_env(
    home: Path,
    *,
    dags: Path | Iterable[Path],
    emulator: RunningEmulator | None = None,
    **extra: str,
) -> dict[str, str]:
    """Return the environment of Airflow commands in the throwaway home ``home``.

    The database is ``home/airflow.db`` (SQLite), example DAGs are off, and so is Airflow's unit
    test mode. The caller's ``AIRFLOW__*`` and ``AIRFLOW_CONN_*`` variables and ``AIRFLOW_CONFIG``
    are left out.

    :param home: the ``AIRFLOW_HOME`` (made if it does not exist).
    :param dags: a DAGs folder, used where it is; or DAG files, copied into ``home/dags``, which
        becomes the DAGs folder.
    :param emulator: when given, the ``twelvelabs_default`` connection points at it.
    :param extra: more variables (``AIRFLOW__SECTION__KEY`` settings, ``TWELVELABS_*``...).
    """
    if isinstance(dags, Path) and dags.is_dir():
        folder = dags
    else:
        folder = home / "dags"
        folder.mkdir(parents=True, exist_ok=True)
        for dag_file in [dags] if isinstance(dags, Path) else dags:
            shutil.copy(dag_file, folder / dag_file.name)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(_INHERITED_PREFIXES) and k not in _INHERITED_NAMES
    }
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        }
    )
    if emulator is not None:
        env.update(connection_env(emulator))
    env.update(extra)
    return env


def run_airflow(
    env: dict[str, str], *args: str, timeout: float = 150, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``airflow *args`` with ``env`` and return what it did, whatever its exit status.

    :param env: the environment (from :func:`airflow_env`).
    :param args: the command's arguments (``"db", "migrate"``).
    :param timeout: seconds before the command is killed (and the test fails).
    :param cwd: the working directory (this process's by default).
    """
    return subprocess.run(
        [AIRFLOW, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )


def airflow_ok(env: dict[str, str], *args: str, timeout: float = 150, cwd: Path | None = None) -> str:
    """Run ``airflow *args`` like :func:`run_airflow`, check that it exits 0 and return its output.

    The output is stdout then stderr; when the command fails, the assertion shows its tail.
    """
    done = run_airflow(env, *args, timeout=timeout, cwd=cwd)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"airflow {' '.join(args)} exited {done.returncode}:\n{output[-5000:]}"
    return output


def dags_test(
    env: dict[str, str], dag_id: str, conf: dict[str, Any], *, timeout: float = 150, cwd: Path | None = None
) -> str:
    """Run ``airflow dags test dag_id -c conf``, check that it exits 0 and return its output.

    :param env: the environment (from :func:`airflow_env`, migrated).
    :param dag_id: the DAG to run.
    :param conf: the run's configuration (sent as JSON).
    :param timeout: seconds before the command is killed.
    :param cwd: the working directory.
    """
    return airflow_ok(env, "dags", "test", dag_id, "-c", json.dumps(conf), timeout=timeout, cwd=cwd)


def migrated_home(
    home: Path,
    *,
    dags: Path | Iterable[Path],
    emulator: RunningEmulator | None = None,
    timeout: float = 150,
    **extra: str,
) -> dict[str, str]:
    """Build the environment of :func:`airflow_env`, run ``airflow db migrate`` in it and return it.

    :param timeout: seconds the migration may take; the other parameters are :func:`airflow_env`'s.
    """
    env = airflow_env(home, dags=dags, emulator=emulator, **extra)
    airflow_ok(env, "db", "migrate", timeout=timeout)
    return env
