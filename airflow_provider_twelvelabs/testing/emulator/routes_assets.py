"""``/v1.3/assets``: create (direct or URL), list, retrieve, delete, user metadata, indexed assets."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import unquote, urlsplit

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from airflow_provider_twelvelabs.testing.emulator.errors import APIError, bad_request, not_found
from airflow_provider_twelvelabs.testing.emulator.render import asset_detail, asset_summary, public_url
from airflow_provider_twelvelabs.testing.emulator.state import Asset, EmulatorState
from airflow_provider_twelvelabs.testing.emulator.wire import (
    json_response,
    no_content,
    page_params,
    paginate,
    parse_form,
    parse_query,
    read_json,
)

__all__ = ["MAX_DIRECT_UPLOAD_BYTES", "routes", "store_upload", "validate_user_metadata"]

#: Direct uploads are limited to 200 MB; larger files go through multipart uploads.
MAX_DIRECT_UPLOAD_BYTES = 200 * 1024 * 1024
_COPY_BLOCK = 1024 * 1024
_ASSET_TYPES = ("image", "video", "audio", "document")


def _state(request: Request) -> EmulatorState:
    state: EmulatorState = request.app.state.emulator
    return state


def validate_user_metadata(value: Any) -> dict[str, Any] | None:
    """Check a ``user_metadata`` object: keys to string, number, bool or list of strings.

    :param value: the decoded value (``None`` when absent).
    :raises APIError: 400 when it is not such an object.
    """
    if value is None:
        return None
    if not isinstance(value, dict):
        raise bad_request("The user_metadata parameter must be a JSON object.")
    for key, item in value.items():
        scalar = isinstance(item, (str, int, float, bool)) or item is None
        if not scalar and not (isinstance(item, list) and all(isinstance(v, str) for v in item)):
            raise bad_request(
                f"The value of user_metadata.{key} must be a string, number, boolean or string list."
            )
    return value


def store_upload(source: BinaryIO, target: Path, limit: int) -> tuple[int, str]:
    """Copy an uploaded file to ``target`` block by block, hashing it on the way.

    :param source: the spooled upload.
    :param target: where to store the bytes.
    :param limit: the largest accepted size.
    :return: ``(size, md5)``, or ``(-1, "")`` when the file exceeds ``limit`` (nothing is kept).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.md5()  # noqa: S324 - content checksum, as S3 ETags are
    size = 0
    with target.open("wb") as out:
        while block := source.read(_COPY_BLOCK):
            size += len(block)
            if size > limit:
                break
            digest.update(block)
            out.write(block)
    if size > limit:
        target.unlink(missing_ok=True)
        return -1, ""
    return size, digest.hexdigest()


def _filename_from_url(url: str) -> str:
    name = os.path.basename(unquote(urlsplit(url).path))
    return name or "asset"


async def create_asset(request: Request) -> Response:
    """``POST /assets``: upload a file (``method=direct``) or register a URL (``method=url``)."""
    state = _state(request)
    form = await parse_form(request)
    method = form.get("method")
    if method is None:
        raise bad_request("The method parameter is required.", code="parameter_not_provided")
    if method not in ("direct", "url"):
        raise bad_request("The method parameter must be direct or url.")
    user_metadata = validate_user_metadata(form.json("user_metadata"))
    enable_hls = form.bool("enable_hls", True)
    enable_thumbnail = form.bool("enable_thumbnail", True)
    filename = form.get("filename")
    if filename is not None and not 1 <= len(filename) <= 255:
        raise bad_request("The filename parameter must be 1 to 255 characters long.")
    if method == "direct":
        upload = form.files.get("file")
        if upload is None:
            raise bad_request(
                "The file parameter is required when method is direct.", code="parameter_not_provided"
            )
        asset = state.new_asset(
            method="direct",
            filename=filename or upload.filename or "asset",
            enable_hls=enable_hls,
            enable_thumbnail=enable_thumbnail,
            user_metadata=user_metadata,
            start_lifecycle=False,
        )
        target = state.media_path(asset.id)
        size, md5 = await anyio.to_thread.run_sync(store_upload, upload.file, target, MAX_DIRECT_UPLOAD_BYTES)
        await upload.close()
        if size < 0:
            del state.assets[asset.id]
            raise bad_request(
                "Direct uploads are limited to 200 MB; use a multipart upload for larger files.",
                code="video_filesize_too_large",
            )
        asset.path, asset.size, asset.md5 = target, size, md5
    else:
        url = form.get("url")
        if not url:
            raise bad_request(
                "The url parameter is required when method is url.", code="parameter_not_provided"
            )
        if urlsplit(url).scheme not in ("http", "https"):
            raise bad_request("The url parameter must be a publicly accessible http(s) URL.")
        asset = state.new_asset(
            method="url",
            filename=filename or _filename_from_url(url),
            enable_hls=enable_hls,
            enable_thumbnail=enable_thumbnail,
            user_metadata=user_metadata,
            url=url,
            start_lifecycle=False,
        )
    state.start_asset_processing(asset)
    if asset.size is None and asset.duration is not None:
        # URL assets are never downloaded: give them a size consistent with their duration.
        asset.size = int(asset.duration * 250_000)
    return json_response(asset_summary(asset, asset.peek_status()), status=201)


