"""The Airflow release the tests run on, and skips for the features that need a newer one.

Each skip names the release that brings the feature and what happens below it; the table of
features by Airflow version is docs/compatibility.md.
"""

from __future__ import annotations

import pytest
from airflow import __version__ as AIRFLOW_VERSION_STRING
from packaging.version import Version

AIRFLOW_VERSION = Version(Version(AIRFLOW_VERSION_STRING).base_version)
AIRFLOW_V_3_3_PLUS = Version("3.3") <= AIRFLOW_VERSION

#: Retries that reconnect to the job of an earlier try (Airflow 3.3's task state store).
needs_task_state_store = pytest.mark.skipif(
    not AIRFLOW_V_3_3_PLUS,
    reason=(
        f"needs Airflow 3.3+ (the task state store behind ResumableJobMixin); on Airflow "
        f"{AIRFLOW_VERSION_STRING} a retry submits a new job (after the operator's remote lookup, "
        "where it has one): docs/compatibility.md"
    ),
)

#: The connection form declared in the provider's metadata (`conn-fields`, `ui-field-behaviour`).
needs_declared_connection_form = pytest.mark.skipif(
    not AIRFLOW_V_3_3_PLUS,
    reason=(
        f"needs Airflow 3.3+ (connection forms declared in provider metadata); Airflow "
        f"{AIRFLOW_VERSION_STRING} reads only the hook's get_ui_field_behaviour, and only with "
        "flask-appbuilder installed: docs/compatibility.md"
    ),
)

#: Tests of what the provider does instead on Airflow below 3.3.
below_3_3_only = pytest.mark.skipif(
    AIRFLOW_V_3_3_PLUS,
    reason=f"documents the behaviour below Airflow 3.3; this is Airflow {AIRFLOW_VERSION_STRING}",
)
