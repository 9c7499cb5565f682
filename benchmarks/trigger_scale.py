"""Benchmark: 1,000 TwelveLabsResourceTriggers in one event loop against a rate-limited account.

What it does (issue 5, "Benchmark"):

1. starts the emulator in a subprocess on a free loopback port, with lifecycles that only move
   when told to (``--polls-per-step 0 --step-seconds 0``), and creates one index with ``--tasks``
   legacy indexing tasks;
2. a driver thread marks each task ``ready`` (``POST /_emulator/advance``) at a random moment
   between ``--min-seconds`` and ``--max-seconds`` after the start, and notes when;
3. **shared**: with the emulator's rate limit at ``--rate-limit`` requests per minute, runs one
   :class:`TwelveLabsResourceTrigger` per task in this process's event loop, as a triggerer would;
4. **baseline**: in the same run, on fresh tasks and without the rate limit, one coroutine per task
   polls ``GET /tasks/{id}`` every ``--baseline-interval`` seconds through one shared client;
5. reports, per phase: API calls (from the emulator's request log), 429 answers, median and p95
   detection latency (from the moment a task is marked ready to its event) and p99 event-loop lag
   (a 10 ms ticker); then, in a separate short step per phase (tracemalloc slows the loop, so it
   is kept out of the timed runs), the Python memory held per waiting trigger or coroutine: the
   traced heap growth once ``--tasks`` waiters on never-finishing tasks have polled a few times.

Run: ``python benchmarks/trigger_scale.py`` (about 5 minutes), or for a quick look
``python benchmarks/trigger_scale.py --tasks 200 --min-seconds 10 --max-seconds 20``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import statistics
import sys
import threading
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from airflow_provider_twelvelabs.testing.emulator.process import EmulatorProcess

TARGETS = {
    "call_ratio": 0.1,
    "rate_limited_share": 0.01,
    "median_latency_s": 5.0,
    "p99_lag_ms": 20.0,
    "kb_per_trigger": 50.0,
}


@dataclass
class Emulator:
    process: EmulatorProcess
    base_url: str
    api_key: str

    @property
    def root(self) -> str:
        return self.base_url.rsplit("/v1.3", 1)[0]

    def control(self, method: str, path: str, **kwargs: Any) -> Any:
        response = httpx.request(method, f"{self.root}/_emulator/{path}", timeout=120, **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None

    def stop(self) -> None:
        self.process.stop(timeout=10)


def start_emulator() -> Emulator:
    api_key = "tlk_benchmark_key"
    from airflow_provider_twelvelabs.testing.emulator.process import EmulatorProcess

    process = EmulatorProcess(api_key=api_key, polls_per_step=0, step_seconds=0).start()
    emulator = Emulator(process, process.base_url, api_key)
    # A large log: the baseline makes tens of thousands of calls.
    emulator.control("POST", "config", json={"max_request_log": 1_000_000})
    return emulator


def create_tasks(emulator: Emulator, index_id: str, count: int, prefix: str) -> list[str]:
    headers = {"x-api-key": emulator.api_key}

    def create(i: int) -> str:
        with httpx.Client(base_url=emulator.base_url + "/", headers=headers, timeout=60) as client:
            response = client.post(
                "tasks",
                data={"index_id": index_id, "video_url": f"https://media.example.com/{prefix}-{i}.mp4"},
                files={"_": ("", b"")},
            )
            response.raise_for_status()
            return str(response.json()["_id"])

    with ThreadPoolExecutor(16) as pool:
        return list(pool.map(create, range(count)))


class Driver(threading.Thread):
    """Marks tasks ready at their scheduled moments and notes when (epoch seconds)."""

    def __init__(self, emulator: Emulator, schedule: dict[str, float]) -> None:
        super().__init__(daemon=True)
        self.emulator = emulator
        self.schedule = sorted((at, task) for task, at in schedule.items())
        self.ready_at: dict[str, float] = {}

    def run(self) -> None:
        with httpx.Client(timeout=60) as client:
            i = 0
            while i < len(self.schedule):
                due, _ = self.schedule[i]
                wait = due - time.time()
                if wait > 0:
                    time.sleep(min(wait, 0.05))
                    continue
                batch = []
                while i < len(self.schedule) and self.schedule[i][0] <= time.time() + 0.01:
                    batch.append(self.schedule[i][1])
                    i += 1
                sent = time.time()
                client.post(
                    f"{self.emulator.root}/_emulator/advance", json={"complete": True, "ids": batch}
                ).raise_for_status()
                for task in batch:
                    self.ready_at[task] = sent


@dataclass
class PhaseResult:
    name: str
    tasks: int
    finished: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    api_calls: int = 0
    rate_limited: int = 0
    latencies: list[float] = field(default_factory=list)
    lags_ms: list[float] = field(default_factory=list)
    kb_per_waiter: float = 0.0
    wall_s: float = 0.0

    def summary(self) -> dict[str, Any]:
        lat = sorted(self.latencies)
        lags = sorted(self.lags_ms)

        def pct(values: list[float], p: float) -> float:
            return values[min(len(values) - 1, int(p * len(values)))] if values else float("nan")

        return {
            "phase": self.name,
            "tasks": self.tasks,
            "finished": self.finished,
            "statuses": self.statuses,
            "api_calls": self.api_calls,
            "calls_per_task": round(self.api_calls / self.tasks, 2),
            "rate_limited": self.rate_limited,
            "rate_limited_share": round(self.rate_limited / max(1, self.api_calls), 4),
            "median_latency_s": round(statistics.median(lat), 2) if lat else None,
            "p95_latency_s": round(pct(lat, 0.95), 2),
            "max_latency_s": round(lat[-1], 2) if lat else None,
            "p99_lag_ms": round(pct(lags, 0.99), 1),
            "max_lag_ms": round(lags[-1], 1) if lags else None,
            "kb_per_trigger": round(self.kb_per_waiter, 1),
            "wall_s": round(self.wall_s, 1),
        }


async def lag_monitor(stop: asyncio.Event, lags: list[float]) -> None:
    tick = 0.01
    while not stop.is_set():
        started = time.perf_counter()
        await asyncio.sleep(tick)
        lags.append((time.perf_counter() - started - tick) * 1000)


async def run_phase(
    name: str,
    emulator: Emulator,
    tasks: list[str],
    durations: tuple[float, float],
    seed: int,
    make_waiter: Callable[[str, dict[str, tuple[str, float]]], Awaitable[None]],
) -> PhaseResult:
    rng = random.Random(seed)
    emulator.control("DELETE", "requests")
    result = PhaseResult(name, len(tasks))
    events: dict[str, tuple[str, float]] = {}
    stop = asyncio.Event()
    monitor = asyncio.create_task(lag_monitor(stop, result.lags_ms))
    t0 = time.time()
    driver = Driver(emulator, {task: t0 + rng.uniform(*durations) for task in tasks})
    driver.start()
    waiters = [asyncio.create_task(make_waiter(task, events)) for task in tasks]
    await asyncio.wait(waiters, timeout=durations[1] + 180)
    result.wall_s = time.time() - t0
    stop.set()
    await monitor
    driver.join(timeout=5)
    for waiter in waiters:
        waiter.cancel()
    log = emulator.control("GET", "requests")["data"]
    api = [e for e in log if e["path"].startswith("/v1.3/")]
    result.api_calls = len(api)
    result.rate_limited = sum(1 for e in api if e["status"] == 429)
    for task, (status, at) in events.items():
        result.statuses[status] = result.statuses.get(status, 0) + 1
        if task in driver.ready_at:
            result.latencies.append(at - driver.ready_at[task])
    result.finished = sum(1 for status, _ in events.values() if status == "success")
    return result


async def measure_memory(
    tasks: list[str],
    make_waiter: Callable[[str, dict[str, tuple[str, float]]], Awaitable[None]],
    settle: float,
) -> float:
    """Return the traced Python heap growth per waiter (KB) once waiters on stuck tasks are set up."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    events: dict[str, tuple[str, float]] = {}
    waiters = [asyncio.create_task(make_waiter(task, events)) for task in tasks]
    await asyncio.sleep(settle)
    gc.collect()
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    for waiter in waiters:
        waiter.cancel()
    await asyncio.gather(*waiters, return_exceptions=True)
    return grown / 1024 / len(tasks)


