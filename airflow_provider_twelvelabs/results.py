"""Write large task results to a local path or any object-storage URI, and describe them in a manifest.

Large results (the vectors of a long video, a long analysis) do not belong in XCom: operators
write them with these functions and push the small manifest they return (``path``, ``format``,
``count``, ``bytes``) instead. A path is a local path (``/data/out.jsonl``) or any URI that
Airflow's ``ObjectStoragePath`` understands (``s3://bucket/key``, ``gs://...``, ``file://...``),
optionally with an Airflow connection for credentials.

Records are written as they come from an iterator, so a caller that streams its input keeps about
one record in memory: JSON Lines line by line, Parquet in record batches (pyarrow is the optional
``parquet`` extra, imported only when Parquet is asked for).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator, Mapping
from types import ModuleType
from typing import IO, TYPE_CHECKING, Any

# Re-exported: result paths and input files are resolved by one module.
from airflow_provider_twelvelabs.sources import storage_path

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import ObjectStoragePath

__all__ = [
    "DOCUMENT_FORMATS",
    "RECORD_FORMATS",
    "import_pyarrow",
    "open_output",
    "storage_path",
    "write_json",
    "write_jsonl",
    "write_parquet",
    "write_records",
    "write_text",
]

#: Formats for a sequence of records (one row per record).
RECORD_FORMATS = ("jsonl", "parquet")
#: Formats for one document.
DOCUMENT_FORMATS = ("json", "text")
#: Rows per Parquet record batch (and row group): ~2 MB for 512-float vectors.
DEFAULT_BATCH_ROWS = 512
_LOCAL_PROTOCOLS = ("", "file", "local")


def import_pyarrow() -> tuple[ModuleType, ModuleType]:
    """Return ``(pyarrow, pyarrow.parquet)``, or raise an error naming the extra that provides them."""
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise ImportError(
            "Writing Parquet needs pyarrow: install the provider with its 'parquet' extra "
            "(pip install 'airflow-provider-twelvelabs[parquet]') or choose output_format='jsonl'."
        ) from None
    return pyarrow, pyarrow.parquet


def _display(path: ObjectStoragePath) -> str:
    return str(path)


@contextlib.contextmanager
def open_output(path: str | Any, *, conn_id: str | None = None) -> Iterator[IO[bytes]]:
    """Open a path for writing bytes; a partly written file is removed when the block fails.

    Parent directories of local paths are created.

    :param path: a local path or an object-storage URI.
    :param conn_id: an Airflow connection for the object store.
    """
    target = storage_path(path, conn_id=conn_id)
    if target.protocol in _LOCAL_PROTOCOLS:
        target.parent.mkdir(parents=True, exist_ok=True)
    handle = target.open("wb")
    try:
        yield handle
    except BaseException:
        with contextlib.suppress(Exception):
            handle.close()
        # A half-written result must not pass for a complete one downstream.
        with contextlib.suppress(Exception):
            target.unlink()
        raise
    handle.close()


def _size(path: str | Any, conn_id: str | None) -> int | None:
    with contextlib.suppress(Exception):
        return int(storage_path(path, conn_id=conn_id).stat().st_size)
    return None


def _manifest(path: str | Any, conn_id: str | None, fmt: str, **extra: Any) -> dict[str, Any]:
    return {"path": _display(storage_path(path, conn_id=conn_id)), "format": fmt, **extra}


def write_jsonl(
    path: str | Any, records: Iterable[Mapping[str, Any]], *, conn_id: str | None = None
) -> dict[str, Any]:
    """Write records as JSON Lines, one compact JSON object per line, as they come.

    :param path: a local path or an object-storage URI.
    :param records: the records; consumed once.
    :param conn_id: an Airflow connection for the object store.
    :return: the manifest ``{"path", "format": "jsonl", "count", "bytes"}``.
    """
    count = 0
    size = 0
    encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode
    with open_output(path, conn_id=conn_id) as handle:
        for record in records:
            line = (encode(record) + "\n").encode("utf-8")
            handle.write(line)
            size += len(line)
            count += 1
    return _manifest(path, conn_id, "jsonl", count=count, bytes=size)


def write_parquet(
    path: str | Any,
    records: Iterable[Mapping[str, Any]],
    *,
    schema: Any = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    conn_id: str | None = None,
) -> dict[str, Any]:
    """Write records as a Parquet file, one record batch (and row group) per ``batch_rows`` records.

    :param path: a local path or an object-storage URI.
    :param records: the records; consumed once.
    :param schema: a ``pyarrow.Schema``; inferred from the first batch when ``None`` (pass one
        when a column may be all null in the first batch).
    :param batch_rows: records per batch; memory holds about one batch.
    :param conn_id: an Airflow connection for the object store.
    :return: the manifest ``{"path", "format": "parquet", "count", "bytes"}``.
    :raises ImportError: when pyarrow (the ``parquet`` extra) is not installed.
    """
    pa, pq = import_pyarrow()
    if batch_rows < 1:
        raise ValueError("batch_rows must be at least 1")
    count = 0
    with open_output(path, conn_id=conn_id) as handle:
        writer: Any = None
        batch: list[Mapping[str, Any]] = []

        def flush() -> None:
            nonlocal writer, schema
            table = pa.Table.from_pylist(batch, schema=schema)
            if writer is None:
                schema = table.schema
                writer = pq.ParquetWriter(handle, schema, use_dictionary=_dictionary_columns(pa, schema))
            writer.write_table(table, row_group_size=batch_rows)
            batch.clear()

        try:
            for record in records:
                batch.append(record)
                count += 1
                if len(batch) >= batch_rows:
                    flush()
            if batch or writer is None:
                flush()
        finally:
            if writer is not None:
                writer.close()
    return _manifest(path, conn_id, "parquet", count=count, bytes=_size(path, conn_id))


def _dictionary_columns(pa: ModuleType, schema: Any) -> list[str]:
    """Return the columns worth dictionary encoding: all but floats and lists of floats.

    Dictionary-encoding embedding vectors (unique floats) gains nothing and held about three
    times the payload in the writer for a four-hour video.
    """

    def is_float(data_type: Any) -> bool:
        if pa.types.is_list(data_type) or pa.types.is_large_list(data_type):
            return is_float(data_type.value_type)
        return bool(pa.types.is_floating(data_type))

    return [field.name for field in schema if not is_float(field.type)]


def write_records(
    path: str | Any,
    records: Iterable[Mapping[str, Any]],
    *,
    format: str = "jsonl",
    schema: Any = None,
    conn_id: str | None = None,
) -> dict[str, Any]:
    """Write records as JSON Lines or Parquet, whichever ``format`` names.

    :param path: a local path or an object-storage URI.
    :param records: the records; consumed once.
    :param format: ``jsonl`` or ``parquet``.
    :param schema: the ``pyarrow.Schema`` for Parquet (ignored for JSON Lines).
    :param conn_id: an Airflow connection for the object store.
    :return: the manifest (see :func:`write_jsonl`, :func:`write_parquet`).
    """
    if format == "jsonl":
        return write_jsonl(path, records, conn_id=conn_id)
    if format == "parquet":
        return write_parquet(path, records, schema=schema, conn_id=conn_id)
    raise ValueError(f"format must be one of {', '.join(RECORD_FORMATS)}, got {format!r}")


def read_records(
    path: str | Any, *, format: str = "jsonl", conn_id: str | None = None
) -> list[dict[str, Any]]:
    """Read back what :func:`write_records` wrote: a list of records.

    :param path: a local path or an object-storage URI.
    :param format: ``jsonl`` or ``parquet``.
    :param conn_id: an Airflow connection for the object store.
    """
    target = storage_path(path, conn_id=conn_id)
    if format == "jsonl":
        with target.open("rb") as handle:
            return [json.loads(line) for line in handle if line.strip()]
    if format == "parquet":
        _, pq = import_pyarrow()
        with target.open("rb") as handle:
            rows: list[dict[str, Any]] = pq.read_table(handle).to_pylist()
        return rows
    raise ValueError(f"format must be one of {', '.join(RECORD_FORMATS)}, got {format!r}")


def write_json(path: str | Any, document: Any, *, conn_id: str | None = None) -> dict[str, Any]:
    """Write one JSON document, encoded piece by piece.

    :param path: a local path or an object-storage URI.
    :param document: any JSON-native value.
    :param conn_id: an Airflow connection for the object store.
    :return: the manifest ``{"path", "format": "json", "bytes"}``.
    """
    size = 0
    encoder = json.JSONEncoder(ensure_ascii=False, indent=None, allow_nan=False)
    with open_output(path, conn_id=conn_id) as handle:
        for piece in encoder.iterencode(document):
            data = piece.encode("utf-8")
            handle.write(data)
            size += len(data)
    return _manifest(path, conn_id, "json", bytes=size)


def write_text(
    path: str | Any, text: str | Iterable[str], *, conn_id: str | None = None, encoding: str = "utf-8"
) -> dict[str, Any]:
    """Write text, given whole or as pieces (for instance the fragments of a streamed answer).

    :param path: a local path or an object-storage URI.
    :param text: the text, or an iterable of its pieces; consumed once.
    :param conn_id: an Airflow connection for the object store.
    :param encoding: the text encoding.
    :return: the manifest ``{"path", "format": "text", "bytes", "characters"}``.
    """
    pieces: Iterable[str] = [text] if isinstance(text, str) else text
    size = 0
    characters = 0
    with open_output(path, conn_id=conn_id) as handle:
        for piece in pieces:
            data = piece.encode(encoding)
            handle.write(data)
            size += len(data)
            characters += len(piece)
    return _manifest(path, conn_id, "text", bytes=size, characters=characters)
