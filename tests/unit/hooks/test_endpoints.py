"""What the hook sends, checked against the official OpenAPI spec, endpoint by endpoint.

Each description in ``hooks/endpoints.py`` gets a representative call. The hook sends it to the
recording server on 127.0.0.1; the request the server received is then matched to the spec's path
and method, its query names to the declared parameters, and its JSON body (or its decoded
multipart form) validated against the spec's requestBody schema.

The spec is older than SDK 1.3.6 in places (contract.md section 15). Where the two disagree the
provider follows the contract, and the test says so in :data:`CONTRACT_OVER_SPEC`.
"""

from __future__ import annotations

import inspect
import io
from collections.abc import Callable
from typing import Any

import jsonschema
import pytest

from airflow_provider_twelvelabs.hooks import endpoints as api
from airflow_provider_twelvelabs.hooks.endpoints import ApiCall, FilePart, encode_pairs
from airflow_provider_twelvelabs.hooks.twelvelabs import TwelveLabsHook
from tests.helpers.http_server import RecordedRequest, RecordingServer, Reply
from tests.openapi import (
    SpecError,
    body_property_names,
    form_instance,
    match_path,
    operation,
    query_parameter_names,
    validate_request,
)

HookFactory = Callable[..., TwelveLabsHook]

OID = "6298d673f1090f1100476d4c"
IDX = "65f0a1b2c3d4e5f6aaaaaaaa"

#: One answer every parser accepts, so that any call can be run end to end...
UNIVERSAL_ANSWER = {"_id": OID, "upload_id": "u1", "chunk_size": 5_242_880, "data": []}
#: ...except where ``data`` is text.
ANSWERS = {"analyze": {"id": "g1", "data": "text", "finish_reason": "stop"}}


def file_part(field: str, name: str = "clip.mp4", content_type: str = "video/mp4") -> FilePart:
    return FilePart(field, name, lambda: io.BytesIO(b"\x00\x00\x00\x18ftypmp42"), content_type)


