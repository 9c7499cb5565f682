"""Operator extra links to the TwelveLabs Playground.

The operators push the remote ids to XCom *before* they wait, so a link works while the task is
still deferred. Airflow 3 evaluates ``get_link`` on the worker and stores the result under the
link's own XCom key, which the UI then reads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from airflow.providers.common.compat.sdk import BaseOperatorLink, XCom

from airflow_provider_twelvelabs import xcom_keys

if TYPE_CHECKING:
    from airflow.sdk.types import TaskInstanceKey

__all__ = [
    "INDEXED_ASSET_ID_XCOM_KEY",
    "INDEX_ID_XCOM_KEY",
    "PLAYGROUND_URL",
    "VIDEO_ID_XCOM_KEY",
    "TwelveLabsIndexLink",
    "TwelveLabsVideoLink",
    "index_url",
    "video_url",
]

#: Root of the TwelveLabs Playground, the web app where indexes and videos can be browsed.
PLAYGROUND_URL = "https://playground.twelvelabs.io"

#: XCom keys the links read: the registry's, under the names of earlier releases.
INDEX_ID_XCOM_KEY = xcom_keys.INDEX_ID
INDEXED_ASSET_ID_XCOM_KEY = xcom_keys.INDEXED_ASSET_ID
VIDEO_ID_XCOM_KEY = xcom_keys.VIDEO_ID


def index_url(index_id: str) -> str:
    """Return the Playground page of an index.

    :param index_id: the index id.
    """
    return f"{PLAYGROUND_URL}/indexes/{quote(index_id, safe='')}"


def video_url(index_id: str, video_id: str) -> str:
    """Return the Playground page of a video (an indexed asset) of an index.

    :param index_id: the index id.
    :param video_id: the video id, which is also the indexed asset id.
    """
    return f"{index_url(index_id)}/videos/{quote(video_id, safe='')}"


def _xcom_str(ti_key: TaskInstanceKey, key: str) -> str | None:
    value: Any = XCom.get_value(ti_key=ti_key, key=key)
    return value if isinstance(value, str) and value else None


class TwelveLabsIndexLink(BaseOperatorLink):
    """Link to the index in the TwelveLabs Playground, from the ``index_id`` the task pushed."""

    name = "TwelveLabs Index"

    def get_link(self, operator: Any, *, ti_key: TaskInstanceKey) -> str:
        """Return the index's Playground URL, or an empty string before the task pushed an id.

        :param operator: the operator the link belongs to.
        :param ti_key: the task instance whose XCom holds the id.
        """
        index_id = _xcom_str(ti_key, INDEX_ID_XCOM_KEY)
        return index_url(index_id) if index_id else ""


class TwelveLabsVideoLink(BaseOperatorLink):
    """Link to the indexed video in the TwelveLabs Playground.

    Reads the ``index_id`` the task pushed, and the video id under the XCom key named by the
    operator's ``video_id_xcom_key`` attribute (default ``video_id``; the indexed-asset operator
    says ``indexed_asset_id``, since an indexed asset is the video the Playground shows). Only keys
    the operator pushes are read: Airflow logs an error for every missing XCom.
    """

    name = "TwelveLabs Video"

    def get_link(self, operator: Any, *, ti_key: TaskInstanceKey) -> str:
        """Return the video's Playground URL, or an empty string before the task pushed its ids.

        :param operator: the operator the link belongs to.
        :param ti_key: the task instance whose XCom holds the ids.
        """
        index_id = _xcom_str(ti_key, INDEX_ID_XCOM_KEY)
        if not index_id:
            return ""
        video_id = _xcom_str(ti_key, getattr(operator, "video_id_xcom_key", VIDEO_ID_XCOM_KEY))
        return video_url(index_id, video_id) if video_id else ""
