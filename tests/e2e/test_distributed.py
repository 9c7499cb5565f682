"""End to end on a distributed Airflow: the nightly media archive on PostgreSQL, Celery and two triggerers.

The deployment is the kind a team runs, every service a process of its own on 127.0.0.1: a
throwaway PostgreSQL cluster as the metadata database, the CeleryExecutor with a Redis broker and
two Celery workers of one slot each, two triggerers, the scheduler, the dag-processor and the API
server (``tests/e2e/airflow_stack.py``, ``tests/e2e/services.py``). The emulator (its CLI, strict
media parsing, time-driven lifecycles: an asset is ready 10 s after upload, an indexed asset 30 s
after it is created) stands in for TwelveLabs. ``example_dags/twelvelabs_media_archive.py`` runs
three times:

1. over 20 distinct videos. Indexing is held on the emulator until all 20 indexing waits are
   ``deferred`` at once while the Celery workers have 2 slots in all; the waits are then spread
   over both triggerers (each may run 15 triggers), and one triggerer is SIGKILLed with its
   triggers in flight. The run succeeds with 20 catalog rows and exactly one remote asset, indexed
   asset and embedding task per file;
2. again over the same files: 0 files processed and no create call in the emulator's request log;
3. after 3 files were added: exactly 3 processed, and the cumulative catalog has 23 rows.
"""

from __future__ import annotations

import json
import re
import signal
import struct
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.airflow_stack import MEDIA, ROOT, Stack, Topology, airflow_stack
from tests.e2e.services import celery_slots

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

DAG_FILE = ROOT / "example_dags" / "twelvelabs_media_archive.py"
DAG_ID = "twelvelabs_media_archive"
INDEX_NAME = "e2e-distributed-archive"
API_KEY = "tlk_E2E_DISTRIBUTED_7c4a19e2"
POOL = "twelvelabs_api"
#: One lifecycle step every STEP_SECONDS: an asset takes one step, an indexed asset three.
STEP_SECONDS = 10
#: Each triggerer runs at most this many triggers: 20 waits at once need both of them.
TRIGGERER_CAPACITY = 15
FIRST_FILES = 20
ADDED_FILES = 3
#: How long one DAG run may take on a loaded 2-core machine.
RUN_TIMEOUT = 600

SAMPLES = sorted(MEDIA.glob("*.mp4"))


def distinct_video(number: int, folder: Path) -> Path:
    """A valid MP4 of its own: a sample with a ``free`` box (ISO BMFF padding) naming ``number``."""
    payload = f"twelvelabs e2e video {number}".encode()
    path = folder / f"video_{number:02d}.mp4"
    path.write_bytes(
        SAMPLES[number % len(SAMPLES)].read_bytes() + struct.pack(">I", 8 + len(payload)) + b"free" + payload
    )
    return path


def _states(tis: dict[tuple[str, int], dict[str, Any]]) -> dict[str, str | None]:
    return {f"{task_id}[{index}]": ti["state"] for (task_id, index), ti in sorted(tis.items())}


def _creates(log: list[dict[str, Any]]) -> Counter[str]:
    """The create calls (answered POSTs) in a slice of the emulator's request log, by path."""
    return Counter(e["path"] for e in log if e["method"] == "POST" and 200 <= (e["status"] or 0) < 300)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("distributed")
    env = {
        # Only the runs the test creates: no scheduled run of the @daily DAG with its default params.
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
        "TWELVELABS_EXAMPLE_POLL_INTERVAL": "2",
    }
    with airflow_stack(
        tmp,
        dag_file=DAG_FILE,
        dag_id=DAG_ID,
        run_id="",
        api_key=API_KEY,
        step_seconds=STEP_SECONDS,
        # The scheduler would run 32 at once: the two one-slot workers are the limit.
        parallelism=32,
        extra_env=env,
        topology=Topology.distributed(workers=2, triggerers=2, capacity=TRIGGERER_CAPACITY),
        emulator_args=["--strict-media"],
    ) as running:
        running.wait_for(
            f"the API server to serve the parsed DAG {DAG_ID}",
            lambda: running.api("GET", f"/dags/{DAG_ID}").status_code == 200,
            timeout=180,
        )
        pool = running.api(
            "POST", "/pools", json={"name": POOL, "slots": 8, "description": "TwelveLabs API calls"}
        )
        assert pool.status_code in (200, 201), pool.text
        yield running


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("archive")
    source, output = root / "source", root / "output"
    source.mkdir()
    for number in range(FIRST_FILES):
        distinct_video(number, source)
    return {"source": source, "output": output}


