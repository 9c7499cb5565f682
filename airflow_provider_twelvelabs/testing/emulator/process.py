"""Run the emulator in a child process, as ``python -m airflow_provider_twelvelabs.testing.emulator``.

For tests and benchmarks that need the emulator outside their own process: its CPU and memory are
its own (measurements), it survives the test's event loop, or a real SDK should find it as a user's
would. Usage::

    with EmulatorProcess(chunk_size=1024 * 1024, api_key="tlk_test") as emulator:
        client = TwelveLabs(api_key=emulator.api_key)  # with TWELVELABS_BASE_URL=emulator.base_url
        emulator.configure(fault_rate=0.1)

The child listens on 127.0.0.1 and a free port; the base URL is the one line it prints once it
accepts connections.
"""

from __future__ import annotations

import contextlib
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import IO, Any

from airflow_provider_twelvelabs.testing.emulator.config import DEFAULT_API_KEY

__all__ = ["EmulatorProcess"]

_MODULE = "airflow_provider_twelvelabs.testing.emulator"
_API_PREFIX = "/v1.3"


class EmulatorProcess:
    """The emulator's command line run in a child process on 127.0.0.1 and a free port.

    :param api_key: the ``x-api-key`` the emulator accepts.
    :param host: the interface to listen on.
    :param options: further command-line options by name (``chunk_size=1024`` is
        ``--chunk-size 1024``; ``True`` is a bare flag, ``False``/``None`` leave the option out).
    :param args: raw command-line arguments, after the options.
    :param env: the child's environment (this process's by default).
    :param startup_timeout: seconds to wait for the child to print its base URL.
    """

    def __init__(
        self,
        *,
        api_key: str = DEFAULT_API_KEY,
        host: str = "127.0.0.1",
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        startup_timeout: float = 60.0,
        **options: Any,
    ) -> None:
        self.api_key = api_key
        self.host = host
        self.options = options
        self.args = list(args)
        self.env = dict(env) if env is not None else None
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen[str] | None = None
        self._base_url: str | None = None
        self._stderr: IO[str] | None = None

    # ------------------------------------------------------------------ addresses

    @property
    def base_url(self) -> str:
        """The API base URL, ``/v1.3`` included (for ``TWELVELABS_BASE_URL`` or a connection's host)."""
        if self._base_url is None:
            raise RuntimeError("the emulator process is not running; call start() first")
        return self._base_url

    @property
    def url(self) -> str:
        """The root URL (control endpoints under ``/_emulator`` live here)."""
        return self.base_url.removesuffix(_API_PREFIX)

    @property
    def pid(self) -> int:
        """The child's process id."""
        if self.process is None:
            raise RuntimeError("the emulator process is not running; call start() first")
        return self.process.pid

    def command(self) -> list[str]:
        """Return the command line the child runs."""
        command = [sys.executable, "-m", _MODULE, "--host", self.host, "--port", "0"]
        command += ["--api-key", self.api_key]
        for name, value in self.options.items():
            flag = "--" + name.replace("_", "-")
            if value is True:
                command.append(flag)
            elif value is not None and value is not False:
                command += [flag, str(value)]
        return command + self.args

    # ------------------------------------------------------------------ life cycle

    def start(self) -> EmulatorProcess:
        """Start the child and wait until it prints its base URL.

        :raises RuntimeError: when it exits or stays silent for ``startup_timeout`` seconds (its
            error output is in the message).
        """
        if self.process is not None:
            raise RuntimeError("the emulator process is already started")
        # A file, not a pipe: nobody reads stderr while the child runs, and a full pipe would block it.
        self._stderr = tempfile.TemporaryFile(mode="w+", encoding="utf-8")  # noqa: SIM115 - closed by stop()
        # The command is this interpreter running the emulator's module with the caller's options.
        self.process = subprocess.Popen(  # noqa: S603
            self.command(),
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            stdin=subprocess.DEVNULL,
            text=True,
            env=self.env,
        )
        try:
            line = self._read_line(self.startup_timeout)
        except BaseException:
            self.stop()
            raise
        if not line.startswith("http") or not line.endswith(_API_PREFIX):
            message = f"the emulator did not start: {line!r}\n{self._error_output()}"
            self.stop()
            raise RuntimeError(message)
        self._base_url = line
        return self

    def _read_line(self, timeout: float) -> str:
        assert self.process is not None and self.process.stdout is not None
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RuntimeError(
                        f"the emulator printed no base URL within {timeout:.0f} s\n{self._error_output()}"
                    )
                if selector.select(timeout=min(left, 0.5)):
                    return self.process.stdout.readline().strip()
                if self.process.poll() is not None:
                    return self.process.stdout.readline().strip()

    def _error_output(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.flush()
        self._stderr.seek(0)
        return self._stderr.read()[-4000:]

    def stop(self, timeout: float = 15.0) -> int | None:
        """Stop the child as Ctrl-C would (it closes its storage), killing it if it does not exit.

        :param timeout: seconds to wait for a clean exit before killing it.
        :return: the child's exit code, or ``None`` when it was not started.
        """
        process, self.process, self._base_url = self.process, None, None
        if process is None:
            return None
        try:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=timeout)
            return process.returncode
        finally:
            if process.stdout is not None:
                process.stdout.close()
            if self._stderr is not None:
                with contextlib.suppress(OSError):
                    self._stderr.close()
                self._stderr = None

    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ control

    def configure(self, **changes: Any) -> dict[str, Any]:
        """Change emulator switches (``POST /_emulator/config``); return the new configuration.

        :param changes: configuration fields and their new values (``fault_rate=0.2``...).
        """
        import httpx

        response = httpx.post(f"{self.url}/_emulator/config", json=changes, timeout=30)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result
