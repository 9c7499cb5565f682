"""Limits of the TwelveLabs API that operators need at import time, without the request models.

Operator modules are imported on every DAG parse; the request models (pydantic classes) are built
only when a task runs, so the numbers their signatures need live here.
"""

from __future__ import annotations

__all__ = ["MAX_ACTIVE_BATCHES", "MAX_BATCH_HOURS", "MAX_BATCH_ITEMS"]

#: At most this many requests in one analyze batch.
MAX_BATCH_ITEMS = 1000
#: At most this many content hours in one analyze batch.
MAX_BATCH_HOURS = 2000.0
#: At most this many analyze batches active at once per account.
MAX_ACTIVE_BATCHES = 5
