"""The shared field rules and the request model base: one behaviour per kind of field."""

from __future__ import annotations

import subprocess
import sys
from typing import Annotated, Any

import pytest

from airflow_provider_twelvelabs.requests.fields import (
    RequestModel,
    checked,
    choices,
    http_url,
    integer,
    number,
    one_of,
    optional_bool,
    optional_metadata,
    optional_str,
    resource_id,
    str_list,
)

OPTIONS = ("visual", "audio", "transcription")


# --------------------------------------------------------------------------- lists of choices


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("audio", ["audio"]),
        (["audio", "visual"], ["audio", "visual"]),
        (("visual", "audio", "visual", "audio"), ["visual", "audio"]),
    ],
)
def test_choices_take_one_string_drop_duplicates_and_keep_the_order(value: Any, expected: Any) -> None:
    assert choices("embedding_option", value, allowed=OPTIONS) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([], "embedding_option must name at least one of visual, audio, transcription"),
        (["visual", "smell"], r"embedding_option has unsupported value\(s\) \['smell'\]"),
        ([{"visual": 1}], "embedding_option has unsupported value"),
        ({"visual": True}, "embedding_option must be a list"),
        (3, "embedding_option must be a list"),
    ],
)
def test_bad_choices_name_the_parameter(value: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        choices("embedding_option", value, allowed=OPTIONS)


def test_required_choices_refuse_nothing() -> None:
    with pytest.raises(ValueError, match="types must name at least one of"):
        choices("types", None, allowed=OPTIONS, required=True)


def test_one_of_quotes_two_alternatives_and_lists_more() -> None:
    with pytest.raises(ValueError, match=r"method must be 'direct' or 'url', got 'ftp'"):
        one_of("method", "ftp", allowed=("direct", "url"))
    with pytest.raises(ValueError, match="file_type must be one of video, audio, image, got 'pdf'"):
        one_of("file_type", "pdf", allowed=("video", "audio", "image"))
    assert one_of("operator", None, allowed=("or", "and"), optional=True) is None


# --------------------------------------------------------------------------- strings, lists, URLs


def test_optional_strings_treat_an_empty_render_as_not_given() -> None:
    assert optional_str("url", None) is None
    assert optional_str("url", "") is None
    assert optional_str("url", "  https://x/a.mp4 ") == "https://x/a.mp4"
    with pytest.raises(ValueError, match="url must be a non-empty string"):
        optional_str("url", "   ")
    with pytest.raises(ValueError, match="filename must be at most 3 characters long, got 4"):
        optional_str("filename", "abcd", max_length=3)


def test_ids_refuse_blanks_and_slashes() -> None:
    assert resource_id("video_id", " 6a1 ") == "6a1"
    with pytest.raises(ValueError, match="video_id must be a non-empty string"):
        resource_id("video_id", "")
    with pytest.raises(ValueError, match=r"video_id must be a TwelveLabs id \(no '/'\)"):
        resource_id("video_id", "a/b")


def test_string_lists_take_one_string_and_treat_empty_as_none_given() -> None:
    assert str_list("query_media_url", None) == []
    assert str_list("query_media_url", []) == []
    assert str_list("query_media_url", "https://x/a.png") == ["https://x/a.png"]
    with pytest.raises(ValueError, match="addons must be a list of strings"):
        str_list("addons", ["thumbnail", ""])
    with pytest.raises(ValueError, match="addons must be a list of strings"):
        str_list("addons", {"thumbnail": True})


def test_urls_must_be_http_and_never_show_their_query() -> None:
    assert http_url("url", "https://media.test/v.mp4?sig=1") == "https://media.test/v.mp4?sig=1"
    with pytest.raises(ValueError, match="url must be an http:// or https:// URL") as info:
        http_url("url", "s3://bucket/v.mp4?X-Amz-Signature=secret")
    assert "secret" not in str(info.value)
    with pytest.raises(ValueError, match="video_url must be an http"):
        http_url("video_url", "https://")


# --------------------------------------------------------------------------- numbers, booleans


def test_numbers_read_rendered_strings_and_check_bounds() -> None:
    assert number("start_sec", "2.5", minimum=0) == 2.5
    assert integer("max_tokens", "12", minimum=1) == 12
    with pytest.raises(ValueError, match=r"temperature must be a number from 0 to 1, got 1\.5"):
        number("temperature", 1.5, minimum=0, maximum=1)
    with pytest.raises(ValueError, match="start_sec must be a number of at least 0"):
        number("start_sec", -1, minimum=0)
    with pytest.raises(ValueError, match="temperature must be a number"):
        number("temperature", True)
    with pytest.raises(ValueError, match=r"max_tokens must be an integer from 1 to 4096, got 12\.5"):
        integer("max_tokens", 12.5, minimum=1, maximum=4096)


def test_booleans_and_metadata() -> None:
    assert optional_bool("enable_hls", "True") is True
    with pytest.raises(ValueError, match="enable_hls must be a boolean"):
        optional_bool("enable_hls", "maybe")
    assert optional_metadata("user_metadata", {"a": 1}) == {"a": 1}
    with pytest.raises(ValueError, match="user_metadata keys must be strings"):
        optional_metadata("user_metadata", {1: "a"})


# --------------------------------------------------------------------------- the model base


class _Example(RequestModel):
    search_options: Annotated[list[str], checked(choices, allowed=OPTIONS, required=True)]
    page_limit: Annotated[int | None, checked(integer, minimum=1, maximum=50)] = None

    def to_body(self) -> dict[str, Any]:
        return self.model_dump()


def test_a_model_names_the_bad_parameter_in_a_short_value_error() -> None:
    with pytest.raises(ValueError) as info:
        _Example.build(search_options=["visual"], page_limit=51)
    assert str(info.value) == "page_limit must be an integer from 1 to 50, got 51"


def test_a_model_refuses_unknown_and_missing_parameters_by_name() -> None:
    with pytest.raises(ValueError, match=r"^page_size: Extra inputs are not permitted$"):
        _Example.build(search_options=["visual"], page_size=5)
    with pytest.raises(ValueError, match=r"^search_options: Field required$"):
        _Example.build()


def test_the_models_import_without_airflow() -> None:
    code = (
        "import sys\n"
        "import airflow_provider_twelvelabs.requests.analyze, airflow_provider_twelvelabs.requests.assets\n"
        "import airflow_provider_twelvelabs.requests.embed, airflow_provider_twelvelabs.requests.indexes\n"
        "import airflow_provider_twelvelabs.requests.search\n"
        "print(sorted(m for m in sys.modules if m == 'airflow' or m.startswith('airflow.')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
