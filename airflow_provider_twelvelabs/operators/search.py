"""Operator for searching an index with Marengo: text, image and composed (text + image) queries."""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_twelvelabs.operators.base import TwelveLabsBaseOperator

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_twelvelabs.hooks.endpoints import FilePart
    from airflow_provider_twelvelabs.models import SearchPage

__all__ = ["TwelveLabsSearchOperator", "validate_search_filter"]

SEARCH_OPTIONS = ("visual", "audio", "transcription")
TRANSCRIPTION_OPTIONS = ("lexical", "semantic")
OPERATORS = ("or", "and")
GROUP_BY = ("clip", "video")
#: The API's largest page.
MAX_PAGE_LIMIT = 50
#: The API's limit on query images.
MAX_QUERY_MEDIA = 10
#: Filter fields that take a number or a ``{"gte", "lte"}`` range.
NUMERIC_FILTER_FIELDS = ("duration", "width", "height", "size", "fps")
#: Hit fields copied to the result when the API sends them.
_HIT_FIELDS = ("score", "confidence", "thumbnail_url", "transcription", "user_metadata")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def validate_search_filter(value: Any) -> dict[str, Any] | None:
    """Check a search ``filter`` against the API's syntax and return it as a dict.

    ``{"id": [video ids]}``; ``duration``, ``width``, ``height``, ``size`` and ``fps`` take a number or
    ``{"gte": n, "lte": m}``; ``filename`` an exact string; any other key is a user-metadata field
    compared for equality with a string, number or boolean.

    :param value: the filter as a dict or a JSON object string (for templated filters).
    :raises ValueError: naming ``filter`` and the offending field.
    """
    if value is None or value == {} or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ValueError(
                "filter must be a dict or a JSON object string; the string is not JSON"
            ) from None
    if not isinstance(value, Mapping):
        raise ValueError(f"filter must be a dict, got {type(value).__name__}")
    for key, item in value.items():
        if not isinstance(key, str) or not key:
            raise ValueError(f"filter keys must be non-empty strings, got {key!r}")
        if key == "id":
            if (
                not isinstance(item, (list, tuple))
                or not item
                or not all(isinstance(v, str) and v for v in item)
            ):
                raise ValueError('filter["id"] must be a non-empty list of video id strings')
        elif key in NUMERIC_FILTER_FIELDS:
            if isinstance(item, Mapping):
                if not item or set(item) - {"gte", "lte"}:
                    raise ValueError(f'filter["{key}"] must be a number or a dict with "gte" and/or "lte"')
                if not all(_is_number(v) for v in item.values()):
                    raise ValueError(f'filter["{key}"] bounds must be numbers, got {dict(item)!r}')
                if "gte" in item and "lte" in item and item["gte"] > item["lte"]:
                    raise ValueError(f'filter["{key}"] has gte > lte: {dict(item)!r}')
            elif not _is_number(item):
                raise ValueError(f'filter["{key}"] must be a number or a dict with "gte" and/or "lte"')
        elif key == "filename":
            if not isinstance(item, str):
                raise ValueError('filter["filename"] must be a string (an exact file name)')
        elif not isinstance(item, (str, int, float, bool)):
            raise ValueError(
                f'filter["{key}"] (a user-metadata field) must be a string, number or boolean, '
                f"got {type(item).__name__}"
            )
    return {k: list(v) if isinstance(v, tuple) else v for k, v in value.items()}


def _as_list(value: Any, name: str) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, Iterable) and not isinstance(value, Mapping):
        items = list(value)
        if not all(isinstance(v, str) and v for v in items):
            raise ValueError(f"{name} must be a string or a list of non-empty strings")
        return items
    raise ValueError(f"{name} must be a string or a list of strings, got {type(value).__name__}")


