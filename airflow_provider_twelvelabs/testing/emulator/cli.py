"""Command-line entry point of the emulator."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from airflow_provider_twelvelabs.testing.emulator.app import API_PREFIX, create_app
from airflow_provider_twelvelabs.testing.emulator.config import (
    DEFAULT_API_KEY,
    MALFORMED_KINDS,
    EmulatorConfig,
)
from airflow_provider_twelvelabs.testing.emulator.server import _bind, _root_url, build_server

__all__ = ["build_parser", "config_from_args", "main"]


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the emulator CLI."""
    parser = argparse.ArgumentParser(
        prog="python -m airflow_provider_twelvelabs.testing.emulator",
        description="Run a local emulator of the TwelveLabs API v1.3 (for tests; not the real service).",
    )
    add = parser.add_argument
    add("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    add("--port", type=int, default=8000, help="port; 0 picks a free one (default 8000)")
    add("--api-key", default=DEFAULT_API_KEY, help="the x-api-key value to accept")
    add("--seed", type=int, default=0, help="seed of ids, faults and synthetic results")
    add("--data-dir", default=None, help="where uploaded bytes are stored (default: a temporary directory)")
    add("--public-url", default=None, help="root URL used in presigned URLs (default: from the Host header)")
    add("--fault-rate", type=float, default=0.0, help="probability of a 429/500/502/503 answer")
    add("--drop-rate", type=float, default=0.0, help="probability of closing a connection without answer")
    add(
        "--lose-answer-rate",
        type=float,
        default=0.0,
        help="probability that a request is processed and its answer then lost (connection closed)",
    )
    add("--lose-answer-methods", default=None, help="comma-separated HTTP methods whose answers may be lost")
    add("--lose-answer-paths", default=None, help="comma-separated path prefixes after /v1.3 (default: all)")
    add(
        "--lose-answer",
        action="append",
        default=None,
        metavar="'METHOD /path[=N]'",
        help="lose the next N (default 1) answers of this request (repeatable; '*' is one path segment)",
    )
    add("--slow-rate", type=float, default=0.0, help="probability of a slow answer")
    add("--slow-response-ms", type=float, default=2000.0, help="delay of a slow answer")
    add("--chunk-failure-rate", type=float, default=0.0, help="probability that a chunk PUT fails")
    add("--early-expiry-rate", type=float, default=0.0, help="probability that a presigned URL expires early")
    add("--chunk-latency-ms", type=float, default=0.0, help="latency added to every chunk PUT")
    add("--chunk-bandwidth-mbps", type=float, default=0.0, help="per-connection chunk PUT cap in MB/s")
    add("--chunk-size", type=int, default=None, help="multipart chunk size in bytes")
    add("--initial-presigned-urls", type=int, default=None, help="presigned URLs in the create response")
    add("--presigned-url-ttl", type=float, default=None, help="presigned URL lifetime in seconds")
    add("--reject-reused-presigned-urls", action="store_true", help="reject a second PUT on one URL")
    add("--rate-limit-rpm", type=int, default=None, help="requests per minute per endpoint bucket")
    add("--polls-per-step", type=int, default=None, help="reads per lifecycle step (0: time only)")
    add("--step-seconds", type=float, default=None, help="seconds per lifecycle step (0: polls only)")
    add(
        "--serve-retired-endpoints",
        action="store_true",
        help="serve POST /summarize and /gist, retired on 2026-02-15 (default: 410, as the API)",
    )
    add(
        "--analyze-task-seconds",
        type=float,
        default=None,
        help="seconds an analyze task takes from queued to its end (default: the shared schedule)",
    )
    add("--strict-media", action="store_true", help="refuse uploaded videos that are not a video container")
    # -- malformed answers and jobs that never finish (issue 13, items 2 and 5)
    add("--malformed-rate", type=float, default=0.0, help="probability of a malformed answer")
    add(
        "--malformed-kinds",
        default=None,
        help=f"comma-separated kinds of malformed answers (default: all of {','.join(MALFORMED_KINDS)})",
    )
    add("--malformed-methods", default=None, help="comma-separated HTTP methods to spoil (default: all)")
    add("--malformed-paths", default=None, help="comma-separated path prefixes after /v1.3 (default: all)")
    add("--malformed-stall-seconds", type=float, default=None, help="how long a stalled body hangs")
    add("--indexing-never-finish", action="store_true", help="indexed assets and indexing tasks never finish")
    add("--embedding-task-never-finish", action="store_true", help="embedding tasks never finish")
    add("--log-level", default="warning", help="uvicorn log level")
    return parser


def config_from_args(args: argparse.Namespace) -> EmulatorConfig:
    """Build an :class:`EmulatorConfig` from parsed CLI arguments.

    :param args: the result of :func:`build_parser`'s ``parse_args``.
    """
    config = EmulatorConfig(
        api_key=args.api_key,
        seed=args.seed,
        data_dir=args.data_dir,
        public_url=args.public_url,
        fault_rate=args.fault_rate,
        drop_rate=args.drop_rate,
        slow_rate=args.slow_rate,
        slow_response_ms=args.slow_response_ms,
        chunk_failure_rate=args.chunk_failure_rate,
        early_expiry_rate=args.early_expiry_rate,
        chunk_latency_ms=args.chunk_latency_ms,
        chunk_bandwidth_mbps=args.chunk_bandwidth_mbps,
        reject_reused_presigned_urls=args.reject_reused_presigned_urls,
        rate_limit_rpm=args.rate_limit_rpm,
        gist_gone=not args.serve_retired_endpoints,
        summarize_gone=not args.serve_retired_endpoints,
        strict_media=args.strict_media,
    )
    optional = {
        "chunk_size": args.chunk_size,
        "initial_presigned_urls": args.initial_presigned_urls,
        "presigned_url_ttl_seconds": args.presigned_url_ttl,
        "polls_per_step": args.polls_per_step,
        "step_seconds": args.step_seconds,
        "analyze_task_seconds": args.analyze_task_seconds,
        # -- malformed answers and jobs that never finish
        "lose_answer_rate": args.lose_answer_rate or None,
        "lose_answer_methods": _csv(args.lose_answer_methods),
        "lose_answer_paths": _csv(args.lose_answer_paths),
        "lose_answers": _lose_answers(args.lose_answer),
        "malformed_rate": args.malformed_rate or None,
        "malformed_kinds": _csv(args.malformed_kinds),
        "malformed_methods": _csv(args.malformed_methods),
        "malformed_paths": _csv(args.malformed_paths),
        "malformed_stall_seconds": args.malformed_stall_seconds,
        "indexing_never_finish": args.indexing_never_finish or None,
        "embedding_task_never_finish": args.embedding_task_never_finish or None,
    }
    config.update({k: v for k, v in optional.items() if v is not None})
    return config


def _lose_answers(values: list[str] | None) -> dict[str, int] | None:
    """Read ``--lose-answer 'POST /assets=2'`` flags into ``lose_answers``; ``None`` when none given."""
    if not values:
        return None
    out: dict[str, int] = {}
    for value in values:
        pattern, _, count = value.partition("=")
        out[pattern.strip()] = out.get(pattern.strip(), 0) + (int(count) if count.strip() else 1)
    return out


def _csv(value: str | None) -> list[str] | None:
    """Split a comma-separated flag value; ``None`` when the flag was not given."""
    if value is None:
        return None
    return [part.strip() for part in value.split(",") if part.strip()]


async def _serve(config: EmulatorConfig, host: str, port: int, log_level: str) -> None:
    app = create_app(config)
    sock = _bind(host, port)
    server = build_server(app, sock, log_level=log_level)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started and not task.done():
        await asyncio.sleep(0.01)
    if server.started:
        # Scripts wait for this line: it is the only thing written to stdout.
        print(_root_url(host, sock.getsockname()[1]) + API_PREFIX, flush=True)
    try:
        await task
    finally:
        app.emulator.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the emulator until interrupted.

    :param argv: command-line arguments (``sys.argv[1:]`` when ``None``).
    :return: the process exit code.
    """
    args = build_parser().parse_args(argv)
    try:
        asyncio.run(_serve(config_from_args(args), args.host, args.port, args.log_level))
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
