"""Issue 13: a create the API did, whose answer was lost, then the Airflow retry (real HTTP, emulator).

The retries that use the task state store need Airflow 3.3; one test runs without it, as below 3.3.

For every create of the archive pipeline, the emulator processes the create in full and closes the
connection without its answer (``lose_answers``). The hook does not repeat a create that may have
been done, so the try fails; the Airflow retry (``try_number`` 2, the same task state store) must
then reconnect to what the first try created. Each test counts, through the emulator's list
endpoints and its request log, that exactly one remote resource exists and that the create was
sent once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from airflow_provider_twelvelabs.exceptions import TwelveLabsError
from airflow_provider_twelvelabs.testing.emulator import EmulatorConfig
from airflow_provider_twelvelabs.testing.emulator.server import RunningEmulator
from tests.helpers.airflow_fakes import StateStore
from tests.helpers.airflow_fakes import task_context as context
from tests.helpers.airflow_versions import needs_task_state_store
from tests.integration.compute_support import api_client, create_index, ready_asset, stored_md5
from tests.integration.compute_support import write_random_file as write

pytestmark = pytest.mark.integration

FAST = {"poll_interval": 0.02, "poll_max_interval": 0.05, "deferrable": False}
CHUNK = 16 * 1024


@pytest.fixture
def twelvelabs_emulator_config() -> EmulatorConfig:
    return EmulatorConfig(chunk_size=CHUNK, initial_presigned_urls=2)


@pytest.fixture
def twelvelabs_connection_extra() -> dict[str, Any]:
    return {"retry_base_delay": 0.01, "retry_max_wait": 0.05, "max_retries": 2}


@pytest.fixture
def emulator(twelvelabs_connection: RunningEmulator) -> RunningEmulator:
    return twelvelabs_connection


def lose_next_answer(emulator: RunningEmulator, pattern: str) -> None:
    """The emulator will do the next ``pattern`` request, then drop its connection unanswered."""
    answer = httpx.post(f"{emulator.url}/_emulator/config", json={"lose_answers": {pattern: 1}})
    assert answer.status_code == 200, answer.text


def request_log(emulator: RunningEmulator) -> list[dict[str, Any]]:
    return list(httpx.get(f"{emulator.url}/_emulator/requests").json()["data"])


def sent(emulator: RunningEmulator, method: str, path: str) -> list[dict[str, Any]]:
    """The requests of ``method path`` (after /v1.3) the emulator received, lost answers included."""
    return [e for e in request_log(emulator) if (e["method"], e["path"]) == (method, "/v1.3" + path)]


def lost(emulator: RunningEmulator) -> list[dict[str, Any]]:
    return [e for e in request_log(emulator) if e.get("fault") == "answer_lost"]


def listed(emulator: RunningEmulator, path: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of a list endpoint (all pages)."""
    out: list[dict[str, Any]] = []
    with api_client(emulator) as client:
        page = 1
        while True:
            body = client.get(path, params={**params, "page": page, "page_limit": 50}).json()
            out += body["data"]
            info = body.get("page_info") or {}
            if page >= int(info.get("total_page") or 1):
                return out
            page += 1


def first_try_fails_then_retry(make: Any, store: StateStore) -> tuple[Any, dict[str, Any]]:
    """Run try 1 (its create's answer is lost: it fails), then try 2 with the same task state."""
    with pytest.raises(TwelveLabsError, match="got no answer"):
        make().execute(context(store))
    ctx = context(store, try_number=2)
    return make().execute(ctx), ctx


# --------------------------------------------------------------------------- uploads


@needs_task_state_store
@pytest.mark.parametrize("dedupe", ["content", "off"])
def test_direct_upload(emulator: RunningEmulator, tmp_path: Path, dedupe: str) -> None:
    from airflow_provider_twelvelabs.operators.assets import TwelveLabsUploadAssetOperator

    source = tmp_path / "clip.mp4"
    md5 = write(source, 40_000)
    lose_next_answer(emulator, "POST /assets")
    store = StateStore()

    asset_id, ctx = first_try_fails_then_retry(
        lambda: TwelveLabsUploadAssetOperator(task_id="up", source=str(source), dedupe=dedupe, **FAST), store
    )

    assets = listed(emulator, "/assets")
    assert [a["_id"] for a in assets] == [asset_id]
    assert len(sent(emulator, "POST", "/assets")) == 1 and len(lost(emulator)) == 1
    assert stored_md5(emulator, asset_id) == md5
    assert ctx["ti"].pushed["asset"]["status"] == "ready"
    assert store.values == {}  # a deliberate re-run starts afresh


