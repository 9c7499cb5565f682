"""End to end: ``airflow dags test`` runs the catalog example DAG against the emulator.

Real Airflow (a throwaway AIRFLOW_HOME with SQLite) in a subprocess; the emulator is served on
127.0.0.1 by this test, with an index of the three sample videos. The DAG asks for every video's
title, topics, hashtags, summary and chapters in ONE analyze batch with a JSON schema (no
``/gist``, ``/summarize`` or ``/analyze`` call); the catalog must hold, per video, what the batch's
results on the API say.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_provider_twelvelabs.hooks.twelvelabs import TwelveLabsHook
from airflow_provider_twelvelabs.testing.emulator.server import RunningEmulator
from tests.helpers.airflow_home import migrated_home, run_airflow
from tests.integration.catalog_support import Catalog, serve_catalog

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
DAG_FILE = ROOT / "example_dags" / "twelvelabs_catalog.py"


def test_catalog_dag_analyzes_every_video_in_one_batch_and_writes_hits(
    tmp_path: Path, twelvelabs_emulator: RunningEmulator
) -> None:
    with serve_catalog(twelvelabs_emulator) as catalog:
        emulator = catalog.emulator
        env = migrated_home(tmp_path / "home", dags=DAG_FILE, emulator=emulator)

        out_dir = tmp_path / "out"
        conf = {"index_id": catalog.index_id, "output_dir": str(out_dir)}
        mark = len(catalog.log())
        run = run_airflow(env, "dags", "test", "twelvelabs_catalog", "-c", json.dumps(conf))
        logs = run.stdout + run.stderr
        assert run.returncode == 0, logs[-5000:]
        assert "state=success" in logs
        assert emulator.api_key not in logs

        requests = catalog.requests_since(mark)
        (catalog_file,) = out_dir.glob("*/catalog.json")
        document = json.loads(catalog_file.read_text())
        _check_catalog(catalog, document)
        assert requests.count(("POST", "/analyze/batches", 200)) == 1
        assert not [r for r in requests if r[1] in ("/gist", "/summarize", "/analyze")]
        assert requests.count(("POST", "/search", 200)) == 1


def _check_catalog(catalog: Catalog, document: dict) -> None:
    entries = document["videos"]
    # Indexed oldest first, listed oldest first.
    assert [e["video_id"] for e in entries] == catalog.video_ids
    with TwelveLabsHook() as hook:
        (batch,) = hook.list_analyze_batches()
        answers = {r.custom_id: r for r in hook.stream_analyze_batch_results(batch.id)}
    assert set(answers) == set(catalog.video_ids)
    for entry in entries:
        answer = answers[entry["video_id"]]
        assert answer.status == "ready" and answer.data is not None
        expected = json.loads(answer.data.data)
        assert {k: entry[k] for k in ("title", "topics", "hashtags", "summary")} == {
            k: expected[k] for k in ("title", "topics", "hashtags", "summary")
        }
        assert sorted((c["start"], c["end"], c["title"], c["text"]) for c in entry["chapters"]) == sorted(
            (c["start_time"], c["end_time"], c["title"], c["summary"]) for c in expected["chapters"]
        )
        assert isinstance(entry["title"], str) and entry["title"]
        assert isinstance(entry["summary"], str) and entry["summary"]
        assert entry["topics"] and all(isinstance(t, str) for t in entry["topics"])
        assert entry["hashtags"] and all(t.startswith("#") for t in entry["hashtags"])
        assert all(c["start"] <= c["end"] and c["title"] for c in entry["chapters"])
    hits = document["search"]
    assert 0 < len(hits) <= 10
    assert {h["video_id"] for h in hits} <= set(catalog.video_ids)
    assert [h["rank"] for h in hits] == sorted(h["rank"] for h in hits)
