"""EmulatorProcess: the emulator's command line in a child process, as tests and benchmarks use it."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from airflow_provider_twelvelabs.testing.emulator.process import EmulatorProcess


def test_starts_on_a_free_loopback_port_serves_and_stops_cleanly(tmp_path: Path) -> None:
    emulator = EmulatorProcess(api_key="tlk_process_key", data_dir=tmp_path, chunk_size=4096, seed=3)
    with emulator:
        assert emulator.base_url.startswith("http://127.0.0.1:") and emulator.base_url.endswith("/v1.3")
        assert emulator.url + "/v1.3" == emulator.base_url
        headers = {"x-api-key": "tlk_process_key"}
        assert httpx.get(emulator.base_url + "/indexes", headers=headers).status_code == 200
        assert httpx.get(emulator.base_url + "/indexes", headers={"x-api-key": "other"}).status_code == 401
        # Options became command-line switches, and switches can change while it runs.
        assert emulator.configure(fault_rate=0.25)["fault_rate"] == 0.25
        assert httpx.get(emulator.url + "/_emulator/config").json()["chunk_size"] == 4096
        pid = emulator.pid
        url = emulator.url
    assert emulator.process is None and pid > 0
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/_emulator/config", timeout=2)
    with pytest.raises(RuntimeError, match="not running"):
        _ = emulator.base_url


def test_the_command_line_spells_each_option_as_the_cli_does() -> None:
    command = EmulatorProcess(
        api_key="k", chunk_size=1024, reject_reused_presigned_urls=True, gist_gone=False, seed=None
    ).command()
    assert command[1:3] == ["-m", "airflow_provider_twelvelabs.testing.emulator"]
    assert command[3:] == [
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--api-key",
        "k",
        "--chunk-size",
        "1024",
        "--reject-reused-presigned-urls",
    ]


def test_a_child_that_cannot_start_fails_with_its_error_output() -> None:
    with pytest.raises(RuntimeError, match=r"did not start[\s\S]*unrecognized arguments: --no-such-option"):
        EmulatorProcess(args=["--no-such-option"]).start()
