"""OpenLineage naming for TwelveLabs resources and the files the operators read and write.

TwelveLabs resources live in the namespace ``twelvelabs://<api host>`` (the host of the connection's
base URL, e.g. ``twelvelabs://api.twelvelabs.io``) under the names ``assets/{asset_id}``,
``indexes/{index_id}``, ``indexes/{index_id}/indexed-assets/{id}`` and ``videos/{video_id}`` (see
docs/lineage.md). Files follow the OpenLineage naming spec: ``file`` + absolute path for a local file,
``s3://bucket`` + key for object storage, ``https://host`` + path for a URL. A URL's query string is
never part of a name: a presigned URL's signature is a credential.

The OpenLineage classes are imported when a dataset is built, so the provider imports (and DAGs
parse) without ``apache-airflow-providers-openlineage`` installed.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from airflow.providers.common.compat.openlineage.facet import Dataset

__all__ = ["file_dataset", "operator_lineage", "twelvelabs_dataset", "twelvelabs_namespace"]

#: The namespace when the connection gives no usable host.
DEFAULT_API_HOST = "api.twelvelabs.io"


def twelvelabs_namespace(base_url: str | None) -> str:
    """Return the OpenLineage namespace of the TwelveLabs API at ``base_url``.

    :param base_url: the hook's base URL (``https://api.twelvelabs.io/v1.3``); its host (and a
        non-default port) names the namespace, its path (the API version) does not.
    """
    netloc = ""
    if base_url:
        try:
            parts = urlsplit(base_url if "//" in base_url else f"//{base_url}")
            # hostname drops any user:password@ a connection URI might carry.
            netloc = parts.hostname or ""
            if netloc and parts.port:
                netloc = f"{netloc}:{parts.port}"
        except ValueError:
            netloc = ""
    return f"twelvelabs://{netloc or DEFAULT_API_HOST}"


def twelvelabs_dataset(kind: str, resource_id: str, base_url: str | None, **parents: str) -> Dataset:
    """Return the dataset of a TwelveLabs resource.

    ``twelvelabs_dataset("indexed-assets", "ia1", url, indexes="ix1")`` names
    ``indexes/ix1/indexed-assets/ia1``.

    :param kind: the resource's collection: ``assets``, ``indexes``, ``indexed-assets``, ``videos``...
    :param resource_id: the resource's id.
    :param base_url: the hook's base URL (gives the namespace).
    :param parents: the enclosing collections and their ids, outermost first.
    """
    from airflow.providers.common.compat.openlineage.facet import Dataset

    path = [f"{k}/{v}" for k, v in parents.items()] + [f"{kind}/{resource_id}"]
    return Dataset(namespace=twelvelabs_namespace(base_url), name="/".join(path))


def file_dataset(path: Any) -> Dataset | None:
    """Return the dataset of a file (a local path, an fsspec/object-storage URI or an http(s) URL).

    The query string and fragment are dropped (a presigned URL's signature never reaches an event),
    and so are any credentials in the authority. Returns ``None`` for an empty path.

    :param path: the file: ``str``, ``os.PathLike`` or an ``ObjectStoragePath``.
    """
    from airflow.providers.common.compat.openlineage.facet import Dataset

    text = str(path or "")
    if not text:
        return None
    parts = urlsplit(text) if "://" in text else None
    if parts is None or parts.scheme in ("", "file"):
        local = parts.path if parts is not None else text
        return Dataset(namespace="file", name=os.path.abspath(os.path.expanduser(local)))
    host = parts.hostname or ""
    if host and parts.port:
        host = f"{host}:{parts.port}"
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        return Dataset(namespace=f"{scheme}://{host}", name=parts.path or "/")
    # Object storage: the bucket is the namespace, the key (without its leading slash) the name.
    return Dataset(namespace=f"{scheme}://{host}", name=parts.path.lstrip("/") or "/")


def operator_lineage(inputs: Iterable[Dataset | None], outputs: Iterable[Dataset | None]) -> Any:
    """Return an ``OperatorLineage`` with the given datasets, the ``None`` ones and duplicates left out.

    :param inputs: the datasets read.
    :param outputs: the datasets written.
    """
    from airflow.providers.openlineage.extractors import OperatorLineage

    def unique(datasets: Iterable[Dataset | None]) -> list[Dataset]:
        seen: dict[tuple[str, str], Dataset] = {}
        for d in datasets:
            if d is not None:
                seen.setdefault((d.namespace, d.name), d)
        return list(seen.values())

    return OperatorLineage(inputs=unique(inputs), outputs=unique(outputs))


def job_id(operator: Any, task_instance: Any) -> str | None:
    """Return the id of the resource an operator's job made ready (or the job it holds).

    No call to Airflow here (no XCom read): the listener runs this in a forked child, where such a
    call can hang. After a deferral the id is the one :meth:`resource_ready` kept on the operator.

    :param operator: a :class:`~airflow_provider_twelvelabs.operators.base.TwelveLabsJobOperator`.
    :param task_instance: the task instance OpenLineage passes (unused; kept for the signature).
    """
    held = getattr(operator, "ready_resource_id", None) or getattr(operator, "_job_id", None)
    return str(held) if held else None


def remember_api(operator: Any) -> Any:
    """Keep the API's base URL on the operator for :func:`api_base_url`; return an empty lineage.

    Called from ``get_openlineage_facets_on_start``, in the task's own process: the OpenLineage
    listener asks for the completion facets in a forked child, where reading the Airflow connection
    (a call to the task supervisor) can hang until the listener kills it.

    :param operator: the operator about to run (or resume after a deferral).
    """
    try:
        operator._lineage_base_url = operator.hook.base_url
    except Exception:  # lineage must never fail the task
        operator._lineage_base_url = None
    return operator_lineage([], [])


def api_base_url(operator: Any) -> str | None:
    """Return the base URL kept by :func:`remember_api`, else the hook's.

    :param operator: the finished operator.
    """
    kept = getattr(operator, "_lineage_base_url", None)
    return kept if kept else operator.hook.base_url


def asset_dataset(operator: Any, asset_id: object) -> Dataset | None:
    """Return the dataset of the asset ``asset_id`` as ``operator`` saw it, or ``None`` without an id.

    The namespace comes from :func:`api_base_url`. The result can go straight into
    :func:`operator_lineage`, which leaves ``None`` out.

    :param operator: the finished operator.
    :param asset_id: the asset's id; ``None`` or empty when the operator had none.
    """
    return twelvelabs_dataset("assets", str(asset_id), api_base_url(operator)) if asset_id else None
