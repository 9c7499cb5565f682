"""
### Hand an archive's embeddings to a vector store (LanceDB) and search it

1. `plan` turns the `videos` param (video URLs, or ids of `ready` TwelveLabs assets) into one
   embedding job each, with a Parquet file under `output_dir`.
2. `embed_video` (mapped, deferrable) creates an Embed API v2 task per video and writes its clip
   vectors (visual and audio, 6-second segments) as Parquet.
3. `load` reads the Parquet files 1,024 rows at a time into a LanceDB table (`segments`), a directory
   under `output_dir`. LanceDB runs in the worker's process: no server to run.
4. `embed_query` embeds the text `query` with Marengo (synchronous, one vector in XCom).
5. `search` returns the `k` segments nearest to the query (cosine): video, time range, score.

Run it with `airflow dags test twelvelabs_vector_search -c '{"videos": ["https://..."], "query":
"...", "k": 5}'` and a `twelvelabs_default` connection. It needs `lancedb` and `pyarrow` on the
workers (`pip install lancedb pyarrow`). See docs/vector_search.md, which also shows the same load
into PostgreSQL with pgvector.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from airflow.providers.common.compat.sdk import ObjectStoragePath, Param, dag, task

from airflow_provider_twelvelabs.operators.embed import (
    TwelveLabsCreateEmbeddingTaskOperator,
    TwelveLabsEmbedOperator,
)

#: How the waits poll TwelveLabs; the tests set a short first interval for the emulator.
POLL = {
    "poll_interval": float(os.environ.get("TWELVELABS_EXAMPLE_POLL_INTERVAL", "5")),
    "poll_max_interval": 60.0,
}

#: Rows read from Parquet and written to LanceDB at a time: 1,024 vectors of 512 floats is 4 MB.
BATCH_ROWS = 1024

#: The LanceDB table the segments go to.
TABLE = "segments"

#: Columns of a search hit, in the order they are printed.
HIT_COLUMNS = ("video", "asset_id", "url", "embedding_option", "start_sec", "end_sec", "score")

_ASSET_ID = re.compile(r"[0-9a-f]{24}")


def _lancedb() -> Any:
    # Imported in the tasks only, so that the DAG file parses on a scheduler without lancedb.
    try:
        import lancedb
    except ImportError as exc:
        raise ImportError(
            "This DAG needs lancedb and pyarrow on the worker: "
            "pip install 'airflow-provider-twelvelabs[vector]' (or: pip install lancedb pyarrow)"
        ) from exc
    return lancedb


def segment_batches(paths: list[str], dimensions: int) -> Iterator[Any]:
    """Yield the rows of embedding Parquet files as Arrow batches in the LanceDB table's schema.

    ``BATCH_ROWS`` rows are in memory at a time, whatever the size of the archive. Vectors
    become ``fixed_size_list<float32>[dimensions]``, the type LanceDB searches.

    :param paths: Parquet files written by the embedding operators (local paths or
        ``ObjectStoragePath`` URLs).
    :param dimensions: the length of every vector.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    for path in paths:
        with ObjectStoragePath(path).open("rb") as handle:
            for batch in pq.ParquetFile(handle).iter_batches(batch_size=BATCH_ROWS):
                vectors = batch.column("embedding")
                lengths = pc.list_value_length(vectors)
                if vectors.null_count or pc.any(pc.not_equal(lengths, dimensions)).as_py():
                    raise ValueError(f"{path}: every embedding must have {dimensions} values")
                yield pa.RecordBatch.from_arrays(
                    [
                        # The video a segment belongs to: its asset id, else its URL or file.
                        pc.coalesce(batch.column("asset_id"), batch.column("url"), batch.column("file")),
                        batch.column("asset_id"),
                        batch.column("url"),
                        batch.column("task_id"),
                        batch.column("embedding_option"),
                        batch.column("start_sec"),
                        batch.column("end_sec"),
                        pa.FixedSizeListArray.from_arrays(vectors.flatten().cast(pa.float32()), dimensions),
                    ],
                    schema=segment_schema(dimensions),
                )


def segment_schema(dimensions: int) -> Any:
    """Return the Arrow schema of the LanceDB table.

    :param dimensions: the length of the vectors.
    """
    import pyarrow as pa

    return pa.schema(
        [
            ("video", pa.string()),
            ("asset_id", pa.string()),
            ("url", pa.string()),
            ("task_id", pa.string()),
            ("embedding_option", pa.string()),
            ("start_sec", pa.float64()),
            ("end_sec", pa.float64()),
            ("vector", pa.list_(pa.float32(), dimensions)),
        ]
    )