def trigger_waiter(
    index_id: str, deadline: float
) -> Callable[[str, dict[str, tuple[str, float]]], Awaitable[None]]:
    from airflow_provider_twelvelabs.triggers.twelvelabs import TwelveLabsResourceTrigger

    async def wait(task: str, events: dict[str, tuple[str, float]]) -> None:
        trigger = TwelveLabsResourceTrigger(
            kind="indexing_task", resource_id=task, index_id=index_id, deadline=deadline
        )
        # As the triggerer does: the trigger is rebuilt from its serialized kwargs.
        trigger = TwelveLabsResourceTrigger(**trigger.serialize()[1])
        async for event in trigger.run():
            events[task] = (event.payload["status"], time.time())

    return wait


def baseline_waiter(
    interval: float, seed: int
) -> Callable[[str, dict[str, tuple[str, float]]], Awaitable[None]]:
    from airflow_provider_twelvelabs.hooks.twelvelabs import TwelveLabsHook

    hook = TwelveLabsHook()
    rng = random.Random(seed)

    async def wait(task: str, events: dict[str, tuple[str, float]]) -> None:
        # Triggers start at different moments in a real triggerer: spread the first polls.
        await asyncio.sleep(rng.uniform(0, interval))
        while True:
            status = (await hook.aget_indexing_task(task)).status
            if status in ("ready", "failed"):
                events[task] = ("success" if status == "ready" else status, time.time())
                return
            await asyncio.sleep(interval)

    return wait


