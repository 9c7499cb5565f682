"""Proof under faults (issue 13): API faults, rate limits, killed workers and triggerers, no secret leaked.

The DAGs are in ``dags/twelvelabs_reliability.py``. Two kinds of deployment, both real Airflow
against the emulator over HTTP on 127.0.0.1:

* the archive pipeline runs with ``airflow dags test`` (one process, its own Airflow home), once
  under API faults over 32 files and once under a low rate limit over 200 files;
* the killed-worker and killed-triggerer scenarios run on one throwaway distributed deployment
  shared by the module (``airflow_stack``): a PostgreSQL metadata database, the CeleryExecutor
  with a Redis broker and two Celery workers of 4 slots, the api-server, scheduler and
  dag-processor, and the triggerers the triggerer test starts. A killed-worker test SIGKILLs the
  whole ``airflow celery worker`` running the task (the worker, its pool processes, the task
  supervisor and the task runner) once the operator is halfway through a multipart upload, or has
  created an analyze batch or an embedding task, and starts a replacement worker; the scheduler
  fails the orphaned try once its heartbeat is ``HEARTBEAT_TIMEOUT`` old and Airflow retries it.
  The emulator's request log then shows what the retry re-sent or re-created.

The last test searches everything these runs left (task logs, service logs, XComs and rendered
template fields served by the REST API, trigger kwargs, the whole PostgreSQL metadata database as
``pg_dump`` writes it, the SQLite databases of the ``dags test`` runs, the OpenLineage events) for
the API key and for every presigned-URL signature the emulators issued, after showing that it finds
a secret planted in the database.

Each test prints one ``FIGURES`` line, the numbers docs/reliability.md reports.
"""

from __future__ import annotations

import hashlib
import json
import re
import signal
import sqlite3
import struct
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from airflow_provider_twelvelabs.testing.dag_test import DagTestResult, run_dag_test
from airflow_provider_twelvelabs.testing.emulator.process import EmulatorProcess
from airflow_provider_twelvelabs.testing.pytest_plugin import connection_variable
from tests.e2e.airflow_stack import AIRFLOW, MEDIA, Stack, Topology, airflow_stack, gone
from tests.e2e.services import pg_dump

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

DAG_FILE = Path(__file__).resolve().parent / "dags" / "twelvelabs_reliability.py"
API_KEY = "tlk_E2E_RELIABILITY_7c41d9e05a"
SAMPLE = MEDIA / "smptebars_480x360.mp4"
#: The emulator's multipart chunk size in these tests (the API's is 5 MiB): small files, many chunks.
CHUNK_SIZE = 16 * 1024
#: The pipeline DAG's multipart threshold (see the DAG file).
MULTIPART_THRESHOLD = 400_000
MULTIPART = ("POST", "/v1.3/assets/multipart-uploads")
BATCH_CREATE = ("POST", "/v1.3/analyze/batches")
TRIGGER_CLASSPATH = "airflow_provider_twelvelabs.triggers.twelvelabs.TwelveLabsResourceTrigger"

#: The DAGs the shared deployment runs.
STACK_DAGS = (
    "reliability_killed_upload",
    "reliability_killed_batch",
    "reliability_killed_embedding",
    "reliability_triggerers",
)
#: The shared deployment's Celery workers, and the slots of each.
WORKERS = 2
WORKER_SLOTS = 4
#: The scheduler fails a running task instance whose last heartbeat is older than this (seconds).
HEARTBEAT_TIMEOUT = 12
#: A made-up secret the secrets test plants in the metadata database, to show its search finds one.
CANARY = "tlk_E2E_PLANTED_CANARY_5e0b13"

#: Every presigned-URL signature an emulator of this module issued (read from its request log).
SIGNATURES: set[str] = set()
#: Airflow homes and other folders the secrets scan reads.
SCANNED: list[Path] = []
#: The trigger rows' kwargs as the metadata database held them while the waits were deferred.
TRIGGER_ROWS: list[str] = []


def make_media(folder: Path, count: int, *, large_every: int = 0) -> list[Path]:
    """Write ``count`` distinct, valid MP4 files: a sample video plus a ``free`` box of its own.

    Every ``large_every``-th file (if set) is padded above the multipart threshold.
    """
    folder.mkdir(parents=True, exist_ok=True)
    video = SAMPLE.read_bytes()
    paths = []
    for number in range(count):
        payload = f"reliability file {number}\n".encode()
        if large_every and number % large_every == 0:
            payload += bytes(MULTIPART_THRESHOLD - len(video) + 40_000 + number)
        path = folder / f"clip_{number:03d}.mp4"
        path.write_bytes(video + struct.pack(">I", 8 + len(payload)) + b"free" + payload)
        paths.append(path)
    return paths


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def figures(name: str, **values: Any) -> None:
    """Print the figures of a scenario (docs/reliability.md is filled from these lines)."""
    print(f"FIGURES {name} {json.dumps(values, sort_keys=True)}")


