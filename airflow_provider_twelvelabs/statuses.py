"""Which resource statuses are final, and which of those are failures (no models needed).

Operator, sensor and trigger modules need these when a DAG file is parsed; the pydantic models of
API objects (:mod:`~airflow_provider_twelvelabs.models`, which re-exports both functions) load only
when a task talks to the API.
"""

from __future__ import annotations

__all__ = ["is_failed", "is_terminal"]

# "error" and "complete" are the terminal values of the HLS and thumbnail sub-statuses; every
# failed status must also be terminal, or a poller would wait for a failure forever.
_FAILED = frozenset({"failed", "expired", "canceled", "cancelled", "error"})
_TERMINAL = frozenset({"ready", "completed", "complete"}) | _FAILED


def is_terminal(status: str | None) -> bool:
    """Whether a resource status is final (``ready``, ``failed``, ``completed``, ``expired``...).

    :param status: the status string the API returned.
    """
    return status is not None and str(status).lower() in _TERMINAL


def is_failed(status: str | None) -> bool:
    """Whether a resource status is a final failure.

    :param status: the status string the API returned.
    """
    return status is not None and str(status).lower() in _FAILED
