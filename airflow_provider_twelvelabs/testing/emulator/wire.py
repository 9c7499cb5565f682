"""Request parsing and response helpers shared by every route module.

Parsing is manual on purpose: the real API's quirks (repeated form keys as lists, ``true``/``false``
strings, JSON inside a form string, deepObject range filters, two spellings of user-metadata
filters) are what a client must be tested against, and generic validators would hide them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, TypeVar

from starlette.datastructures import FormData, QueryParams, UploadFile
from starlette.requests import Request
from starlette.responses import Response

from airflow_provider_twelvelabs.testing.emulator.errors import ErrorShape, bad_request

__all__ = [
    "MAX_PAGE_LIMIT",
    "Form",
    "Query",
    "json_response",
    "match_date",
    "match_metadata",
    "match_range",
    "no_content",
    "page_params",
    "paginate",
    "parse_bool",
    "parse_form",
    "parse_query",
    "parse_timestamp",
    "read_json",
    "sort_records",
]

T = TypeVar("T")

#: Largest ``page_limit`` the API honours; larger values are capped.
MAX_PAGE_LIMIT = 50
_DEFAULT_PAGE_LIMIT = 10
_RANGE_OPERATORS = ("gte", "gt", "lte", "lt")


def json_response(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """Return a JSON response.

    :param data: the JSON-serialisable body.
    :param status: the status code.
    :param headers: extra headers (for example ``Location``).
    """
    return Response(
        json.dumps(data, separators=(",", ":")),
        status_code=status,
        media_type="application/json",
        headers=dict(headers or {}),
    )


def no_content() -> Response:
    """Return the ``204`` empty response used by PUT, PATCH and DELETE."""
    return Response(status_code=204)


def parse_bool(value: Any, name: str, *, shape: ErrorShape = "flat") -> bool:
    """Parse the wire spelling of a boolean (``true``/``false`` strings, or a JSON bool).

    :param value: the raw value.
    :param name: the parameter name, used in the error message.
    :param shape: the error body shape to use.
    :raises APIError: 400 ``parameter_invalid`` on anything else.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise bad_request(f"The {name} parameter must be a boolean (true or false).", shape=shape)


async def read_json(request: Request, *, shape: ErrorShape = "flat") -> dict[str, Any]:
    """Read a JSON object body.

    :param request: the incoming request.
    :param shape: the error body shape to use.
    :raises APIError: 400 when the body is not a JSON object.
    """
    raw = await request.body()
    if not raw:
        raise bad_request("The request body is empty; a JSON object is required.", shape=shape)
    try:
        data = json.loads(raw)
    except ValueError:
        raise bad_request("The request body is not valid JSON.", shape=shape) from None
    if not isinstance(data, dict):
        raise bad_request("The request body must be a JSON object.", shape=shape)
    return data


@dataclass
class Form:
    """A parsed form body: repeated keys kept as lists, files separate.

    :param fields: text fields, each with all its values in order.
    :param files: file parts by field name.
    """

    fields: dict[str, list[str]] = field(default_factory=dict)
    files: dict[str, UploadFile] = field(default_factory=dict)

    def get(self, name: str) -> str | None:
        """Return the last value of a text field, or ``None`` when absent.

        :param name: the field name.
        """
        values = self.fields.get(name)
        return values[-1] if values else None

    def getlist(self, name: str) -> list[str]:
        """Return every value of a repeated text field (one form part per element).

        :param name: the field name.
        """
        return list(self.fields.get(name, []))

    def bool(self, name: str, default: bool) -> bool:
        """Return a boolean field sent as the string ``true`` or ``false``.

        :param name: the field name.
        :param default: the value when the field is absent.
        """
        value = self.get(name)
        return default if value is None else parse_bool(value, name)

    def json(self, name: str) -> Any:
        """Return a field whose value is JSON encoded inside a single form string.

        :param name: the field name (``user_metadata`` or ``filter``).
        :raises APIError: 400 when the string is not valid JSON.
        """
        value = self.get(name)
        if value is None or value == "":
            return None
        try:
            return json.loads(value)
        except ValueError:
            raise bad_request(f"The {name} parameter must be a JSON-encoded string.") from None

    def number(self, name: str) -> float | None:
        """Return a numeric field, or ``None`` when absent.

        :param name: the field name.
        :raises APIError: 400 when the value is not a number.
        """
        value = self.get(name)
        if value is None:
            return None
        try:
            number = float(value)
        except ValueError:
            raise bad_request(f"The {name} parameter must be a number.") from None
        if not math.isfinite(number):
            raise bad_request(f"The {name} parameter must be a finite number.")
        return number


