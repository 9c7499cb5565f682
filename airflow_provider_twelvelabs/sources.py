"""Where the provider reads its input files: one way to open a local path, an object-storage URI or a URL.

Every operator that sends a file (uploads, legacy indexing tasks, inline embedding media, search
query images) and the multipart engine resolve what the user gave them with :func:`resolve`:

* a local path (``str`` or path-like; ``~`` is expanded) is read with plain OS calls;
* an ``ObjectStoragePath`` (or any ``UPath``) is read through its own filesystem, with its Airflow
  connection;
* a URI (``s3://bucket/key``, ``gs://...``, ``file:///...``, ``memory://...``, ``http(s)://...``) goes
  through Airflow's ``ObjectStoragePath`` (optionally with an Airflow connection for credentials),
  or through fsspec for a scheme Airflow does not know.

The :class:`Source` it returns tells the size, the file name, whether the file is there, opens it
for reading (afresh on each call, so a retried request carries the whole file again) and reads it
whole within a byte limit. :func:`remote_size` asks a public ``http(s)`` URL for its size without
downloading it. :func:`storage_path` is the ``ObjectStoragePath`` of a path, for writing results.
:func:`content_key` reads a file once and returns what identifies its content (source URI, size,
SHA-256): the key the upload and index operators store on TwelveLabs, and the one a DAG computes to
plan what is new.

Nothing heavy is imported with this module: Airflow's object storage and fsspec are imported when
a path is resolved.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import ObjectStoragePath

    from airflow_provider_twelvelabs.requests.assets import ContentKey

__all__ = [
    "HASH_BLOCK_BYTES",
    "Source",
    "SourceTooLargeError",
    "content_key",
    "public_uri",
    "remote_size",
    "resolve",
    "storage_path",
]

#: How many bytes :meth:`Source.sha256` reads at a time: its memory use, whatever the file's size.
HASH_BLOCK_BYTES = 1024 * 1024


class SourceTooLargeError(ValueError):
    """A source is larger than the caller can read at once.

    :param description: the source as the user gave it.
    :param size: its size in bytes.
    :param limit: the largest size allowed, in bytes.
    """

    def __init__(self, description: str, size: int, limit: int) -> None:
        super().__init__(f"{description} is {size} bytes, more than the {limit} bytes allowed")
        self.description = description
        self.size = size
        self.limit = limit


class Source:
    """A file to read: a local path (``fs`` is ``None``) or a path on an fsspec filesystem.

    Build one with :func:`resolve`.

    :param fs: the fsspec filesystem, or ``None`` for a local file.
    :param path: the path on ``fs``, or the absolute local path.
    :param description: the source as the user gave it (for messages).
    """

    def __init__(self, fs: Any, path: str, description: str) -> None:
        self.fs = fs
        self.path = path
        self.description = description

    def __repr__(self) -> str:
        return f"Source({self.description!r})"

    @property
    def is_local(self) -> bool:
        """Whether the file is on the local disk (read with OS calls)."""
        return self.fs is None

    @property
    def name(self) -> str:
        """The file name: the last segment of the path (of a URL's path, without its query)."""
        if self.fs is None:
            return os.path.basename(self.path.rstrip(os.sep))
        # An http(s) filesystem's paths are whole URLs: their query is no part of the name.
        path = urlsplit(self.path).path if "://" in self.path else self.path
        return path.rstrip("/").rsplit("/", 1)[-1]

    @property
    def uri(self) -> str:
        """A stable URI of the file, safe to store and to log.

        A local file is ``file://`` and its absolute path; any other source is the URI it was given
        as, without user info, query or fragment (a presigned URL's signature lives there).
        """
        if self.fs is None:
            return Path(self.path).as_uri()
        return public_uri(self.description)

    def sha256(self, *, block_size: int = HASH_BLOCK_BYTES) -> tuple[int, str]:
        """Read the file once, ``block_size`` bytes at a time, and return ``(size, SHA-256 hex)``.

        Memory stays at one block whatever the file's size; the size is what was read.

        :param block_size: the bytes read at a time.
        :raises FileNotFoundError: when nothing is at the path.
        """
        digest = hashlib.sha256()
        size = 0
        with self.open() as handle:
            while block := handle.read(block_size):
                size += len(block)
                digest.update(block)
        return size, digest.hexdigest()

    def exists(self) -> bool:
        """Whether something (a file or a directory) is at the path."""
        if self.fs is None:
            return os.path.exists(self.path)
        return bool(self.fs.exists(self.path))

    def is_dir(self) -> bool:
        """Whether the path is a directory."""
        if self.fs is None:
            return os.path.isdir(self.path)
        return bool(self.fs.isdir(self.path))

    def is_file(self) -> bool:
        """Whether the path is a file."""
        if self.fs is None:
            return os.path.isfile(self.path)
        return bool(self.fs.isfile(self.path))

    def size(self) -> int:
        """Return the file's size in bytes.

        :raises FileNotFoundError: when nothing is at the path.
        :raises IsADirectoryError: when the path is a directory.
        """
        if self.fs is None:
            status = os.stat(self.path)
            if stat.S_ISDIR(status.st_mode):
                raise IsADirectoryError(f"{self.description} is a directory, not a file")
            return status.st_size
        info = self.fs.info(self.path)
        if info.get("type") == "directory":
            raise IsADirectoryError(f"{self.description} is a directory, not a file")
        size = info.get("size")
        return int(size) if size is not None else int(self.fs.size(self.path))

    def open(self) -> IO[bytes]:
        """Open the file for reading bytes; the caller closes it. Each call opens it afresh."""
        if self.fs is None:
            return open(self.path, "rb")
        handle: IO[bytes] = self.fs.open(self.path, "rb")
        return handle

    def read(self, limit: int) -> bytes:
        """Read the whole file, refusing one larger than ``limit`` bytes before reading it.

        :param limit: the largest size accepted, in bytes.
        :raises SourceTooLargeError: when the file is larger (also when it grew while being read).
        :raises FileNotFoundError: when nothing is at the path.
        """
        size = self.size()
        if size > limit:
            raise SourceTooLargeError(self.description, size, limit)
        with self.open() as handle:
            # One byte more than allowed tells a file that grew since its size was read.
            data = handle.read(limit + 1)
        if len(data) > limit:
            raise SourceTooLargeError(self.description, len(data), limit)
        return data


def public_uri(text: str) -> str:
    """Return a URI without its user info, query and fragment (where credentials and signatures live).

    :param text: a URI such as ``s3://bucket/key`` or ``https://host/a.mp4?X-Amz-Signature=...``.
    """
    if "://" not in text:
        return text
    parts = urlsplit(text)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _is_local(fs: Any) -> bool:
    protocol = fs.protocol
    protocols = (protocol,) if isinstance(protocol, str) else tuple(protocol)
    return bool({"file", "local"} & set(protocols))


def _on_fs(fs: Any, path: str, description: str) -> Source:
    # A file:// URI or a local ObjectStoragePath is a local file, read with OS calls and named by
    # its path in messages.
    return Source(None, path, path) if _is_local(fs) else Source(fs, path, description)


def _url_to_fs(url: str) -> tuple[Any, str]:
    """Return ``(filesystem, path)`` of a URL, through Airflow's object storage when it knows the scheme."""
    with contextlib.suppress(ValueError, ImportError):
        from airflow.providers.common.compat.sdk import ObjectStoragePath

        target = ObjectStoragePath(url)
        return target.fs, target.path
    import fsspec

    try:
        fs, path = fsspec.core.url_to_fs(url)
    except ImportError as exc:
        scheme = url.split("://", 1)[0]
        raise ValueError(f"Reading {scheme}:// sources needs an extra package: {exc}") from None
    return fs, path


def resolve(source: Any, *, conn_id: str | None = None) -> Source:
    """Return the :class:`Source` of a local path, a URI or an ``ObjectStoragePath``.

    Nothing is read and nothing needs to exist yet.

    :param source: a local path (``str`` or path-like), a URI such as ``s3://bucket/key``,
        ``file:///data/a.mp4``, ``memory://x/y`` or ``https://host/a.mp4``, or an ``ObjectStoragePath``.
    :param conn_id: an Airflow connection holding the object store's credentials (for URIs).
    :raises ValueError: for an empty source, or a scheme whose filesystem is not installed.
    """
    if hasattr(source, "fs") and hasattr(source, "path"):
        if conn_id is None:
            # An ObjectStoragePath (or any UPath): its filesystem, with its Airflow connection, reads it.
            return _on_fs(source.fs, source.path, str(source))
        source = str(source)
    text = os.fspath(source) if isinstance(source, os.PathLike) else source
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"a source must be a non-empty local path or URI, got {source!r}")
    if "://" in text:
        if conn_id is not None:
            target = storage_path(text, conn_id=conn_id)
            return _on_fs(target.fs, target.path, text)
        fs, path = _url_to_fs(text)
        return _on_fs(fs, path, text)
    return Source(None, os.path.abspath(os.path.expanduser(text)), text)