@needs_task_state_store
def test_url_upload(emulator: RunningEmulator) -> None:
    from airflow_provider_twelvelabs.operators.assets import TwelveLabsUploadAssetOperator

    lose_next_answer(emulator, "POST /assets")
    store = StateStore()
    url = "https://example.invalid/videos/talk.mp4"

    asset_id, _ = first_try_fails_then_retry(
        lambda: TwelveLabsUploadAssetOperator(task_id="up", source=url, method="url", **FAST), store
    )

    assert [a["_id"] for a in listed(emulator, "/assets")] == [asset_id]
    assert len(sent(emulator, "POST", "/assets")) == 1


@needs_task_state_store
def test_multipart_session_create(emulator: RunningEmulator, tmp_path: Path) -> None:
    from airflow_provider_twelvelabs.operators.assets import TwelveLabsMultipartUploadOperator

    source = tmp_path / "big.mp4"
    md5 = write(source, 5 * CHUNK + 100)
    lose_next_answer(emulator, "POST /assets/multipart-uploads")
    store = StateStore()

    asset_id, _ = first_try_fails_then_retry(
        lambda: TwelveLabsMultipartUploadOperator(task_id="up", source=str(source), concurrency=2, **FAST),
        store,
    )

    # One asset: the one the lost session had reserved was deleted (its session cannot be found).
    assert [a["_id"] for a in listed(emulator, "/assets")] == [asset_id]
    assert stored_md5(emulator, asset_id) == md5
    assert len(sent(emulator, "POST", "/assets/multipart-uploads")) == 2
    assert len(sent(emulator, "DELETE", "/assets/" + lost_asset_of_session(emulator))) == 1
    # No session is left open: the emulator ends a session with its reserved asset (the real API
    # does not document it; at worst the unused session expires after 24 h, holding no asset).
    assert listed(emulator, "/assets/multipart-uploads") == []


def lost_asset_of_session(emulator: RunningEmulator) -> str:
    deletes = [
        e for e in request_log(emulator) if e["method"] == "DELETE" and e["path"].startswith("/v1.3/assets/")
    ]
    assert len(deletes) == 1
    return str(deletes[0]["path"].rsplit("/", 1)[-1])


# --------------------------------------------------------------------------- indexing and indexes


@needs_task_state_store
def test_indexed_asset_create(emulator: RunningEmulator) -> None:
    from airflow_provider_twelvelabs.operators.indexes import TwelveLabsIndexAssetOperator

    with api_client(emulator) as client:
        index_id = create_index(client)
        asset_id = ready_asset(client, "https://media.example.com/talk.mp4?duration=60")
    lose_next_answer(emulator, "POST /indexes/*/indexed-assets")
    store = StateStore()

    def make() -> TwelveLabsIndexAssetOperator:
        return TwelveLabsIndexAssetOperator(task_id="ix", index_id=index_id, asset_id=asset_id, **FAST)

    indexed_id, _ = first_try_fails_then_retry(make, store)

    assert [a["_id"] for a in listed(emulator, f"/indexes/{index_id}/indexed-assets")] == [indexed_id]
    assert len(sent(emulator, "POST", f"/indexes/{index_id}/indexed-assets")) == 1


@needs_task_state_store
@pytest.mark.parametrize("if_exists", ["reuse", "fail"])
def test_index_create(emulator: RunningEmulator, if_exists: str) -> None:
    from airflow_provider_twelvelabs.operators.indexes import TwelveLabsCreateIndexOperator

    lose_next_answer(emulator, "POST /indexes")
    store = StateStore()

    index_id, ctx = first_try_fails_then_retry(
        lambda: TwelveLabsCreateIndexOperator(task_id="idx", index_name="archive", if_exists=if_exists), store
    )

    assert [i["_id"] for i in listed(emulator, "/indexes")] == [index_id]
    assert len(sent(emulator, "POST", "/indexes")) == 1
    assert ctx["ti"].pushed["index_id"] == index_id and store.values == {}


