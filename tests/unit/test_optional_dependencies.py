"""The provider works without its ``emulator`` extra: no operator, sensor, trigger or hook needs it.

Each probe runs in a fresh interpreter whose import system refuses the emulator's server packages
(starlette, uvicorn, python-multipart), as on a machine where the provider was installed without
``[emulator]``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: The top-level modules the emulator's server needs (python-multipart installs both names).
EMULATOR_ONLY = ("starlette", "uvicorn", "multipart", "python_multipart")

BLOCKER = f"""
import importlib.abc
import sys

BLOCKED = {EMULATOR_ONLY!r}


class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}} (blocked)", name=name)
        return None


sys.meta_path.insert(0, Blocker())
"""

IMPORT_EVERYTHING = """
import importlib
import json
import pkgutil

import airflow_provider_twelvelabs as package

imported = []
for sub in ("hooks", "operators", "sensors", "triggers"):
    parent = importlib.import_module(f"{package.__name__}.{sub}")
    for found in pkgutil.iter_modules(parent.__path__):
        imported.append(importlib.import_module(f"{parent.__name__}.{found.name}").__name__)
for name in ("links", "models", "results", "waiting", "exceptions"):
    imported.append(importlib.import_module(f"{package.__name__}.{name}").__name__)
info = importlib.import_module(f"{package.__name__}.get_provider_info").get_provider_info()
declared = []
for section in ("hooks", "operators", "sensors", "triggers"):
    for entry in info[section]:
        declared += entry["python-modules"]
for module in declared:
    importlib.import_module(module)
classes = [c["hook-class-name"] for c in info["connection-types"]] + info["extra-links"]
for path in classes:
    module, _, attr = path.rpartition(".")
    getattr(importlib.import_module(module), attr)
print(json.dumps({"imported": imported, "declared": declared, "classes": classes}))
"""


def run_blocked(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", BLOCKER + code],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )


def test_every_operator_sensor_trigger_and_hook_imports_without_the_emulator_extra() -> None:
    result = run_blocked(IMPORT_EVERYTHING)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    imported = set(report["imported"])
    assert set(report["declared"]) <= imported
    assert "airflow_provider_twelvelabs.hooks.twelvelabs.TwelveLabsHook" in report["classes"]
    for module in (
        "airflow_provider_twelvelabs.hooks.twelvelabs",
        "airflow_provider_twelvelabs.hooks.multipart",
        "airflow_provider_twelvelabs.operators.assets",
        "airflow_provider_twelvelabs.operators.analyze",
        "airflow_provider_twelvelabs.operators.embed",
        "airflow_provider_twelvelabs.operators.indexes",
        "airflow_provider_twelvelabs.operators.search",
        "airflow_provider_twelvelabs.sensors.twelvelabs",
        "airflow_provider_twelvelabs.triggers.twelvelabs",
        "airflow_provider_twelvelabs.triggers.poller",
    ):
        assert module in imported


def test_the_blocker_really_hides_the_emulator_server() -> None:
    # Without this, the test above would pass on a blocker that blocks nothing.
    result = run_blocked("import airflow_provider_twelvelabs.testing.emulator")
    assert result.returncode != 0
    assert "blocked" in result.stderr
    assert any(f"No module named '{name}" in result.stderr for name in EMULATOR_ONLY)


def test_the_emulator_extra_declares_what_the_emulator_imports() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]
    declared = {req.split(">")[0].split("=")[0].split("[")[0].strip().lower() for req in extras["emulator"]}
    assert {"starlette", "uvicorn", "python-multipart"} <= declared
    # The test extra pulls the emulator in: the project's own tests serve it.
    pulled = {
        extra.strip()
        for req in extras["test"]
        if req.startswith("airflow-provider-twelvelabs[")
        for extra in req.split("[", 1)[1].rstrip("]").split(",")
    }
    assert "emulator" in pulled
    base = {req.split(">")[0].split("=")[0].strip().lower() for req in project["dependencies"]}
    assert not base & {"starlette", "uvicorn", "python-multipart"}
