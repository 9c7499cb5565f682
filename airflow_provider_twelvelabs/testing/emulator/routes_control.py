"""Test-only control and inspection endpoints under ``/_emulator`` (not part of the TwelveLabs API).

They need no API key and are never rate limited or faulted:

* ``GET /_emulator/assets/{asset_id}`` → ``{"size", "md5"}`` of the bytes held for an asset;
* ``GET /_emulator/requests`` → the request log (method, path, query, status; never the API key);
  ``DELETE /_emulator/requests`` clears it;
* ``POST /_emulator/reset`` → forget every resource and uploaded byte;
* ``GET``/``POST /_emulator/config`` → read or change switches (JSON object of field → value);
* ``POST /_emulator/advance`` → ``{"seconds": s}`` moves the simulated clock, ``{"steps": n}`` moves
  lifecycles on, ``{"complete": true}`` finishes them; ``"ids": [...]`` limits steps/complete to some
  resources.

``GET /_media/{asset_id}/{name}`` serves what the media URLs in API responses point at (like a CDN,
without an API key): the stored bytes of an asset, a one-segment HLS manifest or a tiny thumbnail.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from airflow_provider_twelvelabs.testing.emulator.errors import bad_request, not_found
from airflow_provider_twelvelabs.testing.emulator.state import EmulatorState, Lifecycle
from airflow_provider_twelvelabs.testing.emulator.wire import json_response, read_json

__all__ = ["routes"]

_HASH_BLOCK = 4 * 1024 * 1024


def _state(request: Request) -> EmulatorState:
    state: EmulatorState = request.app.state.emulator
    return state


def _file_md5(path: Path) -> str:
    digest = hashlib.md5()  # noqa: S324 - content checksum, as S3 ETags are
    with path.open("rb") as handle:
        while block := handle.read(_HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


async def asset_bytes(request: Request) -> Response:
    """Return the size and MD5 of the bytes the emulator holds for an asset."""
    state = _state(request)
    asset_id = request.path_params["asset_id"]
    asset = state.get_asset(asset_id)
    if asset is None:
        raise not_found(asset_id, "assets")
    path = asset.path
    if path is None or not path.exists():
        return json_response({"asset_id": asset_id, "size": 0, "md5": None, "stored": False})
    if asset.md5 is None:
        # Hashing gigabytes takes seconds: keep the event loop free meanwhile.
        asset.md5 = await anyio.to_thread.run_sync(_file_md5, path)
    return json_response(
        {"asset_id": asset_id, "size": path.stat().st_size, "md5": asset.md5, "stored": True}
    )


async def request_log(request: Request) -> Response:
    """Return (GET) or clear (DELETE) the request log."""
    state = _state(request)
    with state.lock:
        if request.method == "DELETE":
            state.request_log.clear()
            return Response(status_code=204)
        entries = [dict(entry) for entry in state.request_log]
    return json_response({"data": entries, "count": len(entries)})


async def reset(request: Request) -> Response:
    """Forget every resource and uploaded byte."""
    _state(request).reset()
    return Response(status_code=204)


async def config(request: Request) -> Response:
    """Return (GET) or change (POST) the configuration."""
    state = _state(request)
    if request.method == "POST":
        changes = await read_json(request)
        try:
            state.config.update(changes)
        except (TypeError, ValueError) as exc:
            raise bad_request(str(exc)) from None
    return json_response(state.config.as_dict())


def _lifecycles_of(state: EmulatorState, ids: list[str]) -> list[Lifecycle]:
    found: list[Lifecycle] = []
    for resource_id in ids:
        if not state.has_resource(resource_id):
            raise not_found(resource_id, "emulator resources")
        lifecycle = state.find_lifecycle(resource_id)
        if lifecycle is not None:
            found.append(lifecycle)
    return found


async def advance(request: Request) -> Response:
    """Fast-forward the simulated clock and/or resource lifecycles."""
    state = _state(request)
    body = await read_json(request)
    seconds = body.get("seconds")
    steps = body.get("steps")
    ids = body.get("ids")
    if seconds is not None:
        if not isinstance(seconds, (int, float)) or seconds < 0:
            raise bad_request("seconds must be a non-negative number")
        state.advance_clock(float(seconds))
    if ids is not None and not (isinstance(ids, list) and all(isinstance(i, str) for i in ids)):
        raise bad_request("ids must be a list of resource ids")
    lifecycles = _lifecycles_of(state, ids) if ids is not None else state.all_lifecycles()
    moved = 0
    if body.get("complete"):
        for lifecycle in lifecycles:
            lifecycle.complete()
        moved = len(lifecycles)
    elif steps is not None:
        if not isinstance(steps, int) or steps < 0:
            raise bad_request("steps must be a non-negative integer")
        for lifecycle in lifecycles:
            lifecycle.advance(steps)
        moved = len(lifecycles)
    return json_response({"now": state.timestamp(), "lifecycles": moved})


#: A 1x1 grey JPEG, the placeholder thumbnail.
_THUMBNAIL = bytes.fromhex(
    "ffd8ffe000104a46494600010100000100010000ffdb004300080606070605080707070909080a0c140d0c0b0b0c1912"
    "130f141d1a1f1e1d1a1c1c20242e2720222c231c1c2837292c30313434341f27393d38323c2e333432ffc0000b0800"
    "01000101011100ffc4001f0000010501010101010100000000000000000102030405060708090a0bffc400b5100002"
    "010303020403050504040000017d01020300041105122131410613516107227114328191a1082342b1c11552d1f024"
    "33627282090a161718191a25262728292a3435363738393a434445464748494a535455565758595a63646566676869"
    "6a737475767778797a838485868788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4"
    "c5c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7e8e9eaf1f2f3f4f5f6f7f8f9faffda0008010100003f00fbd3"
    "ffd9"
)


async def media(request: Request) -> Response:
    """Serve an asset's bytes, a placeholder HLS manifest or a placeholder thumbnail."""
    state = _state(request)
    asset_id, name = request.path_params["asset_id"], request.path_params["name"]
    asset = state.media_asset(asset_id)
    if asset is None:
        raise not_found(asset_id, "assets")
    if name == "stream.m3u8":
        duration = asset.duration or 10.0
        manifest = (
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-PLAYLIST-TYPE:VOD\n"
            f"#EXT-X-TARGETDURATION:{int(duration) + 1}\n"
            f"#EXTINF:{duration:.3f},\nsegment0.ts\n#EXT-X-ENDLIST\n"
        )
        return Response(manifest, media_type="application/vnd.apple.mpegurl")
    if name == "thumbnail.jpg":
        return Response(_THUMBNAIL, media_type="image/jpeg")
    if asset.path is not None and asset.path.exists():
        return FileResponse(asset.path, media_type=asset.file_type, filename=asset.filename)
    raise not_found(f"{asset_id}/{name}", "media")


routes = [
    Route("/_media/{asset_id}/{name}", media, methods=["GET"]),
    Route("/_emulator/assets/{asset_id}", asset_bytes, methods=["GET"]),
    Route("/_emulator/requests", request_log, methods=["GET", "DELETE"]),
    Route("/_emulator/reset", reset, methods=["POST"]),
    Route("/_emulator/config", config, methods=["GET", "POST"]),
    Route("/_emulator/advance", advance, methods=["POST"]),
]
