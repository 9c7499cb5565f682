"""Legacy indexing tasks (/tasks) and videos (/indexes/{id}/videos)."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.unit.emulator.conftest import make_index, poll, spec_checked

TASK_PATH = ["uploading", "validating", "pending", "queued", "indexing", "ready"]


def create_task(
    api: httpx.Client, index_id: str, filename: str = "clip.mp4", **fields: str
) -> dict[str, str]:
    response = api.post(
        "/tasks",
        data={"index_id": index_id, **fields},
        files={"video_file": (filename, b"v" * 2000, "video/mp4")},
    )
    body: dict[str, str] = spec_checked(response, 200)
    return body


def test_create_task_with_a_file_runs_the_full_lifecycle(api: httpx.Client) -> None:
    index_id = make_index(api)
    task = create_task(api, index_id, user_metadata=json.dumps({"show": "news"}), enable_video_stream="true")
    assert set(task) == {"_id", "video_id"}
    assert poll(api, f"/tasks/{task['_id']}") == TASK_PATH
    detail = spec_checked(api.get(f"/tasks/{task['_id']}"), 200)
    assert detail["video_id"] == task["video_id"] and detail["index_id"] == index_id
    assert detail["system_metadata"]["filename"] == "clip.mp4" and detail["system_metadata"]["duration"] > 0
    assert detail["hls"]["status"] == "COMPLETE"
    video = spec_checked(api.get(f"/indexes/{index_id}/videos/{task['video_id']}"), 200)
    assert video["user_metadata"] == {"show": "news"}
    assert "status" not in video
    assert api.get(f"/indexes/{index_id}").json()["video_count"] == 1


def test_create_task_with_a_url(api: httpx.Client) -> None:
    index_id = make_index(api)
    response = api.post(
        "/tasks", data={"index_id": index_id, "video_url": "https://cdn.example/a/talk.mp4?duration=90"}
    )
    task = spec_checked(response, 200)
    assert poll(api, f"/tasks/{task['_id']}")[-1] == "ready"
    detail = api.get(f"/tasks/{task['_id']}").json()
    assert detail["system_metadata"]["filename"] == "talk.mp4"
    assert detail["system_metadata"]["duration"] == 90


@pytest.mark.parametrize(
    ("filename", "path"),
    [
        ("fail.mp4", ["uploading", "validating", "failed"]),
        ("ok_fail-index.mp4", ["uploading", "validating", "pending", "queued", "indexing", "failed"]),
    ],
)
def test_failure_markers_fail_tasks_at_validation_or_indexing(
    api: httpx.Client, filename: str, path: list[str]
) -> None:
    index_id = make_index(api)
    task = create_task(api, index_id, filename)
    assert poll(api, f"/tasks/{task['_id']}") == path
    assert api.get(f"/tasks/{task['_id']}").json()["error"]["message"]
    assert api.get(f"/indexes/{index_id}/videos").json()["data"] == []


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"index_id": "placeholder"},
        {"index_id": "placeholder", "video_url": "ftp://x/y.mp4"},
        {"index_id": "placeholder", "video_url": "https://x/y.mp4", "user_metadata": "nope"},
    ],
)
def test_create_task_validates_its_form(api: httpx.Client, data: dict[str, str]) -> None:
    index_id = make_index(api)
    fields = {k: (index_id if v == "placeholder" else v) for k, v in data.items()}
    response = api.post("/tasks", data=fields, files={"unused": ("a.txt", b"a", "text/plain")})
    assert spec_checked(response, 400)["code"] in ("parameter_invalid", "parameter_not_provided")


def test_create_task_in_unknown_index_is_404(api: httpx.Client) -> None:
    response = api.post(
        "/tasks", data={"index_id": "0123456789abcdef01234567", "video_url": "https://x/y.mp4"}
    )
    assert response.status_code == 404 and response.json()["code"] == "resource_not_exist"


def test_list_tasks_with_filters(api: httpx.Client) -> None:
    first_index, second_index = make_index(api, "one"), make_index(api, "two")
    a = create_task(api, first_index, "a.mp4")["_id"]
    b = create_task(api, second_index, "b.mp4")["_id"]
    body = spec_checked(api.get("/tasks"), 200)
    assert [t["_id"] for t in body["data"]] == [b, a]
    assert all(t["status"] == "uploading" for t in body["data"])
    assert [t["_id"] for t in api.get("/tasks", params={"index_id": first_index}).json()["data"]] == [a]
    assert [t["_id"] for t in api.get("/tasks", params={"filename": "b.mp4"}).json()["data"]] == [b]
    # Both were listed twice (2 reads): validating.
    statuses = [("status", "validating"), ("status", "ready")]
    assert len(api.get("/tasks", params=statuses).json()["data"]) == 2
    assert api.get("/tasks", params={"status": "ready"}).json()["data"] == []
    assert api.get("/tasks", params={"status": "bogus"}).status_code == 400
    assert [t["_id"] for t in api.get("/tasks", params={"sort_option": "asc"}).json()["data"]] == [a, b]
    assert api.get("/tasks", params={"page": 2}).json()["data"] == []


def test_delete_task_rules(api: httpx.Client) -> None:
    index_id = make_index(api)
    task = create_task(api, index_id)
    running = api.delete(f"/tasks/{task['_id']}")
    assert spec_checked(running, 400)["code"] == "task_cannot_be_deleted"
    poll(api, f"/tasks/{task['_id']}")
    still_indexed = api.delete(f"/tasks/{task['_id']}")
    assert still_indexed.json()["code"] == "task_cannot_be_deleted"
    spec_checked(api.delete(f"/indexes/{index_id}/videos/{task['video_id']}"), 204)
    spec_checked(api.delete(f"/tasks/{task['_id']}"), 204)
    assert api.get(f"/tasks/{task['_id']}").status_code == 404


def test_failed_task_can_be_deleted_directly(api: httpx.Client) -> None:
    index_id = make_index(api)
    task = create_task(api, index_id, "fail.mp4")
    poll(api, f"/tasks/{task['_id']}")
    assert api.delete(f"/tasks/{task['_id']}").status_code == 204


def test_videos_list_only_indexed_videos_with_filters(api: httpx.Client) -> None:
    index_id = make_index(api)
    a = create_task(api, index_id, "a.mp4", user_metadata=json.dumps({"category": "recentlyAdded"}))
    b = create_task(api, index_id, "b.mp4", user_metadata=json.dumps({"category": "archive"}))
    create_task(api, index_id, "c.mp4")  # never polled: not indexed yet
    for task in (a, b):
        poll(api, f"/tasks/{task['_id']}")
    base = f"/indexes/{index_id}/videos"
    body = spec_checked(api.get(base), 200)
    assert [v["_id"] for v in body["data"]] == [b["video_id"], a["video_id"]]
    assert body["data"][0]["system_metadata"]["filename"] == "b.mp4"
    assert [v["_id"] for v in api.get(base, params={"category": "recentlyAdded"}).json()["data"]] == [
        a["video_id"]
    ]
    by_bracket = api.get(base, params={"user_metadata[category]": "archive"}).json()["data"]
    assert [v["_id"] for v in by_bracket] == [b["video_id"]]
    assert [v["_id"] for v in api.get(base, params={"filename": "a.mp4"}).json()["data"]] == [a["video_id"]]
    assert api.get(base, params={"width[gte]": 100000}).json()["data"] == []
    assert api.get(base, params={"page": 2}).json()["data"] == []


def test_video_retrieve_patch_and_embeddings(api: httpx.Client) -> None:
    index_id = make_index(api)
    task = create_task(api, index_id, user_metadata=json.dumps({"a": 1}))
    poll(api, f"/tasks/{task['_id']}")
    path = f"/indexes/{index_id}/videos/{task['video_id']}"
    spec_checked(api.patch(path, json={"user_metadata": {"b": "x", "a": None}}), 204)
    video = spec_checked(api.get(path, params={"embedding_option": "visual", "transcription": "true"}), 200)
    assert video["user_metadata"] == {"b": "x"}
    assert video["embedding"]["video_embedding"]["segments"][0]["embedding_option"] == "visual"
    assert video["transcription"]
    assert api.get(f"/indexes/{index_id}/videos/0123456789abcdef01234567").status_code == 404
    # A legacy video is also visible as an indexed asset.
    assert api.get(f"/indexes/{index_id}/indexed-assets/{task['video_id']}").json()["status"] == "ready"
