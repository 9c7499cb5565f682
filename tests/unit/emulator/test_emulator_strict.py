"""Where the emulator is as strict as the real API: media it refuses, generation without Pegasus, timing."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import httpx
import pytest

from airflow_provider_twelvelabs.testing.emulator import EmulatorConfig
from airflow_provider_twelvelabs.testing.emulator.media import media_kind, mp4_duration
from tests.unit.emulator.conftest import poll
from tests.unit.emulator.test_emulator_media import mp4

SAMPLES = Path(__file__).resolve().parents[3] / "example_dags" / "media"
# Lengths the samples were made with (ffmpeg duration=6 / duration=5 / -t 5; see their README).
SAMPLE_SECONDS = {"testsrc_640x360.mp4": 6.0, "smptebars_480x360.mp4": 5.0, "mandelbrot_480x480.mp4": 5.0}
MARENGO = {"model_name": "marengo3.0", "model_options": ["visual", "audio"]}
PEGASUS = {"model_name": "pegasus1.2", "model_options": ["visual", "audio"]}


@pytest.mark.parametrize("name", sorted(SAMPLE_SECONDS))
def test_shipped_samples_report_their_true_length(name: str) -> None:
    assert mp4_duration(SAMPLES / name) == SAMPLE_SECONDS[name]
    assert media_kind(SAMPLES / name) == "video"


def test_a_truncated_mp4_has_no_duration(tmp_path: Path) -> None:
    data = (SAMPLES / "testsrc_640x360.mp4").read_bytes()
    for cut in (len(data) // 2, 100, 20):
        path = tmp_path / f"cut{cut}.mp4"
        path.write_bytes(data[:cut])
        assert mp4_duration(path) is None, cut
        assert media_kind(path) == "not_media", cut


@pytest.mark.parametrize(
    ("content", "kind"),
    [
        (b"%PDF-1.7\n" + b"x" * 100, "not_media"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 100, "not_media"),
        (b'{"code": "not_found"}', "not_media"),
        (b"<!DOCTYPE html><html></html>", "not_media"),
        (b"", "not_media"),
        (b"\x1a\x45\xdf\xa3" + b"\0" * 100, "video"),
        (b"RIFF\0\0\0\0AVI LIST" + b"\0" * 100, "video"),
        (b"RIFF\0\0\0\0WAVEfmt " + b"\0" * 100, "audio"),
        (b"placeholder bytes of a test video", "unknown"),
    ],
)
def test_media_kind(tmp_path: Path, content: bytes, kind: str) -> None:
    path = tmp_path / "file.mp4"
    path.write_bytes(content)
    assert media_kind(path) == kind


def upload(api: httpx.Client, name: str, content: bytes) -> dict[str, Any]:
    files = {"file": (name, content, "video/mp4")}
    response = api.post("/assets", data={"method": "direct"}, files=files)
    assert response.status_code == 201, response.text
    asset_id = response.json()["_id"]
    poll(api, f"/assets/{asset_id}")
    body: dict[str, Any] = api.get(f"/assets/{asset_id}").json()
    return body


def new_index(api: httpx.Client, *models: dict[str, Any]) -> str:
    response = api.post(
        "/indexes", json={"index_name": f"i{len(models)}-{id(models)}", "models": list(models)}
    )
    assert response.status_code == 201, response.text
    return str(response.json()["_id"])


def test_uploaded_sample_reports_its_true_length(api: httpx.Client) -> None:
    asset = upload(api, "testsrc_640x360.mp4", (SAMPLES / "testsrc_640x360.mp4").read_bytes())
    assert asset["status"] == "ready"
    assert asset["duration"] == 6.0


@pytest.mark.parametrize(
    "content",
    [(SAMPLES / "smptebars_480x360.mp4").read_bytes()[:5000], b"%PDF-1.4 not a video"],
    ids=["truncated-mp4", "pdf"],
)
def test_upload_that_is_not_a_video_fails(api: httpx.Client, content: bytes) -> None:
    asset = upload(api, "clip.mp4", content)
    assert asset["status"] == "failed"
    assert asset["error"]["message"].startswith("video_file_broken:")
    assert "duration" not in asset


def test_placeholder_bytes_pass_by_default(api: httpx.Client) -> None:
    assert upload(api, "clip.mp4", b"placeholder " * 100)["status"] == "ready"


@pytest.mark.parametrize("emulator_config", [EmulatorConfig(strict_media=True)])
def test_strict_media_refuses_placeholder_bytes(api: httpx.Client) -> None:
    assert upload(api, "clip.mp4", b"placeholder " * 100)["status"] == "failed"
    assert upload(api, "real.mp4", (SAMPLES / "mandelbrot_480x480.mp4").read_bytes())["status"] == "ready"


def test_a_video_under_4_seconds_cannot_be_indexed(api: httpx.Client) -> None:
    short = upload(api, "short.mp4", mp4(1000, 2500))
    assert short["status"] == "ready" and short["duration"] == 2.5
    index_id = new_index(api, MARENGO)
    response = api.post(f"/indexes/{index_id}/indexed-assets", json={"asset_id": short["_id"]})
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "video_duration_too_short"
    legacy = api.post(
        "/tasks",
        data={"index_id": index_id},
        files={"video_file": ("short.mp4", mp4(1000, 2500), "video/mp4")},
    )
    assert legacy.status_code == 400, legacy.text
    assert legacy.json()["code"] == "video_duration_too_short"
    long_enough = upload(api, "ok.mp4", mp4(1000, 4000))
    ok = api.post(f"/indexes/{index_id}/indexed-assets", json={"asset_id": long_enough["_id"]})
    assert ok.status_code == 202, ok.text


def test_analysis_of_a_video_under_1_second_is_refused(api: httpx.Client) -> None:
    tiny = upload(api, "tiny.mp4", mp4(1000, 500))
    video = {"type": "asset_id", "asset_id": tiny["_id"]}
    sync = api.post("/analyze", json={"video": video, "prompt": "Describe.", "stream": False})
    assert sync.status_code == 400 and sync.json()["code"] == "video_duration_too_short", sync.text
    task = api.post("/analyze/tasks", json={"video": video, "prompt": "Describe."})
    assert task.status_code == 400 and task.json()["code"] == "video_duration_too_short", task.text
    ok = upload(api, "ok.mp4", mp4(1000, 20_000))
    batch = api.post(
        "/analyze/batches",
        json={
            "model_name": "pegasus1.5",
            "analysis_mode": "general",
            "defaults": {"prompt": {"input_text": "Describe."}},
            "requests": [
                {"video": video, "custom_id": "tiny"},
                {"video": {"type": "asset_id", "asset_id": ok["_id"]}, "custom_id": "ok"},
            ],
        },
    )
    assert batch.status_code == 200, batch.text
    items = {i["custom_id"]: i["task_id"] for i in batch.json()["items"]}
    failed = api.get(f"/analyze/tasks/{items['tiny']}").json()
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "video_duration_too_short"
    assert poll(api, f"/analyze/tasks/{items['ok']}")[-1] == "ready"


def test_generation_by_video_id_needs_a_pegasus_index(api: httpx.Client) -> None:
    asset = upload(api, "talk.mp4", (SAMPLES / "testsrc_640x360.mp4").read_bytes())
    results = {}
    for label, models in (("marengo", (MARENGO,)), ("both", (MARENGO, PEGASUS))):
        index_id = new_index(api, *models)
        created = api.post(f"/indexes/{index_id}/indexed-assets", json={"asset_id": asset["_id"]})
        video_id = created.json()["_id"]
        poll(api, f"/indexes/{index_id}/indexed-assets/{video_id}")
        results[label] = api.post(
            "/analyze", json={"video_id": video_id, "prompt": "Title?", "stream": False}
        )
    assert results["marengo"].status_code == 400
    assert results["marengo"].json()["code"] == "index_not_supported_for_generate"
    assert results["both"].status_code == 200, results["both"].text
    # The asset itself is analysed directly, whatever index holds it (SDK 1.3.6 VideoContext asset_id).
    direct = api.post(
        "/analyze",
        json={"video": {"type": "asset_id", "asset_id": asset["_id"]}, "prompt": "Title?", "stream": False},
    )
    assert direct.status_code == 200, direct.text


@pytest.mark.parametrize("emulator_config", [EmulatorConfig(analyze_task_seconds=30, polls_per_step=1)])
def test_analyze_task_seconds_sets_how_long_a_task_takes(api: httpx.Client, raw: httpx.Client) -> None:
    b64 = base64.b64encode(mp4(1000, 20_000)).decode()
    task_id = api.post(
        "/analyze/tasks",
        json={"video": {"type": "base64_string", "base64_string": b64}, "prompt": "Describe."},
    ).json()["task_id"]
    seen = {api.get(f"/analyze/tasks/{task_id}").json()["status"] for _ in range(10)}
    assert seen == {"queued"}  # reads do not move it
    statuses = []
    for _ in range(3):
        assert raw.post("/_emulator/advance", json={"seconds": 10}).status_code == 200
        statuses.append(api.get(f"/analyze/tasks/{task_id}").json()["status"])
    assert statuses == ["pending", "processing", "ready"]