#: A representative call of every endpoint description: name -> calls (several shapes where useful).
CALLS: dict[str, list[ApiCall[Any]]] = {
    "create_asset": [
        api.create_asset(method="direct", file=file_part("file"), filename="clip.mp4", enable_hls=True),
        api.create_asset(
            method="url",
            url="https://example.com/clip.mp4",
            enable_thumbnail=False,
            user_metadata={"source": "archive", "year": 2024},
        ),
    ],
    "list_assets": [
        api.list_assets(asset_ids=[OID, IDX], asset_types=["video", "audio"], filename="c", page=2)
    ],
    "get_asset": [api.get_asset(OID)],
    "delete_asset": [api.delete_asset(OID, force=True)],
    "list_asset_indexed_assets": [api.list_asset_indexed_assets(OID, page=1, page_limit=50)],
    "create_multipart_upload": [
        api.create_multipart_upload(filename="big.mp4", total_size=3 * 1024**3, enable_hls=False),
        api.create_multipart_upload(filename="m.mp4", total_size=1024, user_metadata={"k": "v"}),
    ],
    "report_multipart_chunks": [
        api.report_multipart_chunks(
            "u1",
            [
                {
                    "chunk_index": 1,
                    "proof": "d41d8cd98f00b204e9800998ecf8427e",
                    "proof_type": "etag",
                    "chunk_size": 5_242_880,
                },
                {
                    "chunk_index": 2,
                    "proof": "0cc175b9c0f1b6a831c399e269772661",
                    "proof_type": "etag",
                    "chunk_size": 1024,
                },
            ],
        )
    ],
    "get_multipart_upload_status": [api.get_multipart_upload_status("u1", page=2, page_limit=50)],
    "get_presigned_urls": [api.get_presigned_urls("u1", start=51, count=50)],
    "list_incomplete_uploads": [api.list_incomplete_uploads(page=1, page_limit=10)],
    "create_index": [
        api.create_index(
            index_name="news",
            models=[
                {"model_name": "marengo3.0", "model_options": ["visual", "audio"]},
                {"model_name": "pegasus1.2", "model_options": ["visual", "audio"]},
            ],
            addons=["thumbnail"],
        )
    ],
    "list_indexes": [
        api.list_indexes(index_name="news", model_family="marengo", sort_by="created_at", sort_option="desc")
    ],
    "get_index": [api.get_index(IDX)],
    "rename_index": [api.rename_index(IDX, "sports")],
    "delete_index": [api.delete_index(IDX)],
    "create_indexed_asset": [
        api.create_indexed_asset(IDX, asset_id=OID, enable_video_stream=True, user_metadata={"team": "a"})
    ],
    "list_indexed_assets": [
        api.list_indexed_assets(
            IDX, status=["ready", "failed"], filename="c", sort_by="created_at", sort_option="asc", page=1
        )
    ],
    "get_indexed_asset": [api.get_indexed_asset(IDX, OID, embedding_option=["visual"], transcription=True)],
    "update_indexed_asset": [api.update_indexed_asset(IDX, OID, user_metadata={"team": "b", "views": 3})],
    "delete_indexed_asset": [api.delete_indexed_asset(IDX, OID)],
    "create_indexing_task": [
        api.create_indexing_task(
            index_id=IDX, video_url="https://example.com/v.mp4", enable_video_stream=False
        ),
        api.create_indexing_task(index_id=IDX, video_file=file_part("video_file"), user_metadata={"a": 1}),
    ],
    "list_indexing_tasks": [api.list_indexing_tasks(index_id=IDX, status=["ready"], filename="v", page=1)],
    "get_indexing_task": [api.get_indexing_task(OID)],
    "delete_indexing_task": [api.delete_indexing_task(OID)],
    "list_videos": [api.list_videos(IDX, filename="v", page=1, page_limit=10)],
    "get_video": [api.get_video(IDX, OID)],
    "create_embedding": [
        api.create_embedding(
            {"input_type": "text", "model_name": "marengo3.0", "text": {"input_text": "a dog"}}
        ),
        api.create_embedding(
            {
                "input_type": "video",
                "model_name": "marengo3.0",
                "video": {
                    "media_source": {"url": "https://example.com/v.mp4"},
                    "start_sec": 0,
                    "end_sec": 10,
                    "segmentation": {"strategy": "fixed", "fixed": {"duration_sec": 5}},
                    "embedding_option": ["visual", "audio"],
                    "embedding_scope": ["clip"],
                },
            }
        ),
    ],
    "create_embedding_task": [
        api.create_embedding_task(
            {
                "input_type": "video",
                "model_name": "marengo3.0",
                "video": {"media_source": {"asset_id": OID}, "embedding_option": ["visual"]},
            }
        )
    ],
    "get_embedding_task": [api.get_embedding_task(OID)],
    "list_embedding_tasks": [
        api.list_embedding_tasks(
            status="ready", started_at="2026-01-01T00:00:00Z", ended_at="2026-01-02T00:00:00Z", page=1
        )
    ],
    "create_embedding_v1": [
        api.create_embedding_v1(model_name="Marengo-retrieval-2.7", text="a dog", text_truncate="end"),
        api.create_embedding_v1(
            model_name="Marengo-retrieval-2.7",
            audio_file=file_part("audio_file", "a.mp3", "audio/mpeg"),
            audio_start_offset_sec=2.5,
        ),
        api.create_embedding_v1(model_name="Marengo-retrieval-2.7", image_url="https://example.com/i.png"),
    ],
    "create_video_embedding_task": [
        api.create_video_embedding_task(
            model_name="Marengo-retrieval-2.7",
            video_url="https://example.com/v.mp4",
            video_start_offset_sec=0,
            video_end_offset_sec=30,
            video_clip_length=6,
            video_embedding_scope=["clip", "video"],
        ),
        api.create_video_embedding_task(
            model_name="Marengo-retrieval-2.7", video_file=file_part("video_file")
        ),
    ],
    "get_video_embedding_task_status": [api.get_video_embedding_task_status(OID)],
    "get_video_embedding_task": [api.get_video_embedding_task(OID, embedding_option=["visual", "audio"])],
    "list_video_embedding_tasks": [api.list_video_embedding_tasks(status="ready", page=1, page_limit=10)],
    "analyze": [
        api.analyze({"video_id": OID, "prompt": "What happens?", "temperature": 0.2}),
        api.analyze({"video_id": OID, "prompt": "List the goals.", "max_tokens": 512}, stream=True),
        # SDK 1.3.6 shape (contract 12, section 15 item 7): see CONTRACT_OVER_SPEC.
        api.analyze({"video": {"type": "asset_id", "asset_id": OID}, "prompt": "Describe it."}),
    ],
    "summarize": [
        api.summarize({"video_id": OID, "type": "summary", "prompt": "Short."}),
        api.summarize({"video_id": OID, "type": "chapter"}),
    ],
    "gist": [api.gist(video_id=OID, types=["title", "topic", "hashtag"])],
    "search": [
        api.search(
            index_id=IDX,
            search_options=["visual", "audio"],
            query_text="a goal",
            group_by="clip",
            operator="or",
            page_limit=10,
            filter={"id": [OID]},
            include_user_metadata=True,
        ),
        api.search(
            index_id=IDX,
            search_options=["visual"],
            query_media_type="image",
            query_media_files=[file_part("query_media_file", "q.png", "image/png")],
        ),
        api.search(
            index_id=IDX,
            search_options=["visual"],
            query_media_type="image",
            query_media_url="https://example.com/q.png",
            transcription_options=["lexical", "semantic"],
        ),
    ],
    "get_search_page": [api.get_search_page("tok-1", include_user_metadata=False)],
    "create_analyze_task": [
        api.create_analyze_task(
            {
                "video": {"type": "url", "url": "https://example.com/v.mp4"},
                "prompt": "Why?",
                "custom_id": None,
            }
        )
    ],
    "list_analyze_tasks": [api.list_analyze_tasks(status="ready", asset_id=OID, page=1, page_limit=50)],
    "get_analyze_task": [api.get_analyze_task(OID)],
    "delete_analyze_task": [api.delete_analyze_task(OID)],
    "cancel_analyze_task": [api.cancel_analyze_task(OID)],
    "create_analyze_batch": [
        api.create_analyze_batch(
            model_name="pegasus1.5",
            analysis_mode="general",
            requests=[{"video": {"type": "asset_id", "asset_id": OID}, "custom_id": "a"}],
            defaults={"prompt": {"input_text": "Summarize"}},
        )
    ],
    "list_analyze_batches": [
        api.list_analyze_batches(status=["pending", "processing"], analysis_mode="general", page=2)
    ],
    "get_analyze_batch": [api.get_analyze_batch(OID)],
    "delete_analyze_batch": [api.delete_analyze_batch(OID)],
    "cancel_analyze_batch": [api.cancel_analyze_batch(OID)],
    "get_analyze_batch_results": [api.get_analyze_batch_results(OID)],
}

