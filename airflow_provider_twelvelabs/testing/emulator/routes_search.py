"""Search endpoints of the emulator: ``POST /search`` and ``GET /search/{page_token}``.

A search runs over the successfully indexed videos of one index. Hits are deterministic for a given
query, options and operator; ``rank`` 1 is the most relevant. Every page of a result set is kept in
memory under a token ``<search uuid>-<page number>`` until ``page_expires_at`` (one hour of the
emulator's clock); an unknown or expired token answers 400 ``search_page_token_expired``.
"""

from __future__ import annotations

import json
import math
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from airflow_provider_twelvelabs.testing.emulator import synth
from airflow_provider_twelvelabs.testing.emulator.errors import APIError, bad_request
from airflow_provider_twelvelabs.testing.emulator.render import media_urls, public_url
from airflow_provider_twelvelabs.testing.emulator.state import EmulatorState, IndexedAsset, isoformat
from airflow_provider_twelvelabs.testing.emulator.wire import Form, json_response, parse_bool, parse_form

__all__ = ["PAGE_TTL", "SEARCH_RESULTS", "SearchResultSet", "routes"]

_PREFIX = "/v1.3"
#: Name of the state collection holding result sets, keyed by search id.
SEARCH_RESULTS = "search_results"
#: How long the pages of a search stay retrievable.
PAGE_TTL = timedelta(hours=1)
_OPTIONS = ("visual", "audio", "transcription")
_NUMERIC_FILTERS = ("duration", "width", "height", "size", "fps")
_MAX_PAGE_LIMIT = 50
# Result sets kept at once; a long benchmark of searches must not grow the emulator without bound.
_MAX_RESULT_SETS = 1000


@dataclass
class SearchResultSet:
    """Every page of one search, kept for ``GET /search/{page_token}``.

    :param search_id: the UUID the page tokens derive from.
    :param pages: the items of each page (clips, or videos when grouped), without user metadata.
    :param metadata: user metadata by video id, added to items when asked for.
    :param include_user_metadata: the setting of the original request (the SDK's pager does not
        repeat it on later pages).
    :param page_info: the fixed part of ``page_info`` (limit and totals).
    :param search_pool: the ``search_pool`` object.
    :param expires_at: when the pages stop being retrievable.
    """

    search_id: str
    pages: list[list[dict[str, Any]]]
    metadata: dict[str, dict[str, Any]]
    include_user_metadata: bool
    page_info: dict[str, Any]
    search_pool: dict[str, Any]
    expires_at: datetime
    grouped: bool = False
    tokens: list[str] = field(default_factory=list)

    def render(self, page: int, include_user_metadata: bool, *, with_prev: bool) -> dict[str, Any]:
        """Return the response for one 0-based page.

        :param page: the page number, 0-based.
        :param include_user_metadata: whether to attach each video's user metadata.
        :param with_prev: whether to add ``prev_page_token`` (only ``GET /search/{token}`` has it).
        """
        items = [self._with_metadata(item, include_user_metadata) for item in self.pages[page]]
        info: dict[str, Any] = {**self.page_info, "page_expires_at": isoformat(self.expires_at)}
        if page + 1 < len(self.pages):
            info["next_page_token"] = self.tokens[page + 1]
        if with_prev and page > 0:
            info["prev_page_token"] = self.tokens[page - 1]
        return {"data": items, "page_info": info, "search_pool": dict(self.search_pool)}

    def _with_metadata(self, item: dict[str, Any], include: bool) -> dict[str, Any]:
        if not include:
            return item
        video_id = item.get("id") or item.get("video_id")
        metadata = self.metadata.get(str(video_id))
        if not metadata:
            return item
        out = {**item, "user_metadata": dict(metadata)}
        if "clips" in out:
            out["clips"] = [{**clip, "user_metadata": dict(metadata)} for clip in out["clips"]]
        return out


def _filter_error(message: str) -> APIError:
    return bad_request(f"The filter parameter is invalid: {message}", "search_filter_invalid")


def _parse_filter(raw: str | None) -> dict[str, Any]:
    """Parse and check the ``filter`` JSON string (see contract.md 14.1 for its syntax)."""
    if raw is None or raw.strip() == "":
        return {}
    try:
        parsed = json.loads(raw)
    except ValueError:
        raise _filter_error("it is not valid JSON.") from None
    if not isinstance(parsed, dict):
        raise _filter_error("it must be a JSON object.")
    for key, value in parsed.items():
        if key == "id":
            if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
                raise _filter_error('"id" takes a non-empty array of video ids.')
        elif key in _NUMERIC_FILTERS:
            bounds: list[Any]
            if isinstance(value, dict):
                if not value or set(value) - {"gte", "lte"}:
                    raise _filter_error(f'"{key}" takes a number or an object with "gte" and/or "lte".')
                bounds = list(value.values())
            else:
                bounds = [value]
            if not all(isinstance(b, int | float) and not isinstance(b, bool) for b in bounds):
                raise _filter_error(f'"{key}" bounds must be numbers.')
        elif key == "filename":
            if not isinstance(value, str):
                raise _filter_error('"filename" takes a string.')
        elif not isinstance(value, str | int | float | bool):
            raise _filter_error(f'user metadata field "{key}" takes a string, number or boolean.')
    return parsed


