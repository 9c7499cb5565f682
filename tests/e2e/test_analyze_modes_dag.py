"""End to end: ``airflow dags test`` runs one deferred analyze task per mode against the emulator.

Real Airflow (SQLite, a throwaway AIRFLOW_HOME) in a subprocess; the triggers run in-process. Each
file the DAG writes must hold what the API itself answers for the task of that mode.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from airflow_provider_twelvelabs.hooks.twelvelabs import TwelveLabsHook
from airflow_provider_twelvelabs.operators.analyze_async import segment_rows
from airflow_provider_twelvelabs.testing.emulator.server import RunningEmulator
from tests.helpers.airflow_home import migrated_home, run_airflow
from tests.integration.compute_support import ready_asset

pytestmark = pytest.mark.e2e

DAG_FILE = Path(__file__).resolve().parent / "dags" / "twelvelabs_analyze_modes.py"


def test_an_analyze_task_in_each_mode(tmp_path: Path, twelvelabs_connection: RunningEmulator) -> None:
    emulator = twelvelabs_connection
    with httpx.Client(base_url=emulator.base_url, headers={"x-api-key": emulator.api_key}) as client:
        asset_id = ready_asset(client, "https://media.example.com/modes.mp4?duration=90")
    env = migrated_home(tmp_path / "home", dags=DAG_FILE, emulator=emulator)
    out = tmp_path / "out"
    conf = {"asset_id": asset_id, "output_dir": str(out)}
    run = run_airflow(env, "dags", "test", "twelvelabs_analyze_modes", "-c", json.dumps(conf))
    logs = run.stdout + run.stderr
    assert run.returncode == 0, logs[-5000:]
    assert "state=success" in logs
    assert emulator.api_key not in logs

    with TwelveLabsHook() as hook:
        tasks = {t.custom_id: hook.get_analyze_task(t.id) for t in hook.list_analyze_tasks()}
    assert set(tasks) == {"mode-text", "mode-json", "mode-segments"}
    assert all(t.status == "ready" and t.result is not None for t in tasks.values())
    text = tasks["mode-text"].result
    gist = tasks["mode-json"].result
    scenes = tasks["mode-segments"].result
    assert text is not None and gist is not None and scenes is not None
    assert (out / "text.txt").read_text() == text.data
    document = json.loads((out / "gist.json").read_text())
    assert document == json.loads(gist.data) and isinstance(document["title"], str)
    written = [json.loads(line) for line in (out / "scenes.jsonl").read_text().splitlines()]
    assert written == list(segment_rows(scenes.data)) and written
    assert {r["segment_definition"] for r in written} == {"scenes"}
