"""Incremental by content: upload and index the same files twice against the emulator on 127.0.0.1.

Every run gets a fresh context (a fresh task instance and an empty task state store), as after the
Airflow metadata database was wiped or from another deployment: only what the TwelveLabs side
stores (the content key in ``user_metadata``) can prevent duplicates.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from airflow.providers.common.compat.sdk import TaskDeferred

from airflow_provider_twelvelabs.hooks.twelvelabs import TwelveLabsHook
from airflow_provider_twelvelabs.operators.assets import (
    TwelveLabsMultipartUploadOperator,
    TwelveLabsUploadAssetOperator,
)
from airflow_provider_twelvelabs.operators.indexes import TwelveLabsIndexAssetOperator
from airflow_provider_twelvelabs.testing.emulator.config import EmulatorConfig
from airflow_provider_twelvelabs.testing.emulator.server import RunningEmulator
from airflow_provider_twelvelabs.waiting import PollPolicy, wait_for_resource_sync
from tests.helpers.airflow_fakes import task_context as fresh_context
from tests.integration.compute_support import write_random_file

pytestmark = pytest.mark.integration

FAST = {"poll_interval": 0.05, "poll_max_interval": 0.1, "deferrable": False}
CHUNK = 16 * 1024


@pytest.fixture
def twelvelabs_emulator_config() -> EmulatorConfig:
    return EmulatorConfig(chunk_size=CHUNK)


@pytest.fixture
def hook(twelvelabs_connection: RunningEmulator) -> Iterator[TwelveLabsHook]:
    with TwelveLabsHook() as h:
        yield h


@pytest.fixture
def index_id(hook: TwelveLabsHook) -> str:
    return hook.create_index(
        index_name="incremental", models=[{"model_name": "marengo3.0", "model_options": ["visual"]}]
    ).id


def write(path: Path, size: int, seed: int) -> Path:
    write_random_file(path, size, seed)
    return path


@pytest.fixture
def archive(tmp_path: Path) -> list[Path]:
    """Four files; the last one is large enough to go through a multipart upload of several chunks."""
    folder = tmp_path / "archive"
    folder.mkdir()
    sizes = [5_000, 7_000, 9_000, 3 * CHUNK + 100]
    return [write(folder / f"clip{n}.mp4", size, seed=n) for n, size in enumerate(sizes)]


def upload(source: Path, **options: Any) -> str:
    if source.stat().st_size > CHUNK:
        op: Any = TwelveLabsMultipartUploadOperator(task_id="upload", source=str(source), **options, **FAST)
    else:
        op = TwelveLabsUploadAssetOperator(task_id="upload", source=str(source), **options, **FAST)
    return str(op.execute(fresh_context()))


def index(index_id: str, asset_id: str, **options: Any) -> str:
    op = TwelveLabsIndexAssetOperator(
        task_id="index", index_id=index_id, asset_id=asset_id, **options, **FAST
    )
    return str(op.execute(fresh_context()))


def run_archive(index_id: str, files: list[Path], **options: Any) -> list[tuple[str, str]]:
    upload_options = {k: v for k, v in options.items() if k == "dedupe"}
    pairs = []
    for source in files:
        asset_id = upload(source, **upload_options)
        pairs.append((asset_id, index(index_id, asset_id, **options)))
    return pairs


def creates(emulator: RunningEmulator) -> dict[str, int]:
    """How many create calls the emulator received, by kind."""
    log = httpx.get(f"{emulator.url}/_emulator/requests").json()["data"]
    posts = [entry["path"] for entry in log if entry["method"] == "POST"]
    return {
        "assets": sum(1 for path in posts if path.endswith("/assets")),
        "multipart": sum(1 for path in posts if path.endswith("/assets/multipart-uploads")),
        "indexed_assets": sum(1 for path in posts if path.endswith("/indexed-assets")),
    }


def test_a_second_run_over_the_same_files_creates_nothing(
    twelvelabs_connection: RunningEmulator, hook: TwelveLabsHook, index_id: str, archive: list[Path]
) -> None:
    first = run_archive(index_id, archive)
    after_first = creates(twelvelabs_connection)
    assert after_first == {"assets": 3, "multipart": 1, "indexed_assets": 4}

    # A fresh context: no task state store, no XCom of the first run.
    second = run_archive(index_id, archive)

    assert second == first
    assert creates(twelvelabs_connection) == after_first
    assert len(list(hook.list_assets())) == 4
    indexed = list(hook.list_indexed_assets(index_id))
    assert len(indexed) == 4
    assert {item.status for item in indexed} == {"ready"}
    # What identifies each file is stored on the TwelveLabs side, with the indexed asset.
    for source, (_, indexed_id) in zip(archive, first, strict=True):
        metadata = hook.get_indexed_asset(index_id, indexed_id).user_metadata
        assert metadata == {
            "twelvelabs_source": source.as_uri(),
            "twelvelabs_size": source.stat().st_size,
            "twelvelabs_sha256": hashlib.sha256(source.read_bytes()).hexdigest(),
        }


def test_the_same_content_is_found_in_the_index_even_through_another_asset(
    twelvelabs_connection: RunningEmulator, hook: TwelveLabsHook, index_id: str, archive: list[Path]
) -> None:
    source = archive[0]
    asset_id, indexed_id = run_archive(index_id, [source])[0]
    # A second asset of the same file, carrying the same content key (uploaded elsewhere with
    # dedupe="off" and the key given by hand): its indexing finds the first one's indexed asset.
    key = hook.get_asset(asset_id).user_metadata
    twin = TwelveLabsUploadAssetOperator(
        task_id="upload", source=str(source), dedupe="off", user_metadata=key, **FAST
    ).execute(fresh_context())
    assert twin != asset_id

    assert index(index_id, str(twin)) == indexed_id
    assert len(list(hook.list_indexed_assets(index_id))) == 1


@pytest.mark.parametrize("on_change", ["keep", "replace"])
def test_a_changed_file_is_processed_again_and_on_change_is_honoured(
    twelvelabs_connection: RunningEmulator,
    hook: TwelveLabsHook,
    index_id: str,
    archive: list[Path],
    on_change: str,
) -> None:
    first = run_archive(index_id, archive, on_change=on_change)
    changed = write(archive[1], 8_000, seed=99)

    second = run_archive(index_id, archive, on_change=on_change)

    assert [pair for n, pair in enumerate(second) if n != 1] == [
        pair for n, pair in enumerate(first) if n != 1
    ]
    new_asset, new_indexed = second[1]
    old_asset, old_indexed = first[1]
    assert new_asset != old_asset and new_indexed != old_indexed
    assert len(list(hook.list_assets())) == 5  # the old asset is never deleted
    remaining = {item.id for item in hook.list_indexed_assets(index_id)}
    expected = {indexed for _, indexed in first} | {new_indexed}
    if on_change == "replace":
        expected.discard(old_indexed)
    assert remaining == expected
    assert hook.get_indexed_asset(index_id, new_indexed).user_metadata == {
        "twelvelabs_source": changed.as_uri(),
        "twelvelabs_size": 8_000,
        "twelvelabs_sha256": hashlib.sha256(changed.read_bytes()).hexdigest(),
    }


def test_replace_after_a_deferral_deletes_the_older_content(
    twelvelabs_connection: RunningEmulator, hook: TwelveLabsHook, index_id: str, archive: list[Path]
) -> None:
    source = archive[0]
    _, old_indexed = run_archive(index_id, [source])[0]
    write(source, 6_000, seed=42)
    asset_id = upload(source)
    op = TwelveLabsIndexAssetOperator(
        task_id="index", index_id=index_id, asset_id=asset_id, on_change="replace", deferrable=True
    )
    context = fresh_context()
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context)
    new_indexed = context["ti"].pushed["indexed_asset_id"]
    ready = wait_for_resource_sync(
        hook, "indexed_asset", new_indexed, index_id, policy=PollPolicy(interval=0.05, max_interval=0.1)
    )
    event = {"status": "success", "kind": "indexed_asset", "resource": ready.to_json_dict()}

    # The task resumes on a fresh operator, with only what the deferral kept.
    resumed = TwelveLabsIndexAssetOperator(
        task_id="index", index_id=index_id, asset_id=asset_id, on_change="replace"
    )
    assert resumed.execute_complete(context, event, **(deferred.value.kwargs or {})) == new_indexed

    assert {item.id for item in hook.list_indexed_assets(index_id)} == {new_indexed}
    assert old_indexed != new_indexed


def test_dedupe_off_uploads_and_indexes_again(
    twelvelabs_connection: RunningEmulator, hook: TwelveLabsHook, index_id: str, archive: list[Path]
) -> None:
    run_archive(index_id, archive[:2], dedupe="off")
    run_archive(index_id, archive[:2], dedupe="off")

    assert creates(twelvelabs_connection)["assets"] == 4
    assert len(list(hook.list_indexed_assets(index_id))) == 4


@pytest.mark.parametrize(
    "operator",
    [TwelveLabsUploadAssetOperator, TwelveLabsMultipartUploadOperator, TwelveLabsIndexAssetOperator],
)
def test_user_metadata_cannot_set_the_content_keys(
    twelvelabs_connection: RunningEmulator, archive: list[Path], operator: Any
) -> None:
    target = (
        {"index_id": "6a0000000000000000000001", "asset_id": "6b0000000000000000000001"}
        if operator is TwelveLabsIndexAssetOperator
        else {"source": str(archive[0])}
    )
    op = operator(task_id="t", user_metadata={"twelvelabs_sha256": "x"}, **target, **FAST)
    with pytest.raises(ValueError, match="user_metadata must not set twelvelabs_sha256"):
        op.execute(fresh_context())
    assert sum(creates(twelvelabs_connection).values()) == 0


@pytest.mark.parametrize("name,value", [("dedupe", "yes"), ("on_change", "delete")])
def test_bad_dedupe_options_fail_before_any_call(
    twelvelabs_connection: RunningEmulator, name: str, value: str
) -> None:
    op = TwelveLabsIndexAssetOperator(
        task_id="t",
        index_id="6a0000000000000000000001",
        asset_id="6b0000000000000000000001",
        **{name: value},
        **FAST,
    )
    with pytest.raises(ValueError, match=f"{name} must be"):
        op.execute(fresh_context())
    log = httpx.get(f"{twelvelabs_connection.url}/_emulator/requests").json()["data"]
    assert [entry for entry in log if not entry["path"].startswith("/_emulator")] == []


def test_an_indexed_asset_without_a_key_gets_it_when_found_again(
    twelvelabs_connection: RunningEmulator, hook: TwelveLabsHook, index_id: str, archive: list[Path]
) -> None:
    source = archive[0]
    asset_id = upload(source)
    indexed_id = index(index_id, asset_id, dedupe="off", user_metadata={"team": "news"})
    assert hook.get_indexed_asset(index_id, indexed_id).user_metadata == {"team": "news"}

    assert index(index_id, asset_id) == indexed_id

    assert creates(twelvelabs_connection)["indexed_assets"] == 1
    # The asset's content key (not the upload task's tag, which is the asset's own).
    content_key = {
        k: v for k, v in (hook.get_asset(asset_id).user_metadata or {}).items() if k != "twelvelabs_job"
    }
    assert hook.get_indexed_asset(index_id, indexed_id).user_metadata == {"team": "news", **content_key}