#: Where the provider follows SDK 1.3.6 (the contract) and the older spec disagrees.
CONTRACT_OVER_SPEC: dict[tuple[str, int], str] = {
    # Section 15 item 7: SDK 1.3.6 sends a ``video`` object (url, asset_id or base64) and no
    # ``video_id``; the spec still requires ``video_id``.
    ("analyze", 2): "SDK 1.3.6 analyze shape: video object instead of video_id",
}

#: Body fields the contract (SDK 1.3.6) has and the older spec lacks.
CONTRACT_BODY_FIELDS: dict[tuple[str, str, str], str] = {
    ("POST", "/assets", "enable_hls"): "contract 3.1: form bool, default true",
    ("POST", "/assets", "enable_thumbnail"): "contract 3.1: form bool, default true",
    ("POST", "/assets", "user_metadata"): "contract 3.1: JSON-encoded form string",
    ("POST", "/assets/multipart-uploads", "enable_hls"): "contract 4.1: default false",
    ("POST", "/assets/multipart-uploads", "enable_thumbnail"): "contract 4.1: default false",
    ("POST", "/assets/multipart-uploads", "user_metadata"): "contract 4.1: a JSON object",
    ("POST", "/indexes/{index-id}/indexed-assets", "user_metadata"): "contract 6.1: a JSON object",
}

