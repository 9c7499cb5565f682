"""The XCom keys the operators push remote ids under: one registry, read by the operators and the links.

An operator pushes the ids of what it created *before* it waits, so the extra links and downstream
tasks can use them while the task is deferred. Each resource kind names its key here (see
:data:`~airflow_provider_twelvelabs.waiting.KINDS`); the links read the same constants.
"""

from __future__ import annotations

__all__ = [
    "ANALYZE_BATCH_ID",
    "ANALYZE_BATCH_IDS",
    "ANALYZE_TASK_ID",
    "ASSET",
    "ASSET_ID",
    "EMBED_V1_TASK_ID",
    "EMBED_V2_TASK_ID",
    "INDEXED_ASSET_ID",
    "INDEXING_TASK_ID",
    "INDEX_ID",
    "LEGACY_TASK_ID",
    "MULTIPART_UPLOAD",
    "MULTIPART_UPLOAD_ID",
    "VIDEO_ID",
]

#: The index an operator worked in.
INDEX_ID = "index_id"
#: An uploaded asset's id, and the asset itself as JSON.
ASSET_ID = "asset_id"
ASSET = "asset"
#: An indexed asset's id (also the video id that search and analyze take).
INDEXED_ASSET_ID = "indexed_asset_id"
#: A legacy ``/tasks`` indexing task's id, under its kind's key and the key of earlier releases.
INDEXING_TASK_ID = "indexing_task_id"
LEGACY_TASK_ID = "task_id"
#: The video id of a legacy indexing task.
VIDEO_ID = "video_id"
#: Embedding task ids (embed v2 ``/embed-v2/tasks``, v1 ``/embed/tasks``).
EMBED_V2_TASK_ID = "embed_v2_task_id"
EMBED_V1_TASK_ID = "embed_v1_task_id"
#: A multipart upload session's id, and its checkpoint (ids and geometry, no secret).
MULTIPART_UPLOAD_ID = "multipart_upload_id"
MULTIPART_UPLOAD = "multipart_upload"
#: An asynchronous analyze task's id, and the ids of an analyze batch operator's batches.
ANALYZE_TASK_ID = "analyze_task_id"
ANALYZE_BATCH_ID = "analyze_batch_id"
ANALYZE_BATCH_IDS = "analyze_batch_ids"
