"""TwelveLabsHook against a real HTTP server on 127.0.0.1: connection, retries, errors, encoding.

Every transport test goes through a socket to :class:`tests.helpers.http_server.RecordingServer`,
so what is asserted is what the API would receive and what a DAG author would see.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import logging
import threading
import time
from collections.abc import Callable
from email.utils import formatdate
from typing import Any

import pytest

from airflow_provider_twelvelabs.exceptions import (
    TwelveLabsAPIError,
    TwelveLabsAuthenticationError,
    TwelveLabsBadRequestError,
    TwelveLabsConflictError,
    TwelveLabsError,
    TwelveLabsNotFoundError,
    TwelveLabsPayloadTooLargeError,
    TwelveLabsRateLimitError,
    TwelveLabsServerError,
    TwelveLabsTransportError,
)
from airflow_provider_twelvelabs.hooks import endpoints as api
from airflow_provider_twelvelabs.hooks.endpoints import FilePart
from airflow_provider_twelvelabs.hooks.twelvelabs import RetryPolicy, TwelveLabsHook, redact_url
from tests.helpers.http_server import FormFile, RecordedRequest, RecordingServer, Reply
from tests.unit.hooks.conftest import API_KEY, FAST_RETRIES, set_connection

HookFactory = Callable[..., TwelveLabsHook]

ASSET = {"_id": "65f0a1b2c3d4e5f601234567", "status": "ready", "filename": "clip.mp4"}
INDEX = {"_id": "65f0a1b2c3d4e5f6aaaaaaaa", "index_name": "news"}


def gaps(requests: list[RecordedRequest]) -> list[float]:
    """Seconds between consecutive requests, as the server saw them arrive."""
    return [b.at - a.at for a, b in itertools.pairwise(requests)]


def video_part(content: bytes = b"\x00\x01VIDEO-BYTES" * 64) -> FilePart:
    return FilePart("file", "clip.mp4", lambda: io.BytesIO(content), "video/mp4")


# --------------------------------------------------------------------------- connection


class TestConnection:
    def test_json_env_connection_reaches_the_host_with_the_key(
        self, server: RecordingServer, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # The exact form the issue documents for AIRFLOW_CONN_TWELVELABS_DEFAULT.
        monkeypatch.setenv(
            "AIRFLOW_CONN_TWELVELABS_DEFAULT",
            json.dumps({"conn_type": "twelvelabs", "password": API_KEY, "host": server.base_url}),
        )
        server.on("GET", f"assets/{ASSET['_id']}", Reply(json=ASSET))

        asset = TwelveLabsHook().get_asset(ASSET["_id"])

        assert asset.id == ASSET["_id"]
        (request,) = server.requests
        assert request.target == f"/v1.3/assets/{ASSET['_id']}"
        assert request.header("x-api-key") == API_KEY
        assert request.body == b""
        assert request.header("content-type") is None

    def test_uri_connection_with_host_port_and_version_as_schema(
        self, server: RecordingServer, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("AIRFLOW_CONN_TL_URI", f"twelvelabs://:{API_KEY}@127.0.0.1:{server.port}/v1.3")
        server.on("GET", "indexes/i1", Reply(json={"_id": "i1"}))

        assert TwelveLabsHook("tl_uri").get_index("i1").id == "i1"
        assert server.requests[0].path == "/v1.3/indexes/i1"

    def test_empty_host_means_the_public_api(self, monkeypatch: pytest.MonkeyPatch) -> None:
        set_connection(monkeypatch, password=API_KEY)
        assert TwelveLabsHook().base_url == "https://api.twelvelabs.io/v1.3/"

    @pytest.mark.parametrize("host", ["{root}", "{root}/", "https://api.twelvelabs.io"])
    def test_base_url_without_version_path_is_rejected_before_any_request(
        self, server: RecordingServer, monkeypatch: pytest.MonkeyPatch, host: str
    ) -> None:
        set_connection(monkeypatch, password=API_KEY, host=host.format(root=server.root_url))

        with pytest.raises(ValueError, match=r"must include the API version path.*v1\.3"):
            TwelveLabsHook().get_asset("a1")
        assert server.requests == []

    def test_missing_api_key_is_a_clear_error(
        self, server: RecordingServer, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        set_connection(monkeypatch, host=server.base_url)

        with pytest.raises(TwelveLabsError, match=r"'twelvelabs_default' has no API key.*password"):
            TwelveLabsHook().get_asset("a1")
        assert server.requests == []

    def test_extras_configure_timeouts_and_retries(self, monkeypatch: pytest.MonkeyPatch) -> None:
        set_connection(
            monkeypatch,
            password=API_KEY,
            host="http://127.0.0.1:1/v1.3",
            extra=json.dumps(
                {
                    "timeout": "12.5",
                    "connect_timeout": 3,
                    "max_retries": 2,
                    "retry_base_delay": 0.25,
                    "retry_max_wait": 7,
                }
            ),
        )
        settings = TwelveLabsHook().settings

        assert settings.timeout == 12.5
        assert settings.connect_timeout == 3
        assert settings.retry == RetryPolicy(max_attempts=3, base_delay=0.25, max_wait=7)
        assert settings.httpx_timeout.read == 12.5
        assert settings.httpx_timeout.connect == 3

    def test_constructor_overrides_the_extras(self, monkeypatch: pytest.MonkeyPatch) -> None:
        set_connection(monkeypatch, password=API_KEY, extra=json.dumps({"timeout": 5, "max_retries": 4}))
        settings = TwelveLabsHook(timeout=30, max_retries=0).settings
        assert (settings.timeout, settings.retry.max_attempts) == (30, 1)

    def test_a_non_numeric_extra_names_the_field(self, monkeypatch: pytest.MonkeyPatch) -> None:
        set_connection(monkeypatch, password=API_KEY, extra=json.dumps({"timeout": "soon"}))
        with pytest.raises(ValueError, match="extra 'timeout' must be a number, got 'soon'"):
            TwelveLabsHook().settings  # noqa: B018 - reading the property is the action

    def test_ui_field_behaviour_relabels_the_form(self) -> None:
        behaviour = TwelveLabsHook.get_ui_field_behaviour()
        assert behaviour["relabeling"] == {"password": "API key", "host": "Base URL"}
        assert set(behaviour["hidden_fields"]) == {"schema", "login", "port"}
        assert behaviour["placeholders"]["host"] == "https://api.twelvelabs.io/v1.3"


class TestTestConnection:
    def test_ok_with_one_cheap_authenticated_call(
        self, make_hook: HookFactory, server: RecordingServer
    ) -> None:
        server.on("GET", "indexes", Reply(json={"data": [], "page_info": {"page": 1}}))

        ok, message = make_hook().test_connection()

        assert ok is True
        assert "works" in message
        (request,) = server.requests
        assert request.query == [("page", "1"), ("page_limit", "1")]
        assert request.header("x-api-key") == API_KEY

    def test_bad_key_reports_the_api_message(self, make_hook: HookFactory, server: RecordingServer) -> None:
        server.on(
            "GET",
            "indexes",
            Reply(401, json={"code": "api_key_invalid", "message": "The API key you provided is not valid."}),
        )

        ok, message = make_hook().test_connection()

        assert ok is False
        assert message == "401 api_key_invalid: The API key you provided is not valid."
        assert len(server.requests) == 1

    def test_error_without_code_reads_well(self, make_hook: HookFactory, server: RecordingServer) -> None:
        server.on("GET", "indexes", Reply(403, json={"message": "Your plan does not allow this."}))
        assert make_hook().test_connection() == (False, "403: Your plan does not allow this.")

    def test_unreachable_host_fails_fast(
        self, monkeypatch: pytest.MonkeyPatch, chosen_waits: list[float], capfd: pytest.CaptureFixture[str]
    ) -> None:
        # A closed port: the connection form's "Test" button must answer quickly, not after the
        # whole retry budget of a task (six attempts and about a minute of backoff).
        unbound = RecordingServer()  # bound, never listening: connections are refused
        try:
            set_connection(
                monkeypatch,
                password=API_KEY,
                host=unbound.base_url,
                extra=json.dumps({"retry_base_delay": 1}),
            )
            ok, message = TwelveLabsHook().test_connection()
        finally:
            unbound.close()
        assert ok is False
        assert "ConnectError" in message
        # One retry after at most 0.5 s, where a task would make six attempts over ~30 s.
        captured = capfd.readouterr()
        assert "(attempt 2 of 2)" in captured.out + captured.err
        assert chosen_waits[0] <= 0.5

    def test_against_the_emulator(self, twelvelabs_emulator: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        emulator = twelvelabs_emulator
        set_connection(monkeypatch, password=emulator.api_key, host=emulator.base_url)
        good = TwelveLabsHook().test_connection()
        set_connection(monkeypatch, password="tlk_wrong_key_0000000000", host=emulator.base_url)
        bad = TwelveLabsHook().test_connection()
        if good[0] is False and good[1].startswith("404"):
            pytest.skip("the emulator does not serve GET /indexes yet")
        assert good[0] is True
        assert bad[0] is False
        assert bad[1].startswith("401 ")


# --------------------------------------------------------------------------- retries


@pytest.fixture
def chosen_waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record every wait the retry policy picks (exact values; the server log gives real gaps)."""
    waits: list[float] = []
    original = RetryPolicy.wait

    def spy(self: RetryPolicy, state: Any) -> float:
        waits.append(original(self, state))
        return waits[-1]

    monkeypatch.setattr(RetryPolicy, "wait", spy)
    return waits