def collect_signatures(log: list[dict[str, Any]]) -> None:
    for entry in log:
        if entry["path"].startswith("/_presigned/"):
            SIGNATURES.update(re.findall(r"sig=([0-9a-fA-F]+)", entry.get("query") or ""))


class Emulator:
    """Reads of one emulator's list and control endpoints."""

    def __init__(self, base_url: str, api_key: str) -> None:
        self.base_url = base_url
        self.root = base_url.rsplit("/v1.3", 1)[0]
        self.client = httpx.Client(headers={"x-api-key": api_key}, timeout=30)

    def pages(self, path: str, **params: Any) -> list[dict[str, Any]]:
        """Every item of a paginated list endpoint."""
        items: list[dict[str, Any]] = []
        page = 1
        while True:
            answer = self.client.get(
                f"{self.base_url}{path}", params={**params, "page": page, "page_limit": 50}
            )
            answer.raise_for_status()
            body = answer.json()
            items += body["data"]
            if page >= body["page_info"]["total_page"]:
                return items
            page += 1

    def stored(self, asset_id: str) -> dict[str, Any]:
        answer = self.client.get(f"{self.root}/_emulator/assets/{asset_id}")
        answer.raise_for_status()
        return dict(answer.json())

    def log(self) -> list[dict[str, Any]]:
        answer = self.client.get(f"{self.root}/_emulator/requests")
        answer.raise_for_status()
        return list(answer.json()["data"])


def run_pipeline(
    work: Path, name: str, emulator: EmulatorProcess, files: list[Path], *, deferrable: bool = True
) -> tuple[DagTestResult, Path]:
    output = work / f"{name}-output"
    output.mkdir()
    home = work / f"{name}-home"
    SCANNED.append(home)
    result = run_dag_test(
        DAG_FILE,
        base_url=emulator.base_url,
        api_key=API_KEY,
        dag_id="reliability_pipeline",
        conf={"source": str(files[0].parent), "index_name": name, "output_path": str(output)},
        home=home,
        extra_env={
            "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
                {"type": "file", "log_file_path": str(home / "openlineage.jsonl"), "append": True}
            ),
            "AIRFLOW__OPENLINEAGE__NAMESPACE": "reliability",
            "TWELVELABS_E2E_MULTIPART_THRESHOLD": str(MULTIPART_THRESHOLD),
            "TWELVELABS_E2E_DEFERRABLE": str(deferrable).lower(),
        },
        timeout=600,
    )
    return result, output


def check_archive(api: Emulator, files: list[Path], output: Path, index_name: str) -> dict[str, Any]:
    """One asset and one indexed asset per file, the right bytes, one catalog row per file."""
    by_name = {path.name: path for path in files}
    assets = api.pages("/assets")
    names = Counter(asset["filename"] for asset in assets)
    assert names == Counter(list(by_name)), f"assets per file: {names - Counter(list(by_name))} extra"
    verified = 0
    for asset in assets:
        assert asset["status"] == "ready", asset
        stored = api.stored(asset["_id"])
        source = by_name[asset["filename"]]
        assert (stored["size"], stored["md5"]) == (source.stat().st_size, md5(source)), asset["filename"]
        verified += stored["size"]
    (index,) = [i for i in api.pages("/indexes") if i["index_name"] == index_name]
    indexed = api.pages(f"/indexes/{index['_id']}/indexed-assets")
    indexed_assets = Counter(item["asset_id"] for item in indexed)
    assert len(indexed) == len(files), f"{len(indexed)} indexed assets for {len(files)} files"
    assert {item["status"] for item in indexed} == {"ready"}
    assert max(indexed_assets.values()) == 1, indexed_assets.most_common(3)
    assert set(indexed_assets) == {asset["_id"] for asset in assets}

    rows = [json.loads(line) for line in (output / "catalog.jsonl").read_text().splitlines()]
    assert Counter(Path(row["source"]).name for row in rows) == Counter(list(by_name))
    asset_ids = {asset["filename"]: asset["_id"] for asset in assets}
    assert {Path(row["source"]).name: row["asset_id"] for row in rows} == asset_ids
    assert {row["indexed_asset_id"] for row in rows} == {item["_id"] for item in indexed}
    return {"assets": len(assets), "indexed": len(indexed), "rows": rows, "bytes_verified": verified}


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("reliability")


# -- 1. API faults ------------------------------------------------------------------------------------