def _matches(record: IndexedAsset, state: EmulatorState, flt: dict[str, Any]) -> bool:
    asset = state.get_asset(record.asset_id)
    for key, wanted in flt.items():
        if key == "id":
            if record.id not in wanted:
                return False
        elif key in _NUMERIC_FILTERS:
            actual = getattr(asset, key, None) if asset else None
            if actual is None:
                return False
            if isinstance(wanted, dict):
                if actual < wanted.get("gte", -math.inf) or actual > wanted.get("lte", math.inf):
                    return False
            elif not math.isclose(actual, wanted, abs_tol=1e-6):
                return False
        elif key == "filename":
            if asset is None or asset.filename != wanted:
                return False
        else:
            metadata = record.user_metadata or {}
            if (
                key not in metadata
                or metadata[key] != wanted
                or isinstance(metadata[key], bool) != isinstance(wanted, bool)
            ):
                return False
    return True


def _choices(form: Form, name: str, allowed: tuple[str, ...], code: str = "parameter_invalid") -> list[str]:
    values = form.getlist(name)
    bad = [v for v in values if v not in allowed]
    if bad:
        raise bad_request(f"The {name} value {bad[0]!r} is not supported; use {', '.join(allowed)}.", code)
    return list(dict.fromkeys(values))


def _index_options(state: EmulatorState, index_id: str) -> set[str]:
    index = state.indexes.get(index_id)
    if index is None:
        raise APIError(404, "resource_not_exist", f"Resource with id {index_id} does not exist in indexes.")
    options: set[str] = set()
    searchable = False
    for model in index.models:
        if str(model.get("model_name", "")).startswith("marengo"):
            searchable = True
            options.update(model.get("model_options") or [])
    if not searchable:
        raise bad_request(
            f"The index {index_id} has no Marengo model, so it cannot be searched.",
            "index_not_supported_for_search",
        )
    return options


async def _query_key(form: Form, options: list[str], transcription: list[str]) -> str:
    text = form.get("query_text")
    media_type = form.get("query_media_type")
    urls = [u for u in form.getlist("query_media_url") if u]
    upload = form.files.get("query_media_file")
    has_media = bool(urls) or upload is not None
    if media_type is not None and media_type != "image":
        raise bad_request("The query_media_type parameter must be image.")
    if has_media and media_type is None:
        raise bad_request("Set query_media_type to image for media queries.", "parameter_not_provided")
    if not (text and text.strip()) and not has_media:
        raise bad_request(
            "Provide query_text, or query_media_type with query_media_url or query_media_file.",
            "parameter_not_provided",
        )
    if len(urls) > 10:
        raise bad_request("At most 10 query_media_url values are allowed.")
    media_key = ""
    if urls:  # the URL wins over a file when both are sent
        if any("fail" in u.lower() for u in urls):
            raise bad_request("The query media could not be fetched from query_media_url.")
        media_key = "urls:" + "|".join(urls)
    elif upload is not None:
        media_key = "file:" + str(synth.seed_of(await upload.read()))
    # transcription_options only matter when transcription is searched.
    modes = ",".join(sorted(transcription)) if "transcription" in options else ""
    return "|".join([text or "", media_key, ",".join(sorted(options)), modes])


