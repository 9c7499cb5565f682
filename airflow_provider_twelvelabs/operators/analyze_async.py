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
from typing import TYPE_CHECKING, Any

from airflow_provider_twelvelabs import xcom_keys
from airflow_provider_twelvelabs.exceptions import TwelveLabsError
from airflow_provider_twelvelabs.operators.base import TwelveLabsJobOperator
from airflow_provider_twelvelabs.requests.analyze_async import AnalyzeTaskRequest
from airflow_provider_twelvelabs.requests.fields import one_of

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

__all__ = ["ON_WARNING", "TwelveLabsCreateAnalyzeTaskOperator", "segment_rows"]

#: What a ``ready`` task with a warning (truncated output, incomplete segments) does to the task.
ON_WARNING = ("warn", "fail")
_OUTPUT_FORMATS = ("jsonl", "parquet")
_ROW_KEYS = ("segment_definition", "start_time", "end_time")


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
    :param custom_id: your id for the task, returned with it (templated).
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
        log_chars: int = 2000,
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
        request = AnalyzeTaskRequest.build_from(self)
        self._mode = request.mode
        return request.to_body()

    def prepare_job(self, context: Context) -> None:
        """Validate the rendered parameters and build the request.

        :param context: the task context.
        """
        self._body = self.build_request()

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
        task = self.hook.get_analyze_task(task_id)
        result = task.result
        if result is None or result.data is None:
            raise TwelveLabsError(f"TwelveLabs analyze task {task_id} is ready but carries no result")
        warning = task.warning
        if warning:
            self.log.warning("Analyze task %s finished with a warning: %s", task_id, warning)
            if self.on_warning == "fail":
                raise TwelveLabsError(
                    f"TwelveLabs analyze task {task_id} finished with a warning "
                    f"(on_warning='fail'): {warning}"
                )
        info = {
            "task_id": task_id,
            "custom_id": task.custom_id,
            "finish_reason": result.finish_reason,
            "warning": warning,
            "usage": result.usage,
        }
        mode = getattr(self, "_mode", None) or (
            "time_based_metadata" if self.segment_definitions else "general"
        )
        if mode == "time_based_metadata":
            return self._deliver_segments(result.data, info)
        if self.json_schema is not None:
            return self._deliver_json(result.data, info)
        return self._deliver_text(result.data, info)

    def _deliver_text(self, text: str, info: dict[str, Any]) -> Any:
        shown = text if len(text) <= self.log_chars else text[: self.log_chars] + " [...]"
        self.log.info(
            "Analyze task %s wrote %s characters (%s):\n%s",
            info["task_id"],
            f"{len(text):,}",
            info["finish_reason"] or "done",
            shown,
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
        shown = json.dumps(document, indent=2, ensure_ascii=False)
        if len(shown) > self.log_chars:
            shown = shown[: self.log_chars] + " [...]"
        self.log.info("Analyze task %s returned JSON:\n%s", info["task_id"], shown)
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
        self.log.info("Wrote %d segments to %s (%s)", len(rows), manifest["path"], self.output_format)
        return manifest
