"""Exceptions raised by the TwelveLabs provider.

API errors are keyed on the status code and on the API's own error ``code`` (never on message
text), and carry the API's message so that a failed task tells the user what TwelveLabs said.
"""

from __future__ import annotations

import json
import re
from typing import Any

from airflow.providers.common.compat.sdk import AirflowException

__all__ = [
    "TwelveLabsAPIError",
    "TwelveLabsAuthenticationError",
    "TwelveLabsBadRequestError",
    "TwelveLabsConflictError",
    "TwelveLabsEndpointGoneError",
    "TwelveLabsError",
    "TwelveLabsMalformedResponseError",
    "TwelveLabsNotFoundError",
    "TwelveLabsPayloadTooLargeError",
    "TwelveLabsRateLimitError",
    "TwelveLabsResourceCanceledError",
    "TwelveLabsResourceFailedError",
    "TwelveLabsServerError",
    "TwelveLabsTransportError",
    "TwelveLabsUploadError",
    "TwelveLabsWaitTimeoutError",
    "error_from_response",
]

_HTML_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_HTML_TAG = re.compile(r"<[^>]*>")
#: Error codes that mean "the resource does not exist", whatever status code they come with.
NOT_FOUND_CODES = frozenset({"resource_not_exist", "not_found"})
#: Error codes that mean "the endpoint has been removed" (the sunset of /gist and /summarize).
GONE_CODES = frozenset({"endpoint_sunset", "endpoint_deprecated", "endpoint_removed", "api_removed"})


class TwelveLabsError(AirflowException):
    """Base class of every error raised by the TwelveLabs provider."""


class TwelveLabsTransportError(TwelveLabsError):
    """The request never got an HTTP answer (connection refused or dropped, timeout) after retries."""