@needs_task_state_store
def test_index_create_fail_still_refuses_an_index_it_did_not_create(emulator: RunningEmulator) -> None:
    from airflow_provider_twelvelabs.operators.indexes import TwelveLabsCreateIndexOperator

    with api_client(emulator) as client:
        body = {"index_name": "taken", "models": [{"model_name": "marengo3.0", "model_options": ["visual"]}]}
        assert client.post("/indexes", json=body).status_code == 201
    with pytest.raises(ValueError, match="already exists"):
        TwelveLabsCreateIndexOperator(task_id="idx", index_name="taken", if_exists="fail").execute(
            context(StateStore(), try_number=2)
        )


# --------------------------------------------------------------------------- embedding and analysis


@needs_task_state_store
@pytest.mark.parametrize("source", ["url", "asset_id"])
def test_embedding_task_create(emulator: RunningEmulator, source: str) -> None:
    from airflow_provider_twelvelabs.operators.embed import TwelveLabsCreateEmbeddingTaskOperator

    url = "https://media.example.com/lecture.mp4?duration=60"
    if source == "asset_id":
        with api_client(emulator) as client:
            media: dict[str, str] = {"asset_id": ready_asset(client, url)}
    else:
        media = {"url": url}
    lose_next_answer(emulator, "POST /embed-v2/tasks")
    store = StateStore()

    manifest, ctx = first_try_fails_then_retry(
        lambda: TwelveLabsCreateEmbeddingTaskOperator(task_id="emb", **media, **FAST), store
    )

    tasks = listed(emulator, "/embed-v2/tasks")
    assert [t["_id"] for t in tasks] == [ctx["ti"].pushed["embed_v2_task_id"]]
    assert len(sent(emulator, "POST", "/embed-v2/tasks")) == 1
    assert manifest["count"] > 0


