"""Benchmark: cataloguing videos with one analyze batch vs one synchronous ``/analyze`` per video.

What it does (issue 11, "Benchmark"):

1. serves the emulator on 127.0.0.1 (in a thread) with realistic timing: every API answer is
   delayed by ``--latency-ms`` (``slow_rate=1``, ``slow_response_ms``; a synchronous ``/analyze``
   is one such answer, standing for Pegasus's generation time) and analyze tasks and batches move
   one lifecycle step every ``--step-seconds`` (``step_seconds``, ``polls_per_step=0``);
2. creates ``--videos`` ready assets by URL;
3. **sync**: one ``TwelveLabsAnalyzeOperator`` per video (as a mapped task would), the catalog
   JSON schema as ``response_format``; every second of it holds a worker slot;
4. **batch**: one deferrable ``TwelveLabsCreateAnalyzeBatchOperator`` for all videos; its
   deferrals are run as a triggerer would (``trigger.run()`` in an event loop) and resumed with
   ``execute_complete``; only the time inside ``execute``/``execute_complete`` holds a worker slot;
5. reports, per path: API calls (from the emulator's request log), worker-slot seconds, and the
   ratios batch/sync.

Run: ``python benchmarks/catalog_batch.py`` (200 videos, a few minutes). The same comparison as real
DAG runs under ``airflow dags test``: ``benchmarks/catalog_batch_airflow.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

SCHEMA = {
    "type": "object",
    "properties": {
        "title": {"type": "string"},
        "topics": {"type": "array", "items": {"type": "string"}},
        "hashtags": {"type": "array", "items": {"type": "string"}},
        "summary": {"type": "string"},
        "chapters": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "start_time": {"type": "number"},
                    "end_time": {"type": "number"},
                    "title": {"type": "string"},
                },
            },
        },
    },
    "required": ["title", "topics", "hashtags", "summary", "chapters"],
}
PROMPT = "Title, topics, hashtags, a two-sentence summary and the chapters of this video."


class _TI:
    """The little of a task instance the operators use outside Airflow: XCom pushes, ignored."""

    stats_tags: dict[str, str] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        """Ignore an XCom push.

        :param key: the key.
        :param value: the value.
        """


def _context() -> Any:
    return {"ti": _TI()}


def _api_calls(url: str, since: int) -> tuple[int, int]:
    log = httpx.get(f"{url}/_emulator/requests", timeout=60).json()["data"]
    return sum(1 for e in log[since:] if e["path"].startswith("/v1.3")), len(log)


def _assets(base_url: str, api_key: str, n: int) -> list[str]:
    def create(i: int) -> str:
        with httpx.Client(base_url=base_url, headers={"x-api-key": api_key}, timeout=60) as client:
            asset = client.post(
                "/assets",
                files={
                    "method": (None, "url"),
                    "url": (None, f"https://media.example.com/v{i}.mp4?duration=600"),
                },
            ).json()["_id"]
            while client.get(f"/assets/{asset}").json()["status"] != "ready":
                time.sleep(0.05)
            return str(asset)

    with ThreadPoolExecutor(16) as pool:
        return list(pool.map(create, range(n)))


def _sync(ids: list[str]) -> float:
    from airflow_provider_twelvelabs.operators.analyze import TwelveLabsAnalyzeOperator

    held = 0.0
    for i, asset_id in enumerate(ids):
        op = TwelveLabsAnalyzeOperator(
            task_id=f"analyze_{i}", asset_id=asset_id, prompt=PROMPT, response_format=SCHEMA
        )
        start = time.monotonic()
        op.execute(_context())
        held += time.monotonic() - start
    return held


def _batch(ids: list[str], out: str, poll: float) -> tuple[float, float, dict[str, Any]]:
    from airflow.providers.common.compat.sdk import TaskDeferred

    from airflow_provider_twelvelabs.hooks.twelvelabs import TwelveLabsHook
    from airflow_provider_twelvelabs.operators.analyze_async import TwelveLabsCreateAnalyzeBatchOperator

    def operator() -> TwelveLabsCreateAnalyzeBatchOperator:
        return TwelveLabsCreateAnalyzeBatchOperator(
            task_id="analyze",
            items=ids,
            prompt=PROMPT,
            json_schema=SCHEMA,
            output_path=out,
            deferrable=True,
            poll_interval=poll,
        )

    async def run() -> tuple[float, float, dict[str, Any]]:
        held = deferred = 0.0
        start = time.monotonic()
        step: Any = None
        manifest: dict[str, Any] = {}
        try:
            manifest = operator().execute(_context())
        except TaskDeferred as exc:
            step = exc
        held += time.monotonic() - start
        while step is not None:
            start = time.monotonic()
            event = await anext(step.trigger.run())
            deferred += time.monotonic() - start
            start = time.monotonic()
            try:
                manifest = operator().execute_complete(_context(), event.payload, **step.kwargs)
                step = None
            except TaskDeferred as exc:
                step = exc
            held += time.monotonic() - start
        await TwelveLabsHook.aclose_shared_clients()
        return held, deferred, manifest

    return asyncio.run(run())


def main() -> None:
    """Run both paths and print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=200)
    parser.add_argument("--latency-ms", type=float, default=1000.0)
    parser.add_argument("--step-seconds", type=float, default=5.0)
    parser.add_argument("--poll-interval", type=float, default=5.0)
    parser.add_argument("--output", default="/tmp/catalog_batch_results.jsonl")
    args = parser.parse_args()

    from airflow_provider_twelvelabs.testing.emulator import EmulatorConfig
    from airflow_provider_twelvelabs.testing.emulator.server import serve_emulator
    from airflow_provider_twelvelabs.testing.pytest_plugin import connection_json, connection_variable

    config = EmulatorConfig(polls_per_step=0, step_seconds=args.step_seconds, max_request_log=1_000_000)
    with serve_emulator(config) as emulator:
        os.environ[connection_variable()] = connection_json(emulator.base_url, emulator.api_key)
        ids = _assets(emulator.base_url, emulator.api_key, args.videos)
        httpx.post(
            f"{emulator.url}/_emulator/config",
            json={"slow_rate": 1.0, "slow_response_ms": args.latency_ms},
        )
        _, mark = _api_calls(emulator.url, 0)
        wall = time.monotonic()
        sync_held = _sync(ids)
        sync_wall = time.monotonic() - wall
        sync_calls, mark = _api_calls(emulator.url, mark)
        if os.path.exists(args.output):
            os.remove(args.output)
        wall = time.monotonic()
        batch_held, batch_deferred, manifest = _batch(ids, args.output, args.poll_interval)
        batch_wall = time.monotonic() - wall
        batch_calls, _ = _api_calls(emulator.url, mark)
    figures = {
        "videos": args.videos,
        "latency_ms": args.latency_ms,
        "step_seconds": args.step_seconds,
        "sync": {
            "api_calls": sync_calls,
            "worker_slot_s": round(sync_held, 1),
            "wall_s": round(sync_wall, 1),
        },
        "batch": {
            "api_calls": batch_calls,
            "worker_slot_s": round(batch_held, 1),
            "deferred_s": round(batch_deferred, 1),
            "wall_s": round(batch_wall, 1),
            "statuses": manifest.get("statuses"),
        },
        "ratios": {
            "api_calls": round(batch_calls / sync_calls, 4),
            "worker_slot_s": round(batch_held / sync_held, 4),
        },
        "targets": {"api_calls": 0.05, "worker_slot_s": 0.1},
    }
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
