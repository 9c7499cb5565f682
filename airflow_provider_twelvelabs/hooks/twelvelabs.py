"""The TwelveLabs hook: connection, transport, retries, and one method per API call."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import importlib
import json
import logging
import random
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from functools import cached_property
from typing import IO, TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import httpx
from airflow.providers.common.compat.sdk import BaseHook
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
)

from airflow_provider_twelvelabs import __version__
from airflow_provider_twelvelabs.exceptions import (
    TwelveLabsAPIError,
    TwelveLabsError,
    TwelveLabsMalformedResponseError,
    TwelveLabsTransportError,
    error_from_response,
)
from airflow_provider_twelvelabs.hooks import endpoints as api
from airflow_provider_twelvelabs.hooks.endpoints import ApiCall, FilePart
from airflow_provider_twelvelabs.hooks.json_stream import JsonItemStream, JsonStreamError
from airflow_provider_twelvelabs.models import (
    AnalyzeBatch,
    AnalyzeBatchResult,
    AnalyzeResult,
    AnalyzeTask,
    Asset,
    EmbeddingResult,
    EmbedV1Task,
    EmbedV2Task,
    GistResult,
    Index,
    IndexedAsset,
    IndexingTask,
    MultipartSession,
    MultipartUploadStatus,
    Page,
    PresignedUrls,
    ReportChunksResult,
    SearchPage,
    SummarizeResult,
)

if TYPE_CHECKING:
    from airflow_provider_twelvelabs.hooks.multipart import MultipartCheckpoint

__all__ = ["RateLimitInfo", "RetryPolicy", "TwelveLabsHook", "redact_url"]

T = TypeVar("T")

DEFAULT_BASE_URL = "https://api.twelvelabs.io/v1.3"
DEFAULT_TIMEOUT = 60.0
DEFAULT_CONNECT_TIMEOUT = 10.0
#: Statuses worth another attempt: rate limited, request timeout, and server-side failures.
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
#: Transport errors after which the request provably never reached the server.
_NOT_SENT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
#: Network read size of streamed answers.
_STREAM_CHUNK_BYTES = 64 * 1024
#: Answers larger than this are parsed in a thread by the async transport, off the event loop.
_PARSE_IN_THREAD_BYTES = 256 * 1024

log = logging.getLogger(__name__)


class _RedactPresignedUrls(logging.Filter):
    """Strip the query string from httpx's ``HTTP Request: PUT <url>`` log lines.

    Chunk PUTs go to presigned URLs whose query is a credential. Airflow keeps httpx at WARNING,
    but a user debugging uploads may lower it, and the signature must not reach the task log then.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) > 1 and args[0] == "PUT":
            record.args = (args[0], redact_url(str(args[1])), *args[2:])
        return True


def _redact_presigned_urls_in_httpx_logs() -> None:
    httpx_logger = logging.getLogger("httpx")
    if not any(isinstance(f, _RedactPresignedUrls) for f in httpx_logger.filters):
        httpx_logger.addFilter(_RedactPresignedUrls())


def redact_url(url: str) -> str:
    """Return ``url`` without its query string, which for presigned URLs is a credential.

    :param url: any URL.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable url>"
    query = "<redacted>" if parts.query else ""
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


@dataclass(frozen=True)
class RetryPolicy:
    """How the hook retries: attempts, exponential backoff with jitter, and the longest wait.

    ``Retry-After`` (seconds or an HTTP date) and ``X-Ratelimit-Reset`` (epoch seconds) on an
    answer take precedence over the computed backoff, up to ``max_wait``.

    :param max_attempts: attempts in all, the first one included.
    :param base_delay: the first backoff, doubled at each further attempt.
    :param max_wait: the cap on any single wait, in seconds.
    """

    max_attempts: int = 6
    base_delay: float = 1.0
    max_wait: float = 60.0

    def backoff(self, attempt: int) -> float:
        """Return the jittered exponential wait after the ``attempt``-th failed attempt.

        :param attempt: 1 for the first failed attempt.
        """
        # The exponent is bounded so that a very large retry budget cannot overflow a float.
        delay = min(self.max_wait, self.base_delay * (2 ** min(attempt - 1, 62)))
        # Full jitter would sometimes retry at once; keep at least half the delay.
        return delay * (0.5 + random.random() / 2)  # noqa: S311 - jitter, not cryptography

    def wait(self, state: RetryCallState) -> float:
        """Return how long to wait before the next attempt (a tenacity ``wait`` callable).

        :param state: tenacity's record of the call so far.
        """
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, TwelveLabsAPIError) and exc.retry_after is not None:
            return max(0.0, min(self.max_wait, exc.retry_after))
        return self.backoff(state.attempt_number)


@dataclass(frozen=True)
class _Settings:
    """What the hook reads from its connection. The API key never shows in a repr."""

    base_url: str
    api_key: str = field(repr=False)
    timeout: float
    connect_timeout: float
    retry: RetryPolicy

    @property
    def headers(self) -> dict[str, str]:
        return {
            "x-api-key": self.api_key,
            "user-agent": f"airflow-provider-twelvelabs/{__version__}",
            "accept": "application/json",
        }

    @property
    def httpx_timeout(self) -> httpx.Timeout:
        return httpx.Timeout(self.timeout, connect=self.connect_timeout)


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds to wait that an answer asks for, from ``Retry-After`` or ``X-Ratelimit-Reset``."""
    value = response.headers.get("retry-after")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            with contextlib.suppress(TypeError, ValueError):
                return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    if response.status_code == 429:
        reset = response.headers.get("x-ratelimit-reset")
        if reset:
            with contextlib.suppress(ValueError):
                number = float(reset)
                # Epoch seconds per the API docs; small numbers are read as a delay.
                return max(0.0, number - time.time()) if number > 1e9 else max(0.0, number)
    return None


@dataclass(frozen=True)
class RateLimitInfo:
    """The rate-limit state an answer reported in its ``X-Ratelimit-*`` headers.

    :param limit: requests allowed per window.
    :param remaining: requests left in the current window.
    :param reset: UTC epoch seconds when the window resets.
    :param throttled: whether the answer was a 429.
    """

    limit: int | None
    remaining: int | None
    reset: float | None
    throttled: bool = False

    @classmethod
    def from_response(cls, response: httpx.Response) -> RateLimitInfo:
        """Read the headers of an answer.

        :param response: the answer.
        """

        def number(name: str) -> float | None:
            value = response.headers.get(name)
            if value is None:
                return None
            try:
                return float(value)
            except ValueError:
                return None

        limit, remaining = number("x-ratelimit-limit"), number("x-ratelimit-remaining")
        return cls(
            limit=None if limit is None else int(limit),
            remaining=None if remaining is None else int(remaining),
            reset=number("x-ratelimit-reset"),
            throttled=response.status_code == 429,
        )


def _check(call: ApiCall[Any], response: httpx.Response, body: bytes) -> None:
    if response.is_success:
        return
    raise error_from_response(
        response.status_code,
        body,
        method=call.method,
        path="/" + call.path,
        retry_after=_retry_after(response),
    )


