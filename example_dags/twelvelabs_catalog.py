"""
### Catalog an index: titles, topics, hashtags, summaries and chapters for every video

1. `list_videos` lists the ready videos of the index `index_id` (at most `max_videos`).
2. For each video, mapped tasks ask Pegasus for a gist (`gist`: title, topics, hashtags), a summary
   (`summary`) and chapters (`chapters`). `/gist` and `/summarize` are being sunset by TwelveLabs:
   when the API answers that they are gone, the operators fall back to `/analyze` with a JSON
   schema, and the results keep the same shape.
3. `find` searches the index for `query` and keeps the best 10 clips.
4. `write_catalog` writes one JSON document with an entry per video (and the search hits) to
   `output_dir`, and returns a small manifest.

Run it with `airflow dags test twelvelabs_catalog -c '{"index_id": "...", "output_dir": "..."}'`
and a `twelvelabs_default` connection; `output_dir` may be a local folder or an object-storage URL
such as `s3://bucket/catalog`.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

from airflow.providers.common.compat.sdk import Param, dag, task

from airflow_provider_twelvelabs.operators.analyze import (
    TwelveLabsGistOperator,
    TwelveLabsSummarizeOperator,
)
from airflow_provider_twelvelabs.operators.search import TwelveLabsSearchOperator


@dag(
    dag_id="twelvelabs_catalog",
    schedule=None,
    catchup=False,
    tags=["twelvelabs", "example"],
    params={
        "index_id": Param("", type="string", description="The index whose videos are catalogued."),
        "max_videos": Param(20, type="integer", minimum=1, maximum=500),
        "query": Param("a title card with bright colours", type="string"),
        "output_dir": Param(os.path.join(tempfile.gettempdir(), "twelvelabs_catalog"), type="string"),
    },
    doc_md=__doc__,
)
def twelvelabs_catalog() -> None:
    """Generate a gist, a summary and chapters for each video of an index, search it, write a catalog."""

    @task
    def list_videos(index_id: str, max_videos: int | str) -> list[str]:
        """Return the ids of the index's ready videos, oldest first, at most ``max_videos``."""
        from airflow_provider_twelvelabs.hooks.twelvelabs import TwelveLabsHook

        if not index_id:
            raise ValueError("Set the index_id param to the index to catalogue")
        limit = int(max_videos)  # templated arguments arrive as strings
        videos: list[str] = []
        with TwelveLabsHook() as hook:
            for video in hook.list_indexed_assets(
                index_id, status=["ready"], sort_by="created_at", sort_option="asc"
            ):
                videos.append(video.id)
                if len(videos) >= limit:
                    break
        print(f"Cataloguing {len(videos)} video(s) of index {index_id}")
        return videos

    video_ids = list_videos("{{ params.index_id }}", "{{ params.max_videos }}")
    gists = TwelveLabsGistOperator.partial(task_id="gist").expand(video_id=video_ids)
    summaries = TwelveLabsSummarizeOperator.partial(
        task_id="summary",
        type="summary",
        prompt="Two sentences for a media catalog.",
    ).expand(video_id=video_ids)
    chapters = TwelveLabsSummarizeOperator.partial(task_id="chapters", type="chapter").expand(
        video_id=video_ids
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
        video_ids: list[str],
        gists: list[dict[str, Any]],
        summaries: list[str],
        chapters: list[list[dict[str, Any]]],
        hits: list[dict[str, Any]],
        output_dir: str,
        run_id: str | None = None,
    ) -> dict[str, Any]:
        """Write the catalog as one JSON document and return its manifest (``run_id``: from the context)."""
        from airflow_provider_twelvelabs.results import write_json

        entries = [
            {"video_id": video_id, **gist, "summary": summary, "chapters": video_chapters}
            for video_id, gist, summary, video_chapters in zip(
                video_ids, gists, summaries, chapters, strict=True
            )
        ]
        for entry in entries:
            print(f"{entry['video_id']}  {entry['title']}  ({len(entry['chapters'])} chapters)")
        safe_run = (run_id or "manual").replace(":", "_").replace("+", "_")
        return write_json(f"{output_dir}/{safe_run}/catalog.json", {"videos": entries, "search": hits})

    write_catalog(
        video_ids,
        gists.output,
        summaries.output,
        chapters.output,
        hits.output,
        "{{ params.output_dir }}",
    )


twelvelabs_catalog()
