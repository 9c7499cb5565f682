"""Operators for TwelveLabs indexes and for indexing content into them (contract sections 5 to 8).

Every operator here is safe to retry: a second attempt finds what the first one created (the
index by its name, the indexed asset through the asset's back references, the legacy task by its
file name) and carries on from there instead of creating a duplicate. Indexing is also incremental
by content: an indexed asset carries its file's content key in ``user_metadata``, and the same
content is never indexed twice in an index.
"""

from __future__ import annotations

import contextlib
import mimetypes
import os
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from airflow_provider_twelvelabs import xcom_keys
from airflow_provider_twelvelabs.exceptions import (
    TwelveLabsAPIError,
    TwelveLabsMalformedResponseError,
    TwelveLabsNotFoundError,
)
from airflow_provider_twelvelabs.links import (
    INDEX_ID_XCOM_KEY,
    INDEXED_ASSET_ID_XCOM_KEY,
    VIDEO_ID_XCOM_KEY,
    TwelveLabsIndexLink,
    TwelveLabsVideoLink,
)
from airflow_provider_twelvelabs.operators.base import (
    CREATE_PENDING_KEY,
    TwelveLabsBaseOperator,
    TwelveLabsJobOperator,
    create_note,
    create_note_time,
    created_since,
)
from airflow_provider_twelvelabs.reporting import media_length
from airflow_provider_twelvelabs.requests.assets import SHA256_KEY, SOURCE_KEY, ContentKey
from airflow_provider_twelvelabs.requests.fields import one_of
from airflow_provider_twelvelabs.requests.indexes import (
    IF_EXISTS,
    CreateIndexRequest,
    DeleteIndexRequest,
    IndexAssetRequest,
    IndexingTaskRequest,
)
from airflow_provider_twelvelabs.statuses import is_failed

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_twelvelabs.hooks.twelvelabs import TwelveLabsHook
    from airflow_provider_twelvelabs.models import IndexedAsset, IndexingTask

__all__ = [
    "DEFAULT_INDEX_MODELS",
    "TwelveLabsCreateIndexOperator",
    "TwelveLabsCreateIndexingTaskOperator",
    "TwelveLabsDeleteIndexOperator",
    "TwelveLabsIndexAssetOperator",
    "indexed_assets_of_content",
]

#: The models of a new index when none are given: Marengo 3.0 over pictures and sound.
DEFAULT_INDEX_MODELS: tuple[Mapping[str, Any], ...] = (
    {"model_name": "marengo3.0", "model_options": ["visual", "audio"]},
)

#: Error codes with which the API refuses to create an index whose name is taken.
_NAME_TAKEN_CODES = frozenset({"index_name_already_exists"})

IfExists = Literal["reuse", "fail"]
Dedupe = Literal["content", "off"]
OnChange = Literal["keep", "replace"]


# --------------------------------------------------------------------------- validation helpers


def _model_signature(models: Sequence[Any] | None) -> set[tuple[str, frozenset[str]]]:
    signature = set()
    for entry in models or ():
        data = entry if isinstance(entry, Mapping) else getattr(entry, "__dict__", {})
        signature.add((str(data.get("model_name")), frozenset(data.get("model_options") or ())))
    return signature


# --------------------------------------------------------------------------- indexes


def _pending_create(store: Any, name: str) -> datetime | None:
    """When an earlier try sent the create of index ``name`` without seeing its answer, or ``None``."""
    pending = store.get(CREATE_PENDING_KEY) if store is not None else None
    if not isinstance(pending, Mapping) or pending.get("name") != name:
        return None
    return create_note_time(pending)


