"""The DAG test kit's parts that need no Airflow run: its environment, its checks, its result."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_provider_twelvelabs.testing import dag_test
from airflow_provider_twelvelabs.testing.dag_test import (
    FAST_POLL_ENV,
    DagTestError,
    DagTestResult,
    TaskResult,
    airflow_env,
    run_dag_test,
)


def test_airflow_env_starts_from_airflow_defaults_and_keeps_other_connections(tmp_path: Path) -> None:
    caller = {
        "PATH": "/usr/bin",
        "AIRFLOW_HOME": "/srv/airflow",
        "AIRFLOW_CONFIG": "/srv/airflow/airflow.cfg",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "postgresql://prod/airflow",
        "AIRFLOW__SECRETS__BACKEND": "vault",
        "AIRFLOW_CONN_TWELVELABS_DEFAULT": '{"conn_type": "twelvelabs", "password": "prod"}',
        "AIRFLOW_CONN_MY_S3": "aws://",
        "AIRFLOW_VAR_BUCKET": "videos",
    }
    env = airflow_env(
        tmp_path, tmp_path / "dags", base_url="http://127.0.0.1:1/v1.3", api_key="k", base=caller
    )

    assert env["AIRFLOW_HOME"] == str(tmp_path)
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == f"sqlite:///{tmp_path}/airflow.db"
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == str(tmp_path / "dags")
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"
    assert "AIRFLOW__SECRETS__BACKEND" not in env
    assert "AIRFLOW_CONFIG" not in env
    assert json.loads(env["AIRFLOW_CONN_TWELVELABS_DEFAULT"]) == {
        "conn_type": "twelvelabs",
        "password": "k",
        "host": "http://127.0.0.1:1/v1.3",
    }
    assert env["TWELVELABS_BASE_URL"] == "http://127.0.0.1:1/v1.3"
    assert env["AIRFLOW_CONN_MY_S3"] == "aws://"
    assert env["AIRFLOW_VAR_BUCKET"] == "videos"
    assert env["PATH"] == "/usr/bin"
    assert {k: env[k] for k in FAST_POLL_ENV} == FAST_POLL_ENV


def test_airflow_env_without_fast_polls_and_with_extra_settings(tmp_path: Path) -> None:
    env = airflow_env(
        tmp_path,
        tmp_path,
        base_url="u",
        api_key="k",
        fast_polls=False,
        extra={"AIRFLOW__CORE__LOAD_EXAMPLES": "True", "AIRFLOW_VAR_X": "1"},
        base={},
    )
    assert not set(FAST_POLL_ENV) & set(env)
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "True"
    assert env["AIRFLOW_VAR_X"] == "1"


@pytest.fixture
def dag_file(tmp_path: Path) -> Path:
    path = tmp_path / "my_dag.py"
    path.write_text("# a DAG file\n")
    return path


@pytest.fixture
def no_subprocess(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a bad argument must fail before Airflow runs")

    monkeypatch.setattr(dag_test.subprocess, "run", refuse)
    monkeypatch.setattr(dag_test.subprocess, "Popen", refuse)


@pytest.mark.usefixtures("no_subprocess")
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"conf": ["not", "a", "mapping"]}, "conf must be a mapping"),
        ({"timeout": 0}, "timeout must be a positive number"),
        ({"timeout": True}, "timeout must be a positive number"),
    ],
)
def test_run_dag_test_rejects_bad_arguments_before_running(
    dag_file: Path, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(DagTestError, match=message):
        run_dag_test(dag_file, base_url="http://127.0.0.1:1/v1.3", api_key="k", **kwargs)  # type: ignore[arg-type]


@pytest.mark.usefixtures("no_subprocess")
def test_run_dag_test_needs_an_existing_file_and_an_empty_home(tmp_path: Path, dag_file: Path) -> None:
    with pytest.raises(DagTestError, match=r"dag_file .*missing\.py' is not a file"):
        run_dag_test(tmp_path / "missing.py", base_url="u", api_key="k")
    home = tmp_path / "home"
    home.mkdir()
    (home / "airflow.db").write_text("")
    with pytest.raises(DagTestError, match="is not empty"):
        run_dag_test(dag_file, base_url="u", api_key="k", home=home)


@pytest.mark.usefixtures("no_subprocess")
@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--conf", "{not json"], "--conf is not valid JSON"),
        (["--conf", "[1, 2]"], "--conf must be a JSON object"),
        (["--env", "NO_EQUALS_SIGN"], "--env takes NAME=VALUE"),
        (["--emulator-config", '{"no_such_switch": 1}'], "--emulator-config: unknown emulator config field"),
        (["--real", "--emulator-config", "{}"], "exclude each other"),
    ],
)
def test_cli_usage_errors_exit_2_naming_the_option(
    dag_file: Path, extra: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert dag_test.main(["dag-test", str(dag_file), *extra]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.usefixtures("no_subprocess")
def test_cli_real_mode_needs_the_key_in_the_environment(
    dag_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("TWELVELABS_API_KEY", raising=False)
    assert dag_test.main(["dag-test", str(dag_file), "--real"]) == 2
    assert "TWELVELABS_API_KEY" in capsys.readouterr().err


@pytest.mark.usefixtures("no_subprocess")
def test_cli_missing_dag_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert dag_test.main(["dag-test", str(tmp_path / "nope.py")]) == 2
    assert "nope.py' is not a file" in capsys.readouterr().err


def _result(tasks: list[TaskResult], state: str = "success", returncode: int = 0) -> DagTestResult:
    output = "\n".join(f"line {n}" for n in range(100))
    return DagTestResult(
        dag_id="d",
        run_id="manual__1",
        state=state,
        returncode=returncode,
        tasks=tasks,
        output=output,
        home=Path("/tmp/h"),
        duration=1.25,
    )


def _task(
    task_id: str, map_index: int = -1, state: str | None = "success", value: object = None
) -> TaskResult:
    return TaskResult(task_id, map_index, state, 1, value is not None, value)


def test_result_groups_mapped_tasks_by_map_index() -> None:
    result = _result(
        [
            _task("list", value=["a", "b"]),
            _task("upload", 1, value="id-b"),
            _task("upload", 0, value="id-a"),
            _task("notify"),
        ]
    )
    assert result.task_states == {"list": "success", "upload": ["success", "success"], "notify": "success"}
    assert result.returns == {"list": ["a", "b"], "upload": ["id-a", "id-b"]}
    assert result.succeeded


def test_format_lists_every_task_instance_with_its_value() -> None:
    result = _result([_task("create", value="abc"), _task("upload", 0, value={"k": 1}), _task("notify")])
    assert result.format().splitlines() == [
        "DAG d, run manual__1: success in 1.2 s",
        "",
        "task       state    returned",
        'create     success  "abc"',
        'upload[0]  success  {"k": 1}',
        "notify     success  -",
    ]
    assert result.report() == result.format()


def test_a_long_value_is_cut_in_the_table_but_whole_in_the_result() -> None:
    value = "x" * 1000
    result = _result([_task("big", value=value)])
    line = result.format().splitlines()[-1]
    assert line.endswith("…")
    assert len(line) < 300
    assert result.returns["big"] == value
    assert result.as_dict()["returns"]["big"] == value


def test_a_failed_run_reports_the_tail_of_airflow_output() -> None:
    result = _result([_task("a", state="failed")], state="failed", returncode=1)
    assert not result.succeeded
    report = result.report()
    assert "DAG d, run manual__1: failed" in report
    assert report.endswith("line 99")
    assert "line 39\n" not in report
    assert "line 40\n" in report


def test_a_success_state_with_a_failing_command_is_not_a_success() -> None:
    result = _result([_task("a")], returncode=1)
    assert not result.succeeded
    assert "(airflow dags test exited with 1)" in result.format()