def test_the_pipeline_survives_api_faults(work: Path) -> None:
    files = make_media(work / "faults-media", 32, large_every=8)
    large = [path for path in files if path.stat().st_size > MULTIPART_THRESHOLD]
    assert len(large) == 4 and all(path.stat().st_size // CHUNK_SIZE >= 20 for path in large)
    faults = {
        "fault_rate": 0.15,
        "fault_statuses": [429, 500, 502, 503],
        "drop_rate": 0.03,
        "chunk_failure_rate": 0.10,
        "early_expiry_rate": 0.10,
        "analyze_batch_item_failure_rate": 0.05,
    }
    started = time.monotonic()
    with EmulatorProcess(
        api_key=API_KEY, chunk_size=CHUNK_SIZE, polls_per_step=0, step_seconds=0.05, seed=13
    ) as emulator:
        emulator.configure(**faults)
        result, output = run_pipeline(work, "faults", emulator, files)
        emulator.configure(fault_rate=0, drop_rate=0, chunk_failure_rate=0, early_expiry_rate=0)
        api = Emulator(emulator.base_url, API_KEY)
        log = api.log()
        collect_signatures(log)
        assert result.succeeded, result.report()
        archive = check_archive(api, files, output, "faults")

    # What the faults did, from the request log.
    injected = Counter(str(entry["fault"]) for entry in log if "fault" in entry)
    chunk_puts = [entry for entry in log if entry["path"].startswith("/_presigned/")]
    failed_chunks = [entry for entry in chunk_puts if entry["status"] != 200]
    assert injected["dropped"] > 0 and sum(injected.values()) > injected["dropped"], injected
    assert failed_chunks, "no chunk PUT failed: the fault switches did not apply"
    assert sum(
        1 for entry in log if (entry["method"], entry["path"]) == MULTIPART and entry["status"] == 201
    ) == len(large)

    # The partial-failure policy: the batch's failed items (5%, chosen by the seed) do not fail the
    # run (up to a quarter may), and their catalog rows say they were not analysed.
    manifest = result.returns["analyze"]
    rows = archive["rows"]
    failed = [row for row in rows if row["analysis_status"] != "ready"]
    assert len(failed) == sum(v for k, v in manifest["statuses"].items() if k != "ready"), manifest
    assert all(row["analysis"] for row in rows if row["analysis_status"] == "ready")
    assert result.returns["catalog"]["rows"] == len(files)
    retried = sorted(f"{t.task_id}[{t.map_index}]" for t in result.tasks if t.try_number > 1)
    figures(
        "api_faults",
        files=len(files),
        multipart_files=len(large),
        api_calls=sum(1 for entry in log if entry["path"].startswith("/v1.3/")),
        faults_injected=dict(injected),
        chunk_puts=len(chunk_puts),
        chunk_puts_failed=len(failed_chunks),
        task_retries=len(retried),
        analysis_failed_items=len(failed),
        assets=archive["assets"],
        indexed_assets=archive["indexed"],
        catalog_rows=len(rows),
        bytes_verified=archive["bytes_verified"],
        seconds=round(time.monotonic() - started, 1),
    )


# -- 6. Rate limits -----------------------------------------------------------------------------------


def test_the_pipeline_stays_under_a_low_rate_limit(work: Path) -> None:
    files = make_media(work / "rate-media", 200)
    # The creates' bucket is limited below the pace the DAG would go at (so the limit binds); the
    # bucket of reads and uploads, which takes about 7 calls per file, is limited too, above that pace
    # (at 120 a minute it alone would make this run last 12 minutes).
    limits = {"indexing": 60, "analyze": 60, "embed": 60, "search": 60, "other": 600}
    started = time.monotonic()
    with EmulatorProcess(
        api_key=API_KEY, chunk_size=CHUNK_SIZE, polls_per_step=0, step_seconds=0.05
    ) as emulator:
        emulator.configure(rate_limits=limits)
        result, output = run_pipeline(work, "rate", emulator, files, deferrable=False)
        api = Emulator(emulator.base_url, API_KEY)
        log = api.log()
        collect_signatures(log)
        emulator.configure(rate_limits={})
        assert result.succeeded, result.report()
        archive = check_archive(api, files, output, "rate")

    calls = [entry for entry in log if entry["path"].startswith("/v1.3/")]
    limited = [entry for entry in calls if entry["status"] == 429]
    per_minute = Counter((entry["bucket"], entry["time"][:16]) for entry in calls)
    busiest = {bucket: max(n for (b, _), n in per_minute.items() if b == bucket) for bucket, _ in per_minute}
    assert len(limited) < 0.01 * len(calls), f"{len(limited)} of {len(calls)} calls answered 429"
    assert all(task.try_number == 1 for task in result.tasks), [t for t in result.tasks if t.try_number > 1]
    figures(
        "rate_limits",
        files=len(files),
        limits=limits,
        api_calls=len(calls),
        answered_429=len(limited),
        busiest_minute=busiest,
        assets=archive["assets"],
        indexed_assets=archive["indexed"],
        catalog_rows=len(archive["rows"]),
        bytes_verified=archive["bytes_verified"],
        seconds=round(time.monotonic() - started, 1),
    )


# -- the shared deployment ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stack(work: Path) -> Iterator[Stack]:
    folder = work / "stack"
    folder.mkdir()
    SCANNED.append(folder)
    env = {
        "TWELVELABS_E2E_PID_FILE": str(folder / "pids.txt"),
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
            {"type": "file", "log_file_path": str(folder / "openlineage.jsonl"), "append": True}
        ),
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "reliability",
        # A killed worker's task instance stays "running" until its heartbeat is this old; the
        # scheduler then fails the try and Airflow retries it (the default is 300 s). The task
        # supervisors heartbeat every 2 s.
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(HEARTBEAT_TIMEOUT),
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "2",
        "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "2",
    }
    # step_seconds=0: nothing moves on the emulator until a test says so.
    with airflow_stack(
        folder,
        dag_file=DAG_FILE,
        dag_id="reliability_killed_upload",
        run_id="",
        api_key=API_KEY,
        step_seconds=0,
        parallelism=WORKERS * WORKER_SLOTS,
        extra_env=env,
        topology=Topology(
            database="postgres",
            executor="CeleryExecutor",
            celery_workers=WORKERS,
            worker_concurrency=WORKER_SLOTS,
            # The killed-triggerers test starts its own.
            triggerers=0,
        ),
    ) as running:
        running.wait_for(
            "the API server to serve the parsed DAGs",
            lambda: all(running.api("GET", f"/dags/{dag_id}").status_code == 200 for dag_id in STACK_DAGS),
            timeout=240,
        )
        yield running
        collect_signatures(running.requests_log())


