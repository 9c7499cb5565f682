"""Asynchronous Pegasus: analyze tasks (``/analyze/tasks``), on the provider's job model.

:class:`TwelveLabsCreateAnalyzeTaskOperator` creates an analyze task, defers until it is final
(or polls on the worker), and returns what Pegasus wrote: the text, the parsed JSON of a
``json_schema``, or, in video segmentation (``segment_definitions``), the segments as rows. With
``output_path`` the result goes to object storage (text, JSON, JSON Lines or Parquet) and the task
returns a small manifest. A retry reconnects to the task the last try created; ``on_kill`` and a
wait timeout cancel it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, partial
from typing import TYPE_CHECKING, Any, TypeVar

from airflow_provider_twelvelabs import xcom_keys
from airflow_provider_twelvelabs.exceptions import TwelveLabsError
from airflow_provider_twelvelabs.operators.base import (
    CREATE_PENDING_KEY,
    TwelveLabsJobOperator,
    created_since,
    push_xcom,
)
from airflow_provider_twelvelabs.reporting import LOG_TEXT_CHARS, log_text_result, result_location
from airflow_provider_twelvelabs.requests.fields import integer, number, one_of, optional_bool, require_str
from airflow_provider_twelvelabs.requests.limits import MAX_ACTIVE_BATCHES, MAX_BATCH_HOURS, MAX_BATCH_ITEMS
from airflow_provider_twelvelabs.statuses import is_failed, is_terminal

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_twelvelabs.requests.analyze_async import AnalyzeBatchRequest

__all__ = [
    "BATCH_RESULT_COLUMNS",
    "ON_WARNING",
    "TwelveLabsCreateAnalyzeBatchOperator",
    "TwelveLabsCreateAnalyzeTaskOperator",
    "lost_analyze_task",
    "read_ready_task",
    "segment_rows",
]

_T = TypeVar("_T")

#: What a ``ready`` task with a warning (truncated output, incomplete segments) does to the task.
ON_WARNING = ("warn", "fail")
_OUTPUT_FORMATS = ("jsonl", "parquet")
_ROW_KEYS = ("segment_definition", "start_time", "end_time")
#: The columns of an analyze batch's results (one row per item).
BATCH_RESULT_COLUMNS = (
    "custom_id",
    "asset_id",
    "batch_id",
    "task_id",
    "status",
    "result",
    "finish_reason",
    "error_code",
    "error_message",
)


def segment_rows(data: Any) -> Iterator[dict[str, Any]]:
    """Yield one row per segment of a segmentation result: definition, start, end, the fields.

    :param data: the result's ``data``: a JSON object (or its text) keyed by segment definition id,
        each a list of ``{start_time, end_time, metadata: {...}}``.
    """
    parsed = json.loads(data) if isinstance(data, (str, bytes)) else data
    if not isinstance(parsed, Mapping):
        raise TwelveLabsError("the segmentation result is not a JSON object keyed by segment definition")
    for definition, segments in parsed.items():
        for segment in segments or []:
            metadata = segment.get("metadata") or {}
            yield {
                "segment_definition": definition,
                "start_time": segment.get("start_time"),
                "end_time": segment.get("end_time"),
                **{
                    k: v
                    for k, v in metadata.items()
                    if k not in ("segment_definition", "start_time", "end_time")
                },
            }


def read_ready_task(hook: Any, task_id: str, log: Any, *, on_warning: str = "warn") -> Any:
    """Read a ready analyze task once, with its result; log its warning, or fail on it.

    :param hook: the TwelveLabs hook.
    :param task_id: the analyze task.
    :param log: the operator's logger.
    :param on_warning: ``warn`` (log the warning, keep the result) or ``fail``.
    :raises TwelveLabsError: when the task carries no result, or has a warning and
        ``on_warning="fail"``.
    """
    task = hook.get_analyze_task(task_id)
    if task.result is None or task.result.data is None:
        raise TwelveLabsError(f"TwelveLabs analyze task {task_id} is ready but carries no result")
    if task.warning:
        log.warning("Analyze task %s finished with a warning: %s", task_id, task.warning)
        if on_warning == "fail":
            raise TwelveLabsError(
                f"TwelveLabs analyze task {task_id} finished with a warning (on_warning='fail'): "
                f"{task.warning}"
            )
    return task


class TwelveLabsCreateAnalyzeTaskOperator(TwelveLabsJobOperator):
    """Analyze a video (or images) with an asynchronous Pegasus task, wait, and deliver the result.

    Two modes: **general** (a ``prompt``; plain text, or JSON with ``json_schema``) and **video
    segmentation** (``segment_definitions``: the video cut into segments, each with the fields you
    define; ``analysis_mode`` ``time_based_metadata`` is then implied). Videos up to 2 hours (4 when
    ``start_time``/``end_time`` select at most 2 hours). The task id is pushed to XCom
    (``analyze_task_id``) before the wait, which defers to the triggerer (or polls on the worker).

    Returns the text, the parsed JSON, or the list of segment rows (``segment_definition``,
    ``start_time``, ``end_time`` and the defined fields). With ``output_path`` the result is written
    there instead (text, JSON, JSON Lines or Parquet for segments) and a manifest is returned. Text
    results are logged up to ``log_chars`` characters.

    A ``ready`` task can carry a warning (``finish_reason: length``: the output was cut at
    ``max_tokens``; or incomplete segments): it is logged, and with ``on_warning="fail"`` the Airflow
    task fails. A ``failed`` or ``canceled`` task fails it with the API's reason.

    Retry-safe: the task id is kept in the task state store (Airflow 3.3+); a retry reconnects to a
    running task, returns a finished one's result without creating another, and creates a new one
    only after a failure. ``on_kill`` and ``wait_timeout`` cancel the remote task.

    :param asset_id: the video as a ready asset's id (templated).
    :param url: the video as an http(s) URL of the raw file (templated).
    :param images: 1-20 images (Pegasus 1.6): https URLs or ``{name, url | asset_id}`` (templated).
    :param model_name: ``pegasus1.5`` or ``pegasus1.6`` (``None``: the API's default, 1.5).
    :param prompt: what to generate, in general mode (templated).
    :param analysis_mode: ``general`` or ``time_based_metadata``; inferred when ``None``.
    :param json_schema: a JSON schema the answer must follow (general mode) (templated).
    :param segment_definitions: the segments to extract: ``[{id, description, fields: [{name, type,
        description}]}]`` (templated).
    :param segment_time_format: ``seconds``, ``hh:mm:ss`` or ``hh:mm:ss.fff``.
    :param min_segment_duration: the shortest segment, in seconds (2 or more).
    :param max_segment_duration: the longest segment, in seconds.
    :param start_time: start of the analysed window, in seconds (templated).
    :param end_time: end of the analysed window, in seconds (templated).
    :param temperature: 0 to 1.
    :param max_tokens: the longest answer in tokens, or ``"unlimited"`` (segmentation, Pegasus 1.6).
    :param custom_id: your id for the task, returned with it (templated). Without one, the task
        instance's tag (``af-`` and a hash of the DAG, task, run and map index) is sent, which is
        what finds the task again on a retry when the create's answer was lost.
    :param on_warning: ``warn`` (default: log and keep the result) or ``fail``.
    :param output_path: where to write the result: a local path or an object-storage URI (templated).
    :param output_format: for segments, ``jsonl`` (default) or ``parquet``.
    :param output_conn_id: an Airflow connection for the object store of ``output_path``.
    :param log_chars: how much of a text result to show in the task log.
    :param kwargs: :class:`~airflow_provider_twelvelabs.operators.base.TwelveLabsBaseOperator`
        arguments (``deferrable``, ``wait_timeout``, ``poll_interval``...).
    """

    template_fields: Sequence[str] = (
        "asset_id",
        "url",
        "images",
        "prompt",
        "json_schema",
        "segment_definitions",
        "start_time",
        "end_time",
        "custom_id",
        "output_path",
    )
    template_fields_renderers = {"json_schema": "json", "segment_definitions": "json", "prompt": "md"}
    ui_color = "#f3e8fd"
    job_kind = "analyze_task"
    external_id_key = xcom_keys.ANALYZE_TASK_ID

    def __init__(
        self,
        *,
        asset_id: str | None = None,
        url: str | None = None,
        images: Any = None,
        model_name: str | None = None,
        prompt: str | None = None,
        analysis_mode: str | None = None,
        json_schema: Any = None,
        segment_definitions: Any = None,
        segment_time_format: str | None = None,
        min_segment_duration: float | None = None,
        max_segment_duration: float | None = None,
        start_time: float | None = None,
        end_time: float | None = None,
        temperature: float | None = None,
        max_tokens: int | str | None = None,
        custom_id: str | None = None,
        on_warning: str = "warn",
        output_path: str | None = None,
        output_format: str = "jsonl",
        output_conn_id: str | None = None,
        log_chars: int = LOG_TEXT_CHARS,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.asset_id = asset_id
        self.url = url
        self.images = images
        self.model_name = model_name
        self.prompt = prompt
        self.analysis_mode = analysis_mode
        self.json_schema = json_schema
        self.segment_definitions = segment_definitions
        self.segment_time_format = segment_time_format
        self.min_segment_duration = min_segment_duration
        self.max_segment_duration = max_segment_duration
        self.start_time = start_time
        self.end_time = end_time
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.custom_id = custom_id
        self.on_warning = one_of("on_warning", on_warning, allowed=ON_WARNING)
        self.output_path = output_path
        self.output_format = one_of("output_format", output_format, allowed=_OUTPUT_FORMATS)
        self.output_conn_id = output_conn_id
        if isinstance(log_chars, bool) or not isinstance(log_chars, int) or log_chars < 0:
            raise ValueError(f"log_chars must be a non-negative integer, got {log_chars!r}")
        self.log_chars = log_chars

    # ------------------------------------------------------------------ the job

    def build_request(self) -> dict[str, Any]:
        """Validate every parameter and return the ``POST /analyze/tasks`` body; no request is made."""
        from airflow_provider_twelvelabs.requests.analyze_async import AnalyzeTaskRequest

        request = AnalyzeTaskRequest.build_from(self)
        self._mode = request.mode
        return request.to_body()

    def prepare_job(self, context: Context) -> None:
        """Validate the rendered parameters and build the request.

        :param context: the task context.
        """
        self._body = self.build_request()
        if not self._body.get("custom_id") and self._job_tag:
            # The tag finds this task again if the create's answer is lost (see find_lost_job).
            self._body["custom_id"] = self._job_tag

    def find_lost_job(self, context: Context, since: Any) -> Any:
        """Find the analyze task an earlier try's create made although its answer was lost.

        Lists the tasks of the same video (``GET /analyze/tasks`` filtered by ``video_url`` or
        ``asset_id``, newest first) created since that create, and takes the one whose ``custom_id``
        is this request's (yours, or the task instance's tag when you set none).

        :param context: the task context.
        :param since: when the lost create was sent, or ``None``.
        """
        custom_id = self._body.get("custom_id")
        if not custom_id or (since is None and custom_id != self._job_tag):
            # Your own custom_id may be reused by other runs: without the create's time, no search.
            return super().find_lost_job(context, since)
        return lost_analyze_task(self.hook, self._body, since)

    def create_job(self, context: Context) -> Any:
        """Create the analyze task.

        :param context: the task context.
        """
        task = self.hook.create_analyze_task(self._body)
        source = self._body.get("video") or {"type": f"{len(self._body.get('image') or [])} images"}
        self.log.info(
            "Created analyze task %s (%s, %s, %s)",
            task.id,
            self._mode,
            self._body.get("model_name") or "default model",
            source.get("type"),
        )
        return task

    # ------------------------------------------------------------------ the result

    def on_resource_ready(self, context: Context, kind: str, resource: dict[str, Any]) -> Any:
        """Read the ready task's result once, check its warning, and deliver it.

        :param context: the task context.
        :param kind: ``analyze_task``.
        :param resource: the task as JSON (without its result).
        """
        task_id = str(resource.get("id"))
        task = read_ready_task(self.hook, task_id, self.log, on_warning=self.on_warning)
        result, warning = task.result, task.warning
        info = {
            "task_id": task_id,
            "custom_id": task.custom_id,
            "finish_reason": result.finish_reason,
            "warning": warning,
            "usage": result.usage,
        }
        from airflow_provider_twelvelabs.requests.analyze_async import AnalyzeTaskRequest

        # After a deferral this is a fresh operator: the rendered parameters say what was asked.
        request = AnalyzeTaskRequest.build_from(self)
        if request.mode == "time_based_metadata":
            return self._deliver_segments(result.data, info)
        if request.json_schema is not None:
            return self._deliver_json(result.data, info)
        return self._deliver_text(result.data, info)

    def _deliver_text(self, text: str, info: dict[str, Any]) -> Any:
        log_text_result(
            self.log,
            f"Analyze task {info['task_id']} wrote its text ({info['finish_reason'] or 'done'})",
            text,
            where=result_location(self.output_path),
            limit=self.log_chars,
        )
        if not self.output_path:
            return text
        from airflow_provider_twelvelabs.results import write_text

        manifest = {**write_text(self.output_path, text, conn_id=self.output_conn_id), **info}
        self.log.info("Wrote the text to %s (%s bytes)", manifest["path"], manifest.get("bytes"))
        return manifest

    def _deliver_json(self, data: str, info: dict[str, Any]) -> Any:
        try:
            document = json.loads(data)
        except ValueError:
            raise TwelveLabsError(
                f"TwelveLabs analyze task {info['task_id']} returned text that is not the JSON its "
                f"json_schema asked for: {data[:200]!r}"
            ) from None
        log_text_result(
            self.log,
            f"Analyze task {info['task_id']} returned JSON",
            document,
            where=result_location(self.output_path),
            limit=self.log_chars,
        )
        if not self.output_path:
            return document
        from airflow_provider_twelvelabs.results import write_json

        manifest = {**write_json(self.output_path, document, conn_id=self.output_conn_id), **info}
        self.log.info("Wrote the JSON to %s", manifest["path"])
        return manifest

    def _deliver_segments(self, data: str, info: dict[str, Any]) -> Any:
        rows = list(segment_rows(data))
        counts: dict[str, int] = {}
        for row in rows:
            counts[row["segment_definition"]] = counts.get(row["segment_definition"], 0) + 1
        self.log.info(
            "Analyze task %s found %d segments: %s",
            info["task_id"],
            len(rows),
            ", ".join(f"{name}: {n}" for name, n in counts.items()) or "none",
        )
        for row in rows[:5]:
            self.log.info("  %s", json.dumps(row, ensure_ascii=False)[:300])
        if not self.output_path:
            return rows
        from airflow_provider_twelvelabs.results import write_records

        written = write_records(
            self.output_path, rows, format=self.output_format, conn_id=self.output_conn_id
        )
        manifest = {**written, "segments": counts, **info}
        self.log.info("Wrote %s segments to %s (%s)", f"{len(rows):,}", manifest["path"], self.output_format)
        return manifest

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the asset or URL (without its query) in; ``output_path`` out.

        :param task_instance: the finished task instance.
        """
        from airflow_provider_twelvelabs.lineage import (
            asset_dataset,
            file_dataset,
            operator_lineage,
        )

        asset = asset_dataset(self, self.asset_id)
        return operator_lineage([asset, file_dataset(self.url)], [file_dataset(self.output_path)])


