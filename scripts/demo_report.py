"""Print what a TwelveLabs index holds, as a small table (the last step of scripts/demo.sh).

Reads the ``twelvelabs_default`` connection (``AIRFLOW_CONN_TWELVELABS_DEFAULT``) and the index
name from ``INDEX_NAME``; works the same against the emulator and the real API.
"""

from __future__ import annotations

import os
import sys

from airflow_provider_twelvelabs.hooks.twelvelabs import TwelveLabsHook


def main() -> int:
    """Print one row per indexed asset of the index ``$INDEX_NAME``; return the exit status."""
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


if __name__ == "__main__":
    sys.exit(main())
