"""The OpenLineage naming of files, URLs and TwelveLabs resources (airflow_provider_twelvelabs.lineage)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytest.importorskip(
    "airflow.providers.openlineage", reason="apache-airflow-providers-openlineage is not installed"
)

from airflow_provider_twelvelabs.lineage import (
    asset_dataset,
    file_dataset,
    operator_lineage,
    twelvelabs_dataset,
    twelvelabs_namespace,
)


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        ("https://api.twelvelabs.io/v1.3", "twelvelabs://api.twelvelabs.io"),
        ("http://127.0.0.1:8123/v1.3", "twelvelabs://127.0.0.1:8123"),
        ("https://user:pw@eu.example.com/v1.3", "twelvelabs://eu.example.com"),
        ("", "twelvelabs://api.twelvelabs.io"),
    ],
)
def test_namespace_is_the_api_host(base_url, expected):
    assert twelvelabs_namespace(base_url) == expected


def test_nested_resource_names():
    ds = twelvelabs_dataset("indexed-assets", "ia1", "https://api.twelvelabs.io/v1.3", indexes="ix1")
    assert (ds.namespace, ds.name) == ("twelvelabs://api.twelvelabs.io", "indexes/ix1/indexed-assets/ia1")


class _Finished:
    """An operator after its run: it kept the base URL of the API it called."""

    _lineage_base_url = "http://127.0.0.1:8123/v1.3"


@pytest.mark.parametrize("missing", [None, ""])
def test_asset_dataset_is_none_without_an_asset_id(missing):
    assert asset_dataset(_Finished(), missing) is None


def test_asset_dataset_names_the_asset_under_the_api_the_operator_called():
    ds = asset_dataset(_Finished(), "a1")
    assert ds is not None
    assert (ds.namespace, ds.name) == ("twelvelabs://127.0.0.1:8123", "assets/a1")


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/data/in.mp4", ("file", "/data/in.mp4")),
        ("file:///data/in.mp4", ("file", "/data/in.mp4")),
        ("s3://bucket/videos/in.mp4", ("s3://bucket", "videos/in.mp4")),
        ("gs://b/k.jsonl", ("gs://b", "k.jsonl")),
        (
            "https://bucket.s3.amazonaws.com/in.mp4?X-Amz-Signature=abc&X-Amz-Credential=k",
            ("https://bucket.s3.amazonaws.com", "/in.mp4"),
        ),
        (
            "https://acct.blob.core.windows.net/c/in.mp4?sv=1&sig=abc#frag",
            ("https://acct.blob.core.windows.net", "/c/in.mp4"),
        ),
        ("https://u:secret@host.test/in.mp4", ("https://host.test", "/in.mp4")),
    ],
)
def test_file_names_follow_the_spec_and_drop_secrets(path, expected):
    ds = file_dataset(path)
    assert ds is not None and (ds.namespace, ds.name) == expected


def test_relative_path_becomes_absolute():
    ds = file_dataset("in.mp4")
    assert ds is not None and ds.name == os.path.abspath("in.mp4")


def test_operator_lineage_drops_missing_and_duplicate_datasets():
    a = file_dataset("s3://b/k")
    lineage = operator_lineage([a, None, file_dataset("s3://b/k")], [None])
    assert [(d.namespace, d.name) for d in lineage.inputs] == [("s3://b", "k")] and lineage.outputs == []


def test_the_operators_do_not_import_openlineage_when_loaded():
    # A DAG parses without the OpenLineage provider: nothing of it is imported until lineage is asked.
    code = (
        "import sys, airflow_provider_twelvelabs.lineage, airflow_provider_twelvelabs.operators.assets, "
        "airflow_provider_twelvelabs.operators.indexes, airflow_provider_twelvelabs.operators.embed, "
        "airflow_provider_twelvelabs.operators.analyze, airflow_provider_twelvelabs.operators.analyze_async; "
        "print(sorted(m for m in sys.modules if m.startswith(('openlineage', "
        "'airflow.providers.openlineage.extractors', 'airflow.providers.common.compat.openlineage.facet'))))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr[-2000:]