async def parse_form(request: Request) -> Form:
    """Parse a ``multipart/form-data`` or urlencoded body into a :class:`Form`.

    File parts are spooled to disk by the multipart parser, so large uploads do not sit in memory.

    :param request: the incoming request.
    :raises APIError: 400 when the body is not a form.
    """
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        raise bad_request("The request body must be multipart/form-data.")
    try:
        data: FormData = await request.form(max_files=16, max_fields=2000)
    except Exception as exc:  # the multipart parser raises several unrelated types
        raise bad_request(f"The form body could not be parsed: {exc}") from None
    form = Form()
    for key, value in data.multi_items():
        if isinstance(value, UploadFile):
            form.files[key] = value
        else:
            form.fields.setdefault(key, []).append(value)
    return form


@dataclass
class Query:
    """A parsed query string.

    :param params: every parameter with all its values (repeated keys are lists).
    :param ranges: deepObject ranges such as ``duration[gte]=1`` as ``{"duration": {"gte": "1"}}``.
    :param metadata: user-metadata filters, from ``user_metadata[k]=v`` and from unknown root keys.
    """

    params: dict[str, list[str]] = field(default_factory=dict)
    ranges: dict[str, dict[str, str]] = field(default_factory=dict)
    metadata: dict[str, list[str]] = field(default_factory=dict)

    def get(self, name: str) -> str | None:
        """Return the last value of a parameter, or ``None``.

        :param name: the parameter name.
        """
        values = self.params.get(name)
        return values[-1] if values else None

    def getlist(self, name: str) -> list[str]:
        """Return every value of a repeated parameter; comma-separated values are split too.

        :param name: the parameter name.
        """
        out: list[str] = []
        for value in self.params.get(name, []):
            out.extend(v for v in value.split(",") if v)
        return out

    def bool(self, name: str, default: bool = False) -> bool:
        """Return a boolean parameter.

        :param name: the parameter name.
        :param default: the value when absent.
        """
        value = self.get(name)
        return default if value is None else parse_bool(value, name)


def parse_query(params: QueryParams, known: Iterable[str] = (), *, root_metadata: bool = False) -> Query:
    """Parse a query string, separating plain parameters, ranges and user-metadata filters.

    :param params: ``request.query_params``.
    :param known: parameter names the endpoint defines; with ``root_metadata``, any other plain key is
        taken as a user-metadata filter (the ``?category=news`` spelling of the docs and SDK wrapper).
    :param root_metadata: whether unknown root keys are metadata filters.
    """
    known_set = set(known) | {"page", "page_limit"}
    query = Query()
    for key, value in params.multi_items():
        if key.endswith("]") and "[" in key:
            base, _, inner = key[:-1].partition("[")
            if base == "user_metadata":
                query.metadata.setdefault(inner, []).append(value)
            elif inner in _RANGE_OPERATORS:
                query.ranges.setdefault(base, {})[inner] = value
            else:
                query.params.setdefault(key, []).append(value)
            continue
        query.params.setdefault(key, []).append(value)
        if root_metadata and key not in known_set:
            query.metadata.setdefault(key, []).append(value)
    return query


def page_params(query: Query | QueryParams) -> tuple[int, int]:
    """Return ``(page, page_limit)`` from a query, with the API defaults and the 50 cap.

    :param query: a parsed :class:`Query` or raw query parameters.
    :raises APIError: 400 when either value is not a positive integer.
    """
    values = []
    for name, default in (("page", 1), ("page_limit", _DEFAULT_PAGE_LIMIT)):
        raw = query.get(name)
        if raw is None or raw == "":
            values.append(default)
            continue
        try:
            number = int(raw)
        except ValueError:
            raise bad_request(f"The {name} parameter must be a positive integer.") from None
        if number < 1:
            raise bad_request(f"The {name} parameter must be a positive integer.")
        values.append(number)
    return values[0], min(values[1], MAX_PAGE_LIMIT)


def paginate(
    items: Sequence[T],
    page: int,
    page_limit: int,
    render: Callable[[T], Any],
    *,
    key: str = "data",
) -> dict[str, Any]:
    """Cut one page out of ``items`` and build ``{key: [...], "page_info": {...}}``.

    Pages past the end come back with an empty list, never an error: the SDK pagers stop only on an
    empty page.

    :param items: every matching item, already sorted.
    :param page: the 1-based page number.
    :param page_limit: items per page (already capped).
    :param render: turns one item into its JSON form; only called for items on the page, so
        rendering may advance lifecycles (a listing is a read).
    :param key: the list key (``uploaded_chunks`` for the multipart status).
    """
    total = len(items)
    start = (page - 1) * page_limit
    chunk = items[start : start + page_limit]
    return {
        key: [render(item) for item in chunk],
        "page_info": {
            "page": page,
            "limit_per_page": page_limit,
            "total_page": math.ceil(total / page_limit) if total else 0,
            "total_results": total,
        },
    }