def start_run(stack: Stack, dag_id: str, run_id: str, conf: dict[str, Any]) -> None:
    stack.dag_id, stack.run_id = dag_id, run_id
    created = stack.api(
        "POST", f"/dags/{dag_id}/dagRuns", json={"dag_run_id": run_id, "logical_date": None, "conf": conf}
    )
    assert created.status_code == 200, created.text


def finished(stack: Stack, timeout: float) -> str:
    return str(
        stack.wait_for(
            f"the DAG run {stack.run_id} to finish",
            lambda: (s := stack.dag_run_state()) in ("success", "failed") and s,
            timeout=timeout,
        )
    )


def tries(stack: Stack) -> dict[int, int]:
    """Try number -> process id, as the DAG's execute callback wrote them."""
    path = stack.tmp / "pids.txt"
    if not path.exists():
        return {}
    pairs = (line.split() for line in path.read_text().splitlines() if line.strip())
    return {int(try_number): int(pid) for try_number, pid in pairs}


def upload_assets(stack: Stack, files: list[Path]) -> list[str]:
    """Upload ``files`` straight to the emulator (test set-up, not what the DAG under test does)."""
    ids = []
    with httpx.Client(headers={"x-api-key": API_KEY}, timeout=60) as client:
        for path in files:
            with path.open("rb") as handle:
                answer = client.post(
                    f"{stack.emulator_url}/assets",
                    data={"method": "direct"},
                    files={"file": (path.name, handle, "video/mp4")},
                )
            answer.raise_for_status()
            ids.append(answer.json()["_id"])
    stack.emulator_config(step_seconds=0.2)
    stack.wait_for(
        "the set-up assets to be ready",
        lambda: all(stack.twelvelabs(f"/assets/{asset_id}")["status"] == "ready" for asset_id in ids),
        timeout=60,
        interval=0.5,
    )
    stack.emulator_config(step_seconds=0)
    return ids


def created_and_polled(stack: Stack, create: tuple[str, str], poll_prefix: str) -> int | None:
    """The first try's process id once it has created its job (``create`` answered 2xx) and polled it."""
    log = stack.requests_log()
    answered = (
        i for i, e in enumerate(log) if (e["method"], e["path"]) == create and 200 <= (e["status"] or 0) < 300
    )
    created = next(answered, None)
    polled = created is not None and any(
        e["method"] == "GET" and e["path"].startswith(poll_prefix) for e in log[created + 1 :]
    )
    return tries(stack).get(1) if polled else None


def kill_worker_running(stack: Stack, pid: int) -> dict[str, Any]:
    """SIGKILL the Celery worker whose task process is ``pid`` (the worker and all its children).

    Then start a replacement worker, as an operator would. The task instance stays ``running``
    until the scheduler sees its heartbeat stop (``HEARTBEAT_TIMEOUT``), fails the try and retries it.
    """
    worker = stack.service_running(pid)
    assert worker is not None and worker.name.startswith("worker-"), f"process {pid} is no Celery worker's"
    killed = worker.kill_tree()
    worker.retired = True
    assert pid in killed, (pid, killed)
    stack.wait_for(f"the task process {pid} to end", lambda: gone(pid), timeout=10, interval=0.1)
    number = sum(name.startswith("worker-") for name in stack.services) + 1
    stack.start_celery_worker(f"worker-{number}", WORKER_SLOTS)
    return {"worker": worker.name, "processes": len(killed), "at": time.monotonic()}


def second_try(stack: Stack, kill: dict[str, Any], task_id: str) -> float:
    """Wait for try 2 of ``task_id`` to start; check that try 1 failed; return how long after the kill."""
    stack.wait_for("a second try", lambda: 2 in tries(stack), timeout=180, interval=0.5)
    after = round(time.monotonic() - kill["at"], 1)
    first = stack.api("GET", f"/dags/{stack.dag_id}/dagRuns/{stack.run_id}/taskInstances/{task_id}/tries/1")
    first.raise_for_status()
    assert first.json()["state"] == "failed", first.json()
    return after


