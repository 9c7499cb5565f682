"""The one opener of input files: local paths, fsspec/ObjectStoragePath URIs and http(s) URLs."""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import fsspec
import pytest

from airflow_provider_twelvelabs.sources import (
    Source,
    SourceTooLargeError,
    content_key,
    public_uri,
    remote_size,
    resolve,
    storage_path,
)

CONTENT = b"\x00\x01video bytes\xff" * 100


@pytest.fixture
def local_file(tmp_path: Path) -> Path:
    path = tmp_path / "clip.mp4"
    path.write_bytes(CONTENT)
    return path


@pytest.fixture
def memory_file() -> Iterator[str]:
    url = f"memory://sources-test/{uuid.uuid4().hex}/clip.mov"
    fs = fsspec.filesystem("memory")
    fs.pipe(url, CONTENT)
    yield url
    fs.rm(url)


def read_all(source: Source) -> bytes:
    with source.open() as handle:
        return handle.read()


class TestLocal:
    @pytest.mark.parametrize("as_type", [str, Path], ids=["str", "pathlike"])
    def test_a_local_path_is_read_with_os_calls(self, local_file: Path, as_type: type) -> None:
        source = resolve(as_type(local_file))

        assert source.is_local
        assert (source.name, source.size(), source.description) == ("clip.mp4", len(CONTENT), str(local_file))
        assert source.exists() and source.is_file() and not source.is_dir()
        assert read_all(source) == CONTENT

    def test_each_open_starts_from_the_beginning(self, local_file: Path) -> None:
        source = resolve(str(local_file))
        with source.open() as first:
            first.read(10)
            with source.open() as second:
                assert second.read() == CONTENT

    def test_home_is_expanded_and_relative_paths_made_absolute(
        self, local_file: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("HOME", str(local_file.parent))
        assert read_all(resolve("~/clip.mp4")) == CONTENT
        monkeypatch.chdir(local_file.parent)
        relative = resolve("clip.mp4")
        assert relative.path == str(local_file)
        assert relative.description == "clip.mp4"

    def test_a_file_uri_is_a_local_file(self, local_file: Path) -> None:
        source = resolve(f"file://{local_file}")
        assert source.is_local
        assert source.description == str(local_file)
        assert source.size() == len(CONTENT)

    def test_missing_file(self, tmp_path: Path) -> None:
        source = resolve(str(tmp_path / "missing.mp4"))
        assert not source.exists() and not source.is_file()
        with pytest.raises(FileNotFoundError):
            source.size()
        with pytest.raises(FileNotFoundError):
            source.read(1000)

    def test_a_directory_is_not_a_file(self, tmp_path: Path) -> None:
        source = resolve(str(tmp_path))
        assert source.exists() and source.is_dir() and not source.is_file()
        with pytest.raises(IsADirectoryError, match="is a directory, not a file"):
            source.size()


class TestObjectStorage:
    def test_an_fsspec_uri(self, memory_file: str) -> None:
        source = resolve(memory_file)

        assert not source.is_local
        assert (source.name, source.size(), source.description) == ("clip.mov", len(CONTENT), memory_file)
        assert source.exists() and source.is_file()
        assert read_all(source) == CONTENT

    def test_an_object_storage_path_is_read_through_its_filesystem(self, memory_file: str) -> None:
        class StoredPath:
            """What resolve() uses of an ObjectStoragePath (Airflow registers no memory:// store)."""

            fs = fsspec.filesystem("memory")
            path = memory_file.removeprefix("memory://")

            def __str__(self) -> str:
                return memory_file

        source = resolve(StoredPath())

        assert not source.is_local
        assert (source.name, source.description) == ("clip.mov", memory_file)
        assert read_all(source) == CONTENT

    def test_a_local_object_storage_path_is_a_local_file(self, local_file: Path) -> None:
        from airflow.providers.common.compat.sdk import ObjectStoragePath

        source = resolve(ObjectStoragePath(f"file://{local_file}"))

        assert source.is_local
        assert (source.name, source.description) == ("clip.mp4", str(local_file))
        assert read_all(source) == CONTENT

    def test_a_missing_object(self, memory_file: str) -> None:
        source = resolve(memory_file + ".missing")
        assert not source.exists()
        with pytest.raises(FileNotFoundError):
            source.size()

    def test_a_prefix_is_a_directory(self, memory_file: str) -> None:
        source = resolve(memory_file.rsplit("/", 1)[0])
        assert source.is_dir()
        with pytest.raises(IsADirectoryError):
            source.size()

    def test_an_unknown_scheme_is_refused(self) -> None:
        with pytest.raises(ValueError):
            resolve("nosuchscheme://bucket/key.mp4")

    def test_storage_path_keeps_an_object_storage_path_and_refuses_empty_paths(
        self, memory_file: str
    ) -> None:
        from airflow.providers.common.compat.sdk import ObjectStoragePath

        path = ObjectStoragePath("file:///data/out.jsonl")
        assert storage_path(path) is path
        assert storage_path("s3://bucket/out.jsonl").protocol == "s3"
        with pytest.raises(ValueError, match="non-empty"):
            storage_path("  ")


class TestReadWithinALimit:
    def test_reads_a_file_up_to_the_limit(self, local_file: Path, memory_file: str) -> None:
        assert resolve(str(local_file)).read(len(CONTENT)) == CONTENT
        assert resolve(memory_file).read(len(CONTENT)) == CONTENT

    @pytest.mark.parametrize("where", ["local", "memory"])
    def test_a_larger_file_is_refused_with_its_size(
        self, local_file: Path, memory_file: str, where: str
    ) -> None:
        source = resolve(str(local_file) if where == "local" else memory_file)
        with pytest.raises(SourceTooLargeError) as info:
            source.read(len(CONTENT) - 1)
        assert (info.value.size, info.value.limit) == (len(CONTENT), len(CONTENT) - 1)
        assert isinstance(info.value, ValueError)

    def test_a_file_that_grew_after_its_size_was_read_is_refused(
        self, local_file: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        source = resolve(str(local_file))
        monkeypatch.setattr(Source, "size", lambda self: 10)
        with pytest.raises(SourceTooLargeError) as info:
            source.read(10)
        assert info.value.size == 11


@pytest.mark.parametrize("source", ["", "   ", None, 12])
def test_an_empty_or_odd_source_is_refused(source: object) -> None:
    with pytest.raises(ValueError, match="non-empty local path or URI"):
        resolve(source)


def test_the_name_of_a_url_leaves_out_its_query() -> None:
    assert Source(object(), "https://cdn.test/media/talk.mp4?X-Signature=abc", "u").name == "talk.mp4"


class _HeadHandler(BaseHTTPRequestHandler):
    sizes = {"/a.mp4": "123456789", "/bad.mp4": "many"}

    def do_HEAD(self) -> None:
        size = self.sizes.get(self.path)
        if size is None:
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", size)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def head_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _HeadHandler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_remote_size_reads_the_announced_length_or_says_unknown(head_server: str) -> None:
    assert remote_size(f"{head_server}/a.mp4") == 123456789
    assert remote_size(f"{head_server}/bad.mp4") is None
    assert remote_size(f"{head_server}/missing.mp4") is None
    assert remote_size("http://127.0.0.1:9/unreachable.mp4", timeout=1) is None


def test_the_upload_engine_and_the_opener_stand_without_the_hook() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import airflow_provider_twelvelabs.hooks.multipart\n"
        "import airflow_provider_twelvelabs.sources\n"
        "print('airflow_provider_twelvelabs.hooks.twelvelabs' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


class _CountingHandle:
    """A binary handle that records how many bytes each read asked for."""

    def __init__(self, data: bytes) -> None:
        self._data, self._offset, self.reads = data, 0, []

    def read(self, size: int = -1) -> bytes:
        self.reads.append(size)
        chunk = self._data[self._offset : self._offset + size]
        self._offset += len(chunk)
        return chunk

    def __enter__(self) -> _CountingHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def test_sha256_streams_the_file_in_bounded_blocks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = bytes(range(256)) * 4099
    path = tmp_path / "clip.mp4"
    path.write_bytes(data)
    src = resolve(str(path))
    handle = _CountingHandle(data)
    monkeypatch.setattr(src, "open", lambda: handle)

    assert src.sha256(block_size=4096) == (len(data), hashlib.sha256(data).hexdigest())
    # Never the whole file at once: one block per read, and the file is read once.
    assert set(handle.reads) == {4096}
    assert len(handle.reads) == len(data) // 4096 + 2


def test_sha256_of_an_fsspec_file_matches_the_bytes() -> None:
    path = f"/hash-{uuid.uuid4().hex}/a.mp4"
    fsspec.filesystem("memory").pipe(path, b"abc" * 1000)
    assert resolve(f"memory://{path}").sha256() == (3000, hashlib.sha256(b"abc" * 1000).hexdigest())


@pytest.mark.parametrize(
    "given,uri",
    [
        (
            "https://user:pw@cdn.example.com:8443/v/a.mp4?X-Amz-Signature=s3cr3t#t=5",
            "https://cdn.example.com:8443/v/a.mp4",
        ),
        ("s3://bucket/videos/a.mp4", "s3://bucket/videos/a.mp4"),
        ("/plain/path.mp4", "/plain/path.mp4"),
    ],
)
def test_public_uri_drops_credentials_and_signatures(given: str, uri: str) -> None:
    assert public_uri(given) == uri


def test_the_uri_of_a_local_file_is_a_file_uri(tmp_path: Path) -> None:
    path = tmp_path / "a.mp4"
    assert resolve(str(path)).uri == path.as_uri()
    assert resolve(path.as_uri()).uri == path.as_uri()


def test_content_key_is_the_key_the_upload_operator_stores(tmp_path: Path) -> None:
    from airflow_provider_twelvelabs.operators.assets import TwelveLabsUploadAssetOperator
    from airflow_provider_twelvelabs.requests.assets import ContentKey

    path = tmp_path / "clip.mp4"
    path.write_bytes(CONTENT)
    key = content_key(str(path))
    assert key == ContentKey(path.as_uri(), len(CONTENT), hashlib.sha256(CONTENT).hexdigest())
    # The same file given as a file:// URI is the same content at the same source.
    assert content_key(path.as_uri()) == key
    operator = TwelveLabsUploadAssetOperator(task_id="upload", source=str(path))
    assert operator.upload_metadata() == key.to_metadata()


def test_content_key_of_an_object_store_file_names_its_uri() -> None:
    path = f"key-{uuid.uuid4().hex}/a.mp4"
    fsspec.filesystem("memory").pipe(f"/{path}", CONTENT)
    key = content_key(f"memory://{path}")
    assert (key.source, key.size, key.sha256) == (
        f"memory://{path}",
        len(CONTENT),
        hashlib.sha256(CONTENT).hexdigest(),
    )
