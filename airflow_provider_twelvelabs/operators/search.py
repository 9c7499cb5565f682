"""Operator for searching an index with Marengo: text, image and composed (text + image) queries."""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_twelvelabs.operators.base import TwelveLabsBaseOperator
from airflow_provider_twelvelabs.requests.search import SearchOptions, SearchRequest, validate_search_filter

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_twelvelabs.hooks.endpoints import FilePart
    from airflow_provider_twelvelabs.models import SearchPage

__all__ = ["TwelveLabsSearchOperator", "validate_search_filter"]

#: Hit fields copied to the result when the API sends them.
_HIT_FIELDS = ("score", "confidence", "thumbnail_url", "transcription", "user_metadata")


def _clip(item: Mapping[str, Any], video_id: Any = None) -> dict[str, Any]:
    hit: dict[str, Any] = {
        "video_id": item.get("video_id") or video_id,
        "start": item.get("start"),
        "end": item.get("end"),
        "rank": item.get("rank"),
    }
    for key in _HIT_FIELDS:
        if item.get(key) is not None:
            hit[key] = item[key]
    return hit


def _hits(page: SearchPage, grouped: bool) -> list[dict[str, Any]]:
    out = []
    for item in page.data:
        if grouped or "clips" in item:
            video_id = item.get("id") or item.get("video_id")
            entry: dict[str, Any] = {
                "video_id": video_id,
                "clips": [_clip(c, video_id) for c in item.get("clips") or [] if isinstance(c, Mapping)],
            }
            if item.get("user_metadata") is not None:
                entry["user_metadata"] = item["user_metadata"]
            out.append(entry)
        else:
            out.append(_clip(item))
    return out


#: How many hits the task log lists (all of them are in XCom).
_LOGGED_HITS = 5


def _span(hit: Mapping[str, Any]) -> str:
    start, end = hit.get("start"), hit.get("end")
    if isinstance(start, int | float) and isinstance(end, int | float):
        return f"{start:.1f}-{end:.1f} s"
    return "?"


def _hit_line(hit: Mapping[str, Any]) -> str:
    """One hit as the log shows it: video, time range, score (a grouped hit: its clips)."""
    if "clips" in hit:
        clips = hit.get("clips") or []
        shown = ", ".join(_span(c) for c in clips[:3])
        return f"video {hit.get('video_id')}: {len(clips)} clip(s) {shown}"
    score = hit.get("score")
    scored = f", score {score:.3f}" if isinstance(score, int | float) else ""
    return f"video {hit.get('video_id')} {_span(hit)}{scored}"


