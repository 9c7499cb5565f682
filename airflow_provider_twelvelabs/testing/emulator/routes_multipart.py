"""Multipart uploads (contract section 4) and the presigned chunk PUTs they hand out.

The presigned URLs point back at the emulator (``PUT /_presigned/{upload_id}/{chunk_index}``) and
behave like S3 ones: signed, expiring, answered with a quoted MD5 ``ETag`` and S3-style XML errors.
A chunk body is streamed straight into the asset's file at the chunk's offset, hashing on the way,
so uploads of many gigabytes never sit in memory.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import math
import time
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from airflow_provider_twelvelabs.testing.emulator.errors import bad_request, not_found
from airflow_provider_twelvelabs.testing.emulator.render import media_urls, public_url
from airflow_provider_twelvelabs.testing.emulator.routes_assets import validate_user_metadata
from airflow_provider_twelvelabs.testing.emulator.state import (
    Chunk,
    EmulatorState,
    UploadSession,
    isoformat,
)
from airflow_provider_twelvelabs.testing.emulator.wire import json_response, page_params, paginate, read_json

__all__ = ["MAX_PRESIGNED_URLS_PER_REQUEST", "MAX_REPORTED_CHUNKS", "routes"]

#: ``count`` limit of ``POST .../presigned-urls``.
MAX_PRESIGNED_URLS_PER_REQUEST = 50
#: Items limit of one chunk report.
MAX_REPORTED_CHUNKS = 50
_MAX_MEDIA_BYTES = 10 * 1000**3
_MAX_IMAGE_BYTES = 32 * 1000**2
_TYPES = ("video", "audio", "image")


def _state(request: Request) -> EmulatorState:
    state: EmulatorState = request.app.state.emulator
    return state


def _signing_key(state: EmulatorState) -> bytes:
    return hashlib.sha256(f"{state.config.seed}:{state.config.api_key}:presign".encode()).digest()


def _signature(state: EmulatorState, upload_id: str, chunk_index: int, expires: int, serial: int) -> str:
    message = f"{upload_id}:{chunk_index}:{expires}:{serial}".encode()
    return hmac.new(_signing_key(state), message, hashlib.sha256).hexdigest()


def _presign(
    state: EmulatorState, session: UploadSession, root: str, first: int, last: int
) -> tuple[list[dict[str, Any]], datetime]:
    """Issue presigned URLs for chunks ``first..last`` (1-based, inclusive)."""
    expires_at = state.now() + timedelta(seconds=state.config.presigned_url_ttl_seconds)
    expires = int(expires_at.timestamp())
    urls = []
    for chunk_index in range(first, last + 1):
        session.url_serial += 1
        signature = _signature(state, session.upload_id, chunk_index, expires, session.url_serial)
        with state.lock:
            early = (
                state.config.early_expiry_rate > 0
                and state.fault_rng.random() < state.config.early_expiry_rate
            )
        if early:
            session.early_expired.add(signature)
        query = urlencode({"expires": expires, "n": session.url_serial, "sig": signature})
        urls.append(
            {
                "chunk_index": chunk_index,
                "url": f"{root}/_presigned/{session.upload_id}/{chunk_index}?{query}",
                "expires_at": isoformat(expires_at.replace(microsecond=0)),
            }
        )
    return urls, expires_at


def _session_status(state: EmulatorState, session: UploadSession) -> str:
    if session.status == "active" and state.now() >= session.expires_at:
        return "expired"
    return session.status


def _get_session(state: EmulatorState, upload_id: str) -> UploadSession:
    session = state.uploads.get(upload_id)
    if session is None:
        raise not_found(upload_id, "multipart uploads")
    return session


def _require_active(state: EmulatorState, session: UploadSession) -> None:
    status = _session_status(state, session)
    if status != "active":
        raise bad_request(f"The upload session {session.upload_id} is {status}.", code="upload_not_active")


async def create_upload(request: Request) -> Response:
    """``POST /assets/multipart-uploads``: reserve an asset and open a 24 h upload session."""
    state = _state(request)
    body = await read_json(request)
    filename = body.get("filename")
    if not isinstance(filename, str) or not 1 <= len(filename) <= 255:
        raise bad_request("The filename parameter is required and must be 1 to 255 characters long.")
    kind = body.get("type", "video")
    if kind not in _TYPES:
        raise bad_request("The type parameter must be video, audio or image.")
    total_size = body.get("total_size")
    if not isinstance(total_size, int) or isinstance(total_size, bool) or total_size < 1:
        raise bad_request("The total_size parameter is required and must be a positive integer.")
    limit = _MAX_IMAGE_BYTES if kind == "image" else _MAX_MEDIA_BYTES
    if total_size > limit:
        raise bad_request(
            f"total_size exceeds the {limit} byte limit for {kind} files.", code="video_filesize_too_large"
        )
    metadata = body.get("user_metadata")
    if isinstance(metadata, dict):
        # Empty, [] and null values are dropped, as the API does.
        metadata = {k: v for k, v in metadata.items() if v not in (None, "", [])}
    user_metadata = validate_user_metadata(metadata)
    enable_hls = body.get("enable_hls", False)
    enable_thumbnail = body.get("enable_thumbnail", False)
    if not isinstance(enable_hls, bool) or not isinstance(enable_thumbnail, bool):
        raise bad_request("enable_hls and enable_thumbnail must be booleans.")

    config = state.config
    chunk_size = max(1, config.chunk_size)
    while math.ceil(total_size / chunk_size) > max(1, config.max_chunks):
        chunk_size *= 2
    asset = state.new_asset(
        method="multipart",
        filename=filename,
        enable_hls=enable_hls,
        enable_thumbnail=enable_thumbnail,
        user_metadata=user_metadata,
        asset_type=kind,
        start_lifecycle=False,
    )
    now = state.now()
    session = UploadSession(
        upload_id=state.new_id(),
        asset_id=asset.id,
        filename=filename,
        total_size=total_size,
        chunk_size=chunk_size,
        total_chunks=math.ceil(total_size / chunk_size),
        created_at=now,
        updated_at=now,
        expires_at=now + timedelta(seconds=config.upload_session_ttl_seconds),
        path=state.media_path(asset.id),
    )
    asset.upload_id = session.upload_id
    state.uploads[session.upload_id] = session
    first_urls = min(session.total_chunks, max(0, config.initial_presigned_urls))
    urls, _ = _presign(state, session, public_url(request), 1, first_urls) if first_urls else ([], now)
    return json_response(
        {
            "upload_id": session.upload_id,
            "asset_id": asset.id,
            "upload_urls": urls,
            "upload_headers": {"Content-Type": "application/octet-stream"},
            "chunk_size": session.chunk_size,
            "total_chunks": session.total_chunks,
            "expires_at": isoformat(session.expires_at),
        },
        status=201,
    )


async def list_uploads(request: Request) -> Response:
    """``GET /assets/multipart-uploads``: sessions still waiting for chunks, newest first."""
    state = _state(request)
    page, limit = page_params(request.query_params)
    sessions = [s for s in reversed(list(state.uploads.values())) if _session_status(state, s) == "active"]

    def render(session: UploadSession) -> dict[str, Any]:
        return {
            "upload_id": session.upload_id,
            "status": _session_status(state, session),
            "total_size": session.total_size,
            "chunk_size": session.chunk_size,
            "total_chunks": session.total_chunks,
            "created_at": isoformat(session.created_at),
            "expires_at": isoformat(session.expires_at),
        }

    return json_response(paginate(sessions, page, limit, render))


async def upload_status(request: Request) -> Response:
    """``GET /assets/multipart-uploads/{upload_id}``: session status and a page of the chunk list."""
    state = _state(request)
    session = _get_session(state, request.path_params["upload_id"])
    page, limit = page_params(request.query_params)
    reported = {i: c for i, c in session.chunks.items() if c.reported_at is not None}

    def render(index: int) -> dict[str, Any]:
        chunk = reported.get(index)
        if chunk is not None:
            return {
                "index": index,
                "status": "completed",
                "uploaded_at": isoformat(chunk.uploaded_at),
                "updated_at": isoformat(chunk.reported_at),
            }
        item: dict[str, Any] = {"index": index, "updated_at": isoformat(session.created_at)}
        if index in session.failed_chunks:
            item.update(status="failed", error=session.failed_chunks[index])
        else:
            item["status"] = "pending"
        return item

    data = paginate(list(range(1, session.total_chunks + 1)), page, limit, render, key="uploaded_chunks")
    failed = len([i for i in session.failed_chunks if i not in reported])
    body = {
        "upload_id": session.upload_id,
        "status": _session_status(state, session),
        **data,
        "chunks_completed": len(reported),
        "chunks_failed": failed,
        "chunks_pending": session.total_chunks - len(reported) - failed,
        "total_size": session.total_size,
        "uploaded_size": sum(c.size for c in reported.values()),
        "created_at": isoformat(session.created_at),
        "updated_at": isoformat(session.updated_at),
    }
    return json_response(body)


async def report_chunks(request: Request) -> Response:
    """``POST /assets/multipart-uploads/{upload_id}``: confirm uploaded chunks by their ETags."""
    state = _state(request)
    session = _get_session(state, request.path_params["upload_id"])
    body = await read_json(request)
    items = body.get("completed_chunks")
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_REPORTED_CHUNKS:
        raise bad_request(f"completed_chunks must be a list of 1 to {MAX_REPORTED_CHUNKS} chunks.")
    if session.status != "completed":
        _require_active(state, session)
    # Validate every item before changing anything: a rejected report changes nothing.
    accepted: list[int] = []
    duplicates = 0
    seen: set[int] = set()
    for position, item in enumerate(items):
        if not isinstance(item, dict):
            raise bad_request(f"completed_chunks[{position}] must be an object.")
        missing = [k for k in ("chunk_index", "proof", "proof_type", "chunk_size") if k not in item]
        if missing:
            raise bad_request(
                f"completed_chunks[{position}] lacks {', '.join(missing)}.", code="parameter_not_provided"
            )
        index, proof, proof_type, size = (
            item["chunk_index"],
            item["proof"],
            item["proof_type"],
            item["chunk_size"],
        )
        if not isinstance(index, int) or not 1 <= index <= session.total_chunks:
            raise bad_request(f"chunk_index {index!r} is outside 1..{session.total_chunks}.")
        if proof_type != "etag":
            raise bad_request(f"proof_type must be etag (chunk {index}).")
        chunk = session.chunks.get(index)
        if chunk is None:
            raise bad_request(f"Chunk {index} has not been uploaded.")
        if not isinstance(proof, str) or proof.strip().strip('"').lower() != chunk.md5:
            raise bad_request(f"The proof of chunk {index} does not match the uploaded data (ETag mismatch).")
        if size != chunk.size:
            raise bad_request(
                f"chunk_size of chunk {index} is {size!r}, but {chunk.size} bytes were uploaded."
            )
        if chunk.reported_at is not None or index in seen:
            duplicates += 1
        else:
            accepted.append(index)
        seen.add(index)
    now = state.now()
    for index in accepted:
        session.chunks[index].reported_at = now
        session.failed_chunks.pop(index, None)
    if accepted:
        session.updated_at = now
    completed = sum(1 for c in session.chunks.values() if c.reported_at is not None)
    response: dict[str, Any] = {
        "asset_id": session.asset_id,
        "processed_chunks": len(accepted),
        "duplicate_chunks": duplicates,
        "total_completed": completed,
    }
    asset = state.get_asset(session.asset_id)
    if completed == session.total_chunks:
        if session.status != "completed":
            session.status = "completed"
            if asset is not None:
                asset.path, asset.size = session.path, session.total_size
                # "completed" is not "ready": the asset's own processing starts now.
                state.start_asset_processing(asset)
        if asset is not None:
            response["url"] = media_urls(public_url(request), asset)["file"]
    return json_response(response)


async def more_presigned_urls(request: Request) -> Response:
    """``POST /assets/multipart-uploads/{upload_id}/presigned-urls``: ``{start, count}`` with count ≤ 50."""
    state = _state(request)
    session = _get_session(state, request.path_params["upload_id"])
    body = await read_json(request)
    start, count = body.get("start"), body.get("count")
    if not isinstance(start, int) or isinstance(start, bool) or start < 1:
        raise bad_request("The start parameter is required and must be an integer of at least 1.")
    if (
        not isinstance(count, int)
        or isinstance(count, bool)
        or not 1 <= count <= MAX_PRESIGNED_URLS_PER_REQUEST
    ):
        raise bad_request(
            f"The count parameter must be an integer from 1 to {MAX_PRESIGNED_URLS_PER_REQUEST}."
        )
    if start > session.total_chunks:
        raise bad_request(f"start {start} is beyond the last chunk ({session.total_chunks}).")
    _require_active(state, session)
    last = min(session.total_chunks, start + count - 1)
    urls, expires_at = _presign(state, session, public_url(request), start, last)
    return json_response(
        {
            "upload_id": session.upload_id,
            "start_index": start,
            "count": len(urls),
            "upload_urls": urls,
            "generated_at": state.timestamp(),
            "expires_at": isoformat(expires_at.replace(microsecond=0)),
        }
    )


# -- presigned PUTs ---------------------------------------------------------------------------------


def _s3_error(status: int, code: str, message: str) -> Response:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    )
    return Response(body, status_code=status, media_type="application/xml")


async def put_chunk(request: Request) -> Response:
    """``PUT /_presigned/{upload_id}/{chunk_index}``: store one chunk, answer its quoted MD5 as ``ETag``."""
    state = _state(request)
    config = state.config
    upload_id = request.path_params["upload_id"]
    try:
        chunk_index = int(request.path_params["chunk_index"])
        expires = int(request.query_params["expires"])
        serial = int(request.query_params["n"])
        signature = request.query_params["sig"]
    except (KeyError, ValueError):
        return _s3_error(403, "AccessDenied", "Query-string authentication requires expires, n and sig.")
    expected = _signature(state, upload_id, chunk_index, expires, serial)
    if not hmac.compare_digest(expected, signature):
        return _s3_error(403, "SignatureDoesNotMatch", "The request signature we calculated does not match.")
    session = state.uploads.get(upload_id)
    if session is None or _session_status(state, session) != "active":
        return _s3_error(404, "NoSuchUpload", "The specified upload does not exist or is no longer active.")
    if state.now().timestamp() > expires or signature in session.early_expired:
        return _s3_error(403, "AccessDenied", "Request has expired")
    if config.reject_reused_presigned_urls and signature in session.used_signatures:
        return _s3_error(403, "AccessDenied", "This presigned URL has already been used.")
    if not 1 <= chunk_index <= session.total_chunks:
        return _s3_error(400, "InvalidArgument", f"Part number must be within 1..{session.total_chunks}.")
    if config.chunk_latency_ms > 0:
        await asyncio.sleep(config.chunk_latency_ms / 1000)

    size = session.expected_size(chunk_index)
    offset = (chunk_index - 1) * session.chunk_size
    bandwidth = config.chunk_bandwidth_mbps * 1_000_000
    digest = hashlib.md5()  # noqa: S324 - S3 ETags are MD5 digests
    received = 0
    started = time.monotonic()
    session.path.parent.mkdir(parents=True, exist_ok=True)
    with session.path.open("ab"):
        pass  # create the file once; chunks are then written in place at their offsets
    try:
        with session.path.open("r+b") as target:
            target.seek(offset)
            async for piece in request.stream():
                if not piece:
                    continue
                received += len(piece)
                if received > size:
                    return _s3_error(
                        400, "EntityTooLarge", f"Chunk {chunk_index} must be exactly {size} bytes."
                    )
                digest.update(piece)
                target.write(piece)
                if bandwidth > 0:
                    # Pace the read: reading slower makes TCP flow control throttle the sender.
                    delay = started + received / bandwidth - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
    except ClientDisconnect:
        session.failed_chunks[chunk_index] = "The client disconnected during the upload."
        return _s3_error(400, "IncompleteBody", "The client disconnected.")
    if received != size:
        session.failed_chunks[chunk_index] = f"Received {received} of {size} bytes."
        return _s3_error(
            400, "IncompleteBody", f"Chunk {chunk_index} must be exactly {size} bytes; got {received}."
        )
    session.used_signatures.add(signature)
    with state.lock:
        fail = config.chunk_failure_rate > 0 and state.fault_rng.random() < config.chunk_failure_rate
    if fail:
        session.failed_chunks[chunk_index] = "InternalError: the chunk could not be stored."
        return _s3_error(500, "InternalError", "We encountered an internal error. Please try again.")
    md5 = digest.hexdigest()
    previous = session.chunks.get(chunk_index)
    now = state.now()
    session.chunks[chunk_index] = Chunk(
        index=chunk_index,
        size=received,
        md5=md5,
        uploaded_at=now,
        reported_at=previous.reported_at if previous is not None and previous.md5 == md5 else None,
    )
    session.failed_chunks.pop(chunk_index, None)
    session.updated_at = now
    return Response(status_code=200, headers={"ETag": f'"{md5}"'})


routes = [
    Route("/v1.3/assets/multipart-uploads", create_upload, methods=["POST"]),
    Route("/v1.3/assets/multipart-uploads", list_uploads, methods=["GET"]),
    Route("/v1.3/assets/multipart-uploads/{upload_id}", upload_status, methods=["GET"]),
    Route("/v1.3/assets/multipart-uploads/{upload_id}", report_chunks, methods=["POST"]),
    Route("/v1.3/assets/multipart-uploads/{upload_id}/presigned-urls", more_presigned_urls, methods=["POST"]),
    Route("/_presigned/{upload_id}/{chunk_index}", put_chunk, methods=["PUT"]),
]
