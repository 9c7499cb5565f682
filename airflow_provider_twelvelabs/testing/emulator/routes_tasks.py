"""Legacy indexing: ``/v1.3/tasks`` and ``/v1.3/indexes/{index_id}/videos``.

A task uploads and indexes one video. Its ``video_id`` names an indexed-asset record created at the
same time and sharing the task's lifecycle, so the video shows up under ``/videos`` (and as an indexed
asset) and counts in the index once the task is ``ready``.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from airflow_provider_twelvelabs.testing.emulator.errors import APIError, bad_request, not_found
from airflow_provider_twelvelabs.testing.emulator.render import public_url, task_json, video_json
from airflow_provider_twelvelabs.testing.emulator.routes_assets import store_upload, validate_user_metadata
from airflow_provider_twelvelabs.testing.emulator.routes_indexes import (
    check_min_duration,
    embedding_request,
    filter_indexed,
    get_index,
    patch_user_metadata,
)
from airflow_provider_twelvelabs.testing.emulator.state import TASK_STEPS, EmulatorState, IndexedAsset, Task
from airflow_provider_twelvelabs.testing.emulator.wire import (
    json_response,
    match_date,
    match_range,
    no_content,
    page_params,
    paginate,
    parse_form,
    parse_query,
    sort_records,
)

__all__ = ["MAX_TASK_UPLOAD_BYTES", "TASK_STATUSES", "routes"]

#: ``video_file`` uploads are limited to 2 GB.
MAX_TASK_UPLOAD_BYTES = 2 * 1024**3
#: Statuses accepted by the ``status`` filter of ``GET /tasks``.
TASK_STATUSES = ("ready", "uploading", "validating", "pending", "queued", "indexing", "failed")
_VIDEO_PARAMS = ("sort_by", "sort_option", "filename", "duration", "fps", "width", "height", "size")
_VIDEO_PARAMS_ALL = (*_VIDEO_PARAMS, "created_at", "updated_at")


def _state(request: Request) -> EmulatorState:
    state: EmulatorState = request.app.state.emulator
    return state


async def create_task(request: Request) -> Response:
    """``POST /tasks`` (form): upload a file or URL into an index; 200 ``{"_id", "video_id"}``."""
    state = _state(request)
    form = await parse_form(request)
    index_id = form.get("index_id")
    if not index_id:
        raise bad_request("The index_id parameter is required.", code="parameter_not_provided")
    index = get_index(state, index_id)
    upload = form.files.get("video_file")
    url = form.get("video_url")
    if (upload is None) == (not url):
        raise bad_request("Provide exactly one of video_file and video_url.", code="parameter_not_provided")
    if url and urlsplit(url).scheme not in ("http", "https"):
        raise bad_request("The video_url parameter must be a publicly accessible http(s) URL.")
    enable_stream = form.bool("enable_video_stream", True)
    user_metadata = validate_user_metadata(form.json("user_metadata"))
    if upload is not None:
        asset = state.new_asset(
            method="direct",
            filename=upload.filename or "video.mp4",
            enable_hls=enable_stream,
            enable_thumbnail=True,
            asset_type="video",
            start_lifecycle=False,
        )
        target = state.media_path(asset.id)
        size, md5 = await anyio.to_thread.run_sync(store_upload, upload.file, target, MAX_TASK_UPLOAD_BYTES)
        await upload.close()
        if size < 0:
            del state.assets[asset.id]
            raise bad_request("Videos are limited to 2 GB.", code="video_filesize_too_large")
        asset.path, asset.size, asset.md5 = target, size, md5
    else:
        filename = urlsplit(url or "").path.rsplit("/", 1)[-1] or "video.mp4"
        asset = state.new_asset(
            method="url",
            filename=filename,
            enable_hls=enable_stream,
            enable_thumbnail=True,
            url=url,
            asset_type="video",
            start_lifecycle=False,
        )
    state.start_asset_processing(asset)
    try:
        check_min_duration(index, asset.filename, asset.duration)
    except APIError:
        state.assets.pop(asset.id, None)
        if asset.path is not None:
            asset.path.unlink(missing_ok=True)
        raise
    if asset.size is None and asset.duration is not None:
        asset.size = int(asset.duration * 250_000)
    # A "fail" name fails validation (like a broken file); "fail_index" fails during indexing.
    fail_after = {"asset": TASK_STEPS.index("validating"), "index": TASK_STEPS.index("indexing")}
    lifecycle = state.new_lifecycle(
        TASK_STEPS, fail=asset.failure in fail_after, fail_after=fail_after.get(asset.failure or "")
    )
    if state.config.indexing_never_finish:
        lifecycle = state.new_lifecycle(TASK_STEPS, success=TASK_STEPS[-1])  # stays indexing for ever
    lifecycle = lifecycle.held_while("hold_indexing")
    now = state.now()
    task = Task(
        id=state.new_id(),
        index_id=index.id,
        video_id=state.new_id(),
        asset_id=asset.id,
        created_at=now,
        lifecycle=lifecycle,
        enable_video_stream=enable_stream,
    )
    state.tasks[task.id] = task
    state.indexed_assets[task.video_id] = IndexedAsset(
        id=task.video_id,
        index_id=index.id,
        asset_id=asset.id,
        created_at=now,
        updated_at=now,
        lifecycle=lifecycle,
        user_metadata=user_metadata,
        enable_video_stream=enable_stream,
        task_id=task.id,
    )
    return json_response({"_id": task.id, "video_id": task.video_id})


async def list_tasks(request: Request) -> Response:
    """``GET /tasks``: filter by index, repeated status, filename, duration, size, dates."""
    state = _state(request)
    query = parse_query(request.query_params)
    page, limit = page_params(query)
    index_id = query.get("index_id")
    statuses = set(query.getlist("status"))
    unknown = statuses - set(TASK_STATUSES)
    if unknown:
        raise bad_request(f"Unknown status values: {', '.join(sorted(unknown))}.")
    needle = (query.get("filename") or "").lower()

    def keep(task: Task) -> bool:
        asset = state.media_asset(task.asset_id)
        if asset is None or (index_id and task.index_id != index_id):
            return False
        if statuses and task.lifecycle.peek() not in statuses:
            # A filtered listing reads the tasks it skips too (one read per scanned task), so
            # poll-driven lifecycles also move for clients that only list finished tasks.
            task.lifecycle.observe()
            return False
        if needle and needle not in asset.filename.lower():
            return False
        if not all(match_range(getattr(asset, f), f, query) for f in ("duration", "width", "height")):
            return False
        return match_date(task.created_at, query.get("created_at"), "created_at") and match_date(
            task.lifecycle.updated_at, query.get("updated_at"), "updated_at"
        )

    def stamp(task: Task, field: str) -> datetime:
        return task.created_at if field == "created_at" else task.lifecycle.updated_at

    tasks = sort_records([t for t in state.tasks.values() if keep(t)], query, stamp)
    root = public_url(request)
    return json_response(paginate(tasks, page, limit, lambda t: task_json(t, state, root, observe=True)))


def _get_task(state: EmulatorState, task_id: str) -> Task:
    task = state.tasks.get(task_id)
    if task is None:
        raise not_found(task_id, "tasks")
    return task


async def retrieve_task(request: Request) -> Response:
    """``GET /tasks/{task_id}``: one lifecycle read."""
    state = _state(request)
    task = _get_task(state, request.path_params["task_id"])
    return json_response(task_json(task, state, public_url(request), observe=True, detailed=True))


async def delete_task(request: Request) -> Response:
    """``DELETE /tasks/{task_id}``: only ``ready``/``failed`` tasks, and a ready one's video must be gone."""
    state = _state(request)
    task = _get_task(state, request.path_params["task_id"])
    status = task.lifecycle.peek()
    if status not in ("ready", "failed"):
        raise bad_request(
            f"The task {task.id} is {status}; only ready or failed tasks can be deleted.",
            code="task_cannot_be_deleted",
        )
    if status == "ready" and task.video_id in state.indexed_assets:
        raise bad_request(
            f"Delete the video {task.video_id} from its index before deleting the task.",
            code="task_cannot_be_deleted",
        )
    state.indexed_assets.pop(task.video_id, None)
    del state.tasks[task.id]
    return no_content()