class TwelveLabsSearchOperator(TwelveLabsBaseOperator):
    """Search an index by text, by image, or both (composed query), and return the hits.

    Follows ``next_page_token`` until ``max_results`` hits are collected or the results end. A hit
    is ``{"video_id", "start", "end", "rank"}`` plus ``score``, ``confidence`` (pre-3.0 Marengo
    only), ``thumbnail_url``, ``transcription`` and ``user_metadata`` when the API sends them. With
    ``group_by="video"`` a hit is a video, ``{"video_id", "clips": [hits], "user_metadata"?}``, and
    ``max_results`` counts videos.

    The hits go to XCom, which lives in Airflow's metadata database: keep ``max_results`` modest
    (default 100, at most 10,000) and narrow big searches with ``filter``.

    :param index_id: the index to search. (templated)
    :param query_text: the text query (up to 500 tokens for Marengo 3.0). (templated)
    :param query_media_file: image(s) to search with: local paths or object-storage URIs, one or a
        list (up to 10 images in all). (templated)
    :param query_media_url: public image URL(s), one or a list; the API prefers them over files.
        (templated)
    :param search_options: what to search: any of ``visual``, ``audio``, ``transcription``.
    :param operator: ``or`` (any option matches) or ``and`` (every option matches).
    :param group_by: ``clip`` (default) or ``video``.
    :param transcription_options: ``lexical`` and/or ``semantic``; only with the ``transcription``
        search option.
    :param filter: a dict (or JSON object string) restricting the videos searched: ``{"id": [...]}``,
        ``{"duration": {"gte": 60}}``, ``{"filename": "a.mp4"}``, user-metadata equality. (templated)
    :param page_limit: hits per page, 1 to 50 (API default 10; videos per page when grouped).
    :param max_results: stop after this many hits (or videos); further pages are not fetched.
    :param include_user_metadata: include each video's user metadata in the hits.
    :param query_media_conn_id: an Airflow connection for reading ``query_media_file`` from an object
        store.
    :param kwargs: :class:`~airflow_provider_twelvelabs.operators.base.TwelveLabsBaseOperator`
        arguments (``twelvelabs_conn_id``) and ``BaseOperator`` arguments.
    """

    template_fields: Sequence[str] = (
        "index_id",
        "query_text",
        "query_media_file",
        "query_media_url",
        "filter",
    )
    template_fields_renderers = {"filter": "json"}

    def __init__(
        self,
        *,
        index_id: str,
        query_text: str | None = None,
        query_media_file: str | Sequence[str] | None = None,
        query_media_url: str | Sequence[str] | None = None,
        search_options: Sequence[str] = ("visual", "audio"),
        operator: str | None = None,
        group_by: str = "clip",
        transcription_options: Sequence[str] | None = None,
        filter: Mapping[str, Any] | str | None = None,
        page_limit: int | None = None,
        max_results: int = 100,
        include_user_metadata: bool | None = None,
        query_media_conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.index_id = index_id
        self.query_text = query_text
        self.query_media_file = query_media_file
        self.query_media_url = query_media_url
        self.search_options = search_options
        self.operator = operator
        self.group_by = group_by
        self.transcription_options = transcription_options
        self.filter = filter
        self.page_limit = page_limit
        self.max_results = max_results
        self.include_user_metadata = include_user_metadata
        self.query_media_conn_id = query_media_conn_id
        # The arguments that cannot be templated fail at DAG parse time already.
        self._check_static()

    def _check_static(self) -> None:
        SearchOptions.build_from(self)

    def _request(self) -> SearchRequest:
        return SearchRequest.build_from(self)

    def build_request(self) -> dict[str, Any]:
        """Validate every parameter and return the search call's arguments, query files attached.

        No search is made; query files are checked to exist but not read.
        """
        return self._body(self._request())

    def _body(self, request: SearchRequest) -> dict[str, Any]:
        files = request.query_media_file
        return {**request.to_body(), "query_media_files": self._media_parts(files) if files else []}

    def _media_parts(self, files: list[str]) -> list[FilePart]:
        from airflow_provider_twelvelabs.hooks.endpoints import FilePart
        from airflow_provider_twelvelabs.sources import resolve

        parts = []
        for name in files:
            src = resolve(name, conn_id=self.query_media_conn_id)
            if not src.exists():
                raise ValueError(f"query_media_file {name!r} does not exist")
            if src.is_dir():
                raise ValueError(f"query_media_file {name!r} is a directory, not an image")
            filename = src.name or "query-image"
            content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
            # The hook reopens the file for each attempt, so a retried request carries the whole image.
            parts.append(FilePart("query_media_file", filename, src.open, content_type))
        return parts

    def execute(self, context: Context) -> list[dict[str, Any]]:
        """Run the search, follow further pages up to ``max_results``, and return the hits."""
        request = self._request()
        body = self._body(request)
        search_filter = request.filter
        self.log.info(
            "Searching index %s (%s query; options %s, operator %s, group_by %s, filter %s)",
            request.index_id,
            request.kind,
            ",".join(request.search_options),
            request.operator or "or",
            request.group_by,
            json.dumps(search_filter) if search_filter else "none",
        )
        grouped = request.group_by == "video"
        page = self.hook.search(**body)
        total = page.page_info.total_results if page.page_info else None
        hits = _hits(page, grouped)
        pages = 1
        while len(hits) < request.max_results and page.page_info and page.page_info.next_page_token:
            page = self.hook.get_search_page(
                page.page_info.next_page_token, include_user_metadata=request.include_user_metadata
            )
            hits.extend(_hits(page, grouped))
            pages += 1
        if len(hits) > request.max_results:
            self.log.info(
                "Keeping the first %d of %d hits fetched (max_results)", request.max_results, len(hits)
            )
            hits = hits[: request.max_results]
        more = bool(page.page_info and page.page_info.next_page_token)
        self.log.info(
            "Search returned %d %s from %d page(s)%s%s",
            len(hits),
            "videos" if grouped else "clips",
            pages,
            f" of {total} in all" if total is not None else "",
            "; more results were left (raise max_results to get them)" if more else "",
        )
        for rank, hit in enumerate(hits[:_LOGGED_HITS], 1):
            self.log.info("  %d. %s", rank, _hit_line(hit))
        if len(hits) > _LOGGED_HITS:
            self.log.info("  (%d more in XCom, return_value)", len(hits) - _LOGGED_HITS)
        return hits
