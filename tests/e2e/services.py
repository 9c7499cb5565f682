"""Throwaway PostgreSQL and Redis servers for the distributed end-to-end tests, on 127.0.0.1.

:func:`postgres_server` makes a cluster with ``initdb`` in a temporary folder and runs ``postgres``
on a free loopback port (no fsync: the data is thrown away), and :func:`pg_dump` dumps its database
as SQL text; :func:`redis_server` runs ``redis-server`` on a free loopback port without
persistence. Both servers skip the test, saying why, when
the server is not installed (``scripts/test.sh``, run as root, installs ``redis-server`` when it is
missing; PostgreSQL is on these machines). Each server is a
:class:`~tests.e2e.airflow_stack.Service` of the stack, so its log shows in failure reports and it
is stopped with the rest.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.airflow_stack import Stack, free_port

#: The role and database Airflow uses.
PG_USER = "airflow"
PG_DATABASE = "airflow"


def postgres_bindir() -> Path | None:
    """The folder of ``initdb`` and ``postgres`` (``initdb`` on PATH, or Debian's versioned folder)."""
    found = shutil.which("initdb")
    candidates = [Path(found).resolve().parent] if found else []
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    return next((d for d in candidates if (d / "initdb").exists() and (d / "postgres").exists()), None)


def _run_as() -> str | None:
    """PostgreSQL refuses to run as root: the user to run it as then (``postgres``), else ``None``."""
    if os.geteuid() != 0:
        return None
    try:
        import pwd

        pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("running as root and there is no 'postgres' user to run PostgreSQL as")
    return "postgres"


@contextlib.contextmanager
def postgres_server(stack: Stack, *, timeout: float = 60) -> Iterator[str]:
    """Run a throwaway PostgreSQL cluster; yield the SQLAlchemy URL of its ``airflow`` database."""
    bindir = postgres_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed (no initdb on PATH nor under /usr/lib/postgresql)")
    user = _run_as()
    # Not under pytest's tmp_path: the postgres user cannot enter root's 0700 folders.
    root = Path(tempfile.mkdtemp(prefix="twelvelabs-pg-"))
    try:
        data, sockets = root / "data", root / "sockets"
        sockets.mkdir()
        if user is not None:
            shutil.chown(root, user)
            shutil.chown(sockets, user)
        init = subprocess.run(
            [str(bindir / "initdb"), "-D", str(data), "-U", PG_USER, "-A", "trust", "-E", "UTF8"],
            user=user,
            cwd=root,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert init.returncode == 0, f"initdb failed:\n{init.stdout}{init.stderr}"
        port = free_port()
        stack.start(
            "postgres",
            [
                str(bindir / "postgres"),
                "-D",
                str(data),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-k",
                str(sockets),
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=300",
            ],
            user=user,
            cwd=root,
        )
        createdb = [str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", PG_USER, PG_DATABASE]

        def created() -> bool:
            result = subprocess.run(createdb, capture_output=True, text=True, timeout=30, check=False)
            return result.returncode == 0 or "already exists" in result.stderr

        stack.wait_for("PostgreSQL to accept connections", created, timeout, 0.5)
        yield f"postgresql+psycopg2://{PG_USER}@127.0.0.1:{port}/{PG_DATABASE}"
    finally:
        if "postgres" in stack.services:
            stack.services["postgres"].stop()
        shutil.rmtree(root, ignore_errors=True)


def pg_dump(url: str, *, timeout: float = 300) -> str:
    """The whole database at ``url`` (a URL :func:`postgres_server` yielded) as ``pg_dump``'s SQL text.

    ``pg_dump`` comes from the same PostgreSQL install as ``initdb`` (:func:`postgres_bindir`).
    """
    bindir = postgres_bindir()
    assert bindir is not None and (bindir / "pg_dump").exists(), f"no pg_dump next to initdb in {bindir}"
    address = url.split("@", 1)[1]
    host_port, database = address.split("/", 1)
    host, port = host_port.rsplit(":", 1)
    dump = subprocess.run(
        [str(bindir / "pg_dump"), "-h", host, "-p", port, "-U", PG_USER, "--no-password", database],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert dump.returncode == 0, f"pg_dump failed:\n{dump.stderr[-3000:]}"
    return dump.stdout


@contextlib.contextmanager
def redis_server(stack: Stack, *, timeout: float = 30) -> Iterator[str]:
    """Run ``redis-server`` on 127.0.0.1 without persistence; yield its URL (database 0)."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (scripts/test.sh, run as root, installs it with apt-get)")
    port = free_port()
    folder = stack.tmp / "redis"
    folder.mkdir(exist_ok=True)
    service = stack.start(
        "redis",
        [
            binary,
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(folder),
        ],
    )

    def ready() -> bool:
        return "Ready to accept connections" in service.log.read_text(errors="replace")

    stack.wait_for("redis-server to accept connections", ready, timeout, 0.2)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        service.stop()


def celery_slots(broker_url: str, expected_workers: int, timeout: float = 120) -> dict[str, int]:
    """Ask the Celery workers on ``broker_url`` for their pool sizes: worker name -> slots."""
    from celery import Celery

    app = Celery(broker=broker_url)
    deadline = time.monotonic() + timeout
    try:
        while True:
            stats = app.control.inspect(timeout=5).stats() or {}
            slots = {name: int(info["pool"]["max-concurrency"]) for name, info in stats.items()}
            if len(slots) >= expected_workers or time.monotonic() > deadline:
                return slots
            time.sleep(1)
    finally:
        app.close()
