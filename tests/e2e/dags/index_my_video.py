"""Index one video into a TwelveLabs index, then report what was indexed."""

from pathlib import Path

from airflow.sdk import dag, task

from airflow_provider_twelvelabs.operators.assets import TwelveLabsUploadAssetOperator
from airflow_provider_twelvelabs.operators.indexes import (
    TwelveLabsCreateIndexOperator,
    TwelveLabsIndexAssetOperator,
)

VIDEO = Path(__file__).parent / "videos" / "clip.mp4"


@dag(schedule=None, params={"index_name": "my-videos"})
def index_my_video():
    index_id = TwelveLabsCreateIndexOperator(
        task_id="create_index", index_name="{{ params.index_name }}"
    ).output
    asset_id = TwelveLabsUploadAssetOperator(task_id="upload", source=str(VIDEO), deferrable=True).output
    indexed_asset_id = TwelveLabsIndexAssetOperator(
        task_id="index", index_id=index_id, asset_id=asset_id, deferrable=True
    ).output

    @task
    def report(index_id: str, indexed_asset_id: str) -> dict:
        from airflow_provider_twelvelabs.hooks.twelvelabs import TwelveLabsHook

        with TwelveLabsHook() as hook:
            indexed = hook.get_indexed_asset(index_id, indexed_asset_id)
        metadata = indexed.system_metadata or {}
        return {
            "status": indexed.status,
            "filename": metadata.get("filename"),
            "duration": metadata.get("duration"),
        }

    report(index_id, indexed_asset_id)


index_my_video()
