"""
### Saved searches over the media archive, run whenever its catalog changes

Scheduled on the Airflow Asset `twelvelabs-catalog://media-archive/catalog`, which
`twelvelabs_media_archive` updates each time it writes its catalog. For every query of the
`queries` param (the saved searches), `search` (one mapped `TwelveLabsSearchOperator` per query)
searches the archive's index, and `write_hits` writes the hits as JSON Lines, one row per hit with
its query, under `output_path/searches/<run>/hits.jsonl`.

The index comes from the asset event that triggered the run (its `extra` holds the archive run's
`index_id`, `index_name`, `catalog` path and counts); a run started by hand (`airflow dags test
twelvelabs_catalog_search`) finds the index by the `index_name` param instead. Give both DAGs the
same `output_path` to keep the hits next to the catalog.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

from airflow.providers.common.compat.sdk import Asset, Param, dag, task

from airflow_provider_twelvelabs.operators.search import TwelveLabsSearchOperator

#: The catalog Asset of ``twelvelabs_media_archive`` (the same name and URI as there).
CATALOG_ASSET = Asset(name="twelvelabs_media_catalog", uri="twelvelabs-catalog://media-archive/catalog")

#: The pool of the tasks that call TwelveLabs (see docs/deployment.md, "Pools").
POOL = os.environ.get("TWELVELABS_ARCHIVE_POOL", "twelvelabs_api")

#: The most hits kept per query.
MAX_RESULTS = 10

#: The saved searches run unless the ``queries`` param says otherwise.
SAVED_QUERIES = ["a title card with bright colours", "colour bars test pattern", "a fractal zoom"]


@dag(
    dag_id="twelvelabs_catalog_search",
    schedule=[CATALOG_ASSET],
    catchup=False,
    max_active_runs=1,
    tags=["twelvelabs", "example"],
    doc_md=__doc__,
    params={
        "queries": Param(SAVED_QUERIES, type="array", minItems=1, items={"type": "string", "minLength": 1}),
        "index_name": Param(
            "media-archive",
            type="string",
            minLength=1,
            description="The archive's index, when the run was not triggered by the catalog Asset.",
        ),
        "output_path": Param(
            os.path.join(tempfile.gettempdir(), "twelvelabs_media_archive"),
            type="string",
            minLength=1,
            description="Where the hits go: the archive's output folder, or any local path or URL.",
        ),
    },
)
def twelvelabs_catalog_search() -> None:
    """Run the saved searches over the archive's index and write the hits."""

    @task(pool=POOL)
    def find_index(index_name: str, triggering_asset_events: Any = None) -> str:
        """The index of the catalog event that triggered the run, or the index named ``index_name``."""
        for events in (triggering_asset_events or {}).values():
            for event in events:
                index_id = (event.extra or {}).get("index_id")
                if index_id:
                    print(f"Searching index {index_id}, catalogued by {event.extra.get('catalog')}")
                    return str(index_id)
        from airflow_provider_twelvelabs.hooks.twelvelabs import TwelveLabsHook

        with TwelveLabsHook() as hook:
            for index in hook.list_indexes(index_name=index_name):
                if index.index_name == index_name:
                    print(f"Searching index {index.id} ({index_name!r})")
                    return index.id
        raise ValueError(f"No TwelveLabs index is named {index_name!r}: run twelvelabs_media_archive first")

    index_id = find_index("{{ params.index_name }}")

    @task
    def saved_queries(params: Any = None) -> list[str]:
        """The queries to map over: the ``queries`` param, as a list."""
        return [str(query) for query in params["queries"]]

    queries = saved_queries()
    hits = TwelveLabsSearchOperator.partial(
        task_id="search",
        index_id=index_id,
        search_options=["visual", "audio"],
        max_results=MAX_RESULTS,
        pool=POOL,
    ).expand(query_text=queries)

    @task
    def write_hits(
        queries: list[str], hits: list[list[dict[str, Any]]], output_path: str, run_id: str | None = None
    ) -> dict[str, Any]:
        """Write one JSON Lines row per hit (with its query) and return the manifest."""
        from airflow_provider_twelvelabs.results import write_jsonl

        rows = []
        for position, query in enumerate(queries):
            for hit in hits[position]:
                rows.append({"query": query, **hit})
            print(f"{query!r}: {len(hits[position])} hit(s)")
        safe_run = (run_id or "manual").replace(":", "_").replace("+", "_")
        return write_jsonl(f"{output_path}/searches/{safe_run}/hits.jsonl", rows)

    write_hits(queries, hits.output, "{{ params.output_path }}")


twelvelabs_catalog_search()
