"""
### Catalog an index: titles, topics, hashtags, summaries and chapters for every video

1. `list_videos` lists the ready videos of the index `index_id` (at most `max_videos`), as batch
   items: the video's asset, with the video id as `custom_id`.
2. `analyze` asks Pegasus for everything at once, in ONE analyze batch (several when there are more
   than 1,000 videos) with a JSON schema: title, topics, hashtags, summary and chapters of every
   video. The batch waits on the triggerer, not on a worker slot, and its results go to
   `output_dir` as JSON Lines, one row per video.
3. `find` searches the index for `query` and keeps the best 10 clips.
4. `write_catalog` reads the batch results and writes one JSON document with an entry per video
   (and the search hits) to `output_dir`, and returns a small manifest.

Run it with `airflow dags test twelvelabs_catalog -c '{"index_id": "...", "output_dir": "..."}'`
and a `twelvelabs_default` connection; `output_dir` may be a local folder or an object-storage URL
such as `s3://bucket/catalog`.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

from airflow.providers.common.compat.sdk import Param, dag, task

from airflow_provider_twelvelabs.operators.analyze_async import TwelveLabsCreateAnalyzeBatchOperator
from airflow_provider_twelvelabs.operators.search import TwelveLabsSearchOperator

#: What every video's entry holds; Pegasus answers with JSON that follows it.
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

#: One results file per run, next to the catalog (``:`` and ``+`` of run ids kept out of paths).
ANALYSIS_PATH = "{{ params.output_dir }}/{{ run_id | replace(':', '_') | replace('+', '_') }}/analysis.jsonl"


@dag(
    dag_id="twelvelabs_catalog",
    schedule=None,
    catchup=False,
    tags=["twelvelabs", "example"],
    params={
        "index_id": Param("", type="string", description="The index whose videos are catalogued."),
        "max_videos": Param(20, type="integer", minimum=1, maximum=5000),
        "query": Param("a title card with bright colours", type="string"),
        "output_dir": Param(os.path.join(tempfile.gettempdir(), "twelvelabs_catalog"), type="string"),
    },
    doc_md=__doc__,
)
def twelvelabs_catalog() -> None:
    """Analyze every video of an index in one batch, search it, and write a catalog."""

    @task
    def list_videos(index_id: str, max_videos: int | str) -> list[dict[str, str]]:
        """Return ``{asset_id, custom_id: video id}`` of the index's ready videos, oldest first."""
        from airflow_provider_twelvelabs.hooks.twelvelabs import TwelveLabsHook

        if not index_id:
            raise ValueError("Set the index_id param to the index to catalogue")
        limit = int(max_videos)  # templated arguments arrive as strings
        items: list[dict[str, str]] = []
        with TwelveLabsHook() as hook:
            for video in hook.list_indexed_assets(
                index_id, status=["ready"], sort_by="created_at", sort_option="asc"
            ):
                if not video.asset_id:
                    raise ValueError(f"Indexed asset {video.id} has no asset_id: it cannot be batched")
                items.append({"asset_id": video.asset_id, "custom_id": video.id})
                if len(items) >= limit:
                    break
        print(f"Cataloguing {len(items)} video(s) of index {index_id}")
        return items

    items = list_videos("{{ params.index_id }}", "{{ params.max_videos }}")
    analyzed = TwelveLabsCreateAnalyzeBatchOperator(
        task_id="analyze",
        items=items,
        prompt=CATALOG_PROMPT,
        json_schema=CATALOG_SCHEMA,
        output_path=ANALYSIS_PATH,
        deferrable=True,
    )
    hits = TwelveLabsSearchOperator(
        task_id="find",
        index_id="{{ params.index_id }}",
        query_text="{{ params.query }}",
        search_options=["visual"],
        max_results=10,
    )

    @task
    def write_catalog(
        items: list[dict[str, str]],
        analysis: dict[str, Any],
        hits: list[dict[str, Any]],
        output_dir: str,
        run_id: str | None = None,
    ) -> dict[str, Any]:
        """Write the catalog as one JSON document and return its manifest (``run_id``: from the context)."""
        import json

        from airflow_provider_twelvelabs.results import read_records, write_json

        rows = {row["custom_id"]: row for row in read_records(analysis["path"], format="jsonl")}
        entries = []
        for item in items:
            row = rows[item["custom_id"]]
            if row["status"] != "ready":
                raise ValueError(f"Video {item['custom_id']} was not analysed: {row['error_message']}")
            answer = json.loads(row["result"])
            # The chapters keep the shape the synchronous operators give: start, end, title, text.
            answer["chapters"] = sorted(
                (
                    {
                        "start": c["start_time"],
                        "end": c["end_time"],
                        "title": c["title"],
                        "text": c["summary"],
                    }
                    for c in answer["chapters"]
                ),
                key=lambda c: c["start"],
            )
            entries.append({"video_id": item["custom_id"], **answer})
        for entry in entries:
            print(f"{entry['video_id']}  {entry['title']}  ({len(entry['chapters'])} chapters)")
        safe_run = (run_id or "manual").replace(":", "_").replace("+", "_")
        return write_json(f"{output_dir}/{safe_run}/catalog.json", {"videos": entries, "search": hits})

    write_catalog(items, analyzed.output, hits.output, "{{ params.output_dir }}")


twelvelabs_catalog()