async def shared_phase(
    emulator: Emulator, index_id: str, tasks: list[str], stuck: list[str], args: argparse.Namespace
) -> PhaseResult:
    from airflow_provider_twelvelabs.hooks.twelvelabs import TwelveLabsHook

    deadline = time.time() + args.max_seconds + 150
    try:
        result = await run_phase(
            "shared poller (this provider)",
            emulator,
            tasks,
            (args.min_seconds, args.max_seconds),
            args.seed,
            trigger_waiter(index_id, deadline),
        )
        if stuck:
            result.kb_per_waiter = await measure_memory(stuck, trigger_waiter(index_id, deadline), 8.0)
        return result
    finally:
        await TwelveLabsHook.aclose_shared_clients()


async def baseline_phase(
    emulator: Emulator, tasks: list[str], stuck: list[str], args: argparse.Namespace
) -> PhaseResult:
    from airflow_provider_twelvelabs.hooks.twelvelabs import TwelveLabsHook

    interval = args.baseline_interval
    try:
        result = await run_phase(
            f"baseline (one coroutine per task, every {interval:g} s)",
            emulator,
            tasks,
            (args.min_seconds, args.max_seconds),
            args.seed + 2,
            baseline_waiter(interval, args.seed + 1),
        )
        if stuck:
            result.kb_per_waiter = await measure_memory(stuck, baseline_waiter(interval, args.seed + 3), 8.0)
        return result
    finally:
        await TwelveLabsHook.aclose_shared_clients()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--min-seconds", type=float, default=60.0)
    parser.add_argument("--max-seconds", type=float, default=120.0)
    parser.add_argument(
        "--rate-limit", type=int, default=600, help="emulator requests per minute (shared phase)"
    )
    parser.add_argument("--baseline-interval", type=float, default=5.0)
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--skip-memory", action="store_true", help="skip the tracemalloc memory step")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", dest="json_path", help="also write the results to this file")
    args = parser.parse_args(argv)

    # Import before the timed event loops: a first import inside them would show as loop lag.
    import airflow_provider_twelvelabs.triggers.poller
    import airflow_provider_twelvelabs.triggers.twelvelabs  # noqa: F401

    emulator = start_emulator()
    try:
        os.environ["AIRFLOW_CONN_TWELVELABS_DEFAULT"] = json.dumps(
            {"conn_type": "twelvelabs", "host": emulator.base_url, "password": emulator.api_key}
        )
        headers = {"x-api-key": emulator.api_key}
        index = httpx.post(
            emulator.base_url + "/indexes",
            headers=headers,
            json={
                "index_name": "bench",
                "models": [{"model_name": "marengo3.0", "model_options": ["visual"]}],
            },
        ).json()["_id"]
        print(f"emulator at {emulator.base_url}; creating {args.tasks} tasks per phase...", flush=True)
        shared_tasks = create_tasks(emulator, index, args.tasks, "shared")
        baseline_tasks = [] if args.skip_baseline else create_tasks(emulator, index, args.tasks, "baseline")
        # Tasks nobody marks ready, for the memory step (same count as the timed phases).
        stuck = [] if args.skip_memory else create_tasks(emulator, index, args.tasks, "stuck")

        emulator.control("POST", "config", json={"rate_limit_rpm": args.rate_limit})
        print(f"shared phase: {args.tasks} triggers, rate limit {args.rate_limit} rpm...", flush=True)
        shared = asyncio.run(shared_phase(emulator, index, shared_tasks, stuck, args)).summary()
        results = {"shared": shared}
        print(json.dumps(shared, indent=2), flush=True)

        if not args.skip_baseline:
            emulator.control("POST", "config", json={"rate_limit_rpm": None})
            print(f"baseline phase: {args.tasks} coroutines, no rate limit...", flush=True)
            baseline = asyncio.run(baseline_phase(emulator, baseline_tasks, stuck, args)).summary()
            results["baseline"] = baseline
            print(json.dumps(baseline, indent=2), flush=True)
            ratio = shared["api_calls"] / max(1, baseline["api_calls"])
            results["ratios"] = {
                "api_calls_vs_baseline": round(ratio, 4),
                "median_latency_vs_baseline": round(
                    (shared["median_latency_s"] or 0) / max(1e-9, baseline["median_latency_s"] or 0), 2
                ),
            }
        checks = {
            "all finished": shared["finished"] == args.tasks,
            "<= 1% of calls answered 429": shared["rate_limited_share"] <= TARGETS["rate_limited_share"],
            "median detection <= 5 s": (shared["median_latency_s"] or 1e9) <= TARGETS["median_latency_s"],
            "p99 loop lag < 20 ms": shared["p99_lag_ms"] < TARGETS["p99_lag_ms"],
            "< 50 KB per trigger": args.skip_memory or shared["kb_per_trigger"] < TARGETS["kb_per_trigger"],
        }
        if "ratios" in results:
            checks["<= 0.1x baseline calls"] = (
                results["ratios"]["api_calls_vs_baseline"] <= TARGETS["call_ratio"]
            )
        results["targets_met"] = checks
        print(json.dumps({k: v for k, v in results.items() if k in ("ratios", "targets_met")}, indent=2))
        if args.json_path:
            with open(args.json_path, "w") as handle:
                json.dump({"args": vars(args), **results}, handle, indent=2)
        return 0 if all(checks.values()) else 1
    finally:
        emulator.stop()


if __name__ == "__main__":
    sys.exit(main())
