"""pytest fixtures running your own DAG files with ``airflow dags test`` against the emulator.

Enable them in the ``conftest.py`` at the root of your tests::

    pytest_plugins = ["airflow_provider_twelvelabs.testing.dag_test_plugin"]

Fixtures:

* ``twelvelabs_dag_test``: a callable ``run(dag_file, conf=None, *, dag_id=None, env=None,
  timeout=900)`` returning a :class:`~airflow_provider_twelvelabs.testing.dag_test.DagTestResult`
  (``.state``, ``.task_states``, ``.returns``, ``.emulator``, ``.report()``...). Each call runs in
  a fresh Airflow home under the test's ``tmp_path``; every call of one test talks to the same
  emulator, which stays up until the test ends;
* ``twelvelabs_dag_test_emulator_config``: the :class:`EmulatorConfig` of that emulator; override
  it to change switches (faults, rate limits, lifecycles) for a module or a package.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_twelvelabs.testing.dag_test import DEFAULT_TIMEOUT, DagTestResult, run_dag_test
from airflow_provider_twelvelabs.testing.emulator.config import EmulatorConfig
from airflow_provider_twelvelabs.testing.emulator.server import RunningEmulator, serve_emulator

__all__ = ["DagTestRunner", "twelvelabs_dag_test", "twelvelabs_dag_test_emulator_config"]


class DagTestRunner:
    """Runs DAG files against one emulator, each run in a new Airflow home under ``root``.

    :param emulator: the running emulator the runs talk to.
    :param root: the folder the Airflow homes are made in.
    """

    def __init__(self, emulator: RunningEmulator, root: Path) -> None:
        self.emulator = emulator
        self.root = root
        self._numbers = itertools.count(1)

    def __call__(
        self,
        dag_file: str | Path,
        conf: Mapping[str, Any] | None = None,
        *,
        dag_id: str | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> DagTestResult:
        """Run ``dag_file``'s DAG once and return what it did.

        :param dag_file: the DAG file (its folder becomes the DAGs folder).
        :param conf: the DAG run's ``conf``.
        :param dag_id: the DAG to run, when the file defines several.
        :param env: more environment variables for Airflow.
        :param timeout: seconds after which the run is stopped.
        """
        return run_dag_test(
            dag_file,
            base_url=self.emulator.base_url,
            api_key=self.emulator.api_key,
            conf=conf,
            dag_id=dag_id,
            home=self.root / f"run-{next(self._numbers)}",
            extra_env=env,
            timeout=timeout,
            emulator=self.emulator,
        )


@pytest.fixture
def twelvelabs_dag_test_emulator_config() -> EmulatorConfig:
    """Return the configuration of the emulator behind ``twelvelabs_dag_test`` (override to customise)."""
    return EmulatorConfig()


@pytest.fixture
def twelvelabs_dag_test(
    twelvelabs_dag_test_emulator_config: EmulatorConfig, tmp_path: Path
) -> Iterator[DagTestRunner]:
    """Serve an emulator for one test and return a runner of DAG files against it.

    :param twelvelabs_dag_test_emulator_config: the emulator's configuration.
    :param tmp_path: pytest's per-test folder; the Airflow homes go under it and stay for a look.
    """
    with serve_emulator(twelvelabs_dag_test_emulator_config) as emulator:
        yield DagTestRunner(emulator, tmp_path / "airflow-dag-test")
