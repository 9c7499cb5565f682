"""End to end: ``airflow dags test`` runs the catalog example DAG against the emulator.

Real Airflow (a throwaway AIRFLOW_HOME with SQLite) in a subprocess; the emulator is served on
127.0.0.1 by this test, with an index of the three sample videos. ``/gist`` is switched to its
sunset answer, so the gists come through the ``/analyze`` fallback while summaries and chapters use
``/summarize``; the catalog must hold, per video, what the API itself answers.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from airflow_provider_twelvelabs.testing.emulator.server import RunningEmulator
from airflow_provider_twelvelabs.testing.pytest_plugin import connection_json, connection_variable
from tests.integration.catalog_support import Catalog, serve_catalog

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
DAG_FILE = ROOT / "example_dags" / "twelvelabs_catalog.py"


def airflow(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "airflow", *args], env=env, capture_output=True, text=True, timeout=150
    )


def test_catalog_dag_writes_gists_summaries_chapters_and_hits(
    tmp_path: Path, twelvelabs_emulator: RunningEmulator
) -> None:
    with serve_catalog(twelvelabs_emulator) as catalog:
        catalog.emulator.config.update({"gist_gone": True})
        dags = tmp_path / "dags"
        dags.mkdir()
        shutil.copy(DAG_FILE, dags / DAG_FILE.name)
        emulator = catalog.emulator
        env = {
            **os.environ,
            "AIRFLOW_HOME": str(tmp_path / "home"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path / 'airflow.db'}",
            connection_variable(): connection_json(emulator.base_url, emulator.api_key),
        }
        migrated = airflow(env, "db", "migrate")
        assert migrated.returncode == 0, migrated.stderr[-3000:]

        out_dir = tmp_path / "out"
        conf = {"index_id": catalog.index_id, "output_dir": str(out_dir)}
        mark = len(catalog.log())
        run = airflow(env, "dags", "test", "twelvelabs_catalog", "-c", json.dumps(conf))
        logs = run.stdout + run.stderr
        assert run.returncode == 0, logs[-5000:]
        assert "state=success" in logs
        assert emulator.api_key not in logs
        assert "POST /gist is gone" in logs

        requests = catalog.requests_since(mark)
        (catalog_file,) = out_dir.glob("*/catalog.json")
        document = json.loads(catalog_file.read_text())
        _check_catalog(catalog, document)
        assert requests.count(("POST", "/gist", 410)) == 3
        assert requests.count(("POST", "/summarize", 200)) == 6
        assert requests.count(("POST", "/analyze", 200)) == 3
        assert requests.count(("POST", "/search", 200)) == 1


def _check_catalog(catalog: Catalog, document: dict) -> None:
    entries = document["videos"]
    # Indexed oldest first, listed oldest first.
    assert [e["video_id"] for e in entries] == catalog.video_ids
    with httpx.Client(
        base_url=catalog.emulator.base_url, headers={"x-api-key": catalog.emulator.api_key}, timeout=30
    ) as client:
        for entry in entries:
            summary = client.post(
                "/summarize",
                json={
                    "video_id": entry["video_id"],
                    "type": "summary",
                    "prompt": "Two sentences for a media catalog.",
                },
            ).json()
            assert entry["summary"] == summary["summary"]
            chapters = client.post(
                "/summarize", json={"video_id": entry["video_id"], "type": "chapter"}
            ).json()
            assert [(c["start"], c["end"], c["title"]) for c in entry["chapters"]] == [
                (c["start_sec"], c["end_sec"], c["chapter_title"]) for c in chapters["chapters"]
            ]
            # The gists came through /analyze: the same shape as /gist answers.
            assert isinstance(entry["title"], str) and entry["title"]
            assert entry["topics"] and all(isinstance(t, str) for t in entry["topics"])
            assert entry["hashtags"] and all(t.startswith("#") for t in entry["hashtags"])
    hits = document["search"]
    assert 0 < len(hits) <= 10
    assert {h["video_id"] for h in hits} <= set(catalog.video_ids)
    assert [h["rank"] for h in hits] == sorted(h["rank"] for h in hits)
