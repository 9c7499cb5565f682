"""End to end: `airflow dags test` of the example DAG over the sample media, against the emulator.

Real Airflow in a subprocess (throwaway AIRFLOW_HOME, SQLite), the emulator served from this
process on 127.0.0.1, every wait deferred to the trigger (which `dags test` runs in line).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest

from airflow_provider_twelvelabs.hooks.twelvelabs import TwelveLabsHook
from airflow_provider_twelvelabs.links import index_url, video_url
from airflow_provider_twelvelabs.testing.emulator.config import EmulatorConfig
from airflow_provider_twelvelabs.testing.emulator.server import RunningEmulator
from tests.helpers.airflow_home import migrated_home, run_airflow

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
MEDIA = ROOT / "example_dags" / "media"
SAMPLES = sorted(path.name for path in MEDIA.glob("*.mp4"))
DAG_ID = "twelvelabs_index_archive"
API_KEY = "tlk_E2E_SECRET_3c1f9b0d7a"


@pytest.fixture
def twelvelabs_emulator_config() -> EmulatorConfig:
    return EmulatorConfig(api_key=API_KEY)


@pytest.fixture
def emulator(twelvelabs_connection: RunningEmulator) -> RunningEmulator:
    return twelvelabs_connection


def _migrated_home(home: Path, emulator: RunningEmulator) -> dict[str, str]:
    # The emulator moves a resource on at each poll: poll briskly.
    return migrated_home(
        home,
        dags=ROOT / "example_dags",
        emulator=emulator,
        timeout=120,
        TWELVELABS_EXAMPLE_POLL_INTERVAL="0.2",
    )


def _rows(db: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return list(conn.execute(sql, params))


def _xcom(db: Path, task_id: str, key: str) -> dict[int, Any]:
    rows = _rows(
        db,
        "SELECT map_index, value FROM xcom WHERE dag_id = ? AND task_id = ? AND key = ?",
        DAG_ID,
        task_id,
        key,
    )
    return {map_index: json.loads(value) for map_index, value in rows}


def test_example_dag_indexes_the_sample_media(emulator: RunningEmulator, tmp_path: Path) -> None:
    assert len(SAMPLES) == 3
    home = tmp_path / "airflow"
    env = _migrated_home(home, emulator)

    conf = json.dumps({"source": str(MEDIA), "index_name": "e2e-archive"})
    result = run_airflow(env, "dags", "test", DAG_ID, "-c", conf, cwd=ROOT)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    assert API_KEY not in output

    db = home / "airflow.db"
    assert _rows(db, "SELECT state FROM dag_run WHERE dag_id = ?", DAG_ID) == [("success",)]
    states = _rows(db, "SELECT task_id, map_index, state FROM task_instance WHERE dag_id = ?", DAG_ID)
    assert {state for *_, state in states} == {"success"}, states
    assert sorted(m for t, m, _ in states if t == "index") == [0, 1, 2]
    assert sorted(m for t, m, _ in states if t == "upload") == [0, 1, 2]
    # Every indexing wait went through the trigger: the task deferred and resumed.
    assert output.count("Pausing task as DEFERRED") >= 3

    # What the emulator holds: one index, one ready indexed asset per sample file.
    with TwelveLabsHook() as hook:
        (index,) = [i for i in hook.list_indexes(index_name="e2e-archive") if i.index_name == "e2e-archive"]
        indexed = list(hook.list_indexed_assets(index.id))
        files = sorted((item.system_metadata or {}).get("filename") for item in indexed)
        assert files == SAMPLES
        assert {item.status for item in indexed} == {"ready"}

    # The XComs: ids, the report, and the links the worker rendered.
    assert _xcom(db, "create_index", "return_value") == {-1: index.id}
    indexed_ids = _xcom(db, "index", "return_value")
    assert sorted(indexed_ids.values()) == sorted(item.id for item in indexed)
    (report,) = _xcom(db, "report", "return_value").values()
    assert sorted(row["file"] for row in report) == SAMPLES
    assert {row["status"] for row in report} == {"ready"}
    assert _xcom(db, "create_index", "_link_TwelveLabsIndexLink") == {-1: index_url(index.id)}
    video_links = _xcom(db, "index", "_link_TwelveLabsVideoLink")
    assert video_links == {m: video_url(index.id, indexed_ids[m]) for m in indexed_ids}


def _creates(emulator: RunningEmulator) -> dict[str, int]:
    """How many assets, multipart sessions and indexed assets the emulator was asked to create."""
    log = httpx.get(f"{emulator.url}/_emulator/requests").json()["data"]
    posts = [entry["path"] for entry in log if entry["method"] == "POST"]
    return {
        "assets": sum(1 for path in posts if path.endswith("/assets")),
        "multipart": sum(1 for path in posts if path.endswith("/assets/multipart-uploads")),
        "indexed_assets": sum(1 for path in posts if path.endswith("/indexed-assets")),
    }


def test_a_second_run_of_the_example_dag_creates_nothing(emulator: RunningEmulator, tmp_path: Path) -> None:
    conf = json.dumps({"source": str(MEDIA), "index_name": "e2e-incremental"})
    outputs = []
    # Each run gets its own Airflow home: the second one also stands for a wiped metadata database.
    for run in ("first", "second"):
        home = tmp_path / run
        env = _migrated_home(home, emulator)
        result = run_airflow(env, "dags", "test", DAG_ID, "-c", conf, cwd=ROOT)
        output = result.stdout + result.stderr
        assert result.returncode == 0, output[-5000:]
        assert _rows(home / "airflow.db", "SELECT state FROM dag_run WHERE dag_id = ?", DAG_ID) == [
            ("success",)
        ]
        outputs.append(output)
        if run == "first":
            after_first = _creates(emulator)
            assert after_first["assets"] + after_first["multipart"] == len(SAMPLES)
            assert after_first["indexed_assets"] == len(SAMPLES)

    assert _creates(emulator) == after_first
    assert outputs[1].count("reusing it, nothing uploaded") == len(SAMPLES)
    with TwelveLabsHook() as hook:
        assert len(list(hook.list_assets())) == len(SAMPLES)
        (index,) = [
            i for i in hook.list_indexes(index_name="e2e-incremental") if i.index_name == "e2e-incremental"
        ]
        assert len(list(hook.list_indexed_assets(index.id))) == len(SAMPLES)
