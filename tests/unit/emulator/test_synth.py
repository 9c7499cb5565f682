from __future__ import annotations

import itertools
import json
import math
import re
from typing import Any

import jsonschema
import pytest

from airflow_provider_twelvelabs.testing.emulator import synth

# --------------------------------------------------------------------------------------------------
# Embedding vectors
# --------------------------------------------------------------------------------------------------


def test_vector_is_unit_norm_and_512_long() -> None:
    vec = synth.embedding_vector("marengo3.0", "text", "a dog")
    assert len(vec) == 512
    assert math.isclose(math.fsum(x * x for x in vec), 1.0, rel_tol=1e-9)


def test_same_input_same_vector_different_input_different_vector() -> None:
    a = synth.embedding_vector("marengo3.0", "text", "a dog")
    b = synth.embedding_vector("marengo3.0", "text", "a dog")
    c = synth.embedding_vector("marengo3.0", "text", "a cat")
    d = synth.embedding_vector("marengo3.0", "video", "u", "visual", 0.0, 6.0)
    e = synth.embedding_vector("marengo3.0", "video", "u", "audio", 0.0, 6.0)
    assert a == b
    assert a != c
    assert d != e
    # Unrelated random unit vectors in 512 dimensions are nearly orthogonal.
    assert abs(sum(x * y for x, y in zip(a, c, strict=True))) < 0.3


def test_float_seed_parts_are_precision_stable() -> None:
    assert synth.embedding_vector("m", 6, 12.0) != synth.embedding_vector("m", 6, 12.5)
    assert synth.embedding_vector("m", 6.0) == synth.embedding_vector("m", 6.0000001)


def test_matryoshka_prefix() -> None:
    full = synth.embedding_vector("marengo3.5", "x")
    short = synth.embedding_vector("marengo3.5", "x", dimension=256)
    assert short == full[:256]


def test_embedding_json_matches_vector() -> None:
    text = synth.embedding_json("marengo3.0", "k")
    parsed = json.loads(text)
    vec = synth.embedding_vector("marengo3.0", "k")
    assert len(parsed) == 512
    assert all(abs(p - v) <= 5e-7 for p, v in zip(parsed, vec, strict=True))
    assert math.isclose(math.fsum(x * x for x in parsed), 1.0, abs_tol=1e-4)
    assert len(json.loads(synth.embedding_json("k", dimension=128))) == 128


def test_embedding_json_renders_every_vector_of_a_four_hour_video() -> None:
    # ~2,400 six-second segments x 3 options; speed is measured in benchmarks/, not here.
    total = 0
    for i in range(2400 * 3):
        total += len(synth.embedding_json("marengo3.0", "long", i % 3, i))
    assert total > 7200 * 512 * 8


# --------------------------------------------------------------------------------------------------
# Durations and segmentation
# --------------------------------------------------------------------------------------------------


def test_media_duration_from_query_param_and_seeded() -> None:
    assert synth.media_duration("https://x.test/a.mp4?duration=14400") == 14400.0
    seeded = synth.media_duration("https://x.test/a.mp4")
    assert 30.0 <= seeded <= 180.0
    assert seeded == synth.media_duration("https://x.test/a.mp4")
    # An unparsable duration falls back to a seeded one.
    assert 30.0 <= synth.media_duration("https://x.test/a.mp4?duration=nope") <= 180.0
    assert synth.media_duration("https://x.test/i.jpg", kind="image") == 0.0


@pytest.mark.parametrize("length", [2, 5, 6, 10])
def test_fixed_segments_cover_span_with_short_tail(length: int) -> None:
    segs = synth.fixed_segments(0.0, 33.0, length)
    assert segs[0].start == 0.0
    assert segs[-1].end == 33.0
    for prev, nxt in itertools.pairwise(segs):
        assert prev.end == nxt.start
    assert all(math.isclose(s.length, length) for s in segs[:-1])
    assert 0 < segs[-1].length <= length


def test_fixed_segments_honour_offsets_and_drop_short_tail() -> None:
    segs = synth.fixed_segments(10.0, 23.0, 6)
    assert [(s.start, s.end) for s in segs] == [(10.0, 16.0), (16.0, 22.0), (22.0, 23.0)]
    v1 = synth.fixed_segments(10.0, 23.0, 6, drop_short_tail=2.0)
    assert [(s.start, s.end) for s in v1] == [(10.0, 16.0), (16.0, 22.0)]
    assert synth.fixed_segments(5.0, 5.0, 6) == []


@pytest.mark.parametrize("minimum", [2, 3, 4, 5])
def test_dynamic_segments_respect_minimum_and_are_deterministic(minimum: int) -> None:
    segs = synth.dynamic_segments(3.0, 301.0, minimum, "media-1")
    assert segs == synth.dynamic_segments(3.0, 301.0, minimum, "media-1")
    assert segs != synth.dynamic_segments(3.0, 301.0, minimum, "media-2")
    assert segs[0].start == 3.0
    assert segs[-1].end == 301.0
    assert all(s.length >= minimum - 1e-9 for s in segs)
    assert len({round(s.length, 2) for s in segs}) > 3  # scene cuts vary
    for prev, nxt in itertools.pairwise(segs):
        assert prev.end == nxt.start