class TestRetryTiming:
    def test_429_with_retry_after_twice_then_success(
        self, make_hook: HookFactory, server: RecordingServer, chosen_waits: list[float]
    ) -> None:
        limited = Reply(
            429, json={"code": "too_many_requests", "message": "slow down"}, headers={"Retry-After": "1"}
        )
        server.on("GET", f"assets/{ASSET['_id']}", limited, limited, Reply(json=ASSET))

        asset = make_hook(retry_max_wait=60).get_asset(ASSET["_id"])

        assert asset.id == ASSET["_id"]
        assert len(server.requests) == 3
        first, second = gaps(server.requests)
        # The backoff configured is 10 ms: only Retry-After can explain these waits.
        assert first >= 1.0
        assert second >= 1.0
        assert server.requests[2].at - server.requests[0].at >= 2.0
        assert chosen_waits == [1.0, 1.0]

    def test_ratelimit_reset_is_honoured_without_retry_after(
        self, make_hook: HookFactory, server: RecordingServer, chosen_waits: list[float]
    ) -> None:
        def limited(_: RecordedRequest) -> Reply:
            # X-Ratelimit-Reset is the UTC epoch second at which the window resets.
            return Reply(429, headers={"X-Ratelimit-Reset": f"{time.time() + 1.2:.3f}"})

        server.on("POST", "search", limited, Reply(json={"data": []}))

        make_hook(retry_max_wait=60).search(index_id="i1", search_options=["visual"], query_text="goal")

        (gap,) = gaps(server.requests)
        assert gap >= 1.0
        (wait,) = chosen_waits
        # The header has millisecond precision: rounding can add up to half a millisecond.
        assert 1.0 <= wait <= 1.201

    def test_retry_after_as_an_http_date(
        self, make_hook: HookFactory, server: RecordingServer, chosen_waits: list[float]
    ) -> None:
        def limited(_: RecordedRequest) -> Reply:
            return Reply(503, headers={"Retry-After": formatdate(time.time() + 2, usegmt=True)})

        server.on("GET", "indexes/i1", limited, Reply(json=INDEX))

        make_hook(retry_max_wait=60).get_index("i1")

        # The date has whole seconds: the wait is between 1 and 2 s (10 ms without the header).
        (gap,) = gaps(server.requests)
        assert gap >= 0.9
        (wait,) = chosen_waits
        assert 0.9 <= wait <= 2.0

    def test_retry_after_is_capped_by_retry_max_wait(
        self, make_hook: HookFactory, server: RecordingServer, chosen_waits: list[float]
    ) -> None:
        server.on("GET", "indexes/i1", Reply(503, headers={"Retry-After": "30"}), Reply(json=INDEX))

        make_hook(retry_max_wait=0.2).get_index("i1")

        assert len(server.requests) == 2
        assert chosen_waits == [0.2]  # not the 30 s asked for

    def test_backoff_is_exponential_jittered_and_capped(self) -> None:
        policy = RetryPolicy(max_attempts=20, base_delay=0.5, max_wait=4.0)
        for attempt in range(1, 15):
            ceiling = min(4.0, 0.5 * 2 ** (attempt - 1))
            samples = [policy.backoff(attempt) for _ in range(200)]
            assert all(ceiling / 2 <= s <= ceiling for s in samples), attempt
            assert len(set(samples)) > 100, "no jitter"
        assert policy.backoff(5000) <= 4.0

    def test_backoff_between_real_attempts(
        self, make_hook: HookFactory, server: RecordingServer, chosen_waits: list[float]
    ) -> None:
        server.on("GET", "indexes/i1", Reply(500), Reply(500), Reply(500), Reply(500), Reply(json=INDEX))

        make_hook(retry_base_delay=0.1, retry_max_wait=0.15).get_index("i1")

        waits = gaps(server.requests)
        assert len(waits) == 4
        # Jittered halves of 0.1, 0.2 -> capped 0.15, 0.4 -> 0.15, 0.8 -> 0.15.
        assert 0.05 <= chosen_waits[0] <= 0.1
        assert all(0.075 <= w <= 0.15 for w in chosen_waits[1:])
        assert len(set(chosen_waits)) > 1
        # And the server really saw the requests that far apart.
        assert all(gap >= wait for gap, wait in zip(waits, chosen_waits, strict=True))


