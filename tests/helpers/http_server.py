"""A small scriptable HTTP server on 127.0.0.1 that records every request it receives.

Transport tests talk to it over a real socket, so retries, timeouts, dropped connections and the
exact bytes on the wire are exercised as in production (no mocked transport). Usage::

    server.on("GET", "assets/a1", Reply(429, headers={"Retry-After": "1"}), Reply(200, json={...}))
    hook.get_asset("a1")
    assert [r.at for r in server.requests] ...

Replies for a route are consumed in order and the last one repeats. A reply can answer normally,
answer after a delay (to provoke a read timeout), drop the connection without answering, or stream
NDJSON lines.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

__all__ = ["FormFile", "RecordedRequest", "RecordingServer", "Reply", "serve"]

API_PREFIX = "/v1.3"


@dataclass
class Reply:
    """What the server does for one request.

    :param status: the HTTP status.
    :param json: a JSON body (sets ``content-type``).
    :param body: a raw body, used when ``json`` is not given.
    :param headers: extra response headers.
    :param delay: seconds to wait before answering (read-timeout tests).
    :param drop: close the connection without answering (dropped-connection tests).
    :param lines: NDJSON lines streamed one by one, chunked (raw strings, sent as they are).
    """

    status: int = 200
    json: Any = None
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False
    lines: Sequence[str] | None = None


@dataclass(frozen=True)
class FormFile:
    """A file part of a recorded multipart form."""

    filename: str
    content_type: str
    content: bytes


@dataclass
class RecordedRequest:
    """One request as the server received it.

    :param method: the HTTP method.
    :param target: the raw request target (path and query, still percent-encoded).
    :param headers: the request headers, names lower-cased, in the order received.
    :param body: the raw body (chunked transfer decoded).
    :param at: ``time.monotonic()`` when the request line arrived.
    """

    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes
    at: float

    @property
    def path(self) -> str:
        """The path without the query, still percent-encoded."""
        return urlsplit(self.target).path

    @property
    def api_path(self) -> str:
        """The path relative to the API base (``assets/abc``)."""
        path = self.path
        if path.startswith(API_PREFIX + "/"):
            path = path[len(API_PREFIX) + 1 :]
        return path.lstrip("/")

    @property
    def raw_query(self) -> str:
        """The query string as sent."""
        return urlsplit(self.target).query

    @property
    def query(self) -> list[tuple[str, str]]:
        """The decoded query pairs, repeated keys kept in order."""
        return parse_qsl(self.raw_query, keep_blank_values=True)

    def header(self, name: str) -> str | None:
        """Return the first value of a header, or ``None``."""
        name = name.lower()
        return next((v for k, v in self.headers if k == name), None)

    def json(self) -> Any:
        """The body decoded as JSON."""
        return json.loads(self.body)

    def form(self) -> list[tuple[str, str | FormFile]]:
        """The multipart form fields in order; file parts as :class:`FormFile`."""
        content_type = self.header("content-type") or ""
        if not content_type.startswith("multipart/form-data"):
            raise AssertionError(f"not a multipart body: {content_type!r}")
        message = BytesParser(policy=HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + self.body
        )
        fields: list[tuple[str, str | FormFile]] = []
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            filename = part.get_filename()
            payload = part.get_payload(decode=True) or b""
            if filename is not None:
                fields.append((str(name), FormFile(filename, part.get_content_type(), payload)))
            else:
                fields.append((str(name), payload.decode("utf-8")))
        return fields

    def form_dict(self) -> dict[str, list[str | FormFile]]:
        """The multipart fields grouped by name (every value a list)."""
        grouped: dict[str, list[str | FormFile]] = {}
        for name, value in self.form():
            grouped.setdefault(name, []).append(value)
        return grouped


Responder = Reply | Callable[[RecordedRequest], Reply]


class RecordingServer:
    """The server: routes scripted with :meth:`on`, every request kept in :attr:`requests`."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self._routes: dict[tuple[str, str], list[Responder]] = {}
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self), bind_and_activate=False)
        self._httpd.daemon_threads = True
        self._httpd.allow_reuse_address = True
        self._httpd.server_bind()
        self._thread: threading.Thread | None = None
        self.port: int = self._httpd.server_address[1]

    @property
    def root_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """The API base URL, version path included."""
        return self.root_url + API_PREFIX

    def on(self, method: str, path: str, *replies: Responder) -> None:
        """Script the replies to ``method path`` (path relative to the API base, no query).

        The replies are used in order; the last one answers every later request.
        """
        with self._lock:
            self._routes[(method.upper(), path.strip("/"))] = list(replies)

    def reset(self) -> None:
        """Forget the recorded requests (the routes stay)."""
        with self._lock:
            self.requests.clear()

    def listen(self) -> None:
        """Start accepting connections (until then, connecting is refused)."""
        self._httpd.server_activate()
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop the server."""
        if self._thread is not None:
            self._httpd.shutdown()
        self._httpd.server_close()

    def _reply_for(self, request: RecordedRequest) -> Reply:
        with self._lock:
            self.requests.append(request)
            replies = self._routes.get((request.method, request.api_path))
            if not replies:
                return Reply(404, json={"code": "not_found", "message": f"no route {request.api_path}"})
            responder = replies.pop(0) if len(replies) > 1 else replies[0]
        return responder(request) if callable(responder) else responder

    def bodies(self, method: str, path: str) -> list[bytes]:
        """The bodies of the requests recorded for ``method path``."""
        return [r.body for r in self.requests if r.method == method and r.api_path == path.strip("/")]


def _read_chunked(rfile: Any) -> bytes:
    out = bytearray()
    while True:
        size = int(rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            while rfile.readline() not in (b"\r\n", b"\n", b""):
                pass
            return bytes(out)
        out += rfile.read(size)
        rfile.readline()


def _handler_for(server: RecordingServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            """Keep test output quiet."""

        def _handle(self) -> None:
            at = time.monotonic()
            headers = [(k.lower(), v) for k, v in self.headers.items()]
            if (self.headers.get("transfer-encoding") or "").lower() == "chunked":
                body = _read_chunked(self.rfile)
            else:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
            request = RecordedRequest(self.command, self.path, headers, body, at)
            reply = server._reply_for(request)
            if reply.delay:
                time.sleep(reply.delay)
            if reply.drop:
                self.close_connection = True
                # SO_LINGER 0 would send RST; a plain shutdown is "server disconnected".
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            if reply.lines is not None:
                self.send_header("Content-Type", "application/x-ndjson")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for line in reply.lines:
                    data = (line + "\n").encode()
                    self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")
                return
            payload = reply.body
            if reply.json is not None:
                payload = json.dumps(reply.json).encode()
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if payload and self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

    return Handler


@contextmanager
def serve() -> Iterator[RecordingServer]:
    """Run a :class:`RecordingServer` for the duration of a ``with`` block."""
    server = RecordingServer()
    server.listen()
    try:
        yield server
    finally:
        server.close()
