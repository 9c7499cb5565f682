"""Helpers of scripts/demo.sh, in Python so that the demo needs no GNU-specific shell tools.

``demo_report.py progress`` reads the output of ``airflow dags test`` on stdin and prints the
steps worth seeing (planned, created, uploaded, deferred, trigger fired, ready, catalogued) as they
happen.

``demo_report.py catalog LOG`` prints the first rows of the cumulative catalog that the run of
``twelvelabs_media_archive`` logged in LOG wrote; ``demo_report.py summary LOG`` prints how many
new files that run processed. Both read what the DAG's ``write_catalog`` task logged (its counts
and the catalog's path), and the catalog file itself.
"""

from __future__ import annotations

import re
import sys
from typing import TextIO

#: Messages of the operators and the trigger worth showing, and how to show them.
_STEPS = (
    (re.compile(r"Pausing task as DEFERRED.*?task_id=(\w+)"), "task {0} deferred: its worker slot is free"),
    (re.compile(r"(TwelveLabs [a-z_ ]+ \w+): success"), "  {0}: ready (the trigger fired)"),
    (re.compile(r"Marking run <DagRun (\S+) .*> (successful|failed)"), "DAG run of {0} {1}"),
    (re.compile(r"^(\d+ file\(s\): \d+ already done, \d+ new file\(s\) to process)"), "plan: {0}"),
    (re.compile(r"^(\d+ new file\(s\) catalogued .*?row\(s\))"), "catalog: {0}"),
    (
        re.compile(
            r"\] ((?:Created TwelveLabs|Reusing|Uploading|Uploaded|Indexing asset|Indexed asset|"
            r"Created embedding task|Created analyze batch|Wrote \d+ embeddings)[^\[]*?)\s+\["
        ),
        "{0}",
    ),
    (re.compile(r"\[error\s*\] (.*?)\s+\["), "error: {0}"),
    # The last line of a task's traceback: what actually went wrong.
    (re.compile(r"^([A-Za-z_.]*(?:Error|Exception)): (.*)$"), "  {0}: {1}"),
)

#: The line the catalog task prints: new files, files already done, total, rows, the catalog's path.
_CATALOGUED = re.compile(
    r"^(\d+) new file\(s\) catalogued \((\d+) of (\d+) already done\); "
    r"the cumulative catalog holds (\d+) row\(s\): (\S+)",
    re.MULTILINE,
)


def progress(lines: TextIO, out: TextIO) -> None:
    """Print the interesting steps of an ``airflow dags test`` log as they arrive.

    :param lines: the log, line by line.
    :param out: where the steps go.
    """
    for line in lines:
        for pattern, template in _STEPS:
            match = pattern.search(line)
            if match:
                print("    " + template.format(*match.groups())[:200], file=out, flush=True)
                break


def _catalogued(log: str) -> re.Match[str] | None:
    """The catalog task's summary line in the log of a run, or ``None``."""
    with open(log, encoding="utf-8", errors="replace") as handle:
        return _CATALOGUED.search(handle.read())


def catalog(log: str, *, limit: int = 5) -> int:
    """Print the first rows of the cumulative catalog the run of ``log`` wrote; return the exit status.

    :param log: the ``airflow dags test`` log of the run.
    :param limit: the most rows printed.
    """
    import json

    from airflow_provider_twelvelabs.sources import resolve

    found = _catalogued(log)
    if found is None:
        print(f"error: no catalog line in {log}", file=sys.stderr)
        return 1
    new, _done, total, count, path = found.groups()
    with resolve(path).open() as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    print(f"catalog {path}: {count} row(s); this run processed {new} new file(s) of {total}")
    header = ("file", "asset id", "indexed asset id", "sha256", "title", "hashtags", "chapters")
    table = [
        (
            row["source"].rstrip("/").rsplit("/", 1)[-1],
            row["asset_id"],
            row["indexed_asset_id"],
            row["sha256"][:12],
            str(row["title"])[:28],
            " ".join(row["hashtags"])[:24],
            str(len(row["chapters"])),
        )
        for row in rows[:limit]
    ]
    widths = [max(len(str(r[i])) for r in [header, *table]) for i in range(len(header))]
    for line in [header, tuple("-" * w for w in widths), *table]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
    if rows:
        first = rows[0]
        print(f"first row's summary: {first['summary']}")
        print(f"first row's embeddings: {first['embeddings_path']}")
    return 0 if rows else 1


def summary(log: str) -> int:
    """Print how many new files the run of ``log`` processed; return the exit status.

    :param log: the ``airflow dags test`` log of the run.
    """
    found = _catalogued(log)
    if found is None:
        print(f"error: no catalog line in {log}", file=sys.stderr)
        return 1
    new, done, total, count, path = found.groups()
    print(
        f"the second run processed {new} new file(s): {done} of {total} already done, "
        f"the catalog still holds {count} row(s) ({path})"
    )
    return 0


def main(argv: list[str]) -> int:
    """Run the ``progress``, ``catalog LOG`` or ``summary LOG`` command.

    :param argv: the command-line arguments.
    """
    if argv == ["progress"]:
        progress(sys.stdin, sys.stdout)
        return 0
    if len(argv) == 2 and argv[0] == "catalog":
        return catalog(argv[1])
    if len(argv) == 2 and argv[0] == "summary":
        return summary(argv[1])
    print("usage: demo_report.py progress | catalog LOG | summary LOG", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