class TestRetryDecisions:
    @pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
    def test_retryable_statuses(self, make_hook: HookFactory, server: RecordingServer, status: int) -> None:
        server.on(
            "GET", "indexes/i1", Reply(status, json={"code": "x", "message": "try again"}), Reply(json=INDEX)
        )

        assert make_hook().get_index("i1").index_name == "news"
        assert len(server.requests) == 2

    @pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 413, 422])
    def test_other_4xx_raise_at_once(
        self, make_hook: HookFactory, server: RecordingServer, status: int
    ) -> None:
        server.on(
            "GET", "indexes/i1", Reply(status, json={"code": "nope", "message": "no"}), Reply(json=INDEX)
        )

        with pytest.raises(TwelveLabsAPIError) as info:
            make_hook().get_index("i1")

        assert info.value.status == status
        assert len(server.requests) == 1

    def test_gives_up_after_max_retries_with_the_last_error(
        self, make_hook: HookFactory, server: RecordingServer
    ) -> None:
        server.on("GET", "indexes/i1", Reply(503, json={"code": "unavailable", "message": "maintenance"}))

        with pytest.raises(TwelveLabsServerError, match="maintenance"):
            make_hook(max_retries=3).get_index("i1")
        assert len(server.requests) == 4

    def test_dropped_connection_is_retried(self, make_hook: HookFactory, server: RecordingServer) -> None:
        server.on("GET", "indexes/i1", Reply(drop=True), Reply(json=INDEX))

        assert make_hook().get_index("i1").id == INDEX["_id"]
        assert len(server.requests) == 2

    def test_read_timeout_is_retried_for_a_read(
        self, make_hook: HookFactory, server: RecordingServer
    ) -> None:
        server.on("GET", "indexes/i1", Reply(delay=1.0, json=INDEX), Reply(json=INDEX))

        assert make_hook(timeout=0.3).get_index("i1").id == INDEX["_id"]
        assert len(server.requests) == 2

    def test_connection_refused_is_retried(self, monkeypatch: pytest.MonkeyPatch) -> None:
        late = RecordingServer()  # bound but not listening yet: connecting is refused
        late.on("POST", "indexes", Reply(201, json=INDEX))
        set_connection(
            monkeypatch,
            password=API_KEY,
            host=late.base_url,
            extra=json.dumps({"retry_base_delay": 0.6, "max_retries": 4}),
        )
        opener = threading.Timer(0.1, late.listen)
        opener.start()
        try:
            # A create is re-sent after a connect error: the request provably never left.
            index = TwelveLabsHook().create_index(index_name="news", models=[{"model_name": "marengo3.0"}])
        finally:
            opener.join()
            late.close()
        assert index.id == INDEX["_id"]
        assert len(late.requests) == 1

    def test_create_is_not_resent_after_a_read_timeout(
        self, make_hook: HookFactory, server: RecordingServer
    ) -> None:
        server.on("POST", "indexes", Reply(201, delay=1.0, json=INDEX))

        with pytest.raises(TwelveLabsTransportError, match=r"POST /indexes got no answer: ReadTimeout"):
            make_hook(timeout=0.3).create_index(index_name="news", models=[{"model_name": "marengo3.0"}])
        time.sleep(0.1)
        assert len(server.requests) == 1

    def test_create_is_not_resent_after_a_dropped_connection(
        self, make_hook: HookFactory, server: RecordingServer
    ) -> None:
        server.on("POST", "assets", Reply(drop=True), Reply(201, json=ASSET))

        with pytest.raises(TwelveLabsTransportError, match="POST /assets got no answer"):
            make_hook().create_asset(method="url", url="https://example.com/v.mp4")
        assert len(server.requests) == 1

    def test_create_is_resent_after_a_429(self, make_hook: HookFactory, server: RecordingServer) -> None:
        # A 429 proves the request was refused, not processed: repeating it creates nothing twice.
        server.on("POST", "indexes", Reply(429), Reply(201, json=INDEX))

        make_hook().create_index(index_name="news", models=[{"model_name": "marengo3.0"}])
        assert len(server.requests) == 2

    def test_each_retry_is_logged_with_its_wait(
        self, make_hook: HookFactory, server: RecordingServer, capfd: pytest.CaptureFixture[str]
    ) -> None:
        server.on("GET", "indexes/i1", Reply(502), Reply(json=INDEX))

        make_hook().get_index("i1")

        # Hook logs go through Airflow's structlog to the task log (the console here), not caplog.
        captured = capfd.readouterr()
        logged = captured.out + captured.err
        assert "TwelveLabs GET /indexes/i1 answered 502; retrying in" in logged
        assert "attempt 2 of 6" in logged


