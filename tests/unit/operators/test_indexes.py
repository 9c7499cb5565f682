"""Unit tests of the index operators, against a scripted HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import TaskDeferred

from airflow_provider_twelvelabs.exceptions import (
    TwelveLabsBadRequestError,
    TwelveLabsNotFoundError,
    TwelveLabsResourceFailedError,
)
from airflow_provider_twelvelabs.links import TwelveLabsIndexLink, TwelveLabsVideoLink
from airflow_provider_twelvelabs.operators.indexes import (
    TwelveLabsCreateIndexingTaskOperator,
    TwelveLabsCreateIndexOperator,
    TwelveLabsDeleteIndexOperator,
    TwelveLabsIndexAssetOperator,
)
from airflow_provider_twelvelabs.testing.pytest_plugin import set_twelvelabs_connection
from tests.helpers.airflow_fakes import RecordingTI
from tests.helpers.http_server import FormFile, RecordingServer, Reply

API_KEY = "tlk_TESTKEY_indexes_7d1e0c"
INDEX = "6a0000000000000000000001"
OTHER_INDEX = "6a0000000000000000000002"
ASSET = "6b0000000000000000000001"
INDEXED = "6c0000000000000000000001"
TASK = "6d0000000000000000000001"
VIDEO = "6e0000000000000000000001"
FAST = {"poll_interval": 0.01, "poll_max_interval": 0.02}


@pytest.fixture
def server(recording_server: RecordingServer, monkeypatch: pytest.MonkeyPatch) -> RecordingServer:
    """The scripted API, with the default connection pointing at it (fast retries)."""
    extra = {"retry_base_delay": 0.01, "retry_max_wait": 0.05, "max_retries": 2}
    set_twelvelabs_connection(monkeypatch, recording_server.base_url, API_KEY, **extra)
    # The index operator reads the asset for a content key (dedupe="content"): this one has none.
    recording_server.on("GET", f"assets/{ASSET}", Reply(json={"_id": ASSET, "status": "ready"}))
    return recording_server


@pytest.fixture
def ti() -> RecordingTI:
    return RecordingTI()


def page(*items: dict[str, Any]) -> Reply:
    return Reply(
        json={
            "data": list(items),
            "page_info": {"page": 1, "limit_per_page": 50, "total_page": 1, "total_results": len(items)},
        }
    )


def calls(server: RecordingServer) -> list[tuple[str, str]]:
    return [(r.method, r.api_path) for r in server.requests]


# --------------------------------------------------------------------------- create index


def test_create_index_creates_with_default_models_and_pushes_the_id(server, ti):
    server.on("GET", "indexes", page())
    server.on("POST", "indexes", Reply(201, json={"_id": INDEX}))

    op = TwelveLabsCreateIndexOperator(task_id="create", index_name="archive")
    assert op.execute({"ti": ti}) == INDEX

    lookup = server.requests[0]
    assert lookup.method == "GET" and ("index_name", "archive") in lookup.query
    body = server.requests[1].json()
    assert body == {
        "index_name": "archive",
        "models": [{"model_name": "marengo3.0", "model_options": ["visual", "audio"]}],
    }
    assert ti.pushed["index_id"] == INDEX


def test_create_index_sends_models_and_addons(server, ti):
    server.on("GET", "indexes", page())
    server.on("POST", "indexes", Reply(201, json={"_id": INDEX}))
    models = [{"model_name": "marengo3.0", "model_options": ["visual"]}]

    TwelveLabsCreateIndexOperator(
        task_id="create", index_name="n", models=models, addons=["thumbnail"]
    ).execute({"ti": ti})

    assert server.requests[-1].json() == {"index_name": "n", "models": models, "addons": ["thumbnail"]}


def test_create_index_reuses_the_exact_name_match(server, ti):
    server.on(
        "GET",
        "indexes",
        page(
            {"_id": OTHER_INDEX, "index_name": "archive-2024"},
            {"_id": INDEX, "index_name": "archive"},
        ),
        page(),
    )

    result = TwelveLabsCreateIndexOperator(task_id="create", index_name="archive").execute({"ti": ti})

    assert result == INDEX
    assert ("POST", "indexes") not in calls(server)
    assert ti.pushed["index_id"] == INDEX


def test_create_index_ignores_substring_matches(server, ti):
    server.on("GET", "indexes", page({"_id": OTHER_INDEX, "index_name": "archive-2024"}), page())
    server.on("POST", "indexes", Reply(201, json={"_id": INDEX}))

    assert TwelveLabsCreateIndexOperator(task_id="c", index_name="archive").execute({"ti": ti}) == INDEX
    assert ("POST", "indexes") in calls(server)


def test_create_index_fail_mode_refuses_an_existing_name(server, ti):
    server.on("GET", "indexes", page({"_id": INDEX, "index_name": "archive"}), page())

    op = TwelveLabsCreateIndexOperator(task_id="c", index_name="archive", if_exists="fail")
    with pytest.raises(ValueError, match=r"already exists .*if_exists='fail'") as err:
        op.execute({"ti": ti})

    assert INDEX in str(err.value)
    assert ("POST", "indexes") not in calls(server)
    assert ti.pushes == []


def test_create_index_reuses_the_index_created_by_a_concurrent_task(server, ti):
    server.on("GET", "indexes", page(), page({"_id": INDEX, "index_name": "archive"}), page())
    server.on(
        "POST",
        "indexes",
        Reply(400, json={"code": "index_name_already_exists", "message": "The index name is taken."}),
    )

    assert TwelveLabsCreateIndexOperator(task_id="c", index_name="archive").execute({"ti": ti}) == INDEX
    assert calls(server).count(("POST", "indexes")) == 1


def test_create_index_fail_mode_raises_the_api_error_on_the_race(server, ti):
    server.on("GET", "indexes", page())
    server.on(
        "POST",
        "indexes",
        Reply(400, json={"code": "index_name_already_exists", "message": "The index name is taken."}),
    )

    op = TwelveLabsCreateIndexOperator(task_id="c", index_name="archive", if_exists="fail")
    with pytest.raises(TwelveLabsBadRequestError, match="index_name_already_exists"):
        op.execute({"ti": ti})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"index_name": "  "}, "index_name must be a non-empty string"),
        ({"index_name": "n", "models": []}, "models must be a non-empty list"),
        ({"index_name": "n", "models": [{"model_options": ["visual"]}]}, r"models\[0\]\['model_name'\]"),
        (
            {"index_name": "n", "models": [{"model_name": "marengo3.0", "model_options": "visual"}]},
            r"models\[0\]\['model_options'\]",
        ),
        ({"index_name": "n", "addons": {"thumbnail": True}}, "addons must be a list of strings"),
    ],
)
def test_create_index_validates_before_any_call(server, ti, kwargs, message):
    op = TwelveLabsCreateIndexOperator(task_id="c", **kwargs)
    with pytest.raises(ValueError, match=message):
        op.execute({"ti": ti})
    assert server.requests == []


def test_create_index_rejects_an_unknown_if_exists():
    with pytest.raises(ValueError, match="if_exists must be 'reuse' or 'fail'"):
        TwelveLabsCreateIndexOperator(task_id="c", index_name="n", if_exists="replace")  # type: ignore[arg-type]


def test_create_index_template_fields():
    assert set(TwelveLabsCreateIndexOperator.template_fields) == {"index_name", "models", "addons"}


# --------------------------------------------------------------------------- delete index


def test_delete_index(server, ti):
    server.on("DELETE", f"indexes/{INDEX}", Reply(204))
    assert TwelveLabsDeleteIndexOperator(task_id="d", index_id=INDEX).execute({"ti": ti}) is None
    assert calls(server) == [("DELETE", f"indexes/{INDEX}")]


def test_delete_index_missing_is_ok_by_default(server, ti):
    server.on(
        "DELETE", f"indexes/{INDEX}", Reply(404, json={"code": "resource_not_exist", "message": "gone"})
    )
    TwelveLabsDeleteIndexOperator(task_id="d", index_id=INDEX).execute({"ti": ti})


def test_delete_index_missing_fails_when_asked(server, ti):
    server.on(
        "DELETE", f"indexes/{INDEX}", Reply(404, json={"code": "resource_not_exist", "message": "gone"})
    )
    with pytest.raises(TwelveLabsNotFoundError, match="gone"):
        TwelveLabsDeleteIndexOperator(task_id="d", index_id=INDEX, missing_ok=False).execute({"ti": ti})


def test_delete_index_validates_the_id(server, ti):
    with pytest.raises(ValueError, match="index_id must be a non-empty string"):
        TwelveLabsDeleteIndexOperator(task_id="d", index_id="").execute({"ti": ti})
    assert server.requests == []


# --------------------------------------------------------------------------- index asset


def indexed(status: str, **extra: Any) -> Reply:
    return Reply(json={"_id": INDEXED, "asset_id": ASSET, "status": status, **extra})


def test_index_asset_creates_then_polls_until_ready(server, ti):
    server.on("GET", f"assets/{ASSET}/indexed-assets", page())
    server.on("POST", f"indexes/{INDEX}/indexed-assets", Reply(202, json={"_id": INDEXED, "asset_id": ASSET}))
    server.on(
        "GET",
        f"indexes/{INDEX}/indexed-assets/{INDEXED}",
        indexed("pending"),
        indexed("indexing"),
        indexed("ready", system_metadata={"filename": "a.mp4", "duration": 6.0}),
    )

    op = TwelveLabsIndexAssetOperator(
        task_id="i",
        index_id=INDEX,
        asset_id=ASSET,
        enable_video_stream=True,
        user_metadata={"team": "news"},
        deferrable=False,
        **FAST,
    )
    assert op.execute({"ti": ti}) == INDEXED

    create = next(r for r in server.requests if r.method == "POST")
    assert create.json() == {
        "asset_id": ASSET,
        "enable_video_stream": True,
        "user_metadata": {"team": "news"},
    }
    assert ti.pushed["index_id"] == INDEX
    assert ti.pushed["indexed_asset_id"] == INDEXED


def test_index_asset_defers_after_pushing_the_ids(server, ti):
    server.on("GET", f"assets/{ASSET}/indexed-assets", page())
    server.on("POST", f"indexes/{INDEX}/indexed-assets", Reply(202, json={"_id": INDEXED, "asset_id": ASSET}))

    op = TwelveLabsIndexAssetOperator(task_id="i", index_id=INDEX, asset_id=ASSET, deferrable=True)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute({"ti": ti})

    trigger = deferred.value.trigger
    classpath, kwargs = trigger.serialize()
    assert classpath.endswith("TwelveLabsResourceTrigger")
    assert kwargs["kind"] == "indexed_asset"
    assert kwargs["resource_id"] == INDEXED
    assert kwargs["index_id"] == INDEX
    assert API_KEY not in json.dumps(kwargs, default=str)
    assert deferred.value.method_name == "execute_complete"
    assert ti.pushed["indexed_asset_id"] == INDEXED
    # Only the lookups (back references, the asset's content key) and the create: no polling on the worker.
    assert [m for m, _ in calls(server)] == ["GET", "GET", "POST"]
    assert not any(path.endswith(INDEXED) for _, path in calls(server))


def test_index_asset_execute_complete_returns_the_id(ti):
    op = TwelveLabsIndexAssetOperator(task_id="i", index_id=INDEX, asset_id=ASSET)
    event = {
        "status": "success",
        "kind": "indexed_asset",
        "resource_id": INDEXED,
        "resource": {"id": INDEXED, "status": "ready"},
    }
    assert op.execute_complete({"ti": ti}, event) == INDEXED


def test_index_asset_execute_complete_raises_the_failure_reason(ti):
    op = TwelveLabsIndexAssetOperator(task_id="i", index_id=INDEX, asset_id=ASSET)
    event = {
        "status": "failed",
        "kind": "indexed_asset",
        "resource_id": INDEXED,
        "message": "video too short",
    }
    with pytest.raises(TwelveLabsResourceFailedError, match="video too short"):
        op.execute_complete({"ti": ti}, event)


def test_index_asset_reuses_a_ready_indexed_asset_without_deferring(server, ti):
    server.on(
        "GET",
        f"assets/{ASSET}/indexed-assets",
        page(
            {"_id": "6c00000000000000000000ff", "index": {"_id": OTHER_INDEX, "name": "other"}},
            {"_id": INDEXED, "index": {"_id": INDEX, "name": "archive"}},
        ),
        page(),
    )
    server.on("GET", f"indexes/{INDEX}/indexed-assets/{INDEXED}", indexed("ready"))

    op = TwelveLabsIndexAssetOperator(task_id="i", index_id=INDEX, asset_id=ASSET, deferrable=True)
    assert op.execute({"ti": ti}) == INDEXED

    assert not any(r.method == "POST" for r in server.requests)
    assert ti.pushed["indexed_asset_id"] == INDEXED


def test_index_asset_reuses_a_pending_one_and_waits_for_it(server, ti):
    server.on(
        "GET",
        f"assets/{ASSET}/indexed-assets",
        page({"_id": INDEXED, "index": {"_id": INDEX, "name": "archive"}}),
        page(),
    )
    server.on("GET", f"indexes/{INDEX}/indexed-assets/{INDEXED}", indexed("indexing"), indexed("ready"))

    op = TwelveLabsIndexAssetOperator(task_id="i", index_id=INDEX, asset_id=ASSET, deferrable=False, **FAST)
    assert op.execute({"ti": ti}) == INDEXED
    assert not any(r.method == "POST" for r in server.requests)


def test_index_asset_replaces_a_failed_attempt(server, ti):
    server.on(
        "GET",
        f"assets/{ASSET}/indexed-assets",
        page({"_id": "6c00000000000000000000aa", "index": {"_id": INDEX, "name": "archive"}}),
        page(),
    )
    server.on(
        "GET",
        f"indexes/{INDEX}/indexed-assets/6c00000000000000000000aa",
        Reply(json={"_id": "6c00000000000000000000aa", "status": "failed"}),
    )
    server.on("DELETE", f"indexes/{INDEX}/indexed-assets/6c00000000000000000000aa", Reply(204))
    server.on("POST", f"indexes/{INDEX}/indexed-assets", Reply(202, json={"_id": INDEXED}))

    op = TwelveLabsIndexAssetOperator(
        task_id="i", index_id=INDEX, asset_id=ASSET, deferrable=False, wait_for_ready=False
    )
    assert op.execute({"ti": ti}) == INDEXED
    assert ("DELETE", f"indexes/{INDEX}/indexed-assets/6c00000000000000000000aa") in calls(server)
    assert ("POST", f"indexes/{INDEX}/indexed-assets") in calls(server)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"index_id": "", "asset_id": ASSET}, "index_id must be a non-empty string"),
        ({"index_id": INDEX, "asset_id": None}, "asset_id must be a non-empty string"),
        ({"index_id": INDEX, "asset_id": ASSET, "user_metadata": ["x"]}, "user_metadata must be a mapping"),
        ({"index_id": INDEX, "asset_id": ASSET, "enable_video_stream": "maybe"}, "enable_video_stream"),
    ],
)
def test_index_asset_validates_before_any_call(server, ti, kwargs, message):
    with pytest.raises(ValueError, match=message):
        TwelveLabsIndexAssetOperator(task_id="i", **kwargs).execute({"ti": ti})
    assert server.requests == []


# --------------------------------------------------------------------------- legacy indexing task


def task_reply(status: str, filename: str = "clip.mp4") -> Reply:
    return Reply(
        json={
            "_id": TASK,
            "video_id": VIDEO,
            "index_id": INDEX,
            "status": status,
            "system_metadata": {"filename": filename, "duration": 5.0},
        }
    )


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    path = tmp_path / "clip.mp4"
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"x" * 1000)
    return path


def test_indexing_task_uploads_the_file_and_waits(server, ti, clip):
    server.on("GET", "tasks", page())
    server.on("POST", "tasks", Reply(200, json={"_id": TASK, "video_id": VIDEO}))
    server.on("GET", f"tasks/{TASK}", task_reply("indexing"), task_reply("ready"))

    op = TwelveLabsCreateIndexingTaskOperator(
        task_id="t", index_id=INDEX, video_path=str(clip), user_metadata={"k": "v"}, deferrable=False, **FAST
    )
    assert op.execute({"ti": ti}) == VIDEO

    lookup = server.requests[0]
    assert ("index_id", INDEX) in lookup.query and ("filename", "clip.mp4") in lookup.query
    form = next(r for r in server.requests if r.method == "POST").form_dict()
    assert form["index_id"] == [INDEX]
    assert json.loads(str(form["user_metadata"][0])) == {"k": "v"}
    (upload,) = form["video_file"]
    assert isinstance(upload, FormFile)
    assert upload.filename == "clip.mp4"
    assert upload.content_type == "video/mp4"
    assert upload.content == clip.read_bytes()
    assert ti.pushed["task_id"] == TASK
    assert ti.pushed["video_id"] == VIDEO
    assert ti.pushed["index_id"] == INDEX


def test_indexing_task_reopens_the_file_on_a_retried_request(server, ti, clip):
    server.on("GET", "tasks", page())
    server.on(
        "POST",
        "tasks",
        Reply(503, json={"code": "unavailable", "message": "try again"}),
        Reply(200, json={"_id": TASK, "video_id": VIDEO}),
    )

    op = TwelveLabsCreateIndexingTaskOperator(
        task_id="t", index_id=INDEX, video_path=clip, wait_for_ready=False
    )
    assert op.execute({"ti": ti}) == VIDEO
    uploads = [r for r in server.requests if r.method == "POST"]
    assert len(uploads) == 2
    assert all(r.form_dict()["video_file"][0].content == clip.read_bytes() for r in uploads)  # type: ignore[union-attr]


def test_indexing_task_reuses_a_task_for_the_same_file(server, ti, clip):
    server.on(
        "GET",
        "tasks",
        page(
            {
                "_id": "6d00000000000000000000ff",
                "status": "failed",
                "system_metadata": {"filename": "clip.mp4"},
            },
            {
                "_id": "6d00000000000000000000ee",
                "status": "ready",
                "system_metadata": {"filename": "clip.mp4.bak"},
            },
            {"_id": TASK, "video_id": VIDEO, "status": "ready", "system_metadata": {"filename": "clip.mp4"}},
        ),
        page(),
    )

    op = TwelveLabsCreateIndexingTaskOperator(task_id="t", index_id=INDEX, video_path=clip, deferrable=True)
    assert op.execute({"ti": ti}) == VIDEO
    assert not any(r.method == "POST" for r in server.requests)
    assert ti.pushed["task_id"] == TASK


def test_indexing_task_by_url_defers(server, ti):
    server.on("GET", "tasks", page())
    server.on("POST", "tasks", Reply(200, json={"_id": TASK, "video_id": VIDEO}))

    op = TwelveLabsCreateIndexingTaskOperator(
        task_id="t", index_id=INDEX, video_url="https://media.example.com/a/clip.mp4?sig=1", deferrable=True
    )
    with pytest.raises(TaskDeferred) as deferred:
        op.execute({"ti": ti})

    _, kwargs = deferred.value.trigger.serialize()
    assert kwargs["kind"] == "indexing_task" and kwargs["resource_id"] == TASK
    form = server.requests[-1].form_dict()
    assert form["video_url"] == ["https://media.example.com/a/clip.mp4?sig=1"]
    assert "video_file" not in form
    assert ("filename", "clip.mp4") in server.requests[0].query


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "exactly one of video_path"),
        ({"video_path": "x.mp4", "video_url": "https://e.com/x.mp4"}, "exactly one of video_path"),
        ({"video_path": "/nonexistent/dir/x.mp4"}, "video_path .* is not a file"),
        ({"index_id": " ", "video_url": "https://e.com/x.mp4"}, "index_id must be a non-empty string"),
    ],
)
def test_indexing_task_validates_before_any_call(server, ti, kwargs, message):
    kwargs = {"index_id": INDEX, **kwargs}
    with pytest.raises(ValueError, match=message):
        TwelveLabsCreateIndexingTaskOperator(task_id="t", **kwargs).execute({"ti": ti})
    assert server.requests == []


def test_indexing_task_reads_an_object_storage_path(server, ti, clip):
    from airflow.providers.common.compat.sdk import ObjectStoragePath

    server.on("GET", "tasks", page())
    server.on("POST", "tasks", Reply(200, json={"_id": TASK, "video_id": VIDEO}))

    source = ObjectStoragePath(f"file://{clip}")
    op = TwelveLabsCreateIndexingTaskOperator(
        task_id="t", index_id=INDEX, video_path=source, wait_for_ready=False
    )
    op.execute({"ti": ti})

    upload = server.requests[-1].form_dict()["video_file"][0]
    assert isinstance(upload, FormFile) and upload.content == clip.read_bytes()


# --------------------------------------------------------------------------- links


@pytest.fixture
def xcoms(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The XComs the links read, in place of the metadata database."""
    from airflow.providers.common.compat.sdk import XCom

    values: dict[str, Any] = {}
    monkeypatch.setattr(XCom, "get_value", staticmethod(lambda *, ti_key, key: values.get(key)))
    return values


