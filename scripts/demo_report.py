"""Helpers of scripts/demo.sh, in Python so that the demo needs no GNU-specific shell tools.

``demo_report.py progress`` reads the output of ``airflow dags test`` on stdin and prints the
steps worth seeing (created, uploaded, deferred, trigger fired, ready) as they happen.

``demo_report.py table`` prints what the index ``$INDEX_NAME`` holds, as a small table. It reads
the ``twelvelabs_default`` connection (``AIRFLOW_CONN_TWELVELABS_DEFAULT``), so it works the same
against the emulator and the real API.
"""

from __future__ import annotations

import os
import re
import sys
from typing import TextIO

#: Messages of the operators and the trigger worth showing, and how to show them.
_STEPS = (
    (re.compile(r"Pausing task as DEFERRED.*?task_id=(\w+)"), "task {0} deferred: its worker slot is free"),
    (re.compile(r"(TwelveLabs [a-z_ ]+ \w+): success"), "  {0}: ready (the trigger fired)"),
    (re.compile(r"Marking run <DagRun (\S+) .*> (successful|failed)"), "DAG run of {0} {1}"),
    (
        re.compile(
            r"\] ((?:Created TwelveLabs|Reusing|Uploading|Uploaded|Indexing asset|Indexed asset)[^\[]*?)\s+\["
        ),
        "{0}",
    ),
    (re.compile(r"\[error\s*\] (.*?)\s+\["), "error: {0}"),
    # The last line of a task's traceback: what actually went wrong.
    (re.compile(r"^([A-Za-z_.]*(?:Error|Exception)): (.*)$"), "  {0}: {1}"),
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


def table() -> int:
    """Print one row per indexed asset of the index ``$INDEX_NAME``; return the exit status."""
    from airflow_provider_twelvelabs.hooks.twelvelabs import TwelveLabsHook

    name = os.environ.get("INDEX_NAME", "demo")
    with TwelveLabsHook() as hook:
        matches = [index for index in hook.list_indexes(index_name=name) if index.index_name == name]
        if not matches:
            print(f"error: no index named {name!r}", file=sys.stderr)
            return 1
        index = matches[0]
        rows = []
        for item in hook.list_indexed_assets(index.id):
            metadata = item.system_metadata or {}
            duration = metadata.get("duration")
            rows.append(
                (
                    str(metadata.get("filename") or "?"),
                    item.asset_id or "?",
                    item.id,
                    item.status or "?",
                    f"{float(duration):.1f} s" if isinstance(duration, (int, float)) else "?",
                )
            )
    rows.sort()
    header = ("file", "asset id", "indexed asset id", "status", "duration")
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    print(f"index {name!r} ({index.id}): {len(rows)} indexed asset(s)")
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return 0 if rows else 1


def main(argv: list[str]) -> int:
    """Run the ``progress`` or the ``table`` command.

    :param argv: the command-line arguments.
    """
    if argv == ["progress"]:
        progress(sys.stdin, sys.stdout)
        return 0
    if argv == ["table"]:
        return table()
    print("usage: demo_report.py progress|table", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
