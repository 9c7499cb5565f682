"""TwelveLabsSearchOperator against the emulator over real HTTP."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_twelvelabs.exceptions import TwelveLabsBadRequestError, TwelveLabsNotFoundError
from airflow_provider_twelvelabs.hooks.twelvelabs import TwelveLabsHook
from airflow_provider_twelvelabs.operators.search import TwelveLabsSearchOperator
from airflow_provider_twelvelabs.testing.emulator.server import RunningEmulator
from tests.integration.catalog_support import MEDIA, Catalog, index_samples, serve_catalog

pytestmark = pytest.mark.integration

METADATA = [
    {"category": "test-pattern", "reviewed": True},
    {"category": "bars", "reviewed": False},
    {"category": "fractal", "reviewed": True},
]


@pytest.fixture(scope="module")
def catalog(twelvelabs_module_emulator: RunningEmulator) -> Iterator[Catalog]:
    """One emulator and one index of three ready videos with user metadata (read-only tests)."""
    with serve_catalog(twelvelabs_module_emulator, metadata=METADATA) as catalog:
        yield catalog


def _search(catalog: Catalog, **kwargs: Any) -> list[dict[str, Any]]:
    return TwelveLabsSearchOperator(task_id="s", index_id=catalog.index_id, **kwargs).execute({})


def _raw_pages(catalog: Catalog, form: dict[str, Any]) -> list[list[dict[str, Any]]]:
    """Every page of a search as the API returns it."""
    with catalog.raw() as client:
        page = client.post("/search", files=[(k, (None, v)) for k, vs in form.items() for v in vs]).json()
        pages = [page["data"]]
        while page["page_info"].get("next_page_token"):
            page = client.get(f"/search/{page['page_info']['next_page_token']}").json()
            pages.append(page["data"])
    return pages


def _page_gets(catalog: Catalog, mark: int) -> int:
    return sum(1 for m, p, _ in catalog.requests_since(mark) if m == "GET" and p.startswith("/search/"))


def test_text_search_follows_every_page(catalog: Catalog) -> None:
    mark = len(catalog.log())
    hits = _search(catalog, query_text="a colourful test pattern", page_limit=1)
    page_gets = _page_gets(catalog, mark)
    pages = _raw_pages(
        catalog,
        {
            "index_id": [catalog.index_id],
            "search_options": ["visual", "audio"],
            "query_text": ["a colourful test pattern"],
            "page_limit": ["1"],
        },
    )
    raw = [item for page in pages for item in page]
    assert len(pages) >= 3, "the sample index should give several pages of one"
    assert [(h["video_id"], h["start"], h["end"], h["rank"]) for h in hits] == [
        (i["video_id"], i["start"], i["end"], i["rank"]) for i in raw
    ]
    assert [h["rank"] for h in hits] == sorted(h["rank"] for h in hits)
    assert all(h["thumbnail_url"].startswith("http") for h in hits)  # the index has the add-on
    assert page_gets == len(pages) - 1


def test_max_results_caps_hits_and_requests(catalog: Catalog) -> None:
    everything = _search(catalog, query_text="a colourful test pattern", page_limit=1)
    assert len(everything) > 3
    mark = len(catalog.log())
    hits = _search(catalog, query_text="a colourful test pattern", page_limit=2, max_results=3)
    assert hits == everything[:3]
    # Two pages of two hold the three hits: one POST and one GET, nothing more.
    assert _page_gets(catalog, mark) == math.ceil(3 / 2) - 1
    assert [m for m, _, _ in catalog.requests_since(mark)] == ["POST", "GET"]


def test_group_by_video(catalog: Catalog) -> None:
    mark = len(catalog.log())
    videos = _search(catalog, query_text="moving shapes", group_by="video", page_limit=1)
    assert videos and len({v["video_id"] for v in videos}) == len(videos)
    assert set(v["video_id"] for v in videos) <= set(catalog.video_ids)
    for video in videos:
        assert video["clips"] and all(c["video_id"] == video["video_id"] for c in video["clips"])
    assert _page_gets(catalog, mark) == len(videos) - 1
    clips = _search(catalog, query_text="moving shapes")
    assert sum(len(v["clips"]) for v in videos) == len(clips)


def test_filters_restrict_the_videos(catalog: Catalog) -> None:
    wanted = catalog.video_ids[:2]
    by_id = _search(catalog, query_text="moving shapes", filter={"id": wanted})
    assert by_id and {h["video_id"] for h in by_id} <= set(wanted)
    fractal = catalog.video_ids[2]
    by_metadata = _search(
        catalog, query_text="moving shapes", filter={"category": "fractal"}, include_user_metadata=True
    )
    assert by_metadata and {h["video_id"] for h in by_metadata} == {fractal}
    assert all(h["user_metadata"] == METADATA[2] for h in by_metadata)
    nothing = _search(catalog, query_text="moving shapes", filter=json.dumps({"duration": {"gte": 100000}}))
    assert nothing == []


def test_image_queries_by_file_url_and_composed(catalog: Catalog, tmp_path: Path) -> None:
    image = tmp_path / "frame.png"
    image.write_bytes((MEDIA / "README.md").read_bytes())
    by_file = _search(catalog, query_media_file=str(image))
    by_url = _search(catalog, query_media_url="https://images.example.com/frame.png")
    composed = _search(catalog, query_text="in slow motion", query_media_file=f"file://{image}")
    assert by_file and by_url and composed
    # Different queries rank different clips.
    key = [(h["video_id"], h["start"]) for h in by_file]
    assert key != [(h["video_id"], h["start"]) for h in composed]
    assert key == [(h["video_id"], h["start"]) for h in _search(catalog, query_media_file=str(image))]


def test_transcription_options_and_operator(catalog: Catalog) -> None:
    spoken = _search(
        catalog,
        query_text="welcome back",
        search_options=["transcription"],
        transcription_options=["lexical"],
    )
    assert spoken and all(isinstance(h["transcription"], str) and h["transcription"] for h in spoken)
    union = _search(catalog, query_text="a dog", search_options=["visual", "audio"], operator="or")
    both = _search(catalog, query_text="a dog", search_options=["visual", "audio"], operator="and")
    assert len(both) <= len(union)


def test_unsupported_option_and_unknown_index_surface_the_api_error(catalog: Catalog) -> None:
    with TwelveLabsHook() as hook:
        index_id, _, _ = index_samples(hook, options=("visual",), addons=())
    with pytest.raises(TwelveLabsBadRequestError, match="search_option_not_supported"):
        TwelveLabsSearchOperator(
            task_id="s", index_id=index_id, query_text="x", search_options=["audio"]
        ).execute({})
    with pytest.raises(TwelveLabsNotFoundError):
        TwelveLabsSearchOperator(task_id="s", index_id="ffffffffffffffffffffffff", query_text="x").execute({})


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({}, "give a query"),
        ({"query_text": "x", "filter": {"width": {"between": [1, 2]}}}, "filter"),
        ({"query_text": "x", "filter": {"id": "not-a-list"}}, "filter"),
        ({"query_text": "x", "filter": "{oops"}, "filter"),
        ({"query_text": "x", "page_limit": 100}, "page_limit"),
        ({"query_text": "x", "search_options": ["smell"]}, "search_options"),
        ({"query_text": "x", "operator": "not"}, "operator"),
        ({"query_text": "x", "group_by": "scene"}, "group_by"),
        ({"query_media_file": "/no/such/image.png"}, "query_media_file"),
    ],
)
def test_invalid_input_fails_before_any_request(catalog: Catalog, kwargs: dict[str, Any], param: str) -> None:
    before = len(catalog.log())
    with pytest.raises(ValueError, match=param):
        TwelveLabsSearchOperator(task_id="s", index_id=catalog.index_id, **kwargs).execute({})
    assert len(catalog.log()) == before


def test_rate_limited_search_is_retried(catalog: Catalog) -> None:
    expected = _search(catalog, query_text="sunset", page_limit=2)
    mark = len(catalog.log())
    with catalog.config(fault_rate=0.5, fault_statuses=[429]):
        results = [_search(catalog, query_text="sunset", page_limit=2) for _ in range(3)]
    statuses = [s for _, p, s in catalog.requests_since(mark) if p.startswith("/search")]
    assert 429 in statuses
    assert all(r == expected for r in results)
