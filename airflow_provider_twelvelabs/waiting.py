"""How the provider waits for TwelveLabs resources: resource kinds, the poll policy, the sync wait.

Everything slow on the TwelveLabs side (an asset being processed, a video being indexed, an
embedding task) is a resource with a status that ends ``ready``/``completed`` or ``failed``. This
module describes each *kind* of resource once (how to fetch it sync and async through the hook,
how to read its status and failure reason, and which list endpoint can report on many of them at
once), and the adaptive :class:`PollPolicy` shared by the trigger, the sensors and the
non-deferrable operators. :func:`wait_for_resource_sync` is the wait on a worker.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

from airflow_provider_twelvelabs import xcom_keys
from airflow_provider_twelvelabs.exceptions import (
    TwelveLabsError,
    TwelveLabsResourceCanceledError,
    TwelveLabsResourceFailedError,
    TwelveLabsWaitTimeoutError,
)
from airflow_provider_twelvelabs.statuses import is_failed, is_terminal

if TYPE_CHECKING:
    from airflow_provider_twelvelabs.hooks.twelvelabs import TwelveLabsHook
    from airflow_provider_twelvelabs.models import Page

__all__ = [
    "KINDS",
    "ListMode",
    "ListSource",
    "PollPolicy",
    "ResourceKind",
    "failure_reason",
    "get_kind",
    "resolve_event",
    "resource_status",
    "wait_for_resource_sync",
]

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- poll policy


@dataclass(frozen=True)
class PollPolicy:
    """An adaptive poll schedule: quick first polls, then backing off to a cap.

    The n-th wait (0-based) is ``interval * backoff ** n`` seconds, never more than
    ``max_interval``. With the defaults (2 s, x1.5, 60 s) a resource ready after 10 s costs 5 polls,
    one ready after an hour about 65. The policy is JSON-native (:meth:`to_dict`), so it travels in
    trigger kwargs.

    :param interval: the first wait, in seconds.
    :param backoff: the factor applied to each further wait (1 for a fixed interval).
    :param max_interval: the longest wait, in seconds.
    """

    interval: float = 2.0
    backoff: float = 1.5
    max_interval: float = 60.0

    def __post_init__(self) -> None:
        if not (isinstance(self.interval, (int, float)) and self.interval > 0):
            raise ValueError(f"poll interval must be a positive number of seconds, got {self.interval!r}")
        if not (isinstance(self.backoff, (int, float)) and self.backoff >= 1):
            raise ValueError(f"poll backoff must be a number >= 1, got {self.backoff!r}")
        if not (isinstance(self.max_interval, (int, float)) and self.max_interval >= self.interval):
            raise ValueError(
                f"poll max_interval must be a number >= interval ({self.interval}), got {self.max_interval!r}"
            )

    def delay(self, attempt: int) -> float:
        """Return the wait after the ``attempt``-th poll (0 for the wait after the first poll).

        :param attempt: how many waits came before this one.
        """
        if self.backoff == 1 or attempt <= 0:
            return min(self.interval, self.max_interval)
        # Avoid overflow on very long waits: past the cap the exponent no longer matters.
        exponent = min(attempt, math.ceil(math.log(self.max_interval / self.interval, self.backoff)) + 1)
        return float(min(self.max_interval, self.interval * self.backoff**exponent))

    def delays(self) -> Iterator[float]:
        """Yield the successive waits, forever."""
        attempt = 0
        while True:
            yield self.delay(attempt)
            attempt += 1

    def to_dict(self) -> dict[str, float]:
        """Return the policy as JSON-native trigger kwargs (``poll_interval``...)."""
        return {
            "poll_interval": float(self.interval),
            "poll_backoff": float(self.backoff),
            "poll_max_interval": float(self.max_interval),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PollPolicy:
        """Rebuild a policy from :meth:`to_dict` output; missing keys take the defaults.

        :param data: a mapping with ``poll_interval``, ``poll_backoff``, ``poll_max_interval``.
        """
        default = cls()
        return cls(
            interval=float(data.get("poll_interval", default.interval)),
            backoff=float(data.get("poll_backoff", default.backoff)),
            max_interval=float(data.get("poll_max_interval", default.max_interval)),
        )


# --------------------------------------------------------------------------- resource kinds


def resource_status(resource: Any) -> str | None:
    """Return the ``status`` of a model or JSON dict, or ``None`` when it has none.

    :param resource: a model or a JSON dict.
    """
    value = resource.get("status") if isinstance(resource, Mapping) else getattr(resource, "status", None)
    return None if value is None else str(value)


def failure_reason(resource: Any) -> str | None:
    """Return the failure reason the API gave on a failed resource, if any.

    The API puts it in ``error.message`` on assets and embed v2 tasks; other shapes (``error`` as
    text, ``error_message``, ``failure_reason``) are read too, since models keep unknown fields.

    :param resource: a model or a JSON dict.
    """
    data = resource if isinstance(resource, Mapping) else _as_dict(resource)
    error = data.get("error")
    if isinstance(error, Mapping) and error.get("message"):
        return str(error["message"])
    if isinstance(error, str) and error:
        return error
    for key in ("error_message", "failure_reason", "reason"):
        if data.get(key):
            return str(data[key])
    return None


def _as_dict(resource: Any) -> dict[str, Any]:
    dump = getattr(resource, "model_dump", None)
    if callable(dump):
        result: dict[str, Any] = dump(mode="json", exclude_none=True)
        return result
    return {}


class ListMode(str, Enum):
    """How a list endpoint reports on the resources a poller waits for (see :class:`ListSource`)."""

    #: The endpoint filters by resource ids (``GET /assets?asset_ids=``), so a call reports on up
    #: to ``page_limit`` given resources whatever their status.
    IDS = "ids"
    #: The endpoint filters by final status and sorts by ``updated_at``, newest first, so reading
    #: it from the top until already-seen items finds what finished since the last call.
    TERMINAL = "terminal"
    #: The endpoint lists what is still in progress; a waited resource missing from it has
    #: finished (it is then fetched once).
    ACTIVE = "active"


@dataclass(frozen=True)
class ListSource:
    """How a list endpoint can report on many resources of one kind per call.

    :param mode: how the list reports on waited resources (a :class:`ListMode`).
    :param alist: reads one page through the hook's async twin of the list:
        ``(hook, index_id, page, ids) -> Page``.
    :param item_is_final: whether a listed item is the full resource (else it is fetched once).
    :param page_limit: items per page (the API's maximum is 50).
    """

    mode: ListMode
    alist: Callable[[TwelveLabsHook, str | None, int, list[str]], Awaitable[Page[Any]]]
    item_is_final: bool = True
    page_limit: int = 50


@dataclass(frozen=True)
class ResourceKind:
    """One kind of TwelveLabs resource that can be waited for.

    :param name: the kind's name in trigger kwargs and events (``indexed_asset``...).
    :param label: the kind in words, for messages.
    :param fetch: retrieves one resource through a hook method: ``(hook, resource_id, index_id)``.
    :param afetch: the same through the method's async twin (the one description both run).
    :param needs_index: whether the resource lives in an index (``index_id`` required).
    :param list_source: a list endpoint reporting on many resources per call, if there is one.
    :param event_exclude: fields left out of the resource JSON put in events and XCom (vectors).
    :param xcom_key: the XCom key its id is pushed under before a wait (see
        :mod:`~airflow_provider_twelvelabs.xcom_keys`).
    :param cancel: stops the remote work, where the API can: ``(hook, resource_id, index_id)``.
        Operators call it on ``on_kill`` and when their wait times out.
    """

    name: str
    label: str
    fetch: Callable[[TwelveLabsHook, str, str | None], Any]
    afetch: Callable[[TwelveLabsHook, str, str | None], Awaitable[Any]]
    xcom_key: str
    needs_index: bool = False
    list_source: ListSource | None = None
    event_exclude: frozenset[str] = frozenset()
    cancel: Callable[[TwelveLabsHook, str, str | None], Any] | None = None

    def get(self, hook: TwelveLabsHook, resource_id: str, index_id: str | None = None) -> Any:
        """Retrieve one resource on the hook's sync client.

        :param hook: the hook.
        :param resource_id: the resource id.
        :param index_id: the index, for indexed assets.
        """
        return self.fetch(hook, resource_id, index_id)

    async def aget(self, hook: TwelveLabsHook, resource_id: str, index_id: str | None = None) -> Any:
        """Retrieve one resource on the hook's shared async client.

        :param hook: the hook (its ``on_rate_limit`` callback sees the answer's rate-limit headers).
        :param resource_id: the resource id.
        :param index_id: the index, for indexed assets.
        """
        return await self.afetch(hook, resource_id, index_id)

    def status(self, resource: Any) -> str | None:
        """Return the resource's status.

        :param resource: a model or a JSON dict of this kind.
        """
        return resource_status(resource)

    def is_terminal(self, resource: Any) -> bool:
        """Whether the resource reached a final status.

        :param resource: a model or a JSON dict of this kind.
        """
        return is_terminal(self.status(resource))

    def is_failed(self, resource: Any) -> bool:
        """Whether the resource ended in failure (``failed``, ``expired``...).

        :param resource: a model or a JSON dict of this kind.
        """
        return is_failed(self.status(resource))

    def failure_reason(self, resource: Any) -> str | None:
        """Return the API's failure reason, or a description of the final status.

        :param resource: a model or a JSON dict of this kind.
        """
        reason = failure_reason(resource)
        if reason:
            return reason
        status = self.status(resource)
        return f"{self.label} ended with status {status!r}" if status else None

    def outcome(self, resource: Any, resource_id: str) -> dict[str, Any] | None:
        """Return the resource as JSON when it ended well, ``None`` while it is not final.

        The one reading of a final status shared by the operators, the sensors and the trigger
        events: an unknown status is never success.

        :param resource: a model or a JSON dict of this kind.
        :param resource_id: the resource id, for the error message.
        :raises TwelveLabsResourceCanceledError: when the resource was canceled.
        :raises TwelveLabsResourceFailedError: when it ended in failure, with the API's reason.
        """
        if not self.is_terminal(resource):
            return None
        if self.is_failed(resource):
            status = (self.status(resource) or "").lower()
            error = TwelveLabsResourceCanceledError if status in _CANCELED else TwelveLabsResourceFailedError
            raise error(self.name, resource_id, self.failure_reason(resource))
        return self.to_json(resource)

    def to_json(self, resource: Any) -> dict[str, Any]:
        """Return the JSON-native dict of a resource for an event or XCom (vectors left out).

        :param resource: a model or a JSON dict of this kind.
        """
        data = dict(resource) if isinstance(resource, Mapping) else _as_dict(resource)
        if "_id" in data and "id" not in data:
            # A raw API answer: name the id as the models do.
            data["id"] = data.pop("_id")
        return {k: v for k, v in data.items() if k not in self.event_exclude}

    def validate(self, resource_id: str | None, index_id: str | None) -> None:
        """Raise ``ValueError`` when the ids cannot designate a resource of this kind.

        :param resource_id: the resource id.
        :param index_id: the index id.
        """
        if not resource_id or not isinstance(resource_id, str):
            raise ValueError(f"a {self.label} id is required, got {resource_id!r}")
        if self.needs_index and not index_id:
            raise ValueError(f"index_id is required to wait for a {self.label}")


def _need_index(index_id: str | None) -> str:
    if not index_id:
        raise ValueError("index_id is required for an indexed asset")
    return index_id


_TERMINAL = ["ready", "failed"]
_ACTIVE_TASK = ("queued", "pending", "processing")
_ACTIVE_BATCH = ("pending", "processing", "canceling")


async def _active_analyze_tasks(hook: TwelveLabsHook, _index: str | None, page: int, _ids: list[str]) -> Any:
    """Page ``page`` of the analyze tasks in progress: the three in-progress statuses merged."""
    from airflow_provider_twelvelabs.models import Page, PageInfo

    pages = [await hook.alist_analyze_tasks_page(status=s, page=page, page_limit=50) for s in _ACTIVE_TASK]
    total = max((p.page_info.total_page or 1) if p.page_info else 1 for p in pages)
    return Page(
        data=[item for p in pages for item in p.data or []], page_info=PageInfo(page=page, total_page=total)
    )


_CANCELED = frozenset({"canceled", "cancelled"})

KINDS: dict[str, ResourceKind] = {
    kind.name: kind
    for kind in (
        ResourceKind(
            name="asset",
            xcom_key=xcom_keys.ASSET_ID,
            label="asset",
            fetch=lambda hook, rid, _: hook.get_asset(rid),
            afetch=lambda hook, rid, _: hook.aget_asset(rid),
            list_source=ListSource(
                mode=ListMode.IDS,
                alist=lambda hook, _, page, ids: hook.alist_assets_page(asset_ids=ids, page=1, page_limit=50),
            ),
        ),
        ResourceKind(
            name="indexed_asset",
            xcom_key=xcom_keys.INDEXED_ASSET_ID,
            label="indexed asset",
            fetch=lambda hook, rid, index_id: hook.get_indexed_asset(_need_index(index_id), rid),
            afetch=lambda hook, rid, index_id: hook.aget_indexed_asset(_need_index(index_id), rid),
            needs_index=True,
            list_source=ListSource(
                mode=ListMode.TERMINAL,
                alist=lambda hook, index_id, page, _: hook.alist_indexed_assets_page(
                    _need_index(index_id),
                    status=_TERMINAL,
                    sort_by="updated_at",
                    sort_option="desc",
                    page=page,
                    page_limit=50,
                ),
                # The list leaves out user metadata and the HLS block: the final one is fetched once.
                item_is_final=False,
            ),
        ),
        ResourceKind(
            name="indexing_task",
            xcom_key=xcom_keys.INDEXING_TASK_ID,
            label="indexing task",
            fetch=lambda hook, rid, _: hook.get_indexing_task(rid),
            afetch=lambda hook, rid, _: hook.aget_indexing_task(rid),
            list_source=ListSource(
                mode=ListMode.TERMINAL,
                alist=lambda hook, index_id, page, _: hook.alist_indexing_tasks_page(
                    index_id=index_id,
                    status=_TERMINAL,
                    sort_by="updated_at",
                    sort_option="desc",
                    page=page,
                    page_limit=50,
                ),
            ),
        ),
        ResourceKind(
            name="embed_v2_task",
            xcom_key=xcom_keys.EMBED_V2_TASK_ID,
            label="embedding task",
            # ``data`` (the vectors) is null until the task is ready, so polling the task itself
            # downloads them at most once; the poll drops them as they stream in (a four-hour
            # video is 35 MB of JSON) and the operator reads them once, after the wait.
            fetch=lambda hook, rid, _: hook.get_embedding_task_status(rid),
            afetch=lambda hook, rid, _: hook.aget_embedding_task_status(rid),
            # The list filters by one status and sorts by creation only: read what is still
            # processing, and fetch each task that left that list once.
            list_source=ListSource(
                mode=ListMode.ACTIVE,
                alist=lambda hook, _, page, __: hook.alist_embedding_tasks_page(
                    status="processing", page=page, page_limit=50
                ),
            ),
            event_exclude=frozenset({"data"}),
        ),
        ResourceKind(
            name="embed_v1_task",
            xcom_key=xcom_keys.EMBED_V1_TASK_ID,
            label="video embedding task",
            fetch=lambda hook, rid, _: hook.get_video_embedding_task_status(rid),
            afetch=lambda hook, rid, _: hook.aget_video_embedding_task_status(rid),
        ),
        ResourceKind(
            name="analyze_task",
            label="analyze task",
            fetch=lambda hook, rid, _: hook.get_analyze_task(rid),
            afetch=lambda hook, rid, _: hook.aget_analyze_task(rid),
            xcom_key=xcom_keys.ANALYZE_TASK_ID,
            # The list filters by one status and sorts by creation: read the three in-progress
            # statuses, and fetch each waited task that left them once.
            list_source=ListSource(mode=ListMode.ACTIVE, alist=_active_analyze_tasks, item_is_final=False),
            # The result (up to ~98k tokens of text) is read once by the operator, not carried in
            # the trigger event.
            event_exclude=frozenset({"result"}),
            cancel=lambda hook, rid, _: hook.cancel_analyze_task(rid),
        ),
        ResourceKind(
            name="analyze_batch",
            label="analyze batch",
            fetch=lambda hook, rid, _: hook.get_analyze_batch(rid),
            afetch=lambda hook, rid, _: hook.aget_analyze_batch(rid),
            xcom_key=xcom_keys.ANALYZE_BATCH_ID,
            list_source=ListSource(
                mode=ListMode.ACTIVE,
                alist=lambda hook, _, page, __: hook.alist_analyze_batches_page(
                    status=list(_ACTIVE_BATCH), page=page, page_limit=50
                ),
                item_is_final=False,
            ),
            event_exclude=frozenset({"items"}),
            cancel=lambda hook, rid, _: hook.cancel_analyze_batch(rid),
        ),
        ResourceKind(
            name="multipart_upload",
            xcom_key=xcom_keys.MULTIPART_UPLOAD_ID,
            label="multipart upload",
            fetch=lambda hook, rid, _: hook.get_multipart_upload_status(rid, page=1, page_limit=1),
            afetch=lambda hook, rid, _: hook.aget_multipart_upload_status(rid, page=1, page_limit=1),
            event_exclude=frozenset({"uploaded_chunks"}),
        ),
    )
}


def get_kind(name: str) -> ResourceKind:
    """Return the :class:`ResourceKind` called ``name``.

    :param name: one of :data:`KINDS`.
    :raises ValueError: for an unknown kind, naming the known ones.
    """
    try:
        return KINDS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown TwelveLabs resource kind {name!r}; expected one of {sorted(KINDS)}"
        ) from None


# --------------------------------------------------------------------------- sync wait


def wait_for_resource_sync(
    hook: TwelveLabsHook,
    kind: str,
    resource_id: str,
    index_id: str | None = None,
    *,
    deadline: float | None = None,
    policy: PollPolicy | None = None,
    logger: Any = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
) -> Any:
    """Poll a resource on the worker until it reaches a terminal status, and return it.

    Transient errors are retried by the hook itself; status changes are logged.

    :param hook: the hook to poll with.
    :param kind: the resource kind (see :data:`KINDS`).
    :param resource_id: the resource id.
    :param index_id: the index, for indexed assets.
    :param deadline: absolute epoch seconds after which to give up; ``None`` waits forever.
    :param policy: the poll schedule; :class:`PollPolicy` defaults when ``None``.
    :param logger: where progress goes (anything with ``info``); this module's logger when ``None``.
    :param sleep: the sleep function (tests pass a fake).
    :param clock: the wall clock (tests pass a fake).
    :return: the final resource model (status ``ready`` or ``completed``).
    :raises TwelveLabsResourceFailedError: when the resource ends ``failed`` (or ``expired``;
        :class:`TwelveLabsResourceCanceledError` when ``canceled``).
    :raises TwelveLabsWaitTimeoutError: when the deadline passes first.
    """
    spec = get_kind(kind)
    spec.validate(resource_id, index_id)
    policy = policy or PollPolicy()
    out = logger or log
    delays = policy.delays()
    last_status: str | None = None
    started = clock()
    while True:
        resource = spec.get(hook, resource_id, index_id)
        status = spec.status(resource)
        if status != last_status:
            out.info(
                "TwelveLabs %s %s is %s (after %.0f s)", spec.label, resource_id, status, clock() - started
            )
            last_status = status
        if spec.outcome(resource, resource_id) is not None:
            return resource
        wait = next(delays)
        if deadline is not None:
            left = deadline - clock()
            if left <= 0:
                raise TwelveLabsWaitTimeoutError(kind, resource_id, last_status)
            wait = min(wait, left)
        sleep(wait)


# --------------------------------------------------------------------------- trigger events


def resolve_event(event: Any, *, waiter: str, kind: str | None = None, resource_id: str | None = None) -> Any:
    """Check a trigger event and return the final resource as JSON, or raise what went wrong.

    The one validator of :class:`~airflow_provider_twelvelabs.triggers.twelvelabs.TwelveLabsResourceTrigger`
    events, shared by the operators and the sensors. Only a ``success`` event whose resource ended
    well is success; every other event raises an error that names the remote resource.

    :param event: the event the task resumed with.
    :param waiter: who resumed (``Task x``, ``Sensor y``), for the message of a missing event.
    :param kind: the kind the caller waited for, when the event does not say it.
    :param resource_id: the id the caller waited for, when the event does not say it.
    :raises TwelveLabsError: on a missing event, an unknown status, an ``error`` event, or a
        ``success`` event without a final resource.
    :raises TwelveLabsResourceFailedError: on a ``failed`` event (``TwelveLabsResourceCanceledError``
        on a ``canceled`` one), with the API's reason.
    :raises TwelveLabsWaitTimeoutError: on a ``timeout`` event.
    """
    if not isinstance(event, Mapping) or "status" not in event:
        where = f" for TwelveLabs {kind} {resource_id}" if resource_id else ""
        raise TwelveLabsError(
            f"{waiter} resumed without a TwelveLabs trigger event{where} (got {event!r}); "
            "the wait cannot be confirmed."
        )
    status = event["status"]
    kind = str(event.get("kind") or kind or "resource")
    resource_id = str(event.get("resource_id") or resource_id or "<unknown>")
    resource = event.get("resource")
    if status == "success":
        if not isinstance(resource, Mapping):
            raise TwelveLabsError(f"The TwelveLabs success event for {kind} {resource_id} has no resource")
        spec = KINDS.get(kind)
        if spec is None:
            raise TwelveLabsError(f"The TwelveLabs success event names an unknown kind {kind!r}")
        final = spec.outcome(resource, resource_id)
        if final is None:
            raise TwelveLabsError(
                f"The TwelveLabs success event for {kind} {resource_id} carries status "
                f"{spec.status(resource)!r}, which is not a final status"
            )
        return final
    if status in ("failed", "canceled"):
        state = resource_status(resource) if isinstance(resource, Mapping) else None
        canceled = status == "canceled" or (state or "").lower() in _CANCELED
        error = TwelveLabsResourceCanceledError if canceled else TwelveLabsResourceFailedError
        raise error(kind, resource_id, event.get("message"))
    if status == "timeout":
        raise TwelveLabsWaitTimeoutError(kind, resource_id, event.get("last_status"))
    if status == "error":
        message = event.get("message") or "unknown error"
        raise TwelveLabsError(f"Waiting for TwelveLabs {kind} {resource_id} failed: {message}")
    raise TwelveLabsError(f"Unknown TwelveLabs trigger event status {status!r} for {kind} {resource_id}")