async def search(request: Request) -> Response:
    """``POST /search``: search an index by text, image, or both; returns the first page."""
    state: EmulatorState = request.app.state.emulator
    form = await parse_form(request)
    index_id = form.get("index_id")
    if not index_id:
        raise bad_request("The index_id parameter is required.", "parameter_not_provided")
    options = _choices(form, "search_options", _OPTIONS, "search_option_not_supported")
    if not options:
        raise bad_request("The search_options parameter is required.", "parameter_not_provided")
    supported = _index_options(state, index_id)
    for option in options:
        # Transcription search runs on the audio model option.
        needed = "audio" if option == "transcription" else option
        if needed not in supported:
            raise bad_request(
                f"The search option {option} is not supported by index {index_id} "
                f"(model options: {', '.join(sorted(supported))}).",
                "search_option_not_supported",
            )
    transcription = _choices(form, "transcription_options", ("lexical", "semantic")) or [
        "lexical",
        "semantic",
    ]
    group_by = form.get("group_by") or "clip"
    if group_by not in ("clip", "video"):
        raise bad_request("The group_by parameter must be clip or video.")
    operator = form.get("operator") or "or"
    if operator not in ("or", "and"):
        raise bad_request("The operator parameter must be or or and.")
    page_limit = _page_limit(form.get("page_limit"))
    flt = _parse_filter(form.get("filter"))
    include = form.bool("include_user_metadata", False)
    query_key = await _query_key(form, options, transcription)

    pool = state.list_indexed(index_id, ready_only=True)
    durations = {r.id: _duration(state, r) for r in pool}
    candidates = [r for r in pool if _matches(r, state, flt)]
    clips = synth.search_clips([(r.id, durations[r.id]) for r in candidates], query_key, options, operator)
    root = public_url(request)
    thumbnails = "thumbnail" in state.indexes[index_id].addons
    records = {r.id: r for r in candidates}
    items = [
        _clip_item(state, records[c.video_id], c, root, thumbnails, "transcription" in options) for c in clips
    ]
    page_info: dict[str, Any] = {"limit_per_page": page_limit}
    if group_by == "video":
        grouped: dict[str, list[dict[str, Any]]] = {}
        for item in items:
            grouped.setdefault(item["video_id"], []).append(item)
        results = [{"id": video_id, "clips": video_clips} for video_id, video_clips in grouped.items()]
        page_info["total_results"] = len(results)
        page_info["total_inner_matches"] = len(items)
    else:
        results = items
        page_info["total_results"] = len(items)
    pages = [results[i : i + page_limit] for i in range(0, len(results), page_limit)] or [[]]
    search_id = str(uuid.UUID(int=state.rng("search", state.new_id()).getrandbits(128), version=4))
    result_set = SearchResultSet(
        search_id=search_id,
        pages=pages,
        metadata={r.id: dict(r.user_metadata) for r in candidates if r.user_metadata},
        include_user_metadata=include,
        page_info=page_info,
        search_pool={
            "total_count": len(pool),
            "total_duration": round(sum(durations.values()), 3),
            "index_id": index_id,
        },
        expires_at=state.now() + PAGE_TTL,
        grouped=group_by == "video",
        tokens=[f"{search_id}-{i}" for i in range(len(pages))],
    )
    _store(state, result_set)
    return json_response(result_set.render(0, include, with_prev=False))


def _duration(state: EmulatorState, record: IndexedAsset) -> float:
    asset = state.get_asset(record.asset_id)
    return float(asset.duration or 0.0) if asset is not None else 0.0


def _store(state: EmulatorState, result_set: SearchResultSet) -> None:
    """Keep a result set for its page tokens, dropping expired ones and bounding the total."""
    stored = state.collection(SEARCH_RESULTS)
    now = state.now()
    for key in [k for k, v in stored.items() if isinstance(v, SearchResultSet) and v.expires_at <= now]:
        del stored[key]
    stored[result_set.search_id] = result_set
    while len(stored) > _MAX_RESULT_SETS:
        del stored[next(iter(stored))]  # oldest first: dicts keep insertion order


def _page_limit(raw: str | None) -> int:
    if raw is None or raw == "":
        return 10
    try:
        value = int(raw)
    except ValueError:
        raise bad_request("The page_limit parameter must be an integer.") from None
    if not 1 <= value <= _MAX_PAGE_LIMIT:
        raise bad_request(f"The page_limit parameter must be between 1 and {_MAX_PAGE_LIMIT}.")
    return value


def _clip_item(
    state: EmulatorState,
    record: IndexedAsset,
    clip: synth.SearchClip,
    root: str,
    thumbnails: bool,
    transcription: bool,
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "start": clip.start,
        "end": clip.end,
        "video_id": clip.video_id,
        "rank": clip.rank,
    }
    asset = state.get_asset(record.asset_id)
    if thumbnails and asset is not None:
        item["thumbnail_url"] = f"{media_urls(root, asset)['thumbnail']}?t={clip.start:g}"
    if transcription:
        item["transcription"] = clip.transcription
    return item


async def search_page(request: Request) -> Response:
    """``GET /search/{page_token}``: another page of an earlier search."""
    state: EmulatorState = request.app.state.emulator
    token: str = request.path_params["page_token"]
    search_id, _, number = token.rpartition("-")
    result_set = state.collection(SEARCH_RESULTS).get(search_id)
    expired = bad_request(
        f"The page token {token} is invalid or has expired; run the search again.",
        "search_page_token_expired",
    )
    if not isinstance(result_set, SearchResultSet) or not number.isdigit():
        raise expired
    page = int(number)
    if page >= len(result_set.pages) or state.now() >= result_set.expires_at:
        raise expired
    raw = request.query_params.get("include_user_metadata")
    include = result_set.include_user_metadata if raw is None else parse_bool(raw, "include_user_metadata")
    return json_response(result_set.render(page, include, with_prev=True))


routes: list[Route] = [
    Route(f"{_PREFIX}/search", search, methods=["POST"]),
    Route(f"{_PREFIX}/search/{{page_token}}", search_page, methods=["GET"]),
]