def content_key(source: Any, *, conn_id: str | None = None) -> ContentKey:
    """Read a file once, in bounded blocks, and return its content key (source URI, size, SHA-256).

    This is the key the upload operators store in an asset's ``user_metadata`` (and the index
    operator in the indexed asset's) with ``dedupe="content"``: computing it elsewhere, for example
    in a DAG task that plans which files are new, gives the same key for the same file.

    :param source: a local path, a URI or an ``ObjectStoragePath`` (see :func:`resolve`).
    :param conn_id: an Airflow connection holding the object store's credentials (for URIs).
    :raises FileNotFoundError: when nothing is at the path.
    """
    from airflow_provider_twelvelabs.requests.assets import ContentKey

    src = resolve(source, conn_id=conn_id)
    size, digest = src.sha256()
    return ContentKey(src.uri, size, digest)


def storage_path(path: str | Any, *, conn_id: str | None = None) -> ObjectStoragePath:
    """Return the ``ObjectStoragePath`` of a local path or an object-storage URI (to write results to).

    :param path: a local path, an ``ObjectStoragePath``, or a URI such as ``s3://bucket/key``.
    :param conn_id: an Airflow connection holding the object store's credentials.
    """
    from airflow.providers.common.compat.sdk import ObjectStoragePath

    if isinstance(path, ObjectStoragePath) and conn_id is None:
        return path
    text = str(path).strip() if path is not None else ""
    if not text:
        raise ValueError("output path must be a non-empty local path or object-storage URI")
    return ObjectStoragePath(text, conn_id=conn_id) if conn_id else ObjectStoragePath(text)


def remote_size(url: str, *, timeout: float = 10.0) -> int | None:
    """Return the size a public URL announces (``Content-Length`` of a ``HEAD``), or ``None``.

    Used to check the URL upload limit before asking the platform to fetch the URL. Sent without any
    API key; any failure means "unknown" and the platform has the last word.

    :param url: the public ``http(s)`` URL.
    :param timeout: seconds to wait for the answer.
    """
    import httpx

    try:
        with httpx.Client(timeout=timeout, follow_redirects=True) as client:
            response = client.head(url)
    except httpx.HTTPError:
        return None
    if not response.is_success:
        return None
    try:
        size = int(response.headers.get("content-length", ""))
    except ValueError:
        return None
    return size if size >= 0 else None