#: Query parameters the contract (SDK 1.3.6) has and the older spec lacks.
CONTRACT_QUERY_PARAMETERS: dict[tuple[str, str, str], str] = {
    ("GET", "/assets", "filename"): "contract 3.2: case-insensitive substring filter",
    ("DELETE", "/assets/{asset_id}", "force"): "contract 3.4: delete even when indexed",
}


def _endpoint_functions() -> list[str]:
    return sorted(
        name
        for name, function in inspect.getmembers(api, inspect.isfunction)
        if function.__module__ == api.__name__
        and not name.startswith("_")
        and str(inspect.signature(function).return_annotation).startswith("ApiCall")
    )


def _cases() -> list[Any]:
    return [
        pytest.param(name, n, call, id=f"{name}[{n}]")
        for name, calls in CALLS.items()
        for n, call in enumerate(calls)
    ]


def _base_name(key: str) -> str:
    return key.split("[", 1)[0]


def _sent(server: RecordingServer, hook: TwelveLabsHook, call: ApiCall[Any]) -> RecordedRequest:
    server.on(call.method, call.path, Reply(200, json=ANSWERS.get(call.path, UNIVERSAL_ANSWER)))
    if call.json is not None and call.json.get("stream") is True:
        server.on(call.method, call.path, Reply(lines=['{"event_type": "stream_end"}']))
        list(hook.stream_lines(call))
    else:
        hook.run(call)
    (request,) = server.requests
    return request


def test_every_endpoint_description_has_a_representative_call() -> None:
    missing = set(_endpoint_functions()) - set(CALLS)
    assert not missing, f"add a representative call to CALLS in {__file__} for: {sorted(missing)}"


@pytest.mark.parametrize(("name", "n", "call"), _cases())
def test_requests_match_the_openapi_spec(
    make_hook: HookFactory, server: RecordingServer, name: str, n: int, call: ApiCall[Any]
) -> None:
    request = _sent(server, make_hook(), call)

    try:
        template = match_path(request.path)
        op = operation(request.method, template)
    except SpecError:
        pytest.skip(f"the spec has no {request.method} {request.path} (newer than the spec)")
    assert op is not None

    declared = query_parameter_names(request.method, template)
    declared |= {p for (m, t, p) in CONTRACT_QUERY_PARAMETERS if (m, t) == (request.method, template)}
    sent = {_base_name(key) for key, _ in request.query}
    assert sent <= declared, f"query parameters unknown to the spec: {sorted(sent - declared)}"

    content_type = request.header("content-type") or ""
    if "requestBody" not in op:
        assert request.body == b""
        return
    if content_type.startswith("multipart/form-data"):
        instance = form_instance(request.method, template, request.form())
        schema_type = "multipart/form-data"
    else:
        assert content_type == "application/json"
        instance = request.json()
        schema_type = "application/json"

    exception = CONTRACT_OVER_SPEC.get((name, n))
    if exception is None:
        # Schemas without additionalProperties: false accept typos; names are checked on their own.
        contract_only = {f for (m, t, f) in CONTRACT_BODY_FIELDS if (m, t) == (request.method, template)}
        unknown = set(instance) - body_property_names(request.method, template, schema_type) - contract_only
        assert not unknown, f"body fields unknown to the spec: {sorted(unknown)}"
        validate_request(
            request.method,
            template,
            {k: v for k, v in instance.items() if k not in contract_only},
            schema_type,
        )
    else:
        # Documented disagreement: the spec must still reject it (else the exception is stale).
        with pytest.raises(jsonschema.ValidationError):
            validate_request(request.method, template, instance, schema_type)


