"""End to end: the OpenLineage events of `airflow dags test` of the example DAG, file transport.

Real Airflow in a subprocess (throwaway AIRFLOW_HOME, SQLite) with the OpenLineage provider's
listener writing every event to a file; the emulator is served from this process on 127.0.0.1.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

pytest.importorskip(
    "airflow.providers.openlineage", reason="apache-airflow-providers-openlineage is not installed"
)

from airflow_provider_twelvelabs.testing.emulator.config import EmulatorConfig
from airflow_provider_twelvelabs.testing.emulator.server import RunningEmulator
from tests.helpers.airflow_home import migrated_home, run_airflow

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
MEDIA = ROOT / "example_dags" / "media"
DAG_ID = "twelvelabs_index_archive"
API_KEY = "tlk_E2E_LINEAGE_SECRET_77aa"


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
    env = migrated_home(
        home,
        dags=ROOT / "example_dags",
        emulator=emulator,
        timeout=240,
        AIRFLOW__OPENLINEAGE__TRANSPORT=json.dumps(
            {"type": "file", "log_file_path": str(log), "append": True}
        ),
        AIRFLOW__OPENLINEAGE__NAMESPACE="e2e",
        TWELVELABS_EXAMPLE_POLL_INTERVAL="0.2",
    )
    conf = json.dumps({"source": str(MEDIA), "index_name": "lineage"})
    run = run_airflow(env, "dags", "test", DAG_ID, "-c", conf, timeout=240, cwd=ROOT)
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