async def list_videos(request: Request) -> Response:
    """``GET /indexes/{index_id}/videos``: indexed videos, with ranges and both metadata spellings."""
    state = _state(request)
    index = get_index(state, request.path_params["index_id"])
    query = parse_query(request.query_params, _VIDEO_PARAMS_ALL, root_metadata=True)
    page, limit = page_params(query)
    candidates = [
        r for r in state.indexed_assets.values() if r.index_id == index.id and r.status() == "ready"
    ]
    records = filter_indexed(state, candidates, query)
    root = public_url(request)
    return json_response(paginate(records, page, limit, lambda r: video_json(r, state, root, observe=True)))


def _get_video(state: EmulatorState, request: Request) -> IndexedAsset:
    index = get_index(state, request.path_params["index_id"])
    video_id = request.path_params["video_id"]
    record = state.get_indexed_asset(video_id, index.id)
    if record is None:
        raise not_found(video_id, "videos")
    return record


async def retrieve_video(request: Request) -> Response:
    """``GET /indexes/{index_id}/videos/{video_id}``: with ``embedding_option`` and ``transcription``."""
    state = _state(request)
    record = _get_video(state, request)
    options, transcription = embedding_request(parse_query(request.query_params))
    body = video_json(
        record,
        state,
        public_url(request),
        observe=True,
        detailed=True,
        embedding_options=options,
        transcription=transcription,
    )
    return json_response(body)


async def update_video(request: Request) -> Response:
    """``PATCH /indexes/{index_id}/videos/{video_id}``: user metadata partial update; 204."""
    state = _state(request)
    return await patch_user_metadata(request, _get_video(state, request))


async def delete_video(request: Request) -> Response:
    """``DELETE /indexes/{index_id}/videos/{video_id}``: 204."""
    state = _state(request)
    record = _get_video(state, request)
    del state.indexed_assets[record.id]
    return no_content()


_VIDEOS = "/v1.3/indexes/{index_id}/videos"
routes = [
    Route("/v1.3/tasks", create_task, methods=["POST"]),
    Route("/v1.3/tasks", list_tasks, methods=["GET"]),
    Route("/v1.3/tasks/{task_id}", retrieve_task, methods=["GET"]),
    Route("/v1.3/tasks/{task_id}", delete_task, methods=["DELETE"]),
    Route(_VIDEOS, list_videos, methods=["GET"]),
    Route(_VIDEOS + "/{video_id}", retrieve_video, methods=["GET"]),
    Route(_VIDEOS + "/{video_id}", update_video, methods=["PATCH"]),
    Route(_VIDEOS + "/{video_id}", delete_video, methods=["DELETE"]),
]
