"""End to end: the OpenLineage events of `airflow dags test` of the example DAG, file transport.

Real Airflow in a subprocess (throwaway AIRFLOW_HOME, SQLite) with the OpenLineage provider's
listener writing every event to a file; the emulator is served from this process on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

pytest.importorskip(
    "airflow.providers.openlineage", reason="apache-airflow-providers-openlineage is not installed"
)

from airflow_provider_twelvelabs.testing.emulator.config import EmulatorConfig
from airflow_provider_twelvelabs.testing.emulator.server import RunningEmulator
from airflow_provider_twelvelabs.testing.pytest_plugin import (
    connection_json,
    connection_variable,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
MEDIA = ROOT / "example_dags" / "media"
DAG_ID = "twelvelabs_index_archive"
API_KEY = "tlk_E2E_LINEAGE_SECRET_77aa"
AIRFLOW = str(Path(sys.executable).with_name("airflow"))


@pytest.fixture
def twelvelabs_emulator_config() -> EmulatorConfig:
    return EmulatorConfig(api_key=API_KEY)


@pytest.fixture
def emulator(twelvelabs_connection: RunningEmulator) -> RunningEmulator:
    return twelvelabs_connection


def _events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _datasets(events: list[dict[str, Any]], task: str, side: str) -> set[tuple[str, str]]:
    return {
        (d["namespace"], d["name"])
        for e in events
        if e["eventType"] == "COMPLETE" and e["job"]["name"] == f"{DAG_ID}.{task}"
        for d in e.get(side, [])
    }


def test_the_dag_run_reports_files_assets_and_the_index(emulator: RunningEmulator, tmp_path: Path) -> None:
    home, log = tmp_path / "airflow", tmp_path / "events.jsonl"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW__", "AIRFLOW_CONN_"))}
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "example_dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
            "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
                {"type": "file", "log_file_path": str(log), "append": True}
            ),
            "AIRFLOW__OPENLINEAGE__NAMESPACE": "e2e",
            connection_variable(): connection_json(emulator.base_url, emulator.api_key),
            "TWELVELABS_EXAMPLE_POLL_INTERVAL": "0.2",
        }
    )

    def airflow(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [AIRFLOW, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=240, check=False
        )

    migrate = airflow("db", "migrate")
    assert migrate.returncode == 0, migrate.stderr[-3000:]
    conf = json.dumps({"source": str(MEDIA), "index_name": "lineage"})
    run = airflow("dags", "test", DAG_ID, "-c", conf)
    # Kept next to the events for a look when an assertion fails.
    (tmp_path / "dags-test.log").write_text(run.stdout + run.stderr)
    assert run.returncode == 0, (run.stdout + run.stderr)[-5000:]

    text = log.read_text()
    events = _events(log)
    assert {"START", "COMPLETE"} <= {e["eventType"] for e in events}
    # No secret in any event: neither the API key nor a presigned URL's signature.
    assert API_KEY not in text
    assert "X-Amz-Signature" not in text and "sig=" not in text

    samples = {("file", str(p)) for p in MEDIA.glob("*.mp4")}
    ns = f"twelvelabs://{urlsplit(emulator.base_url).netloc}"
    assert _datasets(events, "upload", "inputs") == samples
    assets = _datasets(events, "upload", "outputs")
    assert len(assets) == len(samples) and {n for n, _ in assets} == {ns}
    assert all(name.startswith("assets/") for _, name in assets)
    # The index task reads what the upload task wrote, and writes the index.
    assert _datasets(events, "index", "inputs") == assets
    index_outputs = _datasets(events, "index", "outputs")
    (index,) = {name for _, name in index_outputs if name.count("/") == 1}
    assert index.startswith("indexes/")
    assert len([n for _, n in index_outputs if n.startswith(f"{index}/indexed-assets/")]) == len(samples)