# --------------------------------------------------------------------------- batches


class TwelveLabsCreateAnalyzeBatchOperator(TwelveLabsJobOperator):
    """Analyze many videos with analyze batches: split, submit (at most 5 active), wait, write results.

    ``items`` are asset ids or ``{asset_id, custom_id?, prompt?, duration?}`` (typically the mapped
    output of an upload or index step); every item gets the same ``prompt`` / ``json_schema`` /
    ``segment_definitions`` unless it carries its own prompt. More than ``max_items_per_batch``
    items (1,000) or ``max_hours_per_batch`` known content hours (2,000; give ``duration`` per item
    for this to apply) make several batches, of which at most ``max_active_batches`` (the account's
    limit, 5) are active at once: the next is submitted when one finishes. Every wait defers to the
    triggerer (or polls on the worker).

    The results are streamed, item by item, to ``output_path`` as JSON Lines or Parquet: one row per
    item with ``custom_id``, ``asset_id``, ``batch_id``, ``task_id``, ``status``, ``result`` (the text,
    or the JSON text of a schema or of segments), ``finish_reason``, ``error_code`` and
    ``error_message``. The task returns a manifest (path, counts per status, batch ids, the failed
    items' ``custom_id``).

    Partial failures: more than ``max_failed_items`` failed or canceled items (or a larger share than
    ``max_failed_fraction``) fail the Airflow task, after the results are written. Items that
    succeeded are never analysed again: with ``skip_done`` (default) the rows of an earlier run's
    ``output_path`` with status ``ready`` are kept and their items are not submitted, so a re-run (or
    the retry of a failed task) submits only what failed or is new.

    Retry-safe: the batch ids are kept in the task state store as they are created (Airflow 3.3+);
    a retry reconnects to them. ``on_kill`` and a wait timeout cancel the batches still running.

    :param items: the videos (templated).
    :param prompt: the prompt of every item (general mode) (templated).
    :param model_name: ``pegasus1.5`` (the only model batches take).
    :param analysis_mode: ``general`` or ``time_based_metadata``; inferred when ``None``.
    :param json_schema: a JSON schema for every answer (templated).
    :param segment_definitions: the segments to extract from every video (templated).
    :param segment_time_format: ``seconds``, ``hh:mm:ss`` or ``hh:mm:ss.fff``.
    :param min_segment_duration: the shortest segment, in seconds.
    :param max_segment_duration: the longest segment, in seconds.
    :param start_time: start of each analysed window, in seconds.
    :param end_time: end of each analysed window, in seconds.
    :param temperature: 0 to 1.
    :param max_tokens: the longest answer per item, in tokens.
    :param output_path: where the results go: a local path or an object-storage URI (templated).
    :param output_format: ``jsonl`` (default) or ``parquet``.
    :param output_conn_id: an Airflow connection for the object store of ``output_path``.
    :param max_failed_items: the most failed items the task tolerates (default 0).
    :param max_failed_fraction: the largest share of failed items tolerated (0 to 1), if set.
    :param skip_done: keep the ``ready`` rows of an earlier run's ``output_path`` and skip their items.
    :param max_items_per_batch: items per batch (1 to 1,000).
    :param max_hours_per_batch: known content hours per batch (up to 2,000).
    :param max_active_batches: batches of this task active at once (1 to 5).
    :param kwargs: :class:`~airflow_provider_twelvelabs.operators.base.TwelveLabsBaseOperator` arguments.
    """

    template_fields: Sequence[str] = (
        "items",
        "prompt",
        "json_schema",
        "segment_definitions",
        "output_path",
    )
    template_fields_renderers = {"json_schema": "json", "segment_definitions": "json", "items": "json"}
    ui_color = "#f3e8fd"
    job_kind = "analyze_batch"
    external_id_key = xcom_keys.ANALYZE_BATCH_IDS

    def __init__(
        self,
        *,
        items: Any,
        output_path: str,
        prompt: str | None = None,
        model_name: str = "pegasus1.5",
        analysis_mode: str | None = None,
        json_schema: Any = None,
        segment_definitions: Any = None,
        segment_time_format: str | None = None,
        min_segment_duration: float | None = None,
        max_segment_duration: float | None = None,
        start_time: float | None = None,
        end_time: float | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        output_format: str = "jsonl",
        output_conn_id: str | None = None,
        max_failed_items: int = 0,
        max_failed_fraction: float | None = None,
        skip_done: bool = True,
        max_items_per_batch: int = MAX_BATCH_ITEMS,
        max_hours_per_batch: float = MAX_BATCH_HOURS,
        max_active_batches: int = MAX_ACTIVE_BATCHES,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.items = items
        self.output_path = output_path
        self.prompt = prompt
        self.model_name = model_name
        self.analysis_mode = analysis_mode
        self.json_schema = json_schema
        self.segment_definitions = segment_definitions
        self.segment_time_format = segment_time_format
        self.min_segment_duration = min_segment_duration
        self.max_segment_duration = max_segment_duration
        self.start_time = start_time
        self.end_time = end_time
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.output_format = one_of("output_format", output_format, allowed=_OUTPUT_FORMATS)
        self.output_conn_id = output_conn_id
        self.max_failed_items: int = _required(integer("max_failed_items", max_failed_items, minimum=0))
        self.max_failed_fraction = number("max_failed_fraction", max_failed_fraction, minimum=0, maximum=1)
        self.skip_done = optional_bool("skip_done", skip_done) is not False
        self.max_items_per_batch: int = _required(
            integer("max_items_per_batch", max_items_per_batch, minimum=1, maximum=MAX_BATCH_ITEMS)
        )
        self.max_hours_per_batch: float = _required(
            number("max_hours_per_batch", max_hours_per_batch, minimum=1, maximum=MAX_BATCH_HOURS)
        )
        self.max_active_batches: int = _required(
            integer("max_active_batches", max_active_batches, minimum=1, maximum=MAX_ACTIVE_BATCHES)
        )
        self._batch_ids: list[str] = []
        self._statuses: dict[str, str] = {}

    # ------------------------------------------------------------------ the plan

    @cached_property
    def plan(self) -> _BatchPlan:
        """The rendered request, the items already done, and the batches to submit (deterministic)."""
        from airflow_provider_twelvelabs.requests.analyze_async import AnalyzeBatchRequest

        output = require_str("output_path", self.output_path)
        request = AnalyzeBatchRequest.build_from(self)
        done = self._done_rows(output) if self.skip_done else {}
        todo = [item for item in request.items if item["custom_id"] not in done]
        chunks = request.chunks(todo, max_items=self.max_items_per_batch, max_hours=self.max_hours_per_batch)
        return _BatchPlan(request=request, done=done, chunks=chunks)

    def _done_rows(self, output: str) -> dict[str, dict[str, Any]]:
        from airflow_provider_twelvelabs.results import read_records, storage_path

        if not storage_path(output, conn_id=self.output_conn_id).exists():
            return {}
        rows = read_records(output, format=self.output_format, conn_id=self.output_conn_id)
        return {str(r["custom_id"]): r for r in rows if r.get("status") == "ready" and r.get("custom_id")}

    def prepare_job(self, context: Context) -> None:
        """Validate the rendered parameters and plan the batches (reads an earlier output, if any).

        :param context: the task context.
        """
        plan = self.plan
        total = len(plan.request.items)
        self.log.info(
            "%d items: %d already done in %s, %d to analyse in %d batch(es)",
            total,
            len(plan.done),
            self.output_path,
            total - len(plan.done),
            len(plan.chunks),
        )

    def execute(self, context: Context) -> Any:
        """Plan, then submit (or reconnect to) the batches, wait, and write the results.

        :param context: the task context.
        """
        self._batch_ids, self._statuses = [], {}
        if not self.plan.chunks:
            self.prepare_job(context)
            return self._deliver(context)
        return super().execute(context)

    # ------------------------------------------------------------------ the job: several batches

    def submit_job(self, context: Context) -> Any:
        """Submit the first batches (up to the active limit); return their ids.

        :param context: the task context.
        """
        self._submit_more(context)
        return list(self._batch_ids)

    def get_job_status(self, external_id: Any, context: Context) -> str:
        """``completed`` when every batch was submitted and is final, ``processing`` otherwise.

        :param external_id: the batch ids an earlier try kept.
        :param context: the task context.
        """
        from airflow_provider_twelvelabs.exceptions import TwelveLabsNotFoundError

        self._batch_ids = [str(i) for i in external_id or []]
        try:
            self._refresh(everything=True)
        except TwelveLabsNotFoundError:
            self.log.info("A batch of an earlier try no longer exists: submitting afresh")
            self._batch_ids, self._statuses = [], {}
            return "not_found"
        if len(self._batch_ids) == len(self.plan.chunks) and not self._pending():
            return "completed"
        return "processing"

    def poll_until_complete(self, external_id: Any, context: Context) -> Any:
        """Wait for the batches in turn, submitting the next as slots free up; then write the results.

        :param external_id: the batch ids.
        :param context: the task context.
        """
        self._batch_ids = [str(i) for i in external_id or []]
        self._job_result = self._advance(context)
        return self._job_result

    def resume_state(self) -> dict[str, Any]:
        """The batch ids, carried through the deferral (Airflow before 3.3 has no task state store)."""
        return {"batch_ids": list(self._batch_ids)}

    def restore_state(self, state: dict[str, Any]) -> None:
        """Take the batch ids back after a deferral.

        :param state: the deferral's keyword arguments.
        """
        self._batch_ids = [str(i) for i in state.get("batch_ids") or []]

    def on_resource_ready(self, context: Context, kind: str, resource: dict[str, Any]) -> Any:
        """A batch finished: submit what the free slot allows, wait for the next, or write the results.

        :param context: the task context.
        :param kind: ``analyze_batch``.
        :param resource: the finished batch, as JSON.
        """
        batch_id = str(resource.get("id"))
        self._statuses[batch_id] = str(resource.get("status"))
        if batch_id not in self._batch_ids:
            self._batch_ids = [*self._batch_ids, batch_id]
        self.log.info(
            "Batch %s is %s: %s ready, %s failed, %s canceled",
            batch_id,
            resource.get("status"),
            resource.get("ready_items"),
            resource.get("failed_items"),
            resource.get("canceled_items"),
        )
        return self._advance(context)

    def _pending(self) -> list[str]:
        return [i for i in self._batch_ids if not is_terminal(self._statuses.get(i))]

    def _refresh(self, *, everything: bool = False) -> None:
        for batch_id in self._batch_ids:
            if everything or not is_terminal(self._statuses.get(batch_id)):
                self._statuses[batch_id] = str(self.hook.get_analyze_batch(batch_id).status)

    def _submit_more(self, context: Context) -> None:
        from airflow_provider_twelvelabs.exceptions import TwelveLabsRateLimitError

        plan = self.plan
        body = plan.request.to_body()
        while len(self._batch_ids) < len(plan.chunks) and len(self._pending()) < self.max_active_batches:
            chunk = plan.chunks[len(self._batch_ids)]
            batch = self._lost_batch(context, chunk)
            if batch is None:
                create = partial(
                    self.hook.create_analyze_batch,
                    model_name=body["model_name"],
                    analysis_mode=body["analysis_mode"],
                    defaults=body["defaults"] or None,
                    requests=[plan.request.request_item(item) for item in chunk],
                )
                try:
                    batch = self.noted_create(context, create)
                except TwelveLabsRateLimitError as exc:
                    if exc.code != "too_many_active_batches" or not self._pending():
                        raise
                    self.log.info("The account has no free batch slot: waiting for a batch to finish")
                    break
            else:
                self.forget(context, CREATE_PENDING_KEY)
            self._batch_ids.append(batch.id)
            self._statuses[batch.id] = str(batch.status)
            # Kept at once: a worker killed between two creates must not submit the first again.
            self.remember(context, self.external_id_key, list(self._batch_ids))
            push_xcom(context, **{xcom_keys.ANALYZE_BATCH_IDS: list(self._batch_ids)})
            self.log.info(
                "Created analyze batch %s (%d of %d): %d items",
                batch.id,
                len(self._batch_ids),
                len(plan.chunks),
                len(chunk),
            )

    def _lost_batch(self, context: Context, chunk: list[dict[str, Any]]) -> Any:
        """The batch an earlier try created for ``chunk`` although the create's answer was lost, if any.

        Batches carry no free-form field and are listed without their items, but their items are
        analyze tasks that know their batch: the tasks of the chunk's first video (``GET
        /analyze/tasks?asset_id=``, newest first) created since the lost create, with the first
        item's ``custom_id`` and a ``batch_id``, name the batch; it is taken when it holds as many
        items as the chunk and was not canceled.
        """
        lost, since = self.lost_create_since(context)
        if not lost or since is None or not chunk:
            # Without the create's time (no task state store), an older run's batch could match.
            return None
        first = chunk[0]
        for task in self.hook.list_analyze_tasks(asset_id=first["asset_id"]):
            if not created_since(task.created_at, since):
                break
            if not task.batch_id or task.custom_id != first["custom_id"]:
                continue
            batch = self.hook.get_analyze_batch(task.batch_id)
            if batch.total_items == len(chunk) and not is_failed(batch.status):
                self.log.info(
                    "Found analyze batch %s, made by an earlier try's create whose answer was lost: "
                    "reconnecting to it, nothing created",
                    batch.id,
                )
                return batch
        return None

    def _advance(self, context: Context) -> Any:
        self._refresh()
        self._submit_more(context)
        pending = self._pending()
        if pending:
            return self.wait_for_resource(context, kind=self.job_kind, resource_id=pending[0])
        if len(self._batch_ids) < len(self.plan.chunks):
            raise TwelveLabsError(
                f"Could not submit analyze batch {len(self._batch_ids) + 1} of {len(self.plan.chunks)}: "
                "the account's active batches are all taken by other work"
            )
        return self._deliver(context)

    # ------------------------------------------------------------------ cancelling

    def on_kill(self) -> None:
        """Cancel this task's batches that are still running (best effort)."""
        for batch_id in self._pending():
            self.cancel_job(batch_id, "the task was killed")

    def on_wait_timeout(self, kind: str, resource_id: str, index_id: str | None) -> None:
        """Cancel this task's batches that are still running when a wait timed out.

        :param kind: the resource kind.
        :param resource_id: the batch whose wait timed out.
        :param index_id: unused.
        """
        for batch_id in dict.fromkeys([resource_id, *self._pending()]):
            self.cancel_job(batch_id, "its wait timed out")

    # ------------------------------------------------------------------ results

    def _rows(self) -> Iterator[dict[str, Any]]:
        plan = self.plan
        yield from plan.done.values()
        assets = {item["custom_id"]: item["asset_id"] for item in plan.request.items}
        for batch_id, chunk in zip(self._batch_ids, plan.chunks, strict=False):
            missing = dict.fromkeys(str(item.get("custom_id")) for item in chunk)
            for item in self.hook.stream_analyze_batch_results(batch_id):
                missing.pop(str(item.custom_id), None)
                data = item.data
                error = item.error
                yield {
                    "custom_id": item.custom_id,
                    "asset_id": assets.get(item.custom_id or ""),
                    "batch_id": batch_id,
                    "task_id": item.task_id,
                    "status": item.status,
                    "result": data.data if data is not None else None,
                    "finish_reason": data.finish_reason if data is not None else None,
                    "error_code": error.code if error is not None else None,
                    "error_message": error.message if error is not None else None,
                }
            if missing:
                # A results stream cut at a line boundary still parses: never deliver it as complete.
                raise TwelveLabsError(
                    f"The results of analyze batch {batch_id} lack {len(missing)} of its {len(chunk)} items "
                    f"({', '.join(list(missing)[:5])}): the answer was cut short; retry the task"
                )

    def _deliver(self, context: Context) -> dict[str, Any]:
        from airflow_provider_twelvelabs.results import write_records

        statuses: dict[str, int] = {}
        failed: list[dict[str, Any]] = []

        def counted() -> Iterator[dict[str, Any]]:
            for row in self._rows():
                status = str(row.get("status"))
                statuses[status] = statuses.get(status, 0) + 1
                if status != "ready":
                    failed.append(row)
                yield row

        schema = None
        if self.output_format == "parquet":
            from airflow_provider_twelvelabs.results import import_pyarrow

            pa, _ = import_pyarrow()
            schema = pa.schema([(name, pa.string()) for name in BATCH_RESULT_COLUMNS])
        written = write_records(
            self.output_path, counted(), format=self.output_format, schema=schema, conn_id=self.output_conn_id
        )
        total = sum(statuses.values())
        manifest = {
            **written,
            "statuses": statuses,
            "reused": len(self.plan.done),
            "batch_ids": list(self._batch_ids),
            "failed_custom_ids": [row.get("custom_id") for row in failed[:100]],
        }
        self.log.info(
            "Wrote %s analyze results to %s (%s): %s",
            f"{total:,}",
            manifest["path"],
            self.output_format,
            ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items())) or "nothing to do",
        )
        for row in failed[:20]:
            self.log.warning(
                "Item %s (asset %s) is %s: %s %s",
                row.get("custom_id"),
                row.get("asset_id"),
                row.get("status"),
                row.get("error_code") or "",
                row.get("error_message") or "",
            )
        too_many = len(failed) > self.max_failed_items
        if self.max_failed_fraction is not None:
            too_many = total > 0 and len(failed) / total > self.max_failed_fraction
        if too_many:
            # The results are written; the next run submits only the items that did not succeed.
            self.forget(context, self.external_id_key)
            raise TwelveLabsError(
                f"{len(failed)} of {total} analyze batch items did not succeed (tolerated: "
                f"{self._tolerance()}); results in {manifest['path']}, failed items: "
                f"{', '.join(str(c) for c in manifest['failed_custom_ids'][:10])}"
            )
        return manifest

    def _tolerance(self) -> str:
        if self.max_failed_fraction is not None:
            return f"{self.max_failed_fraction:.0%}"
        return str(self.max_failed_items)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the items' assets in (all of them, done earlier or now); ``output_path`` out.

        :param task_instance: the finished task instance.
        """
        from airflow_provider_twelvelabs.lineage import (
            asset_dataset,
            file_dataset,
            operator_lineage,
        )
        from airflow_provider_twelvelabs.requests.analyze_async import check_batch_items

        items = check_batch_items("items", self.items)
        inputs = [asset_dataset(self, i.get("asset_id")) for i in items]
        return operator_lineage(inputs, [file_dataset(self.output_path)])


def _required(value: _T | None) -> _T:
    if value is None:
        raise ValueError("a batch limit or tolerance must be given, not None")
    return value


def lost_analyze_task(hook: Any, body: Mapping[str, Any], since: Any) -> Any:
    """Find the analyze task a create of ``body`` made since ``since``, whose answer was lost.

    Lists the tasks of the same video (``GET /analyze/tasks`` filtered by ``video_url`` or
    ``asset_id``, newest first) back to ``since`` and returns the one, not in a batch and not
    failed, whose ``custom_id`` is the body's; ``None`` when there is none.

    :param hook: the TwelveLabs hook.
    :param body: the create's body, with its ``custom_id``.
    :param since: when the create was sent (worker clock), or ``None``.
    """
    video = body.get("video") or {}
    filters: dict[str, Any] = {}
    if video.get("type") == "url":
        filters = {"video_url": video.get("url")}
    elif video.get("type") == "asset_id":
        filters = {"asset_id": video.get("asset_id")}
    for task in hook.list_analyze_tasks(**filters):
        if not created_since(task.created_at, since):
            break
        if task.custom_id == body.get("custom_id") and not task.batch_id and not is_failed(task.status):
            return task
    return None


@dataclass(frozen=True)
class _BatchPlan:
    request: AnalyzeBatchRequest
    done: dict[str, dict[str, Any]]
    chunks: list[list[dict[str, Any]]]