def test_index_link(xcoms):
    op = TwelveLabsCreateIndexOperator(task_id="c", index_name="n")
    assert TwelveLabsIndexLink().get_link(op, ti_key=None) == ""  # type: ignore[arg-type]
    xcoms["index_id"] = INDEX
    assert (
        TwelveLabsIndexLink().get_link(op, ti_key=None)  # type: ignore[arg-type]
        == f"https://playground.twelvelabs.io/indexes/{INDEX}"
    )


def test_video_link_of_the_index_asset_operator(xcoms):
    op = TwelveLabsIndexAssetOperator(task_id="i", index_id=INDEX, asset_id=ASSET)
    link = TwelveLabsVideoLink()
    xcoms["indexed_asset_id"] = INDEXED
    assert link.get_link(op, ti_key=None) == ""  # type: ignore[arg-type]
    xcoms["index_id"] = INDEX
    expected = f"https://playground.twelvelabs.io/indexes/{INDEX}/videos/{INDEXED}"
    assert link.get_link(op, ti_key=None) == expected  # type: ignore[arg-type]


def test_video_link_of_the_indexing_task_operator(xcoms):
    op = TwelveLabsCreateIndexingTaskOperator(task_id="t", index_id=INDEX, video_url="https://e.com/a.mp4")
    link = TwelveLabsVideoLink()
    xcoms.update(index_id=INDEX, indexed_asset_id=INDEXED)
    assert link.get_link(op, ti_key=None) == ""  # type: ignore[arg-type]
    xcoms["video_id"] = VIDEO
    expected = f"https://playground.twelvelabs.io/indexes/{INDEX}/videos/{VIDEO}"
    assert link.get_link(op, ti_key=None) == expected  # type: ignore[arg-type]


def test_operators_declare_their_links():
    names = {type(link).__name__ for link in TwelveLabsIndexAssetOperator.operator_extra_links}
    assert names == {"TwelveLabsIndexLink", "TwelveLabsVideoLink"}
    assert [type(link).__name__ for link in TwelveLabsCreateIndexOperator.operator_extra_links] == [
        "TwelveLabsIndexLink"
    ]
