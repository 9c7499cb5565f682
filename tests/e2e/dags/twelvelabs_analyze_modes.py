"""One asynchronous Pegasus analyze task per mode, deferred: general text, json_schema, segmentation.

Used by tests/e2e/test_analyze_modes_dag.py with ``airflow dags test``; conf: ``asset_id``,
``output_dir``.
"""

from __future__ import annotations

from airflow.providers.common.compat.sdk import dag

from airflow_provider_twelvelabs.operators.analyze_async import TwelveLabsCreateAnalyzeTaskOperator

WAIT = {"deferrable": True, "poll_interval": 0.2}


@dag(dag_id="twelvelabs_analyze_modes", schedule=None, catchup=False, tags=["twelvelabs", "test"])
def twelvelabs_analyze_modes() -> None:
    """Three analyze tasks on the same asset, one per mode, each writing its result to a file."""
    TwelveLabsCreateAnalyzeTaskOperator(
        task_id="text",
        asset_id="{{ dag_run.conf['asset_id'] }}",
        prompt="Describe this video in two sentences.",
        custom_id="mode-text",
        output_path="{{ dag_run.conf['output_dir'] }}/text.txt",
        **WAIT,
    )
    TwelveLabsCreateAnalyzeTaskOperator(
        task_id="json",
        asset_id="{{ dag_run.conf['asset_id'] }}",
        prompt="Give a title and topics.",
        json_schema={
            "type": "object",
            "properties": {
                "title": {"type": "string"},
                "topics": {"type": "array", "items": {"type": "string"}},
            },
            "required": ["title", "topics"],
        },
        custom_id="mode-json",
        output_path="{{ dag_run.conf['output_dir'] }}/gist.json",
        **WAIT,
    )
    TwelveLabsCreateAnalyzeTaskOperator(
        task_id="segments",
        asset_id="{{ dag_run.conf['asset_id'] }}",
        segment_definitions=[
            {
                "id": "scenes",
                "description": "Each scene of the video",
                "fields": [{"name": "label", "type": "string", "description": "what the scene shows"}],
            }
        ],
        custom_id="mode-segments",
        output_path="{{ dag_run.conf['output_dir'] }}/scenes.jsonl",
        **WAIT,
    )


twelvelabs_analyze_modes()
