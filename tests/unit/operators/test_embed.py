"""Unit tests of the embedding operators' request building, the result writers and the JSON stream."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_twelvelabs import results
from airflow_provider_twelvelabs.hooks.json_stream import JsonItemStream, JsonStreamError
from airflow_provider_twelvelabs.hooks.twelvelabs import redact_url
from airflow_provider_twelvelabs.operators.embed import (
    TwelveLabsCreateEmbeddingTaskOperator,
    TwelveLabsCreateVideoEmbeddingTaskOperator,
    TwelveLabsEmbedOperator,
    embedding_parquet_schema,
)


def png_bytes(width: int = 256, height: int = 256) -> bytes:
    """The head of a PNG file: signature and IHDR chunk (enough for format and size checks)."""
    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + len(ihdr).to_bytes(4, "big") + b"IHDR" + ihdr + b"\0\0\0\0" + b"\0" * 64


def jpeg_bytes(width: int = 300, height: int = 200) -> bytes:
    """A JPEG head: SOI, an APP0 segment, then an SOF0 frame header with the picture size."""
    app0 = b"\xff\xe0" + (16).to_bytes(2, "big") + b"JFIF\0" + b"\x01\x01\0\0\x01\0\x01\0\0"
    sof0 = (
        b"\xff\xc0" + (17).to_bytes(2, "big") + b"\x08" + height.to_bytes(2, "big") + width.to_bytes(2, "big")
    )
    return b"\xff\xd8" + app0 + sof0 + b"\x03" + b"\0" * 40


# --------------------------------------------------------------------------- request bodies


def test_text_request() -> None:
    op = TwelveLabsEmbedOperator(task_id="t", input_type="text", text="a red car")
    assert op.build_request() == {
        "input_type": "text",
        "model_name": "marengo3.0",
        "text": {"input_text": "a red car"},
    }


def test_image_request_from_a_png_file_is_base64(tmp_path: Path) -> None:
    image = tmp_path / "cat.png"
    image.write_bytes(png_bytes())
    body = TwelveLabsEmbedOperator(task_id="t", input_type="image", file_path=str(image)).build_request()
    assert base64.b64decode(body["image"]["media_source"]["base64_string"]) == image.read_bytes()


def test_text_image_request_from_a_jpeg_file_uri(tmp_path: Path) -> None:
    image = tmp_path / "dog.jpg"
    image.write_bytes(jpeg_bytes())
    body = TwelveLabsEmbedOperator(
        task_id="t", input_type="text_image", text="a dog", file_path=image.as_uri()
    ).build_request()
    assert body["text_image"]["input_text"] == "a dog"
    assert base64.b64decode(body["text_image"]["media_source"]["base64_string"]) == image.read_bytes()


def test_video_request_with_every_option() -> None:
    body = TwelveLabsEmbedOperator(
        task_id="t",
        input_type="video",
        asset_id="6298d673f1090f1100476d4c",
        start_sec=5,
        end_sec=65,
        segmentation="dynamic",
        segment_duration_sec=3,
        embedding_option=["visual", "audio"],
        embedding_scope=["clip"],
        embedding_type=["separate_embedding", "fused_embedding"],
    ).build_request()
    assert body["video"] == {
        "media_source": {"asset_id": "6298d673f1090f1100476d4c"},
        "start_sec": 5.0,
        "end_sec": 65.0,
        "segmentation": {"strategy": "dynamic", "dynamic": {"min_duration_sec": 3}},
        "embedding_option": ["visual", "audio"],
        "embedding_scope": ["clip"],
        "embedding_type": ["separate_embedding", "fused_embedding"],
    }


def test_audio_fixed_segmentation_gets_the_default_length() -> None:
    body = TwelveLabsEmbedOperator(
        task_id="t", input_type="audio", url="https://media.test/a.mp3", segmentation="fixed"
    ).build_request()
    assert body["audio"]["segmentation"] == {"strategy": "fixed", "fixed": {"duration_sec": 6}}


def test_marengo35_async_wraps_segmentation_in_temporal() -> None:
    body = TwelveLabsCreateEmbeddingTaskOperator(
        task_id="t",
        input_type="video",
        model_name="marengo3.5",
        url="https://media.test/v.mp4",
        segmentation={"strategy": "fixed", "fixed": {"duration_sec": 4}},
        embedding_scope=["local"],
        embedding_dimension=256,
        embedding_uncertainty=True,
    ).build_request()
    assert body["embedding_dimension"] == 256
    assert body["embedding_uncertainty"] is True
    assert body["video"]["segmentation"] == {"temporal": {"strategy": "fixed", "fixed": {"duration_sec": 4}}}


def test_multi_input_request(tmp_path: Path) -> None:
    image = tmp_path / "logo.png"
    image.write_bytes(png_bytes())
    body = TwelveLabsEmbedOperator(
        task_id="t",
        input_type="multi_input",
        model_name="marengo3.5",
        text="<@logo> on a <@shirt>",
        media_sources=[
            {"media_type": "image", "name": "logo", "file_path": str(image)},
            {"media_type": "image", "name": "shirt", "url": "https://media.test/shirt.jpg"},
        ],
        embedding_dimension=128,
        auto_truncate=True,
    ).build_request()
    sources = body["multi_input"]["media_sources"]
    assert [s["name"] for s in sources] == ["logo", "shirt"]
    assert "base64_string" in sources[0] and sources[1]["url"] == "https://media.test/shirt.jpg"
    assert body["auto_truncate"] is True and body["embedding_dimension"] == 128


def test_v1_request_fields(tmp_path: Path) -> None:
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"\0" * 1000)
    op = TwelveLabsCreateVideoEmbeddingTaskOperator(
        task_id="t",
        video_file=str(video),
        video_clip_length=4,
        video_start_offset_sec=0,
        video_end_offset_sec=20,
        video_embedding_scope=["clip", "video"],
    )
    fields = op.build_request()
    part = fields.pop("video_file")
    assert fields == {
        "model_name": "marengo3.0",
        "video_start_offset_sec": 0.0,
        "video_end_offset_sec": 20.0,
        "video_clip_length": 4.0,
        "video_embedding_scope": ["clip", "video"],
    }
    assert part.filename == "clip.mp4" and part.content_type == "video/mp4"
    with part.open() as handle:
        assert handle.read() == video.read_bytes()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"input_type": "image", "file_path": "tiny"}, "at least 128x128"),
        ({"input_type": "image", "file_path": "gif"}, "not a JPEG or PNG"),
    ],
)
def test_image_file_checks(tmp_path: Path, kwargs: dict[str, Any], message: str) -> None:
    files = {"tiny": png_bytes(64, 64), "gif": b"GIF89a" + b"\0" * 30}
    path = tmp_path / kwargs["file_path"]
    path.write_bytes(files[kwargs["file_path"]])
    with pytest.raises(ValueError, match=message):
        TwelveLabsEmbedOperator(task_id="t", **{**kwargs, "file_path": str(path)}).build_request()


def test_oversized_inline_media_is_refused_before_reading(tmp_path: Path) -> None:
    video = tmp_path / "big.mp4"
    with video.open("wb") as handle:
        handle.truncate(37 * 1024 * 1024)
    with pytest.raises(ValueError, match=r"file_path.*36 MB"):
        TwelveLabsEmbedOperator(task_id="t", input_type="video", file_path=str(video)).build_request()


def test_redact_url_hides_the_query() -> None:
    assert (
        redact_url("https://b.s3.test/v.mp4?X-Amz-Signature=secret") == "https://b.s3.test/v.mp4?<redacted>"
    )


def test_importing_the_operators_is_cheap() -> None:
    code = "import sys; import airflow_provider_twelvelabs.operators.embed; print('pyarrow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "False"


# --------------------------------------------------------------------------- result writers


def test_jsonl_and_parquet_hold_the_same_rows(tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    rows = [
        {
            "embedding_option": "visual",
            "embedding_scope": "clip",
            "start_sec": float(i),
            "end_sec": i + 1.0,
            "embedding": [i / 7, -i / 3, 0.1],
            "model": "marengo3.0",
        }
        for i in range(1300)
    ]
    jsonl = results.write_records(tmp_path / "out" / "e.jsonl", iter(rows))
    assert jsonl["count"] == 1300 and jsonl["bytes"] == (tmp_path / "out" / "e.jsonl").stat().st_size
    assert [json.loads(line) for line in (tmp_path / "out" / "e.jsonl").read_text().splitlines()] == rows
    manifest = results.write_records(
        str(tmp_path / "e.parquet"), iter(rows), format="parquet", schema=embedding_parquet_schema()
    )
    table = pq.read_table(tmp_path / "e.parquet")
    assert manifest["count"] == table.num_rows == 1300
    assert table.column("embedding").to_pylist() == [r["embedding"] for r in rows]
    # One row group per batch: memory holds one batch, not the whole table.
    assert pq.ParquetFile(tmp_path / "e.parquet").num_row_groups == 3


def test_a_failed_write_leaves_no_partial_file(tmp_path: Path) -> None:
    def rows() -> Any:
        yield {"a": 1}
        raise RuntimeError("source broke")

    with pytest.raises(RuntimeError):
        results.write_jsonl(tmp_path / "x.jsonl", rows())
    assert not (tmp_path / "x.jsonl").exists()


def test_document_writers(tmp_path: Path) -> None:
    doc = results.write_json(tmp_path / "a.json", {"summary": "é", "n": [1, 2]})
    assert json.loads((tmp_path / "a.json").read_text()) == {"summary": "é", "n": [1, 2]}
    assert doc["format"] == "json" and doc["bytes"] == (tmp_path / "a.json").stat().st_size
    text = results.write_text(tmp_path / "t" / "a.txt", iter(["Chapter 1. ", "Über"]))
    assert (tmp_path / "t" / "a.txt").read_text() == "Chapter 1. Über"
    assert text["characters"] == 15 and text["bytes"] == 16


def test_parquet_without_pyarrow_names_the_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(ImportError, match=r"'parquet' extra"):
        results.write_parquet(tmp_path / "x.parquet", [])
    op = TwelveLabsEmbedOperator(
        task_id="t",
        input_type="text",
        text="x",
        output_path=str(tmp_path / "x.parquet"),
        output_format="parquet",
    )
    with pytest.raises(ImportError, match=r"'parquet' extra"):
        op.build_request()


# --------------------------------------------------------------------------- JSON stream


@pytest.mark.parametrize("chunk", [1, 3, 17, 4096])
def test_json_stream_yields_items_and_keeps_the_other_fields(chunk: int) -> None:
    doc = {
        "_id": "t1",
        "status": "ready",
        "data": [{"embedding": [0.5, -1.25e-3, 3], "text": 'quote " and ] and é'} for _ in range(20)],
        "metadata": {"duration": 12.5, "embedding_scopes": ["clip"]},
        "usage": None,
        "count": 1234567,
    }
    raw = json.dumps(doc).encode()
    stream = JsonItemStream((raw[i : i + chunk] for i in range(0, len(raw), chunk)), ("data",))
    assert list(stream) == doc["data"]
    assert stream.fields == {k: v for k, v in doc.items() if k != "data"}
    assert stream.found and stream.count == 20


def test_json_stream_nested_path_and_null_array() -> None:
    raw = b'{"_id":"x","video_embedding":{"metadata":{"d":1},"segments":[{"float":[1.0]}]}}'
    stream = JsonItemStream([raw], ("video_embedding", "segments"))
    assert list(stream) == [{"float": [1.0]}]
    assert stream.fields == {"_id": "x", "video_embedding": {"metadata": {"d": 1}}}
    empty = JsonItemStream([b'{"data": null, "status": "processing"}'], ("data",))
    assert list(empty) == [] and not empty.found and empty.fields["status"] == "processing"


def test_json_stream_rejects_a_truncated_answer() -> None:
    with pytest.raises(JsonStreamError):
        list(JsonItemStream([b'{"data": [{"embedding": [1, 2]}, {"embedd'], ("data",)))
