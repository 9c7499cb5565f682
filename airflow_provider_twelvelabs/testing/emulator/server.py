"""Serve the emulator on a real socket, in a background thread or from the command line."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import uvicorn

from airflow_provider_twelvelabs.testing.emulator.app import API_PREFIX, EmulatorApp, create_app
from airflow_provider_twelvelabs.testing.emulator.config import EmulatorConfig
from airflow_provider_twelvelabs.testing.emulator.state import EmulatorState

__all__ = ["RunningEmulator", "serve_emulator"]


@dataclass
class RunningEmulator:
    """A running emulator.

    :param url: root URL, for example ``http://127.0.0.1:8123`` (control endpoints live here).
    :param base_url: API base URL including ``/v1.3``: what the SDK's ``TWELVELABS_BASE_URL`` and the
        provider's connection host take.
    :param api_key: the API key the emulator accepts.
    :param app: the ASGI application.
    :param state: the emulator state (inspect or change it directly in tests).
    """

    url: str
    base_url: str
    api_key: str
    app: EmulatorApp
    state: EmulatorState

    @property
    def config(self) -> EmulatorConfig:
        """The live configuration (changes take effect on the next request)."""
        return self.state.config


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def _root_url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def build_server(app: EmulatorApp, sock: socket.socket, *, log_level: str = "warning") -> uvicorn.Server:
    """Build a uvicorn server for ``app`` on an already bound socket.

    :param app: the emulator application.
    :param sock: the bound listening socket.
    :param log_level: uvicorn's log level.
    """
    config = uvicorn.Config(
        app,
        log_level=log_level,
        access_log=False,
        lifespan="off",
        # Large chunk PUTs and slow throttled uploads must not be cut off by server timeouts.
        timeout_keep_alive=30,
        h11_max_incomplete_event_size=1024 * 1024,
        timeout_graceful_shutdown=2,
    )
    return uvicorn.Server(config)


@contextlib.contextmanager
def serve_emulator(
    config: EmulatorConfig | None = None, host: str = "127.0.0.1", port: int = 0
) -> Iterator[RunningEmulator]:
    """Run the emulator with uvicorn in a background thread for the duration of the ``with`` block.

    :param config: the configuration; defaults apply when ``None``.
    :param host: the interface to listen on.
    :param port: the port; ``0`` picks a free one.
    """
    app = create_app(config)
    state = app.emulator
    sock = _bind(host, port)
    actual_port = sock.getsockname()[1]
    server = build_server(app, sock)
    # uvicorn only installs signal handlers in the main thread, so a background thread is safe.
    thread = threading.Thread(
        target=lambda: asyncio.run(server.serve(sockets=[sock])), name="twelvelabs-emulator", daemon=True
    )
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the emulator server failed to start")
            threading.Event().wait(0.01)
        root = _root_url(host, actual_port)
        yield RunningEmulator(
            url=root, base_url=root + API_PREFIX, api_key=state.config.api_key, app=app, state=state
        )
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        state.close()
