"""The Marengo search request, ``POST /search``: text, image and composed queries.

Query images given as files are attached by the operator (a model does not open files); the
model checks their names and counts them with the URLs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import model_validator

from airflow_provider_twelvelabs.requests.fields import (
    RequestModel,
    checked,
    choices,
    http_url,
    integer,
    one_of,
    optional_bool,
    resource_id,
    str_list,
)

__all__ = ["SearchOptions", "SearchRequest", "validate_search_filter"]

SEARCH_OPTIONS = ("visual", "audio", "transcription")
TRANSCRIPTION_OPTIONS = ("lexical", "semantic")
OPERATORS = ("or", "and")
GROUP_BY = ("clip", "video")
#: The API's largest page.
MAX_PAGE_LIMIT = 50
#: The most hits (or videos) the operator collects.
MAX_RESULTS = 10_000
#: The API's limit on query images.
MAX_QUERY_MEDIA = 10
#: Filter fields that take a number or a ``{"gte", "lte"}`` range.
NUMERIC_FILTER_FIELDS = ("duration", "width", "height", "size", "fps")


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


def _filter(name: str, value: Any) -> dict[str, Any] | None:
    return validate_search_filter(value)


class SearchOptions(RequestModel):
    """The ``TwelveLabsSearchOperator`` parameters that cannot be templated.

    :param search_options: any of ``visual``, ``audio``, ``transcription`` (duplicates dropped).
    :param operator: ``or`` or ``and``; ``None`` for the API's default (``or``).
    :param group_by: ``clip`` or ``video``.
    :param transcription_options: ``lexical`` and/or ``semantic`` (with ``transcription`` only).
    :param page_limit: hits per page, 1 to 50.
    :param max_results: the most hits (or videos) collected, 1 to 10,000.
    :param include_user_metadata: include each video's user metadata in the hits.
    """

    search_options: Annotated[list[str], checked(choices, allowed=SEARCH_OPTIONS, required=True)]
    operator: Annotated[str | None, checked(one_of, allowed=OPERATORS, optional=True)] = None
    group_by: Annotated[str, checked(one_of, allowed=GROUP_BY)] = "clip"
    transcription_options: Annotated[list[str] | None, checked(choices, allowed=TRANSCRIPTION_OPTIONS)] = None
    page_limit: Annotated[int | None, checked(integer, minimum=1, maximum=MAX_PAGE_LIMIT)] = None
    max_results: Annotated[int, checked(integer, minimum=1, maximum=MAX_RESULTS)] = 100
    include_user_metadata: Annotated[bool | None, checked(optional_bool)] = None

    @model_validator(mode="after")
    def _transcription(self) -> SearchOptions:
        if self.transcription_options and "transcription" not in self.search_options:
            raise ValueError(
                "transcription_options applies only when search_options includes 'transcription'"
            )
        return self

    def to_body(self) -> dict[str, Any]:
        """Return the options' part of the search call's keyword arguments."""
        return {
            "search_options": list(self.search_options),
            "transcription_options": self.transcription_options,
            "group_by": self.group_by,
            "operator": self.operator,
            "page_limit": self.page_limit,
            "include_user_metadata": self.include_user_metadata,
        }


class SearchRequest(SearchOptions):
    """The ``POST /search`` request: a text, one or more images, or both.

    :param index_id: the index to search.
    :param query_text: the text query (``None`` or blank: no text).
    :param query_media_file: query image files (attached by the operator), one or a list.
    :param query_media_url: http(s) query image URLs, one or a list.
    :param filter: a filter dict, or a JSON object string (see :func:`validate_search_filter`).
    """

    index_id: Annotated[str, checked(resource_id)]
    query_text: str | None = None
    query_media_file: Annotated[list[str], checked(str_list)] = []
    query_media_url: Annotated[list[str], checked(str_list)] = []
    filter: Annotated[dict[str, Any] | None, checked(_filter)] = None

    @model_validator(mode="after")
    def _query(self) -> SearchRequest:
        if isinstance(self.query_text, str):
            self.query_text = self.query_text.strip() or None
        self.query_media_url = [http_url("query_media_url", url) for url in self.query_media_url]
        if not self.query_text and not self.query_media_url and not self.query_media_file:
            raise ValueError(
                "give a query: query_text, query_media_file or query_media_url (or text and an image)"
            )
        if len(self.query_media_url) + len(self.query_media_file) > MAX_QUERY_MEDIA:
            raise ValueError(f"at most {MAX_QUERY_MEDIA} query images (query_media_file + query_media_url)")
        return self

    @property
    def kind(self) -> str:
        """``text``, ``image`` or ``composed`` (text and image)."""
        images = bool(self.query_media_url or self.query_media_file)
        return "composed" if self.query_text and images else "text" if self.query_text else "image"

    def to_body(self) -> dict[str, Any]:
        """Return the search call's keyword arguments, without the query files (file parts)."""
        return {
            "index_id": self.index_id,
            "query_text": self.query_text,
            "query_media_type": "image" if self.query_media_url or self.query_media_file else None,
            "query_media_url": self.query_media_url or None,
            "filter": self.filter,
            **super().to_body(),
        }
