"""API errors raised by route handlers and turned into responses by the app.

The real API uses three error body shapes (contract.md 1.6): the flat generic one
``{"code", "message", "docs_url"?}``, the nested embed-v2 one ``{"error": {"code", "message", "details"?}}``
and an empty body (429 on search, analyze, summarize and gist). A handler raises :class:`APIError`
with the shape it needs; :func:`error_response` renders it.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from starlette.responses import Response

__all__ = [
    "DOCS_URL",
    "APIError",
    "ErrorShape",
    "bad_request",
    "error_response",
    "not_found",
]

ErrorShape = Literal["flat", "nested", "empty"]

#: Base of the ``docs_url`` the real API puts in flat error bodies.
DOCS_URL = "https://docs.twelvelabs.io/v1.3/api-reference/error-codes"


class APIError(Exception):
    """An error answer of the emulated API.

    :param status: the HTTP status code.
    :param code: the API error ``code`` (for example ``parameter_invalid``).
    :param message: the human-readable ``message``.
    :param shape: ``flat``, ``nested`` (embed v2) or ``empty`` (no body at all).
    :param details: optional ``details`` object, only rendered in the nested shape.
    :param docs_url: whether the flat shape carries a ``docs_url``.
    :param headers: extra response headers (for example ``Retry-After``).
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        shape: ErrorShape = "flat",
        details: dict[str, Any] | None = None,
        docs_url: bool = True,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.shape: ErrorShape = shape
        self.details = details
        self.docs_url = docs_url
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any] | None:
        """Return the JSON body of this error, or ``None`` for the empty shape."""
        if self.shape == "empty":
            return None
        if self.shape == "nested":
            inner: dict[str, Any] = {"code": self.code, "message": self.message}
            if self.details is not None:
                inner["details"] = self.details
            return {"error": inner}
        flat: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.docs_url:
            flat["docs_url"] = f"{DOCS_URL}#{self.code}"
        return flat


def error_response(error: APIError) -> Response:
    """Render ``error`` as a Starlette response.

    :param error: the error to render.
    """
    body = error.body()
    if body is None:
        return Response(status_code=error.status, headers=error.headers)
    return Response(
        json.dumps(body),
        status_code=error.status,
        media_type="application/json",
        headers=error.headers,
    )


def not_found(resource_id: str, collection: str, *, shape: ErrorShape = "flat") -> APIError:
    """Build the 404 ``resource_not_exist`` error for an unknown id.

    :param resource_id: the id that was asked for.
    :param collection: the collection name used in the message (for example ``assets``).
    :param shape: the body shape; embed v2 uses ``nested``.
    """
    return APIError(
        404,
        "resource_not_exist",
        f"Resource with id {resource_id} does not exist in {collection}.",
        shape=shape,
    )


def bad_request(message: str, code: str = "parameter_invalid", *, shape: ErrorShape = "flat") -> APIError:
    """Build a 400 error.

    :param message: the human-readable message.
    :param code: the error code (``parameter_invalid`` by default).
    :param shape: the body shape; embed v2 uses ``nested``.
    """
    return APIError(400, code, message, shape=shape)
