"""Helpers run with ``python -m`` inside the throwaway Airflow home of :mod:`.dag_test`.

They import Airflow, so they run in a subprocess with that home's environment, never in the
caller's process (whose Airflow, if any, is configured for something else). Each prints one
line ``<MARKER><json>`` on stdout; anything else Airflow prints is ignored by the caller.

* ``dag-ids FILE``: the DAG ids defined in ``FILE`` and its import errors;
* ``results DAG_ID``: the state of the DAG's latest run, its task instances and their
  ``return_value`` XComs.
"""

from __future__ import annotations

import json
import sys
from typing import Any

#: Prefix of the one line of stdout the caller reads.
MARKER = "@@twelvelabs-dag-test@@ "


def _emit(payload: dict[str, Any]) -> None:
    print(MARKER + json.dumps(payload, default=repr), flush=True)


def dag_ids(dag_file: str) -> dict[str, Any]:
    """Parse ``dag_file`` and return ``{"dag_ids": [...], "import_errors": {file: message}}``.

    :param dag_file: the absolute path of the DAG file.
    """
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow before 3.1
        from airflow.models.dagbag import DagBag  # type: ignore[no-redef]

    # Example DAGs stay out through AIRFLOW__CORE__LOAD_EXAMPLES=False in this home's environment.
    bag = DagBag(dag_folder=dag_file, safe_mode=False)
    return {"dag_ids": sorted(bag.dag_ids), "import_errors": dict(bag.import_errors)}


def _plain(value: Any) -> Any:
    """``value`` if it survives a JSON round trip unchanged in kind, else its ``repr``."""
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)
    return value


def results(dag_id: str) -> dict[str, Any]:
    """Return the latest run of ``dag_id``: its id and state, task instances and return values.

    :param dag_id: the DAG id.
    """
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        run = session.scalars(
            select(DagRun).where(DagRun.dag_id == dag_id).order_by(DagRun.id.desc()).limit(1)
        ).first()
        if run is None:
            return {"run_id": None, "state": None, "tasks": []}
        instances = session.scalars(
            select(TaskInstance).where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run.run_id)
        ).all()
        rows = session.execute(
            select(XComModel.task_id, XComModel.map_index, XComModel.value).where(
                XComModel.dag_id == dag_id,
                XComModel.run_id == run.run_id,
                XComModel.key == "return_value",
            )
        ).all()
        returns = {(row.task_id, row.map_index): XComModel.deserialize_value(row) for row in rows}
        tasks = [
            {
                "task_id": ti.task_id,
                "map_index": ti.map_index,
                "state": None if ti.state is None else str(ti.state),
                "try_number": ti.try_number,
                "has_return": (ti.task_id, ti.map_index) in returns,
                "return_value": _plain(returns.get((ti.task_id, ti.map_index))),
            }
            # In the order they ran; those that never started last.
            for ti in sorted(
                instances,
                key=lambda ti: (
                    ti.start_date is None,
                    ti.start_date or run.start_date,
                    ti.task_id,
                    ti.map_index,
                ),
            )
        ]
        return {"run_id": run.run_id, "state": None if run.state is None else str(run.state), "tasks": tasks}


def main(argv: list[str]) -> int:
    """Run one helper and print its answer.

    :param argv: ``["dag-ids", FILE]`` or ``["results", DAG_ID]``.
    """
    command, argument = argv
    if command == "dag-ids":
        _emit(dag_ids(argument))
    elif command == "results":
        _emit(results(argument))
    else:
        raise SystemExit(f"unknown helper {command!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