# -- 3. Killed workers --------------------------------------------------------------------------------


def test_a_worker_killed_halfway_through_a_multipart_upload_resumes_it(stack: Stack, work: Path) -> None:
    source = work / "killed-upload.mp4"
    video = SAMPLE.read_bytes()
    payload = b"killed upload\n" + bytes(120_000)
    source.write_bytes(video + struct.pack(">I", 8 + len(payload)) + b"free" + payload)
    total_chunks = -(-source.stat().st_size // CHUNK_SIZE)
    assert total_chunks >= 20
    concurrency = 4
    # Slow chunks, so that the test sees the upload halfway; assets are ready 0.2 s after upload.
    stack.emulator_config(chunk_size=CHUNK_SIZE, chunk_latency_ms=500, step_seconds=0.2)
    (stack.tmp / "pids.txt").write_text("")
    started = time.monotonic()
    start_run(stack, "reliability_killed_upload", "killed_upload", {"source": str(source)})

    def puts() -> list[dict[str, Any]]:
        return [
            e for e in stack.requests_log() if e["method"] == "PUT" and e["path"].startswith("/_presigned/")
        ]

    def halfway() -> int | None:
        done = {e["path"] for e in puts() if e["status"] == 200}
        return tries(stack).get(1) if len(done) >= total_chunks // 2 else None

    pid = stack.wait_for("half of the chunks to be uploaded", halfway, timeout=120, interval=0.1)
    kill = kill_worker_running(stack, pid)
    before = puts()
    stored_before = {e["path"] for e in before if e["status"] == 200}
    assert len(stored_before) < total_chunks, "the upload finished before the kill: slow the chunks down"
    kill_mark = len(before)

    stack.emulator_config(chunk_latency_ms=0)
    retry_after = second_try(stack, kill, "upload")
    state = finished(stack, timeout=180)
    ti = stack.task_instances()[("upload", -1)]
    assert state == "success", f"DAG run {state}: {ti}\n{stack.report()}"
    assert ti["try_number"] == 2, ti

    log = stack.requests_log()
    all_puts = [e for e in log if e["method"] == "PUT" and e["path"].startswith("/_presigned/")]
    chunk_of = {e["path"]: int(e["path"].rsplit("/", 1)[1]) for e in all_puts}
    first = {chunk_of[e["path"]] for e in all_puts[:kill_mark]}
    second = {chunk_of[e["path"]] for e in all_puts[kill_mark:]}
    resent = first & second
    # The retry resumed the session: it sent only what was missing, re-sending at most the chunks
    # that were in flight when the worker died.
    assert len(resent) <= concurrency, sorted(resent)
    assert first | second == set(range(1, total_chunks + 1))
    sessions = sum(1 for e in log if (e["method"], e["path"]) == MULTIPART and e["status"] == 201)
    assert sessions == 1

    assets = [a for a in stack.twelvelabs("/assets", page_limit=50)["data"] if a["filename"] == source.name]
    assert len(assets) == 1, assets
    (asset,) = assets
    assert asset["status"] == "ready"
    stored = Emulator(stack.emulator_url, API_KEY).stored(asset["_id"])
    assert (stored["size"], stored["md5"]) == (source.stat().st_size, md5(source))
    figures(
        "killed_worker_multipart",
        chunks=total_chunks,
        concurrency=concurrency,
        worker_processes_killed=kill["processes"],
        retry_started_after_kill_s=retry_after,
        chunks_stored_before_kill=len(stored_before),
        chunks_sent_after_kill=len(second),
        chunks_resent=len(resent),
        sessions_created=sessions,
        assets=len(assets),
        bytes_verified=stored["size"],
        seconds=round(time.monotonic() - started, 1),
    )


def test_a_worker_killed_after_creating_an_analyze_batch_reconnects_to_it(stack: Stack, work: Path) -> None:
    files = make_media(work / "batch-media", 3)
    asset_ids = upload_assets(stack, files)
    output = work / "killed-batch.jsonl"
    (stack.tmp / "pids.txt").write_text("")
    started = time.monotonic()
    start_run(
        stack,
        "reliability_killed_batch",
        "killed_batch",
        {"asset_ids": asset_ids, "output_path": str(output)},
    )

    pid = stack.wait_for(
        "the first try to create the batch and poll it",
        lambda: created_and_polled(stack, BATCH_CREATE, "/v1.3/analyze/batches/"),
        120,
        0.2,
    )
    kill = kill_worker_running(stack, pid)
    retry_after = second_try(stack, kill, "analyze")
    stack.emulator_config(step_seconds=0.2)
    state = finished(stack, timeout=180)
    ti = stack.task_instances()[("analyze", -1)]
    assert state == "success", f"DAG run {state}: {ti}\n{stack.report()}"
    assert ti["try_number"] == 2, ti
    creates = [e for e in stack.requests_log() if (e["method"], e["path"]) == BATCH_CREATE]
    assert len(creates) == 1, creates
    rows = [json.loads(line) for line in output.read_text().splitlines()]
    assert sorted(row["asset_id"] for row in rows) == sorted(asset_ids)
    assert {row["status"] for row in rows} == {"ready"}
    stack.emulator_config(step_seconds=0)
    figures(
        "killed_worker_analyze_batch",
        items=len(asset_ids),
        worker_processes_killed=kill["processes"],
        retry_started_after_kill_s=retry_after,
        batch_creates=len(creates),
        try_number=ti["try_number"],
        rows=len(rows),
        seconds=round(time.monotonic() - started, 1),
    )


EMBED_CREATE = ("POST", "/v1.3/embed-v2/tasks")


def test_a_worker_killed_while_waiting_on_an_embedding_task_reconnects_to_it(
    stack: Stack, work: Path
) -> None:
    output = work / "killed-embedding.jsonl"
    (stack.tmp / "pids.txt").write_text("")
    started = time.monotonic()
    # The emulator holds the task in "processing" (step_seconds=0) until the retry polls it.
    start_run(stack, "reliability_killed_embedding", "killed_embedding", {"output_path": str(output)})

    def creates() -> list[dict[str, Any]]:
        return [e for e in stack.requests_log() if (e["method"], e["path"]) == EMBED_CREATE]

    pid = stack.wait_for(
        "the first try to create the task and poll it",
        lambda: created_and_polled(stack, EMBED_CREATE, "/v1.3/embed-v2/tasks/"),
        120,
        0.2,
    )
    assert len(creates()) == 1
    kill = kill_worker_running(stack, pid)
    retry_after = second_try(stack, kill, "embed")
    stack.emulator_config(step_seconds=1)
    state = finished(stack, timeout=180)
    ti = stack.task_instances()[("embed", -1)]
    assert state == "success", f"DAG run {state}: {ti}\n{stack.report()}"
    assert ti["try_number"] == 2, ti
    # Exactly one task was created: the retry reconnected to it.
    assert len(creates()) == 1, creates()
    (task,) = stack.twelvelabs("/embed-v2/tasks", page_limit=50)["data"]
    assert task["status"] == "ready"
    answer = stack.api(
        "GET",
        "/dags/reliability_killed_embedding/dagRuns/killed_embedding/taskInstances/embed/xcomEntries/return_value",
    )
    answer.raise_for_status()
    manifest = answer.json()["value"]
    manifest = json.loads(manifest) if isinstance(manifest, str) else manifest
    assert manifest["task_id"] == task["_id"]
    rows = [json.loads(row) for row in output.read_text().splitlines()]
    assert rows and all(row["embedding"] for row in rows)
    assert manifest["count"] == len(rows)
    stack.emulator_config(step_seconds=0)
    figures(
        "killed_worker_embedding_task",
        worker_processes_killed=kill["processes"],
        retry_started_after_kill_s=retry_after,
        task_creates=len(creates()),
        try_number=ti["try_number"],
        embeddings=len(rows),
        seconds=round(time.monotonic() - started, 1),
    )


# -- 4. Killed triggerers -----------------------------------------------------------------------------


def test_deferred_waits_survive_two_killed_triggerers(stack: Stack, work: Path) -> None:
    waits = 50
    asset_ids = upload_assets(stack, make_media(work / "triggerer-media", waits))
    with httpx.Client(headers={"x-api-key": API_KEY}, timeout=30) as client:
        answer = client.post(
            f"{stack.emulator_url}/indexes",
            json={
                "index_name": "triggerers",
                "models": [{"model_name": "marengo3.0", "model_options": ["visual"]}],
            },
        )
    answer.raise_for_status()
    index_id = answer.json()["_id"]
    list_path = f"/v1.3/indexes/{index_id}/indexed-assets"

    # Two triggerers that each take at most 30 triggers: the 50 waits are spread over both.
    job_a = start_triggerer(stack, "triggerer-a", "--capacity", "30")
    job_b = start_triggerer(stack, "triggerer-b", "--capacity", "30")
    started = time.monotonic()
    start_run(stack, "reliability_triggerers", "triggerers", {"asset_ids": asset_ids, "index_id": index_id})

    def indexing() -> list[dict[str, Any]]:
        tis = stack.task_instances()
        bad = [f"{k}: {ti['state']}" for k, ti in tis.items() if ti["state"] in ("failed", "upstream_failed")]
        if bad:
            stack.fail(f"tasks failed: {bad}")
        return [ti for (task_id, _), ti in sorted(tis.items()) if task_id == "index"]

    def all_deferred() -> list[dict[str, Any]] | None:
        tis = indexing()
        ready = len(tis) == waits and all(
            ti["state"] == "deferred" and ti["trigger"] and ti["trigger"]["triggerer_id"] for ti in tis
        )
        return tis if ready else None

    before = stack.wait_for(
        f"the {waits} indexing waits to be deferred", all_deferred, timeout=300, interval=2
    )
    assert {ti["trigger"]["classpath"] for ti in before} == {TRIGGER_CLASSPATH}
    triggers = {ti["map_index"]: ti["trigger"] for ti in before}
    owners = Counter(t["triggerer_id"] for t in triggers.values())
    assert set(owners) == {job_a, job_b}, f"the waits are not spread over the two triggerers: {owners}"
    rows = trigger_kwargs(stack)
    TRIGGER_ROWS.extend(rows.values())
    deadlines = {i: deadline_of(rows, t) for i, t in triggers.items()}
    creates_before = indexed_asset_creates(stack, list_path)
    assert creates_before == waits, creates_before

    def owned_by() -> Counter[Any]:
        return Counter((ti["trigger"] or {}).get("triggerer_id") for ti in indexing())

    def moved_off(dead: int) -> Counter[Any] | None:
        counts = owned_by()
        return counts if dead not in counts and None not in counts else None

    def same_triggers() -> None:
        now = {ti["map_index"]: ti["trigger"] or {} for ti in indexing()}
        rows = trigger_kwargs(stack)
        for map_index, trigger in triggers.items():
            # The same trigger row, with the same kwargs: the absolute deadline did not move.
            assert (now[map_index].get("id"), deadline_of(rows, now[map_index])) == (
                trigger["id"],
                deadlines[map_index],
            )

    # SIGKILL one triggerer (no clean-up at all); start a new one; the waits move over.
    stack.services["triggerer-a"].kill(signal.SIGKILL)
    stack.services["triggerer-a"].retired = True
    job_c = start_triggerer(stack, "triggerer-c")
    after_first = stack.wait_for("the waits of the killed triggerer to move", lambda: moved_off(job_a), 120)
    same_triggers()
    # Then SIGKILL the other one: the new triggerer takes everything.
    stack.services["triggerer-b"].kill(signal.SIGKILL)
    stack.services["triggerer-b"].retired = True
    after_second = stack.wait_for(
        "the waits of the second killed triggerer to move", lambda: moved_off(job_b), 120
    )
    assert set(after_second) == {job_c}, after_second
    same_triggers()
    assert {ti["state"] for ti in indexing()} == {"deferred"}

    # Indexing finishes now; every wait ends on its first try, before its deadline.
    stack.emulator_config(step_seconds=0.2)
    state = finished(stack, timeout=240)
    tis = indexing()
    assert state == "success", f"DAG run {state}: {[ti['state'] for ti in tis]}\n{stack.report()}"
    assert {ti["state"] for ti in tis} == {"success"}
    assert {ti["try_number"] for ti in tis} == {1}
    for ti in tis:
        ended = datetime.fromisoformat(ti["end_date"].replace("Z", "+00:00")).timestamp()
        assert ended < deadlines[ti["map_index"]], ti
    # No remote job was created twice.
    assert indexed_asset_creates(stack, list_path) == waits
    items = Emulator(stack.emulator_url, API_KEY).pages(f"/indexes/{index_id}/indexed-assets")
    assert len(items) == waits and {item["status"] for item in items} == {"ready"}
    assert len({item["_id"] for item in items}) == waits
    stack.emulator_config(step_seconds=0)
    figures(
        "killed_triggerers",
        waits=waits,
        owners_before=sorted(owners.values()),
        owners_after_first_kill=sorted(after_first.values()),
        owners_after_second_kill=sorted(after_second.values()),
        indexed_asset_creates=indexed_asset_creates(stack, list_path),
        indexed_assets=len(items),
        try_numbers=sorted({ti["try_number"] for ti in tis}),
        seconds=round(time.monotonic() - started, 1),
    )


def start_triggerer(stack: Stack, name: str, *args: str) -> int:
    """Start a triggerer and return its job id, once it heartbeats."""
    known = set(triggerer_jobs(stack))
    stack.start(name, [AIRFLOW, "triggerer", *args])
    new = stack.wait_for(f"{name} to start", lambda: set(triggerer_jobs(stack)) - known, timeout=90)
    (job_id,) = new
    return job_id


def triggerer_jobs(stack: Stack) -> list[int]:
    answer = stack.api("GET", "/jobs", params={"job_type": "TriggererJob", "is_alive": True, "limit": 100})
    answer.raise_for_status()
    return [job["id"] for job in answer.json()["jobs"]]


def trigger_kwargs(stack: Stack) -> dict[int, str]:
    """Every trigger row's kwargs column as the PostgreSQL metadata database holds it, by trigger id."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(stack.env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    try:
        with engine.connect() as db:
            rows = db.execute(sqlalchemy.text("SELECT id, kwargs FROM trigger")).all()
    finally:
        engine.dispose()
    return {int(trigger_id): str(kwargs) for trigger_id, kwargs in rows}


def deadline_of(rows: dict[int, str], trigger: dict[str, Any]) -> float:
    """The absolute deadline in a trigger's kwargs (``rows`` from :func:`trigger_kwargs`)."""
    return float(json.loads(rows[trigger["id"]])["deadline"])


def indexed_asset_creates(stack: Stack, list_path: str) -> int:
    log = stack.requests_log()
    return sum(
        1 for e in log if (e["method"], e["path"]) == ("POST", list_path) and 200 <= (e["status"] or 0) < 300
    )


# -- 7. Secrets ---------------------------------------------------------------------------------------


def _texts(folder: Path) -> Iterator[tuple[str, str]]:
    """Every file under ``folder`` as text; SQLite databases as their full SQL dump."""
    # (the emulator's data folder holds the uploaded media, not anything Airflow wrote)
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and "emulator-data" not in p.parts):
        if path.suffix == ".db":
            with sqlite3.connect(path) as db:
                yield str(path) + " (dump)", "\n".join(db.iterdump())
        elif path.suffix not in (".mp4", ".jsonl") or "openlineage" in path.name or "catalog" in path.name:
            yield str(path), path.read_bytes().decode("utf-8", errors="replace")