async def list_assets(request: Request) -> Response:
    """``GET /assets``: newest first, filtered by ids, types and filename substring."""
    state = _state(request)
    query = parse_query(request.query_params)
    page, limit = page_params(query)
    ids = set(query.getlist("asset_ids"))
    types = set(query.getlist("asset_types"))
    unknown = types - set(_ASSET_TYPES)
    if unknown:
        raise bad_request(f"Unknown asset_types: {', '.join(sorted(unknown))}.")
    needle = (query.get("filename") or "").lower()
    matches = [
        asset
        for asset in reversed(list(state.assets.values()))
        if (not ids or asset.id in ids)
        and (not types or asset.asset_type in types)
        and needle in asset.filename.lower()
    ]
    root = public_url(request)
    return json_response(paginate(matches, page, limit, lambda a: asset_detail(a, root, observe=True)))


def _get_asset(state: EmulatorState, asset_id: str) -> Asset:
    asset = state.get_asset(asset_id)
    if asset is None:
        raise not_found(asset_id, "assets")
    return asset


async def retrieve_asset(request: Request) -> Response:
    """``GET /assets/{asset_id}``: the asset, one lifecycle read."""
    state = _state(request)
    asset = _get_asset(state, request.path_params["asset_id"])
    return json_response(asset_detail(asset, public_url(request), observe=True))


async def delete_asset(request: Request) -> Response:
    """``DELETE /assets/{asset_id}``: 409 while indexed, unless ``force=true``."""
    state = _state(request)
    asset = _get_asset(state, request.path_params["asset_id"])
    force = parse_query(request.query_params).bool("force", False)
    in_use = [r for r in state.indexed_assets.values() if r.asset_id == asset.id]
    if in_use and not force:
        raise APIError(
            409,
            "asset_in_use",
            f"The asset {asset.id} is referenced by {len(in_use)} indexed asset(s); "
            "delete them first or pass force=true.",
        )
    with state.lock:
        del state.assets[asset.id]
        if in_use:
            # Indexed copies live on in their indexes, so their media must stay describable.
            state.retired_assets[asset.id] = asset
        elif asset.path is not None:
            asset.path.unlink(missing_ok=True)
        for session in list(state.uploads.values()):
            if session.asset_id == asset.id:
                del state.uploads[session.upload_id]
    return no_content()


async def asset_indexed_assets(request: Request) -> Response:
    """``GET /assets/{asset_id}/indexed-assets``: the indexes that hold this asset."""
    state = _state(request)
    asset = _get_asset(state, request.path_params["asset_id"])
    page, limit = page_params(request.query_params)
    records = [r for r in reversed(list(state.indexed_assets.values())) if r.asset_id == asset.id]

    def render(record: Any) -> dict[str, Any]:
        index = state.indexes.get(record.index_id)
        return {"_id": record.id, "index": {"_id": record.index_id, "name": index.name if index else ""}}

    return json_response(paginate(records, page, limit, render))


async def asset_user_metadata(request: Request) -> Response:
    """``PUT`` (replace), ``PATCH`` (merge; ``null`` deletes) or ``DELETE`` an asset's user metadata."""
    state = _state(request)
    asset = _get_asset(state, request.path_params["asset_id"])
    if request.method == "DELETE":
        asset.user_metadata = None
        return no_content()
    body = await read_json(request)
    if "user_metadata" not in body:
        raise bad_request("The user_metadata parameter is required.", code="parameter_not_provided")
    changes = validate_user_metadata(body["user_metadata"]) or {}
    if request.method == "PUT":
        merged = {k: v for k, v in changes.items() if v is not None}
    else:
        merged = dict(asset.user_metadata or {})
        for key, value in changes.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
    asset.user_metadata = merged or None
    return no_content()


routes = [
    Route("/v1.3/assets", create_asset, methods=["POST"]),
    Route("/v1.3/assets", list_assets, methods=["GET"]),
    Route("/v1.3/assets/{asset_id}", retrieve_asset, methods=["GET"]),
    Route("/v1.3/assets/{asset_id}", delete_asset, methods=["DELETE"]),
    Route("/v1.3/assets/{asset_id}/indexed-assets", asset_indexed_assets, methods=["GET"]),
    Route("/v1.3/assets/{asset_id}/user-metadata", asset_user_metadata, methods=["PUT", "PATCH", "DELETE"]),
]
