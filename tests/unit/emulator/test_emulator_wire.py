"""Pure helpers: query and form parsing, pagination, filters, lifecycles, config, failure markers."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from starlette.datastructures import QueryParams

from airflow_provider_twelvelabs.testing.emulator import EmulatorConfig, EmulatorState
from airflow_provider_twelvelabs.testing.emulator.errors import APIError, error_response
from airflow_provider_twelvelabs.testing.emulator.state import failure_marker, isoformat
from airflow_provider_twelvelabs.testing.emulator.wire import (
    match_date,
    match_metadata,
    match_range,
    page_params,
    paginate,
    parse_query,
)


def test_parse_query_separates_lists_ranges_and_both_metadata_spellings() -> None:
    params = QueryParams(
        "status=ready&status=failed&duration%5Bgte%5D=1&duration%5Blte%5D=5&user_metadata%5Bcat%5D=news&tag=a&page=2"
    )
    query = parse_query(params, ["status", "duration"], root_metadata=True)
    assert query.getlist("status") == ["ready", "failed"]
    assert query.ranges == {"duration": {"gte": "1", "lte": "5"}}
    assert query.metadata == {"cat": ["news"], "tag": ["a"]}
    assert query.get("page") == "2"


def test_root_keys_are_not_metadata_unless_asked() -> None:
    assert parse_query(QueryParams("tag=a")).metadata == {}


def test_page_params_defaults_cap_and_errors() -> None:
    assert page_params(QueryParams("")) == (1, 10)
    assert page_params(QueryParams("page=3&page_limit=99")) == (3, 50)
    for bad in ("page=0", "page=-1", "page_limit=x"):
        with pytest.raises(APIError) as info:
            page_params(QueryParams(bad))
        assert info.value.status == 400


def test_paginate_reports_four_ints_and_empty_pages_past_the_end() -> None:
    items = list(range(7))
    page = paginate(items, 2, 3, lambda i: i * 10)
    assert page == {
        "data": [30, 40, 50],
        "page_info": {"page": 2, "limit_per_page": 3, "total_page": 3, "total_results": 7},
    }
    assert paginate(items, 4, 3, str)["data"] == []
    empty = paginate([], 1, 10, str)["page_info"]
    assert empty == {"page": 1, "limit_per_page": 10, "total_page": 0, "total_results": 0}


def test_paginate_renders_only_the_page() -> None:
    rendered: list[int] = []
    paginate(list(range(10)), 1, 2, rendered.append)
    assert rendered == [0, 1]


def test_match_range_accepts_bounds_and_plain_values() -> None:
    query = parse_query(QueryParams("duration%5Bgte%5D=10&duration%5Blt%5D=20"))
    assert match_range(10, "duration", query) and match_range(19.9, "duration", query)
    assert not match_range(20, "duration", query) and not match_range(None, "duration", query)
    assert match_range(5, "width", query)  # no filter on width
    assert match_range(640, "width", parse_query(QueryParams("width=640")))
    assert not match_range(641, "width", parse_query(QueryParams("width=640")))
    with pytest.raises(APIError):
        match_range(1, "duration", parse_query(QueryParams("duration%5Bgte%5D=abc")))


def test_match_metadata_compares_wire_strings() -> None:
    meta = {"cat": "news", "n": 5, "live": True, "tags": ["a", "b"], "ratio": 2.0}
    assert match_metadata(
        meta, {"cat": ["news"], "n": ["5"], "live": ["true"], "tags": ["b"], "ratio": ["2"]}
    )
    assert not match_metadata(meta, {"cat": ["sport"]})
    assert not match_metadata(meta, {"missing": ["x"]})
    assert not match_metadata(None, {"cat": ["news"]})
    assert match_metadata(None, {})


def test_match_date_means_same_day_at_or_after() -> None:
    value = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)
    assert match_date(value, None, "created_at")
    assert match_date(value, "2025-03-01T10:00:00Z", "created_at")
    assert not match_date(value, "2025-03-01T13:00:00Z", "created_at")
    assert not match_date(value, "2025-02-28T10:00:00Z", "created_at")
    with pytest.raises(APIError):
        match_date(value, "yesterday", "created_at")


def test_error_shapes() -> None:
    flat = APIError(400, "parameter_invalid", "bad")
    assert flat.body() == {
        "code": "parameter_invalid",
        "message": "bad",
        "docs_url": "https://docs.twelvelabs.io/v1.3/api-reference/error-codes#parameter_invalid",
    }
    nested = APIError(404, "resource_not_exist", "gone", shape="nested", details={"id": "x"})
    assert nested.body() == {
        "error": {"code": "resource_not_exist", "message": "gone", "details": {"id": "x"}}
    }
    empty = error_response(
        APIError(429, "too_many_requests", "wait", shape="empty", headers={"Retry-After": "3"})
    )
    assert empty.body == b"" and empty.status_code == 429 and empty.headers["retry-after"] == "3"


def test_isoformat_is_rfc3339_with_z() -> None:
    moment = datetime(2024, 1, 9, 11, 17, 15, 296000, tzinfo=timezone.utc)
    assert isoformat(moment) == "2024-01-09T11:17:15.296Z"
    assert isoformat(None) is None


@pytest.mark.parametrize(
    ("texts", "stage"),
    [
        (("clip.mp4",), None),
        (("fail.mp4",), "asset"),
        (("x", "https://h/FAIL/y.mp4"), "asset"),
        (("a_fail_index.mp4",), "index"),
        (("failindex.mp4",), "index"),
        (("b-fail-embed.mp4",), "embed"),
        (("c_fail_analyze.mp4",), "analyze"),
        ((None, ""), None),
    ],
)
def test_failure_marker(texts: tuple[str | None, ...], stage: str | None) -> None:
    assert failure_marker(*texts) == stage


def test_lifecycle_by_polls() -> None:
    state = EmulatorState(EmulatorConfig(polls_per_step=2))
    try:
        lifecycle = state.new_lifecycle(["a", "b"])
        assert [lifecycle.observe() for _ in range(7)] == ["a", "a", "b", "b", "ready", "ready", "ready"]
        assert lifecycle.terminal
        assert set(lifecycle.reached_at) == {"a", "b", "ready"}
    finally:
        state.close()


def test_lifecycle_failure_path_and_peek() -> None:
    state = EmulatorState()
    try:
        lifecycle = state.new_lifecycle(["a", "b", "c"], fail=True, fail_after=1)
        assert lifecycle.path == ("a", "b", "failed")
        assert lifecycle.peek() == "a" and lifecycle.peek() == "a"  # peeking is not a read
        assert [lifecycle.observe() for _ in range(4)] == ["a", "b", "failed", "failed"]
    finally:
        state.close()


def test_lifecycle_by_time_and_never_backwards() -> None:
    state = EmulatorState(EmulatorConfig(polls_per_step=0, step_seconds=10))
    try:
        lifecycle = state.new_lifecycle(["a", "b"])
        assert lifecycle.observe() == "a"
        state.advance_clock(10)
        assert lifecycle.peek() == "b"
        state.config.update({"step_seconds": 1000})
        assert lifecycle.peek() == "b"  # a slower clock does not move a resource back
        assert lifecycle.complete() == "ready"
    finally:
        state.close()


def test_rng_and_ids_are_deterministic() -> None:
    first, second = EmulatorState(EmulatorConfig(seed=3)), EmulatorState(EmulatorConfig(seed=3))
    try:
        assert [first.new_id() for _ in range(3)] == [second.new_id() for _ in range(3)]
        assert first.rng("x", 1).random() == second.rng("x", 1).random() != first.rng("x", 2).random()
    finally:
        first.close()
        second.close()


def test_config_update_coerces_and_rejects() -> None:
    config = EmulatorConfig()
    changed = config.update({"fault_rate": 1, "rate_limit_rpm": "5", "fault_statuses": [500]})
    assert changed == ["fault_rate", "rate_limit_rpm", "fault_statuses"]
    assert config.fault_rate == 1.0 and config.rate_limit_rpm == 5 and config.fault_statuses == (500,)
    assert config.rate_limit_for("search") == 5
    config.update({"rate_limits": {"search": 1}})
    assert config.rate_limit_for("search") == 1 and config.rate_limit_for("other") == 5
    with pytest.raises(ValueError):
        config.update({"unknown": 1})
    with pytest.raises(ValueError):
        config.update({"reject_reused_presigned_urls": "true"})