class TwelveLabsAPIError(TwelveLabsError):
    """The TwelveLabs API answered with an error status.

    :param status: HTTP status code of the answer.
    :param code: the API's error code (``parameter_invalid``...), or ``None`` if the body had none.
    :param message: the API's human readable message.
    :param docs_url: the documentation link the API sent, if any.
    :param details: extra details of the nested error shape, if any.
    :param method: HTTP method of the failed request.
    :param path: API path of the failed request (never a full URL: presigned URLs carry secrets).
    :param retry_after: seconds the API asked us to wait, for rate-limit answers.
    """

    def __init__(
        self,
        status: int,
        code: str | None,
        message: str,
        *,
        docs_url: str | None = None,
        details: dict[str, Any] | None = None,
        method: str | None = None,
        path: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.docs_url = docs_url
        self.details = details
        self.method = method
        self.path = path
        self.retry_after = retry_after
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f" on {self.method} {self.path}" if self.method and self.path else ""
        code = f" {self.code}" if self.code else ""
        text = f"TwelveLabs API error {self.status}{code}{where}: {self.message}"
        if self.docs_url:
            text += f" (see {self.docs_url})"
        return text

    def __reduce__(self) -> tuple[Any, ...]:
        # Keeps the exception picklable with its keyword-only attributes (Airflow pickles errors).
        return (
            _rebuild_api_error,
            (
                type(self),
                self.status,
                self.code,
                self.message,
                {
                    "docs_url": self.docs_url,
                    "details": self.details,
                    "method": self.method,
                    "path": self.path,
                    "retry_after": self.retry_after,
                },
            ),
        )


def _rebuild_api_error(
    cls: type[TwelveLabsAPIError], status_code: int, code: str | None, message: str, kwargs: dict[str, Any]
) -> TwelveLabsAPIError:
    return cls(status_code, code, message, **kwargs)


class TwelveLabsBadRequestError(TwelveLabsAPIError):
    """The API rejected the request's parameters (400, 422)."""


class TwelveLabsAuthenticationError(TwelveLabsAPIError):
    """The API key is missing, invalid, or not allowed to do this (401, 403)."""


class TwelveLabsNotFoundError(TwelveLabsAPIError):
    """The resource does not exist (404, or 400 with code ``resource_not_exist``)."""


class TwelveLabsEndpointGoneError(TwelveLabsAPIError):
    """The endpoint itself has been removed by TwelveLabs (410, or a sunset error code)."""


class TwelveLabsConflictError(TwelveLabsAPIError):
    """The request conflicts with the resource's state (409)."""


class TwelveLabsPayloadTooLargeError(TwelveLabsAPIError):
    """The request body is too large (413)."""


class TwelveLabsRateLimitError(TwelveLabsAPIError):
    """The API's rate limit was exceeded (429) and retries did not get through."""


class TwelveLabsServerError(TwelveLabsAPIError):
    """The API failed on its side (5xx, 408) and retries did not get through."""


class TwelveLabsMalformedResponseError(TwelveLabsServerError):
    """The answer's body is not what the call expects: truncated or invalid JSON, an HTML page, nothing.

    Raised for answers with a success status that cannot be read (a proxy's or captive portal's page,
    a body cut short). Its :attr:`status` is the answer's status and its :attr:`code`
    ``malformed_response``; the message says what was wrong. The hook retries it like a transport
    error: for idempotent calls only, since a create whose answer was spoiled may have been done.
    """

    def __str__(self) -> str:
        where = f"{self.method} {self.path} " if self.method and self.path else ""
        return f"TwelveLabs {where}answered {self.status} with a malformed body: {self.message}"


class TwelveLabsResourceFailedError(TwelveLabsError):
    """A TwelveLabs resource (asset, indexing task, embedding task...) ended in ``failed``.

    :param kind: the resource kind, e.g. ``asset`` or ``embed_v2_task``.
    :param resource_id: the resource's id.
    :param reason: the failure reason the API gave.
    """

    def __init__(self, kind: str, resource_id: str, reason: str | None) -> None:
        self.kind = kind
        self.resource_id = resource_id
        self.reason = reason
        super().__init__(f"TwelveLabs {kind} {resource_id} failed: {reason or 'no reason given by the API'}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.kind, self.resource_id, self.reason))


class TwelveLabsResourceCanceledError(TwelveLabsResourceFailedError):
    """A TwelveLabs resource (an analyze task or batch) ended ``canceled``: by a user, or by this task.

    :param kind: the resource kind.
    :param resource_id: the resource's id.
    :param reason: the reason the API gave.
    """

    def __init__(self, kind: str, resource_id: str, reason: str | None) -> None:
        super().__init__(kind, resource_id, reason)
        self.args = (
            f"TwelveLabs {kind} {resource_id} was canceled: {reason or 'no reason given by the API'}",
        )


class TwelveLabsWaitTimeoutError(TwelveLabsError):
    """A TwelveLabs resource did not reach a terminal status before the deadline.

    :param kind: the resource kind.
    :param resource_id: the resource's id.
    :param last_status: the last status seen, if any.
    """

    def __init__(self, kind: str, resource_id: str, last_status: str | None = None) -> None:
        self.kind = kind
        self.resource_id = resource_id
        self.last_status = last_status
        seen = f" (last status: {last_status})" if last_status else ""
        super().__init__(f"Timed out waiting for TwelveLabs {kind} {resource_id}{seen}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.kind, self.resource_id, self.last_status))


class TwelveLabsUploadError(TwelveLabsError):
    """A multipart upload could not be completed."""


def _status_class(status_code: int, code: str | None) -> type[TwelveLabsAPIError]:
    # A sunset code wins over the status: a removed endpoint may well answer 404, and must not be
    # mistaken for a missing resource (a 404 ``resource_not_exist`` for a video stays "not found").
    if code in GONE_CODES or status_code == 410:
        return TwelveLabsEndpointGoneError
    if code in NOT_FOUND_CODES or status_code == 404:
        return TwelveLabsNotFoundError
    if status_code in (401, 403):
        return TwelveLabsAuthenticationError
    if status_code == 409:
        return TwelveLabsConflictError
    if status_code == 413:
        return TwelveLabsPayloadTooLargeError
    if status_code == 429:
        return TwelveLabsRateLimitError
    if status_code >= 500 or status_code == 408:
        return TwelveLabsServerError
    if status_code in (400, 422):
        return TwelveLabsBadRequestError
    return TwelveLabsAPIError


def parse_error_body(body: bytes) -> tuple[str | None, str | None, str | None, dict[str, Any] | None]:
    """Read ``(code, message, docs_url, details)`` from an error body of either API shape.

    The API uses a flat ``{"code", "message", "docs_url"}`` shape almost everywhere and a nested
    ``{"error": {"code", "message", "details"}}`` shape on embed v2; search and analyze answer 429
    with an empty body.

    :param body: the raw response body.
    """
    if not body or not body.strip():
        return None, None, None, None
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        text = body.decode("utf-8", "replace").strip()
        title = _HTML_TITLE.search(text)
        if title or text[:200].lower().lstrip().startswith(("<!doctype html", "<html")):
            # A gateway's or proxy's page: its title says what happened; the markup says nothing.
            what = " ".join((title.group(1) if title else _HTML_TAG.sub(" ", text)).split()) or "empty"
            return None, f"an HTML page from a proxy or gateway, not the API ({what[:200]})", None, None
        return None, text[:500] or None, None, None
    if not isinstance(payload, dict):
        return None, str(payload)[:500], None, None
    inner = payload.get("error")
    if isinstance(inner, dict):
        details = inner.get("details")
        return (
            _opt_str(inner.get("code")),
            _opt_str(inner.get("message")),
            _opt_str(inner.get("docs_url")),
            details if isinstance(details, dict) else None,
        )
    code = payload.get("code", payload.get("error_code"))
    message = payload.get("message")
    if message is None and isinstance(inner, str):
        message = inner
    return _opt_str(code), _opt_str(message), _opt_str(payload.get("docs_url")), None


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def error_from_response(
    status_code: int,
    body: bytes,
    *,
    method: str | None = None,
    path: str | None = None,
    retry_after: float | None = None,
) -> TwelveLabsAPIError:
    """Build the typed exception for an error answer of the API.

    :param status_code: the HTTP status.
    :param body: the raw response body (any of the API's error shapes, or empty).
    :param method: the request method, for the message.
    :param path: the request path relative to the base URL, for the message.
    :param retry_after: seconds to wait that the answer asked for, if any.
    """
    code, message, docs_url, details = parse_error_body(body)
    if not message:
        message = _default_message(status_code)
    cls = _status_class(status_code, code)
    return cls(
        status_code,
        code,
        message,
        docs_url=docs_url,
        details=details,
        method=method,
        path=path,
        retry_after=retry_after,
    )


def _default_message(status_code: int) -> str:
    if status_code == 429:
        return "Rate limit exceeded (the API sent no details)."
    if status_code >= 500:
        return "The TwelveLabs API failed on its side (no details in the answer)."
    return "The TwelveLabs API sent no error details."
