"""End to end: the README's first command, ``./scripts/demo.sh``, against the emulator it starts.

The script runs ``twelvelabs_media_archive`` twice over the shipped samples in a throwaway folder
(``TWELVELABS_DEMO_DIR``): the first run's catalog rows are printed, and the second run reports 0
new files.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = sorted((ROOT / "example_dags" / "media").glob("*.mp4"))


def test_the_demo_catalogues_the_samples_then_finds_nothing_new(tmp_path: Path) -> None:
    demo = tmp_path / "demo"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIRFLOW", "TWELVELABS_")) and k not in ("SOURCE", "INDEX_NAME", "OUTPUT_PATH")
    }
    env["TWELVELABS_DEMO_DIR"] = str(demo)
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "demo.sh")],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]

    rows = [json.loads(line) for line in (demo / "catalog" / "catalog.jsonl").read_text().splitlines()]
    assert sorted(row["sha256"] for row in rows) == sorted(
        hashlib.sha256(sample.read_bytes()).hexdigest() for sample in SAMPLES
    )
    first, second = result.stdout.split("==> second run", 1)
    assert "3 row(s); this run processed 3 new file(s) of 3" in first
    # The table of the first rows: one line per sample, with its asset id and title.
    for row in rows:
        line = next(line for line in first.splitlines() if line.startswith(Path(row["source"]).name))
        assert row["asset_id"] in line and row["indexed_asset_id"] in line
        assert row["title"][:20] in line
    assert "the second run processed 0 new file(s): 3 of 3 already done" in second
    assert "Created TwelveLabs index" in first and "Created TwelveLabs index" not in second
    assert "Uploading" not in second and "Created embedding task" not in second
