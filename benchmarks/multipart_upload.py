"""Multipart upload throughput and peak memory: ours, the official SDK's helper, and one raw PUT.

For each network profile the emulator runs as a CLI subprocess (its CPU and memory are its own),
and every measurement runs in a fresh Python subprocess so that its peak RSS is its own too:

* ``ours``: ``TwelveLabsHook.multipart_upload`` (parallel ranged reads, no temporary copy);
* ``sdk``: ``twelvelabs==1.3.6`` ``client.multipart_upload.upload_file`` with its defaults;
* ``raw``: one streamed PUT of the whole file to the presigned URL of a one-chunk session (the
  ceiling: no chunking, no API calls, one connection);
* ``threads`` and ``asyncio`` (not run by default): the bare transport, every presigned URL fetched
  first, then N parallel chunk PUTs on worker threads with a sync httpx client or on one asyncio
  loop with an ``AsyncClient``, to choose the engine's model (``--variants threads asyncio``).

Variants alternate round by round so that drift on a shared machine hits them all alike; the
median and the best of each are reported. Every upload is checked: the emulator's MD5 of the
stored asset must equal the source's. While each variant runs, the source directory and ``$TMPDIR``
are watched for new files (the SDK writes a copy of the file in chunks beside the source).

Profiles: ``loopback`` (no added latency) and ``wan`` (50 ms per chunk PUT, 25 MB/s per
connection, the emulator's ``--chunk-latency-ms 50 --chunk-bandwidth-mbps 25``).

Run it with the project's interpreter::

    python benchmarks/multipart_upload.py                      # 1 GiB, 3 rounds, both profiles
    python benchmarks/multipart_upload.py --size-mib 256 --rounds 1 --profiles loopback
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from airflow_provider_twelvelabs.testing.emulator.process import EmulatorProcess

API_KEY = "tlk_benchmark_key_0123456789"
PROFILES = {
    "loopback": [],
    "wan": ["--chunk-latency-ms", "50", "--chunk-bandwidth-mbps", "25"],
}
MIB = 1024 * 1024
#: Variants that take ``--concurrency``.
CONCURRENT = ("ours", "threads", "asyncio")


# --------------------------------------------------------------------------- workers (one per subprocess)


def _peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker_ours(base_url: str, path: str, concurrency: int) -> dict[str, Any]:
    os.environ["AIRFLOW_CONN_TWELVELABS_DEFAULT"] = json.dumps(
        {"conn_type": "twelvelabs", "host": base_url, "password": API_KEY}
    )
    import logging

    from airflow_provider_twelvelabs.hooks.twelvelabs import TwelveLabsHook

    logging.getLogger("airflow_provider_twelvelabs").setLevel(logging.WARNING)
    with TwelveLabsHook() as hook:
        hook.settings  # noqa: B018 - read the connection before the clock starts
        started = time.perf_counter()
        asset = hook.multipart_upload(path, concurrency=concurrency)
        seconds = time.perf_counter() - started
    return {"asset_id": asset.id, "seconds": seconds}


def worker_sdk(base_url: str, path: str, concurrency: int) -> dict[str, Any]:
    from twelvelabs import TwelveLabs

    client = TwelveLabs(api_key=API_KEY, base_url=base_url)
    started = time.perf_counter()
    result = client.multipart_upload.upload_file(path)
    seconds = time.perf_counter() - started
    return {"asset_id": result.asset_id, "seconds": seconds}


def worker_raw(base_url: str, path: str, concurrency: int) -> dict[str, Any]:
    size = os.path.getsize(path)
    root = base_url.rsplit("/v1.3", 1)[0]
    headers = {"x-api-key": API_KEY}
    with httpx.Client(timeout=600) as client:
        # A one-chunk session: the emulator's chunk size is raised to the file size for this one.
        previous = client.get(f"{root}/_emulator/config").json()["chunk_size"]
        client.post(f"{root}/_emulator/config", json={"chunk_size": size})
        session = client.post(
            f"{base_url}/assets/multipart-uploads",
            headers=headers,
            json={"filename": os.path.basename(path), "type": "video", "total_size": size},
        ).json()
        client.post(f"{root}/_emulator/config", json={"chunk_size": previous})
        url = session["upload_urls"][0]["url"]

        def pieces() -> Any:
            with open(path, "rb") as handle:
                while piece := handle.read(MIB):
                    yield piece

        started = time.perf_counter()
        response = client.put(
            url,
            content=pieces(),
            headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
        )
        seconds = time.perf_counter() - started
        response.raise_for_status()
        etag = response.headers["etag"].strip('"')
        client.post(
            f"{base_url}/assets/multipart-uploads/{session['upload_id']}",
            headers=headers,
            json={
                "completed_chunks": [
                    {"chunk_index": 1, "proof": etag, "proof_type": "etag", "chunk_size": size}
                ]
            },
        ).raise_for_status()
    return {"asset_id": session["asset_id"], "seconds": seconds}


def _presigned_session(client: httpx.Client, base_url: str, size: int) -> tuple[int, list[tuple[int, str]]]:
    """Open a session and fetch every presigned URL up front (transport comparison only)."""
    headers = {"x-api-key": API_KEY}
    session = client.post(
        f"{base_url}/assets/multipart-uploads",
        headers=headers,
        json={"filename": "transport.mp4", "type": "video", "total_size": size},
    ).json()
    total = session["total_chunks"]
    urls = {u["chunk_index"]: u["url"] for u in session["upload_urls"]}
    for start in range(1, total + 1, 50):
        answer = client.post(
            f"{base_url}/assets/multipart-uploads/{session['upload_id']}/presigned-urls",
            headers=headers,
            json={"start": start, "count": min(50, total - start + 1)},
        ).json()
        urls.update({u["chunk_index"]: u["url"] for u in answer["upload_urls"]})
    return session["chunk_size"], sorted(urls.items())


def worker_threads(base_url: str, path: str, concurrency: int) -> dict[str, Any]:
    """N parallel chunk PUTs on worker threads with one sync httpx client (what ``ours`` uses)."""
    from concurrent.futures import ThreadPoolExecutor

    size = os.path.getsize(path)
    fd = os.open(path, os.O_RDONLY)
    with httpx.Client(limits=httpx.Limits(max_connections=concurrency), timeout=300) as client:
        chunk_size, urls = _presigned_session(client, base_url, size)

        def put(item: tuple[int, str]) -> None:
            index, url = item
            data = os.pread(fd, chunk_size, (index - 1) * chunk_size)
            client.put(
                url, content=data, headers={"Content-Type": "application/octet-stream"}
            ).raise_for_status()

        started = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(put, urls))
        seconds = time.perf_counter() - started
    os.close(fd)
    return {"asset_id": None, "seconds": seconds}


def worker_asyncio(base_url: str, path: str, concurrency: int) -> dict[str, Any]:
    """N parallel chunk PUTs on one asyncio loop with an AsyncClient (file reads in a thread)."""
    import asyncio

    size = os.path.getsize(path)
    fd = os.open(path, os.O_RDONLY)
    with httpx.Client(timeout=60) as client:
        chunk_size, urls = _presigned_session(client, base_url, size)

    async def upload() -> None:
        gate = asyncio.Semaphore(concurrency)
        limits = httpx.Limits(max_connections=concurrency)
        async with httpx.AsyncClient(limits=limits, timeout=300) as http:

            async def put(index: int, url: str) -> None:
                async with gate:
                    data = await asyncio.to_thread(os.pread, fd, chunk_size, (index - 1) * chunk_size)
                    headers = {"Content-Type": "application/octet-stream"}
                    (await http.put(url, content=data, headers=headers)).raise_for_status()

            await asyncio.gather(*(put(i, u) for i, u in urls))

    started = time.perf_counter()
    asyncio.run(upload())
    seconds = time.perf_counter() - started
    os.close(fd)
    return {"asset_id": None, "seconds": seconds}


WORKERS = {
    "ours": worker_ours,
    "sdk": worker_sdk,
    "raw": worker_raw,
    "threads": worker_threads,
    "asyncio": worker_asyncio,
}


def run_worker(args: argparse.Namespace) -> None:
    result = WORKERS[args.worker](args.base_url, args.file, args.concurrency)
    result["peak_rss_mb"] = _peak_rss_mb()
    print(json.dumps(result), flush=True)


# --------------------------------------------------------------------------- the driver


class DirWatch:
    """Polls directories while a variant runs and records the most bytes of new files seen."""

    def __init__(self, *dirs: Path) -> None:
        self.dirs = [d for d in dirs if d.is_dir()]
        self.before = {d: self._entries(d) for d in self.dirs}
        self.peak_bytes = 0
        self.new_names: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    @staticmethod
    def _entries(directory: Path) -> set[str]:
        try:
            return set(os.listdir(directory))
        except OSError:
            return set()

    @staticmethod
    def _size(path: Path) -> int:
        if path.is_file():
            return path.stat().st_size
        total = 0
        for root, _, files in os.walk(path):
            for name in files:
                with contextlib.suppress(OSError):
                    total += os.path.getsize(os.path.join(root, name))
        return total

    def _loop(self) -> None:
        while not self._stop.wait(0.1):
            total = 0
            for directory in self.dirs:
                for name in self._entries(directory) - self.before[directory]:
                    self.new_names.add(name)
                    total += self._size(directory / name)
            self.peak_bytes = max(self.peak_bytes, total)

    def __enter__(self) -> DirWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        left = {d: self._entries(d) - self.before[d] for d in self.dirs}
        self.left_over = sorted(name for names in left.values() for name in names)


def start_emulator(profile: str, data_dir: Path) -> tuple[EmulatorProcess, str]:
    # Imported here: the measured workers run this file too, and must not load the emulator.
    from airflow_provider_twelvelabs.testing.emulator.process import EmulatorProcess

    process = EmulatorProcess(api_key=API_KEY, data_dir=data_dir, args=PROFILES[profile]).start()
    return process, process.base_url


def measure(
    variant: str, base_url: str, path: Path, concurrency: int, watch_dirs: list[Path]
) -> dict[str, Any]:
    command = [
        sys.executable,
        __file__,
        "--worker",
        variant,
        "--base-url",
        base_url,
        "--file",
        str(path),
        "--concurrency",
        str(concurrency),
    ]
    # The worker gets its own empty $TMPDIR, so that whatever it writes there is seen (and only that).
    worker_tmp = Path(tempfile.mkdtemp(prefix="tl-bench-tmp-"))
    env = {**os.environ, "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING", "TMPDIR": str(worker_tmp)}
    try:
        with DirWatch(*watch_dirs, worker_tmp) as watch:
            done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=1800)
    finally:
        shutil.rmtree(worker_tmp, ignore_errors=True)
    if done.returncode != 0:
        raise RuntimeError(f"{variant} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result.update(variant=variant, temp_peak_bytes=watch.peak_bytes, temp_left=watch.left_over)
    return result


def md5_of(path: Path) -> str:
    digest = hashlib.md5()
    with path.open("rb") as handle:
        while block := handle.read(8 * MIB):
            digest.update(block)
    return digest.hexdigest()


def make_file(directory: Path, size: int) -> Path:
    path = directory / "benchmark-source.mp4"
    block = os.urandom(8 * MIB)
    with path.open("wb") as handle:
        written = 0
        counter = 0
        while written < size:
            # Vary every block so that no two chunks are alike (a misplaced chunk changes the MD5).
            piece = hashlib.sha256(counter.to_bytes(8, "big")).digest() + block[32:]
            piece = piece[: size - written]
            handle.write(piece)
            written += len(piece)
            counter += 1
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profiles", nargs="+", default=list(PROFILES), choices=list(PROFILES))
    parser.add_argument(
        "--concurrency",
        type=int,
        nargs="+",
        default=[16],
        help="one or more values for ours, threads and asyncio",
    )
    parser.add_argument("--variants", nargs="+", default=["ours", "sdk", "raw"], choices=list(WORKERS))
    parser.add_argument("--json", type=Path, help="also write every measurement here")
    parser.add_argument("--worker", choices=list(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        args.concurrency = args.concurrency[0]
        run_worker(args)
        return

    size = args.size_mib * MIB
    tmp_root = Path(tempfile.gettempdir())
    # The emulator's stored bytes live in RAM when possible: the storage side is not what we measure.
    shm = Path("/dev/shm")
    source_dir = Path(tempfile.mkdtemp(prefix="tl-bench-src-"))
    results: list[dict[str, Any]] = []
    try:
        path = make_file(source_dir, size)
        source_md5 = md5_of(path)
        print(f"source: {size / MIB:.0f} MiB, md5 {source_md5}", flush=True)
        tmp_before = set(os.listdir(tmp_root))
        for profile in args.profiles:
            for round_number in range(1, args.rounds + 1):
                plan = [(v, c) for v in args.variants for c in (args.concurrency if v in CONCURRENT else [0])]
                for variant, concurrency in plan:
                    data_dir = Path(
                        tempfile.mkdtemp(prefix="tl-bench-emu-", dir=shm if shm.is_dir() else None)
                    )
                    emulator, base_url = start_emulator(profile, data_dir)
                    try:
                        result = measure(variant, base_url, path, concurrency, [source_dir])
                        stored = (
                            httpx.get(
                                base_url.rsplit("/v1.3", 1)[0] + f"/_emulator/assets/{result['asset_id']}",
                                timeout=120,
                            ).json()
                            if result["asset_id"]
                            else {"md5": None}  # the transport comparison completes no asset
                        )
                    finally:
                        emulator.stop(timeout=30)
                        shutil.rmtree(data_dir, ignore_errors=True)
                    result.update(
                        profile=profile,
                        round=round_number,
                        concurrency=concurrency or None,
                        mb_per_s=size / result["seconds"] / 1e6,
                        md5_ok=stored.get("md5") == source_md5 if result["asset_id"] else None,
                    )
                    results.append(result)
                    label = f"{variant}(c={concurrency})" if concurrency else variant
                    print(
                        f"[{profile} round {round_number}] {label:10s} {result['mb_per_s']:7.1f} MB/s  "
                        f"peak RSS {result['peak_rss_mb']:6.1f} MB  temp files peak "
                        f"{result['temp_peak_bytes'] / MIB:7.1f} MiB  "
                        f"md5 {({True: 'ok', False: 'MISMATCH', None: 'n/a'})[result['md5_ok']]}",
                        flush=True,
                    )
        tmp_after = set(os.listdir(tmp_root))
    finally:
        shutil.rmtree(source_dir, ignore_errors=True)
    new_in_tmp = sorted(tmp_after - tmp_before)
    report(results, args, size, new_in_tmp)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


def _md5_verdict(rows: list[dict[str, Any]]) -> str:
    if rows[0]["md5_ok"] is None:
        return "n/a"
    return "ok" if all(r["md5_ok"] for r in rows) else "MISMATCH"


def report(results: list[dict[str, Any]], args: argparse.Namespace, size: int, new_in_tmp: list[str]) -> None:
    chunk = 5 * MIB
    print()
    print(
        f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"load average at the end {os.getloadavg()[0]:.2f}; file {size / MIB:.0f} MiB; "
        f"{args.rounds} round(s); chunk size {chunk / MIB:.0f} MiB (the emulator's)"
    )
    print()
    print("| profile | variant | median MB/s | best MB/s | peak RSS (max) | temp files (peak) | md5 |")
    print("|---|---|---:|---:|---:|---:|---|")
    medians: dict[tuple[str, str], float] = {}
    for profile in args.profiles:
        keys = sorted({(r["variant"], r["concurrency"]) for r in results if r["profile"] == profile}, key=str)
        for variant, concurrency in keys:
            rows = [
                r
                for r in results
                if r["profile"] == profile and r["variant"] == variant and r["concurrency"] == concurrency
            ]
            rates = [r["mb_per_s"] for r in rows]
            label = f"{variant} (concurrency {concurrency})" if variant in CONCURRENT else variant
            medians[(profile, label)] = statistics.median(rates)
            print(
                f"| {profile} | {label} | {statistics.median(rates):.1f} | {max(rates):.1f} | "
                f"{max(r['peak_rss_mb'] for r in rows):.0f} MB | "
                f"{max(r['temp_peak_bytes'] for r in rows) / MIB:.0f} MiB | "
                f"{_md5_verdict(rows)} |"
            )
    print()
    for profile in args.profiles:
        sdk = medians.get((profile, "sdk"))
        raw = medians.get((profile, "raw"))
        for (p, label), rate in medians.items():
            if p != profile or not label.startswith("ours"):
                continue
            parts = []
            if sdk:
                parts.append(f"{rate / sdk:.2f}x the SDK")
            if raw:
                parts.append(f"{100 * rate / raw:.0f}% of the raw PUT")
            concurrency = int(label.split()[-1].rstrip(")"))
            bound = (2 * concurrency * chunk) / 1e6 + 150
            peak = max(
                r["peak_rss_mb"]
                for r in results
                if r["profile"] == profile and r["variant"] == "ours" and r["concurrency"] == concurrency
            )
            parts.append(f"peak RSS {peak:.0f} MB vs bound {bound:.0f} MB")
            print(f"{profile}, {label}: " + ", ".join(parts))
    ours_left = [r for r in results if r["variant"] == "ours" and (r["temp_peak_bytes"] or r["temp_left"])]
    print(f"temporary files written by ours: {ours_left or 'none'}")
    # Other processes on a shared machine may write there too, so this is only a count.
    print(f"new entries in {tempfile.gettempdir()} after the run (any process): {len(new_in_tmp)}")


if __name__ == "__main__":
    main()