def trigger_run(stack: Stack, run_id: str, day: str, folders: dict[str, Path]) -> None:
    stack.run_id = run_id
    conf = {"source": str(folders["source"]), "index_name": INDEX_NAME, "output_path": str(folders["output"])}
    created = stack.api(
        "POST",
        f"/dags/{DAG_ID}/dagRuns",
        json={"dag_run_id": run_id, "logical_date": f"{day}T00:00:00Z", "conf": conf},
    )
    assert created.status_code == 200, created.text


def finish(stack: Stack) -> dict[str, Any]:
    """Wait for the current run to end; require success; return the catalog task's summary."""
    state = stack.wait_for(
        f"the DAG run {stack.run_id} to finish",
        lambda: (s := stack.dag_run_state()) in ("success", "failed") and s,
        timeout=RUN_TIMEOUT,
        interval=2,
    )
    tis = stack.task_instances()
    assert state == "success", f"DAG run {state}: {_states(tis)}\n{stack.report()}"
    answer = stack.api(
        "GET", f"/dags/{DAG_ID}/dagRuns/{stack.run_id}/taskInstances/write_catalog/xcomEntries/return_value"
    )
    answer.raise_for_status()
    value = answer.json()["value"]
    return dict(json.loads(value) if isinstance(value, str) else value)


