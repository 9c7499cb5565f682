"""What a user reads in the task log: text results, upload progress, the done lines (emulator, real HTTP).

Operator logs go to stdout (structlog), so the tests read them with ``capsys``.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_provider_twelvelabs.operators.analyze import TwelveLabsSummarizeOperator
from airflow_provider_twelvelabs.operators.analyze_async import TwelveLabsCreateAnalyzeTaskOperator
from airflow_provider_twelvelabs.operators.assets import (
    TwelveLabsMultipartUploadOperator,
    TwelveLabsUploadAssetOperator,
)
from airflow_provider_twelvelabs.operators.embed import TwelveLabsCreateEmbeddingTaskOperator
from airflow_provider_twelvelabs.operators.indexes import (
    TwelveLabsCreateIndexOperator,
    TwelveLabsIndexAssetOperator,
)
from airflow_provider_twelvelabs.operators.search import TwelveLabsSearchOperator
from airflow_provider_twelvelabs.testing.emulator.config import EmulatorConfig
from airflow_provider_twelvelabs.testing.emulator.server import RunningEmulator
from tests.helpers.airflow_fakes import task_context as context
from tests.integration.catalog_support import Catalog, serve_catalog

pytestmark = pytest.mark.integration

FAST = {"poll_interval": 0.02, "poll_max_interval": 0.05, "deferrable": False}
CHUNK = 16 * 1024
MEDIA = Path(__file__).resolve().parents[2] / "example_dags" / "media"
_PROGRESS = re.compile(
    r"(?P<label>(?:Multipart u|U)pload of [\w.]+): (?P<percent>[\d.]+)% \((?P<done>[\d.,]+) MiB of "
    r"(?P<total>[\d.,]+) MiB(?P<extra>[^)]*)\) at (?P<rate>[\d.]+) MB/s, ETA (?P<eta>[\w ]+?) \["
)


def progress_lines(out: str) -> list[re.Match[str]]:
    return list(_PROGRESS.finditer(out))


def write(path: Path, size: int) -> None:
    # Not all zeros: the emulator refuses files that are certainly not video.
    block = bytes(range(256)) * 4
    path.write_bytes((block * (size // len(block) + 1))[:size])


# --------------------------------------------------------------------------- text results


@pytest.fixture(scope="module")
def catalog(twelvelabs_module_emulator: RunningEmulator) -> Iterator[Catalog]:
    with serve_catalog(twelvelabs_module_emulator) as catalog:
        yield catalog


def test_a_summary_is_in_the_task_log(catalog: Catalog, capsys: pytest.CaptureFixture[str]) -> None:
    video = catalog.video_ids[0]
    op = TwelveLabsSummarizeOperator(task_id="summary", video_id=video, index_id=catalog.index_id)

    summary = op.execute({})

    out = capsys.readouterr().out
    assert isinstance(summary, str) and len(summary) > 50
    assert f"Summary of {video} ({len(summary):,} characters):\n{summary} [" in out


def test_chapters_are_in_the_task_log_as_json(catalog: Catalog, capsys: pytest.CaptureFixture[str]) -> None:
    video = catalog.video_ids[1]
    op = TwelveLabsSummarizeOperator(
        task_id="chapters", video_id=video, index_id=catalog.index_id, type="chapter"
    )

    chapters = op.execute({})

    out = capsys.readouterr().out
    assert chapters
    assert f"{len(chapters):,} chapters of {video}" in out
    assert json.dumps(chapters, indent=2, ensure_ascii=False) in out


@pytest.fixture
def emulator(twelvelabs_connection: RunningEmulator) -> RunningEmulator:
    return twelvelabs_connection


URL = "https://media.example.com/keynote.mp4?duration=300"


def test_a_long_text_is_cut_in_the_log_and_says_how_much_more_is_in_xcom(
    emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    op = TwelveLabsCreateAnalyzeTaskOperator(
        task_id="describe", url=URL, prompt="Describe the keynote.", log_chars=60, **FAST
    )

    text = op.execute(context())

    out = capsys.readouterr().out
    assert len(text) > 60
    rest = f"({len(text) - 60:,} more characters in XCom (return_value))"
    assert f"({len(text):,} characters):\n{text[:60]}\n{rest}" in out
    assert text not in out


def test_a_long_text_written_to_a_file_says_which_file(
    emulator: RunningEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "keynote.txt"
    op = TwelveLabsCreateAnalyzeTaskOperator(
        task_id="describe",
        url=URL,
        prompt="Describe the keynote.",
        log_chars=60,
        output_path=str(path),
        **FAST,
    )

    manifest = op.execute(context())

    out = capsys.readouterr().out
    text = path.read_text(encoding="utf-8")
    assert manifest["path"].endswith("keynote.txt")
    assert f"{text[:60]}\n({len(text) - 60:,} more characters in the output file {path})" in out


# --------------------------------------------------------------------------- upload progress


def test_a_direct_upload_logs_its_progress_at_100_percent_and_a_done_line(
    emulator: RunningEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "clip.mp4"
    write(source, 2 * 1024 * 1024)
    op = TwelveLabsUploadAssetOperator(task_id="upload", source=str(source), dedupe="off", **FAST)

    asset_id = op.execute(context())

    out = capsys.readouterr().out
    lines = progress_lines(out)
    # A 2 MiB upload to 127.0.0.1 takes far less than the default 10 s: only the 100% line.
    assert [(m["label"], m["percent"], m["done"], m["total"], m["eta"]) for m in lines] == [
        ("Upload of clip.mp4", "100.0", "2.0", "2.0", "0 s")
    ]
    done = r"Uploaded clip\.mp4 \(2\.0 MiB\) directly in \d+ s \([\d.]+ MB/s\): asset "
    assert re.search(done + asset_id, out)
    assert re.search(rf"Asset {asset_id} is ready \(clip\.mp4, video[\w/]*, 2\.0 MiB", out)


def test_a_direct_upload_logs_at_the_cadence_it_is_given(
    emulator: RunningEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "often.mp4"
    write(source, 1024 * 1024)
    op = TwelveLabsUploadAssetOperator(
        task_id="upload",
        source=str(source),
        dedupe="off",
        upload_options={"progress_interval": 0},
        **FAST,
    )

    op.execute(context())

    percents = [float(m["percent"]) for m in progress_lines(capsys.readouterr().out)]
    # Interval 0: a line for every block httpx reads (64 KiB) as the body goes out.
    assert len(percents) >= 8
    assert percents == sorted(percents) and percents[-1] == 100.0 and percents[0] < 50


class TestMultipart:
    """A multipart upload whose chunk PUTs the emulator slows down."""

    @pytest.fixture
    def twelvelabs_emulator_config(self) -> EmulatorConfig:
        # 40 chunks, each held 50 ms by the emulator: with 2 in parallel, at least 1 s in all.
        return EmulatorConfig(chunk_size=CHUNK, initial_presigned_urls=4, chunk_latency_ms=50)

    def test_progress_lines_come_at_a_steady_cadence_not_per_chunk(
        self, emulator: RunningEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        source = tmp_path / "long.mp4"
        write(source, 40 * CHUNK)
        interval = 0.25
        op = TwelveLabsMultipartUploadOperator(
            task_id="upload",
            source=str(source),
            concurrency=2,
            dedupe="off",
            upload_options={"progress_interval": interval},
            **FAST,
        )

        started = time.monotonic()
        asset_id = op.execute(context())
        elapsed = time.monotonic() - started

        out = capsys.readouterr().out
        lines = progress_lines(out)
        percents = [float(m["percent"]) for m in lines]
        # At least one line per interval of the >= 1 s the chunks take, and the 100% line ...
        assert len(lines) >= 3, out[-3000:]
        # ... but no more than the clock allows: not one per chunk (40).
        assert len(lines) <= elapsed / interval + 2 < 40
        assert percents == sorted(percents) and percents[-1] == 100.0
        assert all(m["label"] == "Multipart upload of long.mp4" for m in lines)
        assert re.fullmatch(r", \d+ of 40 chunks", lines[0]["extra"])
        assert lines[-1]["extra"] == ", 40 of 40 chunks" and lines[-1]["eta"] == "0 s"
        assert [m["eta"] for m in lines[:-1]] and all(re.fullmatch(r"\d+ s", m["eta"]) for m in lines[:-1])
        assert re.search(rf"Asset {asset_id} is ready \(long\.mp4, video[\w/]*, 0\.6 MiB", out)
        assert "sig=" not in out and "X-Amz-Signature" not in out


# --------------------------------------------------------------------------- done lines


def test_the_index_the_indexing_and_the_embeddings_say_what_they_did(
    emulator: RunningEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    video = MEDIA / "testsrc_640x360.mp4"
    index_id = TwelveLabsCreateIndexOperator(task_id="index", index_name="done-lines").execute(context())
    asset_id = TwelveLabsUploadAssetOperator(task_id="upload", source=str(video), **FAST).execute(context())
    indexed = TwelveLabsIndexAssetOperator(
        task_id="index_asset", index_id=index_id, asset_id=asset_id, **FAST
    ).execute(context())
    output = tmp_path / "embeddings.jsonl"
    manifest = TwelveLabsCreateEmbeddingTaskOperator(
        task_id="embed", asset_id=asset_id, output_path=str(output), **FAST
    ).execute(context())
    hits = TwelveLabsSearchOperator(
        task_id="search", index_id=index_id, query_text="a walk in the city"
    ).execute(context())

    out = capsys.readouterr().out
    assert re.search(
        rf"Created TwelveLabs index 'done-lines': {index_id} \(models: marengo[\w.]+: visual, audio\)", out
    )
    assert re.search(
        rf"Indexed asset {indexed} in index {index_id} \(ready, [\d.]+ s of video; file {video.name}\)", out
    )
    rows = output.read_text(encoding="utf-8").splitlines()
    options = manifest["options"]
    assert f"Wrote {len(rows):,} embedding rows to {manifest['path']} as jsonl ({len(options)} modalit" in out
    assert ", ".join(options) in out
    assert re.search(rf"Search returned {len(hits)} clips from 1 page", out)
    assert hits
    first = hits[0]
    assert f"  1. video {first['video_id']} {first['start']:.1f}-{first['end']:.1f} s" in out
