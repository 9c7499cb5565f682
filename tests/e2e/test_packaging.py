"""End to end: the provider as users install it, from a built sdist and wheel, as docs/install.md says.

Builds both with ``python -m build`` (the wheel from the sdist, as pip does), checks them with
``twine check --strict``, installs the wheel with its ``emulator`` extra into a fresh virtualenv
(which holds nothing of the checkout), and uses it from there: ``airflow providers list``, the
example DAGs copied out of the sdist, and the emulator started with ``python -m``. ``build`` and
``twine`` are installed into that virtualenv only; without a package index the module is skipped.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import httpx
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "airflow_provider_twelvelabs"
DISTRIBUTION = "airflow-provider-twelvelabs"
EMULATOR_KEY = "tlk_PACKAGING_SECRET_5e0c2a"
_LINK = re.compile(r"\]\(([^)\s]+)\)")
_BASE_URL = re.compile(r"http://127\.0\.0\.1:\d+/v1\.3")
#: The DAG the README's demo runs.
DEMO_DAG = "twelvelabs_media_archive"


@dataclass(frozen=True)
class Built:
    """The fresh virtualenv with the wheel installed, what was built, from what, and the unpacked sdist."""

    source: Path
    venv: Path
    wheel: Path
    sdist: Path
    sdist_root: Path
    work: Path

    def bin(self, name: str) -> str:
        return str(self.venv / "bin" / name)


def _env(work: Path, venv: Path) -> dict[str, str]:
    """The environment of a user's shell with the fresh venv activated: nothing of this test run."""
    drop = ("AIRFLOW", "PYTHON", "VIRTUAL_ENV", "TWELVELABS")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(venv)
    env["AIRFLOW_HOME"] = str(work / "airflow-home")
    env["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    return env


def _run(
    args: list[str], work: Path, venv: Path, timeout: float, **env: str
) -> subprocess.CompletedProcess[str]:
    # cwd is outside the checkout, so nothing is imported from it by accident.
    return subprocess.run(
        args,
        cwd=work,
        env={**_env(work, venv), **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"{result.args}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


def _last_json(stdout: str) -> object:
    # Airflow's CLI may print warnings on stdout before the JSON it was asked for.
    lines = [line for line in stdout.splitlines() if line.startswith(("[", "{"))]
    assert lines, stdout[-3000:]
    return json.loads(lines[-1])


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    work = tmp_path_factory.mktemp("packaging")
    venv = work / "venv"
    _ok(_run([sys.executable, "-m", "venv", str(venv)], work, venv, timeout=120))
    python = str(venv / "bin" / "python")
    pip = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    tools = _run([*pip, "build", "twine"], work, venv, timeout=300)
    if tools.returncode != 0:
        pytest.skip(f"cannot install build and twine: {tools.stderr.strip().splitlines()[-1:]}")

    dist = work / "dist"
    source = _clean_copy(work / "src")
    # No --sdist/--wheel: build makes the sdist, then the wheel from the unpacked sdist, so a file
    # missing from the sdist breaks the wheel too.
    _ok(_run([python, "-m", "build", "--outdir", str(dist), str(source)], work, venv, timeout=300))
    (wheel,) = dist.glob("*.whl")
    (sdist,) = dist.glob("*.tar.gz")
    _ok(_run([python, "-m", "twine", "check", "--strict", str(wheel), str(sdist)], work, venv, timeout=120))

    # The command docs/install.md gives; pip only warns if an extra is not declared. The demo DAG
    # writes its catalog as Parquet too: the `parquet` extra.
    _ok(_run([*pip, f"{wheel}[emulator,parquet]"], work, venv, timeout=600))

    unpacked = work / "sdist"
    with tarfile.open(sdist) as archive:
        if hasattr(tarfile, "data_filter"):
            archive.extractall(unpacked, filter="data")
        else:  # Python < 3.10.12 has no filters; the archive is our own, just built
            archive.extractall(unpacked)
    (sdist_root,) = unpacked.iterdir()
    yield Built(source=source, venv=venv, wheel=wheel, sdist=sdist, sdist_root=sdist_root, work=work)
    # The venv holds all of Airflow (~300 MB); pytest keeps its last temporary directories.
    shutil.rmtree(venv, ignore_errors=True)


def test_wheel_holds_the_package_and_nothing_else(built: Built) -> None:
    with zipfile.ZipFile(built.wheel) as wheel:
        names = [PurePosixPath(name) for name in wheel.namelist()]
    tops = {name.parts[0] for name in names}
    assert tops == {PACKAGE, f"{PACKAGE}-{_wheel_version(built)}.dist-info"}
    assert not [name for name in names if "tests" in name.parts or name.name.startswith("openapi")]

    # Every module of the checkout's package is in the wheel (a subpackage without __init__.py
    # or outside packages.find would be silently left out), and so is the typing marker.
    source = {
        PurePosixPath(path.relative_to(built.source).as_posix())
        for path in (built.source / PACKAGE).rglob("*.py")
    }
    assert source, "no modules found in the checkout"
    assert source <= set(names), sorted(map(str, source - set(names)))
    assert PurePosixPath(PACKAGE, "py.typed") in names


def test_sdist_has_the_example_dags_and_docs_the_readme_points_to(built: Built) -> None:
    root = built.sdist_root
    for folder in ("example_dags", "docs"):
        expected = {
            path.relative_to(built.source) for path in (built.source / folder).rglob("*") if path.is_file()
        }
        shipped = {path.relative_to(root) for path in (root / folder).rglob("*") if path.is_file()}
        assert expected, folder
        assert expected <= shipped, sorted(map(str, expected - shipped))
    assert not list(root.rglob("openapi*.y*ml"))
    assert not (root / "tests").exists()

    # Every relative link of the README and of the docs leads to a file of the sdist.
    pages = [root / "README.md", *sorted((root / "docs").rglob("*.md"))]
    broken = [
        f"{page.relative_to(root)}: {target}"
        for page in pages
        for target in _LINK.findall(page.read_text(encoding="utf-8"))
        if not target.startswith(("http://", "https://", "mailto:", "#"))
        and not _inside(root, page.parent / target.split("#", 1)[0])
    ]
    assert not broken, broken

    # The README's Install section says where the example DAGs are, and links the install guide.
    install = _section(root / "README.md", "Install")
    assert "example_dags/" in install
    assert "docs/install.md" in install


def test_airflow_lists_the_installed_provider(built: Built) -> None:
    listed = _last_json(
        _ok(_run([built.bin("airflow"), "providers", "list", "-o", "json"], built.work, built.venv, 120))
    )
    assert isinstance(listed, list)
    ours = [item for item in listed if item["package_name"] == DISTRIBUTION]
    assert [item["version"] for item in ours] == [_wheel_version(built)], listed

    # It is the wheel that Airflow found, not the checkout.
    where = _ok(
        _run(
            [built.bin("python"), "-c", f"import {PACKAGE}; print({PACKAGE}.__file__)"],
            built.work,
            built.venv,
            60,
        )
    )
    assert Path(where.strip()).resolve().is_relative_to(built.venv.resolve())


@pytest.fixture(scope="module")
def dags_home(built: Built) -> dict[str, str]:
    """What docs/install.md says to do: copy example_dags/ (with media/) into the DAGs folder, migrate."""
    dags = built.work / "dags"
    shutil.copytree(built.sdist_root / "example_dags", dags / "twelvelabs_examples")
    folder = {"AIRFLOW__CORE__DAGS_FOLDER": str(dags)}
    _ok(_run([built.bin("airflow"), "db", "migrate"], built.work, built.venv, 180, **folder))
    return folder


def test_example_dags_copied_from_the_sdist_load_with_the_wheel(
    built: Built, dags_home: dict[str, str]
) -> None:
    examples = Path(dags_home["AIRFLOW__CORE__DAGS_FOLDER"]) / "twelvelabs_examples"
    airflow = built.bin("airflow")
    listed = _last_json(
        _ok(
            _run([airflow, "dags", "list", "--local", "-o", "json"], built.work, built.venv, 120, **dags_home)
        )
    )
    errors = _last_json(
        _ok(
            _run(
                [airflow, "dags", "list-import-errors", "--local", "-o", "json"],
                built.work,
                built.venv,
                120,
                **dags_home,
            )
        )
    )
    assert errors == []
    assert isinstance(listed, list)
    files = {Path(item["fileloc"]).name for item in listed}
    assert files == {path.name for path in examples.glob("*.py")}, listed


@contextlib.contextmanager
def _wheel_emulator(built: Built) -> Iterator[str]:
    """Run the emulator from the wheel (``python -m``) and yield its base URL."""
    command = [built.bin("python"), "-m", f"{PACKAGE}.testing.emulator", "--host", "127.0.0.1", "--port", "0"]
    process = subprocess.Popen(
        [*command, "--api-key", EMULATOR_KEY],
        cwd=built.work,
        env=_env(built.work, built.venv),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base_url = ""
    try:
        assert process.stdout is not None
        # It prints its base URL, and only that, once it accepts connections.
        ready, _, _ = select.select([process.stdout], [], [], 60)
        base_url = process.stdout.readline().strip() if ready else ""
        if _BASE_URL.fullmatch(base_url):
            yield base_url
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)
    assert _BASE_URL.fullmatch(base_url), f"the emulator did not start ({base_url!r}): {stderr[-3000:]}"
    assert process.returncode in (0, -15), stderr[-3000:]


def test_emulator_runs_from_the_wheel(built: Built) -> None:
    with (
        _wheel_emulator(built) as base_url,
        httpx.Client(base_url=base_url, timeout=10, headers={"x-api-key": EMULATOR_KEY}) as client,
    ):
        models = [{"model_name": "marengo3.0", "model_options": ["visual", "audio"]}]
        created = client.post("/indexes", json={"index_name": "from-the-wheel", "models": models})
        assert created.status_code == 201, created.text
        listed = client.get("/indexes")
        assert listed.status_code == 200, listed.text
        assert [(i["_id"], i["index_name"]) for i in listed.json()["data"]] == [
            (created.json()["_id"], "from-the-wheel")
        ]
        assert client.get("/indexes", headers={"x-api-key": "tlk_wrong"}).status_code == 401


def test_the_demo_dag_runs_from_the_wheel_against_its_emulator(
    built: Built, dags_home: dict[str, str]
) -> None:
    # The README's demo (scripts/demo.sh), by hand, with nothing but the wheel and Airflow installed:
    # the emulator from the wheel, the connection as an environment variable, `airflow dags test`.
    media = Path(dags_home["AIRFLOW__CORE__DAGS_FOLDER"]) / "twelvelabs_examples" / "media"
    samples = sorted(path.name for path in media.glob("*.mp4"))
    assert samples
    catalog = built.work / "catalog"
    conf = json.dumps(
        {"source": str(media), "index_name": "from-the-wheel-demo", "output_path": str(catalog)}
    )
    with _wheel_emulator(built) as base_url:
        connection = json.dumps({"conn_type": "twelvelabs", "password": EMULATOR_KEY, "host": base_url})
        result = _run(
            [built.bin("airflow"), "dags", "test", DEMO_DAG, "-c", conf],
            built.work,
            built.venv,
            300,
            AIRFLOW_CONN_TWELVELABS_DEFAULT=connection,
            TWELVELABS_EXAMPLE_POLL_INTERVAL="0.2",
            **dags_home,
        )
        with httpx.Client(base_url=base_url, timeout=10, headers={"x-api-key": EMULATOR_KEY}) as client:
            (index,) = client.get("/indexes", params={"index_name": "from-the-wheel-demo"}).json()["data"]
            indexed = client.get(f"/indexes/{index['_id']}/indexed-assets", params={"page_limit": 50}).json()
    output = _ok(result) + result.stderr
    assert re.search(r"DagRun Finished: .*state=success", output), output[-3000:]
    assert sorted(item["system_metadata"]["filename"] for item in indexed["data"]) == samples
    assert {item["status"] for item in indexed["data"]} == {"ready"}
    # The catalog it wrote: one row per sample, in JSON Lines and in Parquet (read from the venv).
    rows = [json.loads(line) for line in (catalog / "catalog.jsonl").read_text().splitlines()]
    assert len(rows) == len(samples)
    parquet_rows = _ok(
        _run(
            [
                built.bin("python"),
                "-c",
                "import sys, pyarrow.parquet as pq; print(pq.read_table(sys.argv[1]).num_rows)",
                str(catalog / "catalog.parquet"),
            ],
            built.work,
            built.venv,
            60,
        )
    )
    assert parquet_rows.strip() == str(len(samples))
    # What the run told the user: each video indexed, in the index the DAG created.
    for item in indexed["data"]:
        assert f"Indexed asset {item['_id']} in index {index['_id']} (ready" in output
    assert EMULATOR_KEY not in output


def _clean_copy(target: Path) -> Path:
    """Copy the files a fresh clone would have, with the uncommitted work, and no build leftovers.

    A stale ``*.egg-info/SOURCES.txt`` makes setuptools put in the sdist what an earlier build
    listed, whatever MANIFEST.in says now; and building in a copy leaves the checkout untouched.
    """
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=False,
    )
    if listed.returncode != 0:
        pytest.skip(f"not a git checkout: {listed.stderr.decode(errors='replace').strip()}")
    for name in listed.stdout.decode().split("\0"):
        path = ROOT / name
        if name and path.is_file():  # a tracked file deleted in the work tree is not listed
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target / name)
    return target


def _wheel_version(built: Built) -> str:
    # A wheel's file name is <distribution>-<version>-<tags>.whl.
    return built.wheel.name.split("-")[1]


def _inside(root: Path, path: Path) -> bool:
    resolved = path.resolve()
    return resolved.exists() and resolved.is_relative_to(root.resolve())


def _section(markdown: Path, title: str) -> str:
    text = markdown.read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, flags=re.MULTILINE | re.DOTALL)
    assert match, f"no '## {title}' section in {markdown.name}"
    return match.group(1)
