"""End to end: a real Airflow retry resumes a crashed multipart upload (``airflow dags test``).

Real Airflow (a throwaway AIRFLOW_HOME with SQLite) in a subprocess; the emulator is served on
127.0.0.1 by the test with 16 KiB chunks. The first try dies after 5 chunks; the retry must find
the session in Airflow's task state store and send only the chunks still missing (Airflow 3.3+;
below 3.3 the retry starts a new upload, which the test checks there).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import httpx
import pytest

from airflow_provider_twelvelabs.testing.emulator.config import EmulatorConfig
from airflow_provider_twelvelabs.testing.emulator.server import RunningEmulator
from tests.helpers.airflow_home import connection_env, migrated_home, run_airflow
from tests.helpers.airflow_versions import AIRFLOW_V_3_3_PLUS

pytestmark = pytest.mark.e2e

DAG_FILE = Path(__file__).resolve().parent / "dags" / "twelvelabs_multipart_retry.py"
CHUNK = 16 * 1024
TOTAL = 24


@pytest.fixture(scope="module")
def airflow_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return migrated_home(tmp_path_factory.mktemp("airflow"), dags=DAG_FILE)


@pytest.fixture
def twelvelabs_emulator_config() -> EmulatorConfig:
    return EmulatorConfig(chunk_size=CHUNK, initial_presigned_urls=4)


@pytest.fixture
def emulator(airflow_env: dict[str, str], twelvelabs_emulator: RunningEmulator) -> RunningEmulator:
    running = twelvelabs_emulator
    airflow_env.update(connection_env(running))
    return running


def test_a_retry_resumes_the_multipart_upload_of_the_crashed_try(
    airflow_env: dict[str, str], emulator: RunningEmulator, tmp_path: Path
) -> None:
    source = tmp_path / "master.mp4"
    data = b"".join(hashlib.sha256(i.to_bytes(4, "big")).digest() * (CHUNK // 32) for i in range(TOTAL))
    source.write_bytes(data)

    run = run_airflow(
        airflow_env, "dags", "test", "twelvelabs_multipart_retry", "-c", json.dumps({"source": str(source)})
    )

    logs = run.stdout + run.stderr
    assert run.returncode == 0, logs[-5000:]
    assert "state=success" in logs, logs[-5000:]
    assert "simulated worker crash after 5 chunks" in logs
    assert emulator.api_key not in logs and "sig=" not in logs
    entries = httpx.get(f"{emulator.url}/_emulator/requests").json()["data"]
    sessions = [e for e in entries if e["method"] == "POST" and e["path"] == "/v1.3/assets/multipart-uploads"]
    puts = [e for e in entries if e["method"] == "PUT"]
    if AIRFLOW_V_3_3_PLUS:
        assert "Resuming multipart upload" in logs
        assert len(sessions) == 1
        # The chunks the first try had reported were not sent again.
        assert TOTAL <= len(puts) <= TOTAL + 2
    else:
        # Below Airflow 3.3 there is no task state store to keep the session in: the retry starts
        # a new upload and sends every chunk again (docs/compatibility.md).
        assert "Resuming multipart upload" not in logs
        assert len(sessions) == 2
        assert len(puts) >= TOTAL + 5
    asset_reads = {
        e["path"].rsplit("/", 1)[-1]
        for e in entries
        if e["method"] == "GET" and e["path"].startswith("/v1.3/assets/") and "multipart" not in e["path"]
    }
    assert len(asset_reads) == 1
    stored = httpx.get(f"{emulator.url}/_emulator/assets/{asset_reads.pop()}").json()
    assert stored["md5"] == hashlib.md5(data).hexdigest()