def match_range(value: float | None, name: str, query: Query) -> bool:
    """Return whether ``value`` satisfies the ``name`` filter of ``query``.

    Both spellings are honoured: the SDK's ``name[gte]=1&name[lte]=5`` and the spec's plain ``name=5``
    (exact match).

    :param value: the resource's value (``None`` never matches an active filter).
    :param name: the filter name (``duration``, ``fps``, ``width``, ``height``, ``size``).
    :param query: the parsed query.
    :raises APIError: 400 when a bound is not a number.
    """
    bounds = dict(query.ranges.get(name, {}))
    exact = query.get(name)
    if not bounds and exact is None:
        return True
    if value is None:
        return False
    try:
        if exact is not None and not math.isclose(value, float(exact), rel_tol=0, abs_tol=1e-6):
            return False
        checks = {op: float(raw) for op, raw in bounds.items()}
    except ValueError:
        raise bad_request(f"The {name} filter must be numeric.") from None
    return (
        value >= checks.get("gte", -math.inf)
        and value > checks.get("gt", -math.inf)
        and value <= checks.get("lte", math.inf)
        and value < checks.get("lt", math.inf)
    )


def match_metadata(user_metadata: Mapping[str, Any] | None, filters: Mapping[str, list[str]]) -> bool:
    """Return whether ``user_metadata`` satisfies every user-metadata filter.

    A filter value matches a scalar by its string form (``true``, ``5``, ``news``) and a list value when
    the list contains it.

    :param user_metadata: the resource's metadata.
    :param filters: key → wanted values (every value must match).
    """
    metadata = user_metadata or {}
    for key, wanted in filters.items():
        if key not in metadata:
            return False
        actual = metadata[key]
        candidates = actual if isinstance(actual, list) else [actual]
        as_text = {_metadata_text(v) for v in candidates}
        if not all(w in as_text for w in wanted):
            return False
    return True


def _metadata_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def parse_timestamp(raw: str, name: str) -> datetime:
    """Parse an RFC 3339 timestamp (``Z`` or an offset; a bare date means midnight UTC).

    :param raw: the raw value.
    :param name: the parameter name, for the error message.
    :raises APIError: 400 when it is not a timestamp.
    """
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        raise bad_request(f"The {name} parameter must be an RFC 3339 timestamp.") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def match_date(value: datetime, raw: str | None, name: str) -> bool:
    """Return whether ``value`` matches a ``created_at``/``updated_at`` filter.

    The API matches resources "created on that date at or after that time": same UTC day, not earlier.

    :param value: the resource's timestamp.
    :param raw: the filter value, or ``None`` for no filter.
    :param name: the parameter name, for the error message.
    """
    if raw is None:
        return True
    wanted = parse_timestamp(raw, name).astimezone(timezone.utc)
    value = value.astimezone(timezone.utc)
    return value.date() == wanted.date() and value >= wanted


def sort_records(
    records: Sequence[T], query: Query, key: Callable[[T, str], datetime], default_desc: bool = True
) -> list[T]:
    """Sort records by ``sort_by`` (``created_at``/``updated_at``) and ``sort_option`` (``asc``/``desc``).

    Records are given oldest first (creation order); equal timestamps keep that order.

    :param records: the records in creation order.
    :param query: the parsed query.
    :param key: returns the timestamp of a record for a ``sort_by`` field.
    :param default_desc: whether the default order is newest first.
    :raises APIError: 400 on an unknown ``sort_by`` or ``sort_option``.
    """
    sort_by = query.get("sort_by") or "created_at"
    option = query.get("sort_option") or ("desc" if default_desc else "asc")
    if sort_by not in ("created_at", "updated_at"):
        raise bad_request("The sort_by parameter must be created_at or updated_at.")
    if option not in ("asc", "desc"):
        raise bad_request("The sort_option parameter must be asc or desc.")
    indexed = list(enumerate(records))
    indexed.sort(key=lambda pair: (key(pair[1], sort_by), pair[0]), reverse=option == "desc")
    return [record for _, record in indexed]