# --------------------------------------------------------------------------- bodies on retries


class TestBodyRebuiltOnRetry:
    def test_multipart_upload_carries_its_whole_body_on_every_attempt(
        self, make_hook: HookFactory, server: RecordingServer
    ) -> None:
        content = bytes(range(256)) * 40
        server.on("POST", "assets", Reply(503), Reply(429), Reply(201, json=ASSET))

        make_hook().create_asset(
            method="direct",
            file=video_part(content),
            enable_hls=True,
            user_metadata={"source": "archive", "year": 2024},
        )

        assert len(server.requests) == 3
        expected = [
            ("method", "direct"),
            ("enable_hls", "true"),
            ("user_metadata", '{"source":"archive","year":2024}'),
            ("file", FormFile("clip.mp4", "video/mp4", content)),
        ]
        for request in server.requests:
            assert request.header("content-type").startswith("multipart/form-data; boundary=")
            assert request.form() == expected

    def test_search_form_keeps_repeated_options_on_every_attempt(
        self, make_hook: HookFactory, server: RecordingServer
    ) -> None:
        server.on("POST", "search", Reply(500), Reply(json={"data": [], "page_info": {}}))

        make_hook().search(
            index_id="i1", search_options=["visual", "audio"], query_text="a goal", filter={"id": ["v1"]}
        )

        forms = [r.form() for r in server.requests]
        assert len(forms) == 2
        for form in forms:
            assert form == [
                ("index_id", "i1"),
                ("search_options", "visual"),
                ("search_options", "audio"),
                ("query_text", "a goal"),
                ("filter", '{"id":["v1"]}'),
            ]

    def test_json_body_is_identical_on_every_attempt(
        self, make_hook: HookFactory, server: RecordingServer
    ) -> None:
        server.on("POST", "embed-v2", Reply(502), Reply(json={"data": []}))

        make_hook().create_embedding(
            {"input_type": "text", "model_name": "marengo3.0", "text": {"input_text": "hi"}}
        )

        first, second = server.bodies("POST", "embed-v2")
        assert first == second
        assert json.loads(first)["text"] == {"input_text": "hi"}

    async def test_async_multipart_retry_carries_the_file(
        self, make_hook: HookFactory, server: RecordingServer
    ) -> None:
        content = b"async-bytes" * 100
        server.on("POST", "assets", Reply(503), Reply(201, json=ASSET))
        hook = make_hook()

        await hook.arun(api.create_asset(method="direct", file=video_part(content)))

        files = [dict(r.form())["file"] for r in server.requests]
        assert files == [FormFile("clip.mp4", "video/mp4", content)] * 2
        await TwelveLabsHook.aclose_shared_clients()

    def test_file_is_reopened_and_closed_for_each_attempt(
        self, make_hook: HookFactory, server: RecordingServer
    ) -> None:
        handles: list[io.BytesIO] = []

        def opener() -> io.BytesIO:
            handles.append(io.BytesIO(b"data"))
            return handles[-1]

        server.on("POST", "tasks", Reply(500), Reply(json={"_id": "t1"}))

        make_hook().create_indexing_task(index_id="i1", video_file=FilePart("video_file", "v.mp4", opener))

        assert len(handles) == 2
        assert all(h.closed for h in handles)


# --------------------------------------------------------------------------- error mapping


