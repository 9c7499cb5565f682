"""The official SDK (twelvelabs 1.3.6), unchanged, against the CLI-started emulator: upload and indexing.

The emulator runs as ``python -m airflow_provider_twelvelabs.testing.emulator`` in a subprocess and the
SDK finds it through ``TWELVELABS_BASE_URL``, as a user's test would.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from airflow_provider_twelvelabs.testing.emulator.process import EmulatorProcess

pytestmark = pytest.mark.integration

API_KEY = "sdk-test-key"
CHUNK = 256 * 1024


@dataclass
class CliEmulator:
    base_url: str
    root: str

    def control(self, path: str, json: dict[str, object] | None = None) -> httpx.Response:
        if json is None:
            return httpx.get(self.root + path)
        return httpx.post(self.root + path, json=json)


@pytest.fixture(scope="module")
def cli_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CliEmulator]:
    data_dir = tmp_path_factory.mktemp("emulator-data")
    with EmulatorProcess(
        api_key=API_KEY, data_dir=data_dir, chunk_size=CHUNK, initial_presigned_urls=3
    ) as emulator:
        assert emulator.base_url.endswith("/v1.3"), emulator.base_url
        yield CliEmulator(base_url=emulator.base_url, root=emulator.url)


@pytest.fixture
def sdk(cli_emulator: CliEmulator, monkeypatch: pytest.MonkeyPatch) -> object:
    monkeypatch.setenv("TWELVELABS_BASE_URL", cli_emulator.base_url)
    cli_emulator.control("/_emulator/config", {"polls_per_step": 1, "chunk_failure_rate": 0.0})
    from twelvelabs import TwelveLabs

    return TwelveLabs(api_key=API_KEY)


def write_file(path: Path, size: int) -> str:
    block = hashlib.sha256(path.name.encode()).digest() * 4096
    digest = hashlib.md5()
    with path.open("wb") as handle:
        remaining = size
        while remaining:
            piece = block[:remaining]
            handle.write(piece)
            digest.update(piece)
            remaining -= len(piece)
    return digest.hexdigest()


def wait_status(fetch: object, terminal: tuple[str, ...] = ("ready", "failed"), limit: int = 30) -> str:
    for _ in range(limit):
        status: str = fetch().status  # type: ignore[operator]
        if status in terminal:
            return status
    raise AssertionError("never reached a terminal status")


def test_sdk_index_upload_multipart_and_index_workflow(
    sdk: object, cli_emulator: CliEmulator, tmp_path: Path
) -> None:
    from twelvelabs import TwelveLabs

    client: TwelveLabs = sdk  # type: ignore[assignment]
    index = client.indexes.create(
        index_name="sdk-workflow", models=[{"model_name": "marengo3.0", "model_options": ["visual", "audio"]}]
    )
    assert index.id and len(index.id) == 24

    small = tmp_path / "small.mp4"
    small_md5 = write_file(small, 50_000)
    with small.open("rb") as handle:
        direct = client.assets.create(method="direct", file=handle, filename="small.mp4")
    assert direct.status == "processing"
    assert wait_status(lambda: client.assets.retrieve(direct.id)) == "ready"
    assert cli_emulator.control(f"/_emulator/assets/{direct.id}").json()["md5"] == small_md5

    big = tmp_path / "big.mp4"
    size = 25 * CHUNK + 1234  # 26 chunks: three batches of the helper, beyond the 3 initial URLs
    big_md5 = write_file(big, size)
    progress: list[int] = []
    result = client.multipart_upload.upload_file(
        str(big), batch_size=10, progress_callback=lambda p: progress.append(p.completed_chunks)
    )
    assert result.asset_id and result.asset_url
    assert progress == [10, 20, 26]
    assert cli_emulator.control(f"/_emulator/assets/{result.asset_id}").json() == {
        "asset_id": result.asset_id,
        "size": size,
        "md5": big_md5,
        "stored": True,
    }
    assert httpx.get(result.asset_url).content == big.read_bytes()
    asset = client.assets.retrieve(result.asset_id)
    assert asset.status == "processing"  # a completed upload is not yet a ready asset
    assert wait_status(lambda: client.assets.retrieve(result.asset_id)) == "ready"
    detail = client.assets.retrieve(result.asset_id)
    assert detail.size == size and detail.method == "multipart"

    indexed = client.indexes.indexed_assets.create(
        index.id, asset_id=result.asset_id, user_metadata={"src": "sdk"}
    )
    assert wait_status(lambda: client.indexes.indexed_assets.retrieve(index.id, indexed.id)) == "ready"
    listed = list(client.indexes.indexed_assets.list(index.id, page_limit=1))
    assert [item.id for item in listed] == [indexed.id]
    assert client.indexes.retrieve(index.id).video_count == 1
    uploads = list(client.multipart_upload.list_incomplete_uploads())
    assert uploads == []


def test_sdk_chunk_retries_on_the_same_url_survive_chunk_faults(
    sdk: object, cli_emulator: CliEmulator, tmp_path: Path
) -> None:
    from twelvelabs import TwelveLabs

    client: TwelveLabs = sdk  # type: ignore[assignment]
    cli_emulator.control("/_emulator/config", {"chunk_failure_rate": 0.3})
    path = tmp_path / "flaky.mp4"
    md5 = write_file(path, 12 * CHUNK)
    result = client.multipart_upload.upload_file(str(path), retry_delay=0.01, max_retries=8)
    cli_emulator.control("/_emulator/config", {"chunk_failure_rate": 0.0})
    assert cli_emulator.control(f"/_emulator/assets/{result.asset_id}").json()["md5"] == md5


def test_sdk_legacy_task_and_videos(sdk: object, cli_emulator: CliEmulator, tmp_path: Path) -> None:
    from twelvelabs import TwelveLabs

    client: TwelveLabs = sdk  # type: ignore[assignment]
    index = client.indexes.create(
        index_name="sdk-legacy", models=[{"model_name": "marengo3.0", "model_options": ["visual"]}]
    )
    path = tmp_path / "legacy.mp4"
    write_file(path, 10_000)
    with path.open("rb") as handle:
        task = client.tasks.create(
            index_id=index.id, video_file=handle, user_metadata='{"category": "recentlyAdded"}'
        )
    done = client.tasks.wait_for_done(task_id=task.id, sleep_interval=0.01)
    assert done.status == "ready"
    videos = list(client.indexes.videos.list(index.id, user_metadata={"category": "recentlyAdded"}))
    assert [v.id for v in videos] == [task.video_id]
    assert list(client.indexes.videos.list(index.id, user_metadata={"category": "other"})) == []
    tasks = list(client.tasks.list(index_id=index.id))
    assert [t.id for t in tasks] == [task.id]


def test_sdk_maps_emulator_errors_to_its_exceptions(sdk: object) -> None:
    from twelvelabs import TwelveLabs
    from twelvelabs.errors import BadRequestError, NotFoundError

    client: TwelveLabs = sdk  # type: ignore[assignment]
    with pytest.raises(NotFoundError) as missing:
        client.assets.retrieve("0123456789abcdef01234567")
    assert missing.value.body["code"] == "resource_not_exist"
    models = [{"model_name": "marengo3.0", "model_options": ["visual"]}]
    client.indexes.create(index_name="sdk-dup", models=models)
    with pytest.raises(BadRequestError) as duplicate:
        client.indexes.create(index_name="sdk-dup", models=models)
    assert duplicate.value.body["code"] == "index_name_already_exists"


async def test_async_sdk_multipart_upload(
    cli_emulator: CliEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TWELVELABS_BASE_URL", cli_emulator.base_url)
    from twelvelabs import AsyncTwelveLabs

    client = AsyncTwelveLabs(api_key=API_KEY)
    path = tmp_path / "async.mp4"
    md5 = write_file(path, 7 * CHUNK + 5)
    result = await client.multipart_upload.upload_file(str(path))
    assert result.asset_url
    assert cli_emulator.control(f"/_emulator/assets/{result.asset_id}").json()["md5"] == md5
    assert os.path.exists(path)


def test_sdk_list_filters_and_pagers(sdk: object, cli_emulator: CliEmulator) -> None:
    from twelvelabs import TwelveLabs

    client: TwelveLabs = sdk  # type: ignore[assignment]
    index = client.indexes.create(
        index_name="sdk-filters", models=[{"model_name": "marengo3.0", "model_options": ["visual"]}]
    )
    ids = []
    for name, seconds in (("short.mp4", 40), ("long.mp4", 400)):
        asset = client.assets.create(method="url", url=f"https://media.example/{name}?duration={seconds}")
        assert wait_status(lambda asset=asset: client.assets.retrieve(asset.id)) == "ready"
        indexed = client.indexes.indexed_assets.create(
            index.id, asset_id=asset.id, user_metadata={"len": name}
        )
        ids.append(indexed.id)
    # The SDK sends user_metadata[k]=v, duration[gte]/[lte] and repeated status values.
    found = list(
        client.indexes.indexed_assets.list(
            index.id, status=["pending", "queued", "indexing", "ready"], duration={"gte": 100, "lte": 500}
        )
    )
    assert [item.id for item in found] == [ids[1]]
    by_metadata = list(client.indexes.indexed_assets.list(index.id, user_metadata={"len": "short.mp4"}))
    assert [item.id for item in by_metadata] == [ids[0]]
    # Pagers walk until an empty page: 2 items at 1 per page is 3 requests.
    mark = len(cli_emulator.control("/_emulator/requests").json()["data"])
    assert len(list(client.indexes.indexed_assets.list(index.id, page_limit=1))) == 2
    log = cli_emulator.control("/_emulator/requests").json()["data"][mark:]
    assert [e["query"] for e in log if e["path"].endswith("/indexed-assets")] == [
        "page=1&page_limit=1",
        "page=2&page_limit=1",
        "page=3&page_limit=1",
    ]
    assert [i.index_name for i in client.indexes.list(index_name="sdk-filters")] == ["sdk-filters"]