@pytest.mark.parametrize(("method", "template", "field"), sorted(CONTRACT_BODY_FIELDS))
def test_contract_only_body_fields_are_really_missing_from_the_spec(
    method: str, template: str, field: str
) -> None:
    content_type = "multipart/form-data" if template == "/assets" else "application/json"
    assert field not in body_property_names(method, template, content_type)


@pytest.mark.parametrize(("method", "template", "parameter"), sorted(CONTRACT_QUERY_PARAMETERS))
def test_contract_only_query_parameters_are_really_missing_from_the_spec(
    method: str, template: str, parameter: str
) -> None:
    assert parameter not in query_parameter_names(method, template)


def test_the_analyze_exception_follows_the_contract(make_hook: HookFactory, server: RecordingServer) -> None:
    request = _sent(server, make_hook(), CALLS["analyze"][2])
    assert request.json() == {
        "video": {"type": "asset_id", "asset_id": OID},
        "prompt": "Describe it.",
        "stream": False,
    }


class TestEncodePairs:
    def test_all_rules_together(self) -> None:
        pairs = encode_pairs(
            {
                "flag": True,
                "off": False,
                "none": None,
                "many": ["a", None, "b"],
                "range": {"gte": 1, "lte": 5.5, "eq": None},
                "meta": {"k": [1, 2]},
                "n": 0,
            },
            json_fields=("meta",),
        )
        assert pairs == [
            ("flag", "true"),
            ("off", "false"),
            ("many", "a"),
            ("many", "b"),
            ("range[gte]", "1"),
            ("range[lte]", "5.5"),
            ("meta", '{"k":[1,2]}'),
            ("n", "0"),
        ]

    def test_nested_objects_and_lists_inside_them(self) -> None:
        # As the official SDK's query encoder: deepObject all the way down, lists repeat the key.
        pairs = encode_pairs({"user_metadata": {"tags": ["news", "sport"], "geo": {"country": "fr"}}})
        assert pairs == [
            ("user_metadata[tags]", "news"),
            ("user_metadata[tags]", "sport"),
            ("user_metadata[geo][country]", "fr"),
        ]

    def test_json_fields_keep_unicode_readable(self) -> None:
        # The API stores what it receives; "\\u00e9" escapes are valid JSON either way.
        (pair,) = encode_pairs({"user_metadata": {"city": "Zürich"}}, json_fields=("user_metadata",))
        assert pair[0] == "user_metadata"
        assert pair[1] in ('{"city":"Zürich"}', '{"city":"Z\\u00fcrich"}')

    def test_validation_happens_before_any_request(self) -> None:
        with pytest.raises(ValueError, match="1 to 50 chunks"):
            api.report_multipart_chunks("u1", [])
        with pytest.raises(ValueError, match="count <= 50"):
            api.get_presigned_urls("u1", start=1, count=51)
        with pytest.raises(ValueError, match="non-empty id"):
            api.get_index("")


def test_only_the_hook_turns_descriptions_into_requests() -> None:
    # Operators, sensors, triggers and waiting.py call the hook's endpoint methods; an endpoint
    # description used elsewhere would be a second way to call it (and to forget its async twin).
    import ast
    from pathlib import Path

    import airflow_provider_twelvelabs

    package = Path(airflow_provider_twelvelabs.__file__).parent
    offenders = []
    for module in sorted(package.rglob("*.py")):
        relative = module.relative_to(package).as_posix()
        if relative.startswith(("hooks/", "testing/")):
            continue
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "airflow_provider_twelvelabs.hooks":
                offenders += [
                    f"{relative}: imports hooks.{a.name}" for a in node.names if a.name == "endpoints"
                ]
            elif (
                isinstance(node, ast.ImportFrom)
                and node.module == "airflow_provider_twelvelabs.hooks.endpoints"
            ):
                # A file part is data an operator hands to the hook, not a call.
                offenders += [f"{relative}: imports {a.name}" for a in node.names if a.name != "FilePart"]
            elif isinstance(node, ast.Attribute) and node.attr in ("run", "arun"):
                offenders.append(f"{relative}:{node.lineno}: .{node.attr}")
    assert offenders == []
