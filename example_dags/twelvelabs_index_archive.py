"""
### Index a media archive with TwelveLabs

Lists the media files under a folder or a bucket (the `source` param: a local path, or any
`ObjectStoragePath` URL such as `s3://bucket/videos/` or `gs://bucket/prefix`), creates the index
`index_name` once (or reuses it), then, with dynamic task mapping, for each file:

1. uploads it as a TwelveLabs asset (direct upload, or a multipart upload above the size threshold)
   and waits until the asset is `ready`;
2. indexes the asset and waits until the indexed asset is `ready`.

Every wait is deferrable: while TwelveLabs works, the tasks sit in the triggerer and hold no
worker slot. Every task is safe to retry: a retry reuses what the failed attempt created.

The last task returns (and logs) a small table of what was indexed. Run it with
`./scripts/demo.sh`, or `airflow dags test twelvelabs_index_archive -c '{"source": "...",
"index_name": "..."}'` with a `twelvelabs_default` connection.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from airflow.providers.common.compat.sdk import ObjectStoragePath, Param, dag, task

from airflow_provider_twelvelabs.operators.assets import TwelveLabsUploadAssetOperator
from airflow_provider_twelvelabs.operators.indexes import (
    TwelveLabsCreateIndexOperator,
    TwelveLabsIndexAssetOperator,
)

#: The sample videos shipped next to this file.
SAMPLE_MEDIA = Path(__file__).resolve().parent / "media"

#: File name suffixes of the video and audio files the DAG picks up.
MEDIA_SUFFIXES = frozenset(
    {
        ".mp4",
        ".mov",
        ".m4v",
        ".mkv",
        ".webm",
        ".avi",
        ".mpg",
        ".mpeg",
        ".wav",
        ".mp3",
        ".m4a",
        ".flac",
        ".aac",
    }
)

#: How the waits poll TwelveLabs. The default backs off from 5 s to 1 min, which suits real
#: indexing (minutes per video); the demo sets a shorter first interval for the emulator.
POLL = {
    "poll_interval": float(os.environ.get("TWELVELABS_EXAMPLE_POLL_INTERVAL", "5")),
    "poll_max_interval": 60.0,
}


@dag(
    dag_id="twelvelabs_index_archive",
    schedule=None,
    catchup=False,
    tags=["twelvelabs", "example"],
    doc_md=__doc__,
    params={
        "source": Param(
            str(SAMPLE_MEDIA),
            type="string",
            minLength=1,
            description="Folder or bucket with the media: a local path or a URL (s3://, gs://, file://...).",
        ),
        "index_name": Param(
            "media-archive",
            type="string",
            minLength=1,
            description="The TwelveLabs index to create, or to reuse if it exists.",
        ),
    },
    default_args={"retries": 2},
)
def twelvelabs_index_archive() -> None:
    """Upload and index every media file under ``source`` into the index ``index_name``."""

    @task
    def list_media(source: str) -> list[str]:
        """Return the media files under ``source``: local paths, or URLs for object stores."""
        if "://" not in source:
            source = f"file://{Path(source).expanduser().resolve()}"
        root = ObjectStoragePath(source)
        local = root.protocol in ("file", "local")
        if not root.is_dir():
            raise ValueError(f"source {source!r} is not a folder or bucket prefix")
        files = sorted(
            (path for path in root.rglob("*") if path.suffix.lower() in MEDIA_SUFFIXES and path.is_file()),
            key=str,
        )
        if not files:
            raise ValueError(f"No media files ({', '.join(sorted(MEDIA_SUFFIXES))}) under {source!r}")
        # Local files travel as plain paths, remote ones as URLs the upload operator opens itself.
        return [path.path if local else str(path) for path in files]

    files = list_media(source="{{ params.source }}")

    index = TwelveLabsCreateIndexOperator(task_id="create_index", index_name="{{ params.index_name }}")

    uploads = TwelveLabsUploadAssetOperator.partial(
        task_id="upload",
        multipart="auto",
        deferrable=True,
        **POLL,
    ).expand(source=files)

    indexed = TwelveLabsIndexAssetOperator.partial(
        task_id="index",
        index_id=index.output,
        deferrable=True,
        **POLL,
    ).expand(asset_id=uploads.output)

    @task
    def report(
        files: list[str], asset_ids: list[str], indexed_asset_ids: list[str], index_id: str
    ) -> list[dict]:
        """Log and return one row per file: file, asset, indexed asset, status and duration."""
        from airflow_provider_twelvelabs.hooks.twelvelabs import TwelveLabsHook

        rows: list[dict[str, Any]] = []
        # Index the mapped results instead of iterating them: they are fetched lazily, one by one.
        with TwelveLabsHook() as hook:
            for position, file in enumerate(files):
                asset_id, indexed_asset_id = asset_ids[position], indexed_asset_ids[position]
                current = hook.get_indexed_asset(index_id, indexed_asset_id)
                metadata = current.system_metadata or {}
                rows.append(
                    {
                        "file": os.path.basename(file),
                        "asset_id": asset_id,
                        "indexed_asset_id": indexed_asset_id,
                        "status": current.status,
                        "duration": metadata.get("duration"),
                    }
                )
        for row in rows:
            print("{file:<32} {asset_id:<26} {indexed_asset_id:<26} {status:<8} {duration}".format(**row))
        return rows

    report(files, uploads.output, indexed.output, index.output)


twelvelabs_index_archive()
