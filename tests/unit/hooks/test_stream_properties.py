"""Property-based tests of the streamed-JSON and JSON Lines readers on arbitrary bytes (issue 13, item 8).

Whatever the bytes and however they are cut into chunks, a reader returns, or raises its documented
error: ``JsonStreamError`` for :class:`JsonItemStream`, ``TwelveLabsMalformedResponseError`` for the
hook's reading of an answer, ``ValueError`` for :func:`results.read_records`. No other exception,
and no hang (hypothesis' per-example deadline).
"""

from __future__ import annotations

import itertools
import json
from datetime import timedelta
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_twelvelabs.exceptions import TwelveLabsMalformedResponseError
from airflow_provider_twelvelabs.hooks import endpoints as api
from airflow_provider_twelvelabs.hooks.json_stream import JsonItemStream, JsonStreamError
from airflow_provider_twelvelabs.hooks.twelvelabs import _parse_answer, _parse_line, _parse_skipping
from airflow_provider_twelvelabs.results import read_records

FAST = settings(
    max_examples=200,
    deadline=timedelta(milliseconds=500),
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

_scalar = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10)
_documents = st.recursive(
    _scalar,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(["data", "id", "x"]), inner, max_size=3)
    ),
    max_leaves=10,
)


@st.composite
def _bytes(draw: st.DrawFn) -> bytes:
    """Arbitrary bytes, or a JSON document (an answer-like one) damaged in one of several ways."""
    kind = draw(st.sampled_from(["random", "json", "cut", "flipped", "answer"]))
    if kind == "random":
        return draw(st.binary(max_size=200))
    document = draw(_documents)
    if kind == "answer":
        document = {"id": "t1", "status": "ready", "data": draw(st.lists(_documents, max_size=5))}
    raw = json.dumps(document).encode()
    if kind == "cut" and raw:
        return raw[: draw(st.integers(0, len(raw) - 1))]
    if kind == "flipped" and raw:
        at = draw(st.integers(0, len(raw) - 1))
        return raw[:at] + bytes([draw(st.integers(0, 255))]) + raw[at + 1 :]
    return raw


def _chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges)]


@FAST
@given(
    data=_bytes(),
    cuts=st.lists(st.integers(0, 10_000), max_size=8),
    path=st.sampled_from([("data",), ("x", "data")]),
)
def test_the_json_item_stream_yields_or_raises_its_own_error(data, cuts, path):
    stream = JsonItemStream(_chunks(data, cuts), path)
    try:
        items = list(stream)
    except JsonStreamError:
        return
    # What it read is what json.loads reads.
    document = json.loads(data)
    inner: Any = document
    for key in path:
        inner = inner.get(key) if isinstance(inner, dict) else None
    assert items == (inner if isinstance(inner, list) else [])


def _response(data: bytes, content_type: str = "application/json") -> httpx.Response:
    return httpx.Response(200, content=data, headers={"content-type": content_type})


@FAST
@given(data=_bytes(), content_type=st.sampled_from(["application/json", "text/plain", "text/html", ""]))
def test_the_hook_reads_an_answer_or_raises_the_malformed_error(data, content_type):
    response = _response(data, content_type)
    for call in (api.get_asset("a1"), api.list_assets(page=1), api.get_analyze_task("t1")):
        try:
            _parse_answer(call, response, data)
        except TwelveLabsMalformedResponseError as exc:
            assert exc.method == "GET" and exc.message
            assert "malformed body" in str(exc)


@FAST
@given(data=_bytes(), cuts=st.lists(st.integers(0, 10_000), max_size=8))
def test_the_hook_reads_a_status_without_its_vectors_or_raises_the_malformed_error(data, cuts):
    call = api.get_embedding_task("t1", with_data=False)
    try:
        _parse_skipping(call, _response(data), _chunks(data, cuts))
    except TwelveLabsMalformedResponseError as exc:
        assert "malformed body" in str(exc)


@FAST
@given(lines=st.lists(_bytes(), max_size=6))
def test_a_json_line_is_a_dict_or_skipped(lines):
    for line in lines:
        event = _parse_line(line.decode("utf-8", "replace"))
        assert event is None or isinstance(event, dict)


@settings(
    max_examples=100,
    deadline=timedelta(seconds=2),
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.lists(_bytes(), max_size=5))
def test_read_records_returns_the_records_or_raises_value_error(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("records") / "r.jsonl"
    path.write_bytes(b"\n".join(data))
    try:
        records = read_records(str(path))
    except ValueError:
        return
    assert isinstance(records, list)