@needs_task_state_store
def test_embedding_task_of_inline_media_fails_explicitly_rather_than_duplicate(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    from airflow_provider_twelvelabs.operators.embed import TwelveLabsCreateEmbeddingTaskOperator

    clip = tmp_path / "clip.mp4"
    write(clip, 20_000)
    lose_next_answer(emulator, "POST /embed-v2/tasks")
    store = StateStore()

    def make() -> Any:
        return TwelveLabsCreateEmbeddingTaskOperator(task_id="emb", file_path=str(clip), **FAST)

    with pytest.raises(TwelveLabsError, match="got no answer"):
        make().execute(context(store))
    with pytest.raises(TwelveLabsError, match="cannot tell which"):
        make().execute(context(store, try_number=2))
    assert len(listed(emulator, "/embed-v2/tasks")) == 1
    assert len(sent(emulator, "POST", "/embed-v2/tasks")) == 1


@needs_task_state_store
@pytest.mark.parametrize("source", ["url", "asset_id"])
def test_analyze_task_create(emulator: RunningEmulator, source: str) -> None:
    from airflow_provider_twelvelabs.operators.analyze_async import TwelveLabsCreateAnalyzeTaskOperator

    url = "https://media.example.com/keynote.mp4?duration=300"
    if source == "asset_id":
        with api_client(emulator) as client:
            media: dict[str, str] = {"asset_id": ready_asset(client, url)}
    else:
        media = {"url": url}
    lose_next_answer(emulator, "POST /analyze/tasks")
    store = StateStore()

    text, ctx = first_try_fails_then_retry(
        lambda: TwelveLabsCreateAnalyzeTaskOperator(task_id="an", prompt="Describe", **media, **FAST), store
    )

    tasks = listed(emulator, "/analyze/tasks")
    assert [t["task_id"] for t in tasks] == [ctx["ti"].pushed["analyze_task_id"]]
    assert len(sent(emulator, "POST", "/analyze/tasks")) == 1
    with api_client(emulator) as client:
        assert text == client.get(f"/analyze/tasks/{tasks[0]['task_id']}").json()["result"]["data"]


@needs_task_state_store
def test_analyze_batch_create(emulator: RunningEmulator, tmp_path: Path) -> None:
    from airflow_provider_twelvelabs.operators.analyze_async import TwelveLabsCreateAnalyzeBatchOperator

    with api_client(emulator) as client:
        ids = [ready_asset(client, f"https://media.example.com/clip{i}.mp4?duration=120") for i in range(5)]
    lose_next_answer(emulator, "POST /analyze/batches")
    store = StateStore()
    out = tmp_path / "results.jsonl"

    manifest, _ = first_try_fails_then_retry(
        lambda: TwelveLabsCreateAnalyzeBatchOperator(
            task_id="batch", items=ids, prompt="Title", output_path=str(out), max_items_per_batch=3, **FAST
        ),
        store,
    )

    batches = listed(emulator, "/analyze/batches")
    assert sorted(b["batch_id"] for b in batches) == sorted(manifest["batch_ids"])
    assert len(batches) == 2  # 5 items, 3 a batch: one batch each, the first found again
    assert len(sent(emulator, "POST", "/analyze/batches")) == 2
    assert manifest["statuses"] == {"ready": 5}


@needs_task_state_store
def test_a_create_answered_with_an_error_leaves_nothing_to_look_for(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    from airflow_provider_twelvelabs.operators.embed import TwelveLabsCreateEmbeddingTaskOperator

    clip = tmp_path / "clip.mp4"
    write(clip, 20_000)
    store = StateStore()
    emulator.config.update({"fault_rate": 1.0, "fault_statuses": [500]})

    def make() -> Any:
        return TwelveLabsCreateEmbeddingTaskOperator(task_id="emb", file_path=str(clip), **FAST)

    with pytest.raises(TwelveLabsError, match="500"):
        make().execute(context(store))
    assert "twelvelabs_create_pending" not in store.values  # the API said no: nothing was created
    emulator.config.update({"fault_rate": 0.0})
    manifest = make().execute(context(store, try_number=2))

    assert manifest["count"] > 0 and len(listed(emulator, "/embed-v2/tasks")) == 1


def test_a_read_whose_answer_was_lost_is_simply_sent_again(emulator: RunningEmulator) -> None:
    from airflow_provider_twelvelabs.hooks.twelvelabs import TwelveLabsHook

    with api_client(emulator) as client:
        index_id = create_index(client)
    lose_next_answer(emulator, "GET /indexes/*")
    with TwelveLabsHook() as hook:
        assert hook.get_index(index_id).id == index_id
    assert len(sent(emulator, "GET", f"/indexes/{index_id}")) == 2 and len(lost(emulator)) == 1


def test_without_a_task_state_store_a_retry_finds_the_upload_by_its_tag(emulator: RunningEmulator) -> None:
    """Airflow before 3.3 keeps no task state: a retry (try 2) still searches by the tag."""
    from airflow_provider_twelvelabs.operators.assets import TwelveLabsUploadAssetOperator
    from tests.helpers.airflow_fakes import RecordingTI

    lose_next_answer(emulator, "POST /assets")
    url = "https://example.invalid/videos/talk.mp4"

    def make() -> TwelveLabsUploadAssetOperator:
        return TwelveLabsUploadAssetOperator(task_id="up", source=url, method="url", **FAST)

    with pytest.raises(TwelveLabsError, match="got no answer"):
        make().execute({"ti": RecordingTI()})
    retry = RecordingTI()
    retry.try_number = 2
    asset_id = make().execute({"ti": retry})

    assert [a["_id"] for a in listed(emulator, "/assets")] == [asset_id]
    assert len(sent(emulator, "POST", "/assets")) == 1


@needs_task_state_store
def test_summary_of_a_long_video_through_an_analyze_task(emulator: RunningEmulator) -> None:
    from airflow_provider_twelvelabs.operators.analyze import TwelveLabsSummarizeOperator

    with api_client(emulator) as client:
        asset_id = ready_asset(client, "https://media.example.com/match.mp4?duration=5400")
    lose_next_answer(emulator, "POST /analyze/tasks")
    store = StateStore()

    summary, ctx = first_try_fails_then_retry(
        lambda: TwelveLabsSummarizeOperator(task_id="s", asset_id=asset_id, **FAST), store
    )

    tasks = listed(emulator, "/analyze/tasks")
    assert [t["task_id"] for t in tasks] == [ctx["ti"].pushed["analyze_task_id"]]
    assert len(sent(emulator, "POST", "/analyze/tasks")) == 1 and summary