def _decode(body: bytes) -> Any:
    if not body or not body.strip():
        return None
    return json.loads(body)


def _malformed(
    call: ApiCall[Any], response: httpx.Response, problem: str
) -> TwelveLabsMalformedResponseError:
    content_type = response.headers.get("content-type") or "no content type"
    return TwelveLabsMalformedResponseError(
        response.status_code,
        "malformed_response",
        f"{problem} [{content_type}]",
        method=call.method,
        path="/" + call.path,
    )


def _undecodable(body: bytes, exc: Exception) -> str:
    """Say why a non-empty body is not JSON, in words a task log can show."""
    head = body.lstrip()[:200].lower()
    if head.startswith((b"<!doctype html", b"<html")) or b"<html" in head:
        return "an HTML page instead of JSON (a proxy or gateway answered?)"
    if isinstance(exc, json.JSONDecodeError):
        if exc.pos >= len(body.rstrip()) - 1 or exc.msg.startswith("Unterminated"):
            return f"truncated JSON ({len(body)} bytes; {exc.msg} at byte {exc.pos})"
        return f"invalid JSON ({exc.msg} at byte {exc.pos})"
    if isinstance(exc, UnicodeDecodeError):
        return "a body that is not UTF-8 text"
    return f"a body that is not JSON ({type(exc).__name__})"


def _parse_answer(call: ApiCall[T], response: httpx.Response, body: bytes) -> T:
    """Decode and parse a success answer.

    :raises TwelveLabsMalformedResponseError: when the body is not JSON (truncated, an HTML page),
        is empty where the call expects content, or does not fit the call's model. Never a raw
        ``JSONDecodeError``, ``ValidationError`` or ``KeyError``.
    """
    try:
        payload = _decode(body)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise _malformed(call, response, _undecodable(body, exc)) from None
    if payload is None and call.parse is not api.nothing and response.status_code != 204:
        raise _malformed(call, response, "an empty body where a JSON answer was expected")
    try:
        return call.parse(payload)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        first = str(exc).strip().splitlines()
        detail = first[0] if first else type(exc).__name__
        raise _malformed(call, response, f"JSON that does not fit the expected answer ({detail})") from None


class _RequestBuilder:
    """Builds a fresh httpx request for each attempt of an :class:`ApiCall`.

    Files are reopened for every attempt, so a retried form request carries its full body.
    """

    def __init__(self, call: ApiCall[Any]) -> None:
        self.call = call
        self._opened: list[IO[bytes]] = []

    def build(self, client: httpx.Client | httpx.AsyncClient) -> httpx.Request:
        self.close()
        call = self.call
        kwargs: dict[str, Any] = {"params": list(call.params) or None}
        if call.is_form:
            files: list[tuple[str, Any]] = []
            for part in call.files:
                handle = part.open()
                self._opened.append(handle)
                files.append((part.field, (part.filename, handle, part.content_type)))
            kwargs["data"] = _MultiDict(call.form or ())
            # httpx only switches to multipart when files are given; the API wants multipart for
            # every form endpoint, with or without a file, so force it with an empty marker list.
            kwargs["files"] = files or _FORCE_MULTIPART
        elif call.json is not None:
            kwargs["json"] = call.json
        return client.build_request(call.method, call.path, **kwargs)

    def close(self) -> None:
        for handle in self._opened:
            with contextlib.suppress(Exception):
                handle.close()
        self._opened.clear()


class _MultiDict(dict[str, Any]):
    """A form mapping that keeps repeated keys, in the way httpx encodes list values."""

    def __init__(self, pairs: Sequence[tuple[str, str]]) -> None:
        grouped: dict[str, list[str]] = {}
        for key, value in pairs:
            grouped.setdefault(key, []).append(value)
        super().__init__({k: v if len(v) > 1 else v[0] for k, v in grouped.items()})


class _ForceMultipart(list[Any]):
    """An empty file list that is still truthy, so httpx encodes the form as multipart."""

    def __bool__(self) -> bool:
        return True


_FORCE_MULTIPART = _ForceMultipart()

# Triggers of one connection in one triggerer share one AsyncClient per event loop: creating a
# client costs a TLS context (~26 ms CPU, ~0.9 MB), and a triggerer runs up to 1,000 triggers.
_shared_async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[Any, ...], Any]] = (
    weakref.WeakKeyDictionary()
)


_client_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[Any, ...], asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)
#: Modules httpx imports on its first async request; imported with the client, off the event loop.
_ASYNC_TRANSPORT_MODULES = ("httpcore._backends.anyio", "anyio._backends._asyncio", "anyio.streams.tls")


def _new_async_client(settings: _Settings) -> httpx.AsyncClient:
    """Build a shared async client (blocking: TLS context, lazy imports), meant for a worker thread."""
    for name in _ASYNC_TRANSPORT_MODULES:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    return httpx.AsyncClient(
        base_url=settings.base_url,
        headers=settings.headers,
        timeout=settings.httpx_timeout,
        follow_redirects=True,
        limits=httpx.Limits(max_connections=50, max_keepalive_connections=20),
    )


