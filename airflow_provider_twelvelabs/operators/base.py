"""The bases of the TwelveLabs operators: the hook, one way to wait, and one job model.

* :class:`TwelveLabsBaseOperator`: a cached hook and the wait for a remote resource (deferred to
  the trigger, or polled on the worker with the same poll policy), with the one validator of
  trigger events (:func:`~airflow_provider_twelvelabs.waiting.resolve_event`).
* :class:`TwelveLabsJobOperator`: every operator that creates remote work and waits for it
  (uploads, indexing, embedding tasks, analyze tasks and batches). It follows Airflow's
  ``ResumableJobMixin`` contract (through common-compat, which carries a stand-in to Airflow
  versions before 3.3): the remote id is kept in the task state store before the wait, a retry
  reconnects to it, a finished job's result is returned without submitting again, and only a
  failed job is submitted afresh.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from airflow.providers.common.compat.sdk import BaseOperator, ResumableJobMixin, conf

from airflow_provider_twelvelabs import xcom_keys
from airflow_provider_twelvelabs.exceptions import (
    TwelveLabsAPIError,
    TwelveLabsError,
    TwelveLabsMalformedResponseError,
    TwelveLabsNotFoundError,
    TwelveLabsWaitTimeoutError,
)
from airflow_provider_twelvelabs.statuses import is_failed, is_terminal
from airflow_provider_twelvelabs.waiting import (
    PollPolicy,
    ResourceKind,
    get_kind,
    resolve_event,
    resource_status,
    wait_for_resource_sync,
)

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_twelvelabs.hooks.twelvelabs import TwelveLabsHook
    from airflow_provider_twelvelabs.triggers.twelvelabs import TwelveLabsResourceTrigger

__all__ = [
    "CREATE_PENDING_KEY",
    "DEFAULT_WAIT_TIMEOUT",
    "JOB_TAG_KEY",
    "TwelveLabsBaseOperator",
    "TwelveLabsJobOperator",
    "create_note",
    "create_note_time",
    "created_since",
    "default_poll_interval",
    "default_poll_max_interval",
    "job_tag",
    "make_trigger",
    "push_xcom",
]

#: How long an operator waits for a resource by default: indexing long videos takes a while.
DEFAULT_WAIT_TIMEOUT = timedelta(hours=6)

# Statuses get_job_status reports for a remembered job that cannot be reconnected to.
_GONE = "not_found"
_NOT_REUSABLE = "not_reusable"
_UNSET: Any = object()
_T = TypeVar("_T")

#: Task-state key of a create whose answer has not been seen yet: ``{"at": <UTC time>, "try": n}``.
CREATE_PENDING_KEY = "twelvelabs_create_pending"
#: The ``user_metadata`` key of a create's tag (:func:`job_tag`; analyze tasks take it as ``custom_id``).
JOB_TAG_KEY = "twelvelabs_job"
#: How much earlier than the worker's clock a remote resource may say it was created (clock skew).
CLOCK_SKEW = timedelta(minutes=2)


def job_tag(context: Any) -> str | None:
    """The tag of one task instance, the same on every try: a hash of its DAG, task, run and map index.

    Creates carry it where the API has a free-form field (an asset's ``user_metadata``, an analyze
    task's ``custom_id``), so that a retry can find what an earlier try created even when the
    create's answer was lost. ``None`` without a task instance.

    :param context: the task context.
    """
    ti = context.get("ti") if isinstance(context, Mapping) else None
    if ti is None:
        return None
    parts = [getattr(ti, name, None) for name in ("dag_id", "task_id", "run_id", "map_index")]
    if parts[0] is None or parts[2] is None:
        return None
    digest = hashlib.sha256("\x00".join(str(p) for p in parts).encode()).hexdigest()
    return f"af-{digest[:24]}"


def created_since(created_at: str | None, since: datetime | None) -> bool:
    """Whether a resource created at ``created_at`` (RFC 3339) may come from a create at ``since``.

    ``since`` is the worker's clock; :data:`CLOCK_SKEW` of slack is allowed. An unreadable or missing
    time counts as a match (the other checks decide), and so does ``since=None``.

    :param created_at: the resource's ``created_at``.
    :param since: when the create was sent, or ``None``.
    """
    if since is None or not created_at:
        return True
    try:
        moment = datetime.fromisoformat(str(created_at).replace("Z", "+00:00"))
    except ValueError:
        return True
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment >= since - CLOCK_SKEW


def _try_number(context: Any) -> int:
    ti = context.get("ti") if isinstance(context, Mapping) else None
    number = getattr(ti, "try_number", None)
    return number if isinstance(number, int) and not isinstance(number, bool) else 1


def create_note(context: Any, **extra: Any) -> dict[str, Any]:
    """The task-state value kept under :data:`CREATE_PENDING_KEY` just before a create is sent.

    :param context: the task context (for the try number).
    :param extra: more to keep with it (the create-index operator keeps the index name).
    """
    return {"at": datetime.now(timezone.utc).isoformat(), "try": _try_number(context), **extra}


def create_note_time(note: Mapping[str, Any]) -> datetime | None:
    """When the create of a :func:`create_note` was sent (UTC), or ``None`` if it does not say."""
    try:
        at = datetime.fromisoformat(str(note.get("at")))
    except ValueError:
        return None
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)


def _seconds(value: float | timedelta | None, name: str) -> float | None:
    if value is None:
        return None
    seconds = value.total_seconds() if isinstance(value, timedelta) else value
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or seconds <= 0:
        raise ValueError(f"{name} must be a positive number of seconds or a timedelta, got {value!r}")
    return float(seconds)


def default_poll_interval() -> float:
    """The first wait between polls when an operator or sensor sets none: ``[twelvelabs] poll_interval``.

    Tests against the emulator set it low (``AIRFLOW__TWELVELABS__POLL_INTERVAL=0.1``) so that DAGs
    written with production defaults do not wait on production intervals.
    """
    return conf.getfloat("twelvelabs", "poll_interval", fallback=2.0)


def default_poll_max_interval() -> float:
    """The longest wait between polls when not set: ``[twelvelabs] poll_max_interval`` (60 s)."""
    return max(default_poll_interval(), conf.getfloat("twelvelabs", "poll_max_interval", fallback=60.0))


def make_trigger(
    kind: str,
    resource_id: str,
    index_id: str | None,
    *,
    twelvelabs_conn_id: str,
    deadline: float | None,
    policy: PollPolicy,
) -> TwelveLabsResourceTrigger:
    """Return the trigger an operator or a sensor defers to: ids, a deadline and the poll policy only.

    :param kind: the resource kind.
    :param resource_id: the resource id.
    :param index_id: the index, for indexed assets.
    :param twelvelabs_conn_id: the TwelveLabs connection id (looked up in the triggerer).
    :param deadline: absolute epoch seconds, or ``None`` for no deadline.
    :param policy: the poll schedule.
    """
    from airflow_provider_twelvelabs.triggers.twelvelabs import TwelveLabsResourceTrigger

    return TwelveLabsResourceTrigger(
        kind=kind,
        resource_id=resource_id,
        index_id=index_id,
        twelvelabs_conn_id=twelvelabs_conn_id,
        deadline=deadline,
        poll_interval=policy.interval,
        poll_backoff=policy.backoff,
        poll_max_interval=policy.max_interval,
    )


def push_xcom(context: Context, **values: Any) -> None:
    """Push ``values`` to XCom under their keys, when the context has a task instance.

    :param context: the task context.
    :param values: XCom key to JSON-native value; ``None`` values are skipped.
    """
    ti = context.get("ti") if isinstance(context, Mapping) else None
    if ti is None:
        return
    for key, value in values.items():
        if value is not None:
            ti.xcom_push(key=key, value=value)


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
    :param poll_interval: the first wait between two status polls, in seconds (default: the
        ``[twelvelabs] poll_interval`` setting, 2 s).
    :param poll_backoff: the factor applied to each further wait.
    :param poll_max_interval: the longest wait between two polls, in seconds (default: the
        ``[twelvelabs] poll_max_interval`` setting, 60 s).
    """

    ui_color = "#d9f2ef"

    def __init__(
        self,
        *,
        twelvelabs_conn_id: str = "twelvelabs_default",
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        wait_timeout: float | timedelta | None = DEFAULT_WAIT_TIMEOUT,
        poll_interval: float | None = None,
        poll_backoff: float = 1.5,
        poll_max_interval: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.twelvelabs_conn_id = twelvelabs_conn_id
        self.deferrable = deferrable
        self.wait_timeout = _seconds(wait_timeout, "wait_timeout")
        self.poll_policy = PollPolicy(
            interval=default_poll_interval() if poll_interval is None else poll_interval,
            backoff=poll_backoff,
            max_interval=default_poll_max_interval() if poll_max_interval is None else poll_max_interval,
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

        The ids go to XCom first (the kind's key, and ``index_id``), so links and downstream tasks
        can use them while the task is deferred. When ``resource`` is already terminal, no poll and
        no deferral happen.

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
        self.push_ids(context, spec, resource_id, index_id)
        final = spec.outcome(resource, resource_id) if resource is not None else None
        if final is not None:
            return self.resource_ready(context, kind, final)
        deadline = time.time() + self.wait_timeout if self.wait_timeout else None
        if self.deferrable:
            self.defer(
                trigger=make_trigger(
                    kind,
                    resource_id,
                    index_id,
                    twelvelabs_conn_id=self.twelvelabs_conn_id,
                    deadline=deadline,
                    policy=self.poll_policy,
                ),
                method_name="execute_complete",
                kwargs=self.resume_state() or None,
            )
        try:
            done = wait_for_resource_sync(
                self.hook,
                kind,
                resource_id,
                index_id,
                deadline=deadline,
                policy=self.poll_policy,
                logger=self.log,
            )
        except TwelveLabsWaitTimeoutError:
            self.on_wait_timeout(kind, resource_id, index_id)
            raise
        return self.resource_ready(context, kind, spec.to_json(done))

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None, **state: Any) -> Any:
        """Resume after the trigger fired: check its event and finish the task.

        :param context: the task context.
        :param event: the trigger's event.
        :param state: what :meth:`resume_state` returned when the task deferred.
        :raises TwelveLabsError: on a missing or unknown event, or an ``error`` event.
        :raises TwelveLabsResourceFailedError: on a ``failed`` or ``canceled`` event, with the
            API's reason.
        :raises TwelveLabsWaitTimeoutError: on a ``timeout`` event, naming the resource.
        """
        self.restore_state(state)
        try:
            resource = resolve_event(event, waiter=f"Task {self.task_id}")
        except TwelveLabsWaitTimeoutError as timeout:
            index_id = event.get("index_id") if isinstance(event, Mapping) else None
            self.on_wait_timeout(timeout.kind, timeout.resource_id, index_id)
            raise
        assert isinstance(event, Mapping)  # resolve_event raised otherwise
        return self.resource_ready(context, str(event.get("kind")), resource)

    def resume_state(self) -> dict[str, Any]:
        """JSON-native state the task needs after a deferral (kept by Airflow with the deferral).

        Empty by default; an operator waiting for several resources in turn keeps their ids here.
        """
        return {}

    def restore_state(self, state: dict[str, Any]) -> None:
        """Take back what :meth:`resume_state` returned, on the fresh operator that resumes.

        :param state: the deferral's keyword arguments.
        """

    def resource_ready(self, context: Context, kind: str, resource: dict[str, Any]) -> Any:
        """Finish the task with the final resource: :meth:`on_resource_ready`'s value.

        :param context: the task context.
        :param kind: the resource kind that became ready.
        :param resource: the final resource as a JSON-native dict.
        """
        # Read by the OpenLineage facets, which may make no Airflow call (lineage.py).
        self.ready_resource_id = resource.get("id")
        return self.on_resource_ready(context, kind, resource)

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

    def get_openlineage_facets_on_start(self) -> Any:
        """OpenLineage: keep the API's base URL for the completion facets (no dataset yet).

        Runs in the task's own process (also when it resumes after a deferral); the completion
        facets of the operators then make no Airflow call (see :mod:`~airflow_provider_twelvelabs.lineage`).
        """
        from airflow_provider_twelvelabs.lineage import remember_api

        return remember_api(self)

    def on_wait_timeout(self, kind: str, resource_id: str, index_id: str | None) -> None:
        """Called when a wait times out, before the timeout error is raised; nothing by default.

        :param kind: the resource kind.
        :param resource_id: the resource id.
        :param index_id: the index, for indexed assets.
        """

    def push_ids(self, context: Context, spec: ResourceKind, resource_id: str, index_id: str | None) -> None:
        """Push a resource's id (under its kind's key) and its index id to XCom.

        :param context: the task context.
        :param spec: the resource kind.
        :param resource_id: the resource id.
        :param index_id: the index id, if the resource lives in one.
        """
        push_xcom(context, **{spec.xcom_key: resource_id, xcom_keys.INDEX_ID: index_id or None})


class TwelveLabsJobOperator(ResumableJobMixin, TwelveLabsBaseOperator):
    """Base of every operator that creates remote work on TwelveLabs and waits for it.

    A job kind gives a ``job_kind`` (a :data:`~airflow_provider_twelvelabs.waiting.KINDS` entry),
    an ``external_id_key`` (its key in the task state store; never rename it on a deployed
    operator), and implements :meth:`prepare_job` (validate the rendered parameters, build the
    request: no HTTP call), :meth:`create_job` and :meth:`on_resource_ready`; optionally
    :meth:`find_job` (a remote lookup that prevents a duplicate even without the task state store),
    :meth:`find_lost_job` (finds what an earlier try's create made when its answer was lost: every
    create is noted in the task state store before it is sent), :meth:`job_index_id`,
    :meth:`is_reusable` and :meth:`job_xcom`.

    ``execute`` then runs Airflow's resumable-job flow: on Airflow 3.3+ the remote id is stored in
    the task state store right after the create call and before the wait; a retry (also after a
    killed worker) reconnects to an active job, returns a finished job's result without creating
    anything, and creates a new job only when the last one failed, was canceled or is gone. Below
    Airflow 3.3 every try submits (after :meth:`find_job`). The ids are pushed to XCom before the
    wait, which defers or polls as :class:`TwelveLabsBaseOperator` does. ``on_kill`` and a wait
    timeout cancel the remote job where the API can cancel it. The memory is dropped once the task
    succeeded, so a deliberate re-run starts afresh.
    """

    #: The waited resource kind (a key of :data:`~airflow_provider_twelvelabs.waiting.KINDS`).
    job_kind: ClassVar[str] = ""
    #: Other task-state keys the operator writes (checkpoints), dropped with the job's id on success.
    retry_memory_keys: ClassVar[tuple[str, ...]] = ()
    #: Whether to wait for the job to finish (a subclass may make it a parameter).
    wait_for_ready: bool = True

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._job_id: str | None = None
        self._job_resource: Any = None
        self._job_result: Any = _UNSET
        self._job_tag: str | None = None

    @property
    def job_spec(self) -> ResourceKind:
        """The description of the waited resource kind."""
        return get_kind(self.job_kind)

    def execute(self, context: Context) -> Any:
        """Validate the rendered parameters, then submit (or reconnect to) the job and finish it.

        :param context: the task context.
        """
        self._job_id, self._job_resource, self._job_result = None, None, _UNSET
        self._job_tag = job_tag(context)
        self.prepare_job(context)
        return self.execute_resumable(context)

    # ------------------------------------------------------------------ what a job kind provides

    def prepare_job(self, context: Context) -> None:
        """Validate the rendered parameters and build the request; no HTTP call to TwelveLabs.

        :param context: the task context.
        """

    def find_job(self, context: Context) -> Any:
        """Return a usable job that already exists remotely for this request, or ``None``.

        :param context: the task context.
        """
        return None

    def create_job(self, context: Context) -> Any:
        """Create the remote job and return it (a model or a JSON dict with ``id`` and ``status``).

        :param context: the task context.
        """
        raise NotImplementedError

    def find_lost_job(self, context: Context, since: datetime | None) -> Any:
        """Return the job an earlier try's create made although its answer was lost, or ``None``.

        Called on a retry whose earlier try sent a create and never saw its answer (a dropped
        connection, a timeout), before creating again. A job kind that can search the API (a list
        endpoint with filters, the :func:`job_tag` in a free-form field) returns what it finds;
        ``None`` means "searched, nothing there: create". The default cannot search and returns
        ``None`` (a duplicate is possible; the log says so).

        :param context: the task context.
        :param since: when the earlier create was sent (worker clock), or ``None`` when unknown
            (Airflow before 3.3 keeps no task state).
        """
        self.log.warning(
            "An earlier try's create of a %s may have been done without its answer arriving; the API "
            "cannot be searched for it, so a second one may be created",
            self.job_spec.label,
        )
        return None

    def job_index_id(self) -> str | None:
        """The index the job lives in, for kinds that live in one."""
        return None

    def is_reusable(self, resource: Any) -> bool:
        """Whether a remembered job (not failed) may serve this try; ``True`` by default.

        :param resource: the remembered job as the API returned it.
        """
        return True

    def job_xcom(self, resource: Any) -> dict[str, Any]:
        """Extra XCom values pushed with the job's id before the wait; none by default.

        :param resource: the job as last seen.
        """
        return {}

    # ------------------------------------------------------------------ ResumableJobMixin contract

    def submit_job(self, context: Context) -> str:
        """Find a usable job or create one; return its id (kept in the task state store).

        :param context: the task context.
        """
        resource = self.find_job(context)
        if resource is None:
            resource = self.recover_lost_create(context)
        if resource is None:
            # Once the answer arrived, Airflow keeps the id next (a retry reconnects to it from there).
            resource = self.noted_create(context, lambda: self.create_job(context))
        self._job_resource = resource
        job_id = _resource_id(resource)
        if not job_id:
            raise TwelveLabsError(f"TwelveLabs returned a {self.job_spec.label} without an id: {resource!r}")
        self._job_id = job_id
        return job_id

    def lost_create_since(self, context: Context) -> tuple[bool, datetime | None]:
        """Whether an earlier try may have created the job unseen, and when it sent the create.

        With a task state store: a create was noted (:meth:`noted_create`) and its id never kept.
        Without one (Airflow before 3.3): any retry (``try_number > 1``), at an unknown time.

        :param context: the task context.
        """
        store = self._state_store(context)
        if store is None:
            return _try_number(context) > 1, None
        pending = self.recall(context, CREATE_PENDING_KEY)
        if not isinstance(pending, Mapping):
            return False, None
        return True, create_note_time(pending)

    def recover_lost_create(self, context: Context) -> Any:
        """On a retry after a create whose answer was lost, find what it made (:meth:`find_lost_job`).

        :param context: the task context.
        """
        lost, since = self.lost_create_since(context)
        if not lost:
            return None
        found = self.find_lost_job(context, since)
        if found is not None:
            self.log.info(
                "Found %s %s, made by an earlier try's create whose answer was lost: reconnecting to it, "
                "nothing created",
                self.job_spec.label,
                _resource_id(found),
            )
        return found

    def noted_create(self, context: Context, create: Callable[[], _T]) -> _T:
        """Run ``create`` (one create call), noted in the task state store while its answer is awaited.

        The note (:func:`create_note`) is kept before the call, so that a retry looks for what the
        create made if its answer is lost (:meth:`lost_create_since`); it is dropped once the answer
        arrives, and when the API answered with an error (then nothing was created). A malformed
        answer keeps it: the server did answer, so the create may have been done.

        :param context: the task context.
        :param create: the create call.
        """
        self.remember(context, CREATE_PENDING_KEY, create_note(context))
        try:
            created = create()
        except TwelveLabsAPIError as exc:
            if not isinstance(exc, TwelveLabsMalformedResponseError):
                self.forget(context, CREATE_PENDING_KEY)
            raise
        self.forget(context, CREATE_PENDING_KEY)
        return created

    def get_job_status(self, external_id: Any, context: Context) -> str:
        """Read the remembered job's status (``not_found`` when the API no longer has it).

        :param external_id: the remembered job id.
        :param context: the task context.
        """
        job_id = str(external_id)
        try:
            resource = self.job_spec.get(self.hook, job_id, self.job_index_id())
        except TwelveLabsNotFoundError:
            self.log.info("The %s %s of an earlier try no longer exists", self.job_spec.label, job_id)
            return _GONE
        if not is_failed(resource_status(resource)) and not self.is_reusable(resource):
            return _NOT_REUSABLE
        self._job_id, self._job_resource = job_id, resource
        status = resource_status(resource) or "unknown"
        if not is_failed(status):
            self.log.info(
                "Resuming %s %s from an earlier try instead of creating a new one (status %s)",
                self.job_spec.label,
                job_id,
                status,
            )
        return status

    def is_job_active(self, status: str) -> bool:
        """Whether a job in ``status`` is still working (an unknown status counts as working).

        :param status: the job's status.
        """
        return status not in (_GONE, _NOT_REUSABLE) and not is_terminal(status)

    def is_job_succeeded(self, status: str) -> bool:
        """Whether a job in ``status`` finished well.

        :param status: the job's status.
        """
        return is_terminal(status) and not is_failed(status)

    def poll_until_complete(self, external_id: Any, context: Context) -> Any:
        """Push the ids, then wait for the job (deferring or polling) and finish the task.

        Returns the task's result, since a reconnecting retry returns what this returns.

        :param external_id: the job id.
        :param context: the task context.
        """
        job_id = str(external_id)
        self._job_id = job_id
        spec = self.job_spec
        push_xcom(context, **self.job_xcom(self._job_resource))
        if not self.wait_for_ready:
            self.push_ids(context, spec, job_id, self.job_index_id())
            resource = self._job_resource
            data = spec.to_json(resource) if resource is not None else {"id": job_id}
            self._job_result = self.resource_ready(context, spec.name, data)
        else:
            self._job_result = self.wait_for_resource(
                context,
                kind=spec.name,
                resource_id=job_id,
                index_id=self.job_index_id(),
                resource=self._job_resource,
            )
        return self._job_result

    def get_job_result(self, external_id: Any, context: Context) -> Any:
        """Return the task's result, computed by the wait or from the finished job just read.

        For a job an earlier try saw finish, nothing is created and nothing is waited for.

        :param external_id: the job id.
        :param context: the task context.
        """
        if self._job_result is not _UNSET:
            return self._job_result
        self.log.info(
            "The %s %s of an earlier try has finished: using its result", self.job_spec.label, external_id
        )
        return self.poll_until_complete(external_id, context)

    # ------------------------------------------------------------------ finishing, cancelling

    def resource_ready(self, context: Context, kind: str, resource: dict[str, Any]) -> Any:
        """Finish the task, then drop the retry memory so that a deliberate re-run starts afresh.

        :param context: the task context.
        :param kind: the resource kind that became ready.
        :param resource: the final resource as a JSON-native dict.
        """
        result = super().resource_ready(context, kind, resource)
        self.forget(context, self.external_id_key, CREATE_PENDING_KEY, *self.retry_memory_keys)
        return result

    def on_kill(self) -> None:
        """Cancel the remote job, where the API can cancel it (best effort)."""
        if self._job_id:
            self.cancel_job(self._job_id, "the task was killed")

    def on_wait_timeout(self, kind: str, resource_id: str, index_id: str | None) -> None:
        """Cancel the remote job whose wait timed out, where the API can cancel it.

        :param kind: the resource kind.
        :param resource_id: the resource id.
        :param index_id: the index, for indexed assets.
        """
        if kind == self.job_kind:
            self.cancel_job(resource_id, "its wait timed out")

    def cancel_job(self, job_id: str, why: str) -> bool:
        """Cancel a remote job of this operator's kind; ``False`` when the API has no cancel call.

        :param job_id: the job id.
        :param why: why, for the log.
        """
        spec = self.job_spec
        if spec.cancel is None:
            self.log.info("The %s %s keeps running: the API cannot cancel it", spec.label, job_id)
            return False
        try:
            spec.cancel(self.hook, job_id, self.job_index_id())
        except TwelveLabsError as exc:
            self.log.warning("Could not cancel %s %s (%s): %s", spec.label, job_id, why, exc)
            return False
        self.log.info("Canceled %s %s: %s", spec.label, job_id, why)
        return True

    # ------------------------------------------------------------------ task state store

    @staticmethod
    def _state_store(context: Context) -> Any:
        return context.get("task_state_store") if isinstance(context, Mapping) else None

    def recall(self, context: Context, key: str) -> Any:
        """Return what an earlier try of this task kept under ``key`` (a checkpoint), or ``None``.

        :param context: the task context.
        :param key: the memory's key.
        """
        store = self._state_store(context)
        return None if store is None else store.get(key) or None

    def remember(self, context: Context, key: str, value: Any) -> None:
        """Keep a JSON-native ``value`` where a retry of this task finds it (never a secret).

        :param context: the task context.
        :param key: the memory's key (list it in ``retry_memory_keys``).
        :param value: what to remember.
        """
        store = self._state_store(context)
        if store is not None:
            store.set(key, value)

    def forget(self, context: Context, *keys: str) -> None:
        """Drop retry memory (best effort: a failure here must not fail a finished task).

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


def _resource_id(resource: Any) -> str | None:
    if isinstance(resource, Mapping):
        value = resource.get("id") or resource.get("_id")
    else:
        value = getattr(resource, "id", None)
    return str(value) if value else None
