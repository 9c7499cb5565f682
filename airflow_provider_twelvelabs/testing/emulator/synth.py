"""Deterministic synthetic content for the emulator's compute endpoints.

Everything here is a pure function of its inputs: the same request always produces the same vectors,
segments, texts and search hits, so tests can assert on them and benchmarks are reproducible. Nothing
here knows about HTTP; the route modules turn these values into API responses.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib
import itertools
import json
import math
import random
import re
import uuid
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

# The regex parser is re._parser on Python 3.11+ and sre_parse before; neither is typed.
try:
    _sre_parse: Any = importlib.import_module("re._parser")
except ImportError:  # pragma: no cover - Python 3.10 only
    _sre_parse = importlib.import_module("sre_parse")

__all__ = [
    "DEFAULT_DIMENSION",
    "SchemaGenerationError",
    "SearchClip",
    "Segment",
    "chapters",
    "count_tokens",
    "dynamic_segments",
    "embedding_json",
    "embedding_vector",
    "fixed_segments",
    "generate_from_schema",
    "gist",
    "highlights",
    "media_duration",
    "new_generation_id",
    "rng_for",
    "search_clips",
    "seed_of",
    "split_fragments",
    "summary_text",
    "text_for_prompt",
    "truncate_to_tokens",
]

#: Length of a Marengo 3.0 vector; Marengo 3.5 returns prefixes of a vector this long.
DEFAULT_DIMENSION = 512

# One format string per dimension, so that a whole vector is rendered by one C-level `%` operation.
# Six decimals keep the norm within 1e-5 of 1 and the JSON for a 4-hour video near 35 MB.
_FORMATS: dict[int, str] = {}


def seed_of(*parts: object) -> int:
    """Return a stable 64-bit seed for a tuple of values.

    :param parts: values that identify the content (model, input, option, segment bounds...).
    """
    text = "\x1f".join(_seed_text(p) for p in parts)
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "big")


def _seed_text(part: object) -> str:
    # Floats are rendered with fixed precision so that 6 and 6.0 seed the same content.
    if isinstance(part, float):
        return f"{part:.3f}"
    return str(part)


def rng_for(*parts: object) -> random.Random:
    """Return a `random.Random` seeded by the given values.

    :param parts: values that identify the content.
    """
    return random.Random(seed_of(*parts))  # noqa: S311 - synthetic content, not security


# --------------------------------------------------------------------------------------------------
# Embedding vectors
# --------------------------------------------------------------------------------------------------


def embedding_vector(*key: object, dimension: int = DEFAULT_DIMENSION) -> list[float]:
    """Return a deterministic embedding for `key`.

    The full 512-value vector is unit-normalised; a smaller `dimension` returns its leading values
    (Marengo 3.5 "Matryoshka" prefixes are slices of the full vector, not re-normalised).

    :param key: values identifying the content (for example model, input, option, start, end).
    :param dimension: number of leading values to return, 1 to 512.
    """
    rng = rng_for("embedding", *key)
    # randbytes runs in C; 16-bit integers give enough resolution for 6-decimal output.
    raw = array("h", rng.randbytes(2 * DEFAULT_DIMENSION))
    norm = math.sqrt(math.fsum(x * x for x in raw)) or 1.0
    scale = 1.0 / norm
    return [x * scale for x in raw[:dimension]]


def embedding_json(*key: object, dimension: int = DEFAULT_DIMENSION) -> str:
    """Return the JSON array text of `embedding_vector(*key)`.

    Rendering through one `%` format per vector is about three times faster than `json.dumps` on
    rounded floats, which matters for multi-hour videos with thousands of segments.

    :param key: values identifying the content.
    :param dimension: number of leading values to return, 1 to 512.
    """
    fmt = _FORMATS.get(dimension)
    if fmt is None:
        fmt = _FORMATS[dimension] = "[" + ",".join(["%.6f"] * dimension) + "]"
    return fmt % tuple(embedding_vector(*key, dimension=dimension))


# --------------------------------------------------------------------------------------------------
# Media durations and segmentation
# --------------------------------------------------------------------------------------------------


def media_duration(source: str, *, kind: str = "video") -> float:
    """Return the simulated duration in seconds of media given by URL, filename or content digest.

    A URL may state its duration with a `duration` query parameter (`https://x/a.mp4?duration=14400`
    for a 4-hour video). Otherwise the duration is derived from the source: 30-180 s for video and
    audio, so that synchronous embedding limits are not hit by accident.

    :param source: a URL, a filename, or a digest of uploaded bytes.
    :param kind: `video`, `audio` or `image` (images have no duration: 0).
    """
    if kind == "image":
        return 0.0
    try:
        values = parse_qs(urlsplit(source).query).get("duration")
    except ValueError:
        values = None
    if values:
        try:
            value = float(values[0])
        except ValueError:
            value = -1.0
        if value > 0 and math.isfinite(value):
            return round(value, 3)
    rng = rng_for("duration", kind, source)
    return round(rng.uniform(30.0, 180.0), 3)


@dataclass(frozen=True)
class Segment:
    """One time segment of a media file, in seconds from its start.

    :param start: start time in seconds.
    :param end: end time in seconds.
    """

    start: float
    end: float

    @property
    def length(self) -> float:
        """Segment length in seconds."""
        return self.end - self.start


def fixed_segments(
    start: float, end: float, duration_sec: float, *, drop_short_tail: float = 0.0
) -> list[Segment]:
    """Cut `[start, end)` into segments of `duration_sec`, the last one possibly shorter.

    :param start: first second to cover.
    :param end: last second to cover; must be greater than `start`.
    :param duration_sec: segment length, 2 to 10 seconds on the real API.
    :param drop_short_tail: drop a final segment shorter than this (Embed v1 drops tails under 2 s),
        unless it is the only segment.
    """
    if end <= start or duration_sec <= 0:
        return []
    count = max(1, math.ceil((end - start) / duration_sec - 1e-9))
    out: list[Segment] = []
    for i in range(count):
        seg_start = start + i * duration_sec
        seg_end = min(end, seg_start + duration_sec)
        if seg_end - seg_start <= 1e-9:
            continue
        out.append(Segment(round(seg_start, 3), round(seg_end, 3)))
    if len(out) > 1 and out[-1].length < drop_short_tail:
        out.pop()
    return out


def dynamic_segments(start: float, end: float, min_duration_sec: float, *key: object) -> list[Segment]:
    """Cut `[start, end)` at deterministic pseudo scene changes, each segment at least the minimum.

    Only a span shorter than the minimum yields a (single) shorter segment.

    :param start: first second to cover.
    :param end: last second to cover; must be greater than `start`.
    :param min_duration_sec: minimum segment length, 2 to 5 seconds on the real API.
    :param key: values identifying the media, so that the same media gets the same scene cuts.
    """
    if end <= start:
        return []
    rng = rng_for("scenes", min_duration_sec, *key)
    out: list[Segment] = []
    cursor = start
    while end - cursor >= 2 * min_duration_sec:
        # Scenes run from the minimum to about 2.5 times it, with two-decimal cut points.
        length = round(min_duration_sec + rng.random() * 1.5 * min_duration_sec, 2)
        cut = min(cursor + length, end - min_duration_sec)
        out.append(Segment(round(cursor, 3), round(cut, 3)))
        cursor = cut
    out.append(Segment(round(cursor, 3), round(end, 3)))
    return out


# --------------------------------------------------------------------------------------------------
# Text generation
# --------------------------------------------------------------------------------------------------

_SUBJECTS = [
    "a presenter",
    "a small crowd",
    "a hiker",
    "a chef",
    "a cyclist",
    "a reporter",
    "a family",
    "a street musician",
    "a dog",
    "a drone shot",
    "a teacher",
    "a group of friends",
    "an engineer",
    "a referee",
    "a news anchor",
    "a customer",
    "a gardener",
    "a skateboarder",
]
_ACTIONS = [
    "walks along",
    "talks about",
    "demonstrates",
    "points at",
    "laughs near",
    "prepares",
    "explains",
    "crosses",
    "films",
    "reviews",
    "assembles",
    "celebrates beside",
    "inspects",
    "runs through",
    "describes",
    "opens",
]
_OBJECTS = [
    "a busy street",
    "the city skyline",
    "a wooden table",
    "a mountain trail",
    "a market stall",
    "a whiteboard",
    "a stadium",
    "a kitchen counter",
    "a quiet beach",
    "a bicycle",
    "a product box",
    "a laptop screen",
    "a river bank",
    "a crowded mall",
    "a garden bed",
    "a concert stage",
]
_DETAILS = [
    "while upbeat music plays",
    "as the camera pans slowly",
    "under warm evening light",
    "with captions on screen",
    "in a single continuous take",
    "while traffic passes behind",
    "as the audience applauds",
    "with a close-up of the hands",
    "before cutting to a wide shot",
    "while a narrator speaks",
    "in slow motion",
    "as rain starts to fall",
]
_TOPICS = [
    "Travel",
    "Cooking",
    "Sports",
    "Technology",
    "Education",
    "News",
    "Music",
    "Outdoor Adventure",
    "Product Review",
    "Lifestyle",
    "Nature",
    "Urban Life",
    "Fitness",
    "Shopping",
    "Family",
]
_TITLE_WORDS = [
    "Journey",
    "Moments",
    "Inside",
    "Behind the Scenes",
    "A Day",
    "Highlights",
    "Discovering",
    "The Art of",
    "Stories",
    "Exploring",
    "Everyday",
    "Unplugged",
]

_TOKEN_RE = re.compile(r"\w+|[^\w\s]")


def _sentence(rng: random.Random) -> str:
    text = f"{rng.choice(_SUBJECTS)} {rng.choice(_ACTIONS)} {rng.choice(_OBJECTS)} {rng.choice(_DETAILS)}."
    return text[0].upper() + text[1:]


def _sentences(rng: random.Random, count: int) -> str:
    return " ".join(_sentence(rng) for _ in range(count))


def count_tokens(text: str) -> int:
    """Return the emulator's token count for `text`: words and punctuation marks.

    :param text: any text.
    """
    return len(_TOKEN_RE.findall(text))


def truncate_to_tokens(text: str, max_tokens: int) -> str:
    """Return the prefix of `text` holding at most `max_tokens` tokens (see `count_tokens`).

    :param text: any text.
    :param max_tokens: token budget, at least 0.
    """
    if max_tokens <= 0:
        return ""
    for i, match in enumerate(_TOKEN_RE.finditer(text)):
        if i == max_tokens:
            return text[: match.start()].rstrip()
    return text


def split_fragments(text: str, *key: object) -> list[str]:
    """Split `text` into stream fragments of 3-17 characters, deliberately not aligned to words.

    :param text: the full generated text.
    :param key: values seeding the cut points.
    """
    rng = rng_for("fragments", *key)
    out: list[str] = []
    i = 0
    while i < len(text):
        step = rng.randint(3, 17)
        out.append(text[i : i + step])
        i += step
    return out


def new_generation_id(*key: object) -> str:
    """Return a UUID-shaped generation id derived from `key`.

    :param key: values identifying the request.
    """
    return str(uuid.UUID(int=rng_for("generation", *key).getrandbits(128), version=4))


def text_for_prompt(prompt: str, *key: object) -> str:
    """Return a deterministic multi-paragraph answer for an open-ended analyze prompt.

    :param prompt: the user's prompt; it seeds the text and its first words are echoed.
    :param key: values identifying the media.
    """
    rng = rng_for("analyze", prompt, *key)
    focus = " ".join(prompt.split()[:8]).rstrip(".?!:")
    paragraphs = [f"Regarding “{focus}”: {_sentences(rng, rng.randint(2, 3))}"] if focus else []
    for _ in range(rng.randint(1, 3)):
        paragraphs.append(_sentences(rng, rng.randint(2, 4)))
    return "\n\n".join(paragraphs)


def summary_text(*key: object) -> str:
    """Return a deterministic video summary.

    :param key: values identifying the media and the prompt.
    """
    rng = rng_for("summary", *key)
    return _sentences(rng, rng.randint(3, 6))


def _partition(duration: float, count: int, rng: random.Random) -> list[tuple[float, float]]:
    """Split `[0, duration]` into `count` contiguous spans of varying length."""
    weights = [0.6 + rng.random() for _ in range(count)]
    total = sum(weights)
    bounds = [0.0]
    for w in weights:
        bounds.append(bounds[-1] + duration * w / total)
    bounds[-1] = duration
    return [(round(a, 2), round(b, 2)) for a, b in itertools.pairwise(bounds)]


def chapters(duration: float, *key: object) -> list[dict[str, Any]]:
    """Return contiguous chapters covering `[0, duration]`, one per minute or so (1 to 8).

    :param duration: media duration in seconds.
    :param key: values identifying the media and the prompt.
    """
    rng = rng_for("chapters", *key)
    count = max(1, min(8, round(duration / 60.0) or 1))
    out = []
    for number, (start, end) in enumerate(_partition(max(duration, 0.01), count, rng)):
        out.append(
            {
                "chapter_number": number,
                "start": int(start),
                "end": math.ceil(end) if end < duration else int(duration),
                "start_sec": start,
                "end_sec": end,
                "chapter_title": _title(rng),
                "chapter_summary": _sentences(rng, 2),
            }
        )
    return out


def highlights(duration: float, *key: object) -> list[dict[str, Any]]:
    """Return 1-5 non-overlapping highlights inside `[0, duration]`, in chronological order.

    :param duration: media duration in seconds.
    :param key: values identifying the media and the prompt.
    """
    rng = rng_for("highlights", *key)
    count = max(1, min(5, int(duration // 30) or 1))
    out = []
    for start, end in _partition(max(duration, 0.01), count, rng):
        span = end - start
        # A highlight is the most interesting part of its span: 30-90 % of it, 30 s at most.
        length = min(30.0, span * (0.3 + 0.6 * rng.random()))
        offset = (span - length) * rng.random()
        h_start = round(start + offset, 2)
        h_end = round(min(end, h_start + length), 2)
        out.append(
            {
                "start": int(h_start),
                "end": int(h_end),
                "start_sec": h_start,
                "end_sec": h_end,
                "highlight": _sentence(rng).rstrip("."),
                "highlight_summary": _sentences(rng, 2),
            }
        )
    return out


def _title(rng: random.Random) -> str:
    return f"{rng.choice(_TITLE_WORDS)} {rng.choice(_TOPICS)}".replace("  ", " ")


def gist(types: Iterable[str], *key: object) -> dict[str, Any]:
    """Return the requested parts of a gist: `title`, `topics` and/or `hashtags`.

    :param types: any of `title`, `topic`, `hashtag`.
    :param key: values identifying the media.
    """
    rng = rng_for("gist", *key)
    wanted = set(types)
    topics = rng.sample(_TOPICS, k=rng.randint(1, 3))
    out: dict[str, Any] = {}
    if "title" in wanted:
        out["title"] = f"{rng.choice(_TITLE_WORDS)}: {' & '.join(topics)}"
    if "topic" in wanted:
        out["topics"] = topics
    if "hashtag" in wanted:
        tags = [*topics, *rng.sample(_TOPICS, k=rng.randint(2, 4))]
        out["hashtags"] = list(dict.fromkeys("#" + t.replace(" ", "") for t in tags))
    return out


# --------------------------------------------------------------------------------------------------
# Search
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchClip:
    """One matching clip of one video; `rank` 1 is the most relevant over the whole result set.

    :param video_id: the matching video.
    :param start: clip start in seconds.
    :param end: clip end in seconds.
    :param rank: relevance rank, 1-based, unique over the result set.
    :param transcription: the words spoken in the clip.
    """

    video_id: str
    start: float
    end: float
    rank: int
    transcription: str


def search_clips(
    videos: Sequence[tuple[str, float]], query_key: str, options: Sequence[str], operator: str = "or"
) -> list[SearchClip]:
    """Return the clips matching a query, sorted by rank.

    Each video offers 1-6 candidate clips depending on the query; `or` keeps them all, `and` only
    those every option matches, so it never returns more clips than `or`.

    :param videos: `(video_id, duration)` of each searchable video.
    :param query_key: a string identifying the query (text, media digest...).
    :param options: the search options (`visual`, `audio`, `transcription`).
    :param operator: `or` or `and`.
    """
    scored: list[tuple[float, str, float, float, str]] = []
    for video_id, duration in videos:
        if duration <= 0:
            continue
        rng = rng_for("search", query_key, video_id)
        # Marengo 3.0 ranks rather than thresholds, so every video offers a few candidate clips;
        # each clip matches every option with probability 0.7 and at least one option always.
        candidates = rng.randint(1, 6)
        for _ in range(candidates):
            length = min(duration, 2.0 + rng.random() * 12.0)
            start = round(rng.random() * max(duration - length, 0.0), 2)
            end = round(min(duration, start + length), 2)
            matched = [o for o in options if rng.random() < 0.7] or list(options[:1])
            keep = len(matched) == len(options) if operator == "and" else bool(matched)
            # Draw everything before deciding, so both operators see the same candidate clips.
            score = rng.random()
            words = _sentence(rng)
            if keep and end > start:
                scored.append((score, video_id, start, end, words))
    scored.sort(key=lambda t: (-t[0], t[1], t[2]))
    return [
        SearchClip(video_id=v, start=s, end=e, rank=i + 1, transcription=tr)
        for i, (_, v, s, e, tr) in enumerate(scored)
    ]


# --------------------------------------------------------------------------------------------------
# JSON from a JSON Schema
# --------------------------------------------------------------------------------------------------


class SchemaGenerationError(ValueError):
    """Raised when no value can be generated for a schema (for example an unresolvable `$ref`)."""


_WORDS = [w.strip(".,") for s in _SUBJECTS + _OBJECTS for w in s.split() if len(w) > 2]
_MAX_DEPTH = 12


def generate_from_schema(schema: dict[str, Any] | bool, *key: object, duration: float = 60.0) -> Any:
    """Return a value that validates against `schema` (JSON Schema draft 2020-12 subset).

    Supports `type` (including lists and TwelveLabs' `timestamp`), `const`, `enum`, objects with
    `properties`/`required`/`additionalProperties`/`minProperties`, arrays with `items`,
    `prefixItems`, `minItems`/`maxItems`/`uniqueItems`, strings with `minLength`/`maxLength`,
    `pattern` and common `format`s, numbers and integers with inclusive/exclusive bounds and
    `multipleOf`, `$ref` into `$defs`/`definitions`, `anyOf`/`oneOf`/`allOf`. Properties named
    `start_time`/`end_time` get times inside `duration`, as Pegasus fills them from the video.

    :param schema: the JSON Schema.
    :param key: values seeding the generated content.
    :param duration: media duration in seconds, bounding generated times.
    """
    gen = _SchemaGenerator(schema, rng_for("schema", *key), duration)
    return gen.value(schema, "", 0)


class _SchemaGenerator:
    def __init__(self, root: dict[str, Any] | bool, rng: random.Random, duration: float) -> None:
        self.root = root
        self.rng = rng
        self.duration = max(duration, 1.0)

    # ---- dispatch ----------------------------------------------------------------------------

    def value(self, schema: dict[str, Any] | bool, name: str, depth: int) -> Any:
        if depth > _MAX_DEPTH:
            raise SchemaGenerationError("schema nests too deeply (recursive $ref?)")
        if schema is True or schema == {}:
            return self._words(2)
        if schema is False:
            raise SchemaGenerationError(f"no value satisfies a false schema at {name or 'root'}")
        if not isinstance(schema, dict):
            raise SchemaGenerationError("a schema must be an object or a boolean")
        if "$ref" in schema:
            merged = {**self._resolve(schema["$ref"]), **{k: v for k, v in schema.items() if k != "$ref"}}
            return self.value(merged, name, depth + 1)
        if "allOf" in schema:
            return self.value(self._merge_all(schema), name, depth + 1)
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            return self.rng.choice(list(schema["enum"]))
        for combinator in ("anyOf", "oneOf"):
            if combinator in schema:
                branches = [b for b in schema[combinator] if not _is_null_schema(b)] or schema[combinator]
                base = {k: v for k, v in schema.items() if k != combinator}
                branch = branches[0] if combinator == "oneOf" else self.rng.choice(branches)
                if isinstance(branch, dict):
                    return self.value({**base, **branch}, name, depth + 1)
                return self.value(branch, name, depth + 1)
        kind = self._type_of(schema)
        handler = getattr(self, f"_gen_{kind}", None)
        if handler is None:
            raise SchemaGenerationError(f"unsupported type {kind!r} at {name or 'root'}")
        return handler(schema, name, depth)

    def _type_of(self, schema: dict[str, Any]) -> str:
        kind = schema.get("type")
        if isinstance(kind, list):
            non_null = [k for k in kind if k != "null"]
            return str(non_null[0] if non_null else "null")
        if isinstance(kind, str):
            return kind
        if "properties" in schema or "required" in schema or "additionalProperties" in schema:
            return "object"
        if "items" in schema or "prefixItems" in schema:
            return "array"
        if any(k in schema for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")):
            return "number"
        return "string"

    def _resolve(self, ref: str) -> dict[str, Any]:
        if not ref.startswith("#"):
            raise SchemaGenerationError(f"only local $ref values are supported, got {ref!r}")
        node: Any = self.root
        for raw in ref[1:].split("/")[1:] if ref != "#" else []:
            part = raw.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, dict) or part not in node:
                raise SchemaGenerationError(f"$ref {ref!r} does not resolve")
            node = node[part]
        if not isinstance(node, dict):
            raise SchemaGenerationError(f"$ref {ref!r} does not point at a schema object")
        return node

    def _merge_all(self, schema: dict[str, Any]) -> dict[str, Any]:
        merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
        for part in schema["allOf"]:
            while isinstance(part, dict) and "$ref" in part:
                part = {**self._resolve(part["$ref"]), **{k: v for k, v in part.items() if k != "$ref"}}
            if not isinstance(part, dict):
                continue
            for k, v in part.items():
                if k == "properties":
                    merged["properties"] = {**merged.get("properties", {}), **v}
                elif k == "required":
                    merged["required"] = list(dict.fromkeys([*merged.get("required", []), *v]))
                elif k in ("minimum", "exclusiveMinimum", "minItems", "minLength"):
                    merged[k] = max(merged.get(k, v), v)
                elif k in ("maximum", "exclusiveMaximum", "maxItems", "maxLength"):
                    merged[k] = min(merged.get(k, v), v)
                else:
                    merged.setdefault(k, v)
        return merged

    # ---- scalar types --------------------------------------------------------------------------

    def _gen_null(self, schema: dict[str, Any], name: str, depth: int) -> None:
        return None

    def _gen_boolean(self, schema: dict[str, Any], name: str, depth: int) -> bool:
        return self.rng.random() < 0.5

    def _gen_timestamp(self, schema: dict[str, Any], name: str, depth: int) -> Any:
        seconds = self._time_value(name)
        fmt = schema.get("format", "seconds")
        if fmt == "seconds":
            return seconds
        whole = round(seconds) if fmt == "hh:mm:ss" else int(seconds)
        text = f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"
        if fmt == "hh:mm:ss.fff":
            text += f".{round((seconds - int(seconds)) * 1000) % 1000:03d}"
        return text

    def _time_value(self, name: str) -> float:
        # start_time draws from the first 80 % of the media, end_time from the last part, so that a
        # generated (start_time, end_time) pair is usually ordered; both stay inside the duration.
        if name == "end_time":
            return round(self.duration * (0.5 + 0.5 * self.rng.random()), 2)
        return round(self.duration * 0.5 * self.rng.random(), 2)

    def _gen_integer(self, schema: dict[str, Any], name: str, depth: int) -> int:
        low, high = _int_bounds(schema)
        if name in ("start_time", "end_time"):
            guess = round(self._time_value(name))
        else:
            span_low = low if low is not None else (0 if high is None or high >= 0 else high - 100)
            span_high = high if high is not None else span_low + 100
            guess = self.rng.randint(span_low, max(span_low, span_high))
        if low is not None:
            guess = max(guess, low)
        if high is not None:
            guess = min(guess, high)
        step = schema.get("multipleOf")
        if isinstance(step, int | float) and not isinstance(step, bool) and step > 0:
            # An integer multiple of a fractional step must also be a whole number: use the
            # smallest whole multiple of the step as the effective step.
            whole = step if isinstance(step, int) else _whole_multiple(step)
            low_f = float(low) if low is not None else None
            high_f = float(high) if high is not None else None
            return int(_multiple_in(whole, low_f, False, high_f, False, self.rng))
        return int(guess)

    def _gen_number(self, schema: dict[str, Any], name: str, depth: int) -> float | int:
        low, low_exclusive, high, high_exclusive = _num_bounds(schema)
        step = schema.get("multipleOf")
        if isinstance(step, int | float) and not isinstance(step, bool) and step > 0:
            return _multiple_in(step, low, low_exclusive, high, high_exclusive, self.rng)
        if name in ("start_time", "end_time") and high is None:
            value: float = self._time_value(name)
        else:
            lo_v = low if low is not None else (high - 100.0 if high is not None else 0.0)
            hi_v = high if high is not None else lo_v + 100.0
            value = round(lo_v + (hi_v - lo_v) * (0.05 + 0.9 * self.rng.random()), 4)
        if low is not None and (value < low or (low_exclusive and value <= low)):
            value = math.nextafter(low, math.inf) if low_exclusive else low
        if high is not None and (value > high or (high_exclusive and value >= high)):
            value = math.nextafter(high, -math.inf) if high_exclusive else high
        return value

    def _gen_string(self, schema: dict[str, Any], name: str, depth: int) -> str:
        min_len = int(schema.get("minLength", 0))
        max_len = schema.get("maxLength")
        fmt = schema.get("format")
        if "pattern" in schema:
            text = _string_for_pattern(str(schema["pattern"]), self.rng, min_len, max_len)
        elif fmt is not None and fmt in _FORMAT_MAKERS:
            text = _FORMAT_MAKERS[fmt](self.rng)
        elif name in ("start_time", "end_time"):
            text = self._gen_timestamp({"format": "hh:mm:ss.fff"}, name, depth)
        else:
            text = self._words(self.rng.randint(2, 6))
            if min_len > len(text):
                text = (text + " " + self._words(min_len)).strip()
        if max_len is not None and len(text) > int(max_len):
            text = text[: int(max_len)].rstrip() or text[: int(max_len)]
        if len(text) < min_len:
            text = text + "x" * (min_len - len(text))
        return text

    def _words(self, count: int) -> str:
        return " ".join(self.rng.choice(_WORDS) for _ in range(count)).capitalize()

    # ---- containers ----------------------------------------------------------------------------

    def _gen_object(self, schema: dict[str, Any], name: str, depth: int) -> dict[str, Any]:
        props: dict[str, Any] = schema.get("properties", {}) or {}
        required = list(schema.get("required", []) or [])
        out: dict[str, Any] = {}
        # Pegasus fills every declared property, in declaration order; required ones come first
        # only if the first declared property is optional (a documented platform rule).
        for prop in [*required, *props]:
            if prop in out:
                continue
            out[prop] = self.value(props.get(prop, True), prop, depth + 1)
        extra = schema.get("additionalProperties", True)
        wanted = int(schema.get("minProperties", 0))
        index = 0
        while len(out) < wanted and extra is not False:
            index += 1
            out[f"extra_{index}"] = self.value(extra if isinstance(extra, dict) else True, "", depth + 1)
        return out

    def _gen_array(self, schema: dict[str, Any], name: str, depth: int) -> list[Any]:
        prefix: list[Any] = list(schema.get("prefixItems", []) or [])
        items = schema.get("items", True)
        min_items = int(schema.get("minItems", 0))
        max_items = schema.get("maxItems")
        low = max(min_items, 1) if max_items is None or int(max_items) >= 1 else 0
        high = int(max_items) if max_items is not None else max(low, 4)
        if items is False:
            high = min(high, len(prefix))
        count = self.rng.randint(min(low, high), max(min(low, high), high))
        out: list[Any] = []
        unique = bool(schema.get("uniqueItems"))
        seen: set[str] = set()
        attempts = 0
        while len(out) < count and attempts < count * 20 + 20:
            attempts += 1
            position = len(out)
            item_schema = prefix[position] if position < len(prefix) else items
            value = self.value(item_schema, name, depth + 1)
            if unique:
                fingerprint = json.dumps(value, sort_keys=True)
                if fingerprint in seen:
                    continue
                seen.add(fingerprint)
            out.append(value)
        if len(out) < min_items:
            raise SchemaGenerationError(f"cannot generate {min_items} distinct items for {name or 'root'}")
        return out


def _is_null_schema(schema: Any) -> bool:
    return isinstance(schema, dict) and schema.get("type") == "null"


def _num(value: Any) -> float | None:
    # Draft 4 used booleans for exclusiveMinimum/Maximum; those carry no bound of their own.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if isinstance(value, float) else value


def _int_bounds(schema: dict[str, Any]) -> tuple[int | None, int | None]:
    low: int | None = None
    high: int | None = None
    if (v := _num(schema.get("minimum"))) is not None:
        low = math.ceil(v)
    if (v := _num(schema.get("exclusiveMinimum"))) is not None:
        candidate = math.floor(v) + 1
        low = candidate if low is None else max(low, candidate)
    if (v := _num(schema.get("maximum"))) is not None:
        high = math.floor(v)
    if (v := _num(schema.get("exclusiveMaximum"))) is not None:
        candidate = math.ceil(v) - 1
        high = candidate if high is None else min(high, candidate)
    return low, high


def _num_bounds(schema: dict[str, Any]) -> tuple[float | None, bool, float | None, bool]:
    """Return (low, low_exclusive, high, high_exclusive) from the four bound keywords."""
    low, low_ex, high, high_ex = _num(schema.get("minimum")), False, _num(schema.get("maximum")), False
    if (v := _num(schema.get("exclusiveMinimum"))) is not None and (low is None or v >= low):
        low, low_ex = v, True
    if (v := _num(schema.get("exclusiveMaximum"))) is not None and (high is None or v <= high):
        high, high_ex = v, True
    return low, low_ex, high, high_ex


def _multiple_in(
    step: float,
    low: float | None,
    low_exclusive: bool,
    high: float | None,
    high_exclusive: bool,
    rng: random.Random,
) -> float | int:
    """Return a multiple of `step` inside the bounds; validators divide, so check exactness."""
    k_low = math.ceil(low / step) if low is not None else 0
    if low is not None and low_exclusive and k_low * step <= low:
        k_low += 1
    k_high = math.floor(high / step) if high is not None else k_low + 100
    if high is not None and high_exclusive and k_high * step >= high:
        k_high -= 1
    if k_high < k_low:
        raise SchemaGenerationError(f"no multiple of {step} lies inside the bounds")
    decimals = max(0, -math.floor(math.log10(step)) + 6) if isinstance(step, float) else 0
    first = rng.randint(k_low, k_high)
    for k in [first, *range(k_low, min(k_high, k_low + 50) + 1)]:
        value = k * step
        if isinstance(step, int):
            return int(value)
        value = round(value, decimals)
        if (value / step).is_integer():
            return int(value) if value.is_integer() else value
    raise SchemaGenerationError(f"cannot represent a multiple of {step} exactly")


def _whole_multiple(step: float) -> int:
    """Return the smallest whole number that is a multiple of `step` (for example 2 for 0.5)."""
    for k in range(1, 10_001):
        value = round(k * step, 9)
        if value.is_integer():
            return int(value)
    raise SchemaGenerationError(f"no whole number is a multiple of {step}")


def _fmt_datetime(rng: random.Random) -> str:
    base = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    moment = base + dt.timedelta(seconds=rng.randint(0, 3 * 365 * 86400))
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


_FORMAT_MAKERS: dict[str, Any] = {
    "date-time": _fmt_datetime,
    "date": lambda rng: _fmt_datetime(rng)[:10],
    "time": lambda rng: _fmt_datetime(rng)[11:19] + "Z",
    "uuid": lambda rng: str(uuid.UUID(int=rng.getrandbits(128), version=4)),
    "email": lambda rng: f"{rng.choice(_WORDS).lower()}{rng.randint(1, 99)}@example.com",
    "uri": lambda rng: f"https://example.com/{rng.choice(_WORDS).lower()}/{rng.randint(1, 999)}",
    "hostname": lambda rng: f"{rng.choice(_WORDS).lower()}.example.com",
    "ipv4": lambda rng: ".".join(str(rng.randint(1, 254)) for _ in range(4)),
}


def _string_for_pattern(pattern: str, rng: random.Random, min_len: int, max_len: Any) -> str:
    """Generate a string that `re.search(pattern, s)` matches, honouring length bounds if it can."""
    try:
        compiled = re.compile(pattern)
        parsed = _sre_parse.parse(pattern)
    except re.error as exc:
        raise SchemaGenerationError(f"invalid pattern {pattern!r}: {exc}") from exc
    best = ""
    for _ in range(25):
        text = _emit(list(parsed), rng, {})
        if compiled.search(text) is None:
            continue
        best = text
        if len(text) >= min_len and (max_len is None or len(text) <= int(max_len)):
            return text
    if best:
        return best
    raise SchemaGenerationError(f"cannot generate a string matching {pattern!r}")


_CATEGORY_CHARS = {
    "CATEGORY_DIGIT": "0123456789",
    "CATEGORY_NOT_DIGIT": "abcdefghijXYZ_-",
    "CATEGORY_SPACE": " ",
    "CATEGORY_NOT_SPACE": "abcdefghij0123456789",
    "CATEGORY_WORD": "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789_",
    "CATEGORY_NOT_WORD": " -.,",
}
_PRINTABLE = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -_."


def _emit(items: list[Any], rng: random.Random, groups: dict[int, str]) -> str:
    """Render one random string from a parsed regular expression (sre_parse op list)."""
    out: list[str] = []
    for op, arg in items:
        name = str(op)
        if name == "LITERAL":
            out.append(chr(arg))
        elif name == "NOT_LITERAL":
            out.append(rng.choice([c for c in _PRINTABLE if ord(c) != arg]))
        elif name == "ANY":
            out.append(rng.choice(_PRINTABLE.strip()))
        elif name == "IN":
            out.append(_emit_class(arg, rng))
        elif name == "BRANCH":
            out.append(_emit(list(rng.choice(arg[1])), rng, groups))
        elif name == "SUBPATTERN":
            group, _, _, sub = arg
            text = _emit(list(sub), rng, groups)
            if group is not None:
                groups[group] = text
            out.append(text)
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, high, sub = arg
            upper = low + 3 if high is _sre_parse.MAXREPEAT else min(high, low + 3)
            for _ in range(rng.randint(low, max(low, upper))):
                out.append(_emit(list(sub), rng, groups))
        elif name == "GROUPREF":
            out.append(groups.get(arg, ""))
        elif name == "CATEGORY":
            out.append(rng.choice(_CATEGORY_CHARS.get(str(arg), "a")))
        # AT (anchors), ASSERT and ASSERT_NOT produce no characters.
    return "".join(out)


def _emit_class(items: list[Any], rng: random.Random) -> str:
    negate = any(str(op) == "NEGATE" for op, _ in items)
    allowed: list[str] = []
    for op, arg in items:
        name = str(op)
        if name == "LITERAL":
            allowed.append(chr(arg))
        elif name == "RANGE":
            low, high = arg
            allowed.extend(chr(c) for c in range(low, min(high, low + 200) + 1))
        elif name == "CATEGORY":
            allowed.extend(_CATEGORY_CHARS.get(str(arg), "a"))
    if negate:
        pool = [c for c in _PRINTABLE if c not in set(allowed)]
        return rng.choice(pool or ["~"])
    return rng.choice(allowed or ["a"])
