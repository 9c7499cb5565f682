"""
### Embed a long video with Marengo and search it with a text query

1. `embed_video` creates an asynchronous Embed API v2 task for the video at `video_url` (up to
   4 hours), defers while TwelveLabs works, then streams the vectors to `output_dir` as JSON Lines
   (one row per clip and modality) and returns a small manifest.
2. `embed_video_v1` does the same with the deprecated v1 video embedding task, for comparison.
3. `embed_query` embeds the text `query` synchronously; one vector fits in XCom.
4. `best_clips` reads the rows back and logs the clips closest to the query (cosine similarity).

Run it with `airflow dags test twelvelabs_embeddings -c '{"video_url": "...", "output_dir": "..."}'`
and a `twelvelabs_default` connection; `output_dir` may be a local folder or an object-storage URL
such as `s3://bucket/embeddings`.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from typing import Any

from airflow.providers.common.compat.sdk import ObjectStoragePath, Param, dag, task

from airflow_provider_twelvelabs.operators.embed import (
    TwelveLabsCreateEmbeddingTaskOperator,
    TwelveLabsCreateVideoEmbeddingTaskOperator,
    TwelveLabsEmbedOperator,
)

#: How the waits poll TwelveLabs; the tests set a short first interval for the emulator.
POLL = {
    "poll_interval": float(os.environ.get("TWELVELABS_EXAMPLE_POLL_INTERVAL", "5")),
    "poll_max_interval": 60.0,
}


@dag(
    dag_id="twelvelabs_embeddings",
    schedule=None,
    catchup=False,
    tags=["twelvelabs", "example"],
    params={
        "video_url": Param("https://example.com/media/keynote.mp4", type="string"),
        "output_dir": Param(os.path.join(tempfile.gettempdir(), "twelvelabs_embeddings"), type="string"),
        "query": Param("the speaker shows the new product on stage", type="string"),
    },
    doc_md=__doc__,
)
def twelvelabs_embeddings() -> None:
    """Embed a video (v2 task and v1 task) and a text query, then rank the video's clips."""
    video = TwelveLabsCreateEmbeddingTaskOperator(
        task_id="embed_video",
        input_type="video",
        url="{{ params.video_url }}",
        embedding_option=["visual", "audio", "transcription"],
        embedding_scope=["clip"],
        segmentation="fixed",
        segment_duration_sec=6,
        output_path="{{ params.output_dir }}/{{ dag_run.run_id | replace(':', '_') }}/video_v2.jsonl",
        deferrable=True,
        **POLL,
    )
    TwelveLabsCreateVideoEmbeddingTaskOperator(
        task_id="embed_video_v1",
        video_url="{{ params.video_url }}",
        video_clip_length=6,
        video_embedding_scope=["clip"],
        embedding_option=["visual"],
        output_path="{{ params.output_dir }}/{{ dag_run.run_id | replace(':', '_') }}/video_v1.jsonl",
        deferrable=True,
        **POLL,
    )
    query = TwelveLabsEmbedOperator(task_id="embed_query", input_type="text", text="{{ params.query }}")

    @task
    def best_clips(
        manifest: dict[str, Any], query_result: dict[str, Any], top: int = 3
    ) -> list[dict[str, Any]]:
        """Return the clips of the video closest to the query, reading the rows back one at a time."""
        wanted = query_result["embeddings"][0]["embedding"]
        norm = math.sqrt(sum(x * x for x in wanted)) or 1.0
        scored: list[dict[str, Any]] = []
        with ObjectStoragePath(manifest["path"]).open("r") as handle:
            for line in handle:
                row = json.loads(line)
                vector = row["embedding"]
                score = (
                    sum(a * b for a, b in zip(wanted, vector, strict=True))
                    / norm
                    / (math.sqrt(sum(x * x for x in vector)) or 1.0)
                )
                scored.append(
                    {k: row[k] for k in ("embedding_option", "start_sec", "end_sec")} | {"score": score}
                )
                scored = sorted(scored, key=lambda r: -r["score"])[:top]
        for row in scored:
            start, end, option = row["start_sec"], row["end_sec"], row["embedding_option"]
            print(f"{start:>8.1f}-{end:<8.1f} {option:<14} {row['score']:.4f}")
        return scored

    best_clips(video.output, query.output)


twelvelabs_embeddings()
