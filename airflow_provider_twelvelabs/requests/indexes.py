"""Index requests: create and delete an index, index an asset, and the legacy ``/tasks`` upload."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from pydantic import model_validator

from airflow_provider_twelvelabs.requests.assets import DEDUPE_MODES, ON_CHANGE, check_content_metadata
from airflow_provider_twelvelabs.requests.fields import (
    RequestModel,
    checked,
    http_url,
    one_of,
    optional_bool,
    optional_metadata,
    optional_str,
    require_str,
    resource_id,
    str_list,
)

__all__ = [
    "CreateIndexRequest",
    "DeleteIndexRequest",
    "IndexAssetRequest",
    "IndexingTaskRequest",
]

IF_EXISTS = ("reuse", "fail")


def _models(name: str, value: Any) -> list[dict[str, Any]]:
    """Check the shape of ``models`` (names and options are left to the API, which knows the current ones).

    A string (what a template renders to) is read as JSON.
    """
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ValueError(
                f"{name} must be a list of {{'model_name': ..., 'model_options': [...]}} mappings or "
                f"their JSON text, got {value!r}"
            ) from None
    if not isinstance(value, Sequence) or isinstance(value, (str, bytes)) or not value:
        raise ValueError(
            f"{name} must be a non-empty list of {{'model_name': ..., 'model_options': [...]}} mappings, "
            f"got {value!r}"
        )
    models: list[dict[str, Any]] = []
    for position, entry in enumerate(value):
        where = f"{name}[{position}]"
        if not isinstance(entry, Mapping):
            raise ValueError(f"{where} must be a mapping, got {entry!r}")
        model_name = entry.get("model_name")
        if not isinstance(model_name, str) or not model_name.strip():
            raise ValueError(f"{where}['model_name'] must be a non-empty string, got {model_name!r}")
        options = entry.get("model_options")
        if (
            not isinstance(options, Sequence)
            or isinstance(options, (str, bytes))
            or not options
            or not all(isinstance(option, str) and option for option in options)
        ):
            raise ValueError(
                f"{where}['model_options'] must be a non-empty list of strings such as "
                f"['visual', 'audio'], got {options!r}"
            )
        models.append({**entry, "model_name": model_name.strip(), "model_options": list(options)})
    return models


IndexId = Annotated[str, checked(resource_id)]
OptionalBool = Annotated[bool | None, checked(optional_bool)]
Metadata = Annotated[dict[str, Any] | None, checked(optional_metadata)]


class CreateIndexRequest(RequestModel):
    """The ``POST /indexes`` request.

    :param index_name: the index name.
    :param models: ``{"model_name": ..., "model_options": [...]}`` mappings.
    :param addons: add-ons such as ``["thumbnail"]`` (``None`` or ``[]``: none).
    :param if_exists: ``reuse`` or ``fail`` (what the operator does when the name is taken).
    """

    index_name: Annotated[str, checked(require_str)]
    models: Annotated[list[dict[str, Any]], checked(_models)]
    addons: Annotated[list[str], checked(str_list)] = []
    if_exists: Annotated[str, checked(one_of, allowed=IF_EXISTS)] = "reuse"

    def to_body(self) -> dict[str, Any]:
        """Return the create call's keyword arguments."""
        return {"index_name": self.index_name, "models": self.models, "addons": self.addons or None}


class DeleteIndexRequest(RequestModel):
    """The ``DELETE /indexes/{index_id}`` request.

    :param index_id: the index id.
    """

    index_id: IndexId

    def to_body(self) -> dict[str, Any]:
        """Return the delete call's arguments."""
        return {"index_id": self.index_id}


class IndexAssetRequest(RequestModel):
    """The ``POST /indexes/{index_id}/indexed-assets`` request.

    :param index_id: the index id.
    :param asset_id: the asset id.
    :param enable_video_stream: store an HLS stream of the video.
    :param user_metadata: metadata stored with the indexed asset.
    :param dedupe: ``content`` (reuse an indexed asset of the same content) or ``off``.
    :param on_change: ``keep`` or ``replace`` the indexed asset of an earlier content of the source.
    """

    index_id: IndexId
    asset_id: Annotated[str, checked(resource_id)]
    enable_video_stream: OptionalBool = None
    user_metadata: Metadata = None
    dedupe: Annotated[str, checked(one_of, allowed=DEDUPE_MODES)] = "content"
    on_change: Annotated[str, checked(one_of, allowed=ON_CHANGE)] = "keep"

    @model_validator(mode="after")
    def _content_keys_free(self) -> IndexAssetRequest:
        if self.dedupe == "content":
            check_content_metadata("user_metadata", self.user_metadata)
        return self

    def to_body(self) -> dict[str, Any]:
        """Return the create call's arguments (``index_id`` is its first, positional one)."""
        return self.model_dump(exclude={"dedupe", "on_change"})


class IndexingTaskRequest(RequestModel):
    """The legacy ``POST /tasks`` request (the video file itself is attached by the operator).

    :param index_id: the index id.
    :param video_path: a local path, an object-storage URL or an ``ObjectStoragePath``.
    :param video_url: an http(s) URL of the video.
    :param enable_video_stream: store an HLS stream.
    :param user_metadata: metadata stored with the video.
    """

    index_id: IndexId
    video_path: Any = None
    video_url: Annotated[str | None, checked(optional_str)] = None
    enable_video_stream: OptionalBool = None
    user_metadata: Metadata = None

    @model_validator(mode="after")
    def _one_video(self) -> IndexingTaskRequest:
        if self.video_path == "":
            self.video_path = None
        if (self.video_path is None) == (self.video_url is None):
            raise ValueError("Give exactly one of video_path (a file) or video_url (a public URL)")
        if self.video_url is not None:
            http_url("video_url", self.video_url)
        return self

    def to_body(self) -> dict[str, Any]:
        """Return the create call's arguments, without ``video_file`` (a file part)."""
        return {
            "index_id": self.index_id,
            "video_url": self.video_url,
            "enable_video_stream": self.enable_video_stream,
            "user_metadata": self.user_metadata,
        }
