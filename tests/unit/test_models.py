"""The API models: tolerant reading, ids, statuses, and the official spec's examples."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import jsonschema
import pytest

from airflow_provider_twelvelabs import models
from airflow_provider_twelvelabs.hooks import endpoints as api
from airflow_provider_twelvelabs.models import (
    Asset,
    AssetStatus,
    EmbeddingTaskStatus,
    EmbedV1Task,
    EmbedV2Task,
    Index,
    IndexedAsset,
    IndexedAssetStatus,
    IndexingTaskStatus,
    MultipartSessionStatus,
    Page,
    is_failed,
    is_terminal,
)
from airflow_provider_twelvelabs.testing.emulator.synth import generate_from_schema
from tests.openapi import resolved_response_schema, response_examples, success_status, validate_response

OID = "6298d673f1090f1100476d4c"


class TestTolerantReading:
    @pytest.mark.parametrize("key", ["_id", "id"])
    def test_id_is_read_from_either_key_and_written_as_id(self, key: str) -> None:
        asset = Asset.model_validate({key: OID, "status": "ready"})
        assert asset.id == OID
        assert asset.to_json_dict() == {"id": OID, "status": "ready"}

    def test_unknown_fields_are_kept(self) -> None:
        index = Index.model_validate({"_id": OID, "index_name": "n", "brand_new_field": {"x": [1, 2]}})
        assert index.model_extra == {"brand_new_field": {"x": [1, 2]}}
        assert index.to_json_dict()["brand_new_field"] == {"x": [1, 2]}

    def test_unknown_status_values_parse(self) -> None:
        asset = Asset.model_validate({"_id": OID, "status": "quarantined"})
        assert asset.status == "quarantined"
        assert not is_terminal(asset.status)

    def test_missing_id_is_an_error(self) -> None:
        with pytest.raises(ValueError, match="id"):
            Asset.model_validate({"status": "ready"})

    def test_to_json_dict_is_json_native(self) -> None:
        task = EmbedV2Task.model_validate(
            {"_id": OID, "status": "ready", "data": [{"embedding": [0.5, 1], "start_sec": 0}]}
        )
        dumped = task.to_json_dict()
        assert json.loads(json.dumps(dumped)) == dumped
        assert dumped["data"] == [{"embedding": [0.5, 1.0], "start_sec": 0.0}]

    def test_page_of_models(self) -> None:
        page = Page[IndexedAsset].model_validate(
            {
                "data": [{"_id": OID, "status": "indexing"}],
                "page_info": {"page": 1, "limit_per_page": 10, "total_page": 1, "total_results": 1},
            }
        )
        assert page.data is not None
        assert page.data[0].id == OID
        assert page.page_info is not None
        assert page.page_info.total_results == 1

    def test_embed_v1_segments_read_the_float_key(self) -> None:
        task = EmbedV1Task.model_validate(
            {
                "_id": OID,
                "status": "ready",
                "video_embedding": {
                    "segments": [{"float": [0.1, 0.2], "start_offset_sec": 0, "end_offset_sec": 6}]
                },
            }
        )
        (segment,) = task.segments()
        assert segment.float_ == [0.1, 0.2]
        assert (segment.start_offset_sec, segment.end_offset_sec) == (0, 6)


class TestStatuses:
    @pytest.mark.parametrize(
        ("enum", "terminal", "failed"),
        [
            (AssetStatus, {"ready", "failed"}, {"failed"}),
            (IndexedAssetStatus, {"ready", "failed"}, {"failed"}),
            (IndexingTaskStatus, {"ready", "failed"}, {"failed"}),
            (EmbeddingTaskStatus, {"ready", "failed"}, {"failed"}),
            (MultipartSessionStatus, {"completed", "failed", "expired"}, {"failed", "expired"}),
        ],
    )
    def test_terminal_and_failed_sets(self, enum: Any, terminal: set[str], failed: set[str]) -> None:
        assert {s.value for s in enum if s.is_terminal()} == terminal
        assert {s.value for s in enum if s.is_failed()} == failed
        assert {s.value for s in enum if is_terminal(s.value)} == terminal

    @pytest.mark.parametrize("status", ["ready", "READY", "Failed", "COMPLETE", "error", "canceled"])
    def test_terminal_whatever_the_case(self, status: str) -> None:
        assert is_terminal(status)

    @pytest.mark.parametrize(
        "status", [None, "", "processing", "pending", "queued", "indexing", "PROCESSING"]
    )
    def test_not_terminal(self, status: str | None) -> None:
        assert not is_terminal(status)
        assert not is_failed(status)

    @pytest.mark.parametrize("status", ["failed", "error", "ERROR", "expired", "canceled", "cancelled"])
    def test_every_failed_status_is_terminal(self, status: str) -> None:
        assert is_failed(status)
        assert is_terminal(status)

    def test_ready_is_not_failed(self) -> None:
        assert not is_failed("ready")
        assert str(AssetStatus.READY) == "ready"


#: Each success answer of the spec the provider reads, with the parser the hook uses for it.
PARSERS: list[tuple[str, str, Callable[[Any], Any]]] = [
    ("POST", "/assets", api.create_asset(method="url", url="u").parse),
    ("GET", "/assets", api.list_assets().parse),
    ("GET", "/assets/{asset_id}", api.get_asset("a").parse),
    ("POST", "/assets/multipart-uploads", api.create_multipart_upload(filename="f", total_size=1).parse),
    ("GET", "/assets/multipart-uploads", api.list_incomplete_uploads().parse),
    ("GET", "/assets/multipart-uploads/{upload_id}", api.get_multipart_upload_status("u").parse),
    ("POST", "/assets/multipart-uploads/{upload_id}", api.report_multipart_chunks("u", [{}]).parse),
    (
        "POST",
        "/assets/multipart-uploads/{upload_id}/presigned-urls",
        api.get_presigned_urls("u", start=1, count=1).parse,
    ),
    ("POST", "/indexes", api.create_index(index_name="n", models=[]).parse),
    ("GET", "/indexes", api.list_indexes().parse),
    ("GET", "/indexes/{index-id}", api.get_index("i").parse),
    ("POST", "/indexes/{index-id}/indexed-assets", api.create_indexed_asset("i", asset_id="a").parse),
    ("GET", "/indexes/{index-id}/indexed-assets", api.list_indexed_assets("i").parse),
    ("GET", "/indexes/{index-id}/indexed-assets/{indexed-asset-id}", api.get_indexed_asset("i", "x").parse),
    ("GET", "/indexes/{index-id}/videos", api.list_videos("i").parse),
    ("GET", "/indexes/{index-id}/videos/{video-id}", api.get_video("i", "v").parse),
    ("POST", "/tasks", api.create_indexing_task(index_id="i").parse),
    ("GET", "/tasks", api.list_indexing_tasks().parse),
    ("GET", "/tasks/{task_id}", api.get_indexing_task("t").parse),
    ("POST", "/embed-v2", api.create_embedding({}).parse),
    ("POST", "/embed-v2/tasks", api.create_embedding_task({}).parse),
    ("GET", "/embed-v2/tasks", api.list_embedding_tasks().parse),
    ("GET", "/embed-v2/tasks/{task_id}", api.get_embedding_task("t").parse),
    ("POST", "/embed/tasks", api.create_video_embedding_task(model_name="m").parse),
    ("GET", "/embed/tasks", api.list_video_embedding_tasks().parse),
    ("GET", "/embed/tasks/{task_id}/status", api.get_video_embedding_task_status("t").parse),
    ("GET", "/embed/tasks/{task_id}", api.get_video_embedding_task("t").parse),
    ("POST", "/analyze", api.analyze({}).parse),
    ("POST", "/summarize", api.summarize({}).parse),
    ("POST", "/gist", api.gist(video_id="v", types=[]).parse),
    ("POST", "/search", api.search(index_id="i", search_options=[]).parse),
    ("GET", "/search/{page-token}", api.get_search_page("t").parse),
]

#: Examples that are not a whole answer: the NDJSON events of a streamed /analyze.
STREAM_EVENT_EXAMPLES = {"stream-start-response", "text-generation-resonse", "stream-end-response"}


#: Spec examples that contradict the spec's own schema (checked below), with why.
STALE_EXAMPLES = {
    ("GET", "/search/{page-token}", "schema example"): "its data is one clip object; the schema says a list",
}


def _examples() -> list[Any]:
    cases = []
    for method, path, parse in PARSERS:
        status = success_status(method, path)
        for name, value in response_examples(method, path, status):
            if name not in STREAM_EVENT_EXAMPLES and (method, path, name) not in STALE_EXAMPLES:
                cases.append(pytest.param(parse, value, id=f"{method} {path} {status} {name}"))
    return cases


class TestOpenApiExamples:
    def test_the_spec_has_examples_for_most_answers(self) -> None:
        # Guards the parametrisation below against silently collecting nothing.
        assert len(_examples()) >= 15

    @pytest.mark.parametrize(("parse", "example"), _examples())
    def test_every_spec_example_parses(self, parse: Callable[[Any], Any], example: Any) -> None:
        result = parse(example)
        dumped = result.to_json_dict() if isinstance(result, models.TwelveLabsModel) else result
        assert json.loads(json.dumps(dumped)) == dumped
        if isinstance(example, dict) and "_id" in example:
            assert result.id == example["_id"]
        for item, raw in zip(
            getattr(result, "data", None) or [], (example or {}).get("data") or [], strict=False
        ):
            if isinstance(raw, dict) and "_id" in raw:
                assert item.id == raw["_id"]

    @pytest.mark.parametrize(("method", "path", "name"), sorted(STALE_EXAMPLES))
    def test_examples_left_out_really_contradict_the_spec(self, method: str, path: str, name: str) -> None:
        status = success_status(method, path)
        (example,) = [value for n, value in response_examples(method, path, status) if n == name]
        with pytest.raises(jsonschema.ValidationError):
            validate_response(method, path, status, example)

    @pytest.mark.parametrize(("method", "path", "parse"), PARSERS, ids=[f"{m} {p}" for m, p, _ in PARSERS])
    @pytest.mark.parametrize("seed", range(4))
    def test_answers_generated_from_the_spec_schema_parse(
        self, method: str, path: str, parse: Callable[[Any], Any], seed: int
    ) -> None:
        status = success_status(method, path)
        try:
            schema = resolved_response_schema(method, path, status)
        except KeyError:
            pytest.skip(f"{method} {path} documents no JSON body for {status}")
        answer = generate_from_schema(schema, method, path, seed)
        parse(answer)


class TestAsynchronousAnalyze:
    @pytest.mark.parametrize(
        ("enum", "terminal", "failed"),
        [
            (models.AnalyzeTaskStatus, {"ready", "failed", "canceled"}, {"failed", "canceled"}),
            (models.AnalyzeBatchItemStatus, {"ready", "failed", "canceled"}, {"failed", "canceled"}),
            # A batch is never failed; "completed" says every item ended, not that all succeeded.
            (models.AnalyzeBatchStatus, {"completed", "canceled", "expired"}, {"canceled", "expired"}),
        ],
    )
    def test_terminal_and_failed_sets(self, enum: Any, terminal: set[str], failed: set[str]) -> None:
        assert {s.value for s in enum if s.is_terminal()} == terminal
        assert {s.value for s in enum if s.is_failed()} == failed

    def test_canceling_is_not_final(self) -> None:
        assert not is_terminal("canceling") and not is_failed("canceling")

    def test_task_reads_task_id_as_id_and_keeps_unknown_fields(self) -> None:
        task = models.AnalyzeTask.model_validate(
            {"task_id": "t1", "status": "ready", "custom_id": None, "new_field": 1, "result": {"data": "x"}}
        )
        assert (task.id, task.task_id, task.status, task.warning) == ("t1", "t1", "ready", None)
        assert task.to_json_dict()["new_field"] == 1 and task.to_json_dict()["id"] == "t1"

    @pytest.mark.parametrize(
        ("status", "warning"),
        [("ready", "output truncated"), ("failed", None), ("canceled", None)],
    )
    def test_warning_only_on_ready_tasks(self, status: str, warning: str | None) -> None:
        task = models.AnalyzeTask.model_validate(
            {"task_id": "t1", "status": status, "error": {"message": "output truncated"}}
        )
        assert task.warning == warning

    def test_batch_and_result_lines_as_the_sdk_documents_them(self) -> None:
        batch = models.AnalyzeBatch.model_validate(
            {"batch_id": "b1", "status": "completed", "ready_items": 3, "failed_items": 1}
        )
        assert (batch.id, batch.batch_id, batch.ready_items) == ("b1", "b1", 3)
        ready = models.AnalyzeBatchResult.model_validate(
            {
                "task_id": "t1",
                "custom_id": "summary-001",
                "status": "ready",
                "data": {
                    "generation_id": "g",
                    "data": "text",
                    "finish_reason": "stop",
                    "usage": {"output_tokens": 1},
                },
            }
        )
        failed = models.AnalyzeBatchResult.model_validate(
            {
                "task_id": "t2",
                "custom_id": None,
                "status": "failed",
                "error": {"code": "asset_unavailable", "message": "m"},
            }
        )
        assert ready.data is not None and ready.data.data == "text"
        assert failed.error is not None and failed.error.code == "asset_unavailable" and failed.data is None