ERROR_CASES = [
    pytest.param(
        401,
        {"code": "api_key_invalid", "message": "The API key is invalid.", "docs_url": "https://docs.x/401"},
        TwelveLabsAuthenticationError,
        ("api_key_invalid", "The API key is invalid.", "https://docs.x/401"),
        id="401",
    ),
    pytest.param(
        404,
        {"code": "not_found", "message": "The specified resource does not exist."},
        TwelveLabsNotFoundError,
        ("not_found", "The specified resource does not exist.", None),
        id="404",
    ),
    pytest.param(
        400,
        {"code": "parameter_invalid", "message": "page_limit must be <= 50", "docs_url": "https://docs.x/e"},
        TwelveLabsBadRequestError,
        ("parameter_invalid", "page_limit must be <= 50", "https://docs.x/e"),
        id="400-parameter_invalid",
    ),
    pytest.param(
        400,
        {"code": "resource_not_exist", "message": "Resource with id a1 does not exist in assets"},
        TwelveLabsNotFoundError,
        ("resource_not_exist", "Resource with id a1 does not exist in assets", None),
        id="400-resource_not_exist",
    ),
    pytest.param(
        429,
        None,
        TwelveLabsRateLimitError,
        (None, "Rate limit exceeded (the API sent no details).", None),
        id="429-empty-body",
    ),
    pytest.param(
        400,
        {"error": {"code": "parameter_invalid", "message": "text is too long", "details": {"field": "text"}}},
        TwelveLabsBadRequestError,
        ("parameter_invalid", "text is too long", None),
        id="embed-v2-nested",
    ),
    pytest.param(
        409, {"code": "conflict", "message": "busy"}, TwelveLabsConflictError, ("conflict", "busy", None)
    ),
    pytest.param(
        413,
        {"error": {"code": "payload_too_large", "message": "too big"}},
        TwelveLabsPayloadTooLargeError,
        ("payload_too_large", "too big", None),
    ),
    pytest.param(
        500,
        b"<html>Internal error</html>",
        TwelveLabsServerError,
        (None, "an HTML page from a proxy or gateway, not the API (Internal error)", None),
    ),
]


class TestErrors:
    @pytest.mark.parametrize(("status", "body", "cls", "fields"), ERROR_CASES)
    def test_error_answers_raise_the_matching_exception(
        self,
        make_hook: HookFactory,
        server: RecordingServer,
        status: int,
        body: Any,
        cls: type[TwelveLabsAPIError],
        fields: tuple[str | None, str, str | None],
    ) -> None:
        reply = Reply(status, body=body) if isinstance(body, bytes) else Reply(status, json=body)
        server.on("POST", "embed-v2", reply)

        with pytest.raises(cls) as info:
            make_hook(max_retries=0).create_embedding({"input_type": "text", "text": {"input_text": "x"}})

        error = info.value
        assert (error.code, error.message, error.docs_url) == fields
        assert error.status == status
        assert (error.method, error.path) == ("POST", "/embed-v2")
        assert fields[1] in str(error)
        assert str(error).startswith(f"TwelveLabs API error {status}")
        if isinstance(body, dict) and "error" in body:
            assert error.details == body["error"].get("details")

    def test_429_keeps_its_retry_after(self, make_hook: HookFactory, server: RecordingServer) -> None:
        server.on("POST", "analyze", Reply(429, headers={"Retry-After": "0"}))
        with pytest.raises(TwelveLabsRateLimitError) as info:
            make_hook(max_retries=1).analyze({"video_id": "v1", "prompt": "What happens?"})
        assert info.value.retry_after == 0
        assert len(server.requests) == 2


# --------------------------------------------------------------------------- secrets


class TestNoSecretLeaks:
    def test_api_key_never_in_logs_errors_or_reprs(
        self,
        make_hook: HookFactory,
        server: RecordingServer,
        caplog: pytest.LogCaptureFixture,
        capfd: pytest.CaptureFixture[str],
    ) -> None:
        caplog.set_level(logging.DEBUG)
        caplog.set_level(logging.DEBUG, logger="httpx")
        server.on(
            "GET", "indexes/i1", Reply(500), Reply(401, json={"code": "api_key_invalid", "message": "bad"})
        )
        server.on("GET", "indexes/i2", Reply(drop=True))
        hook = make_hook(max_retries=1)
        texts: list[str] = []

        with pytest.raises(TwelveLabsAuthenticationError) as auth:
            hook.get_index("i1")
        with pytest.raises(TwelveLabsTransportError) as transport:
            hook.get_index("i2")
        for error in (auth.value, transport.value):
            texts += [str(error), repr(error), repr(error.args)]
        texts += [repr(hook.settings), str(hook.settings), repr(hook), repr(vars(hook))]
        _, message = hook.test_connection()
        texts.append(message)
        captured = capfd.readouterr()
        texts += [caplog.text, captured.out, captured.err]

        assert server.requests[0].header("x-api-key") == API_KEY  # it was really sent
        assert "retrying" in captured.out + captured.err  # and the hook's logs were really captured
        assert "HTTP Request: GET" in caplog.text  # and so were httpx's
        for text in texts:
            assert API_KEY not in text

    async def test_async_settings_repr_hides_the_key(self, make_hook: HookFactory) -> None:
        settings = await make_hook().asettings()
        assert settings.api_key == API_KEY
        assert API_KEY not in repr(settings)

    SIGNED = "/bucket/upload-1/chunk-3?X-Amz-Signature=deadbeefSIGNATURE&X-Amz-Expires=3600"

    def test_put_chunk_sends_bytes_without_the_key_and_returns_the_etag(
        self, make_hook: HookFactory, server: RecordingServer
    ) -> None:
        server.on("PUT", "bucket/upload-1/chunk-3", Reply(headers={"ETag": '"abc123"'}))

        etag = make_hook().put_chunk(server.root_url + self.SIGNED, b"chunk-bytes")

        assert etag == "abc123"
        (request,) = server.requests
        assert request.body == b"chunk-bytes"
        assert request.header("x-api-key") is None
        assert request.header("content-type") == "application/octet-stream"

    @pytest.mark.parametrize(
        "reply",
        [Reply(403, body=b"<Error>SignatureDoesNotMatch</Error>"), Reply(200), Reply(drop=True)],
        ids=["refused", "no-etag", "dropped"],
    )
    def test_put_chunk_errors_and_logs_hide_the_signature(
        self,
        make_hook: HookFactory,
        server: RecordingServer,
        caplog: pytest.LogCaptureFixture,
        reply: Reply,
    ) -> None:
        # Airflow keeps httpx at WARNING; a user debugging uploads may lower it.
        caplog.set_level(logging.DEBUG, logger="httpx")
        server.on("PUT", "bucket/upload-1/chunk-3", reply)

        with pytest.raises(TwelveLabsError) as info:
            make_hook().put_chunk(server.root_url + self.SIGNED, b"x")

        assert "deadbeefSIGNATURE" not in str(info.value)
        assert "deadbeefSIGNATURE" not in repr(info.value)
        assert "deadbeefSIGNATURE" not in caplog.text
        assert "chunk-3" in str(info.value)

    def test_redact_url(self) -> None:
        assert redact_url("https://s3/b/k?X-Amz-Signature=s") == "https://s3/b/k?<redacted>"
        assert redact_url("https://s3/b/k") == "https://s3/b/k"


