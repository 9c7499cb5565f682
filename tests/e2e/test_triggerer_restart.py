"""End to end through a real scheduler and triggerer: deferred waits survive a triggerer restart.

Everything runs as separate processes, as in a deployment: the emulator (its CLI, time-driven
lifecycles: an asset is ready 10 s after upload, an indexed asset 30 s after it is created), and a
throwaway ``AIRFLOW_HOME`` on SQLite with the LocalExecutor limited to two worker slots, served by
``airflow api-server`` (REST and the task execution API), ``airflow scheduler``,
``airflow dag-processor`` and ``airflow triggerer``.

The DAG (``dags/twelvelabs_triggerer_restart.py``) uploads the three sample videos, waits for each
asset with a deferrable sensor and indexes it with a deferrable operator. Once the three indexing
tasks are ``deferred`` together (three waits, two worker slots: waiting holds no slot) and their
triggers are polling, the triggerer is replaced twice: stopped with SIGTERM while indexing is held
(the new triggerer must take the same trigger rows over and poll), then killed with SIGKILL while
indexing finishes with no triggerer running (the next one must notice). The run must still
succeed, the indexing tasks on their first try, with exactly one indexed asset per file.
"""

from __future__ import annotations

import signal
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.airflow_stack import AIRFLOW, MEDIA, Stack, airflow_stack

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SAMPLES = sorted(path.name for path in MEDIA.glob("*.mp4"))
DAG_FILE = Path(__file__).resolve().parent / "dags" / "twelvelabs_triggerer_restart.py"
DAG_ID = "twelvelabs_triggerer_restart"
RUN_ID = "triggerer_restart"
INDEX_NAME = "e2e-triggerer-restart"
API_KEY = "tlk_E2E_RESTART_5b7e2c91"
TRIGGER_CLASSPATH = "airflow_provider_twelvelabs.triggers.twelvelabs.TwelveLabsResourceTrigger"
#: One lifecycle step per STEP_SECONDS, whoever polls: asset 1 step, indexed asset 3 steps.
STEP_SECONDS = 10
#: Fewer worker slots than indexing tasks.
PARALLELISM = 2


def _states(tis: dict[tuple[str, int], dict[str, Any]]) -> dict[str, str | None]:
    return {f"{task_id}[{index}]": ti["state"] for (task_id, index), ti in sorted(tis.items())}


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    with airflow_stack(
        tmp_path,
        dag_file=DAG_FILE,
        dag_id=DAG_ID,
        run_id=RUN_ID,
        api_key=API_KEY,
        step_seconds=STEP_SECONDS,
        parallelism=PARALLELISM,
    ) as running:
        yield running


