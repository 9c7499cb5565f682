"""The command line, the background-thread server and the pytest plugin."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest

from airflow_provider_twelvelabs.testing.emulator import EmulatorConfig, serve_emulator
from airflow_provider_twelvelabs.testing.emulator.cli import build_parser, config_from_args


def test_cli_prints_its_base_url_once_ready_and_serves(tmp_path: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "airflow_provider_twelvelabs.testing.emulator",
        "--port",
        "0",
        "--api-key",
        "cli-key",
        "--data-dir",
        str(tmp_path / "data"),
        "--seed",
        "5",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("http://127.0.0.1:") and line.endswith("/v1.3"), line
        assert httpx.get(line + "/indexes", headers={"x-api-key": "cli-key"}).status_code == 200
        assert httpx.get(line + "/indexes", headers={"x-api-key": "other"}).status_code == 401
        upload = httpx.post(
            line + "/assets",
            headers={"x-api-key": "cli-key"},
            data={"method": "direct"},
            files={"file": ("a.mp4", b"abc", "video/mp4")},
        )
        assert upload.status_code == 201
        assert (tmp_path / "data" / "assets" / upload.json()["_id"]).read_bytes() == b"abc"
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=15)
    assert process.returncode == 0


def test_cli_arguments_map_to_the_config() -> None:
    args = build_parser().parse_args(
        [
            "--fault-rate",
            "0.1",
            "--chunk-latency-ms",
            "50",
            "--chunk-bandwidth-mbps",
            "25",
            "--rate-limit-rpm",
            "60",
            "--chunk-size",
            "1048576",
            "--polls-per-step",
            "3",
            "--reject-reused-presigned-urls",
            "--serve-retired-endpoints",
        ]
    )
    config = config_from_args(args)
    assert config.fault_rate == 0.1 and config.chunk_latency_ms == 50 and config.chunk_bandwidth_mbps == 25
    assert config.rate_limit_rpm == 60 and config.chunk_size == 1048576 and config.polls_per_step == 3
    assert config.reject_reused_presigned_urls and not config.gist_gone and not config.summarize_gone
    # Without the flag, the retired endpoints answer as the real API does.
    default = config_from_args(build_parser().parse_args([]))
    assert default.gist_gone and default.summarize_gone
    assert config.analyze_task_seconds == 0 and not config.strict_media


def test_cli_analyze_task_seconds_and_strict_media() -> None:
    config = config_from_args(build_parser().parse_args(["--analyze-task-seconds", "12.5", "--strict-media"]))
    assert config.analyze_task_seconds == 12.5
    assert config.strict_media


def test_cli_reports_a_port_in_use() -> None:
    with serve_emulator() as running:
        port = running.url.rsplit(":", 1)[1]
        result = subprocess.run(
            [sys.executable, "-m", "airflow_provider_twelvelabs.testing.emulator", "--port", port],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    assert result.returncode == 1
    assert result.stdout == ""
    assert "error" in result.stderr


def test_serve_emulator_exposes_urls_key_and_state_and_stops(tmp_path: Path) -> None:
    config = EmulatorConfig(api_key="k", data_dir=str(tmp_path))
    with serve_emulator(config) as running:
        assert running.base_url == running.url + "/v1.3"
        assert running.api_key == "k" and running.config is config
        assert running.app.state.emulator is running.state
        response = httpx.post(running.base_url + "/indexes", headers={"x-api-key": "k"}, json={})
        assert response.status_code == 400
        url = running.url
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/_emulator/config", timeout=2)


def test_pytest_plugin_fixtures_work_in_a_user_project(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(
        'pytest_plugins = ["airflow_provider_twelvelabs.testing.pytest_plugin"]\n'
    )
    (tmp_path / "test_user_dag.py").write_text(
        textwrap.dedent(
            """
            import os

            import httpx
            import pytest

            from airflow_provider_twelvelabs.testing.emulator import EmulatorConfig


            @pytest.fixture
            def twelvelabs_emulator_config():
                return EmulatorConfig(api_key="user-key")


            def test_fixture(twelvelabs_emulator):
                assert twelvelabs_emulator.api_key == "user-key"
                response = httpx.get(
                    twelvelabs_emulator.base_url + "/indexes", headers={"x-api-key": "user-key"}
                )
                assert response.status_code == 200


            def test_env(twelvelabs_emulator_env):
                assert os.environ["TWELVELABS_BASE_URL"] == twelvelabs_emulator_env.base_url
            """
        )
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-W",
            "ignore::DeprecationWarning",
            ".",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    # Local servers must never be reached through an HTTP proxy configured in the environment.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setitem(os.environ, "no_proxy", "127.0.0.1,localhost")


def test_cli_lost_answer_flags() -> None:
    args = build_parser().parse_args(
        [
            "--lose-answer",
            "POST /assets=2",
            "--lose-answer",
            "post /indexes/*/indexed-assets",
            "--lose-answer-rate",
            "0.1",
            "--lose-answer-methods",
            "POST",
            "--lose-answer-paths",
            "/analyze,/embed-v2",
        ]
    )
    config = config_from_args(args)
    assert config.lose_answers == {"POST /assets": 2, "POST /indexes/*/indexed-assets": 1}
    assert config.lose_answer_rate == 0.1
    assert config.lose_answer_methods == ("POST",)
    assert config.lose_answer_paths == ("/analyze", "/embed-v2")