# --------------------------------------------------------------------------- sync and async


#: Each async method of the hook, with arguments, and the sync twin that must send the same request.
ASYNC_TWINS: list[tuple[str, tuple[Any, ...], dict[str, Any], str, dict[str, Any]]] = [
    ("aget_asset", ("a1",), {}, "assets/a1", ASSET),
    ("alist_assets_page", (), {"asset_ids": ["a1", "a2"], "page": 1, "page_limit": 50}, "assets", {}),
    (
        "aget_multipart_upload_status",
        ("u1",),
        {"page": 2, "page_limit": 10},
        "assets/multipart-uploads/u1",
        {},
    ),
    ("alist_indexed_assets_page", ("i1",), {"status": ["ready", "failed"]}, "indexes/i1/indexed-assets", {}),
    (
        "aget_indexed_asset",
        ("i1", "x1"),
        {"transcription": True},
        "indexes/i1/indexed-assets/x1",
        {"_id": "x1"},
    ),
    ("alist_indexing_tasks_page", (), {"index_id": "i1", "page": 3}, "tasks", {}),
    ("aget_indexing_task", ("t1",), {}, "tasks/t1", {"_id": "t1"}),
    (
        "aget_embedding_task_status",
        ("e1",),
        {},
        "embed-v2/tasks/e1",
        {"_id": "e1", "data": [{"float": [1.0]}]},
    ),
    ("alist_embedding_tasks_page", (), {"status": "processing"}, "embed-v2/tasks", {}),
    ("aget_video_embedding_task_status", ("v1",), {}, "embed/tasks/v1/status", {"_id": "v1"}),
]


