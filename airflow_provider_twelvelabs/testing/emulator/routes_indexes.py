"""``/v1.3/indexes`` and ``/v1.3/indexes/{index_id}/indexed-assets``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from airflow_provider_twelvelabs.testing.emulator.errors import bad_request, not_found
from airflow_provider_twelvelabs.testing.emulator.render import index_json, indexed_asset_json, public_url
from airflow_provider_twelvelabs.testing.emulator.routes_assets import validate_user_metadata
from airflow_provider_twelvelabs.testing.emulator.state import (
    INDEXED_ASSET_STEPS,
    EmulatorState,
    Index,
    IndexedAsset,
)
from airflow_provider_twelvelabs.testing.emulator.wire import (
    Query,
    json_response,
    match_date,
    match_metadata,
    match_range,
    no_content,
    page_params,
    paginate,
    parse_query,
    read_json,
    sort_records,
)

__all__ = [
    "EMBEDDING_OPTIONS",
    "INDEXED_ASSET_STATUSES",
    "MIN_INDEX_SECONDS",
    "MODEL_NAMES",
    "check_min_duration",
    "filter_indexed",
    "get_index",
    "patch_user_metadata",
    "routes",
]

#: Model names an index may be created with (SDK 1.3.6 and the Feb 2026 spec together).
MODEL_NAMES = ("marengo3.0", "marengo2.7", "pegasus1.2")
_MODEL_OPTIONS = ("visual", "audio")
_ADDONS = ("thumbnail",)
#: Shortest video an index with a Marengo model accepts (Marengo video requirements: 4 s).
MIN_INDEX_SECONDS = 4.0
#: Statuses accepted by the indexed-assets ``status`` filter.
INDEXED_ASSET_STATUSES = ("ready", "pending", "queued", "indexing", "validating", "failed")
#: ``embedding_option`` values of indexed-asset and video retrieval.
EMBEDDING_OPTIONS = ("visual", "audio", "transcription", "visual-text")
_LIST_PARAMS = (
    "sort_by",
    "sort_option",
    "status",
    "filename",
    "duration",
    "fps",
    "width",
    "height",
    "size",
    "created_at",
    "updated_at",
)


def _state(request: Request) -> EmulatorState:
    state: EmulatorState = request.app.state.emulator
    return state


def get_index(state: EmulatorState, index_id: str) -> Index:
    """Return an index or raise the 404 ``resource_not_exist`` error.

    :param state: the emulator state.
    :param index_id: the index id.
    """
    index = state.indexes.get(index_id)
    if index is None:
        raise not_found(index_id, "indexes")
    return index


def check_min_duration(index: Index, filename: str, duration: float | None) -> None:
    """Refuse a video shorter than what the index's models accept (400 ``video_duration_too_short``).

    :param index: the target index.
    :param filename: the video's filename, for the message.
    :param duration: its duration in seconds (``None`` when unknown: accepted).
    """
    if duration is None or not any(m["model_name"].startswith("marengo") for m in index.models):
        return
    if duration < MIN_INDEX_SECONDS:
        raise bad_request(
            f"The video {filename} is {duration:g} s long; videos must be at least {MIN_INDEX_SECONDS:g} s "
            "long to be indexed.",
            code="video_duration_too_short",
        )


def _validate_models(models: Any) -> list[dict[str, Any]]:
    if not isinstance(models, list) or not 1 <= len(models) <= 2:
        raise bad_request("The models parameter must be a list of one or two models.")
    out = []
    for model in models:
        if not isinstance(model, dict) or not isinstance(model.get("model_name"), str):
            raise bad_request("Each model must be an object with a model_name.")
        name = model["model_name"]
        if name not in MODEL_NAMES:
            raise bad_request(f"Unsupported model_name {name!r}; use one of {', '.join(MODEL_NAMES)}.")
        options = model.get("model_options")
        if (
            not isinstance(options, list)
            or not 1 <= len(options) <= 2
            or any(o not in _MODEL_OPTIONS for o in options)
            or len(set(options)) != len(options)
        ):
            raise bad_request("model_options must list one or two of: visual, audio.")
        out.append({"model_name": name, "model_options": list(options)})
    return out


def _name_taken(state: EmulatorState, name: str, except_id: str | None = None) -> bool:
    return any(i.name == name and i.id != except_id for i in state.indexes.values())


async def create_index(request: Request) -> Response:
    """``POST /indexes``: 201 ``{"_id"}``; 400 ``index_name_already_exists`` on a duplicate name."""
    state = _state(request)
    body = await read_json(request)
    name = body.get("index_name")
    if not isinstance(name, str) or not name.strip():
        raise bad_request("The index_name parameter is required.", code="parameter_not_provided")
    if "models" not in body:
        raise bad_request("The models parameter is required.", code="parameter_not_provided")
    models = _validate_models(body["models"])
    addons = body.get("addons") or []
    if not isinstance(addons, list) or any(a not in _ADDONS for a in addons):
        raise bad_request("addons may only contain thumbnail.")
    if addons and not any(m["model_name"].startswith("marengo") for m in models):
        raise bad_request("The thumbnail addon requires a Marengo model.")
    if _name_taken(state, name):
        raise bad_request(f"An index named {name!r} already exists.", code="index_name_already_exists")
    now = state.now()
    index = Index(
        id=state.new_id(), name=name, models=models, addons=list(addons), created_at=now, updated_at=now
    )
    state.indexes[index.id] = index
    return json_response({"_id": index.id}, status=201)


async def list_indexes(request: Request) -> Response:
    """``GET /indexes``: filter by name, model options and family, dates; sort; paginate."""
    state = _state(request)
    query = parse_query(request.query_params)
    page, limit = page_params(query)
    name = query.get("index_name")
    options = set(query.getlist("model_options"))
    family = query.get("model_family")
    if family is not None and family not in ("marengo", "pegasus"):
        raise bad_request("The model_family parameter must be marengo or pegasus.")

    def keep(index: Index) -> bool:
        if name is not None and index.name != name:
            return False
        if family is not None and not any(m["model_name"].startswith(family) for m in index.models):
            return False
        index_options = {o for m in index.models for o in m["model_options"]}
        if not options <= index_options:
            return False
        return match_date(index.created_at, query.get("created_at"), "created_at") and match_date(
            index.updated_at, query.get("updated_at"), "updated_at"
        )

    def stamp(index: Index, field: str) -> datetime:
        value: datetime = getattr(index, field)
        return value

    indexes = sort_records([i for i in state.indexes.values() if keep(i)], query, stamp)
    return json_response(paginate(indexes, page, limit, lambda i: index_json(i, state)))


async def retrieve_index(request: Request) -> Response:
    """``GET /indexes/{index_id}``."""
    state = _state(request)
    return json_response(index_json(get_index(state, request.path_params["index_id"]), state))


async def rename_index(request: Request) -> Response:
    """``PUT /indexes/{index_id}``: only the name can change; 204."""
    state = _state(request)
    index = get_index(state, request.path_params["index_id"])
    body = await read_json(request)
    name = body.get("index_name")
    if not isinstance(name, str) or not name.strip():
        raise bad_request("The index_name parameter is required.", code="parameter_not_provided")
    if _name_taken(state, name, except_id=index.id):
        raise bad_request(f"An index named {name!r} already exists.", code="index_name_already_exists")
    index.name = name
    index.updated_at = state.now()
    return no_content()


async def delete_index(request: Request) -> Response:
    """``DELETE /indexes/{index_id}``: the index and everything indexed in it; 204."""
    state = _state(request)
    index = get_index(state, request.path_params["index_id"])
    with state.lock:
        del state.indexes[index.id]
        for record_id in [r.id for r in state.indexed_assets.values() if r.index_id == index.id]:
            del state.indexed_assets[record_id]
        for task_id in [t.id for t in state.tasks.values() if t.index_id == index.id]:
            del state.tasks[task_id]
    return no_content()


async def create_indexed_asset(request: Request) -> Response:
    """``POST /indexes/{index_id}/indexed-assets``: 202 ``{"_id", "asset_id"}`` and ``Location``."""
    state = _state(request)
    index = get_index(state, request.path_params["index_id"])
    body = await read_json(request)
    asset_id = body.get("asset_id")
    if not isinstance(asset_id, str) or not asset_id:
        raise bad_request("The asset_id parameter is required.", code="parameter_not_provided")
    asset = state.get_asset(asset_id)
    if asset is None:
        raise not_found(asset_id, "assets")
    if asset.peek_status() != "ready":
        raise bad_request(f"The asset {asset_id} is not ready (status: {asset.peek_status()}).")
    if asset.asset_type not in ("video", "audio"):
        raise bad_request(f"Assets of type {asset.asset_type} cannot be indexed.")
    if all(m["model_name"] == "pegasus1.2" for m in index.models):
        raise bad_request("Videos can no longer be added to Pegasus 1.2 indexes.", code="index_not_supported")
    if asset.asset_type == "video":
        check_min_duration(index, asset.filename, asset.duration)
    enable_stream = body.get("enable_video_stream", False)
    if not isinstance(enable_stream, bool):
        raise bad_request("enable_video_stream must be a boolean.")
    user_metadata = validate_user_metadata(body.get("user_metadata"))
    now = state.now()
    record = IndexedAsset(
        id=state.new_id(),
        index_id=index.id,
        asset_id=asset.id,
        created_at=now,
        updated_at=now,
        lifecycle=(
            # indexing_never_finish: the last step repeats as the "final" one, so it stays indexing.
            state.new_lifecycle(INDEXED_ASSET_STEPS, success=INDEXED_ASSET_STEPS[-1])
            if state.config.indexing_never_finish
            else state.new_lifecycle(INDEXED_ASSET_STEPS, fail=asset.failure == "index")
        ).held_while("hold_indexing"),
        user_metadata=user_metadata,
        enable_video_stream=enable_stream,
    )
    state.indexed_assets[record.id] = record
    location = f"/indexes/{index.id}/indexed-assets/{record.id}"
    return json_response({"_id": record.id, "asset_id": asset.id}, status=202, headers={"Location": location})


def filter_indexed(state: EmulatorState, records: list[IndexedAsset], query: Query) -> list[IndexedAsset]:
    """Apply the filters shared by the indexed-assets and videos listings, then sort.

    :param state: the emulator state.
    :param records: candidate records in creation order.
    :param query: the parsed query (with user-metadata filters in both spellings).
    """
    statuses = set(query.getlist("status"))
    unknown = statuses - set(INDEXED_ASSET_STATUSES)
    if unknown:
        raise bad_request(f"Unknown status values: {', '.join(sorted(unknown))}.")
    needle = (query.get("filename") or "").lower()
    kept = []
    for record in records:
        asset = state.media_asset(record.asset_id)
        if asset is None:
            continue
        if statuses and record.status() not in statuses:
            # A filtered listing reads the records it skips too (one read per scanned record), so
            # poll-driven lifecycles also move for clients that only list finished ones.
            record.status(observe=True)
            continue
        if needle and needle not in asset.filename.lower():
            continue
        if not all(
            match_range(getattr(asset, f), f, query) for f in ("duration", "fps", "width", "height", "size")
        ):
            continue
        if not match_date(record.created_at, query.get("created_at"), "created_at"):
            continue
        if not match_date(record.updated_at, query.get("updated_at"), "updated_at"):
            continue
        if not match_metadata(record.user_metadata, query.metadata):
            continue
        kept.append(record)

    def stamp(record: IndexedAsset, field: str) -> datetime:
        return (
            record.created_at
            if field == "created_at"
            else max(record.updated_at, record.lifecycle.updated_at)
        )

    return sort_records(kept, query, stamp)


async def list_indexed_assets(request: Request) -> Response:
    """``GET /indexes/{index_id}/indexed-assets``: repeated ``status``, ranges, metadata filters."""
    state = _state(request)
    index = get_index(state, request.path_params["index_id"])
    query = parse_query(request.query_params, _LIST_PARAMS, root_metadata=True)
    page, limit = page_params(query)
    records = filter_indexed(
        state, [r for r in state.indexed_assets.values() if r.index_id == index.id], query
    )
    root = public_url(request)
    return json_response(
        paginate(records, page, limit, lambda r: indexed_asset_json(r, state, root, observe=True))
    )


def embedding_request(query: Query) -> tuple[list[str], bool]:
    """Return the ``embedding_option`` list and the ``transcription`` flag of a retrieve request.

    :param query: the parsed query.
    :raises APIError: 400 on an unknown embedding option.
    """
    options = query.getlist("embedding_option")
    unknown = [o for o in options if o not in EMBEDDING_OPTIONS]
    if unknown:
        raise bad_request(f"Unknown embedding_option values: {', '.join(unknown)}.")
    return list(dict.fromkeys(options)), query.bool("transcription", False)


def _get_record(state: EmulatorState, request: Request, param: str, collection: str) -> IndexedAsset:
    index = get_index(state, request.path_params["index_id"])
    record_id = request.path_params[param]
    record = state.get_indexed_asset(record_id, index.id)
    if record is None:
        raise not_found(record_id, collection)
    return record


async def retrieve_indexed_asset(request: Request) -> Response:
    """``GET /indexes/{index_id}/indexed-assets/{indexed_asset_id}``: one lifecycle read."""
    state = _state(request)
    record = _get_record(state, request, "indexed_asset_id", "indexed assets")
    options, transcription = embedding_request(parse_query(request.query_params))
    body = indexed_asset_json(
        record,
        state,
        public_url(request),
        observe=True,
        detailed=True,
        embedding_options=options,
        transcription=transcription,
    )
    return json_response(body)


async def patch_user_metadata(request: Request, record: IndexedAsset) -> Response:
    """Apply a ``{"user_metadata": {...}}`` partial update (``null`` deletes a key); 204.

    :param request: the PATCH request.
    :param record: the indexed asset or video to update.
    """
    body = await read_json(request)
    if "user_metadata" not in body:
        raise bad_request("The user_metadata parameter is required.", code="parameter_not_provided")
    changes = validate_user_metadata(body["user_metadata"]) or {}
    merged = dict(record.user_metadata or {})
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    record.user_metadata = merged or None
    state: EmulatorState = request.app.state.emulator
    record.updated_at = state.now()
    return no_content()


async def update_indexed_asset(request: Request) -> Response:
    """``PATCH /indexes/{index_id}/indexed-assets/{indexed_asset_id}``: user metadata; 204."""
    state = _state(request)
    return await patch_user_metadata(
        request, _get_record(state, request, "indexed_asset_id", "indexed assets")
    )


async def delete_indexed_asset(request: Request) -> Response:
    """``DELETE /indexes/{index_id}/indexed-assets/{indexed_asset_id}``: 204."""
    state = _state(request)
    record = _get_record(state, request, "indexed_asset_id", "indexed assets")
    del state.indexed_assets[record.id]
    return no_content()


_IA = "/v1.3/indexes/{index_id}/indexed-assets"
routes = [
    Route("/v1.3/indexes", create_index, methods=["POST"]),
    Route("/v1.3/indexes", list_indexes, methods=["GET"]),
    Route("/v1.3/indexes/{index_id}", retrieve_index, methods=["GET"]),
    Route("/v1.3/indexes/{index_id}", rename_index, methods=["PUT"]),
    Route("/v1.3/indexes/{index_id}", delete_index, methods=["DELETE"]),
    Route(_IA, create_indexed_asset, methods=["POST"]),
    Route(_IA, list_indexed_assets, methods=["GET"]),
    Route(_IA + "/{indexed_asset_id}", retrieve_indexed_asset, methods=["GET"]),
    Route(_IA + "/{indexed_asset_id}", update_indexed_asset, methods=["PATCH"]),
    Route(_IA + "/{indexed_asset_id}", delete_indexed_asset, methods=["DELETE"]),
]
