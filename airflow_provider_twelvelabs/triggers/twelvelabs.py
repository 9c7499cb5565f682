"""The trigger that waits for any TwelveLabs resource to reach a final status."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_twelvelabs.waiting import PollPolicy, get_kind

__all__ = ["TwelveLabsResourceTrigger"]

_CLASSPATH = "airflow_provider_twelvelabs.triggers.twelvelabs.TwelveLabsResourceTrigger"
#: How long the last look at a resource may take when the deadline has passed.
_LAST_LOOK_SECONDS = 15.0


class TwelveLabsResourceTrigger(BaseTrigger):
    """Wait, in the triggerer, until a TwelveLabs resource is final; fire exactly one event.

    Works for every resource kind: ``asset``, ``indexed_asset``, ``indexing_task``,
    ``embed_v2_task``, ``embed_v1_task`` and ``multipart_upload``. Its kwargs are JSON-native ids,
    an absolute deadline and the poll policy, never credentials: the connection is looked up in
    the triggerer, asynchronously. Triggers of one connection share the polling work (one poller
    per kind and index asks a list endpoint about many resources per call where the API has one),
    one HTTP client and one rate-limit budget; see :mod:`~airflow_provider_twelvelabs.triggers.poller`.

    The event is one of:

    * ``{"status": "success", "kind", "resource_id", "index_id", "resource": {...}}``
    * ``{"status": "failed", ..., "message": <the API's reason>, "resource": {...}}``
    * ``{"status": "timeout", ..., "message", "last_status"}``
    * ``{"status": "error", ..., "message"}`` (not found, auth, or too many transient errors)

    :param kind: the resource kind.
    :param resource_id: the resource id.
    :param index_id: the index, required for indexed assets.
    :param twelvelabs_conn_id: the TwelveLabs connection id.
    :param deadline: absolute UTC epoch seconds after which a ``timeout`` event fires (it survives
        a triggerer restart); ``None`` waits forever.
    :param poll_interval: the first wait between two polls, in seconds.
    :param poll_backoff: the factor applied to each further wait.
    :param poll_max_interval: the longest wait between two polls, in seconds.
    :param max_consecutive_errors: transient errors in a row (5xx, dropped connections) tolerated
        before an ``error`` event; 429s never count.
    :param shared: share the polling with the other triggers of the connection (``False`` polls
        this resource on its own, still through the shared client and budget).
    """

    def __init__(
        self,
        *,
        kind: str,
        resource_id: str,
        index_id: str | None = None,
        twelvelabs_conn_id: str = "twelvelabs_default",
        deadline: float | None = None,
        poll_interval: float = 2.0,
        poll_backoff: float = 1.5,
        poll_max_interval: float = 60.0,
        max_consecutive_errors: int = 5,
        shared: bool = True,
    ) -> None:
        super().__init__()
        get_kind(kind).validate(resource_id, index_id)
        self.kind = kind
        self.resource_id = resource_id
        self.index_id = index_id
        self.twelvelabs_conn_id = twelvelabs_conn_id
        self.deadline = None if deadline is None else float(deadline)
        self.policy = PollPolicy(interval=poll_interval, backoff=poll_backoff, max_interval=poll_max_interval)
        self.max_consecutive_errors = int(max_consecutive_errors)
        self.shared = bool(shared)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Return the class path and the JSON-native kwargs that rebuild this trigger."""
        return (
            _CLASSPATH,
            {
                "kind": self.kind,
                "resource_id": self.resource_id,
                "index_id": self.index_id,
                "twelvelabs_conn_id": self.twelvelabs_conn_id,
                "deadline": self.deadline,
                **self.policy.to_dict(),
                "max_consecutive_errors": self.max_consecutive_errors,
                "shared": self.shared,
            },
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TwelveLabsResourceTrigger):
            return NotImplemented
        return self.serialize() == other.serialize()

    def __hash__(self) -> int:
        return hash(repr(self.serialize()))

    def _event(self, status: str, **fields: Any) -> TriggerEvent:
        return TriggerEvent(
            {
                "status": status,
                "kind": self.kind,
                "resource_id": self.resource_id,
                "index_id": self.index_id,
                **fields,
            }
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Wait for the resource through the shared poller and yield one event."""
        # Imported in a thread the first time (the hook, httpx, pydantic models...): an import on
        # the triggerer's event loop would hold up every other trigger.
        if "airflow_provider_twelvelabs.triggers.poller" not in sys.modules:
            await asyncio.to_thread(importlib.import_module, "airflow_provider_twelvelabs.triggers.poller")
        from airflow_provider_twelvelabs.triggers.poller import get_poller

        label = get_kind(self.kind).label
        poller = get_poller(
            self.twelvelabs_conn_id, self.kind, self.index_id, private_key=None if self.shared else id(self)
        )
        waiter = poller.register(self.resource_id, self.policy, self.max_consecutive_errors)
        self.log.info("Waiting for TwelveLabs %s %s", label, self.resource_id)
        try:
            timeout = None if self.deadline is None else max(0.0, self.deadline - time.time())
            done, _ = await asyncio.wait({waiter.future}, timeout=timeout)
            if not done:
                # One last look, so the event reports the status at the deadline (or the result,
                # if it just finished).
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(poller.refresh(self.resource_id), _LAST_LOOK_SECONDS)
            if waiter.future.done() and not waiter.future.cancelled():
                outcome = dict(waiter.future.result())
                status = outcome.pop("status")
                self.log.info("TwelveLabs %s %s: %s", label, self.resource_id, status)
                event = self._event(status, **outcome)
            else:
                last_status = poller.last_status(self.resource_id)
                self.log.info("Timed out waiting for TwelveLabs %s %s", label, self.resource_id)
                event = self._event(
                    "timeout",
                    message=f"TwelveLabs {label} {self.resource_id} was not final by the deadline",
                    last_status=last_status,
                )
        finally:
            poller.unregister(waiter)
        yield event
