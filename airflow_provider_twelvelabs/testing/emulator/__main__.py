"""``python -m airflow_provider_twelvelabs.testing.emulator``: run the emulator from a shell."""

from airflow_provider_twelvelabs.testing.emulator.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