class TestSyncAsyncTwins:
    @pytest.mark.parametrize(
        ("amethod", "args", "kwargs", "path", "answer"), ASYNC_TWINS, ids=lambda v: str(v)
    )
    async def test_sync_and_async_send_byte_identical_requests(
        self,
        make_hook: HookFactory,
        server: RecordingServer,
        amethod: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        path: str,
        answer: dict[str, Any],
    ) -> None:
        server.on("GET", path, Reply(json=answer))
        hook = make_hook()

        sync_result = await asyncio.to_thread(getattr(hook, amethod[1:]), *args, **kwargs)
        async_result = await getattr(hook, amethod)(*args, **kwargs)
        await TwelveLabsHook.aclose_shared_clients()

        sync_request, async_request = server.requests
        assert (async_request.method, async_request.target, async_request.body) == (
            sync_request.method,
            sync_request.target,
            sync_request.body,
        )
        assert async_request.headers == sync_request.headers
        assert async_result == sync_result

    def test_every_async_method_has_a_sync_twin_with_the_same_signature(self) -> None:
        import inspect

        # The transport entry points (arun, aget_conn...) differ on purpose; endpoint methods not.
        transport = {"arun", "astream_lines", "aget_conn", "asettings", "aclose_shared_clients"}
        twins = [
            name
            for name, _ in inspect.getmembers(TwelveLabsHook, inspect.iscoroutinefunction)
            if name.startswith("a") and name in vars(TwelveLabsHook) and name not in transport
        ]
        assert {t[0] for t in ASYNC_TWINS} <= set(twins)
        for name in twins:
            sync_signature = inspect.signature(getattr(TwelveLabsHook, name[1:]))
            async_signature = inspect.signature(getattr(TwelveLabsHook, name))
            assert sync_signature.parameters == async_signature.parameters, name

    async def test_arun_retries_like_run(self, make_hook: HookFactory, server: RecordingServer) -> None:
        limited = Reply(429, headers={"Retry-After": "1"})
        server.on(
            "GET", "embed-v2/tasks/e1", limited, Reply(503), Reply(json={"_id": "e1", "status": "ready"})
        )

        task = await make_hook(retry_max_wait=60).aget_embedding_task_status("e1")
        await TwelveLabsHook.aclose_shared_clients()

        assert task.status == "ready"
        first, _ = gaps(server.requests)
        assert first >= 1.0
        assert len(server.requests) == 3

    async def test_arun_raises_the_same_typed_errors(
        self, make_hook: HookFactory, server: RecordingServer
    ) -> None:
        server.on("GET", "tasks/t1", Reply(404, json={"code": "not_found", "message": "no task t1"}))
        with pytest.raises(TwelveLabsNotFoundError, match="no task t1"):
            await make_hook().aget_indexing_task("t1")
        await TwelveLabsHook.aclose_shared_clients()
        assert len(server.requests) == 1

    async def test_async_post_sends_the_same_form_as_sync(
        self, make_hook: HookFactory, server: RecordingServer
    ) -> None:
        server.on("POST", "search", Reply(json={"data": []}))
        hook = make_hook()
        call = api.search(index_id="i1", search_options=["visual", "audio"], query_text="q", operator="or")

        await asyncio.to_thread(hook.run, call)
        await hook.arun(call)
        await TwelveLabsHook.aclose_shared_clients()

        sync_request, async_request = server.requests
        assert async_request.form() == sync_request.form()

    async def test_async_path_never_reads_the_connection_synchronously_in_the_loop(
        self, make_hook: HookFactory, server: RecordingServer, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # A sync connection lookup inside the triggerer's event loop blocks every trigger.
        in_loop: list[bool] = []
        original = TwelveLabsHook.get_connection

        def spy(cls: type, *args: Any, **kwargs: Any) -> Any:
            try:
                asyncio.get_running_loop()
                in_loop.append(True)
            except RuntimeError:
                in_loop.append(False)
            return original(*args, **kwargs)

        # A classmethod, as the original is: common-compat's lookup calls it on the hook instance.
        monkeypatch.setattr(TwelveLabsHook, "get_connection", classmethod(spy))
        server.on("GET", "tasks/t1", Reply(json={"_id": "t1", "status": "ready"}))

        task = await make_hook().aget_indexing_task("t1")
        await TwelveLabsHook.aclose_shared_clients()

        assert task.status == "ready"
        assert True not in in_loop

    async def test_sync_and_async_answers_report_their_rate_limit_headers(
        self, server: RecordingServer, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from airflow_provider_twelvelabs.hooks.twelvelabs import RateLimitInfo

        headers = {
            "X-Ratelimit-Limit": "600",
            "X-Ratelimit-Remaining": "599",
            "X-Ratelimit-Reset": "1900000000",
        }
        server.on("GET", "tasks/t1", Reply(json={"_id": "t1", "status": "ready"}, headers=headers))
        server.on("GET", "embed-v2/tasks/e1", Reply(429, headers={"Retry-After": "0"}))
        set_connection(monkeypatch, password=API_KEY, host=server.base_url, extra=json.dumps(FAST_RETRIES))
        seen: list[RateLimitInfo] = []
        hook = TwelveLabsHook(max_retries=0, on_rate_limit=seen.append)

        await asyncio.to_thread(hook.get_indexing_task, "t1")
        await hook.aget_indexing_task("t1")
        with pytest.raises(TwelveLabsAPIError):
            await hook.aget_embedding_task_status("e1")
        await TwelveLabsHook.aclose_shared_clients()
        hook.close()

        reported = RateLimitInfo(limit=600, remaining=599, reset=1900000000.0)
        assert seen[:2] == [reported, reported]
        assert seen[2].throttled

    async def test_async_hooks_of_one_connection_share_one_client(self, make_hook: HookFactory) -> None:
        first, second = make_hook(), make_hook()
        assert await first.aget_conn() is await second.aget_conn()
        await TwelveLabsHook.aclose_shared_clients()


# --------------------------------------------------------------------------- encoding


class TestEncoding:
    def test_form_booleans_json_strings_and_dropped_nones(
        self, make_hook: HookFactory, server: RecordingServer
    ) -> None:
        server.on("POST", "assets", Reply(201, json=ASSET))

        make_hook().create_asset(
            method="url",
            url="https://example.com/v.mp4",
            enable_hls=False,
            enable_thumbnail=True,
            user_metadata={"tags": ["a", "b"], "nested": {"k": None}},
        )

        (request,) = server.requests
        assert request.form() == [
            ("method", "url"),
            ("url", "https://example.com/v.mp4"),
            ("enable_hls", "false"),
            ("enable_thumbnail", "true"),
            ("user_metadata", '{"tags":["a","b"],"nested":{"k":null}}'),
        ]

    def test_form_without_a_file_is_still_multipart(
        self, make_hook: HookFactory, server: RecordingServer
    ) -> None:
        server.on("POST", "embed/tasks", Reply(json={"_id": "t1"}))

        make_hook().create_video_embedding_task(
            model_name="marengo3.0",
            video_url="https://e/v.mp4",
            video_clip_length=6,
            video_start_offset_sec=0.0,
        )

        (request,) = server.requests
        assert request.header("content-type").startswith("multipart/form-data")
        assert request.form() == [
            ("model_name", "marengo3.0"),
            ("video_url", "https://e/v.mp4"),
            ("video_start_offset_sec", "0.0"),
            ("video_clip_length", "6"),
        ]

    def test_query_repeats_keys_and_uses_deep_objects(
        self, make_hook: HookFactory, server: RecordingServer
    ) -> None:
        server.on("GET", "indexes/i1/indexed-assets", Reply(json={"data": []}))

        make_hook().list_indexed_assets_page(
            "i1", status=["ready", "failed"], user_metadata={"category": "news"}, page=2, page_limit=25
        )

        (request,) = server.requests
        assert request.query == [
            ("status", "ready"),
            ("status", "failed"),
            ("user_metadata[category]", "news"),
            ("page", "2"),
            ("page_limit", "25"),
        ]
        assert "user_metadata%5Bcategory%5D=news" in request.raw_query

    def test_query_booleans_are_lowercase(self, make_hook: HookFactory, server: RecordingServer) -> None:
        server.on("DELETE", "assets/a1", Reply(204))
        make_hook().delete_asset("a1", force=True)
        assert server.requests[0].raw_query == "force=true"

    @pytest.mark.parametrize(
        ("asset_id", "sent"),
        [("a/../../indexes", "a%2F..%2F..%2Findexes"), ("a?b=1#c", "a%3Fb%3D1%23c"), ("é x", "%C3%A9%20x")],
    )
    def test_path_segments_are_quoted(
        self, make_hook: HookFactory, server: RecordingServer, asset_id: str, sent: str
    ) -> None:
        server.on("GET", f"assets/{sent}", Reply(json=ASSET))
        make_hook().get_asset(asset_id)
        assert server.requests[0].target == f"/v1.3/assets/{sent}"

    @pytest.mark.parametrize("bad", ["", None, 12])
    def test_empty_or_non_string_ids_are_refused_before_sending(
        self, make_hook: HookFactory, bad: Any
    ) -> None:
        with pytest.raises(ValueError, match="non-empty id"):
            make_hook().get_asset(bad)


class TestStreaming:
    LINES = [
        '{"event_type": "stream_start", "metadata": {"generation_id": "g1"}}',
        "",
        "   ",
        "this is not json",
        "[1, 2]",
        '{"event_type": "text_generation", "text": "A dog "}',
        '{"event_type": "text_generation", "text": "runs."}',
        '{"event_type": "stream_end", "finish_reason": "stop", "usage": {"output_tokens": 3}}',
    ]

    def test_analyze_stream_yields_events_and_skips_junk(
        self, make_hook: HookFactory, server: RecordingServer
    ) -> None:
        server.on("POST", "analyze", Reply(lines=self.LINES))

        events = list(make_hook().analyze_stream({"video_id": "v1", "prompt": "What happens?"}))

        assert [e["event_type"] for e in events] == [
            "stream_start",
            "text_generation",
            "text_generation",
            "stream_end",
        ]
        assert "".join(e.get("text", "") for e in events) == "A dog runs."
        assert server.requests[0].json() == {"video_id": "v1", "prompt": "What happens?", "stream": True}

    def test_opening_a_stream_is_retried_and_errors_are_typed(
        self, make_hook: HookFactory, server: RecordingServer
    ) -> None:
        server.on("POST", "analyze", Reply(503), Reply(lines=self.LINES[:1]))
        assert len(list(make_hook().analyze_stream({"video_id": "v1", "prompt": "p"}))) == 1

        server.on("POST", "analyze", Reply(400, json={"code": "token_limit_exceeded", "message": "too long"}))
        with pytest.raises(TwelveLabsBadRequestError, match="too long"):
            list(make_hook().analyze_stream({"video_id": "v1", "prompt": "p"}))

    async def test_astream_lines_matches_the_sync_stream(
        self, make_hook: HookFactory, server: RecordingServer
    ) -> None:
        server.on("POST", "analyze", Reply(lines=self.LINES))
        hook = make_hook()
        call = api.analyze({"video_id": "v1", "prompt": "p"}, stream=True)

        events = [e async for e in hook.astream_lines(call)]
        await TwelveLabsHook.aclose_shared_clients()

        assert events == list(hook.stream_lines(call))
        assert server.requests[0].body == server.requests[1].body

    def test_analyze_without_stream_asks_for_one_json_answer(
        self, make_hook: HookFactory, server: RecordingServer
    ) -> None:
        server.on("POST", "analyze", Reply(json={"id": "g1", "data": "A dog runs.", "finish_reason": "stop"}))
        result = make_hook().analyze({"video": {"type": "asset_id", "asset_id": "a1"}, "prompt": "p"})
        assert result.data == "A dog runs."
        assert server.requests[0].json()["stream"] is False


class TestPagination:
    @staticmethod
    def pages(*sizes: int, total_page: int | None = None) -> Callable[[RecordedRequest], Reply]:
        def answer(request: RecordedRequest) -> Reply:
            page = int(dict(request.query)["page"])
            size = sizes[page - 1] if page <= len(sizes) else 0
            items = [{"_id": f"p{page}-{n}", "index_name": f"ix{page}{n}"} for n in range(size)]
            info = {
                "page": page,
                "limit_per_page": 50,
                "total_page": total_page or len(sizes),
                "total_results": 0,
            }
            return Reply(json={"data": items, "page_info": info})

        return answer

    def test_walks_every_page_and_stops_on_an_empty_data_page(
        self, make_hook: HookFactory, server: RecordingServer
    ) -> None:
        server.on("GET", "indexes", self.pages(2, 2, 1))

        ids = [index.id for index in make_hook().list_indexes()]

        assert ids == ["p1-0", "p1-1", "p2-0", "p2-1", "p3-0"]
        assert [dict(r.query)["page"] for r in server.requests] == ["1", "2", "3", "4"]
        assert all(dict(r.query)["page_limit"] == "50" for r in server.requests)

    def test_does_not_trust_total_page(self, make_hook: HookFactory, server: RecordingServer) -> None:
        # The API (and the official SDK) only signal the end with an empty page.
        server.on("GET", "indexes", self.pages(1, 1, total_page=1))
        assert len(list(make_hook().list_indexes())) == 2

    def test_null_data_also_ends_the_walk(self, make_hook: HookFactory, server: RecordingServer) -> None:
        server.on("GET", "tasks", Reply(json={"data": None, "page_info": {"page": 1}}))
        assert list(make_hook().list_indexing_tasks()) == []
        assert len(server.requests) == 1

    def test_max_pages_caps_the_walk(self, make_hook: HookFactory, server: RecordingServer) -> None:
        server.on("GET", "indexes", self.pages(1, 1, 1, 1))
        hook = make_hook()
        items = list(hook.paginate(lambda page: api.list_indexes(page=page), max_pages=2))
        assert len(items) == 2
        assert len(server.requests) == 2


class TestClientLifecycle:
    def test_one_pooled_client_reused_and_closed(
        self, make_hook: HookFactory, server: RecordingServer
    ) -> None:
        server.on("GET", "indexes/i1", Reply(json=INDEX))
        hook = make_hook()
        hook.get_index("i1")
        client = hook.get_conn()
        hook.get_index("i1")

        assert hook.get_conn() is client
        hook.close()
        assert client.is_closed

    def test_context_manager_closes(self, make_hook: HookFactory) -> None:
        with make_hook() as hook:
            client = hook.get_conn()
        assert client.is_closed
