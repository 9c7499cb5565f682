"""End to end: the nightly archive DAG run three times with ``airflow dags test``, then the search DAG.

Real Airflow in subprocesses (throwaway AIRFLOW_HOMEs with SQLite: the second run's home is a new
one, standing for a wiped metadata database), the emulator served from this process on 127.0.0.1:

1. the first run over the three samples catalogues them: one row per file, with the file's SHA-256,
   assets that exist, an embeddings file, in JSON Lines and Parquet, daily and cumulative;
2. the second run processes 0 new files: not one create (POST) request reaches the emulator, the
   catalog keeps its rows;
3. a fourth file (a sample with changed bytes) is added: the third run processes exactly that file;
4. ``twelvelabs_catalog_search`` runs the saved searches over the index and writes the hits.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest

from airflow_provider_twelvelabs.hooks.twelvelabs import TwelveLabsHook
from airflow_provider_twelvelabs.testing.emulator.config import EmulatorConfig
from airflow_provider_twelvelabs.testing.emulator.server import RunningEmulator
from tests.helpers.airflow_home import airflow_env, airflow_ok

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
MEDIA = ROOT / "example_dags" / "media"
DAG_ID = "twelvelabs_media_archive"
SEARCH_DAG_ID = "twelvelabs_catalog_search"
API_KEY = "tlk_E2E_ARCHIVE_7d2e91c0"
FIELDS = {
    "source",
    "sha256",
    "size",
    "asset_id",
    "indexed_asset_id",
    "index_id",
    "title",
    "topics",
    "hashtags",
    "summary",
    "chapters",
    "embeddings_path",
    "catalogued_on",
}


@pytest.fixture
def twelvelabs_emulator_config() -> EmulatorConfig:
    return EmulatorConfig(api_key=API_KEY)


def _env(home: Path, emulator: RunningEmulator) -> dict[str, str]:
    # The emulator moves a resource on at each poll: poll briskly.
    return airflow_env(
        home, dags=ROOT / "example_dags", emulator=emulator, TWELVELABS_EXAMPLE_POLL_INTERVAL="0.2"
    )


def _airflow(env: dict[str, str], *args: str) -> str:
    output = airflow_ok(env, *args, timeout=400, cwd=ROOT)
    assert API_KEY not in output
    return output


class Run:
    """One finished ``airflow dags test`` run: its database and run id."""

    def __init__(self, db: Path, run_id: str) -> None:
        self.db = db
        self.run_id = run_id

    def states(self) -> dict[str, set[str]]:
        """The states of each task of the run (of all its mapped instances)."""
        states: dict[str, set[str]] = {}
        sql = "SELECT task_id, state FROM task_instance WHERE run_id = ?"
        for task_id, state in _rows(self.db, sql, self.run_id):
            states.setdefault(task_id, set()).add(state)
        return states

    def summary(self) -> dict[str, Any]:
        """What the run's write_catalog task returned."""
        sql = "SELECT value FROM xcom WHERE run_id = ? AND task_id = 'write_catalog' AND key = 'return_value'"
        ((value,),) = _rows(self.db, sql, self.run_id)
        summary: dict[str, Any] = json.loads(value)
        return summary


def _run(home: Path, emulator: RunningEmulator, dag_id: str, conf: dict[str, Any]) -> Run:
    """Run ``dag_id`` in the Airflow home ``home`` (made when new) and check that the run succeeded."""
    env = _env(home, emulator)
    db = home / "airflow.db"
    if not db.exists():
        _airflow(env, "db", "migrate")
    _airflow(env, "dags", "test", dag_id, "-c", json.dumps(conf))
    sql = "SELECT run_id, state FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1"
    ((run_id, state),) = _rows(db, sql, dag_id)
    assert state == "success"
    return Run(db, run_id)


