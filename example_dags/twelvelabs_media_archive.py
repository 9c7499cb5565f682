"""
### The nightly media archive: from a folder or bucket to a searchable catalog, only what is new

Every day this DAG:

1. `list_media` lists the media files under `source` (a local folder, or any `ObjectStoragePath`
   URL: `s3://bucket/videos/`, `gs://bucket/prefix`...);
2. `create_index` creates the index `index_name`, or reuses it;
3. `plan` reads every file once to compute its content key (source URI, size, SHA-256: the key the
   upload and index operators store on TwelveLabs) and asks TwelveLabs which files the index already
   holds, ready, with that exact content. A file that is indexed AND in the cumulative catalog is
   done; every other file is new. TwelveLabs is the truth, not the Airflow metadata database: a run
   after the database was wiped, or from another deployment, finds the same files done;
4. for each new file (dynamic task mapping; a second run maps over 0 files): `upload` (direct, or
   multipart above the size limit) and `index`, each waiting deferred until TwelveLabs is done;
   `embed` creates an embedding task for the file's asset and writes the vectors to
   `output_path/embeddings/<sha256>.jsonl`;
5. `analyze` runs ONE analyze batch over the new videos with a JSON schema: title, topics,
   hashtags, summary and chapters of each;
6. `write_catalog` writes the day's catalog (`output_path/<ds>/catalog.jsonl` and `.parquet`, one
   row per new file) and merges it into the cumulative catalog (`output_path/catalog.jsonl` and
   `.parquet`, one row per source file), then updates the Airflow Asset
   `twelvelabs-catalog://media-archive/catalog`, which schedules `twelvelabs_catalog_search`.

Every wait is deferrable: while TwelveLabs works, the tasks sit in the triggerer and hold no worker
slot. The tasks that call TwelveLabs run in the pool `twelvelabs_api` (create it:
`airflow pools set twelvelabs_api 8 "TwelveLabs API calls"`), which caps their calls from workers.
Every task is safe to retry: the operators reuse what an earlier try created, and the catalog merge
is keyed by source, so a retry writes the same catalog. See docs/example_dags.md.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from airflow.providers.common.compat.sdk import Asset, ObjectStoragePath, Param, dag, task

from airflow_provider_twelvelabs.operators.analyze_async import TwelveLabsCreateAnalyzeBatchOperator
from airflow_provider_twelvelabs.operators.assets import TwelveLabsUploadAssetOperator
from airflow_provider_twelvelabs.operators.embed import TwelveLabsCreateEmbeddingTaskOperator
from airflow_provider_twelvelabs.operators.indexes import (
    TwelveLabsCreateIndexOperator,
    TwelveLabsIndexAssetOperator,
)

#: The sample videos shipped next to this file.
SAMPLE_MEDIA = Path(__file__).resolve().parent / "media"

#: Where the catalogs go unless the ``output_path`` param says otherwise.
DEFAULT_OUTPUT = os.path.join(tempfile.gettempdir(), "twelvelabs_media_archive")

#: File name suffixes of the video and audio files the DAG picks up.
MEDIA_SUFFIXES = frozenset(
    {".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi", ".mpg", ".mpeg"}
    | {".wav", ".mp3", ".m4a", ".flac", ".aac"}
)

#: The pool of every task that calls TwelveLabs from a worker (see docs/deployment.md, "Pools").
#: Deferred tasks hold no slot of it (unless the pool is created with include_deferred).
POOL = os.environ.get("TWELVELABS_ARCHIVE_POOL", "twelvelabs_api")

#: The Airflow Asset the catalog task updates; ``twelvelabs_catalog_search`` is scheduled on it.
#: The event's ``extra`` says where this run's catalog is and which index it describes.
CATALOG_ASSET = Asset(name="twelvelabs_media_catalog", uri="twelvelabs-catalog://media-archive/catalog")

#: How the waits poll TwelveLabs. The default backs off from 5 s to 1 min, which suits real
#: indexing (minutes per video); the demo and the tests set a short first interval for the emulator.
POLL = {
    "poll_interval": float(os.environ.get("TWELVELABS_EXAMPLE_POLL_INTERVAL", "5")),
    "poll_max_interval": 60.0,
}

#: What the analyze batch asks of every video; Pegasus answers with JSON that follows it.
CATALOG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "title": {"type": "string"},
        "topics": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "hashtags": {"type": "array", "items": {"type": "string", "pattern": "^#\\w+$"}, "minItems": 1},
        "summary": {"type": "string"},
        "chapters": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "start_time": {"type": "number", "description": "start, in seconds"},
                    "end_time": {"type": "number", "description": "end, in seconds"},
                    "title": {"type": "string"},
                    "summary": {"type": "string"},
                },
                "required": ["start_time", "end_time", "title", "summary"],
            },
        },
    },
    "required": ["title", "topics", "hashtags", "summary", "chapters"],
}
CATALOG_PROMPT = (
    "For a media catalog, give this video: a title that captures its main theme; its central topics; "
    "hashtags (each starting with #) for its key themes; a two-sentence summary; and its chapters "
    "in order, each with start and end in seconds, a short title and a one-sentence summary."
)

#: The run's day, ``YYYY-MM-DD``: the logical date's (``ds``), or, for a run without one (triggered
#: through the REST API or the UI with no logical date), the day it was due to run.
DAY = "{{ (dag_run.logical_date or dag_run.run_after).strftime('%Y-%m-%d') }}"

#: The columns of a catalog row, in order.
CATALOG_COLUMNS = (
    "source",
    "sha256",
    "size",
    "asset_id",
    "indexed_asset_id",
    "index_id",
    "title",
    "topics",
    "hashtags",
    "summary",
    "chapters",
    "embeddings_path",
    "catalogued_on",
)


def catalog_schema() -> Any:
    """The Parquet schema of a catalog (explicit, so an empty day's catalog has its columns too)."""
    from airflow_provider_twelvelabs.results import import_pyarrow

    pa, _ = import_pyarrow()
    chapter = pa.struct(
        [("start", pa.float64()), ("end", pa.float64()), ("title", pa.string()), ("text", pa.string())]
    )
    return pa.schema(
        [
            ("source", pa.string()),
            ("sha256", pa.string()),
            ("size", pa.int64()),
            ("asset_id", pa.string()),
            ("indexed_asset_id", pa.string()),
            ("index_id", pa.string()),
            ("title", pa.string()),
            ("topics", pa.list_(pa.string())),
            ("hashtags", pa.list_(pa.string())),
            ("summary", pa.string()),
            ("chapters", pa.list_(chapter)),
            ("embeddings_path", pa.string()),
            ("catalogued_on", pa.string()),
        ]
    )


def _root(text: str) -> ObjectStoragePath:
    """The ``ObjectStoragePath`` of a local path or a URL."""
    if "://" not in text:
        text = f"file://{Path(text).expanduser().resolve()}"
    return ObjectStoragePath(text)


def _source_of(file: dict[str, Any]) -> str:
    """What the upload of a planned file reads."""
    return str(file["source"])


def _read_catalog(path: ObjectStoragePath) -> list[dict[str, Any]]:
    """The rows of a JSON Lines catalog, or none when it does not exist yet."""
    import json

    if not path.exists():
        return []
    with path.open("rb") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _merge(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``old`` rows updated with ``new`` ones, one per source (the newest wins), sorted by source."""
    merged = {row["source"]: row for row in old}
    merged.update({row["source"]: row for row in new})
    return [merged[source] for source in sorted(merged)]


def _write_both(rows: list[dict[str, Any]], stem: ObjectStoragePath) -> dict[str, Any]:
    """Write ``rows`` to ``stem``.jsonl and ``stem``.parquet, each through a temporary file then a move.

    A failure while writing leaves the previous files as they were (a retry starts from them).
    """
    from airflow_provider_twelvelabs.results import write_jsonl, write_parquet

    written: dict[str, Any] = {}
    for suffix in (".parquet", ".jsonl"):
        final = stem.parent / f"{stem.name}{suffix}"
        partial = stem.parent / f".{stem.name}{suffix}.partial"
        if suffix == ".parquet":
            manifest = write_parquet(partial, rows, schema=catalog_schema())
        else:
            manifest = write_jsonl(partial, rows)
        final.fs.mv(partial.path, final.path)
        written[suffix.lstrip(".")] = {**manifest, "path": str(final)}
    return written


@dag(
    dag_id="twelvelabs_media_archive",
    schedule="@daily",
    catchup=False,
    max_active_runs=1,
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
        "output_path": Param(
            DEFAULT_OUTPUT,
            type="string",
            minLength=1,
            description="Where the catalogs and embeddings go: a local folder or a URL (s3://, gs://...).",
        ),
    },
    default_args={"retries": 2},
)
def twelvelabs_media_archive() -> None:
    """Upload, index, analyze and embed the new media under ``source``; write and merge the catalog."""

    @task
    def list_media(source: str) -> list[str]:
        """Return the media files under ``source``: local paths, or URLs for object stores."""
        root = _root(source)
        if not root.is_dir():
            raise ValueError(f"source {source!r} is not a folder or bucket prefix")
        local = root.protocol in ("file", "local")
        files = sorted(
            (path for path in root.rglob("*") if path.suffix.lower() in MEDIA_SUFFIXES and path.is_file()),
            key=str,
        )
        print(f"Found {len(files)} media file(s) under {source}")
        # Local files travel as plain paths, remote ones as URLs the upload operator opens itself.
        return [path.path if local else str(path) for path in files]

    index = TwelveLabsCreateIndexOperator(
        task_id="create_index", index_name="{{ params.index_name }}", pool=POOL
    )

    @task(pool=POOL)
    def plan(files: list[str], index_id: str, output_path: str, ti: Any = None) -> list[dict[str, Any]]:
        """Split the files into done and new, by content, before anything is mapped.

        A file is done when the index holds a ready indexed asset with its exact content key
        (looked up on TwelveLabs, as the index operator does) and the cumulative catalog has its
        row for that content. Returns one dict per new file (source, uri, size, sha256, embeddings
        path): what the uploads map over. The counts go to XCom under ``counts``.
        """
        from airflow_provider_twelvelabs.hooks.twelvelabs import TwelveLabsHook
        from airflow_provider_twelvelabs.operators.indexes import indexed_assets_of_content
        from airflow_provider_twelvelabs.sources import content_key

        root = _root(output_path)
        catalogued = {(row["source"], row["sha256"]) for row in _read_catalog(root / "catalog.jsonl")}
        new: list[dict[str, Any]] = []
        done = 0
        with TwelveLabsHook() as hook:
            for file in files:
                key = content_key(file)
                indexed = [
                    found.id
                    for found in indexed_assets_of_content(hook, index_id, key)
                    if found.status == "ready"
                ]
                if indexed and (key.source, key.sha256) in catalogued:
                    done += 1
                    continue
                if indexed:
                    print(f"{key.source} is indexed ({indexed[0]}) but not catalogued: processing it again")
                new.append(
                    {
                        "source": file,
                        "uri": key.source,
                        "size": key.size,
                        "sha256": key.sha256,
                        "embeddings_path": str(root / "embeddings" / f"{key.sha256}.jsonl"),
                    }
                )
        print(f"{len(files)} file(s): {done} already done, {len(new)} new file(s) to process")
        ti.xcom_push(key="counts", value={"done": done, "total": len(files)})
        return new

    planned = plan(list_media("{{ params.source }}"), index.output, "{{ params.output_path }}")

    uploads = TwelveLabsUploadAssetOperator.partial(
        task_id="upload", multipart="auto", deferrable=True, pool=POOL, **POLL
    ).expand(source=planned.map(_source_of))

    indexed = TwelveLabsIndexAssetOperator.partial(
        task_id="index", index_id=index.output, deferrable=True, pool=POOL, **POLL
    ).expand(asset_id=uploads.output)

    @task
    def embedding_requests(new: list[dict[str, Any]], asset_ids: list[str]) -> list[dict[str, str]]:
        """One embedding task per new file: its asset, and where its vectors go."""
        return [
            {"asset_id": asset_ids[i], "output_path": file["embeddings_path"]} for i, file in enumerate(new)
        ]

    embeddings = TwelveLabsCreateEmbeddingTaskOperator.partial(
        task_id="embed",
        input_type="video",
        embedding_option=["visual", "audio"],
        embedding_scope=["clip", "asset"],
        deferrable=True,
        pool=POOL,
        **POLL,
    ).expand_kwargs(embedding_requests(planned, uploads.output))

    @task
    def batch_items(asset_ids: list[str], indexed_asset_ids: list[str]) -> list[dict[str, str]]:
        """The analyze batch's items: the new files' assets (once indexed), the asset id as custom_id."""
        # Index the mapped results instead of iterating them: they are fetched lazily, one by one.
        count = len(indexed_asset_ids)
        return [{"asset_id": asset_ids[i], "custom_id": asset_ids[i]} for i in range(count)]

    analyzed = TwelveLabsCreateAnalyzeBatchOperator(
        task_id="analyze",
        items=batch_items(uploads.output, indexed.output),
        prompt=CATALOG_PROMPT,
        json_schema=CATALOG_SCHEMA,
        output_path="{{ params.output_path }}/" + DAY + "/analysis.jsonl",
        deferrable=True,
        pool=POOL,
        **POLL,
    )

    @task(trigger_rule="none_failed", outlets=[CATALOG_ASSET])
    def write_catalog(
        new: list[dict[str, Any]],
        index_id: str,
        output_path: str,
        index_name: str,
        day: str,
        outlet_events: Any = None,
        ti: Any = None,
    ) -> dict[str, Any]:
        """Write the day's catalog and merge it into the cumulative one; update the catalog Asset.

        With no new file, the upstream tasks were skipped: the day's catalog is written empty.
        """
        import json

        from airflow_provider_twelvelabs.results import read_records

        counts = ti.xcom_pull(task_ids="plan", key="counts")
        rows: list[dict[str, Any]] = []
        if new:
            asset_ids = ti.xcom_pull(task_ids="upload", map_indexes=list(range(len(new))))
            indexed_ids = ti.xcom_pull(task_ids="index", map_indexes=list(range(len(new))))
            embedded = ti.xcom_pull(task_ids="embed", map_indexes=list(range(len(new))))
            analysis = ti.xcom_pull(task_ids="analyze")
            answers = {row["custom_id"]: row for row in read_records(analysis["path"], format="jsonl")}
            results = zip(new, asset_ids, indexed_ids, embedded, strict=True)
            for file, asset_id, indexed_id, manifest in results:
                answer = answers[asset_id]
                if answer["status"] != "ready":
                    raise ValueError(f"{file['uri']} was not analysed: {answer.get('error_message')}")
                result = json.loads(answer["result"])
                chapters = sorted(
                    (
                        {
                            "start": float(c["start_time"]),
                            "end": float(c["end_time"]),
                            "title": c["title"],
                            "text": c["summary"],
                        }
                        for c in result["chapters"]
                    ),
                    key=lambda c: c["start"],
                )
                rows.append(
                    {
                        "source": file["uri"],
                        "sha256": file["sha256"],
                        "size": file["size"],
                        "asset_id": asset_id,
                        "indexed_asset_id": indexed_id,
                        "index_id": index_id,
                        "title": result["title"],
                        "topics": list(result["topics"]),
                        "hashtags": list(result["hashtags"]),
                        "summary": result["summary"],
                        "chapters": chapters,
                        "embeddings_path": manifest["path"],
                        "catalogued_on": day,
                    }
                )
        root = _root(output_path)
        # One row per source file, in both catalogs: a changed file's new row replaces its old one.
        # Merged by key, so a retry (or another run of the same day) writes the same catalogs; the
        # day's catalog holds what was catalogued on that day, empty on a day with nothing new.
        day_rows = _merge(_read_catalog(root / day / "catalog.jsonl"), rows)
        written = _write_both(day_rows, root / day / "catalog")
        merged = _merge(_read_catalog(root / "catalog.jsonl"), rows)
        cumulative = _write_both(merged, root / "catalog")
        print(
            f"{len(rows)} new file(s) catalogued ({counts['done']} of {counts['total']} already done); "
            f"the cumulative catalog holds {len(merged)} row(s): {cumulative['jsonl']['path']}"
        )
        for row in rows[:5]:
            print(f"  {row['source']}  {row['title']!r}  {', '.join(row['hashtags'])}")
        summary = {
            "new_files": len(rows),
            "done_files": counts["done"],
            "catalog_rows": len(merged),
            "day_catalog_rows": len(day_rows),
            "index_id": index_id,
            "index_name": index_name,
            "catalog": cumulative["jsonl"]["path"],
            "catalog_parquet": cumulative["parquet"]["path"],
            "day_catalog": written["jsonl"]["path"],
            "day_catalog_parquet": written["parquet"]["path"],
        }
        if outlet_events is not None:
            outlet_events[CATALOG_ASSET].extra = summary
        return summary

    catalog = write_catalog(planned, index.output, "{{ params.output_path }}", "{{ params.index_name }}", DAY)
    [analyzed, embeddings] >> catalog


twelvelabs_media_archive()