class TwelveLabsCreateIndexOperator(TwelveLabsBaseOperator):
    """Create a TwelveLabs index, or reuse the index of the same name (idempotent).

    With ``if_exists="reuse"`` (the default) an index whose name is exactly ``index_name`` is
    reused, so reruns and retries never create a second one; this also covers the race where
    another task created it between the lookup and the create. With ``if_exists="fail"`` an
    existing index is an error.

    Pushes ``index_id`` to XCom and returns the index id.

    :param index_name: the index name (templated).
    :param models: the index's models, a list of ``{"model_name": ..., "model_options": [...]}``
        (templated); default Marengo 3.0 with ``visual`` and ``audio``. Cannot change later.
    :param addons: index add-ons such as ``["thumbnail"]`` (templated); cannot be removed later.
    :param if_exists: ``"reuse"`` or ``"fail"``, what to do when the name is taken.
    :param kwargs: passed to :class:`~airflow_provider_twelvelabs.operators.base.TwelveLabsBaseOperator`
        (``twelvelabs_conn_id``...).
    """

    template_fields: Sequence[str] = ("index_name", "models", "addons")
    template_fields_renderers = {"models": "json"}
    operator_extra_links = (TwelveLabsIndexLink(),)
    ui_color = "#e8f0fe"

    def __init__(
        self,
        *,
        index_name: str,
        models: Sequence[Mapping[str, Any]] | None = None,
        addons: Sequence[str] | None = None,
        if_exists: IfExists = "reuse",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        one_of("if_exists", if_exists, allowed=IF_EXISTS)
        self.index_name = index_name
        # Kept as given (a template renders to a string): CreateIndexRequest checks the shape.
        given: Any = models if models is not None else DEFAULT_INDEX_MODELS
        self.models = (
            [dict(m) if isinstance(m, Mapping) else m for m in given] if isinstance(given, list) else given
        )
        self.addons = addons
        self.if_exists = if_exists

    def build_request(self) -> dict[str, Any]:
        """Validate every parameter and return the create call's arguments; no request is made."""
        return CreateIndexRequest.build_from(self).to_body()

    def execute(self, context: Context) -> str:
        """Find or create the index and return its id.

        :param context: the task context.
        """
        body = self.build_request()
        name, models = body["index_name"], body["models"]
        store = context.get("task_state_store") if isinstance(context, Mapping) else None
        self._lost_since = _pending_create(store, name)

        index_id = self._existing(name, models)
        if index_id is None:
            if store is not None:
                # Kept before the create: a retry after a lost answer knows the index may be its own.
                store.set(CREATE_PENDING_KEY, create_note(context, name=name))
            try:
                index_id = self.hook.create_index(**body).id
                self.log.info(
                    "Created TwelveLabs index %r: %s (models: %s)",
                    name,
                    index_id,
                    "; ".join(
                        f"{m.get('model_name')}: {', '.join(m.get('model_options') or [])}" for m in models
                    ),
                )
            except TwelveLabsAPIError as exc:
                if store is not None and not isinstance(exc, TwelveLabsMalformedResponseError):
                    with contextlib.suppress(Exception):  # answered: this try created nothing
                        store.delete(CREATE_PENDING_KEY)
                # Another task may have created it since the lookup: reuse that one, or refuse.
                if exc.code not in _NAME_TAKEN_CODES and exc.status != 409:
                    raise
                index_id = self._existing(name, models)
                if index_id is None:
                    raise
        if store is not None:
            with contextlib.suppress(Exception):  # best effort, as the job operators' forget
                store.delete(CREATE_PENDING_KEY)
        context["ti"].xcom_push(key=INDEX_ID_XCOM_KEY, value=index_id)
        return index_id

    def _existing(self, name: str, models: Sequence[Mapping[str, Any]]) -> str | None:
        """Return the id of the index named exactly ``name`` (per ``if_exists``), or ``None``."""
        # The API's name filter is not documented as exact: compare names ourselves.
        matches = [index for index in self.hook.list_indexes(index_name=name) if index.index_name == name]
        if not matches:
            return None
        since = getattr(self, "_lost_since", None)
        if since is not None and len(matches) == 1 and created_since(matches[0].created_at, since):
            self.log.info(
                "Index %r (%s) was created by an earlier try whose create's answer was lost: using it",
                name,
                matches[0].id,
            )
            return matches[0].id
        if self.if_exists == "fail":
            raise ValueError(
                f"A TwelveLabs index named {name!r} already exists ({matches[0].id}) and if_exists='fail'; "
                "use if_exists='reuse' to reuse it, or choose another index_name"
            )
        if len(matches) > 1:
            self.log.warning(
                "%d TwelveLabs indexes are named %r; reusing %s", len(matches), name, matches[0].id
            )
        index = matches[0]
        if index.models is not None and _model_signature(index.models) != _model_signature(models):
            self.log.warning(
                "Reusing TwelveLabs index %r (%s), whose models %s differ from the requested %s",
                name,
                index.id,
                [m.to_json_dict() for m in index.models],
                models,
            )
        else:
            self.log.info("Reusing the existing TwelveLabs index %r: %s", name, index.id)
        return index.id


class TwelveLabsDeleteIndexOperator(TwelveLabsBaseOperator):
    """Delete a TwelveLabs index and everything indexed in it (this cannot be undone).

    :param index_id: the index id (templated).
    :param missing_ok: succeed when the index does not exist (already deleted, e.g. by a
        previous attempt); with ``False`` a missing index fails the task.
    :param kwargs: passed to :class:`~airflow_provider_twelvelabs.operators.base.TwelveLabsBaseOperator`.
    """

    template_fields: Sequence[str] = ("index_id",)
    ui_color = "#fde8e8"

    def __init__(self, *, index_id: str, missing_ok: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.index_id = index_id
        self.missing_ok = missing_ok

    def execute(self, context: Context) -> None:
        """Delete the index.

        :param context: the task context.
        """
        index_id = DeleteIndexRequest.build_from(self).index_id
        try:
            self.hook.delete_index(index_id)
        except TwelveLabsNotFoundError:
            if not self.missing_ok:
                raise
            self.log.info("TwelveLabs index %s does not exist (already deleted); nothing to do", index_id)
            return
        self.log.info("Deleted TwelveLabs index %s", index_id)


# --------------------------------------------------------------------------- indexed assets


def _detail(hook: TwelveLabsHook, index_id: str, listed: IndexedAsset) -> IndexedAsset:
    # List items carry no user_metadata (contract 6.2): read the indexed asset itself then.
    if listed.user_metadata is not None:
        return listed
    return hook.get_indexed_asset(index_id, listed.id)


def indexed_assets_of_content(hook: TwelveLabsHook, index_id: str, key: ContentKey) -> Iterator[IndexedAsset]:
    """Yield the indexed assets of ``index_id`` whose stored content key is ``key``, in any status.

    The lookup :class:`TwelveLabsIndexAssetOperator` makes with ``dedupe="content"``: one list call
    with the API's user-metadata filter on ``twelvelabs_sha256``, then one read of each candidate
    (list items carry no ``user_metadata``) to compare the whole key (source URI, size, SHA-256).
    A DAG can make the same lookup to tell, before mapping, which files are already indexed.

    :param hook: the hook to call TwelveLabs with.
    :param index_id: the index to look in.
    :param key: the content key, as :func:`~airflow_provider_twelvelabs.sources.content_key` gives it.
    """
    for candidate in list(hook.list_indexed_assets(index_id, user_metadata={SHA256_KEY: key.sha256})):
        current = _detail(hook, index_id, candidate)
        if ContentKey.from_metadata(current.user_metadata) == key:
            yield current


class TwelveLabsIndexAssetOperator(TwelveLabsJobOperator):
    """Index a ready asset in an index and wait until the indexed asset is ``ready``.

    Retry-safe: before creating, the asset's back references (``GET /assets/{id}/indexed-assets``)
    are read, and an indexed asset of this index is reused (one that ended ``failed`` is deleted
    and created again). The ids are pushed to XCom (``index_id``, ``indexed_asset_id``) before
    the wait, which defers to the triggerer when ``deferrable`` or polls on the worker otherwise.

    Incremental by content (``dedupe="content"``, the default): when the asset carries a content key
    (``twelvelabs_source``, ``twelvelabs_size``, ``twelvelabs_sha256`` in its ``user_metadata``, as
    the upload operators store it), the key is copied into the indexed asset's ``user_metadata``, and
    an indexed asset of the index with the same key is reused even when it points to another asset
    of the same file (found with the API's user-metadata filter on ``twelvelabs_sha256``: one list
    call, plus one read per candidate). When the file at a source changed, the new content is
    indexed, and ``on_change`` says what becomes of the indexed assets of its earlier content.

    Returns the indexed asset id.

    :param index_id: the index id (templated).
    :param asset_id: the id of a ``ready`` asset (templated).
    :param enable_video_stream: store an HLS stream of the video (API default: no) (templated).
    :param user_metadata: metadata stored with the indexed asset (templated).
    :param wait_for_ready: wait until the indexed asset is ``ready``; with ``False`` return as soon
        as it is created.
    :param dedupe: ``"content"`` (default): reuse an indexed asset of the same content, and store the
        content key on the new one; ``"off"``: only the retry lookup through the asset's back
        references (the asset is then not read).
    :param on_change: ``"keep"`` (default) leaves the indexed assets of an earlier content of the same
        source in the index; ``"replace"`` deletes them once the new one is ready (never before, so
        the index always holds a version). Their assets are left alone. Needs ``dedupe="content"``.
    :param kwargs: passed to :class:`~airflow_provider_twelvelabs.operators.base.TwelveLabsBaseOperator`
        (``deferrable``, ``wait_timeout``, ``poll_interval``, ``twelvelabs_conn_id``...).
    """

    template_fields: Sequence[str] = ("index_id", "asset_id", "enable_video_stream", "user_metadata")
    template_fields_renderers = {"user_metadata": "json"}
    operator_extra_links = (TwelveLabsIndexLink(), TwelveLabsVideoLink())
    #: Where :class:`~airflow_provider_twelvelabs.links.TwelveLabsVideoLink` finds the video id.
    video_id_xcom_key = INDEXED_ASSET_ID_XCOM_KEY
    ui_color = "#e6f4ea"
    job_kind = "indexed_asset"
    external_id_key = xcom_keys.INDEXED_ASSET_ID

    def __init__(
        self,
        *,
        index_id: str,
        asset_id: str,
        enable_video_stream: bool | None = None,
        user_metadata: Mapping[str, Any] | None = None,
        wait_for_ready: bool = True,
        dedupe: Dedupe = "content",
        on_change: OnChange = "keep",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.dedupe = dedupe
        self.on_change = on_change
        # Until prepare_job (or restore_state after a deferral) says otherwise: nothing to replace.
        self._content: ContentKey | None = None
        self._content_read = False
        self._on_change = "keep"
        self.index_id = index_id
        self.asset_id = asset_id
        self.enable_video_stream = enable_video_stream
        self.user_metadata = user_metadata
        self.wait_for_ready = wait_for_ready

    def prepare_job(self, context: Context) -> None:
        """Validate the rendered parameters.

        :param context: the task context.
        """
        request = IndexAssetRequest.build_from(self)
        self._index_id, self._asset_id = request.index_id, request.asset_id
        self._enable_video_stream, self._user_metadata = request.enable_video_stream, request.user_metadata
        self._dedupe, self._on_change = request.dedupe, request.on_change
        self._content, self._content_read = None, False

    def job_index_id(self) -> str | None:
        """The index the indexed asset lives in."""
        return self._index_id

    def content_key(self) -> ContentKey | None:
        """The content key the asset carries (read once with ``GET /assets/{id}``), or ``None``."""
        if self._content_read:
            return self._content
        self._content_read = True
        if self._dedupe == "content":
            asset = self.hook.get_asset(self._asset_id)
            self._content = ContentKey.from_metadata(asset.user_metadata)
            if self._content is None:
                self.log.info("Asset %s carries no content key: deduplicating by asset only", self._asset_id)
        return self._content

    def find_job(self, context: Context) -> Any:
        """Return a usable indexed asset of this asset, or of the same content, in the index.

        :param context: the task context.
        """
        found = self._existing(self._index_id, self._asset_id)[1]
        key = self.content_key()
        if found is not None:
            if key is not None and ContentKey.from_metadata(found.user_metadata) is None:
                # Indexed before content keys were stored: add the key, so later runs find it by content.
                self.hook.update_indexed_asset(self._index_id, found.id, key.to_metadata())
            return found
        return self._same_content(key) if key is not None else None

    def _same_content(self, key: ContentKey) -> IndexedAsset | None:
        """Return a usable indexed asset of the index holding ``key``'s content, if there is one."""
        for current in indexed_assets_of_content(self.hook, self._index_id, key):
            if is_failed(current.status):
                self.log.warning("Indexed asset %s of the same content had failed: deleting it", current.id)
                with contextlib.suppress(TwelveLabsNotFoundError):
                    self.hook.delete_indexed_asset(self._index_id, current.id)
                continue
            self.log.info(
                "Index %s already holds %s (sha256 %s) as indexed asset %s (status %s): reusing it",
                self._index_id,
                key.source,
                key.sha256,
                current.id,
                current.status,
            )
            return current
        return None

    def _detail(self, listed: IndexedAsset) -> IndexedAsset:
        return _detail(self.hook, self._index_id, listed)

    def create_job(self, context: Context) -> Any:
        """Index the asset.

        :param context: the task context.
        """
        key = self.content_key()
        created = self.hook.create_indexed_asset(
            self._index_id,
            asset_id=self._asset_id,
            enable_video_stream=self._enable_video_stream,
            user_metadata=key.merged(self._user_metadata) if key is not None else self._user_metadata,
        )
        self.log.info(
            "Indexing asset %s in index %s: indexed asset %s", self._asset_id, self._index_id, created.id
        )
        return created

    def _existing(self, index_id: str, asset_id: str) -> tuple[str | None, IndexedAsset | None]:
        """Return ``(id, indexed asset)`` of this asset's usable indexed asset in ``index_id``, if any."""
        for reference in self.hook.list_asset_indexed_assets(asset_id):
            index = reference.get("index") or {}
            if (index.get("_id") or index.get("id")) != index_id:
                continue
            found = reference.get("_id") or reference.get("id")
            if not found:
                continue
            current = self.hook.get_indexed_asset(index_id, found)
            status = current.status
            if not is_failed(status):
                self.log.info(
                    "Asset %s is already indexed in index %s as %s (status %s): reusing it",
                    asset_id,
                    index_id,
                    found,
                    status,
                )
                return str(found), current
            # A failed attempt is replaced rather than reused, so a retry really tries again.
            self.log.warning(
                "Indexed asset %s of asset %s had failed: deleting it and retrying", found, asset_id
            )
            with contextlib.suppress(TwelveLabsNotFoundError):
                self.hook.delete_indexed_asset(index_id, found)
        return None, None

    def resume_state(self) -> dict[str, Any]:
        """What the replacement of older content needs after a deferral: the index and the key."""
        if self._content is None or self._on_change != "replace":
            return {}
        return {
            "index_id": self._index_id,
            "content_key": self._content.to_metadata(),
            "on_change": "replace",
        }

    def restore_state(self, state: dict[str, Any]) -> None:
        """Take back the index and the content key on the operator that resumes.

        :param state: the deferral's keyword arguments.
        """
        if state.get("on_change") == "replace":
            self._index_id, self._on_change = str(state["index_id"]), "replace"
            self._content, self._content_read = ContentKey.from_metadata(state.get("content_key")), True

    def on_resource_ready(self, context: Context, kind: str, resource: dict[str, Any]) -> str:
        """Log what was indexed, replace older content when asked, and return the indexed asset id.

        :param context: the task context.
        :param kind: the resource kind (``indexed_asset``).
        :param resource: the ready indexed asset, as JSON.
        """
        metadata = resource.get("system_metadata") or {}
        self.log.info(
            "Indexed asset %s in index %s (%s%s; file %s)",
            resource.get("id"),
            resource.get("index_id") or self.index_id,
            resource.get("status"),
            media_length(metadata.get("duration")),
            metadata.get("filename"),
        )
        if self._on_change == "replace" and self._content is not None:
            self._replace_older(self._content, str(resource["id"]))
        return str(resource["id"])

    def _replace_older(self, key: ContentKey, keep_id: str) -> None:
        """Delete the index's indexed assets of the same source whose content differs from ``key``."""
        older = []
        for candidate in list(
            self.hook.list_indexed_assets(self._index_id, user_metadata={SOURCE_KEY: key.source})
        ):
            if candidate.id == keep_id:
                continue
            stored = ContentKey.from_metadata(self._detail(candidate).user_metadata)
            if stored is not None and stored.source == key.source and stored.sha256 != key.sha256:
                older.append((candidate.id, stored))
        for old_id, stored in older:
            with contextlib.suppress(TwelveLabsNotFoundError):
                self.hook.delete_indexed_asset(self._index_id, old_id)
            self.log.info(
                "Deleted indexed asset %s of an earlier content of %s (sha256 %s): on_change='replace'",
                old_id,
                key.source,
                stored.sha256,
            )

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the asset in; the index and the indexed asset out.

        :param task_instance: the finished task instance.
        """
        from airflow_provider_twelvelabs.lineage import (
            api_base_url,
            asset_dataset,
            job_id,
            operator_lineage,
            twelvelabs_dataset,
        )

        base, index_id = api_base_url(self), str(self.index_id)
        indexed = job_id(self, task_instance)
        return operator_lineage(
            [asset_dataset(self, self.asset_id)],
            [
                twelvelabs_dataset("indexes", index_id, base),
                twelvelabs_dataset("indexed-assets", indexed, base, indexes=index_id) if indexed else None,
            ],
        )


# --------------------------------------------------------------------------- legacy /tasks


def _source_name(path: str) -> str:
    """Return the file name of a local path or URL (the name the API lists the task under)."""
    trimmed = path.split("?", 1)[0].rstrip("/")
    return os.path.basename(trimmed) or trimmed


class TwelveLabsCreateIndexingTaskOperator(TwelveLabsJobOperator):
    """Upload and index a video in one call with the legacy ``/tasks`` API, and wait until ``ready``.

    Give ``video_path`` (a local path, or any ``ObjectStoragePath``/fsspec URL such as
    ``s3://bucket/key.mp4``: the file is reopened on every HTTP attempt) or ``video_url`` (a
    public direct link the API downloads itself).

    Retry-safe: before creating, the index's tasks for the same file name are listed and one that
    has not failed is reused. The ids (``index_id``, ``task_id``, ``video_id``) are pushed to XCom
    before the wait (deferred or polling, like the other operators).

    Returns the video id (the id search and analyze take).

    :param index_id: the index id (templated).
    :param video_path: a local path or object-storage URL of the video (templated).
    :param video_url: a public URL of the video (templated).
    :param enable_video_stream: store an HLS stream (API default: yes) (templated).
    :param user_metadata: metadata stored with the video (templated).
    :param wait_for_ready: wait until the task is ``ready``; with ``False`` return the video id as
        soon as the task is created.
    :param kwargs: passed to :class:`~airflow_provider_twelvelabs.operators.base.TwelveLabsBaseOperator`.
    """

    template_fields: Sequence[str] = (
        "index_id",
        "video_path",
        "video_url",
        "enable_video_stream",
        "user_metadata",
    )
    template_fields_renderers = {"user_metadata": "json"}
    operator_extra_links = (TwelveLabsIndexLink(), TwelveLabsVideoLink())
    video_id_xcom_key = VIDEO_ID_XCOM_KEY
    ui_color = "#e6f4ea"
    job_kind = "indexing_task"
    external_id_key = xcom_keys.INDEXING_TASK_ID

    def __init__(
        self,
        *,
        index_id: str,
        video_path: Any = None,
        video_url: str | None = None,
        enable_video_stream: bool | None = None,
        user_metadata: Mapping[str, Any] | None = None,
        wait_for_ready: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.index_id = index_id
        self.video_path = video_path
        self.video_url = video_url
        self.enable_video_stream = enable_video_stream
        self.user_metadata = user_metadata
        self.wait_for_ready = wait_for_ready

    def prepare_job(self, context: Context) -> None:
        """Validate the rendered parameters and prepare the video part (nothing is read yet).

        :param context: the task context.
        """
        from airflow_provider_twelvelabs.hooks.endpoints import FilePart

        request = IndexingTaskRequest.build_from(self)
        self._index_id, self._video_url = request.index_id, request.video_url
        self._enable_video_stream, self._user_metadata = request.enable_video_stream, request.user_metadata
        self._video_file: FilePart | None = None
        if self._video_url is None:
            opener, filename = _opener(request.video_path)
            content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
            self._video_file = FilePart("video_file", filename, opener, content_type)
        else:
            filename = _source_name(self._video_url)
        self._filename = filename

    def job_index_id(self) -> str | None:
        """The index the video is indexed in."""
        return self._index_id

    def find_job(self, context: Context) -> Any:
        """Return a task of this index for the same file that has not failed, if there is one.

        :param context: the task context.
        """
        return self._existing(self.hook, self._index_id, self._filename)[2]

    def create_job(self, context: Context) -> Any:
        """Create the indexing task (the upload happens in this call).

        :param context: the task context.
        """
        task = self.hook.create_indexing_task(
            index_id=self._index_id,
            video_file=self._video_file,
            video_url=self._video_url,
            enable_video_stream=self._enable_video_stream,
            user_metadata=self._user_metadata,
        )
        self.log.info("Created indexing task %s for %s in index %s", task.id, self._filename, self._index_id)
        return task

    def job_xcom(self, resource: Any) -> dict[str, Any]:
        """The task id under its key of earlier releases, and the video id once known.

        :param resource: the task as last seen.
        """
        return {
            xcom_keys.LEGACY_TASK_ID: self._job_id,
            xcom_keys.VIDEO_ID: getattr(resource, "video_id", None) or None,
        }

    def _existing(
        self, hook: TwelveLabsHook, index_id: str, filename: str
    ) -> tuple[str | None, str | None, IndexingTask | None]:
        """Return ``(task_id, video_id, task)`` of a task of this index for this file that has not failed."""
        for task in hook.list_indexing_tasks(index_id=index_id, filename=filename):
            listed = (task.system_metadata or {}).get("filename")
            # The filter may match substrings: insist on the same name, and skip failed attempts.
            if listed not in (None, filename) or is_failed(task.status):
                continue
            if task.index_id not in (None, index_id):
                continue
            self.log.info(
                "Index %s already has task %s for %s (status %s): reusing it",
                index_id,
                task.id,
                filename,
                task.status,
            )
            return task.id, task.video_id, task
        return None, None, None

    def on_resource_ready(self, context: Context, kind: str, resource: dict[str, Any]) -> str | None:
        """Log what was indexed and return the video id.

        :param context: the task context.
        :param kind: the resource kind (``indexing_task``).
        :param resource: the ready indexing task, as JSON.
        """
        metadata = resource.get("system_metadata") or {}
        video_id = resource.get("video_id")
        self.log.info(
            "Indexing task %s indexed video %s in index %s (%s%s; file %s)",
            resource.get("id"),
            video_id,
            resource.get("index_id") or self.index_id,
            resource.get("status"),
            media_length(metadata.get("duration")),
            metadata.get("filename"),
        )
        if video_id:
            context["ti"].xcom_push(key=VIDEO_ID_XCOM_KEY, value=video_id)
        return video_id

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the video file or URL (without its query) in; the index out.

        :param task_instance: the finished task instance.
        """
        from airflow_provider_twelvelabs.lineage import (
            api_base_url,
            file_dataset,
            operator_lineage,
            twelvelabs_dataset,
        )

        return operator_lineage(
            [file_dataset(self.video_path), file_dataset(self.video_url)],
            [twelvelabs_dataset("indexes", str(self.index_id), api_base_url(self))],
        )


def _opener(source: Any) -> tuple[Any, str]:
    """Return ``(open, filename)`` for a local path or an ``ObjectStoragePath``/fsspec URL.

    ``open`` returns a fresh binary handle on every call, so each HTTP attempt sends the whole
    file. Nothing is read here, but a missing file is reported before any HTTP call.
    """
    from airflow_provider_twelvelabs.sources import resolve

    src = resolve(source)
    if not src.is_file():
        plain_path = not hasattr(source, "fs") and "://" not in str(source)
        raise ValueError(f"video_path {src.path if plain_path else str(source)!r} is not a file")
    return src.open, src.name
