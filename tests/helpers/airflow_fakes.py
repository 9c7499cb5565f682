"""The parts of Airflow's task context the operators use, for tests that call ``execute`` directly."""

from __future__ import annotations

import json
from typing import Any


class RecordingTI:
    """A task instance's XCom (XCom is cleared between tries, as in Airflow 3).

    ``pushed`` holds the last value per key, ``pushes`` every push in order.
    """

    #: As on a real task instance: the mixin of resumable jobs reads it for its metrics.
    stats_tags: dict[str, str] = {}
    task_id = "t"
    #: The task instance's identity, the same on every try (a retry sets ``try_number``).
    dag_id = "dag"
    run_id = "manual__2026-12-02T00:00:00+00:00"
    map_index = -1
    try_number = 1

    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}
        self.pushes: list[tuple[str, Any]] = []

    def xcom_push(self, key: str, value: Any) -> None:
        """Keep ``value`` as XCom would: JSON-native (anything else fails here, as in Airflow)."""
        value = json.loads(json.dumps(value))
        self.pushed[key] = value
        self.pushes.append((key, value))

    def xcom_pull(self, task_ids: str | None = None, key: str = "return_value", **_: Any) -> Any:
        """Return what this try pushed under ``key`` (``None`` for another task's XCom)."""
        if task_ids not in (None, self.task_id):
            return None
        return self.pushed.get(key)


class DiesBeforeWaiting(RecordingTI):
    """A try whose worker dies right after the remote job was created (when its ids reach XCom)."""

    def xcom_push(self, key: str, value: Any) -> None:
        """Die as a SIGKILLed worker would, before anything is pushed."""
        raise KeyboardInterrupt("worker killed")


class StateStore:
    """Airflow's task state store as the operators use it: it outlives a try."""

    def __init__(self, values: dict[str, Any] | None = None) -> None:
        self.values: dict[str, Any] = dict(values or {})

    def get(self, key: str, default: Any = None) -> Any:
        """Return the value kept under ``key``."""
        return self.values.get(key, default)

    def set(self, key: str, value: Any) -> None:
        """Keep a JSON-native ``value`` under ``key``."""
        self.values[key] = json.loads(json.dumps(value))

    def delete(self, key: str) -> None:
        """Drop ``key``."""
        self.values.pop(key, None)


def task_context(
    store: StateStore | None = None, ti: RecordingTI | None = None, *, try_number: int = 1
) -> dict[str, Any]:
    """A context with a task instance (of try ``try_number``) and a task state store."""
    ti = ti or RecordingTI()
    ti.try_number = try_number
    return {"ti": ti, "task_state_store": store if store is not None else StateStore()}
