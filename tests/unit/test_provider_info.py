"""Provider metadata: what Airflow reads from the ``apache_airflow_provider`` entry point."""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import airflow
import jsonschema
import pytest

from airflow_provider_twelvelabs.get_provider_info import get_provider_info
from airflow_provider_twelvelabs.hooks.twelvelabs import RetryPolicy, TwelveLabsHook
from tests.helpers.airflow_versions import needs_declared_connection_form

INFO = get_provider_info()
(CONNECTION,) = INFO["connection-types"]


def listed_modules() -> list[str]:
    """Every module the provider info lists (hooks, operators, sensors, triggers, extra links)."""
    modules = [
        module
        for section in ("hooks", "operators", "sensors", "triggers")
        for group in INFO.get(section, [])
        for module in group["python-modules"]
    ]
    modules += [path.rsplit(".", 1)[0] for path in INFO.get("extra-links", [])]
    modules.append(CONNECTION["hook-class-name"].rsplit(".", 1)[0])
    return sorted(set(modules))


def existing(modules: list[str]) -> list[str]:
    # Other parts of the provider are written concurrently: test what exists, tolerate the rest.
    return [m for m in modules if importlib.util.find_spec(m) is not None]


class TestProviderInfo:
    def test_matches_airflows_provider_info_schema(self) -> None:
        schema_path = Path(airflow.__file__).parent / "provider_info.schema.json"
        schema = json.loads(schema_path.read_text())
        jsonschema.validate(INFO, schema)

    def test_entry_point_points_at_get_provider_info(self) -> None:
        (entry,) = [
            e for e in entry_points(group="apache_airflow_provider") if e.value.startswith("airflow_provider")
        ]
        assert entry.value == "airflow_provider_twelvelabs.get_provider_info:get_provider_info"
        assert entry.load()()["package-name"] == "airflow-provider-twelvelabs"

    def test_declares_the_connection_type_of_the_hook(self) -> None:
        assert CONNECTION["connection-type"] == TwelveLabsHook.conn_type == "twelvelabs"
        assert CONNECTION["hook-class-name"] == "airflow_provider_twelvelabs.hooks.twelvelabs.TwelveLabsHook"
        assert TwelveLabsHook.default_conn_name == "twelvelabs_default"
        assert INFO["versions"][0] == importlib.import_module("airflow_provider_twelvelabs").__version__

    def test_ui_field_behaviour_agrees_with_the_hook(self) -> None:
        # Airflow 3.2+ reads the form from provider info, older versions from the hook.
        declared = CONNECTION["ui-field-behaviour"]
        from_hook = TwelveLabsHook.get_ui_field_behaviour()
        assert sorted(declared["hidden-fields"]) == sorted(from_hook["hidden_fields"])
        assert (
            declared["relabeling"] == from_hook["relabeling"] == {"password": "API key", "host": "Base URL"}
        )
        for field, text in declared["placeholders"].items():
            assert from_hook["placeholders"][field] == text

    @pytest.mark.parametrize("field", sorted(CONNECTION["conn-fields"]))
    def test_every_declared_conn_field_is_read_by_the_hook(
        self, field: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        def settings(extra: dict[str, Any]) -> Any:
            monkeypatch.setenv(
                "AIRFLOW_CONN_TWELVELABS_DEFAULT",
                json.dumps({"conn_type": "twelvelabs", "password": "tlk_x_123456789", "extra": extra}),
            )
            return TwelveLabsHook().settings

        default = CONNECTION["conn-fields"][field]["schema"]["default"]
        # The UI's default is the hook's default...
        assert settings({}) == settings({field: default})
        # ...and the field changes what the hook does; both spellings Airflow may store are read.
        assert settings({field: 3}) != settings({})
        assert settings({f"extra__twelvelabs__{field}": 3}) == settings({field: 3})

    def test_retry_defaults_documented_in_the_form_match_the_policy(self) -> None:
        fields = CONNECTION["conn-fields"]
        assert fields["max_retries"]["schema"]["default"] == RetryPolicy.max_attempts - 1
        assert fields["retry_max_wait"]["schema"]["default"] == RetryPolicy.max_wait

    @needs_declared_connection_form
    def test_airflow_providers_manager_sees_the_form(self) -> None:
        from airflow.providers_manager import ProvidersManager

        manager = ProvidersManager()
        assert "airflow-provider-twelvelabs" in manager.providers
        behaviour = manager.field_behaviours["twelvelabs"]
        assert behaviour["relabeling"]["password"] == "API key"
        widgets = {key for key in manager.connection_form_widgets if key.startswith("extra__twelvelabs__")}
        assert widgets == {f"extra__twelvelabs__{field}" for field in CONNECTION["conn-fields"]}


class TestListedModules:
    @pytest.mark.parametrize("module", existing(listed_modules()))
    def test_every_listed_module_that_exists_imports(self, module: str) -> None:
        importlib.import_module(module)

    def test_the_hook_module_is_among_them(self) -> None:
        assert "airflow_provider_twelvelabs.hooks.twelvelabs" in existing(listed_modules())

    def test_extra_links_name_real_classes(self) -> None:
        for path in INFO.get("extra-links", []):
            module, name = path.rsplit(".", 1)
            if importlib.util.find_spec(module) is not None:
                assert hasattr(importlib.import_module(module), name), path

    def test_importing_the_provider_opens_no_socket_and_no_client(self) -> None:
        # A DAG file importing our operators must not touch the network or build a client:
        # the DAG processor imports it over and over.
        probe = f"""
import socket, httpx
calls = []
def refuse(*args, **kwargs):
    calls.append(args)
    raise RuntimeError("network at import")
socket.socket.connect = refuse
socket.create_connection = refuse
for cls in (httpx.Client, httpx.AsyncClient):
    original = cls.__init__
    def init(self, *a, __original=original, **k):
        calls.append("client")
        __original(self, *a, **k)
    cls.__init__ = init
import importlib
for module in {existing(listed_modules())!r}:
    importlib.import_module(module)
importlib.import_module("airflow_provider_twelvelabs.get_provider_info").get_provider_info()
print("calls:", calls)
"""
        result = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
        )
        assert result.returncode == 0, result.stderr[-2000:]
        assert "calls: []" in result.stdout


@pytest.mark.e2e
class TestAirflowCli:
    """What a user sees after installing the package: ``airflow providers list`` and ``hooks``."""

    @staticmethod
    def airflow(tmp_path: Path, *args: str) -> Any:
        env = {
            **os.environ,
            "AIRFLOW_HOME": str(tmp_path),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        }
        airflow_bin = Path(sys.executable).with_name("airflow")
        result = subprocess.run(
            [str(airflow_bin), "providers", *args, "-o", "json"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-2000:]
        return json.loads(result.stdout)

    def test_providers_list_shows_the_distribution(self, tmp_path: Path) -> None:
        providers = self.airflow(tmp_path, "list")
        (ours,) = [p for p in providers if p["package_name"] == "airflow-provider-twelvelabs"]
        assert ours["version"] == INFO["versions"][0]

    def test_providers_hooks_lists_the_connection_type(self, tmp_path: Path) -> None:
        hooks = self.airflow(tmp_path, "hooks")
        (ours,) = [h for h in hooks if h["connection_type"] == "twelvelabs"]
        assert ours["class"] == "airflow_provider_twelvelabs.hooks.twelvelabs.TwelveLabsHook"
        assert ours["conn_id_attribute_name"] == "twelvelabs_conn_id"
        assert ours["package_name"] == "airflow-provider-twelvelabs"
