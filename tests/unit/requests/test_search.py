"""The search request model, checked and built without Airflow."""

from __future__ import annotations

import pytest

from airflow_provider_twelvelabs.requests.search import SearchOptions, SearchRequest

INDEX = "639961c9e219c90227c371a2"


def test_a_composed_query_builds_the_search_arguments() -> None:
    request = SearchRequest.build(
        index_id=INDEX,
        query_text=" a dog ",
        query_media_url="https://media.test/dog.png",
        search_options=["visual", "transcription", "visual"],
        transcription_options="semantic",
        filter='{"duration": {"gte": 10}}',
        page_limit="20",
    )
    assert request.kind == "composed"
    assert request.to_body() == {
        "index_id": INDEX,
        "query_text": "a dog",
        "query_media_type": "image",
        "query_media_url": ["https://media.test/dog.png"],
        "filter": {"duration": {"gte": 10}},
        "search_options": ["visual", "transcription"],
        "transcription_options": ["semantic"],
        "group_by": "clip",
        "operator": None,
        "page_limit": 20,
        "include_user_metadata": None,
    }


def test_query_files_count_towards_the_image_limit_but_are_left_to_the_operator() -> None:
    request = SearchRequest.build(index_id=INDEX, query_media_file="/x/q.png", search_options=["visual"])
    assert request.kind == "image"
    assert request.query_media_file == ["/x/q.png"]
    assert request.to_body()["query_media_url"] is None
    with pytest.raises(ValueError, match="at most 10 query images"):
        SearchRequest.build(
            index_id=INDEX,
            query_media_file=[f"/x/{i}.png" for i in range(6)],
            query_media_url=[f"https://media.test/{i}.png" for i in range(5)],
            search_options=["visual"],
        )


def test_search_options_alone() -> None:
    with pytest.raises(ValueError, match="transcription_options applies only"):
        SearchOptions.build(search_options=["visual"], transcription_options=["lexical"])
    with pytest.raises(ValueError, match="operator must be 'or' or 'and', got 'xor'"):
        SearchOptions.build(search_options=["visual"], operator="xor")
    with pytest.raises(ValueError, match="max_results must be an integer from 1 to 10000"):
        SearchOptions.build(search_options=["visual"], max_results=0)