def _choices(value: Any, allowed: Sequence[str], name: str) -> list[str]:
    chosen = _as_list(value, name)
    bad = [v for v in chosen if v not in allowed]
    if bad:
        raise ValueError(f"{name} has unsupported value(s) {bad}; allowed: {', '.join(allowed)}")
    return list(dict.fromkeys(chosen))


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

    def _check_static(self) -> tuple[list[str], list[str]]:
        options = _choices(self.search_options, SEARCH_OPTIONS, "search_options")
        if not options:
            raise ValueError(f"search_options must name at least one of {', '.join(SEARCH_OPTIONS)}")
        transcription = _choices(self.transcription_options, TRANSCRIPTION_OPTIONS, "transcription_options")
        if transcription and "transcription" not in options:
            raise ValueError(
                "transcription_options applies only when search_options includes 'transcription'"
            )
        if self.operator is not None and self.operator not in OPERATORS:
            raise ValueError(f"operator must be 'or' or 'and', got {self.operator!r}")
        if self.group_by not in GROUP_BY:
            raise ValueError(f"group_by must be 'clip' or 'video', got {self.group_by!r}")
        if self.page_limit is not None and (
            isinstance(self.page_limit, bool)
            or not isinstance(self.page_limit, int)
            or not 1 <= self.page_limit <= MAX_PAGE_LIMIT
        ):
            raise ValueError(
                f"page_limit must be an integer from 1 to {MAX_PAGE_LIMIT}, got {self.page_limit!r}"
            )
        if (
            isinstance(self.max_results, bool)
            or not isinstance(self.max_results, int)
            or not 1 <= self.max_results <= 10_000
        ):
            raise ValueError(f"max_results must be an integer from 1 to 10000, got {self.max_results!r}")
        if self.include_user_metadata is not None and not isinstance(self.include_user_metadata, bool):
            raise ValueError("include_user_metadata must be True, False or None")
        return options, transcription

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
        options, transcription = self._check_static()
        if not isinstance(self.index_id, str) or not self.index_id.strip():
            raise ValueError(f"index_id must be a non-empty index id, got {self.index_id!r}")
        if self.query_text is not None and not isinstance(self.query_text, str):
            raise ValueError(f"query_text must be a string, got {type(self.query_text).__name__}")
        text = self.query_text.strip() if self.query_text else None
        urls = _as_list(self.query_media_url, "query_media_url")
        for url in urls:
            if not url.startswith(("http://", "https://")):
                raise ValueError("query_media_url values must be http:// or https:// URLs")
        files = _as_list(self.query_media_file, "query_media_file")
        if not text and not urls and not files:
            raise ValueError(
                "give a query: query_text, query_media_file or query_media_url (or text and an image)"
            )
        if len(urls) + len(files) > MAX_QUERY_MEDIA:
            raise ValueError(f"at most {MAX_QUERY_MEDIA} query images (query_media_file + query_media_url)")
        search_filter = validate_search_filter(self.filter)
        media_parts = self._media_parts(files) if files else []

        kind = "composed" if text and (urls or files) else "text" if text else "image"
        self.log.info(
            "Searching index %s (%s query; options %s, operator %s, group_by %s, filter %s)",
            self.index_id,
            kind,
            ",".join(options),
            self.operator or "or",
            self.group_by,
            json.dumps(search_filter) if search_filter else "none",
        )
        grouped = self.group_by == "video"
        page = self.hook.search(
            index_id=self.index_id.strip(),
            search_options=options,
            query_text=text,
            query_media_type="image" if urls or files else None,
            query_media_url=urls or None,
            query_media_files=media_parts,
            transcription_options=transcription or None,
            group_by=self.group_by,
            operator=self.operator,
            page_limit=self.page_limit,
            filter=search_filter,
            include_user_metadata=self.include_user_metadata,
        )
        total = page.page_info.total_results if page.page_info else None
        hits = _hits(page, grouped)
        pages = 1
        while len(hits) < self.max_results and page.page_info and page.page_info.next_page_token:
            page = self.hook.get_search_page(
                page.page_info.next_page_token, include_user_metadata=self.include_user_metadata
            )
            hits.extend(_hits(page, grouped))
            pages += 1
        if len(hits) > self.max_results:
            self.log.info(
                "Keeping the first %d of %d hits fetched (max_results)", self.max_results, len(hits)
            )
            hits = hits[: self.max_results]
        more = bool(page.page_info and page.page_info.next_page_token)
        self.log.info(
            "Search returned %d %s from %d page(s)%s%s",
            len(hits),
            "videos" if grouped else "clips",
            pages,
            f" of {total} in all" if total is not None else "",
            "; more results were left (raise max_results to get them)" if more else "",
        )
        return hits
