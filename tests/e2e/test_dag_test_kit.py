"""End to end: docs/testing.md, followed literally with a DAG of a user's (tests/e2e/dags/index_my_video.py).

The page's files (its ``# file: <path>`` code blocks) are written into a fresh project, with a
sample video as ``dags/videos/clip.mp4``; then its commands run there as a user would type them:
``python -m airflow_provider_twelvelabs.testing dag-test ...`` and ``python -m pytest``.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "testing.md"
USER_DAG = Path(__file__).resolve().parent / "dags" / "index_my_video.py"
SAMPLE = ROOT / "example_dags" / "media" / "testsrc_640x360.mp4"
COMMAND = "python -m airflow_provider_twelvelabs.testing dag-test"
TABLE_ROW = re.compile(r"^(?P<task>\S+)\s{2,}(?P<state>\S+)\s{2,}(?P<returned>.+)$")
ID = re.compile(r'^"[0-9a-f]{24}"$')


def _blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", PAGE.read_text(), flags=re.MULTILINE | re.DOTALL)


def _page_files() -> dict[str, str]:
    files = {}
    for block in _blocks("python"):
        first, _, rest = block.partition("\n")
        if first.startswith("# file: "):
            files[first.removeprefix("# file: ")] = rest
    return files


def _page_commands(prefix: str) -> list[str]:
    return [line for block in _blocks("bash") for line in block.splitlines() if line.startswith(prefix)]


def _project(tmp_path: Path) -> Path:
    project = tmp_path / "my-project"
    for name, text in _page_files().items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(text)
    (project / "dags" / "videos").mkdir(parents=True)
    shutil.copy(SAMPLE, project / "dags" / "videos" / "clip.mp4")
    return project


def _user_env() -> dict[str, str]:
    # A user's shell: this test run's Airflow settings are its own, not the user's.
    return {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTEST_"))}


def _run(command: str, cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    argv = shlex.split(command)
    assert argv[0] == "python"
    return subprocess.run(
        [sys.executable, *argv[1:]],
        cwd=cwd,
        env=_user_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _table(text: str) -> dict[str, tuple[str, str]]:
    """The task table the command prints: task -> (state, returned, as printed)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split() == ["task", "state", "returned"])
    rows = {}
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        match = TABLE_ROW.match(line)
        assert match, line
        rows[match["task"]] = (match["state"], match["returned"])
    return rows


def test_the_page_shows_the_user_dag_verbatim() -> None:
    assert _page_files()["dags/index_my_video.py"] == USER_DAG.read_text()


def test_the_documented_command_runs_the_user_dag(tmp_path: Path) -> None:
    project = _project(tmp_path)
    (command,) = [c for c in _page_commands(COMMAND) if "--real" not in c]

    done = _run(command, project, timeout=300)

    assert done.returncode == 0, done.stdout + done.stderr
    rows = _table(done.stdout)
    # In the order they started: create_index and upload depend on nothing, so either comes first.
    assert sorted(list(rows)[:2]) == ["create_index", "upload"]
    assert list(rows)[2:] == ["index", "report"]
    assert {state for state, _ in rows.values()} == {"success"}
    for task in ("create_index", "upload", "index"):
        assert ID.match(rows[task][1]), rows[task]
    assert len({rows[task][1] for task in ("create_index", "upload", "index")}) == 3
    # The sample is a 6 s MP4: the emulator reads its real duration from the header.
    assert json.loads(rows["report"][1]) == {"status": "ready", "filename": "clip.mp4", "duration": 6.0}
    assert done.stdout.startswith("DAG index_my_video, run manual__")
    assert ": success in " in done.stdout.splitlines()[0]

    # The page's sample output has the same tasks, states and kinds of values.
    (sample,) = [block for block in _blocks("text") if block.startswith("DAG index_my_video")]
    documented = _table(sample)
    assert {task: state for task, (state, _) in documented.items()} == {
        task: state for task, (state, _) in rows.items()
    }
    assert documented["report"][1] == rows["report"][1]

    # Nothing is left behind without --keep-home.
    assert "Airflow home kept" not in done.stderr
    (where,) = re.findall(r"at (http://127\.0\.0\.1:\d+/v1\.3)$", done.stderr, flags=re.MULTILINE)
    assert where


def test_verbose_json_shows_the_deferrals_and_the_whole_result(tmp_path: Path) -> None:
    project = _project(tmp_path)
    (command,) = [c for c in _page_commands(COMMAND) if "--real" not in c]

    done = _run(command + " --verbose --json", project, timeout=300)

    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert result["state"] == "success"
    assert result["home"] is None  # removed: no --keep-home
    assert result["task_states"] == dict.fromkeys(["create_index", "upload", "index", "report"], "success")
    assert result["returns"]["report"] == {"status": "ready", "filename": "clip.mp4", "duration": 6.0}
    # Both waits went to the trigger, which `airflow dags test` runs in line, at the fast poll settings.
    deferred = re.findall(r"Pausing task as DEFERRED.*task_id=(\w+)", done.stderr)
    assert deferred == ["upload", "index"]
    assert result["duration"] < 60


def test_a_failed_run_exits_non_zero_and_keeps_its_home_on_request(tmp_path: Path) -> None:
    project = _project(tmp_path)
    # The user forgot the video: the upload fails, the tasks after it never run.
    (project / "dags" / "videos" / "clip.mp4").unlink()
    (command,) = [c for c in _page_commands(COMMAND) if "--real" not in c]

    done = _run(command + " --keep-home", project, timeout=300)

    assert done.returncode == 1, done.stdout + done.stderr
    rows = _table(done.stdout)
    assert rows["create_index"][0] == "success"
    assert rows["upload"] == ("failed", "-")
    assert rows["index"][0] == "upstream_failed"
    assert rows["report"][0] == "upstream_failed"
    assert "clip.mp4" in done.stderr  # the failing task's error, in the tail of Airflow's output
    (home,) = re.findall(r"Airflow home kept at (\S+) ", done.stderr)
    try:
        assert (Path(home) / "airflow.db").is_file()
        assert "state=failed" in (Path(home) / "dag-test.log").read_text()
    finally:
        shutil.rmtree(home, ignore_errors=True)


def test_the_documented_fixture_test_passes(tmp_path: Path) -> None:
    project = _project(tmp_path)
    (command,) = _page_commands("python -m pytest")

    done = _run(command + " -p no:cacheprovider", project, timeout=300)

    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-3000:]
    assert re.search(r"\b1 passed\b", done.stdout), done.stdout[-3000:]
