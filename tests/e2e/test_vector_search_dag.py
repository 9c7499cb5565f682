"""End to end: ``airflow dags test`` runs the vector search example DAG against the emulator.

Real Airflow (a throwaway AIRFLOW_HOME with SQLite) in a subprocess; the emulator is served on
127.0.0.1 by the test. The emulator's vectors are seeded by a hash of their input, so a text and a
video share no meaning: the test checks what such vectors can show. The DAG's hits are exactly the
nearest segments by cosine similarity to the query's vector, computed here from the Parquet files
by brute force, each with its video and time range; and querying the LanceDB table the DAG built
with a stored segment's own vector returns that segment first.
"""

from __future__ import annotations

import importlib.util
import json
import math
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from airflow_provider_twelvelabs.hooks.twelvelabs import TwelveLabsHook
from airflow_provider_twelvelabs.testing.emulator.server import RunningEmulator, serve_emulator
from tests.helpers.airflow_home import connection_env, migrated_home, run_airflow

pytest.importorskip(
    "lancedb", reason="lancedb is not installed: it comes with the provider's optional 'vector' extra"
)
pq = pytest.importorskip("pyarrow.parquet", reason="pyarrow is not installed (the 'vector' extra)")

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
DAG_FILE = ROOT / "example_dags" / "twelvelabs_vector_search.py"
DAG_ID = "twelvelabs_vector_search"
VIDEOS = [
    "https://media.test/archive/keynote.mp4?duration=40",
    "https://media.test/archive/launch.mp4?duration=31",
    "https://media.test/archive/interview.mp4?duration=25",
]
QUERY = "a red car drives along the coast at sunset"


@pytest.fixture(scope="module")
def airflow_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """An Airflow home with a migrated SQLite database and the DAG under test."""
    home = tmp_path_factory.mktemp("airflow")
    return migrated_home(home, dags=DAG_FILE, timeout=240, TWELVELABS_EXAMPLE_POLL_INTERVAL="0.1")


@pytest.fixture
def emulator(airflow_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningEmulator]:
    with serve_emulator() as running:
        connection = connection_env(running)
        airflow_env.update(connection)
        for name, value in connection.items():
            monkeypatch.setenv(name, value)
        yield running


@pytest.fixture(scope="module")
def dag_module() -> ModuleType:
    """The example DAG file as a module, for the search function its ``search`` task runs."""
    spec = importlib.util.spec_from_file_location("twelvelabs_vector_search_example", DAG_FILE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def returned(env: dict[str, str], task_id: str) -> Any:
    """The return value (XCom) of ``task_id`` in the DAG's only run, as the Airflow UI shows it."""
    with sqlite3.connect(Path(env["AIRFLOW_HOME"]) / "airflow.db") as db:
        rows = db.execute(
            "SELECT value FROM xcom WHERE dag_id = ? AND task_id = ? AND key = 'return_value'",
            (DAG_ID, task_id),
        ).fetchall()
    assert len(rows) == 1, rows
    value = rows[0][0]
    return json.loads(value) if isinstance(value, str | bytes) else value


def cosine(a: list[float], b: list[float]) -> float:
    dot = math.fsum(x * y for x, y in zip(a, b, strict=True))
    return dot / math.sqrt(math.fsum(x * x for x in a)) / math.sqrt(math.fsum(y * y for y in b))


def segment_key(row: dict[str, Any]) -> tuple[str, str, float, float]:
    return (row["url"], row["embedding_option"], row["start_sec"], row["end_sec"])


def test_the_dag_loads_every_segment_and_returns_the_k_nearest(airflow_env, emulator, dag_module, tmp_path):
    out_dir = tmp_path / "out"
    conf = {"videos": VIDEOS, "output_dir": str(out_dir), "query": QUERY, "k": 4}
    run = run_airflow(airflow_env, "dags", "test", DAG_ID, "-c", json.dumps(conf), timeout=240)
    logs = run.stdout + run.stderr
    assert run.returncode == 0, logs[-5000:]
    assert "state=success" in logs, logs[-5000:]
    assert logs.count("Pausing task as DEFERRED") == len(VIDEOS)
    assert emulator.api_key not in logs

    # Every row the embedding tasks wrote is in the LanceDB table.
    rows = [
        row
        for path in sorted(out_dir.glob("*/embeddings/*.parquet"))
        for row in pq.read_table(path).to_pylist()
    ]
    store = returned(airflow_env, "load")
    assert store["rows"] == len(rows) > 3 * len(VIDEOS)
    assert Path(store["uri"]).is_dir() and Path(store["uri"]).is_relative_to(out_dir)
    stored_urls = {row["url"] for row in rows}
    assert stored_urls == {url.split("?")[0] + "?<redacted>" for url in VIDEOS}

    # The hits are the k segments nearest to the query's vector, best first.
    with TwelveLabsHook() as hook:
        answer = hook.create_embedding(
            {"input_type": "text", "model_name": "marengo3.0", "text": {"input_text": QUERY}}
        )
    (query,) = answer.data
    by_score = sorted(rows, key=lambda row: -cosine(query.embedding, row["embedding"]))
    hits = returned(airflow_env, "search")
    assert [segment_key(hit) for hit in hits] == [segment_key(row) for row in by_score[:4]]
    for hit, row in zip(hits, by_score, strict=False):
        assert hit["video"] == row["url"] and hit["asset_id"] is None
        assert 0 <= hit["start_sec"] < hit["end_sec"]
        # Vectors are stored as float32: the score matches to about 1e-6.
        assert hit["score"] == pytest.approx(cosine(query.embedding, row["embedding"]), abs=1e-5)

    # A stored segment's own vector finds that segment first, in every video.
    for url in sorted(stored_urls):
        row = next(r for r in reversed(rows) if r["url"] == url)
        first, *others = dag_module.nearest_segments(store["uri"], row["embedding"], 3)
        assert segment_key(first) == segment_key(row)
        assert first["score"] == pytest.approx(1.0, abs=1e-5)
        assert all(other["score"] < 0.5 for other in others)
