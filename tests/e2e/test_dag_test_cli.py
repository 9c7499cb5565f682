"""End to end: the dag-test command's other paths, with real Airflow commands.

``--real`` against a stand-in for the real API (an emulator with a secret key, reached through
``TWELVELABS_BASE_URL``), and the DAG files it refuses to guess about.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from airflow_provider_twelvelabs.testing.dag_test import DagTestError, run_dag_test
from airflow_provider_twelvelabs.testing.emulator.config import EmulatorConfig
from airflow_provider_twelvelabs.testing.emulator.server import serve_emulator

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
USER_DAG = Path(__file__).resolve().parent / "dags" / "index_my_video.py"
SAMPLE = ROOT / "example_dags" / "media" / "smptebars_480x360.mp4"
SECRET = "tlk_REAL_MODE_SECRET_91c2e7"


def _user_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTEST_", "TWELVELABS_"))}
    env.update(extra)
    return env


def test_real_mode_takes_the_key_from_the_environment_and_never_prints_it(tmp_path: Path) -> None:
    dags = tmp_path / "dags"
    (dags / "videos").mkdir(parents=True)
    shutil.copy(USER_DAG, dags / USER_DAG.name)
    shutil.copy(SAMPLE, dags / "videos" / "clip.mp4")
    with serve_emulator(EmulatorConfig(api_key=SECRET)) as api:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "airflow_provider_twelvelabs.testing",
                "dag-test",
                str(dags / USER_DAG.name),
                "--real",
                "--verbose",
            ],
            env=_user_env(TWELVELABS_API_KEY=SECRET, TWELVELABS_BASE_URL=api.base_url),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        polls = [
            datetime.fromisoformat(entry["time"])
            for entry in api.state.request_log
            # The trigger's shared poller reads the index's listing of indexed assets.
            if entry["method"] == "GET"
            and entry["path"].startswith("/v1.3/indexes/")
            and entry["path"].endswith("/indexed-assets")
            # (the index operator's content lookup before creating reads the same list, filtered)
            and "sort_by=updated_at" in str(entry.get("query"))
        ]
        index_names = [index.name for index in api.state.indexes.values()]

    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-5000:]
    assert f"against the TwelveLabs API at {api.base_url}" in done.stderr
    assert SECRET not in output
    assert ": success in " in done.stdout.splitlines()[0]
    assert index_names == ["my-videos"]
    # Production poll intervals (2 s first, then backing off), not the emulator's fast settings.
    assert len(polls) >= 3
    gaps = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(polls)]
    assert min(gaps) >= 1.5, gaps


def test_a_file_with_several_dags_needs_a_dag_id(tmp_path: Path) -> None:
    dag_file = tmp_path / "two_dags.py"
    dag_file.write_text(
        "from airflow.sdk import dag, task\n"
        "\n"
        "@dag(schedule=None)\n"
        "def first():\n"
        "    @task\n"
        "    def hello() -> str:\n"
        "        return 'first'\n"
        "    hello()\n"
        "\n"
        "@dag(schedule=None)\n"
        "def second():\n"
        "    @task\n"
        "    def hello() -> str:\n"
        "        return 'second'\n"
        "    hello()\n"
        "\n"
        "first()\n"
        "second()\n"
    )
    with pytest.raises(DagTestError, match=r"defines several DAGs \(first, second\)"):
        run_dag_test(dag_file, base_url="http://127.0.0.1:9/v1.3", api_key="k", home=tmp_path / "a")

    result = run_dag_test(
        dag_file, base_url="http://127.0.0.1:9/v1.3", api_key="k", dag_id="second", home=tmp_path / "b"
    )
    assert result.succeeded, result.report()
    assert result.returns == {"hello": "second"}


def test_a_dag_file_that_does_not_import_is_reported(tmp_path: Path) -> None:
    dag_file = tmp_path / "broken.py"
    dag_file.write_text("import no_such_module_for_the_kit\n")
    with pytest.raises(DagTestError, match=r"(?s)broken\.py does not import:.*no_such_module_for_the_kit"):
        run_dag_test(dag_file, base_url="http://127.0.0.1:9/v1.3", api_key="k", home=tmp_path / "home")