def nearest_segments(uri: str, vector: list[float], k: int, table: str = TABLE) -> list[dict[str, Any]]:
    """Return the ``k`` segments of a LanceDB table nearest to ``vector``, best first.

    The search is exhaustive (exact) until the table has a vector index (see
    docs/vector_search.md); ``score`` is the cosine similarity, 1 for the same direction.

    :param uri: the LanceDB database (a directory, or a URL LanceDB opens itself).
    :param vector: the query vector.
    :param k: how many segments to return, at least 1.
    :param table: the table name.
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    found = (
        _lancedb()
        .connect(uri)
        .open_table(table)
        .search(vector, vector_column_name="vector")
        .distance_type("cosine")
        .limit(k)
        .select([c for c in HIT_COLUMNS if c != "score"])
        .to_list()
    )
    return [
        {c: row[c] for c in HIT_COLUMNS if c != "score"} | {"score": 1.0 - row["_distance"]} for row in found
    ]


@dag(
    dag_id="twelvelabs_vector_search",
    schedule=None,
    catchup=False,
    tags=["twelvelabs", "example"],
    params={
        "videos": Param(
            ["https://example.com/media/keynote.mp4", "https://example.com/media/launch.mp4"],
            type="array",
            items={"type": "string", "minLength": 1},
            minItems=1,
            description="Videos to embed: http(s) URLs of media files, or ids of ready TwelveLabs assets.",
        ),
        "output_dir": Param(
            os.path.join(tempfile.gettempdir(), "twelvelabs_vector_search"),
            type="string",
            minLength=1,
            description="Where the Parquet files and the LanceDB database go (a folder per run).",
        ),
        "query": Param("the speaker shows the new product on stage", type="string", minLength=1),
        "k": Param(5, type="integer", minimum=1, maximum=100, description="How many segments to return."),
    },
    doc_md=__doc__,
)
def twelvelabs_vector_search() -> None:
    """Embed videos, load their segments into LanceDB, and return the segments nearest a text query."""

    @task
    def plan(params: dict[str, Any] | None = None, run_id: str | None = None) -> list[dict[str, str]]:
        """Return the embedding operator's arguments for each video: its source and Parquet file."""
        assert params is not None  # Airflow passes the run's params
        videos, output_dir = list(params["videos"]), str(params["output_dir"])
        if len(set(videos)) != len(videos):
            raise ValueError("videos must not list a video twice")
        run_dir = f"{output_dir.rstrip('/')}/{(run_id or 'manual').replace(':', '_')}"
        jobs = []
        for position, video in enumerate(videos):
            if video.startswith(("http://", "https://")):
                source = {"url": video}
            elif _ASSET_ID.fullmatch(video):
                source = {"asset_id": video}
            else:
                raise ValueError(f"videos[{position}] must be an http(s) URL or an asset id, got {video!r}")
            jobs.append(source | {"output_path": f"{run_dir}/embeddings/{position:04d}.parquet"})
        return jobs

    jobs = plan()

    embeddings = TwelveLabsCreateEmbeddingTaskOperator.partial(
        task_id="embed_video",
        input_type="video",
        embedding_option=["visual", "audio"],
        embedding_scope=["clip"],
        segmentation="fixed",
        segment_duration_sec=6,
        output_format="parquet",
        deferrable=True,
        retries=2,
        **POLL,
    ).expand_kwargs(jobs)

    @task
    def load(
        manifests: list[dict[str, Any]], params: dict[str, Any] | None = None, run_id: str | None = None
    ) -> dict[str, Any]:
        """Load every Parquet file into a fresh LanceDB table and return where it is."""
        assert params is not None
        manifests, output_dir = list(manifests), str(params["output_dir"])
        dimensions = {m["dimensions"] for m in manifests if m["count"]}
        if len(dimensions) != 1:
            raise ValueError(f"the videos' embeddings must have one length, got {sorted(dimensions)}")
        (dimension,) = dimensions
        uri = f"{output_dir.rstrip('/')}/{(run_id or 'manual').replace(':', '_')}/lancedb"
        if "://" not in uri:
            Path(uri).mkdir(parents=True, exist_ok=True)
        table = (
            _lancedb()
            .connect(uri)
            .create_table(
                TABLE,
                data=segment_batches([m["path"] for m in manifests if m["count"]], dimension),
                schema=segment_schema(dimension),
                mode="overwrite",
            )
        )
        rows = table.count_rows()
        print(f"loaded {rows} segments of {len(manifests)} video(s) into {uri} (table {TABLE!r})")
        return {"uri": uri, "table": TABLE, "rows": rows, "dimensions": dimension}

    store = load(embeddings.output)

    query = TwelveLabsEmbedOperator(task_id="embed_query", input_type="text", text="{{ params.query }}")

    @task
    def search(
        store: dict[str, Any], query_result: dict[str, Any], params: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Return (and print) the ``k`` segments nearest to the query, best first."""
        assert params is not None
        vector = query_result["embeddings"][0]["embedding"]
        hits = nearest_segments(store["uri"], vector, params["k"], table=store["table"])
        for hit in hits:
            print(
                f"{hit['score']:.4f}  {hit['start_sec']:>8.1f}-{hit['end_sec']:<8.1f} "
                f"{hit['embedding_option']:<8} {hit['video']}"
            )
        return hits

    search(store, query.output)


twelvelabs_vector_search()
