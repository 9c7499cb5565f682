"""Benchmark: the catalog batch vs one synchronous ``/analyze`` per video, under real ``airflow dags test``.

The Airflow mode of :mod:`catalog_batch` (same schema, prompt, asset creation and call count, by
import), for issue 11's "Benchmark":

1. starts the emulator as a process (``EmulatorProcess``) with the same realistic timing: analyze
   tasks and batches move one lifecycle step every ``--step-seconds`` (``polls_per_step=0``) and,
   once the ``--videos`` ready assets exist, every API answer is delayed by ``--latency-ms``
   (``slow_rate=1``, ``slow_response_ms``);
2. writes two DAG files (and a JSON file of their parameters) into a temporary folder:
   ``bench_sync``, ``TwelveLabsAnalyzeOperator.partial(...).expand(asset_id=[...])`` (one mapped task
   instance per video), and ``bench_batch``, one deferrable ``TwelveLabsCreateAnalyzeBatchOperator``;
3. runs each with ``airflow dags test`` in its own throwaway Airflow home (migrated SQLite, the
   ``twelvelabs_default`` connection pointing at the emulator: ``testing.dag_test.run_dag_test``);
4. reads the run's task instances from that home's metadata database: worker-slot seconds are the
   sum over task instances of ``end_date - start_date`` minus the time each spent deferred.

Deferred time: Airflow 3 keeps a task instance's ``start_date`` when it resumes from a deferral,
so ``end_date - start_date`` includes the wait. The execution API writes an audit row to the
metadata ``log`` table at every state change of a task instance: ``running`` when it starts *and*
when it resumes, and ``deferred`` when it defers (then ``success``/``failed``). A deferral lasts
from its ``deferred`` row to the task instance's next ``running`` row; the sum of those spans is
its deferred time. (``airflow dags test`` runs the trigger inline between the two; its
``[DAG TEST] running trigger in line`` / ``Trigger completed`` lines bound the same span.)

API calls: ``/v1.3`` requests in the emulator's request log during each run.

Run: ``python benchmarks/catalog_batch_airflow.py`` (200 videos; the synchronous DAG's 200 mapped
task instances run one after another under ``dags test``: about 6 minutes on 2 loaded cores).
Figures in docs/benchmarks.md. A benchmark, not a test: it is not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

# The script's folder is on sys.path when it is run as a file: the in-process benchmark's schema,
# prompt, asset creation and call count, reused.
from catalog_batch import PROMPT, SCHEMA, _api_calls, _assets

_SYNC_DAG = '''\
"""bench_sync: one synchronous analyze per video, as a mapped task (catalog_batch_airflow.py)."""

import json
from pathlib import Path

import pendulum
from airflow.providers.common.compat.sdk import DAG

from airflow_provider_twelvelabs.operators.analyze import TwelveLabsAnalyzeOperator

PARAMS = json.loads(Path(__file__).with_name("bench_params.json").read_text())

with DAG("bench_sync", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False):
    TwelveLabsAnalyzeOperator.partial(
        task_id="analyze", prompt=PARAMS["prompt"], response_format=PARAMS["schema"]
    ).expand(asset_id=PARAMS["asset_ids"])
'''

_BATCH_DAG = '''\
"""bench_batch: one deferrable analyze batch for every video (catalog_batch_airflow.py)."""

import json
from pathlib import Path

import pendulum
from airflow.providers.common.compat.sdk import DAG

from airflow_provider_twelvelabs.operators.analyze_async import TwelveLabsCreateAnalyzeBatchOperator

PARAMS = json.loads(Path(__file__).with_name("bench_params.json").read_text())

with DAG("bench_batch", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False):
    TwelveLabsCreateAnalyzeBatchOperator(
        task_id="analyze",
        items=PARAMS["asset_ids"],
        prompt=PARAMS["prompt"],
        json_schema=PARAMS["schema"],
        output_path=PARAMS["output_path"],
        deferrable=True,
        poll_interval=PARAMS["poll_interval"],
    )
'''


def _when(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _slot_seconds(database: Path, dag_id: str) -> dict[str, Any]:
    """Worker-slot and deferred seconds of ``dag_id``'s task instances, from the metadata database."""
    with sqlite3.connect(database) as db:
        instances = db.execute(
            "SELECT task_id, map_index, state, start_date, end_date FROM task_instance WHERE dag_id = ?",
            (dag_id,),
        ).fetchall()
        events = db.execute(
            "SELECT task_id, map_index, event, dttm FROM log "
            "WHERE dag_id = ? AND event IN ('running', 'deferred') ORDER BY dttm, id",
            (dag_id,),
        ).fetchall()
    deferred: dict[tuple[str, int], float] = {}
    deferrals: dict[tuple[str, int], int] = {}
    since: dict[tuple[str, int], datetime] = {}
    for task_id, map_index, event, dttm in events:
        key, at = (task_id, map_index), _when(dttm)
        assert at is not None
        if event == "deferred":
            since[key] = at
            deferrals[key] = deferrals.get(key, 0) + 1
        elif key in since:
            deferred[key] = deferred.get(key, 0.0) + (at - since.pop(key)).total_seconds()
    held = spent_deferred = 0.0
    states: dict[str, int] = {}
    for task_id, map_index, state, start, end in instances:
        states[state] = states.get(state, 0) + 1
        started, ended = _when(start), _when(end)
        if started is None or ended is None:
            continue
        key = (task_id, map_index)
        held += (ended - started).total_seconds() - deferred.get(key, 0.0)
        spent_deferred += deferred.get(key, 0.0)
    return {
        "task_instances": len(instances),
        "states": states,
        "worker_slot_s": held,
        "deferred_s": spent_deferred,
        "deferrals": sum(deferrals.values()),
        "unresumed_deferrals": len(since),
    }