def test_dynamic_segments_short_span() -> None:
    assert [(s.start, s.end) for s in synth.dynamic_segments(0.0, 3.0, 4, "m")] == [(0.0, 3.0)]


# --------------------------------------------------------------------------------------------------
# Text
# --------------------------------------------------------------------------------------------------


def test_chapters_cover_duration_in_order() -> None:
    chapters = synth.chapters(300.0, "v1")
    assert chapters[0]["start_sec"] == 0.0
    assert chapters[-1]["end_sec"] == 300.0
    assert [c["chapter_number"] for c in chapters] == list(range(len(chapters)))
    for c in chapters:
        assert 0 <= c["start_sec"] < c["end_sec"] <= 300.0
        assert isinstance(c["start"], int) and isinstance(c["end"], int)
        assert c["end"] <= 300
        assert c["chapter_title"] and c["chapter_summary"]


def test_highlights_inside_duration_non_overlapping() -> None:
    hl = synth.highlights(95.5, "v1")
    assert hl
    prev_end = 0.0
    for h in hl:
        assert prev_end <= h["start_sec"] < h["end_sec"] <= 95.5
        prev_end = h["end_sec"]


def test_gist_only_requested_parts() -> None:
    assert set(synth.gist(["title"], "v")) == {"title"}
    full = synth.gist(["title", "topic", "hashtag"], "v")
    assert full["topics"] and all(t.startswith("#") for t in full["hashtags"])
    assert full == synth.gist(["hashtag", "title", "topic"], "v")


def test_fragments_rebuild_text_and_are_not_word_aligned() -> None:
    text = synth.text_for_prompt("Describe the video", "v")
    frags = synth.split_fragments(text, "g")
    assert "".join(frags) == text
    assert len(frags) > 3
    assert any(f[-1].isalpha() and not f.endswith(" ") for f in frags[:-1])


def test_truncate_to_tokens() -> None:
    text = "One two, three four. Five"
    assert synth.count_tokens(text) == 7
    assert synth.truncate_to_tokens(text, 3) == "One two,"
    assert synth.truncate_to_tokens(text, 100) == text
    assert synth.truncate_to_tokens(text, 0) == ""


def test_generation_id_is_uuid() -> None:
    gid = synth.new_generation_id("x")
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", gid)


# --------------------------------------------------------------------------------------------------
# Search
# --------------------------------------------------------------------------------------------------


def test_search_clips_ranked_inside_durations() -> None:
    videos = [(f"v{i:02d}", 60.0 + i * 10) for i in range(12)]
    clips = synth.search_clips(videos, "dogs", ["visual", "audio"])
    assert [c.rank for c in clips] == list(range(1, len(clips) + 1))
    durations = dict(videos)
    assert all(0 <= c.start < c.end <= durations[c.video_id] for c in clips)
    assert clips == synth.search_clips(videos, "dogs", ["visual", "audio"])
    # Ranking, not thresholding: with "or" every video offers at least one clip.
    assert {c.video_id for c in clips} == set(durations)
    anded = synth.search_clips(videos, "dogs", ["visual", "audio"], operator="and")
    assert len(anded) < len(clips)
    assert {(c.video_id, c.start) for c in anded} <= {(c.video_id, c.start) for c in clips}


# --------------------------------------------------------------------------------------------------
# JSON Schema driven generation
# --------------------------------------------------------------------------------------------------

