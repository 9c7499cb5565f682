"""The emulator's ASGI application.

Writing a route module
----------------------
A route module is a file ``routes_<area>.py`` in this package exposing ``routes: list[Route]``
(plain :class:`starlette.routing.Route` objects with full paths such as ``/v1.3/embed-v2/tasks``).
:func:`create_app` mounts every module listed in :data:`ROUTE_MODULES` that exists, in that order, so
a module that is not written yet is simply skipped. A handler:

* reads the state with ``state: EmulatorState = request.app.state.emulator`` (see ``state.py``:
  ``new_id()``, ``now()``/``timestamp()``, ``rng(*parts)``, ``new_lifecycle(steps, fail=...)``,
  ``resolve_media(id)``, ``list_indexed(index_id)``, ``collection(name)``) and its configuration as
  ``state.config``;
* parses input with the helpers of ``wire.py`` (``read_json``, ``parse_form``, ``parse_query``,
  ``page_params``/``paginate``) and answers with ``json_response`` / ``no_content``;
* fails by raising :class:`~airflow_provider_twelvelabs.testing.emulator.errors.APIError` (or
  ``not_found(...)``/``bad_request(...)``) with ``shape="flat"``, ``"nested"`` (embed v2) or
  ``"empty"``; the app renders it.

Authentication, the ``X-Ratelimit-*`` headers, rate limiting, fault injection and the request log are
applied around every route by :class:`EmulatorApp`, so handlers never deal with them.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import math
from collections.abc import MutableMapping
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import Receive, Scope, Send

from airflow_provider_twelvelabs.testing.emulator.config import EmulatorConfig
from airflow_provider_twelvelabs.testing.emulator.errors import APIError, ErrorShape, error_response
from airflow_provider_twelvelabs.testing.emulator.state import EmulatorState

__all__ = ["API_PREFIX", "ROUTE_MODULES", "EmulatorApp", "create_app", "rate_limit_bucket"]

#: Path prefix of the emulated API.
API_PREFIX = "/v1.3"
#: Value of the ``X-Api-Version`` header the docs say every response carries (format undocumented).
API_VERSION = "1.3"

#: Route modules mounted in this order (earlier modules win on overlapping paths).
ROUTE_MODULES = (
    "routes_multipart",
    "routes_assets",
    "routes_indexes",
    "routes_tasks",
    "routes_embed",
    "routes_analyze",
    "routes_analyze_async",
    "routes_search",
    "routes_control",
)

#: Nominal budget advertised in the ``X-Ratelimit-*`` headers when no limit is configured.
UNLIMITED_RPM = 1_000_000

_EMPTY_429_BUCKETS = ("search", "analyze")

Message = MutableMapping[str, Any]


def rate_limit_bucket(method: str, path: str) -> str:
    """Return the rate-limit bucket of an API request (the real API shares limits per category).

    :param method: the HTTP method.
    :param path: the request path, including the ``/v1.3`` prefix.
    """
    rest = path[len(API_PREFIX) :] if path.startswith(API_PREFIX) else path
    if rest.startswith("/search"):
        return "search"
    if rest.startswith(("/analyze", "/summarize", "/gist")):
        return "analyze"
    if rest.startswith("/embed"):
        return "embed"
    if method == "POST" and (rest == "/tasks" or rest.endswith("/indexed-assets")):
        return "indexing"
    return "other"


class EmulatorApp(Starlette):
    """Starlette app that adds the API's cross-cutting behaviour around every route.

    It wraps the Starlette stack directly (not as a middleware) so that it receives the server's own
    ``send`` callable, which is what makes a truly dropped connection possible.

    :param state: the emulator state, exposed as ``app.state.emulator``.
    :param routes: the routes to serve.
    """

    def __init__(self, state: EmulatorState, routes: list[BaseRoute]) -> None:
        super().__init__(
            routes=routes,
            exception_handlers={APIError: _api_error_handler, HTTPException: _http_error_handler},
        )
        self.state.emulator = state
        self.emulator = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection event, applying auth, rate limits, faults and logging."""
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        state = self.emulator
        path: str = scope["path"]
        method: str = scope["method"]
        entry: dict[str, Any] = {
            "method": method,
            "path": path,
            "query": scope.get("query_string", b"").decode("latin-1"),
            "status": None,
            "time": state.timestamp(),
        }
        with state.lock:
            state.request_log.append(entry)
            excess = len(state.request_log) - state.config.max_request_log
            if excess > 0:
                del state.request_log[:excess]

        async def logging_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                entry["status"] = message["status"]
            await send(message)

        if not path.startswith(API_PREFIX + "/") and path != API_PREFIX:
            await super().__call__(scope, receive, logging_send)
            return

        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if headers.get("x-api-key") != state.config.api_key:
            error = APIError(401, "api_key_invalid", "The API key you provided is not valid.")
            await error_response(error)(scope, receive, logging_send)
            return

        bucket = rate_limit_bucket(method, path)
        entry["bucket"] = bucket
        limit_headers, retry_after = self._count_request(bucket)
        nested = path.startswith(API_PREFIX + "/embed-v2")

        def with_limit_headers(inner: Send) -> Send:
            async def send_with_headers(message: Message) -> None:
                if message["type"] == "http.response.start":
                    extra = [(k.lower().encode(), v.encode()) for k, v in limit_headers.items()]
                    extra.append((b"x-api-version", API_VERSION.encode()))
                    message = {**message, "headers": [*message.get("headers", []), *extra]}
                await inner(message)

            return send_with_headers

        if retry_after is not None:
            entry["rate_limited"] = True
            error = self._too_many_requests(bucket, nested, retry_after, limit_headers)
            await error_response(error)(scope, receive, logging_send)
            return

        fault = await self._inject_fault(bucket, nested, send)
        if fault == "dropped":
            entry["status"] = 0
            entry["fault"] = "dropped"
            return
        if isinstance(fault, Response):
            entry["fault"] = fault.status_code
            await fault(scope, receive, with_limit_headers(logging_send))
            return
        if self._choose_lost_answer(method, path):
            # Processed in full (a create does create), then the answer never reaches the client.
            entry["fault"] = "answer_lost"
            start, _ = await self._process_captured(scope, receive)
            entry["answered"] = int(start.get("status", 0))
            entry["status"] = 0
            await _drop_connection(send)
            return
        malformed = self._choose_malformed(method, path)
        if malformed is not None:
            entry["malformed"] = malformed
            if malformed == "html_502":
                # A proxy that could not reach the API: the request is not processed.
                await _html_page(502, "Bad Gateway")(scope, receive, with_limit_headers(logging_send))
                return
            await self._spoiled(malformed, scope, receive, with_limit_headers(logging_send), send)
            return
        await super().__call__(scope, receive, with_limit_headers(logging_send))

    def _choose_lost_answer(self, method: str, path: str) -> bool:
        """Decide whether this request's answer is lost: a targeted ``lose_answers`` entry, or the rate."""
        state = self.emulator
        config = state.config
        rest = path[len(API_PREFIX) :]
        with state.lock:
            for pattern, count in list(config.lose_answers.items()):
                if count > 0 and _matches(pattern, method, rest):
                    if count > 1:
                        config.lose_answers[pattern] = count - 1
                    else:
                        del config.lose_answers[pattern]
                    return True
            if config.lose_answer_rate <= 0:
                return False
            if not _in_scope(method, rest, config.lose_answer_methods, config.lose_answer_paths):
                return False
            return state.fault_rng.random() < config.lose_answer_rate

    async def _process_captured(self, scope: Scope, receive: Receive) -> tuple[Message, bytes]:
        """Process the request to its end, keeping its answer to ourselves: its start message and body."""
        start: Message = {}
        body = bytearray()

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                body.extend(message.get("body", b""))

        await super().__call__(scope, receive, capture)
        return start, bytes(body)

    def _choose_malformed(self, method: str, path: str) -> str | None:
        """Decide, with the seeded fault generator, whether this answer is spoiled, and how."""
        state = self.emulator
        config = state.config
        if config.malformed_rate <= 0 or not config.malformed_kinds:
            return None
        if not _in_scope(method, path[len(API_PREFIX) :], config.malformed_methods, config.malformed_paths):
            return None
        with state.lock:
            if state.fault_rng.random() >= config.malformed_rate:
                return None
            return state.fault_rng.choice(config.malformed_kinds)

    async def _spoiled(self, kind: str, scope: Scope, receive: Receive, send: Send, raw_send: Send) -> None:
        """Process the request, then send its answer spoiled in the way ``kind`` says.

        :param kind: one of the ``MALFORMED_KINDS`` but ``html_502``.
        :param send: the send callable that adds the rate-limit headers and logs the status.
        :param raw_send: the server's own send callable (to break the connection off).
        """
        start, data = await self._process_captured(scope, receive)
        status: int = start.get("status", 200)
        original = list(start.get("headers", []))
        content_type = next((v for k, v in original if k.lower() == b"content-type"), b"application/json")
        headers = [(k, v) for k, v in original if k.lower() not in (b"content-length", b"content-type")]
        if kind == "truncated_json":
            data = data[: len(data) // 2]
        elif kind == "empty_200":
            status, data = 200, b""
        elif kind == "wrong_content_type":
            content_type = b"text/plain; charset=utf-8"
        elif kind == "html_200":
            status, content_type = 200, b"text/html; charset=utf-8"
            data = (
                b"<!DOCTYPE html><html><head><title>Sign in to the network</title></head><body></body></html>"
            )
        stalled = kind == "stalled_body"
        length = len(data)
        headers += [(b"content-type", content_type), (b"content-length", str(length).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        if not stalled:
            await send({"type": "http.response.body", "body": data})
            return
        await send({"type": "http.response.body", "body": data[: length // 2], "more_body": True})

        async def until_hung_up() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass

        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(until_hung_up(), self.emulator.config.malformed_stall_seconds)
            return  # the client gave up: nothing more to send
        await _drop_connection(raw_send, started=True)

    def _count_request(self, bucket: str) -> tuple[dict[str, str], int | None]:
        """Count a request against its bucket's fixed one-minute window.

        :return: the ``X-Ratelimit-*`` headers and, when over budget, the ``Retry-After`` seconds.
        """
        state = self.emulator
        limit = state.config.rate_limit_for(bucket)
        now = state.now().timestamp()
        window = int(now // 60) * 60
        with state.lock:
            start, used = state.rate_windows.get(bucket, (window, 0))
            if start != window:
                start, used = window, 0
            over = limit is not None and used >= limit
            if not over:
                used += 1
            state.rate_windows[bucket] = (start, used)
        budget = limit if limit is not None else UNLIMITED_RPM
        reset = start + 60
        headers = {
            "X-Ratelimit-Limit": str(budget),
            "X-Ratelimit-Remaining": str(max(budget - used, 0)),
            "X-Ratelimit-Used": str(used),
            "X-Ratelimit-Reset": str(reset),
        }
        return headers, (max(1, math.ceil(reset - now)) if over else None)

    @staticmethod
    def _too_many_requests(bucket: str, nested: bool, retry_after: int, headers: dict[str, str]) -> APIError:
        """Build the 429 answer of ``bucket``: empty for search/analyze, nested on embed v2, else flat."""
        limit = headers["X-Ratelimit-Limit"]
        return APIError(
            429,
            "too_many_requests",
            f"You have exceeded the rate limit ({limit} requests per minute). "
            f"Please retry after {retry_after} seconds.",
            shape="empty" if bucket in _EMPTY_429_BUCKETS else ("nested" if nested else "flat"),
            headers={**headers, "Retry-After": str(retry_after)},
        )

    async def _inject_fault(self, bucket: str, nested: bool, send: Send) -> Response | str | None:
        """Decide, with the seeded fault generator, whether this request meets a fault.

        :return: ``"dropped"`` when the connection was closed, a fault response, or ``None``.
        """
        state = self.emulator
        config = state.config
        rng = state.fault_rng
        with state.lock:
            drop = config.drop_rate > 0 and rng.random() < config.drop_rate
            slow = config.slow_rate > 0 and rng.random() < config.slow_rate
            status = None
            if config.fault_rate > 0 and config.fault_statuses and rng.random() < config.fault_rate:
                status = rng.choice(config.fault_statuses)
        if slow:
            await asyncio.sleep(config.slow_response_ms / 1000)
        if drop:
            await _drop_connection(send)
            return "dropped"
        if status is None:
            return None
        if status == 429:
            retry_after = 1
            headers = {"Retry-After": str(retry_after)}
            error = self._too_many_requests(bucket, nested, retry_after, {"X-Ratelimit-Limit": "0"})
            error.headers = headers
            return error_response(error)
        if status in (502, 503, 504):
            # Gateways answer these, not the API: an HTML page, as a load balancer would send.
            reason = {502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}[status]
            return _html_page(status, reason)
        shape: ErrorShape = "nested" if nested else "flat"
        return error_response(
            APIError(status, "internal_error", "An internal error occurred. Please try again.", shape=shape)
        )


def _in_scope(method: str, rest: str, methods: tuple[str, ...], paths: tuple[str, ...]) -> bool:
    """Whether a request is among ``methods`` and under one of ``paths`` (after /v1.3); empty: all."""
    if methods and method.upper() not in {m.upper() for m in methods}:
        return False
    return not paths or any(rest.startswith(p) for p in paths)


def _matches(pattern: str, method: str, rest: str) -> bool:
    """Whether ``"METHOD /a/*/b"`` names this request (``*`` is one path segment; no trailing slash)."""
    want_method, _, want_path = pattern.partition(" ")
    if want_method != method.upper():
        return False
    want, got = want_path.strip("/").split("/"), rest.strip("/").split("/")
    return len(want) == len(got) and all(w in ("*", g) for w, g in zip(want, got, strict=True))


def _html_page(status: int, reason: str) -> Response:
    """The HTML error page a gateway or load balancer answers with."""
    html = f"<html><head><title>{status} {reason}</title></head><body><h1>{reason}</h1></body></html>"
    return Response(html, status_code=status, media_type="text/html")


async def _drop_connection(send: Send, *, started: bool = False) -> None:
    """Close the client connection without sending any (further) response.

    Under uvicorn the ``send`` callable is a bound method of the connection's request cycle, which
    holds the asyncio transport; aborting it is what a crashed upstream looks like to a client. On
    another server, fall back to starting a response (unless ``started``) and breaking it off.
    """
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if cycle is not None and transport is not None and hasattr(transport, "abort"):
        if hasattr(cycle, "disconnected"):
            # Tell uvicorn the peer is gone so it does not try to send a 500 on the dead transport.
            cycle.disconnected = True
        transport.abort()
        return
    if not started:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"100")]})
    raise ConnectionAbortedError("emulated dropped connection")


async def _api_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, APIError)
    return error_response(exc)


async def _http_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        error = APIError(404, "not_found", "The requested URL was not found.", docs_url=False)
    elif exc.status_code == 405:
        error = APIError(405, "method_not_allowed", f"The method {request.method} is not allowed here.")
    else:
        error = APIError(exc.status_code, "parameter_invalid", str(exc.detail))
    return error_response(error)


def _load_routes() -> list[BaseRoute]:
    routes: list[BaseRoute] = []
    for name in ROUTE_MODULES:
        qualified = f"{__package__}.{name}"
        try:
            module = importlib.import_module(qualified)
        except ModuleNotFoundError as exc:
            if exc.name == qualified:
                continue  # not written (yet): the area is simply not served
            raise
        routes.extend(module.routes)
    return routes


def create_app(config: EmulatorConfig | None = None, state: EmulatorState | None = None) -> EmulatorApp:
    """Create the emulator's ASGI application.

    :param config: the configuration; defaults apply when ``None``.
    :param state: an existing state to serve (its configuration wins over ``config``).
    """
    state = state or EmulatorState(config)
    return EmulatorApp(state, _load_routes())
