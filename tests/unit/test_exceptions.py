"""The exception hierarchy: mapping of status and code, both error shapes, messages, pickling."""

from __future__ import annotations

import json
import pickle
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowException

from airflow_provider_twelvelabs import exceptions as exc_module
from airflow_provider_twelvelabs.exceptions import (
    TwelveLabsAPIError,
    TwelveLabsAuthenticationError,
    TwelveLabsBadRequestError,
    TwelveLabsConflictError,
    TwelveLabsEndpointGoneError,
    TwelveLabsError,
    TwelveLabsNotFoundError,
    TwelveLabsPayloadTooLargeError,
    TwelveLabsRateLimitError,
    TwelveLabsResourceFailedError,
    TwelveLabsServerError,
    TwelveLabsWaitTimeoutError,
    error_from_response,
    parse_error_body,
)
from tests.openapi import load_spec, response_examples


def body(payload: Any) -> bytes:
    return json.dumps(payload).encode()


class TestMapping:
    @pytest.mark.parametrize(
        ("status", "code", "cls"),
        [
            (400, "parameter_invalid", TwelveLabsBadRequestError),
            (400, "parameter_not_provided", TwelveLabsBadRequestError),
            (422, None, TwelveLabsBadRequestError),
            (400, "resource_not_exist", TwelveLabsNotFoundError),
            (404, None, TwelveLabsNotFoundError),
            (404, "not_found", TwelveLabsNotFoundError),
            (401, "api_key_invalid", TwelveLabsAuthenticationError),
            (403, "api_not_allowed", TwelveLabsAuthenticationError),
            (409, None, TwelveLabsConflictError),
            (413, None, TwelveLabsPayloadTooLargeError),
            (410, None, TwelveLabsEndpointGoneError),
            (400, "endpoint_sunset", TwelveLabsEndpointGoneError),
            (429, "too_many_requests", TwelveLabsRateLimitError),
            (408, None, TwelveLabsServerError),
            (500, None, TwelveLabsServerError),
            (503, None, TwelveLabsServerError),
            (418, None, TwelveLabsAPIError),
        ],
    )
    def test_status_and_code_pick_the_class(self, status: int, code: str | None, cls: type) -> None:
        payload = {"message": "m"} if code is None else {"code": code, "message": "m"}
        error = error_from_response(status, body(payload))
        assert type(error) is cls
        assert (error.status, error.code, error.message) == (status, code, "m")

    def test_every_class_is_an_airflow_exception(self) -> None:
        for name in exc_module.__all__:
            member = getattr(exc_module, name)
            if isinstance(member, type):
                assert issubclass(member, TwelveLabsError), name
                assert issubclass(member, AirflowException), name


class TestBodies:
    def test_flat_shape(self) -> None:
        parsed = parse_error_body(
            body({"code": "parameter_invalid", "message": "bad page", "docs_url": "https://docs/e"})
        )
        assert parsed == ("parameter_invalid", "bad page", "https://docs/e", None)

    def test_nested_embed_v2_shape(self) -> None:
        parsed = parse_error_body(
            body({"error": {"code": "parameter_invalid", "message": "bad", "details": {"field": "text"}}})
        )
        assert parsed == ("parameter_invalid", "bad", None, {"field": "text"})

    @pytest.mark.parametrize("raw", [b"", b"   \n", b"\r\n"])
    def test_empty_bodies(self, raw: bytes) -> None:
        assert parse_error_body(raw) == (None, None, None, None)

    def test_text_body_becomes_the_message(self) -> None:
        assert parse_error_body(b"<h1>502 Bad Gateway</h1>\n")[1] == "<h1>502 Bad Gateway</h1>"

    def test_huge_text_body_is_cut(self) -> None:
        message = parse_error_body(b"x" * 10_000)[1]
        assert message is not None
        assert len(message) == 500

    def test_legacy_error_code_shape(self) -> None:
        assert parse_error_body(body({"error_code": 104, "message": "expired"}))[:2] == ("104", "expired")

    def test_json_that_is_not_an_object(self) -> None:
        assert parse_error_body(b'["oops"]')[1] == "['oops']"

    def test_empty_429_gets_a_readable_message(self) -> None:
        error = error_from_response(429, b"", method="POST", path="/search", retry_after=3.0)
        assert isinstance(error, TwelveLabsRateLimitError)
        assert error.code is None
        assert str(error) == (
            "TwelveLabs API error 429 on POST /search: Rate limit exceeded (the API sent no details)."
        )
        assert error.retry_after == 3.0

    def test_message_names_status_code_call_and_docs(self) -> None:
        error = error_from_response(
            400,
            body({"code": "index_name_already_exists", "message": "taken", "docs_url": "https://d/x"}),
            method="POST",
            path="/indexes",
        )
        assert str(error) == (
            "TwelveLabs API error 400 index_name_already_exists on POST /indexes: taken (see https://d/x)"
        )


def _spec_error_examples() -> list[Any]:
    cases = []
    for path, item in load_spec()["paths"].items():
        for method, op in item.items():
            if not isinstance(op, dict):
                continue
            for status in op.get("responses", {}):
                if not str(status).isdigit() or int(status) < 400:
                    continue
                for name, value in response_examples(method, path, int(status)):
                    cases.append(
                        pytest.param(int(status), value, id=f"{method.upper()} {path} {status} {name}")
                    )
    return cases


class TestSpecErrorExamples:
    def test_the_spec_has_error_examples(self) -> None:
        assert len(_spec_error_examples()) >= 30

    @pytest.mark.parametrize(("status", "example"), _spec_error_examples())
    def test_every_error_example_of_the_spec_keeps_its_code_and_message(
        self, status: int, example: Any
    ) -> None:
        error = error_from_response(status, body(example))
        inner = example.get("error") if isinstance(example.get("error"), dict) else example
        assert error.message == inner["message"]
        assert error.code == str(inner.get("code", inner.get("error_code")))
        assert inner["message"] in str(error)


class TestPickling:
    def test_api_errors_survive_pickling_with_their_fields(self) -> None:
        error = error_from_response(
            404,
            body({"code": "not_found", "message": "gone", "docs_url": "https://d"}),
            method="GET",
            path="/assets/a1",
            retry_after=None,
        )
        clone = pickle.loads(pickle.dumps(error))
        assert type(clone) is TwelveLabsNotFoundError
        assert vars(clone) == vars(error)
        assert str(clone) == str(error)

    def test_wait_errors_survive_pickling(self) -> None:
        failed = TwelveLabsResourceFailedError("asset", "a1", "video_file_broken")
        timeout = TwelveLabsWaitTimeoutError("indexed_asset", "x1", "indexing")
        assert str(pickle.loads(pickle.dumps(failed))) == "TwelveLabs asset a1 failed: video_file_broken"
        assert str(pickle.loads(pickle.dumps(timeout))) == (
            "Timed out waiting for TwelveLabs indexed_asset x1 (last status: indexing)"
        )
        assert "no reason given" in str(TwelveLabsResourceFailedError("asset", "a1", None))