def main() -> None:
    """Run both DAGs and print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=200)
    parser.add_argument("--latency-ms", type=float, default=1000.0)
    parser.add_argument("--step-seconds", type=float, default=5.0)
    parser.add_argument("--poll-interval", type=float, default=5.0)
    parser.add_argument("--timeout", type=float, default=7200.0, help="seconds each dags test may take")
    parser.add_argument("--keep", action="store_true", help="keep the DAG folder and Airflow homes")
    args = parser.parse_args()

    from airflow_provider_twelvelabs.testing.dag_test import run_dag_test
    from airflow_provider_twelvelabs.testing.emulator.process import EmulatorProcess

    work = Path(tempfile.mkdtemp(prefix="catalog-batch-airflow-"))
    dags = work / "dags"
    dags.mkdir()
    figures: dict[str, Any] = {
        "videos": args.videos,
        "latency_ms": args.latency_ms,
        "step_seconds": args.step_seconds,
        "poll_interval": args.poll_interval,
    }
    try:
        with EmulatorProcess(step_seconds=args.step_seconds, polls_per_step=0) as emulator:
            ids = _assets(emulator.base_url, emulator.api_key, args.videos)
            params = {
                "asset_ids": ids,
                "prompt": PROMPT,
                "schema": SCHEMA,
                "output_path": str(work / "batch_results.jsonl"),
                "poll_interval": args.poll_interval,
            }
            (dags / "bench_params.json").write_text(json.dumps(params))
            (dags / "bench_sync.py").write_text(_SYNC_DAG)
            (dags / "bench_batch.py").write_text(_BATCH_DAG)
            emulator.configure(slow_rate=1.0, slow_response_ms=args.latency_ms)
            for name in ("sync", "batch"):
                dag_id = f"bench_{name}"
                _, mark = _api_calls(emulator.url, 0)
                started = time.monotonic()
                result = run_dag_test(
                    dags / f"{dag_id}.py",
                    base_url=emulator.base_url,
                    api_key=emulator.api_key,
                    dag_id=dag_id,
                    home=work / f"home-{name}",
                    fast_polls=False,
                    timeout=args.timeout,
                )
                calls, _ = _api_calls(emulator.url, mark)
                slots = _slot_seconds(result.home / "airflow.db", dag_id)
                figures[name] = {
                    "dag_run": result.state,
                    "api_calls": calls,
                    **slots,
                    "worker_slot_s": round(slots["worker_slot_s"], 1),
                    "deferred_s": round(slots["deferred_s"], 1),
                    "dags_test_s": round(result.duration, 1),
                    "with_migration_s": round(time.monotonic() - started, 1),
                }
                if name == "batch":
                    figures[name]["returned"] = result.returns.get("analyze")
                print(json.dumps({name: figures[name]}, default=str), file=sys.stderr, flush=True)
    finally:
        if args.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    sync, batch = figures["sync"], figures["batch"]
    figures["ratios"] = {
        "api_calls": round(batch["api_calls"] / sync["api_calls"], 4),
        "worker_slot_s": round(batch["worker_slot_s"] / sync["worker_slot_s"], 4),
    }
    figures["targets"] = {"api_calls": 0.05, "worker_slot_s": 0.1}
    print(json.dumps(figures, indent=2, default=str))


if __name__ == "__main__":
    main()
