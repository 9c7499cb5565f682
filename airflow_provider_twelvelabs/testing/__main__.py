"""``python -m airflow_provider_twelvelabs.testing dag-test DAG_FILE``: run a DAG against the emulator."""

from airflow_provider_twelvelabs.testing.dag_test import main

if __name__ == "__main__":
    raise SystemExit(main())
