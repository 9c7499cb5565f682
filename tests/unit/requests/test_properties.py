"""Property-based tests of the request models (issue 13, item 8): hypothesis generates the inputs a
table cannot enumerate.

For arbitrary parameters, ``Model.build(**params)`` either returns a model whose body is JSON-native
and round-trips (through JSON, and by building the model again from its own checked values), or
raises the documented ``ValueError`` naming a parameter. Anything else (``TypeError``,
``KeyError``, a pydantic ``ValidationError`` leaking out...) is a bug.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_twelvelabs.requests import analyze, analyze_async, assets, embed, indexes, search
from airflow_provider_twelvelabs.requests.fields import RequestModel

ID = "6630f0c2a1b2c3d4e5f60718"
URL = "https://media.test/v.mp4"

#: A valid set of parameters per model; hypothesis keeps or replaces each one.
VALID: dict[type[RequestModel], dict[str, Any]] = {
    analyze.AnalyzeRequest: {"prompt": "Describe.", "asset_id": ID, "temperature": 0.2, "max_tokens": 500},
    analyze.SummarizeRequest: {"video_id": ID, "type": "summary"},
    analyze.GistRequest: {"video_id": ID, "types": ["title", "topic"]},
    analyze_async.AnalyzeTaskRequest: {"url": URL, "prompt": "Describe.", "max_tokens": 1024},
    analyze_async.AnalyzeBatchRequest: {"items": [ID], "prompt": "Describe."},
    assets.UploadAssetRequest: {"source": URL, "method": "url"},
    embed.EmbedV2Request: {"input_type": "text", "text": "a red car"},
    embed.EmbedV2TaskRequest: {"input_type": "video", "url": URL, "start_sec": 0, "end_sec": 10},
    embed.EmbedV1TaskRequest: {"video_url": URL, "video_clip_length": 6},
    indexes.CreateIndexRequest: {
        "index_name": "news",
        "models": [{"model_name": "marengo3.0", "model_options": ["visual", "audio"]}],
    },
    indexes.DeleteIndexRequest: {"index_id": ID},
    indexes.IndexAssetRequest: {"index_id": ID, "asset_id": ID, "user_metadata": {"show": "news"}},
    indexes.IndexingTaskRequest: {"index_id": ID, "video_url": URL},
    search.SearchRequest: {"index_id": ID, "query_text": "a red car", "search_options": ["visual"]},
}

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=8,
)
#: Values templates and users give: strings that look like numbers, ids, URLs, enum-ish words...
_plausible = st.sampled_from(
    [
        "",
        " ",
        "0",
        "-1",
        "1e309",
        "nan",
        "true",
        "perhaps",
        "visual",
        "general",
        ID,
        f"{ID}/x",
        URL,
        "ftp://media.test/v.mp4",
        "{{ ds }}",
        "[1, 2]",
        '{"a": 1}',
        "None",
        2**63,
        -(2**31),
        0.5,
        float("inf"),
        [],
        [""],
        [ID, ID],
        {},
        {"": None},
        Path("/x/v.mp4"),
    ]
)
_value = _plausible | _json


def _params(model: type[RequestModel]) -> st.SearchStrategy[dict[str, Any]]:
    valid = VALID[model]
    fields = list(model.model_fields)

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        params = dict(valid)
        # Few changes at a time, so that a good share of the examples still builds (and round-trips).
        changes = min(len(fields), draw(st.sampled_from([0, 1, 1, 1, 2, 3])))
        for name in draw(st.lists(st.sampled_from(fields), min_size=changes, max_size=changes, unique=True)):
            if draw(st.booleans()) and name in params:
                del params[name]
            else:
                params[name] = draw(_value)
        return params

    return build()


def _reader(path: str) -> tuple[str, bytes, str]:
    return (Path(path).name, b"\0" * 16, "application/octet-stream")


def _body(request: RequestModel) -> dict[str, Any]:
    if isinstance(request, (embed.EmbedV2Request, embed.EmbedV2TaskRequest)):
        return request.to_body(_reader)
    return request.to_body()


def _jsonable(value: Any) -> Any:
    """The body as JSON would carry it (paths and other objects the hook handles become text)."""
    return json.loads(json.dumps(value, default=str, allow_nan=False))


@pytest.mark.parametrize("model", list(VALID), ids=lambda m: m.__name__)
def test_the_valid_parameters_build(model):
    body = _body(model.build(**VALID[model]))
    assert isinstance(body, dict) and body  # so the properties below see valid models too


@settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_any_parameters_build_a_round_tripping_model_or_raise_value_error(data):
    model = data.draw(st.sampled_from(list(VALID)), label="model")
    params = data.draw(_params(model), label="params")
    try:
        request = model.build(**params)
    except ValueError as exc:
        # The documented error: short, and it names something the user wrote.
        message = str(exc)
        assert message and "validation error" not in message.lower(), message
        assert "Traceback" not in message
        return
    try:
        body = _body(request)
    except ValueError:
        return  # a combination only the body can judge (e.g. inline media), refused with the same error
    # JSON-native once the hook's own objects (a file part's path) are written out; no NaN/inf.
    encoded = json.dumps(body, default=str, allow_nan=False)
    assert json.loads(encoded) == _jsonable(body)
    # Checked values are a fixed point: building again from them gives the same request.
    again = model.build(**{name: getattr(request, name) for name in model.model_fields})
    assert _jsonable(_body(again)) == _jsonable(body)