SCHEMAS: list[dict[str, Any] | bool] = [
    {"type": "object", "properties": {"title": {"type": "string"}, "summary": {"type": "string"}}},
    {
        "type": "object",
        "required": ["title", "keywords"],
        "properties": {
            "title": {"type": "string"},
            "keywords": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        },
    },
    {"type": "array", "items": {"type": "integer", "minimum": 3, "maximum": 7}, "minItems": 2, "maxItems": 5},
    {"type": "array", "items": {"enum": ["a", "b", "c", "d"]}, "minItems": 3, "uniqueItems": True},
    {"type": "string", "enum": ["positive", "neutral", "negative"]},
    {"const": 42},
    {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
    {"type": "number", "minimum": -5.5, "maximum": -5.5},
    {"type": "integer", "exclusiveMinimum": 10, "exclusiveMaximum": 12},
    {"type": "integer", "multipleOf": 5, "minimum": 1, "maximum": 30},
    {"type": "integer", "multipleOf": 1.5, "minimum": 1, "maximum": 30},
    {"type": "number", "multipleOf": 0.1, "minimum": 0.05, "maximum": 1},
    {"type": "number", "multipleOf": 0.25},
    {"type": "boolean"},
    {"type": "null"},
    {"type": ["string", "null"]},
    {"type": "string", "minLength": 40, "maxLength": 45},
    {"type": "string", "maxLength": 3},
    {"type": "string", "format": "date-time"},
    {"type": "string", "format": "date"},
    {"type": "string", "format": "uuid"},
    {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{2,4}$"},
    {"type": "string", "pattern": r"^(cat|dog|bird)s?\d+$"},
    {"type": "string", "pattern": r"^[^\s@]+@[a-z]+\.(com|org)$"},
    {"type": "string", "pattern": "^#[0-9a-fA-F]{6}$"},
    {
        "$defs": {
            "scene": {
                "type": "object",
                "required": ["start_time", "end_time", "label"],
                "properties": {
                    "start_time": {"type": "number"},
                    "end_time": {"type": "number"},
                    "label": {"$ref": "#/$defs/label"},
                },
            },
            "label": {"type": "string", "enum": ["intro", "body", "outro"]},
        },
        "type": "object",
        "properties": {"scenes": {"type": "array", "items": {"$ref": "#/$defs/scene"}, "minItems": 1}},
        "required": ["scenes"],
    },
    {
        "definitions": {"person": {"type": "object", "properties": {"name": {"type": "string"}}}},
        "type": "array",
        "items": {"$ref": "#/definitions/person"},
    },
    {"anyOf": [{"type": "string"}, {"type": "integer", "minimum": 0}]},
    {"oneOf": [{"type": "string", "maxLength": 2}, {"type": "object", "required": ["x"]}]},
    {
        "allOf": [
            {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]},
            {"properties": {"b": {"type": "boolean"}}, "required": ["b"]},
        ]
    },
    {
        "type": "object",
        "properties": {
            "level1": {
                "type": "object",
                "properties": {
                    "level2": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "level3": {"type": "array", "items": {"type": "number", "minimum": 100}},
                                "flag": {"type": "boolean"},
                            },
                            "required": ["level3"],
                        },
                    }
                },
            }
        },
    },
    {"type": "object", "additionalProperties": False, "properties": {"only": {"type": "string"}}},
    {"type": "object", "minProperties": 2, "additionalProperties": {"type": "integer"}},
    {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}], "items": False},
    {"properties": {"untyped": {}}, "required": ["untyped", "implicit"]},
    {"type": "object", "properties": {"t": {"type": "string", "format": "time"}}},
    True,
]


@pytest.mark.parametrize("schema", SCHEMAS, ids=[str(i) for i in range(len(SCHEMAS))])
@pytest.mark.parametrize("seed", range(8))
def test_generated_json_validates(schema: dict, seed: int) -> None:
    value = synth.generate_from_schema(schema, "video", seed, duration=120.0)
    checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
    jsonschema.Draft202012Validator(schema, format_checker=checker).validate(value)
    json.dumps(value)  # must be serialisable as-is


def test_reserved_time_properties_stay_inside_duration() -> None:
    schema = next(s for s in SCHEMAS if isinstance(s, dict) and "$defs" in s)
    for seed in range(20):
        value = synth.generate_from_schema(schema, seed, duration=42.0)
        for scene in value["scenes"]:
            assert 0 <= scene["start_time"] <= 42.0
            assert 0 <= scene["end_time"] <= 42.0


def test_timestamp_type_formats() -> None:
    schema = {
        "type": "object",
        "properties": {
            "a": {"type": "timestamp", "format": "seconds"},
            "b": {"type": "timestamp", "format": "hh:mm:ss"},
            "c": {"type": "timestamp", "format": "hh:mm:ss.fff"},
        },
    }
    value = synth.generate_from_schema(schema, "x", duration=4000.0)
    assert isinstance(value["a"], float) and 0 <= value["a"] <= 4000
    assert re.fullmatch(r"\d{2}:\d{2}:\d{2}", value["b"])
    assert re.fullmatch(r"\d{2}:\d{2}:\d{2}\.\d{3}", value["c"])


def test_generation_is_deterministic_and_varies_with_key() -> None:
    schema = SCHEMAS[1]
    assert synth.generate_from_schema(schema, "a") == synth.generate_from_schema(schema, "a")
    first = synth.generate_from_schema(schema, "a")
    assert any(first != synth.generate_from_schema(schema, k) for k in "bcd")


@pytest.mark.parametrize(
    "schema",
    [
        {"$ref": "#/$defs/missing"},
        {"$ref": "https://example.com/remote.json"},
        {"type": "mystery"},
        False,
        {"type": "string", "pattern": "(unclosed"},
        {"type": "integer", "minimum": 5, "maximum": 4, "multipleOf": 3},
        {"$defs": {"n": {"type": "object", "properties": {"c": {"$ref": "#/$defs/n"}}}}, "$ref": "#/$defs/n"},
    ],
)
def test_impossible_schemas_raise(schema: dict) -> None:
    with pytest.raises(synth.SchemaGenerationError):
        synth.generate_from_schema(schema, "x")