def _rows(db: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return list(conn.execute(sql, params))


def _posts(emulator: RunningEmulator) -> list[str]:
    log = httpx.get(f"{emulator.url}/_emulator/requests").json()["data"]
    return [entry["path"].removeprefix("/v1.3") for entry in log if entry["method"] == "POST"]


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _parquet(path: Path) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    rows: list[dict[str, Any]] = pq.read_table(path).to_pylist()
    return rows


def _changed_copy(sample: Path, target: Path) -> Path:
    """A copy of ``sample`` with one byte of its media data changed: still a valid MP4, other content."""
    data = bytearray(sample.read_bytes())
    payload = data.index(b"mdat") + 4 + 100
    data[payload] ^= 0xFF
    target.write_bytes(bytes(data))
    return target


def _check_rows(rows: list[dict[str, Any]], files: list[Path], hook: TwelveLabsHook, index_id: str) -> None:
    by_source = {row["source"]: row for row in rows}
    assert sorted(by_source) == sorted(f.as_uri() for f in files)
    for file in files:
        row = by_source[file.as_uri()]
        assert set(row) == FIELDS
        assert row["sha256"] == hashlib.sha256(file.read_bytes()).hexdigest()
        assert row["size"] == file.stat().st_size
        assert row["index_id"] == index_id
        asset = hook.get_asset(row["asset_id"])
        assert asset.status == "ready"
        indexed = hook.get_indexed_asset(index_id, row["indexed_asset_id"])
        assert indexed.status == "ready" and indexed.asset_id == row["asset_id"]
        assert (indexed.user_metadata or {})["twelvelabs_sha256"] == row["sha256"]
        assert isinstance(row["title"], str) and row["title"]
        assert isinstance(row["summary"], str) and row["summary"]
        assert row["topics"] and all(isinstance(t, str) for t in row["topics"])
        assert row["hashtags"] and all(t.startswith("#") for t in row["hashtags"])
        assert row["chapters"] and all(c["start"] <= c["end"] and c["title"] for c in row["chapters"])
        embeddings = _jsonl(Path(row["embeddings_path"].removeprefix("file://")))
        assert embeddings and all(len(e["embedding"]) > 0 for e in embeddings)
        assert {e["embedding_scope"] for e in embeddings} == {"clip", "asset"}


def test_the_archive_processes_only_new_files_and_the_search_dag_reads_its_index(
    twelvelabs_connection: RunningEmulator, tmp_path: Path
) -> None:
    emulator = twelvelabs_connection
    source = tmp_path / "media"
    source.mkdir()
    files = [Path(shutil.copy(sample, source)) for sample in sorted(MEDIA.glob("*.mp4"))]
    assert len(files) == 3
    out = tmp_path / "out"
    conf = {"source": str(source), "index_name": "e2e-media-archive", "output_path": str(out)}

    # 1. Everything is new.
    run = _run(tmp_path / "first", emulator, DAG_ID, conf)
    first = run.summary()
    assert (first["new_files"], first["done_files"], first["catalog_rows"]) == (3, 0, 3)
    posts = _posts(emulator)
    assert posts.count("/assets") == 3
    assert posts.count("/analyze/batches") == 1
    assert posts.count("/embed-v2/tasks") == 3
    cumulative = _jsonl(out / "catalog.jsonl")
    (day,) = [p for p in out.iterdir() if p.is_dir() and p.name[:2] == "20"]
    assert sorted(r["source"] for r in _jsonl(day / "catalog.jsonl")) == sorted(f.as_uri() for f in files)
    assert _parquet(out / "catalog.parquet") == cumulative
    assert _parquet(day / "catalog.parquet") == _jsonl(day / "catalog.jsonl")
    with TwelveLabsHook() as hook:
        (index,) = [i for i in hook.list_indexes() if i.index_name == "e2e-media-archive"]
        _check_rows(cumulative, files, hook, index.id)
    # The catalog Asset was updated, and its event says where the catalog is and what it holds.
    sql = (
        "SELECT e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id "
        "WHERE a.uri = 'twelvelabs-catalog://media-archive/catalog' AND e.source_run_id = ?"
    )
    ((extra,),) = _rows(run.db, sql, run.run_id)
    event = json.loads(extra)
    assert (event["index_id"], event["new_files"], event["catalog_rows"]) == (index.id, 3, 3)
    assert event["catalog"] == (out / "catalog.jsonl").as_uri()

    # 2. Nothing is new: the plan maps over 0 files, no create request, the catalog is unchanged.
    # Another Airflow home: the metadata database of the first run is gone (TwelveLabs is the truth).
    mark = len(_posts(emulator))
    run = _run(tmp_path / "second", emulator, DAG_ID, conf)
    second = run.summary()
    assert (second["new_files"], second["done_files"], second["catalog_rows"]) == (0, 3, 3)
    assert _posts(emulator)[mark:] == []
    states = run.states()
    assert states["upload"] == states["index"] == states["embed"] == states["analyze"] == {"skipped"}
    assert states["write_catalog"] == {"success"}
    assert _jsonl(out / "catalog.jsonl") == cumulative

    # 3. One file more, a sample with other bytes: exactly that one is processed.
    added = _changed_copy(files[0], source / "zz_changed_copy.mp4")
    mark = len(_posts(emulator))
    run = _run(tmp_path / "second", emulator, DAG_ID, conf)
    third = run.summary()
    assert (third["new_files"], third["done_files"], third["catalog_rows"]) == (1, 3, 4)
    posts = _posts(emulator)[mark:]
    assert posts.count("/assets") == 1
    assert sum(1 for p in posts if p.endswith("/indexed-assets")) == 1
    assert posts.count("/embed-v2/tasks") == 1
    assert posts.count("/analyze/batches") == 1
    grown = _jsonl(out / "catalog.jsonl")
    assert len(grown) == 4
    assert [r for r in grown if r["source"] != added.as_uri()] == cumulative
    assert _parquet(out / "catalog.parquet") == grown
    with TwelveLabsHook() as hook:
        _check_rows(grown, [*files, added], hook, index.id)

    # 4. The saved searches over the index, started by hand (no asset event: found by name).
    queries = ["colour bars", "a fractal zoom"]
    search_conf = {"queries": queries, "index_name": "e2e-media-archive", "output_path": str(out)}
    mark = len(_posts(emulator))
    _run(tmp_path / "second", emulator, SEARCH_DAG_ID, search_conf)
    assert _posts(emulator)[mark:] == ["/search", "/search"]
    (hits_file,) = (out / "searches").glob("*/hits.jsonl")
    hits = _jsonl(hits_file)
    assert {h["query"] for h in hits} == set(queries)
    assert {h["video_id"] for h in hits} <= {r["indexed_asset_id"] for r in grown}