def catalog_rows(written: str) -> list[dict[str, Any]]:
    """The rows of a catalog the DAG wrote locally (its summary names it as a ``file:`` URL)."""
    path = Path(re.sub(r"^file:(//)?", "", written))
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def remote_counts(stack: Stack, index_id: str) -> dict[str, Any]:
    """What exists on the emulator, from its list endpoints: assets, indexed assets, embedding tasks."""

    def listed(path: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        page = 1
        while True:
            answer = stack.twelvelabs(path, page=page, page_limit=50)
            items += answer["data"]
            if page >= int(answer.get("page_info", {}).get("total_page", 1)):
                return items
            page += 1

    assets = listed("/assets")
    indexed = listed(f"/indexes/{index_id}/indexed-assets")
    return {
        "assets": len(assets),
        "asset_files": len({a["filename"] for a in assets}),
        "indexed": len(indexed),
        "indexed_assets_of": len({i["asset_id"] for i in indexed}),
        "indexed_ready": {i["status"] for i in indexed},
        "embedding_tasks": len(listed("/embed-v2/tasks")),
        "batches": len(listed("/analyze/batches")),
    }


def test_the_archive_on_postgres_celery_and_two_triggerers(stack: Stack, folders: dict[str, Path]) -> None:
    slots = celery_slots(stack.broker_url, expected_workers=2)
    assert sorted(slots.values()) == [1, 1], slots

    # -- 1. 20 files; indexing held until all 20 waits are deferred together ----------------------
    stack.emulator_config(hold_indexing=True)
    trigger_run(stack, "archive_1", "2026-11-01", folders)
    busiest = 0

    def all_indexing_deferred() -> dict[tuple[str, int], dict[str, Any]] | None:
        nonlocal busiest
        tis = stack.task_instances()
        if any(ti["state"] in ("failed", "upstream_failed") for ti in tis.values()):
            stack.fail(f"a task failed: {_states(tis)}")
        busiest = max(busiest, sum(ti["state"] == "running" for ti in tis.values()))
        waits = [ti for (task_id, _), ti in tis.items() if task_id == "index"]
        ready = len(waits) == FIRST_FILES and all(
            ti["state"] == "deferred" and ti["trigger"] and ti["trigger"]["triggerer_id"] for ti in waits
        )
        return tis if ready else None

    held = stack.wait_for(
        f"the {FIRST_FILES} indexing waits to be deferred", all_indexing_deferred, RUN_TIMEOUT, 2
    )
    waits = {index: ti for (task_id, index), ti in held.items() if task_id == "index"}
    assert sorted(waits) == list(range(FIRST_FILES))
    running = [key for key, state in _states(held).items() if state == "running"]
    assert len(running) <= sum(slots.values()), running
    assert busiest <= sum(slots.values()), f"{busiest} tasks ran at once on {slots}"

    # The waits are spread over both triggerers (neither may run more than TRIGGERER_CAPACITY).
    owners = Counter(ti["trigger"]["triggerer_id"] for ti in waits.values())
    assert len(owners) == 2, owners
    alive = stack.api("GET", "/jobs", params={"job_type": "TriggererJob", "is_alive": True}).json()["jobs"]
    assert {job["id"] for job in alive} >= set(owners), (alive, owners)

    # SIGKILL one triggerer with its triggers in flight, then let indexing finish.
    stack.services["triggerer-2"].kill(signal.SIGKILL)
    stack.services["triggerer-2"].retired = True

    def dead_triggerer() -> int | None:
        jobs = stack.api("GET", "/jobs", params={"job_type": "TriggererJob", "is_alive": True}).json()["jobs"]
        living = {job["id"] for job in jobs} & set(owners)
        return next(iter(set(owners) - living)) if len(living) == 1 else None

    killed = stack.wait_for("the killed triggerer to be seen dead", dead_triggerer, 120, 1)
    (survivor,) = set(owners) - {killed}
    stack.emulator_config(hold_indexing=False)

    summary = finish(stack)
    tis = stack.task_instances()
    assert summary["new_files"] == FIRST_FILES and summary["done_files"] == 0, summary
    assert len(catalog_rows(summary["day_catalog"])) == FIRST_FILES
    first_catalog = catalog_rows(summary["catalog"])
    assert len(first_catalog) == FIRST_FILES
    assert len({row["indexed_asset_id"] for row in first_catalog}) == FIRST_FILES
    assert all(row["title"] and row["summary"] and row["embeddings_path"] for row in first_catalog)
    # The killed triggerer's waits resumed from the survivor's events, on their first try.
    assert {tis[("index", i)]["try_number"] for i in waits} == {1}, _states(tis)
    assert owners[killed] > 0 and owners[survivor] > 0
    index_id = summary["index_id"]
    counts = remote_counts(stack, index_id)
    assert counts == {
        "assets": FIRST_FILES,
        "asset_files": FIRST_FILES,
        "indexed": FIRST_FILES,
        "indexed_assets_of": FIRST_FILES,
        "indexed_ready": {"ready"},
        "embedding_tasks": FIRST_FILES,
        "batches": 1,
    }, counts

    # -- 2. the same files again: nothing to do, nothing created ------------------------------------
    mark = len(stack.requests_log())
    trigger_run(stack, "archive_2", "2026-11-02", folders)
    summary = finish(stack)
    assert summary["new_files"] == 0 and summary["done_files"] == FIRST_FILES, summary
    assert catalog_rows(summary["day_catalog"]) == []
    assert len(catalog_rows(summary["catalog"])) == FIRST_FILES
    posts = [(e["path"], e["status"]) for e in stack.requests_log()[mark:] if e["method"] == "POST"]
    assert posts == [], posts
    mapped = [key for key in stack.task_instances() if key[0] in ("upload", "index", "embed") and key[1] >= 0]
    assert mapped == [], mapped

    # -- 3. three new files: exactly those processed ---------------------------------------------
    for number in range(FIRST_FILES, FIRST_FILES + ADDED_FILES):
        distinct_video(number, folders["source"])
    mark = len(stack.requests_log())
    trigger_run(stack, "archive_3", "2026-11-03", folders)
    summary = finish(stack)
    assert summary["new_files"] == ADDED_FILES and summary["done_files"] == FIRST_FILES, summary
    day = catalog_rows(summary["day_catalog"])
    assert sorted(Path(row["source"]).name for row in day) == [
        f"video_{n:02d}.mp4" for n in range(FIRST_FILES, FIRST_FILES + ADDED_FILES)
    ]
    cumulative = catalog_rows(summary["catalog"])
    assert len(cumulative) == FIRST_FILES + ADDED_FILES
    assert len({row["source"] for row in cumulative}) == FIRST_FILES + ADDED_FILES
    # The first run's rows are kept as they were.
    assert [row for row in cumulative if row in first_catalog] == first_catalog
    creates = _creates(stack.requests_log()[mark:])
    assert creates["/v1.3/assets"] == ADDED_FILES, creates
    assert creates[f"/v1.3/indexes/{index_id}/indexed-assets"] == ADDED_FILES, creates
    assert creates["/v1.3/indexes"] == 0, creates
    counts = remote_counts(stack, index_id)
    assert counts["assets"] == counts["indexed"] == counts["embedding_tasks"] == FIRST_FILES + ADDED_FILES
    assert counts["indexed_assets_of"] == FIRST_FILES + ADDED_FILES, counts
