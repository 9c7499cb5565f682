"""reporting.py: the text-result helper and the time-based progress, on a clock the test moves."""

from __future__ import annotations

import io

import pytest
from airflow.providers.standard.operators.empty import EmptyOperator

from airflow_provider_twelvelabs.reporting import (
    LOG_TEXT_CHARS,
    ProgressReader,
    TransferProgress,
    log_text_result,
    result_location,
)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def log() -> object:
    # A real task logger: what it writes is what a user reads (stdout).
    return EmptyOperator(task_id="t").log


def test_a_short_text_is_logged_whole(log: object, capsys: pytest.CaptureFixture[str]) -> None:
    log_text_result(log, "Summary of v1", "A calm walk by the river.", where=result_location())
    out = capsys.readouterr().out
    assert "Summary of v1 (25 characters):\nA calm walk by the river. [" in out
    assert "more characters" not in out


def test_a_long_text_is_cut_and_says_how_much_more_and_where(
    log: object, capsys: pytest.CaptureFixture[str]
) -> None:
    text = "".join(f"{i:05d} " for i in range(1000))  # 6,000 characters, each position distinct
    log_text_result(log, "Analysis of v1", text, where=result_location("s3://bucket/a.txt"))
    out = capsys.readouterr().out
    shown = text[:LOG_TEXT_CHARS]
    assert (
        f"Analysis of v1 (6,000 characters):\n{shown}\n(4,000 more characters in the output file s3://bucket/a.txt)"
        in out
    )
    assert text[LOG_TEXT_CHARS : LOG_TEXT_CHARS + 20] not in out


def test_a_json_result_is_indented(log: object, capsys: pytest.CaptureFixture[str]) -> None:
    log_text_result(log, "Gist of v1", {"title": "Rivers", "topics": ["water"]}, where="XCom (return_value)")
    assert '{\n  "title": "Rivers",\n  "topics": [\n    "water"\n  ]\n}' in capsys.readouterr().out


def test_progress_is_logged_once_per_interval_and_at_100_percent(
    log: object, capsys: pytest.CaptureFixture[str]
) -> None:
    clock = Clock()
    progress = TransferProgress(log, "Upload of a.mp4", 100 * 1024 * 1024, interval=10, clock=clock)
    for _ in range(99):  # 1 MiB a second for 99 s, a chunk every second
        clock.now += 1
        progress.advance(1024 * 1024)
    clock.now += 1
    progress.advance(1024 * 1024)
    progress.maybe_log()  # the end was logged already: not again

    lines = [line for line in capsys.readouterr().out.splitlines() if "Upload of a.mp4" in line]
    assert len(lines) == 10  # at 10, 20 ... 90 s, and at 100%: not one per chunk
    assert "Upload of a.mp4: 10.0% (10.0 MiB of 100.0 MiB) at 1.0 MB/s, ETA 1 min 30 s" in lines[0]
    assert "Upload of a.mp4: 100.0% (100.0 MiB of 100.0 MiB) at 1.0 MB/s, ETA 0 s" in lines[-1]


def test_the_counting_reader_counts_what_is_read(log: object, capsys: pytest.CaptureFixture[str]) -> None:
    progress = TransferProgress(log, "Upload of b.mp4", 3000, interval=3600)
    with ProgressReader(io.BytesIO(b"x" * 3000), progress) as reader:
        assert reader.seek(0, io.SEEK_END) == 3000 and reader.tell() == 3000  # the file's own
        reader.seek(0)
        assert len(reader.read(1000)) == 1000
        assert progress.done_bytes == 1000
        assert "Upload of b.mp4" not in capsys.readouterr().out
        reader.read()
    assert progress.done_bytes == 3000
    assert "Upload of b.mp4: 100.0%" in capsys.readouterr().out
