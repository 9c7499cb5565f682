"""Search endpoints of the emulator, over real HTTP, validated against the OpenAPI spec."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from airflow_provider_twelvelabs.testing.emulator.server import RunningEmulator
from tests.integration.compute_support import (
    api_client,
    assert_flat_error,
    check,
    create_index,
    indexed_video,
)

pytestmark = pytest.mark.integration


@dataclass
class Library:
    index_id: str
    videos: dict[str, dict[str, Any]]  # video id -> user metadata
    durations: dict[str, float]


@pytest.fixture(scope="module")
def emulator(twelvelabs_module_emulator: RunningEmulator) -> RunningEmulator:
    # One emulator for the module: searches do not change state, and indexing 8 videos takes a while.
    return twelvelabs_module_emulator


@pytest.fixture(scope="module")
def client(emulator: RunningEmulator) -> Iterator[httpx.Client]:
    with api_client(emulator) as c:
        yield c


@pytest.fixture(scope="module")
def library(client: httpx.Client, emulator: RunningEmulator) -> Library:
    index_id = create_index(client, thumbnail=True)
    videos: dict[str, dict[str, Any]] = {}
    durations: dict[str, float] = {}
    for i in range(8):
        metadata = {"category": "sports" if i % 2 else "news", "episode": i, "reviewed": i < 4}
        video_id = indexed_video(client, index_id, f"https://media.example.com/ep{i}.mp4", metadata)
        videos[video_id] = metadata
        record = emulator.state.get_indexed_asset(video_id)
        asset = emulator.state.get_asset(record.asset_id) if record else None
        assert asset is not None and asset.duration is not None
        durations[video_id] = asset.duration
    return Library(index_id, videos, durations)


@pytest.fixture(autouse=True)
def no_rate_limits(emulator: RunningEmulator) -> Iterator[None]:
    yield
    emulator.config.rate_limits = {}


def fields(**values: Any) -> list[tuple[str, tuple[None, str]]]:
    parts: list[tuple[str, tuple[None, str]]] = []
    for name, value in values.items():
        for item in value if isinstance(value, list) else [value]:
            parts.append((name, (None, str(item).lower() if isinstance(item, bool) else str(item))))
    return parts


def search(client: httpx.Client, library: Library, **values: Any) -> httpx.Response:
    values.setdefault("search_options", ["visual", "audio"])
    values.setdefault("query_text", "a goal celebration")
    return client.post("/search", files=fields(index_id=library.index_id, **values))


def all_pages(client: httpx.Client, first: dict[str, Any]) -> list[dict[str, Any]]:
    pages = [first]
    while token := pages[-1]["page_info"].get("next_page_token"):
        pages.append(check(client.get(f"/search/{token}")))
    return pages


def test_clip_search(client: httpx.Client, library: Library) -> None:
    response = search(client, library, page_limit=50)
    body = check(response)
    hits = body["data"]
    assert hits, "a text query over 8 videos should match something"
    assert [h["rank"] for h in hits] == list(range(1, len(hits) + 1))
    for hit in hits:
        assert hit["video_id"] in library.videos
        assert 0 <= hit["start"] < hit["end"] <= library.durations[hit["video_id"]]
        assert hit["thumbnail_url"].startswith("http")  # the index has the thumbnail add-on
        assert "transcription" not in hit and "user_metadata" not in hit
    assert body["page_info"]["total_results"] == len(hits)
    assert "next_page_token" not in body["page_info"]
    assert body["search_pool"] == {
        "total_count": 8,
        "total_duration": pytest.approx(sum(library.durations.values())),
        "index_id": library.index_id,
    }
    for name in ("X-Ratelimit-Limit", "X-Ratelimit-Remaining", "X-Ratelimit-Used", "X-Ratelimit-Reset"):
        assert response.headers[name].isdigit()
    # Deterministic: the same query gives the same hits; another query does not.
    assert check(search(client, library, page_limit=50))["data"] == hits
    assert check(search(client, library, page_limit=50, query_text="rain on a roof"))["data"] != hits


def test_multi_page_results(client: httpx.Client, library: Library) -> None:
    first = check(search(client, library, page_limit=2))
    pages = all_pages(client, first)
    total = first["page_info"]["total_results"]
    assert len(pages) == -(-total // 2) and len(pages) > 2
    ranks = [h["rank"] for page in pages for h in page["data"]]
    assert ranks == list(range(1, total + 1))
    assert all(len(p["data"]) == 2 for p in pages[:-1])
    assert "next_page_token" not in pages[-1]["page_info"]
    assert "prev_page_token" not in first["page_info"]
    assert pages[1]["page_info"]["prev_page_token"]
    back = check(client.get(f"/search/{pages[2]['page_info']['prev_page_token']}"))
    assert back["data"] == pages[1]["data"]
    assert all(p["page_info"]["total_results"] == total for p in pages)


def test_group_by_video(client: httpx.Client, library: Library) -> None:
    flat = check(search(client, library, page_limit=50))["data"]
    first = check(search(client, library, group_by="video", page_limit=3))
    pages = all_pages(client, first)
    groups = [g for page in pages for g in page["data"]]
    assert all(len(p["data"]) <= 3 for p in pages)  # page_limit counts videos
    assert len({g["id"] for g in groups}) == len(groups)
    assert sum(len(g["clips"]) for g in groups) == len(flat)
    assert first["page_info"]["total_inner_matches"] == len(flat)
    assert first["page_info"]["total_results"] == len(groups)
    for group in groups:
        assert all(c["video_id"] == group["id"] for c in group["clips"])
    best = [min(c["rank"] for c in g["clips"]) for g in groups]
    assert best == sorted(best)  # videos ordered by their best clip


def test_operator_and_is_narrower(client: httpx.Client, library: Library) -> None:
    anyone = check(search(client, library, page_limit=50, operator="or"))["page_info"]["total_results"]
    everyone = check(search(client, library, page_limit=50, operator="and"))["page_info"]["total_results"]
    assert everyone <= anyone


def test_transcription_option_returns_words(client: httpx.Client, library: Library) -> None:
    hits = check(
        search(
            client,
            library,
            search_options=["transcription"],
            transcription_options=["lexical"],
            page_limit=50,
        )
    )["data"]
    assert hits and all(h["transcription"] for h in hits)


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        ('{"category": "news"}', lambda meta, dur, vid: meta["category"] == "news"),
        ('{"reviewed": true}', lambda meta, dur, vid: meta["reviewed"] is True),
        ('{"episode": 3}', lambda meta, dur, vid: meta["episode"] == 3),
        ('{"duration": {"gte": 60, "lte": 400}}', lambda meta, dur, vid: 60 <= dur <= 400),
        ('{"filename": "ep5.mp4"}', lambda meta, dur, vid: meta["episode"] == 5),
    ],
)
def test_filters(client: httpx.Client, library: Library, flt: str, expected: Any) -> None:
    hits = check(search(client, library, page_limit=50, filter=flt))["data"]
    allowed = {v for v, meta in library.videos.items() if expected(meta, library.durations[v], v)}
    unfiltered = check(search(client, library, page_limit=50))["data"]
    # A filter narrows the pool; the clips found in the remaining videos stay the same.
    assert {(h["video_id"], h["start"], h["end"]) for h in hits} == {
        (h["video_id"], h["start"], h["end"]) for h in unfiltered if h["video_id"] in allowed
    }
    assert [h["rank"] for h in hits] == list(range(1, len(hits) + 1))


def test_filter_by_id(client: httpx.Client, library: Library) -> None:
    chosen = sorted(library.videos)[:2]
    body = check(search(client, library, page_limit=50, filter=f'{{"id": ["{chosen[0]}", "{chosen[1]}"]}}'))
    unfiltered = check(search(client, library, page_limit=50))["data"]
    assert {h["video_id"] for h in body["data"]} == {
        h["video_id"] for h in unfiltered if h["video_id"] in chosen
    }
    assert body["search_pool"]["total_count"] == 8  # the pool is the index, not the filtered set


@pytest.mark.parametrize(
    "flt",
    [
        "{not json",
        "[1, 2]",
        '{"id": "abc"}',
        '{"duration": {"gt": 5}}',
        '{"width": "wide"}',
        '{"tags": ["a"]}',
    ],
)
def test_bad_filter(client: httpx.Client, library: Library, flt: str) -> None:
    assert_flat_error(search(client, library, filter=flt), 400, "search_filter_invalid")


def test_include_user_metadata_carries_over_pages(client: httpx.Client, library: Library) -> None:
    first = check(search(client, library, page_limit=2, include_user_metadata=True))
    for hit in first["data"]:
        assert hit["user_metadata"] == library.videos[hit["video_id"]]
    token = first["page_info"]["next_page_token"]
    # The SDK's pager does not resend include_user_metadata; the original setting applies.
    second = check(client.get(f"/search/{token}"))
    assert all("user_metadata" in h for h in second["data"])
    without = check(client.get(f"/search/{token}", params={"include_user_metadata": "false"}))
    assert all("user_metadata" not in h for h in without["data"])


def test_image_queries(client: httpx.Client, library: Library) -> None:
    by_url = check(
        search(
            client,
            library,
            query_text="",
            query_media_type="image",
            query_media_url="https://x.test/ball.jpg",
        )
    )
    by_file = client.post(
        "/search",
        files=[
            *fields(index_id=library.index_id, search_options="visual", query_media_type="image"),
            ("query_media_file", ("ball.jpg", b"jpeg bytes", "image/jpeg")),
        ],
    )
    file_hits = check(by_file)["data"]
    composed = check(
        search(
            client,
            library,
            query_media_type="image",
            query_media_url="https://x.test/ball.jpg",
            page_limit=50,
        )
    )["data"]
    text_only = check(search(client, library, page_limit=50))["data"]
    # Each kind of query is a different query: image by URL, image file, image + text, text.
    results = [by_url["data"], file_hits, composed, text_only]
    assert all(a != b for i, a in enumerate(results) for b in results[i + 1 :])


@pytest.mark.parametrize(
    ("values", "code"),
    [
        ({"search_options": ["smell"]}, "search_option_not_supported"),
        ({"search_options": []}, "parameter_not_provided"),
        ({"query_text": ""}, "parameter_not_provided"),
        ({"query_media_url": "https://x.test/a.jpg"}, "parameter_not_provided"),
        ({"query_media_type": "video", "query_media_url": "https://x.test/a.mp4"}, "parameter_invalid"),
        ({"group_by": "scene"}, "parameter_invalid"),
        ({"operator": "xor"}, "parameter_invalid"),
        ({"page_limit": 51}, "parameter_invalid"),
        ({"include_user_metadata": "maybe"}, "parameter_invalid"),
    ],
)
def test_search_validation(client: httpx.Client, library: Library, values: dict[str, Any], code: str) -> None:
    assert_flat_error(search(client, library, **values), 400, code)


def test_search_option_must_be_enabled_on_the_index(client: httpx.Client) -> None:
    visual_only = create_index(client, options=("visual",))
    response = client.post(
        "/search", files=fields(index_id=visual_only, search_options=["visual", "audio"], query_text="x")
    )
    assert_flat_error(response, 400, "search_option_not_supported")
    empty = check(
        client.post("/search", files=fields(index_id=visual_only, search_options="visual", query_text="x"))
    )
    assert empty["data"] == [] and empty["page_info"]["total_results"] == 0
    assert "next_page_token" not in empty["page_info"]
    assert empty["search_pool"]["total_count"] == 0


def test_unknown_index(client: httpx.Client) -> None:
    response = client.post(
        "/search", files=fields(index_id="0" * 24, search_options="visual", query_text="x")
    )
    assert_flat_error(response, 404, "resource_not_exist", validate=False)


def test_unknown_and_expired_page_tokens(
    client: httpx.Client, library: Library, emulator: RunningEmulator
) -> None:
    assert_flat_error(client.get("/search/not-a-token"), 400, "search_page_token_expired", validate=False)
    token = check(search(client, library, page_limit=1))["page_info"]["next_page_token"]
    check(client.get(f"/search/{token}"))
    emulator.state.advance_clock(2 * 3600)
    assert_flat_error(client.get(f"/search/{token}"), 400, "search_page_token_expired", validate=False)


def test_search_rate_limit_is_empty_429(
    client: httpx.Client, library: Library, emulator: RunningEmulator
) -> None:
    emulator.config.rate_limits = {"search": 0}
    response = search(client, library)
    assert response.status_code == 429
    assert response.content == b""
    assert int(response.headers["Retry-After"]) >= 1