def search(secrets: dict[str, str], sources: list[tuple[str, str]]) -> list[str]:
    """Where each of ``secrets`` (text -> what it is) appears in ``sources`` ((where, text) pairs)."""
    hits: list[str] = []
    for where, text in sources:
        hits += [f"{what} in {where}" for secret, what in secrets.items() if secret in text]
        # A presigned URL's query string never appears: even a redacted one keeps no signature.
        if "sig=" in text and re.search(r"sig=[0-9a-f]{16}", text):
            hits.append(f"a signed URL in {where}")
    return hits


def test_no_secret_reaches_logs_xcom_trigger_rows_the_database_or_lineage(stack: Stack, work: Path) -> None:
    # The deployment's own view first: task instances (with their rendered template fields) and
    # XComs through the REST API.
    served: list[str] = []
    for dag_id in STACK_DAGS:
        runs = stack.api("GET", f"/dags/{dag_id}/dagRuns").json()["dag_runs"]
        assert runs, f"{dag_id} never ran: the scan would miss its traces"
        for run in runs:
            tis = stack.api(
                "GET", f"/dags/{dag_id}/dagRuns/{run['dag_run_id']}/taskInstances", params={"limit": 100}
            )
            for ti in tis.json()["task_instances"]:
                served.append(json.dumps(ti))
                base = f"/dags/{dag_id}/dagRuns/{run['dag_run_id']}/taskInstances/{ti['task_id']}"
                xcoms = stack.api("GET", f"{base}/xcomEntries", params={"map_index": ti["map_index"]})
                served.append(xcoms.text)
    collect_signatures(stack.requests_log())
    assert SIGNATURES, "no presigned URL was issued: the scan would prove nothing"
    secrets = {API_KEY: "the API key", **{sig: "a presigned-URL signature" for sig in SIGNATURES}}

    # Plant a made-up secret in the metadata database, in a column stored as plain text (a pool's
    # description; a Variable's value would be Fernet-encrypted), then dump the whole database with
    # pg_dump: XComs, rendered template fields, trigger rows, task instances, serialized DAGs, the
    # Celery result backend's rows.
    planted = stack.api(
        "POST", "/pools", json={"name": "reliability_canary", "slots": 0, "description": CANARY}
    )
    assert planted.status_code in (200, 201), planted.text
    dump = pg_dump(stack.env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    for table in ("xcom", "rendered_task_instance_fields", "trigger", "task_instance", "celery_taskmeta"):
        assert f"COPY public.{table} " in dump, f"no table {table} in the dump"

    sources = [("REST: task instances and XComs", "\n".join(served))]
    sources.append(("the PostgreSQL metadata database, pg_dump (dump)", dump))
    # Trigger rows are deleted once their tasks are done: their kwargs as they were while deferred.
    assert TRIGGER_ROWS and all('"deadline"' in row for row in TRIGGER_ROWS), "no readable trigger kwargs"
    sources.append(("trigger rows' kwargs, read while deferred", "\n".join(TRIGGER_ROWS)))
    for folder in SCANNED:
        sources += list(_texts(folder))

    # The search finds a secret where there is one: the canary in the dump, the API key in the
    # connection the test itself gave the deployment.
    assert search({CANARY: "the canary"}, sources) == [
        "the canary in the PostgreSQL metadata database, pg_dump (dump)"
    ]
    assert search({API_KEY: "the API key"}, [("the connection", stack.env[connection_variable()])])

    scanned: Counter[str] = Counter()
    for where, _ in sources:
        kind = "database" if where.endswith("(dump)") else "openlineage" if "openlineage" in where else "file"
        scanned[kind] += 1
    task_logs = [where for where, _ in sources if "/logs/dag_id=reliability_killed_" in where]
    assert any("attempt=2" in where for where in task_logs), "the retries' task logs were not scanned"
    lineage = [where for where, _ in sources if "openlineage" in where]
    assert lineage, "no OpenLineage events were written: the scan would prove nothing"
    hits = search(secrets, sources)
    assert not hits, hits
    figures(
        "secrets",
        signatures_searched=len(SIGNATURES),
        sources=dict(scanned),
        task_logs=len(task_logs),
        trigger_rows=len(TRIGGER_ROWS),
        dump_bytes=len(dump),
        hits=len(hits),
    )
