"""Benchmark: write the embeddings of a 4-hour video to JSON Lines and Parquet; time and peak RSS.

A simulated 4-hour video (``?duration=14400`` on the emulator) embedded by an async Embed API v2
task with 6-second fixed segments and three options gives 2,400 segments x 3 options = 7,200
vectors of 512 floats: about 35 MB of JSON. Each variant runs in its own subprocess, which
imports what it needs first, resets the kernel's peak-RSS mark (``/proc/self/clear_refs``) and
then fetches the finished task from the emulator (served by another process on 127.0.0.1):

* ``httpx_json``: ``httpx.get(url).json()``, the plain way (the reference);
* ``pydantic``: ``TwelveLabsHook.get_embedding_task`` (answer parsed into the pydantic model);
* ``status_poll`` / ``status_poll_async``: the status read the wait uses (``get_embedding_task``
  with ``with_data=False``, sync and async): the vectors are read and dropped (rows = 1 when ready);
* ``jsonl`` / ``parquet``: what ``TwelveLabsCreateEmbeddingTaskOperator`` does once the task is
  ready: the answer read as a stream and written row by row.

Run: ``.venv/bin/python benchmarks/embedding_results.py`` (``--hours``, ``--segment`` to change
the size). Linux only (reads ``/proc/self/status``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

API_KEY = "tlk_benchmark_key"
VARIANTS = ("httpx_json", "pydantic", "status_poll", "status_poll_async", "jsonl", "parquet")
_MB = 1024 * 1024


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _reset_peak() -> None:
    # Writing 5 resets VmHWM to the current RSS (Linux >= 4.0), so the peak covers the work only.
    Path("/proc/self/clear_refs").write_text("5")


def _connection(base_url: str) -> str:
    return json.dumps({"conn_type": "twelvelabs", "host": base_url, "password": API_KEY})


# --------------------------------------------------------------------------- child: one variant


def run_variant(variant: str, base_url: str, task_id: str, out_dir: str) -> dict[str, Any]:
    """Run one variant in this process and return its measurements.

    :param variant: one of :data:`VARIANTS`.
    :param base_url: the emulator's API base URL.
    :param task_id: the ready task.
    :param out_dir: where the output files go.
    """
    os.environ["AIRFLOW_CONN_TWELVELABS_DEFAULT"] = _connection(base_url)
    if variant == "httpx_json":
        import httpx

        def work() -> int:
            payload = httpx.get(
                f"{base_url}/embed-v2/tasks/{task_id}", headers={"x-api-key": API_KEY}, timeout=300
            ).json()
            return len(payload["data"])

    elif variant == "pydantic":
        from airflow_provider_twelvelabs.hooks.twelvelabs import TwelveLabsHook

        hook = TwelveLabsHook()
        hook.get_conn()

        def work() -> int:
            return len(hook.get_embedding_task(task_id).data or [])

    elif variant == "status_poll":
        from airflow_provider_twelvelabs.hooks.twelvelabs import TwelveLabsHook

        hook = TwelveLabsHook()
        hook.get_conn()

        def work() -> int:
            return int(hook.get_embedding_task_status(task_id).status == "ready")

    elif variant == "status_poll_async":
        import asyncio

        from airflow_provider_twelvelabs.hooks.twelvelabs import TwelveLabsHook

        hook = TwelveLabsHook()

        async def poll() -> int:
            await hook.aget_conn()
            try:
                task = await hook.aget_embedding_task_status(task_id)
            finally:
                await TwelveLabsHook.aclose_shared_clients()
            return int(task.status == "ready")

        def work() -> int:
            return asyncio.run(poll())

    else:
        from airflow_provider_twelvelabs.hooks.twelvelabs import TwelveLabsHook
        from airflow_provider_twelvelabs.operators.embed import TwelveLabsCreateEmbeddingTaskOperator

        if variant == "parquet":
            import pyarrow.parquet  # noqa: F401 - imported before the measurement, like the hook

        op = TwelveLabsCreateEmbeddingTaskOperator(
            task_id="bench",
            url="https://media.test/long.mp4",
            output_path=str(Path(out_dir) / f"embeddings.{variant}"),
            output_format=variant,
        )
        op.hook.get_conn()

        def work() -> int:
            manifest = op.on_resource_ready({}, "embed_v2_task", {"id": task_id, "status": "ready"})
            return int(manifest["count"])

    baseline_kb = _status_kb("VmRSS")
    _reset_peak()
    started = time.perf_counter()
    rows = work()
    seconds = time.perf_counter() - started
    peak_kb = _status_kb("VmHWM")
    return {
        "variant": variant,
        "rows": rows,
        "seconds": round(seconds, 2),
        "baseline_mb": round(baseline_kb / 1024, 1),
        "peak_mb": round(peak_kb / 1024, 1),
        "increment_mb": round((peak_kb - baseline_kb) / 1024, 1),
    }


# --------------------------------------------------------------------------- parent


def main() -> None:
    """Serve the emulator, prepare the task, run every variant in a subprocess, print a table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--hours", type=float, default=4.0, help="simulated video length (default 4)")
    parser.add_argument("--segment", type=int, default=6, help="fixed segment length in seconds (default 6)")
    parser.add_argument("--variant", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--task-id", help=argparse.SUPPRESS)
    parser.add_argument("--out-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:
        print(json.dumps(run_variant(args.variant, args.base_url, args.task_id, args.out_dir)))
        return

    import httpx

    from airflow_provider_twelvelabs.testing.emulator.process import EmulatorProcess

    emulator = EmulatorProcess(api_key=API_KEY).start()
    base_url, root = emulator.base_url, emulator.url
    try:
        os.environ["AIRFLOW_CONN_TWELVELABS_DEFAULT"] = _connection(base_url)
        from airflow_provider_twelvelabs.hooks.twelvelabs import TwelveLabsHook

        with TwelveLabsHook() as hook:
            task = hook.create_embedding_task(
                {
                    "input_type": "video",
                    "model_name": "marengo3.0",
                    "video": {
                        "media_source": {
                            "url": f"https://media.test/long.mp4?duration={int(args.hours * 3600)}"
                        },
                        "segmentation": {"strategy": "fixed", "fixed": {"duration_sec": args.segment}},
                        "embedding_option": ["visual", "audio", "transcription"],
                        "embedding_scope": ["clip"],
                    },
                }
            )
        httpx.post(f"{root}/_emulator/advance", json={"complete": True}, timeout=30)
        # One full read renders (and caches) the answer in the emulator and measures it.
        payload_bytes = 0
        with httpx.stream(
            "GET", f"{base_url}/embed-v2/tasks/{task.id}", headers={"x-api-key": API_KEY}, timeout=300
        ) as response:
            for chunk in response.iter_bytes():
                payload_bytes += len(chunk)
        payload_mb = payload_bytes / _MB
        print(f"Task {task.id}: {payload_mb:.1f} MB of JSON ({args.hours:g} h, {args.segment} s segments)")
        results = []
        with tempfile.TemporaryDirectory() as out_dir:
            for variant in VARIANTS:
                child = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--variant",
                        variant,
                        "--base-url",
                        base_url,
                        "--task-id",
                        task.id,
                        "--out-dir",
                        out_dir,
                    ],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                result = json.loads(child.stdout.strip().splitlines()[-1])
                written = Path(out_dir) / f"embeddings.{variant}"
                result["file_mb"] = round(written.stat().st_size / _MB, 1) if written.exists() else None
                results.append(result)
    finally:
        emulator.stop(timeout=10)

    print()
    print(f"payload: {payload_mb:.1f} MB; target: peak RSS <= 3 x payload = {3 * payload_mb:.0f} MB")
    print()
    print(
        "| variant | rows | time (s) | RSS before (MB) | peak RSS (MB) | peak - before (MB) "
        "| (peak - before) / payload | peak / payload | file (MB) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['variant']} | {r['rows']} | {r['seconds']} | {r['baseline_mb']} | {r['peak_mb']} | "
            f"{r['increment_mb']} | {r['increment_mb'] / payload_mb:.2f}x | "
            f"{r['peak_mb'] / payload_mb:.2f}x | {r['file_mb'] if r['file_mb'] is not None else '-'} |"
        )


if __name__ == "__main__":
    main()
