"""Provider metadata read by Airflow's providers manager (the ``apache_airflow_provider`` entry point)."""

from __future__ import annotations

from typing import Any

_INTEGRATION = "TwelveLabs"


def get_provider_info() -> dict[str, Any]:
    """Return the provider's metadata: its hooks, operators, sensors, triggers and connection type."""
    from airflow_provider_twelvelabs import __version__

    return {
        "package-name": "airflow-provider-twelvelabs",
        "name": "TwelveLabs",
        "description": "Upload, index, embed, analyze and search video and audio with TwelveLabs.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": _INTEGRATION,
                "external-doc-url": "https://docs.twelvelabs.io/",
                "tags": ["service"],
            }
        ],
        "hooks": [
            {
                "integration-name": _INTEGRATION,
                "python-modules": ["airflow_provider_twelvelabs.hooks.twelvelabs"],
            }
        ],
        "operators": [
            {
                "integration-name": _INTEGRATION,
                "python-modules": [
                    "airflow_provider_twelvelabs.operators.assets",
                    "airflow_provider_twelvelabs.operators.indexes",
                    "airflow_provider_twelvelabs.operators.embed",
                    "airflow_provider_twelvelabs.operators.analyze",
                    "airflow_provider_twelvelabs.operators.analyze_async",
                    "airflow_provider_twelvelabs.operators.search",
                ],
            }
        ],
        "sensors": [
            {
                "integration-name": _INTEGRATION,
                "python-modules": ["airflow_provider_twelvelabs.sensors.twelvelabs"],
            }
        ],
        "triggers": [
            {
                "integration-name": _INTEGRATION,
                "python-modules": ["airflow_provider_twelvelabs.triggers.twelvelabs"],
            }
        ],
        "config": {
            "twelvelabs": {
                "description": "Defaults of the TwelveLabs operators and sensors.",
                "options": {
                    "poll_interval": {
                        "description": "First wait between two status polls, in seconds, when an operator "
                        "or sensor sets no poll_interval (tests against the emulator set it low).",
                        "version_added": "0.1.0",
                        "type": "float",
                        "example": "0.1",
                        "default": "2.0",
                    },
                    "poll_max_interval": {
                        "description": "Longest wait between two status polls, in seconds, when an "
                        "operator sets no poll_max_interval.",
                        "version_added": "0.1.0",
                        "type": "float",
                        "example": "1.0",
                        "default": "60.0",
                    },
                },
            }
        },
        "connection-types": [
            {
                "hook-class-name": "airflow_provider_twelvelabs.hooks.twelvelabs.TwelveLabsHook",
                "hook-name": "TwelveLabs",
                "connection-type": "twelvelabs",
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "login", "port"],
                    "relabeling": {"password": "API key", "host": "Base URL"},
                    "placeholders": {"host": "https://api.twelvelabs.io/v1.3", "password": "tlk_..."},
                },
                "conn-fields": {
                    "timeout": {
                        "label": "Request timeout (seconds)",
                        "schema": {"type": ["number", "null"], "default": 60},
                    },
                    "max_retries": {
                        "label": "Retries on 429, 408, 5xx and connection errors",
                        "schema": {"type": ["integer", "null"], "default": 5},
                    },
                    "connect_timeout": {
                        "label": "Connect timeout (seconds)",
                        "schema": {"type": ["number", "null"], "default": 10},
                    },
                    "retry_base_delay": {
                        "label": "First wait between retries, doubled each time (seconds)",
                        "schema": {"type": ["number", "null"], "default": 1},
                    },
                    "retry_max_wait": {
                        "label": "Longest wait between retries (seconds)",
                        "schema": {"type": ["number", "null"], "default": 60},
                    },
                },
            }
        ],
        "extra-links": [
            "airflow_provider_twelvelabs.links.TwelveLabsIndexLink",
            "airflow_provider_twelvelabs.links.TwelveLabsVideoLink",
        ],
    }