class TwelveLabsHook(BaseHook):
    """Talk to the TwelveLabs API.

    The connection's password is the API key and its host the base URL, version path included
    (default ``https://api.twelvelabs.io/v1.3``). Extras: ``timeout`` (seconds per request),
    ``connect_timeout``, ``max_retries`` (further attempts after the first), ``retry_base_delay``
    and ``retry_max_wait`` (seconds).

    Every endpoint method has an ``a``-prefixed async twin where a trigger needs it; both run the
    same :mod:`~airflow_provider_twelvelabs.hooks.endpoints` description through one retry policy.

    :param twelvelabs_conn_id: the Airflow connection id.
    :param timeout: overrides the connection's request timeout, in seconds.
    :param max_retries: overrides the connection's number of retries.
    :param on_rate_limit: called with the ``X-Ratelimit-*`` state of every API answer, sync or
        async (the triggers' shared poller paces itself with it).
    """

    conn_name_attr = "twelvelabs_conn_id"
    default_conn_name = "twelvelabs_default"
    conn_type = "twelvelabs"
    hook_name = "TwelveLabs"

    def __init__(
        self,
        twelvelabs_conn_id: str = default_conn_name,
        *,
        timeout: float | None = None,
        max_retries: int | None = None,
        on_rate_limit: Callable[[RateLimitInfo], None] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.twelvelabs_conn_id = twelvelabs_conn_id
        self._timeout_override = timeout
        self._max_retries_override = max_retries
        self._on_rate_limit = on_rate_limit
        self._client: httpx.Client | None = None
        self._async_settings: _Settings | None = None

    # ------------------------------------------------------------------ connection form

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Relabel the connection form: the password is the API key, the host the base URL."""
        return {
            "hidden_fields": ["schema", "login", "port"],
            "relabeling": {"password": "API key", "host": "Base URL"},
            "placeholders": {
                "host": DEFAULT_BASE_URL,
                "password": "tlk_...",
                "extra": json.dumps({"timeout": DEFAULT_TIMEOUT, "max_retries": 5}),
            },
        }

    # ------------------------------------------------------------------ settings and clients

    def _settings_from(self, conn: Any) -> _Settings:
        extra = conn.extra_dejson if conn.extra else {}

        def opt(name: str, default: float) -> float:
            value = extra.get(name, extra.get(f"extra__twelvelabs__{name}"))
            if value in (None, ""):
                return default
            try:
                return float(value)
            except (TypeError, ValueError):
                raise ValueError(
                    f"Connection {self.twelvelabs_conn_id!r}: extra {name!r} must be a number, got {value!r}"
                ) from None

        api_key = conn.password or extra.get("api_key")
        if not api_key:
            raise TwelveLabsError(
                f"Connection {self.twelvelabs_conn_id!r} has no API key: set its password to the TwelveLabs "
                "API key."
            )
        self._mask(api_key)
        retries = self._max_retries_override
        if retries is None:
            retries = int(opt("max_retries", RetryPolicy.max_attempts - 1))
        policy = RetryPolicy(
            max_attempts=max(1, retries + 1),
            base_delay=opt("retry_base_delay", RetryPolicy.base_delay),
            max_wait=opt("retry_max_wait", RetryPolicy.max_wait),
        )
        return _Settings(
            base_url=self._base_url(conn),
            api_key=api_key,
            timeout=self._timeout_override or opt("timeout", DEFAULT_TIMEOUT),
            connect_timeout=opt("connect_timeout", DEFAULT_CONNECT_TIMEOUT),
            retry=policy,
        )

    def _base_url(self, conn: Any) -> str:
        host = (conn.host or "").strip()
        if not host:
            return DEFAULT_BASE_URL + "/"
        if "://" not in host:
            scheme = "http" if host.startswith(("127.", "localhost")) else "https"
            port = f":{conn.port}" if conn.port else ""
            path = f"/{conn.schema.strip('/')}" if conn.schema else ""
            host = f"{scheme}://{host}{port}{path}"
        url = host.rstrip("/")
        if not urlsplit(url).path.strip("/"):
            raise ValueError(
                f"Connection {self.twelvelabs_conn_id!r}: the base URL {url!r} must include the API version "
                f"path, e.g. {DEFAULT_BASE_URL!r}"
            )
        return url + "/"

    @staticmethod
    def _mask(secret: str) -> None:
        with contextlib.suppress(Exception):
            from airflow.providers.common.compat.sdk import mask_secret

            mask_secret(secret)

    @cached_property
    def settings(self) -> _Settings:
        """The connection's settings, read once (sync lookup: not for use inside an event loop)."""
        return self._settings_from(self.get_connection(self.twelvelabs_conn_id))

    async def asettings(self) -> _Settings:
        """The connection's settings, read once with the async connection lookup."""
        if self._async_settings is None:
            if "settings" in self.__dict__:
                self._async_settings = self.settings
            else:
                from airflow.providers.common.compat.connection import get_async_connection

                conn = await get_async_connection(self.twelvelabs_conn_id, hook=self)
                self._async_settings = self._settings_from(conn)
        return self._async_settings

    @property
    def base_url(self) -> str:
        """The API base URL, version path included, with a trailing slash."""
        return self.settings.base_url

    def get_conn(self) -> httpx.Client:
        """Return the hook's pooled sync client (created on first use, closed by :meth:`close`)."""
        if self._client is None or self._client.is_closed:
            settings = self.settings
            self._client = httpx.Client(
                base_url=settings.base_url,
                headers=settings.headers,
                timeout=settings.httpx_timeout,
                follow_redirects=True,
            )
        return self._client

    async def aget_conn(self) -> httpx.AsyncClient:
        """Return the async client shared by every hook of this connection in this event loop.

        The client is built in a thread: its TLS context loads the CA bundle (a third of a second
        on a busy machine), which would otherwise stall every trigger of the triggerer.
        """
        settings = await self.asettings()
        loop = asyncio.get_running_loop()
        per_loop = _shared_async_clients.setdefault(loop, {})
        key = (settings.base_url, hash(settings.api_key), settings.timeout, settings.connect_timeout)
        client = per_loop.get(key)
        if client is None or client.is_closed:
            lock = _client_locks.setdefault(loop, {}).setdefault(key, asyncio.Lock())
            async with lock:
                client = per_loop.get(key)
                if client is None or client.is_closed:
                    client = await asyncio.to_thread(_new_async_client, settings)
                    per_loop[key] = client
        assert isinstance(client, httpx.AsyncClient)
        return client

    def close(self) -> None:
        """Close the sync client."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self) -> TwelveLabsHook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @staticmethod
    async def aclose_shared_clients() -> None:
        """Close the async clients shared in the running event loop (tests, shutdown)."""
        loop = asyncio.get_running_loop()
        for client in _shared_async_clients.pop(loop, {}).values():
            await client.aclose()

    # ------------------------------------------------------------------ execution

    def _retryable(self, call: ApiCall[Any]) -> Callable[[BaseException], bool]:
        def predicate(exc: BaseException) -> bool:
            if isinstance(exc, TwelveLabsMalformedResponseError):
                # The server did answer, so a create may have been done: repeated only if harmless.
                return call.idempotent
            if isinstance(exc, TwelveLabsAPIError):
                return exc.status in RETRY_STATUSES
            if isinstance(exc, httpx.TransportError):
                # A create whose request may have reached the server is not repeated blindly:
                # the operators' idempotency checks handle that on an Airflow retry instead.
                return call.idempotent or isinstance(exc, _NOT_SENT_ERRORS)
            return False

        return predicate

    def _before_sleep(self, call: ApiCall[Any], policy: RetryPolicy) -> Callable[[RetryCallState], None]:
        def log_retry(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, TwelveLabsMalformedResponseError):
                what = f"answered {exc.status} with a malformed body ({exc.message})"
            elif isinstance(exc, TwelveLabsAPIError):
                what = f"answered {exc.status}"
            else:
                what = f"failed ({type(exc).__name__})"
            wait = state.next_action.sleep if state.next_action else 0.0
            self.log.warning(
                "TwelveLabs %s /%s %s; retrying in %.1f s (attempt %d of %d)",
                call.method,
                call.path,
                what,
                wait,
                state.attempt_number + 1,
                policy.max_attempts,
            )

        return log_retry

    def _retry_kwargs(self, call: ApiCall[Any], policy: RetryPolicy) -> dict[str, Any]:
        return {
            "stop": stop_after_attempt(policy.max_attempts),
            "wait": policy.wait,
            "retry": retry_if_exception(self._retryable(call)),
            "before_sleep": self._before_sleep(call, policy),
            "reraise": True,
        }

    @staticmethod
    def _transport_error(call: ApiCall[Any], exc: httpx.TransportError) -> TwelveLabsTransportError:
        if isinstance(exc, httpx.ReadTimeout):
            # Also what a body that stalls half-way looks like: headers came, the rest never did.
            return TwelveLabsTransportError(
                f"TwelveLabs {call.method} /{call.path} got no answer: ReadTimeout (nothing arrived within "
                "the read timeout, the connection's 'timeout' extra; the answer may have stalled mid-body)"
            )
        return TwelveLabsTransportError(
            f"TwelveLabs {call.method} /{call.path} got no answer: {type(exc).__name__}: {exc}"
        )

    def run(self, call: ApiCall[T], *, retry: RetryPolicy | None = None) -> T:
        """Execute an API call on the sync client, with retries, and parse its answer.

        :param call: the call's description, from :mod:`~airflow_provider_twelvelabs.hooks.endpoints`.
        :param retry: a retry policy for this call only; the connection's by default.
        """
        client = self.get_conn()
        builder = _RequestBuilder(call)

        def attempt() -> T:
            if call.skip:
                return self._run_skipping(client, builder, call)
            response = client.send(builder.build(client))
            body = response.read()
            self._observe(response)
            _check(call, response, body)
            return _parse_answer(call, response, body)

        try:
            return Retrying(**self._retry_kwargs(call, retry or self.settings.retry))(attempt)
        except httpx.TransportError as exc:
            raise self._transport_error(call, exc) from None
        finally:
            builder.close()

    async def arun(self, call: ApiCall[T]) -> T:
        """Execute an API call on the shared async client, with retries, and parse its answer.

        :param call: the call's description, from :mod:`~airflow_provider_twelvelabs.hooks.endpoints`.
        """
        client = await self.aget_conn()
        settings = await self.asettings()
        builder = _RequestBuilder(call)

        async def attempt() -> T:
            if call.skip:
                return await self._arun_skipping(client, builder, call)
            response = await client.send(builder.build(client))
            body = await response.aread()
            self._observe(response)
            _check(call, response, body)
            if len(body) > _PARSE_IN_THREAD_BYTES:
                # Decoding and validating megabytes would hold up every trigger of the triggerer.
                return await asyncio.to_thread(_parse_answer, call, response, body)
            return _parse_answer(call, response, body)

        try:
            return await AsyncRetrying(**self._retry_kwargs(call, settings.retry))(attempt)
        except httpx.TransportError as exc:
            raise self._transport_error(call, exc) from None
        finally:
            builder.close()

    def _observe(self, response: httpx.Response) -> None:
        """Hand an answer's rate-limit headers to the hook's ``on_rate_limit`` callback, if any."""
        if self._on_rate_limit is not None:
            self._on_rate_limit(RateLimitInfo.from_response(response))

    def _run_skipping(self, client: httpx.Client, builder: _RequestBuilder, call: ApiCall[T]) -> T:
        """One attempt of a call whose answer has an array to leave out (``call.skip``), streamed."""
        response = client.send(builder.build(client), stream=True)
        try:
            self._observe(response)
            if not response.is_success:
                _check(call, response, response.read())
            return _parse_skipping(call, response, response.iter_bytes(_STREAM_CHUNK_BYTES))
        finally:
            response.close()

    async def _arun_skipping(
        self, client: httpx.AsyncClient, builder: _RequestBuilder, call: ApiCall[T]
    ) -> T:
        """Async twin of :meth:`_run_skipping`.

        The answer's chunks are kept as they arrive (one copy of the body, never joined) and
        parsed in a thread that drops the array and each chunk as it goes, so no Python objects
        are built for the vectors and the triggerer's event loop stays free.
        """
        response = await client.send(builder.build(client), stream=True)
        try:
            chunks = collections.deque([chunk async for chunk in response.aiter_bytes(_STREAM_CHUNK_BYTES)])
        finally:
            await response.aclose()
        self._observe(response)
        if not response.is_success:
            _check(call, response, b"".join(chunks))

        def drain() -> Iterator[bytes]:
            while chunks:
                yield chunks.popleft()

        return await asyncio.to_thread(_parse_skipping, call, response, drain())

    def stream_lines(self, call: ApiCall[Any], *, strict: bool = False) -> Iterator[dict[str, Any]]:
        """Execute a streaming call and yield each NDJSON line as a dict.

        Opening the stream is retried like any call; once lines flow, nothing is retried, since a
        repeat would generate (and bill) the text again. Lines that are not JSON are skipped, unless
        ``strict``.

        :param call: the call's description.
        :param strict: every line must be a JSON object and there must be at least one (JSON Lines
            of records, where a skipped line would be a lost record): otherwise
            :class:`~airflow_provider_twelvelabs.exceptions.TwelveLabsMalformedResponseError`. An
            HTML answer is refused (and retried) at opening in either mode.
        """
        client = self.get_conn()
        builder = _RequestBuilder(call)

        def open_stream() -> httpx.Response:
            response = client.send(builder.build(client), stream=True)
            if not response.is_success:
                body = response.read()
                response.close()
                _check(call, response, body)
            if _is_html(response):
                response.close()
                raise _malformed(call, response, "an HTML page instead of JSON lines (a proxy answered?)")
            return response

        try:
            response = Retrying(**self._retry_kwargs(call, self.settings.retry))(open_stream)
        except httpx.TransportError as exc:
            raise self._transport_error(call, exc) from None
        try:
            lines = 0
            for line in response.iter_lines():
                event = _parse_line(line)
                if event is not None:
                    lines += 1
                    yield event
                elif strict and line.strip():
                    raise _malformed(call, response, f"line {lines + 1} is not a JSON object")
            if strict and not lines:
                raise _malformed(call, response, "an empty body where JSON lines were expected")
        except httpx.TransportError as exc:
            raise self._transport_error(call, exc) from None
        finally:
            response.close()
            builder.close()

    async def astream_lines(
        self, call: ApiCall[Any], *, strict: bool = False
    ) -> AsyncIterator[dict[str, Any]]:
        """Async twin of :meth:`stream_lines`.

        :param call: the call's description.
        :param strict: as in :meth:`stream_lines`.
        """
        client = await self.aget_conn()
        settings = await self.asettings()
        builder = _RequestBuilder(call)

        async def open_stream() -> httpx.Response:
            response = await client.send(builder.build(client), stream=True)
            if not response.is_success:
                body = await response.aread()
                await response.aclose()
                _check(call, response, body)
            if _is_html(response):
                await response.aclose()
                raise _malformed(call, response, "an HTML page instead of JSON lines (a proxy answered?)")
            return response

        try:
            response: httpx.Response = await AsyncRetrying(**self._retry_kwargs(call, settings.retry))(
                open_stream
            )
        except httpx.TransportError as exc:
            raise self._transport_error(call, exc) from None
        try:
            lines = 0
            async for line in response.aiter_lines():
                event = _parse_line(line)
                if event is not None:
                    lines += 1
                    yield event
                elif strict and line.strip():
                    raise _malformed(call, response, f"line {lines + 1} is not a JSON object")
            if strict and not lines:
                raise _malformed(call, response, "an empty body where JSON lines were expected")
        except httpx.TransportError as exc:
            raise self._transport_error(call, exc) from None
        finally:
            await response.aclose()
            builder.close()

    @contextlib.contextmanager
    def stream_json_items(self, call: ApiCall[Any], path: Sequence[str]) -> Iterator[JsonItemStream]:
        """Execute a call and read the array at ``path`` of its JSON answer item by item.

        For answers too large to load at once (the vectors of a long video). Opening the answer is
        retried like any call; a failure while reading it is not (the caller has consumed items by
        then). The call's own parser is not used.

        :param call: the call's description (a GET of a finished task, typically).
        :param path: the keys leading to the array, e.g. ``("data",)``.
        """
        client = self.get_conn()
        builder = _RequestBuilder(call)

        def open_stream() -> httpx.Response:
            response = client.send(builder.build(client), stream=True)
            if not response.is_success:
                body = response.read()
                response.close()
                _check(call, response, body)
            return response

        try:
            response = Retrying(**self._retry_kwargs(call, self.settings.retry))(open_stream)
        except httpx.TransportError as exc:
            builder.close()
            raise self._transport_error(call, exc) from None
        try:
            yield JsonItemStream(response.iter_bytes(_STREAM_CHUNK_BYTES), path)
        except httpx.TransportError as exc:
            raise self._transport_error(call, exc) from None
        except JsonStreamError as exc:
            raise _malformed(call, response, str(exc)) from None
        finally:
            response.close()
            builder.close()

    def paginate(
        self, make_call: Callable[[int], ApiCall[Page[T]]], *, max_pages: int | None = None
    ) -> Iterator[T]:
        """Yield every item of a page-based list, page after page.

        Stops on the first page whose ``data`` is empty, as the API requires (``total_page`` is
        not trusted), or after ``max_pages``.

        :param make_call: builds the call for a 1-based page number.
        :param max_pages: an optional cap on the number of pages fetched.
        """
        page = 1
        while max_pages is None or page <= max_pages:
            result = self.run(make_call(page))
            if not result.data:
                return
            yield from result.data
            page += 1

    # ------------------------------------------------------------------ connection test

    def test_connection(self) -> tuple[bool, str]:
        """Make one cheap authenticated call; return ``(ok, message)`` with the API's own message."""
        try:
            policy = self.settings.retry
            # The connection form waits for this answer: one quick retry at most, not a task's
            # whole retry budget (about a minute of backoff on an unreachable host).
            quick = RetryPolicy(
                max_attempts=min(2, policy.max_attempts),
                base_delay=min(policy.base_delay, 0.5),
                max_wait=min(policy.max_wait, 1.0),
            )
            self.run(api.list_indexes(page=1, page_limit=1), retry=quick)
        except TwelveLabsAPIError as exc:
            code = f" {exc.code}" if exc.code else ""
            return False, f"{exc.status}{code}: {exc.message}"
        except Exception as exc:
            return False, str(exc)
        finally:
            self.close()
        return True, "Connection to the TwelveLabs API works."

    # ------------------------------------------------------------------ presigned chunk PUTs

    def put_chunk(
        self,
        url: str,
        data: bytes | Iterable[bytes],
        *,
        headers: Mapping[str, str] | None = None,
        client: httpx.Client | None = None,
    ) -> str:
        """PUT one chunk to a presigned URL and return its ETag without quotes.

        The PUT goes to object storage, not to the API: no API key is sent, and the URL's query
        (its signature) never reaches a log or an exception. Not retried here: a presigned URL is
        single use, so the caller retries with a fresh one.

        :param url: the presigned URL.
        :param data: the chunk's bytes, or its pieces (streamed without holding the whole chunk; then
            ``headers`` must give its ``Content-Length``, as presigned URLs refuse chunked encoding).
        :param headers: the session's ``upload_headers``.
        :param client: an httpx client to send with (one without the API key); a fresh one if not.
        """
        send_headers = {"Content-Type": "application/octet-stream", **(headers or {})}
        _redact_presigned_urls_in_httpx_logs()
        owned = client is None
        http = client or httpx.Client(timeout=self.settings.httpx_timeout)
        try:
            response = http.put(url, content=data, headers=send_headers)
        except httpx.TransportError as exc:
            raise TwelveLabsTransportError(
                f"Chunk upload to {redact_url(url)} got no answer: {type(exc).__name__}"
            ) from None
        finally:
            if owned:
                http.close()
        return _etag(url, response)

    # ------------------------------------------------------------------ assets

    def create_asset(
        self,
        *,
        method: str = "direct",
        file: FilePart | None = None,
        url: str | None = None,
        filename: str | None = None,
        enable_hls: bool | None = None,
        enable_thumbnail: bool | None = None,
        user_metadata: Mapping[str, Any] | None = None,
    ) -> Asset:
        """Create an asset by direct upload (``file``) or from a public ``url`` (contract 3.1)."""
        return self.run(
            api.create_asset(
                method=method,
                file=file,
                url=url,
                filename=filename,
                enable_hls=enable_hls,
                enable_thumbnail=enable_thumbnail,
                user_metadata=user_metadata,
            )
        )

    def list_assets(self, **filters: Any) -> Iterator[Asset]:
        """Iterate over every asset matching the filters (``asset_ids``, ``asset_types``, ``filename``)."""
        return self.paginate(lambda page: api.list_assets(page=page, page_limit=50, **filters))

    def list_assets_page(self, **filters: Any) -> Page[Asset]:
        """Return one page of assets (``asset_ids``, ``page``, ``page_limit`` and other filters)."""
        return self.run(api.list_assets(**filters))

    async def alist_assets_page(self, **filters: Any) -> Page[Asset]:
        """Return one page of assets (async)."""
        return await self.arun(api.list_assets(**filters))

    def get_asset(self, asset_id: str) -> Asset:
        """Retrieve an asset."""
        return self.run(api.get_asset(asset_id))

    async def aget_asset(self, asset_id: str) -> Asset:
        """Retrieve an asset (async)."""
        return await self.arun(api.get_asset(asset_id))

    def delete_asset(self, asset_id: str, *, force: bool | None = None) -> None:
        """Delete an asset."""
        self.run(api.delete_asset(asset_id, force=force))

    def list_asset_indexed_assets(self, asset_id: str) -> Iterator[dict[str, Any]]:
        """Iterate over the indexed assets that reference an asset (``{_id, index: {_id, name}}``)."""
        return self.paginate(lambda page: api.list_asset_indexed_assets(asset_id, page=page, page_limit=50))

    # ------------------------------------------------------------------ multipart

    def create_multipart_upload(self, **fields: Any) -> MultipartSession:
        """Open a multipart upload session (``filename``, ``total_size``, ``type``...)."""
        return self.run(api.create_multipart_upload(**fields))

    def report_multipart_chunks(
        self, upload_id: str, completed_chunks: Sequence[Mapping[str, Any]]
    ) -> ReportChunksResult:
        """Report up to 50 uploaded chunks of a session."""
        return self.run(api.report_multipart_chunks(upload_id, completed_chunks))

    def get_multipart_upload_status(
        self, upload_id: str, *, page: int | None = None, page_limit: int | None = None
    ) -> MultipartUploadStatus:
        """Return one page of a multipart upload's status."""
        return self.run(api.get_multipart_upload_status(upload_id, page=page, page_limit=page_limit))

    async def aget_multipart_upload_status(
        self, upload_id: str, *, page: int | None = None, page_limit: int | None = None
    ) -> MultipartUploadStatus:
        """Return one page of a multipart upload's status (async)."""
        return await self.arun(api.get_multipart_upload_status(upload_id, page=page, page_limit=page_limit))

    def get_presigned_urls(self, upload_id: str, *, start: int, count: int) -> PresignedUrls:
        """Ask for up to 50 fresh presigned URLs starting at chunk ``start``."""
        return self.run(api.get_presigned_urls(upload_id, start=start, count=count))

    def list_incomplete_uploads(self) -> Iterator[MultipartSession]:
        """Iterate over the incomplete multipart upload sessions."""
        return self.paginate(lambda page: api.list_incomplete_uploads(page=page, page_limit=50))

    def multipart_upload(
        self,
        source: Any,
        filename: str | None = None,
        *,
        file_type: str = "video",
        enable_hls: bool | None = None,
        enable_thumbnail: bool | None = None,
        user_metadata: Mapping[str, Any] | None = None,
        resume: MultipartCheckpoint | Mapping[str, Any] | None = None,
        on_session: Callable[[MultipartCheckpoint], None] | None = None,
        **tuning: Any,
    ) -> Asset:
        """Upload a file through a multipart session: parallel, resumable, with bounded memory.

        Chunks are read straight from the source and PUT in parallel; no temporary copy is made and
        memory stays near ``concurrency x chunk size``. See
        :meth:`~airflow_provider_twelvelabs.hooks.multipart.MultipartUploader.upload` for the upload
        arguments and :class:`~airflow_provider_twelvelabs.hooks.multipart.MultipartUploader` for the
        tuning options (``concurrency``, ``max_chunk_attempts``, ``progress_callback``...).

        :param source: a local path, an fsspec URL (``s3://``, ``memory://``...) or an ``ObjectStoragePath``.
        :param filename: the asset's file name; the source's own name by default.
        :param file_type: ``video``, ``audio`` or ``image``.
        :param enable_hls: ask for an HLS rendition.
        :param enable_thumbnail: ask for a thumbnail.
        :param user_metadata: metadata stored on the asset.
        :param resume: the ``MultipartCheckpoint`` (or its dict) of an interrupted upload of the file.
        :param on_session: called with the session's checkpoint before the first chunk is sent.
        :param tuning: options of the upload engine, as above.
        :return: the asset, usually still ``processing``: wait for ``ready`` before using it.
        """
        # Imported here: the upload engine is not needed to parse a DAG file.
        from airflow_provider_twelvelabs.hooks.multipart import MultipartUploader

        tuning.setdefault("connect_timeout", self.settings.connect_timeout)
        return MultipartUploader(self, **tuning).upload(
            source,
            filename=filename,
            file_type=file_type,
            enable_hls=enable_hls,
            enable_thumbnail=enable_thumbnail,
            user_metadata=user_metadata,
            resume=resume,
            on_session=on_session,
        )

    # ------------------------------------------------------------------ indexes

    def create_index(
        self, *, index_name: str, models: Sequence[Mapping[str, Any]], addons: Sequence[str] | None = None
    ) -> Index:
        """Create an index."""
        return self.run(api.create_index(index_name=index_name, models=models, addons=addons))

    def list_indexes(self, **filters: Any) -> Iterator[Index]:
        """Iterate over every index matching the filters (``index_name``, ``model_family``...)."""
        return self.paginate(lambda page: api.list_indexes(page=page, page_limit=50, **filters))

    def get_index(self, index_id: str) -> Index:
        """Retrieve an index."""
        return self.run(api.get_index(index_id))

    def rename_index(self, index_id: str, index_name: str) -> None:
        """Rename an index."""
        self.run(api.rename_index(index_id, index_name))

    def delete_index(self, index_id: str) -> None:
        """Delete an index and everything indexed in it."""
        self.run(api.delete_index(index_id))

    # ------------------------------------------------------------------ indexed assets

    def create_indexed_asset(
        self,
        index_id: str,
        *,
        asset_id: str,
        enable_video_stream: bool | None = None,
        user_metadata: Mapping[str, Any] | None = None,
    ) -> IndexedAsset:
        """Index a ready asset in an index."""
        return self.run(
            api.create_indexed_asset(
                index_id,
                asset_id=asset_id,
                enable_video_stream=enable_video_stream,
                user_metadata=user_metadata,
            )
        )

    def list_indexed_assets(self, index_id: str, **filters: Any) -> Iterator[IndexedAsset]:
        """Iterate over the indexed assets of an index (filters: ``status``, ``filename``...)."""
        return self.paginate(
            lambda page: api.list_indexed_assets(index_id, page=page, page_limit=50, **filters)
        )

    def list_indexed_assets_page(self, index_id: str, **filters: Any) -> Page[IndexedAsset]:
        """Return one page of an index's indexed assets (``page``, ``page_limit`` and filters)."""
        return self.run(api.list_indexed_assets(index_id, **filters))

    async def alist_indexed_assets_page(self, index_id: str, **filters: Any) -> Page[IndexedAsset]:
        """Return one page of an index's indexed assets (async)."""
        return await self.arun(api.list_indexed_assets(index_id, **filters))

    def get_indexed_asset(self, index_id: str, indexed_asset_id: str, **options: Any) -> IndexedAsset:
        """Retrieve an indexed asset (options: ``embedding_option``, ``transcription``)."""
        return self.run(api.get_indexed_asset(index_id, indexed_asset_id, **options))

    async def aget_indexed_asset(self, index_id: str, indexed_asset_id: str, **options: Any) -> IndexedAsset:
        """Retrieve an indexed asset (async)."""
        return await self.arun(api.get_indexed_asset(index_id, indexed_asset_id, **options))

    def update_indexed_asset(
        self, index_id: str, indexed_asset_id: str, user_metadata: Mapping[str, Any]
    ) -> None:
        """Merge user metadata into an indexed asset (``None`` values delete keys)."""
        self.run(api.update_indexed_asset(index_id, indexed_asset_id, user_metadata=user_metadata))

    def delete_indexed_asset(self, index_id: str, indexed_asset_id: str) -> None:
        """Delete an indexed asset."""
        self.run(api.delete_indexed_asset(index_id, indexed_asset_id))

    # ------------------------------------------------------------------ legacy tasks and videos

    def create_indexing_task(
        self,
        *,
        index_id: str,
        video_file: FilePart | None = None,
        video_url: str | None = None,
        enable_video_stream: bool | None = None,
        user_metadata: Mapping[str, Any] | None = None,
    ) -> IndexingTask:
        """Upload and index a video in one call (legacy ``/tasks``)."""
        return self.run(
            api.create_indexing_task(
                index_id=index_id,
                video_file=video_file,
                video_url=video_url,
                enable_video_stream=enable_video_stream,
                user_metadata=user_metadata,
            )
        )

    def list_indexing_tasks(self, **filters: Any) -> Iterator[IndexingTask]:
        """Iterate over legacy indexing tasks (filters: ``index_id``, ``status``, ``filename``...)."""
        return self.paginate(lambda page: api.list_indexing_tasks(page=page, page_limit=50, **filters))

    def list_indexing_tasks_page(self, **filters: Any) -> Page[IndexingTask]:
        """Return one page of legacy indexing tasks."""
        return self.run(api.list_indexing_tasks(**filters))

    async def alist_indexing_tasks_page(self, **filters: Any) -> Page[IndexingTask]:
        """Return one page of legacy indexing tasks (async)."""
        return await self.arun(api.list_indexing_tasks(**filters))

    def get_indexing_task(self, task_id: str) -> IndexingTask:
        """Retrieve a legacy indexing task."""
        return self.run(api.get_indexing_task(task_id))

    async def aget_indexing_task(self, task_id: str) -> IndexingTask:
        """Retrieve a legacy indexing task (async)."""
        return await self.arun(api.get_indexing_task(task_id))

    def delete_indexing_task(self, task_id: str) -> None:
        """Delete a legacy indexing task."""
        self.run(api.delete_indexing_task(task_id))

    def get_video(self, index_id: str, video_id: str) -> IndexedAsset:
        """Retrieve a legacy video of an index."""
        return self.run(api.get_video(index_id, video_id))

    def list_videos(self, index_id: str, **filters: Any) -> Iterator[IndexedAsset]:
        """Iterate over the legacy videos of an index."""
        return self.paginate(lambda page: api.list_videos(index_id, page=page, page_limit=50, **filters))

    # ------------------------------------------------------------------ embed v2

    def create_embedding(self, body: Mapping[str, Any]) -> EmbeddingResult:
        """Create embeddings synchronously (``POST /embed-v2``)."""
        return self.run(api.create_embedding(body))

    def create_embedding_task(self, body: Mapping[str, Any]) -> EmbedV2Task:
        """Create an asynchronous embedding task (``POST /embed-v2/tasks``)."""
        return self.run(api.create_embedding_task(body))

    def get_embedding_task(self, task_id: str) -> EmbedV2Task:
        """Retrieve an embed v2 task, with its embeddings once ready."""
        return self.run(api.get_embedding_task(task_id))

    def get_embedding_task_status(self, task_id: str) -> EmbedV2Task:
        """Retrieve an embed v2 task without its embeddings (read as a stream and dropped)."""
        return self.run(api.get_embedding_task(task_id, with_data=False))

    async def aget_embedding_task_status(self, task_id: str) -> EmbedV2Task:
        """Retrieve an embed v2 task without its embeddings (async)."""
        return await self.arun(api.get_embedding_task(task_id, with_data=False))

    def list_embedding_tasks(self, **filters: Any) -> Iterator[EmbedV2Task]:
        """Iterate over embed v2 tasks (filters: ``status``, ``started_at``, ``ended_at``)."""
        return self.paginate(lambda page: api.list_embedding_tasks(page=page, page_limit=50, **filters))

    def list_embedding_tasks_page(self, **filters: Any) -> Page[EmbedV2Task]:
        """Return one page of embed v2 tasks (``page``, ``page_limit`` and filters)."""
        return self.run(api.list_embedding_tasks(**filters))

    async def alist_embedding_tasks_page(self, **filters: Any) -> Page[EmbedV2Task]:
        """Return one page of embed v2 tasks (async)."""
        return await self.arun(api.list_embedding_tasks(**filters))

    def stream_embedding_task_results(
        self, task_id: str
    ) -> contextlib.AbstractContextManager[JsonItemStream]:
        """Read a ready embed v2 task's embeddings one ``data[]`` item (a dict) at a time.

        Use it as a context manager; the task's other fields land in the stream's ``fields``.
        """
        return self.stream_json_items(api.get_embedding_task(task_id), ("data",))

    # ------------------------------------------------------------------ embed v1

    def create_embedding_v1(self, **fields: Any) -> dict[str, Any]:
        """Create text, image or audio embeddings with the v1 API (``POST /embed``)."""
        return self.run(api.create_embedding_v1(**fields))

    def create_video_embedding_task(self, **fields: Any) -> EmbedV1Task:
        """Create a v1 video embedding task (``POST /embed/tasks``)."""
        return self.run(api.create_video_embedding_task(**fields))

    def get_video_embedding_task_status(self, task_id: str) -> EmbedV1Task:
        """Return the status of a v1 video embedding task."""
        return self.run(api.get_video_embedding_task_status(task_id))

    async def aget_video_embedding_task_status(self, task_id: str) -> EmbedV1Task:
        """Return the status of a v1 video embedding task (async)."""
        return await self.arun(api.get_video_embedding_task_status(task_id))

    def get_video_embedding_task(
        self, task_id: str, *, embedding_option: Sequence[str] | None = None
    ) -> EmbedV1Task:
        """Retrieve the embeddings of a ready v1 video embedding task."""
        return self.run(api.get_video_embedding_task(task_id, embedding_option=embedding_option))

    def stream_video_embedding_task_results(
        self, task_id: str, *, embedding_option: Sequence[str] | None = None
    ) -> contextlib.AbstractContextManager[JsonItemStream]:
        """Read a ready v1 video embedding task's segments one at a time (raw dicts, key ``float``).

        Use it as a context manager; the task's other fields land in the stream's ``fields``.
        """
        return self.stream_json_items(
            api.get_video_embedding_task(task_id, embedding_option=embedding_option),
            ("video_embedding", "segments"),
        )

    # ------------------------------------------------------------------ generation

    def analyze(self, body: Mapping[str, Any]) -> AnalyzeResult:
        """Run an open-ended analysis and return the whole answer (``stream=false``)."""
        return self.run(api.analyze(body, stream=False))

    def analyze_stream(self, body: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        """Run an open-ended analysis and yield its NDJSON events as they arrive."""
        return self.stream_lines(api.analyze(body, stream=True))

    def summarize(self, body: Mapping[str, Any]) -> SummarizeResult:
        """Summarize a video: summary, chapters or highlights (legacy ``/summarize``)."""
        return self.run(api.summarize(body))

    def gist(self, *, video_id: str, types: Sequence[str]) -> GistResult:
        """Generate titles, topics and hashtags (legacy ``/gist``)."""
        return self.run(api.gist(video_id=video_id, types=types))

    # ------------------------------------------------------------------ search

    def search(self, **fields: Any) -> SearchPage:
        """Run a search and return its first page (fields as in ``POST /search``)."""
        return self.run(api.search(**fields))

    def get_search_page(self, page_token: str, *, include_user_metadata: bool | None = None) -> SearchPage:
        """Return a further page of a search."""
        return self.run(api.get_search_page(page_token, include_user_metadata=include_user_metadata))

    # ------------------------------------------------------------------ asynchronous analyze

    def create_analyze_task(self, body: Mapping[str, Any]) -> AnalyzeTask:
        """Create an asynchronous analyze task (``POST /analyze/tasks``); its ``id`` is the task id.

        :param body: the request fields (``video`` or ``image``, ``prompt``, ``analysis_mode``...).
        """
        return self.run(api.create_analyze_task(body))

    def get_analyze_task(self, task_id: str) -> AnalyzeTask:
        """Retrieve an analyze task, with its result once ``ready``.

        :param task_id: the task id.
        """
        return self.run(api.get_analyze_task(task_id))

    async def aget_analyze_task(self, task_id: str) -> AnalyzeTask:
        """Retrieve an analyze task (async).

        :param task_id: the task id.
        """
        return await self.arun(api.get_analyze_task(task_id))

    def list_analyze_tasks(self, **filters: Any) -> Iterator[AnalyzeTask]:
        """Iterate over analyze tasks, newest first.

        :param filters: ``status``, ``video_url``, ``asset_id``, ``analysis_mode``.
        """
        return self.paginate(lambda page: api.list_analyze_tasks(page=page, page_limit=50, **filters))

    def list_analyze_tasks_page(self, **filters: Any) -> Page[AnalyzeTask]:
        """Return one page of analyze tasks.

        :param filters: ``page``, ``page_limit`` and the filters of :meth:`list_analyze_tasks`.
        """
        return self.run(api.list_analyze_tasks(**filters))

    async def alist_analyze_tasks_page(self, **filters: Any) -> Page[AnalyzeTask]:
        """Return one page of analyze tasks (async).

        :param filters: ``page``, ``page_limit`` and the filters of :meth:`list_analyze_tasks`.
        """
        return await self.arun(api.list_analyze_tasks(**filters))

    def cancel_analyze_task(self, task_id: str) -> AnalyzeTask:
        """Cancel a queued, pending or processing analyze task (a repeat answers the same).

        :param task_id: the task id.
        """
        return self.run(api.cancel_analyze_task(task_id))

    def delete_analyze_task(self, task_id: str) -> None:
        """Delete an analyze task that is not being processed.

        :param task_id: the task id.
        """
        self.run(api.delete_analyze_task(task_id))

    def create_analyze_batch(
        self,
        *,
        model_name: str,
        analysis_mode: str,
        requests: Sequence[Mapping[str, Any]],
        defaults: Mapping[str, Any] | None = None,
    ) -> AnalyzeBatch:
        """Create an analyze batch; ``items`` of the answer pairs each task id with its ``custom_id``.

        :param model_name: the model of every item.
        :param analysis_mode: ``general`` or ``time_based_metadata``.
        :param requests: 1 to 1,000 items, each with a ``video``.
        :param defaults: fields applied to every item that does not set them.
        """
        return self.run(
            api.create_analyze_batch(
                model_name=model_name, analysis_mode=analysis_mode, requests=requests, defaults=defaults
            )
        )

    def get_analyze_batch(self, batch_id: str) -> AnalyzeBatch:
        """Retrieve an analyze batch: status and item counts.

        :param batch_id: the batch id.
        """
        return self.run(api.get_analyze_batch(batch_id))

    async def aget_analyze_batch(self, batch_id: str) -> AnalyzeBatch:
        """Retrieve an analyze batch (async).

        :param batch_id: the batch id.
        """
        return await self.arun(api.get_analyze_batch(batch_id))

    def list_analyze_batches(self, **filters: Any) -> Iterator[AnalyzeBatch]:
        """Iterate over analyze batches, newest first.

        :param filters: ``status`` and ``analysis_mode`` (a value or a list of values).
        """
        return self.paginate(lambda page: api.list_analyze_batches(page=page, page_limit=50, **filters))

    def list_analyze_batches_page(self, **filters: Any) -> Page[AnalyzeBatch]:
        """Return one page of analyze batches.

        :param filters: ``page``, ``page_limit`` and the filters of :meth:`list_analyze_batches`.
        """
        return self.run(api.list_analyze_batches(**filters))

    async def alist_analyze_batches_page(self, **filters: Any) -> Page[AnalyzeBatch]:
        """Return one page of analyze batches (async).

        :param filters: ``page``, ``page_limit`` and the filters of :meth:`list_analyze_batches`.
        """
        return await self.arun(api.list_analyze_batches(**filters))

    def cancel_analyze_batch(self, batch_id: str) -> AnalyzeBatch:
        """Ask for a batch to be canceled: queued items are canceled, processing ones finish.

        :param batch_id: the batch id.
        """
        return self.run(api.cancel_analyze_batch(batch_id))

    def delete_analyze_batch(self, batch_id: str) -> None:
        """Delete a completed, canceled or expired batch and its tasks.

        :param batch_id: the batch id.
        """
        self.run(api.delete_analyze_batch(batch_id))

    def stream_analyze_batch_results(self, batch_id: str) -> Iterator[AnalyzeBatchResult]:
        """Yield a batch's results one item at a time, as the JSON Lines stream delivers them.

        Readable while the batch runs (unfinished items come with their status only). Opening the
        stream is retried; a failure while reading it is not (items were consumed by then).

        :param batch_id: the batch id.
        """
        call = api.get_analyze_batch_results(batch_id)
        for line in self.stream_lines(call, strict=True):
            yield _batch_result(call, line)

    async def astream_analyze_batch_results(self, batch_id: str) -> AsyncIterator[AnalyzeBatchResult]:
        """Async twin of :meth:`stream_analyze_batch_results`.

        :param batch_id: the batch id.
        """
        call = api.get_analyze_batch_results(batch_id)
        async for line in self.astream_lines(call, strict=True):
            yield _batch_result(call, line)


def _parse_skipping(call: ApiCall[T], response: httpx.Response, chunks: Iterable[bytes | memoryview]) -> T:
    """Parse an answer read through :func:`_without_array`; a malformed body raises the typed error."""
    try:
        fields = _without_array(chunks, call.skip)
    except JsonStreamError as exc:
        raise _malformed(call, response, str(exc)) from None
    try:
        return call.parse(fields)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        first = str(exc).strip().splitlines()
        detail = first[0] if first else type(exc).__name__
        raise _malformed(call, response, f"JSON that does not fit the expected answer ({detail})") from None


def _without_array(chunks: Iterable[bytes | memoryview], path: Sequence[str]) -> dict[str, Any]:
    """Read a JSON object from chunks, dropping the items of the array at ``path`` as they come."""
    stream = JsonItemStream(chunks, path)
    for _ in stream:
        pass
    return stream.fields


def _is_html(response: httpx.Response) -> bool:
    return "html" in (response.headers.get("content-type") or "").lower()


def _batch_result(call: ApiCall[Any], line: dict[str, Any]) -> AnalyzeBatchResult:
    try:
        return AnalyzeBatchResult.model_validate(line)
    except ValueError as exc:
        first = str(exc).strip().splitlines()
        raise TwelveLabsMalformedResponseError(
            200,
            "malformed_response",
            f"a result line that does not fit an analyze batch result ({first[0] if first else exc})",
            method=call.method,
            path="/" + call.path,
        ) from None


def _parse_line(line: str) -> dict[str, Any] | None:
    line = line.strip()
    if not line:
        return None
    try:
        event = json.loads(line)
    except (ValueError, RecursionError):
        log.debug("Skipping a stream line that is not JSON")
        return None
    return event if isinstance(event, dict) else None


def _etag(url: str, response: httpx.Response) -> str:
    if not response.is_success:
        raise TwelveLabsAPIError(
            response.status_code,
            None,
            f"Chunk upload was refused ({response.status_code})",
            method="PUT",
            path=urlsplit(url).path,
        )
    etag = response.headers.get("etag", "").strip().strip('"')
    if not etag:
        raise TwelveLabsError(f"Chunk upload to {redact_url(url)} answered without an ETag")
    return etag
