"""Acceptance of asynchronous Pegasus batches (issue 11) at scale, through real HTTP to the emulator.

1,200 items become 2 batches and 1,200 result rows; with 3% of the items failing, the policy
decides the outcome, the manifest and the file count the failures, and a re-run submits only them.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from airflow_provider_twelvelabs.exceptions import TwelveLabsError
from airflow_provider_twelvelabs.hooks.twelvelabs import TwelveLabsHook
from airflow_provider_twelvelabs.operators.analyze_async import TwelveLabsCreateAnalyzeBatchOperator
from airflow_provider_twelvelabs.testing.emulator import EmulatorConfig
from airflow_provider_twelvelabs.testing.emulator.server import RunningEmulator
from tests.integration.compute_support import ready_asset
from tests.integration.test_analyze_task_operator import context

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FAST = {"poll_interval": 0.05, "poll_max_interval": 0.2, "deferrable": False}
N = 1200


@pytest.fixture
def twelvelabs_connection_extra() -> dict[str, Any]:
    return {"retry_base_delay": 0.01, "retry_max_wait": 0.05, "max_retries": 1}


def create_assets(emulator: RunningEmulator, n: int) -> list[str]:
    """Create ``n`` ready assets by URL, in order; in threads, as each request mostly waits on the socket."""

    def create(indexes: range) -> list[str]:
        with httpx.Client(base_url=emulator.base_url, headers={"x-api-key": emulator.api_key}) as client:
            return [ready_asset(client, f"https://media.example.com/v{i}.mp4?duration=60") for i in indexes]

    workers = 16
    with ThreadPoolExecutor(workers) as pool:
        parts = list(pool.map(create, [range(w, n, workers) for w in range(workers)]))
    ordered = [""] * n
    for w, part in enumerate(parts):
        ordered[w::workers] = part
    return ordered


def batches() -> list[dict[str, Any]]:
    with TwelveLabsHook() as hook:
        return [b.to_json_dict() for b in hook.list_analyze_batches()]


def rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize(
    "twelvelabs_emulator_config", [EmulatorConfig(analyze_batch_item_failure_rate=0.03, seed=11)]
)
def test_1200_items_two_batches_three_percent_failing_and_a_rerun(
    twelvelabs_connection: RunningEmulator, tmp_path: Path
) -> None:
    emulator = twelvelabs_connection
    ids = create_assets(emulator, N)
    items = [{"asset_id": asset_id, "custom_id": f"video-{i:04d}"} for i, asset_id in enumerate(ids)]
    out = tmp_path / "results.jsonl"
    kwargs = {"task_id": "catalog", "items": items, "prompt": "Title and topics", "output_path": str(out)}

    # 3% failing is more than 1% tolerated: the task fails, after writing every row.
    with pytest.raises(TwelveLabsError, match=rf"of {N} analyze batch items did not succeed") as info:
        TwelveLabsCreateAnalyzeBatchOperator(**kwargs, max_failed_fraction=0.01, **FAST).execute(context())
    first = rows(out)
    assert sorted(r["custom_id"] for r in first) == [item["custom_id"] for item in items]
    assert {r["custom_id"]: r["asset_id"] for r in first} == {i["custom_id"]: i["asset_id"] for i in items}
    created = batches()
    assert sorted(b["total_items"] for b in created) == [200, 1000]
    assert {r["batch_id"] for r in first} == {b["id"] for b in created}
    failed = sorted(r["custom_id"] for r in first if r["status"] != "ready")
    assert 0.01 * N < len(failed) <= 0.06 * N, len(failed)
    assert all(r["error_code"] and r["result"] is None for r in first if r["status"] != "ready")
    assert failed[0] in str(info.value)

    # The re-run tolerates 5%: it submits only the failed items, keeps the ready rows.
    manifest = TwelveLabsCreateAnalyzeBatchOperator(**kwargs, max_failed_fraction=0.05, **FAST).execute(
        context()
    )
    newest = max(batches(), key=lambda b: b["created_at"])
    assert len(batches()) == 3 and newest["total_items"] == len(failed)
    assert manifest["reused"] == N - len(failed)
    assert manifest["batch_ids"] == [newest["id"]]
    assert sum(manifest["statuses"].values()) == manifest["count"] == N
    second = rows(out)
    assert sorted(r["custom_id"] for r in second) == [item["custom_id"] for item in items]
    still_failed = sorted(r["custom_id"] for r in second if r["status"] != "ready")
    assert N - manifest["statuses"]["ready"] == len(still_failed)
    assert sorted(manifest["failed_custom_ids"]) == still_failed
    assert set(still_failed) <= set(failed)
