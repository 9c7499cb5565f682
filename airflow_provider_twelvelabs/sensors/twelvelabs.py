"""Sensors that wait for TwelveLabs resources, in poke mode or deferred to the shared trigger."""

from __future__ import annotations

import time
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import (
    AirflowSensorTimeout,
    AirflowSkipException,
    BaseSensorOperator,
    PokeReturnValue,
    conf,
)

from airflow_provider_twelvelabs.exceptions import TwelveLabsResourceFailedError, TwelveLabsWaitTimeoutError
from airflow_provider_twelvelabs.operators.base import default_poll_interval, make_trigger
from airflow_provider_twelvelabs.requests.fields import number, resource_id
from airflow_provider_twelvelabs.waiting import PollPolicy, ResourceKind, get_kind, resolve_event

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_twelvelabs.hooks.twelvelabs import TwelveLabsHook

__all__ = [
    "TwelveLabsAnalyzeBatchSensor",
    "TwelveLabsAnalyzeTaskSensor",
    "TwelveLabsAssetSensor",
    "TwelveLabsEmbeddingTaskSensor",
    "TwelveLabsIndexedAssetSensor",
    "TwelveLabsIndexingTaskSensor",
    "TwelveLabsResourceSensor",
]


class TwelveLabsResourceSensor(BaseSensorOperator):
    """Wait until a TwelveLabs resource of any kind is final; return it as JSON (to XCom).

    In poke mode each poke retrieves the resource once (``poke_interval``, ``mode`` and
    ``exponential_backoff`` work as on any sensor). With ``deferrable=True`` the sensor checks once
    and then defers to :class:`~airflow_provider_twelvelabs.triggers.twelvelabs.TwelveLabsResourceTrigger`
    with the sensor's ``timeout`` as the trigger's deadline. A resource that ends ``failed`` raises
    :class:`~airflow_provider_twelvelabs.exceptions.TwelveLabsResourceFailedError` with the API's
    reason; with ``soft_fail=True`` the task is skipped instead (as on a timeout).

    :param kind: the resource kind (``asset``, ``indexed_asset``, ``indexing_task``,
        ``embed_v2_task``, ``embed_v1_task``, ``multipart_upload``).
    :param resource_id: the resource id. (templated)
    :param index_id: the index, for indexed assets. (templated)
    :param twelvelabs_conn_id: the TwelveLabs connection id.
    :param deferrable: wait in the triggerer (default: ``[operators] default_deferrable``).
    :param poll_interval: deferrable mode: the trigger's first wait between polls, in seconds
        (default: the ``[twelvelabs] poll_interval`` setting, 2 s).
    :param poll_backoff: deferrable mode: the factor applied to each further wait.
    """

    template_fields: Sequence[str] = ("resource_id", "index_id")
    ui_color = "#d9f2ef"
    #: The attribute holding the (rendered) resource id; subclasses name it after the resource.
    resource_id_attr = "resource_id"

    def __init__(
        self,
        *,
        kind: str,
        resource_id: str,
        index_id: str | None = None,
        twelvelabs_conn_id: str = "twelvelabs_default",
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float | None = None,
        poll_backoff: float = 1.5,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        get_kind(kind)
        self.kind = kind
        setattr(self, self.resource_id_attr, resource_id)
        self.index_id = index_id
        self.twelvelabs_conn_id = twelvelabs_conn_id
        self.deferrable = deferrable
        interval = default_poll_interval() if poll_interval is None else poll_interval
        self.poll_interval = float(number("poll_interval", interval, minimum=0.001) or interval)
        self.poll_backoff = float(number("poll_backoff", poll_backoff, minimum=1.0) or poll_backoff)

    def check_ids(self) -> None:
        """Check the rendered ids before any request, naming the parameter that is wrong."""
        resource_id(self.resource_id_attr, getattr(self, self.resource_id_attr))
        if self.spec.needs_index or self.index_id:
            resource_id("index_id", self.index_id)

    @property
    def waited_id(self) -> str:
        """The (rendered) id of the waited resource."""
        return str(getattr(self, self.resource_id_attr))

    @property
    def spec(self) -> ResourceKind:
        """The description of the waited resource kind."""
        return get_kind(self.kind)

    @cached_property
    def hook(self) -> TwelveLabsHook:
        """The TwelveLabs hook of this sensor."""
        from airflow_provider_twelvelabs.hooks.twelvelabs import TwelveLabsHook

        return TwelveLabsHook(twelvelabs_conn_id=self.twelvelabs_conn_id)

    @property
    def poll_policy(self) -> PollPolicy:
        """The trigger's poll policy: quick first polls, backing off to the sensor's ``poke_interval``."""
        interval = min(self.poll_interval, float(self.poke_interval))
        return PollPolicy(
            interval=interval, backoff=self.poll_backoff, max_interval=max(interval, self.poke_interval)
        )

    def _check(self, resource: Any) -> dict[str, Any] | None:
        """Return the resource JSON when final and successful, ``None`` while not final."""
        spec = self.spec
        self.log.info("TwelveLabs %s %s is %s", spec.label, self.waited_id, spec.status(resource))
        try:
            return spec.outcome(resource, self.waited_id)
        except TwelveLabsResourceFailedError as error:
            if self.soft_fail:
                raise AirflowSkipException(str(error)) from error
            raise

    def _look(self) -> dict[str, Any] | None:
        spec = self.spec
        spec.validate(self.waited_id, self.index_id)
        return self._check(spec.get(self.hook, self.waited_id, self.index_id))

    def poke(self, context: Context) -> bool | PokeReturnValue:
        """Retrieve the resource once; done when it is final.

        :param context: the task context.
        """
        resource = self._look()
        if resource is None:
            return False
        return PokeReturnValue(is_done=True, xcom_value=resource)

    def execute(self, context: Context) -> Any:
        """Poke (poke or reschedule mode), or check once and defer (deferrable mode).

        :param context: the task context.
        """
        self.check_ids()
        if not self.deferrable:
            return super().execute(context)
        resource = self._look()
        if resource is not None:
            return resource
        self.defer(
            trigger=make_trigger(
                self.kind,
                self.waited_id,
                self.index_id,
                twelvelabs_conn_id=self.twelvelabs_conn_id,
                deadline=time.time() + self.timeout,
                policy=self.poll_policy,
            ),
            method_name="execute_complete",
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        """Finish after the trigger fired; ``soft_fail`` turns any failure into a skip.

        The event is checked by the operators' validator; a timeout is a sensor timeout.

        :param context: the task context.
        :param event: the trigger's event.
        """
        try:
            resource = resolve_event(
                event, waiter=f"Sensor {self.task_id}", kind=self.kind, resource_id=self.waited_id
            )
        except TwelveLabsWaitTimeoutError as timeout:
            raise AirflowSensorTimeout(str(timeout)) from timeout
        self.log.info("TwelveLabs %s %s is ready", self.spec.label, self.waited_id)
        return resource


class TwelveLabsAssetSensor(TwelveLabsResourceSensor):
    """Wait until an asset is ``ready`` (or ``failed``).

    :param asset_id: the asset id. (templated)
    :param kwargs: :class:`TwelveLabsResourceSensor` and sensor arguments.
    """

    template_fields: Sequence[str] = ("asset_id",)
    resource_id_attr = "asset_id"

    def __init__(self, *, asset_id: str, **kwargs: Any) -> None:
        super().__init__(kind="asset", resource_id=asset_id, **kwargs)


class TwelveLabsIndexedAssetSensor(TwelveLabsResourceSensor):
    """Wait until an indexed asset is ``ready`` (or ``failed``).

    :param index_id: the index id. (templated)
    :param indexed_asset_id: the indexed asset id. (templated)
    :param kwargs: :class:`TwelveLabsResourceSensor` and sensor arguments.
    """

    template_fields: Sequence[str] = ("index_id", "indexed_asset_id")
    resource_id_attr = "indexed_asset_id"

    def __init__(self, *, index_id: str, indexed_asset_id: str, **kwargs: Any) -> None:
        super().__init__(kind="indexed_asset", resource_id=indexed_asset_id, index_id=index_id, **kwargs)


class TwelveLabsIndexingTaskSensor(TwelveLabsResourceSensor):
    """Wait until a legacy video indexing task (``/tasks``) is ``ready`` (or ``failed``).

    :param indexing_task_id: the indexing task id. (templated)
    :param kwargs: :class:`TwelveLabsResourceSensor` and sensor arguments.
    """

    template_fields: Sequence[str] = ("indexing_task_id", "index_id")
    resource_id_attr = "indexing_task_id"

    def __init__(self, *, indexing_task_id: str, **kwargs: Any) -> None:
        super().__init__(kind="indexing_task", resource_id=indexing_task_id, **kwargs)


class TwelveLabsEmbeddingTaskSensor(TwelveLabsResourceSensor):
    """Wait until an embedding task is ``ready`` (or ``failed``); embed API v2 by default.

    The XCom value is the task without its vectors; read them with the embedding operators.

    :param embedding_task_id: the embedding task id. (templated)
    :param api_version: ``"v2"`` for ``/embed-v2/tasks`` (default) or ``"v1"`` for the deprecated
        video embedding tasks of ``/embed/tasks``.
    :param kwargs: :class:`TwelveLabsResourceSensor` and sensor arguments.
    """

    template_fields: Sequence[str] = ("embedding_task_id",)
    resource_id_attr = "embedding_task_id"

    def __init__(self, *, embedding_task_id: str, api_version: str = "v2", **kwargs: Any) -> None:
        kinds = {"v2": "embed_v2_task", "v1": "embed_v1_task"}
        if api_version not in kinds:
            raise ValueError(f"api_version must be 'v2' or 'v1', got {api_version!r}")
        super().__init__(kind=kinds[api_version], resource_id=embedding_task_id, **kwargs)
        self.api_version = api_version


class TwelveLabsAnalyzeTaskSensor(TwelveLabsResourceSensor):
    """Wait until an asynchronous analyze task is ``ready`` (``failed`` or ``canceled`` fail the sensor).

    The XCom value is the task without its result (read it with ``TwelveLabsHook.get_analyze_task``
    or let :class:`~airflow_provider_twelvelabs.operators.analyze_async.TwelveLabsCreateAnalyzeTaskOperator`
    wait). Deferred waits of many tasks are answered by the list of tasks in progress.

    :param analyze_task_id: the analyze task id. (templated)
    :param kwargs: :class:`TwelveLabsResourceSensor` and sensor arguments.
    """

    template_fields: Sequence[str] = ("analyze_task_id",)
    resource_id_attr = "analyze_task_id"

    def __init__(self, *, analyze_task_id: str, **kwargs: Any) -> None:
        super().__init__(kind="analyze_task", resource_id=analyze_task_id, **kwargs)


class TwelveLabsAnalyzeBatchSensor(TwelveLabsResourceSensor):
    """Wait until an analyze batch is ``completed`` (``canceled`` or ``expired`` fail the sensor).

    ``completed`` means every item ended, not that every item succeeded: the XCom value (the batch
    with its item counts) says how many are ``ready`` and how many failed.

    :param analyze_batch_id: the batch id. (templated)
    :param kwargs: :class:`TwelveLabsResourceSensor` and sensor arguments.
    """

    template_fields: Sequence[str] = ("analyze_batch_id",)
    resource_id_attr = "analyze_batch_id"

    def __init__(self, *, analyze_batch_id: str, **kwargs: Any) -> None:
        super().__init__(kind="analyze_batch", resource_id=analyze_batch_id, **kwargs)