def test_deferred_tasks_survive_a_triggerer_restart(stack: Stack) -> None:
    stack.wait_for(
        f"the API server to serve the parsed DAG {DAG_ID}",
        lambda: stack.api("GET", f"/dags/{DAG_ID}").status_code == 200,
        timeout=120,
    )
    created = stack.api(
        "POST",
        f"/dags/{DAG_ID}/dagRuns",
        json={"dag_run_id": RUN_ID, "logical_date": None, "conf": {"index_name": INDEX_NAME}},
    )
    assert created.status_code == 200, created.text

    # 1. The three indexing tasks wait in the triggerer at the same time, with two worker slots.
    def all_indexing_deferred() -> dict[tuple[str, int], dict[str, Any]] | None:
        tis = stack.task_instances()
        if any(ti["state"] in ("failed", "upstream_failed") for ti in tis.values()):
            stack.fail(f"a task failed before the restart: {_states(tis)}")
        waiting = [ti for (task_id, _), ti in tis.items() if task_id == "index"]
        ready = len(waiting) == len(SAMPLES) and all(
            ti["state"] == "deferred" and ti["trigger"] and ti["trigger"]["triggerer_id"] for ti in waiting
        )
        return tis if ready else None

    before = stack.wait_for("the three indexing tasks to be deferred", all_indexing_deferred, timeout=150)
    indexing = {index: ti for (task_id, index), ti in before.items() if task_id == "index"}
    assert sorted(indexing) == list(range(len(SAMPLES)))
    assert {ti["trigger"]["classpath"] for ti in indexing.values()} == {TRIGGER_CLASSPATH}
    trigger_ids = {index: ti["trigger"]["id"] for index, ti in indexing.items()}
    (first_triggerer,) = {ti["trigger"]["triggerer_id"] for ti in indexing.values()}
    # Deferred means the worker process is gone: nothing of this run holds a slot meanwhile.
    busy = {key: s for key, s in _states(before).items() if s in ("queued", "running")}
    assert not busy, f"tasks hold worker slots while the indexing tasks wait: {busy}"

    (index,) = [i for i in stack.twelvelabs("/indexes")["data"] if i["index_name"] == INDEX_NAME]
    index_id = index["_id"]
    list_path = f"/v1.3/indexes/{index_id}/indexed-assets"

    def is_trigger_read(entry: dict[str, Any], since: datetime) -> bool:
        # The trigger lists finished indexed assets (or reads one); the test lists without filter.
        return (
            entry["method"] == "GET"
            and entry["path"].startswith(list_path)
            and (entry["path"] != list_path or "status=ready" in entry["query"])
            and datetime.fromisoformat(entry["time"].replace("Z", "+00:00")) >= since
        )

    def trigger_polls(since: datetime) -> list[dict[str, Any]]:
        return [entry for entry in stack.requests_log() if is_trigger_read(entry, since)]

    def indexing_statuses() -> dict[str, str]:
        items = stack.twelvelabs(f"/indexes/{index_id}/indexed-assets", page_limit=50)["data"]
        return {item["_id"]: item["status"] for item in items}

    def replace_triggerer(name: str, sig: int) -> None:
        stack.services[name].kill(sig)
        stack.services[name].retired = True
        tis = stack.task_instances()
        states = {tis[("index", i)]["state"] for i in indexing}
        assert states == {"deferred"}, f"after {signal.Signals(sig).name} to {name}: {_states(tis)}"

    deferred_at = datetime.now(timezone.utc)
    stack.wait_for("triggerer-1 to poll the indexed assets", lambda: trigger_polls(deferred_at), 30, 0.5)

    # 2. A deployment: stop the triggerer (SIGTERM cancels its triggers) and start another one.
    # Indexing is held meanwhile (the emulator's time-driven progress is switched off), so the new
    # triggerer has to take the triggers over and wait.
    stack.emulator_config(step_seconds=0)
    statuses = indexing_statuses()
    assert len(statuses) == len(SAMPLES), statuses
    if set(statuses.values()) & {"ready", "failed"}:
        stack.fail(
            f"indexing finished before the triggerer could be stopped (raise STEP_SECONDS): {statuses}"
        )
    replace_triggerer("triggerer-1", signal.SIGTERM)
    stack.start("triggerer-2", [AIRFLOW, "triggerer"])

    def taken_over() -> set[int] | None:
        tis = stack.task_instances()
        triggers = [tis[("index", i)]["trigger"] or {} for i in indexing]
        if {t.get("id") for t in triggers} != set(trigger_ids.values()):
            stack.fail(f"the deferred tasks lost their triggers: {triggers} (expected {trigger_ids})")
        owners = {t.get("triggerer_id") for t in triggers}
        return owners if None not in owners and first_triggerer not in owners else None

    stack.wait_for("triggerer-2 to take the triggers over", taken_over, timeout=90)
    taken_at = datetime.now(timezone.utc)
    stack.wait_for("triggerer-2 to poll the indexed assets", lambda: trigger_polls(taken_at), 30, 0.5)
    assert not set(indexing_statuses().values()) & {"ready", "failed"}

    # 3. A crash: kill that triggerer (SIGKILL, no clean-up at all). Indexing finishes while no
    # triggerer runs; the next one, started afterwards, must notice.
    replace_triggerer("triggerer-2", signal.SIGKILL)
    killed_at = datetime.now(timezone.utc)
    stack.emulator_config(step_seconds=STEP_SECONDS)
    stack.wait_for(
        "indexing to finish on the emulator",
        lambda: set(indexing_statuses().values()) == {"ready"},
        timeout=STEP_SECONDS * 4,
    )
    tis = stack.task_instances()
    assert {tis[("index", i)]["state"] for i in indexing} == {"deferred"}, _states(tis)
    stack.start("triggerer-3", [AIRFLOW, "triggerer"])

    # 4. The run finishes.
    state = stack.wait_for(
        "the DAG run to finish",
        lambda: (s := stack.dag_run_state()) in ("success", "failed") and s,
        timeout=150,
    )
    tis = stack.task_instances()
    assert state == "success", f"DAG run {state}: {_states(tis)}\n{stack.report()}"
    assert set(_states(tis).values()) == {"success"}, _states(tis)
    # The indexing tasks resumed from their trigger's event: no retry, no new attempt.
    assert {tis[("index", i)]["try_number"] for i in indexing} == {1}, _states(tis)
    # Only triggerer-3 was alive after the kill: it read the indexed assets that had finished.
    assert [e for e in stack.requests_log() if is_trigger_read(e, killed_at)], "triggerer-3 never polled"

    # 5. Exactly one indexed asset per file in the emulator, each ready, and no duplicate create.
    items = stack.twelvelabs(f"/indexes/{index_id}/indexed-assets", page_limit=50)["data"]
    assert sorted(item["system_metadata"]["filename"] for item in items) == SAMPLES
    assert {item["status"] for item in items} == {"ready"}
    assert len({item["_id"] for item in items}) == len(SAMPLES)
    creates = Counter(
        entry["path"]
        for entry in stack.requests_log()
        if entry["method"] == "POST" and 200 <= (entry["status"] or 0) < 300
    )
    assert creates["/v1.3/indexes"] == 1, creates
    assert creates["/v1.3/assets"] == len(SAMPLES), creates
    assert creates[list_path] == len(SAMPLES), creates
    assert sorted(statuses) == sorted(item["_id"] for item in items)
