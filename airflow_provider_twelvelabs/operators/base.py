"""The base of every TwelveLabs operator: the hook, and one way to wait for a remote resource."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import BaseOperator, conf

from airflow_provider_twelvelabs.exceptions import (
    TwelveLabsError,
    TwelveLabsResourceFailedError,
    TwelveLabsWaitTimeoutError,
)
from airflow_provider_twelvelabs.waiting import PollPolicy, get_kind, wait_for_resource_sync

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_twelvelabs.hooks.twelvelabs import TwelveLabsHook
    from airflow_provider_twelvelabs.triggers.twelvelabs import TwelveLabsResourceTrigger

__all__ = ["DEFAULT_WAIT_TIMEOUT", "TwelveLabsBaseOperator"]

#: How long an operator waits for a resource by default: indexing long videos takes a while.
DEFAULT_WAIT_TIMEOUT = timedelta(hours=6)


def _seconds(value: float | timedelta | None, name: str) -> float | None:
    if value is None:
        return None
    seconds = value.total_seconds() if isinstance(value, timedelta) else value
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or seconds <= 0:
        raise ValueError(f"{name} must be a positive number of seconds or a timedelta, got {value!r}")
    return float(seconds)


class TwelveLabsBaseOperator(BaseOperator):
    """Base class of TwelveLabs operators: a cached hook and the wait for a remote resource.

    A subclass calls the API through :attr:`hook`, then :meth:`wait_for_resource` for anything
    asynchronous on the TwelveLabs side. With ``deferrable=True`` the task defers to
    :class:`~airflow_provider_twelvelabs.triggers.twelvelabs.TwelveLabsResourceTrigger` and frees
    its worker slot; otherwise it polls on the worker with the same poll policy. Either way,
    :meth:`on_resource_ready` receives the final resource as a JSON dict, and its return value is
    the task's result. Failures raise
    :class:`~airflow_provider_twelvelabs.exceptions.TwelveLabsResourceFailedError` with the API's
    reason; a timeout raises
    :class:`~airflow_provider_twelvelabs.exceptions.TwelveLabsWaitTimeoutError` naming the id.

    :param twelvelabs_conn_id: the TwelveLabs connection id.
    :param deferrable: wait in the triggerer instead of on the worker (default: the
        ``[operators] default_deferrable`` setting).
    :param wait_timeout: the longest wait for one resource (seconds or a timedelta).
    :param poll_interval: the first wait between two status polls, in seconds.
    :param poll_backoff: the factor applied to each further wait.
    :param poll_max_interval: the longest wait between two polls, in seconds.
    """

    ui_color = "#d9f2ef"

    def __init__(
        self,
        *,
        twelvelabs_conn_id: str = "twelvelabs_default",
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        wait_timeout: float | timedelta | None = DEFAULT_WAIT_TIMEOUT,
        poll_interval: float = 2.0,
        poll_backoff: float = 1.5,
        poll_max_interval: float = 60.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.twelvelabs_conn_id = twelvelabs_conn_id
        self.deferrable = deferrable
        self.wait_timeout = _seconds(wait_timeout, "wait_timeout")
        self.poll_policy = PollPolicy(
            interval=poll_interval, backoff=poll_backoff, max_interval=poll_max_interval
        )

    @cached_property
    def hook(self) -> TwelveLabsHook:
        """The TwelveLabs hook of this task (one per task run, its HTTP client reused)."""
        from airflow_provider_twelvelabs.hooks.twelvelabs import TwelveLabsHook

        return TwelveLabsHook(twelvelabs_conn_id=self.twelvelabs_conn_id)

    # ------------------------------------------------------------------ waiting

    def wait_for_resource(
        self,
        context: Context,
        *,
        kind: str,
        resource_id: str,
        index_id: str | None = None,
        resource: Any = None,
    ) -> Any:
        """Wait until a resource is terminal, then return :meth:`on_resource_ready`'s value.

        The ids go to XCom first (keys ``<kind>_id`` and ``index_id``), so links and downstream
        tasks can use them while the task is deferred. When ``resource`` is already terminal, no
        poll and no deferral happen.

        :param context: the task context.
        :param kind: the resource kind: ``asset``, ``indexed_asset``, ``indexing_task``,
            ``embed_v2_task``, ``embed_v1_task`` or ``multipart_upload``.
        :param resource_id: the resource id.
        :param index_id: the index, required for indexed assets.
        :param resource: the resource as last seen (a model or JSON dict), if the caller has it.
        :raises TaskDeferred: in deferrable mode, while the resource is not terminal.
        :raises TwelveLabsResourceFailedError: when the resource ends ``failed``.
        :raises TwelveLabsWaitTimeoutError: when ``wait_timeout`` passes first.
        """
        spec = get_kind(kind)
        spec.validate(resource_id, index_id)
        self._push_ids(context, kind, resource_id, index_id)
        if resource is not None and spec.is_terminal(resource):
            if spec.is_failed(resource):
                raise TwelveLabsResourceFailedError(kind, resource_id, spec.failure_reason(resource))
            return self.on_resource_ready(context, kind, spec.to_json(resource))
        deadline = time.time() + self.wait_timeout if self.wait_timeout else None
        if self.deferrable:
            self.defer(
                trigger=self.build_trigger(kind, resource_id, index_id, deadline),
                method_name="execute_complete",
            )
        final = wait_for_resource_sync(
            self.hook,
            kind,
            resource_id,
            index_id,
            deadline=deadline,
            policy=self.poll_policy,
            logger=self.log,
        )
        return self.on_resource_ready(context, kind, spec.to_json(final))

    def build_trigger(
        self, kind: str, resource_id: str, index_id: str | None, deadline: float | None
    ) -> TwelveLabsResourceTrigger:
        """Return the trigger this operator defers to.

        :param kind: the resource kind.
        :param resource_id: the resource id.
        :param index_id: the index, for indexed assets.
        :param deadline: absolute epoch seconds, or ``None`` for no deadline.
        """
        from airflow_provider_twelvelabs.triggers.twelvelabs import TwelveLabsResourceTrigger

        return TwelveLabsResourceTrigger(
            kind=kind,
            resource_id=resource_id,
            index_id=index_id,
            twelvelabs_conn_id=self.twelvelabs_conn_id,
            deadline=deadline,
            poll_interval=self.poll_policy.interval,
            poll_backoff=self.poll_policy.backoff,
            poll_max_interval=self.poll_policy.max_interval,
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        """Resume after the trigger fired: check its event and finish the task.

        :param context: the task context.
        :param event: the trigger's event.
        :raises TwelveLabsError: on a missing or unknown event, or an ``error`` event.
        :raises TwelveLabsResourceFailedError: on a ``failed`` event, with the API's reason.
        :raises TwelveLabsWaitTimeoutError: on a ``timeout`` event, naming the resource.
        """
        if not isinstance(event, Mapping) or "status" not in event:
            raise TwelveLabsError(
                f"Task {self.task_id} resumed without a TwelveLabs trigger event (got {event!r}); "
                "the wait cannot be confirmed."
            )
        status = event["status"]
        kind = str(event.get("kind") or "resource")
        resource_id = str(event.get("resource_id") or "<unknown>")
        if status == "success":
            resource = event.get("resource")
            if not isinstance(resource, Mapping):
                raise TwelveLabsError(
                    f"The TwelveLabs success event for {kind} {resource_id} has no resource"
                )
            return self.on_resource_ready(context, kind, dict(resource))
        if status == "failed":
            raise TwelveLabsResourceFailedError(kind, resource_id, event.get("message"))
        if status == "timeout":
            raise TwelveLabsWaitTimeoutError(kind, resource_id, event.get("last_status"))
        if status == "error":
            message = event.get("message") or "unknown error"
            raise TwelveLabsError(f"Waiting for TwelveLabs {kind} {resource_id} failed: {message}")
        raise TwelveLabsError(f"Unknown TwelveLabs trigger event status {status!r} for {kind} {resource_id}")

    def on_resource_ready(self, context: Context, kind: str, resource: dict[str, Any]) -> Any:
        """Finish the task once the waited resource is ready; the return value is the task's result.

        Called in both modes, with the final resource as JSON (vectors left out). Subclasses
        override it to return a small value (an id, a manifest) or to wait for the next resource.
        The default returns the resource dict.

        :param context: the task context.
        :param kind: the resource kind that became ready.
        :param resource: the final resource as a JSON-native dict.
        """
        return resource

    def _push_ids(self, context: Context, kind: str, resource_id: str, index_id: str | None) -> None:
        ti = context.get("ti") if isinstance(context, Mapping) else None
        if ti is None:
            return
        ti.xcom_push(key=f"{kind}_id", value=resource_id)
        if index_id:
            ti.xcom_push(key="index_id", value=index_id)

    # ------------------------------------------------------------------ retry memory

    # XCom is cleared when a new try starts, so what one try created (a remote task id, an upload
    # checkpoint) is kept in Airflow's task state store (Airflow 3.3+), which outlives a try. On
    # older Airflow there is no store and each try starts afresh.

    @staticmethod
    def _state_store(context: Context) -> Any:
        return context.get("task_state_store") if isinstance(context, Mapping) else None

    def recall(self, context: Context, key: str) -> Any:
        """Return what an earlier try of this task remembered under ``key``, or ``None``.

        :param context: the task context.
        :param key: the memory's key.
        """
        store = self._state_store(context)
        if store is None:
            return None
        try:
            return store.get(key) or None
        except Exception:
            self.log.warning("Could not read the task state store; a retry may start afresh")
            return None

    def remember(self, context: Context, key: str, value: Any) -> None:
        """Keep a JSON-native ``value`` where a retry of this task finds it (never a secret).

        :param context: the task context.
        :param key: the memory's key.
        :param value: what to remember.
        """
        store = self._state_store(context)
        if store is None:
            return
        try:
            store.set(key, value)
        except Exception:
            self.log.warning("Could not write the task state store; a retry may start afresh")

    def forget(self, context: Context, *keys: str) -> None:
        """Drop the retry memory once the task succeeded, so that a deliberate re-run starts afresh.

        :param context: the task context.
        :param keys: the keys to drop.
        """
        store = self._state_store(context)
        if store is None:
            return
        for key in keys:
            try:
                store.delete(key)
            except Exception:
                self.log.debug("Could not clear %s from the task state store", key)
