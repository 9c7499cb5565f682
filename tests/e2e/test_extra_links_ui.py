"""End to end: the operators' extra links as Airflow 3's UI shows them, checked in headless Chromium.

``airflow dags test`` runs the example DAG (one sample video) against the emulator; then
``airflow api-server`` serves that same database on 127.0.0.1. The test asks the REST API for each
task's links (``/api/v2/dags/{dag}/dagRuns/{run}/taskInstances/{task}/links``), then opens the task
instance Details tabs in headless Chromium (``--dump-dom`` once the single-page app has rendered) and
reads the link targets from the page. Chromium is installed with ``apt-get`` when it is missing and
this runs as root; otherwise the test is skipped, saying why.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from html import unescape
from pathlib import Path

import httpx
import pytest

from airflow_provider_twelvelabs.links import index_url, video_url
from airflow_provider_twelvelabs.testing.emulator.config import EmulatorConfig
from airflow_provider_twelvelabs.testing.emulator.server import RunningEmulator
from tests.e2e.airflow_stack import Service, free_port
from tests.helpers.airflow_home import AIRFLOW, airflow_ok, migrated_home

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "example_dags" / "media" / "testsrc_640x360.mp4"
DAG_ID = "twelvelabs_index_archive"
API_KEY = "tlk_LINKS_SECRET_8d2e41"
#: Without the background-networking flags, Chromium's own calls home fail on a closed network
#: and it refuses connections.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
_HREF = re.compile(r'<a\b[^>]*\bhref="([^"]+)"[^>]*>(.*?)</a>', re.DOTALL)


def _chromium() -> str:
    """Return the Chromium binary, installing the system package if it is missing and we may."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    if not shutil.which("apt-get"):
        pytest.skip("Chromium is not installed and there is no apt-get to install it")
    if os.geteuid() != 0:
        pytest.skip("Chromium is not installed, and installing it with apt-get needs root")
    for command in (
        ["apt-get", "update"],
        ["apt-get", "install", "-y", "--no-install-recommends", "chromium"],
    ):
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
        if done.returncode != 0:
            pytest.skip(f"could not install Chromium ({' '.join(command)}): {done.stderr.strip()[-500:]}")
    found = shutil.which("chromium")
    if not found:
        pytest.skip("apt-get installed chromium, but no chromium binary is on PATH")
    return found


def _dump_dom(chromium: str, url: str, *, want: str, timeout: float = 60) -> str:
    """Load ``url`` in headless Chromium and return the DOM once it contains ``want`` (or the last one)."""
    dom = ""
    deadline = time.monotonic() + timeout
    budget = 5000
    while time.monotonic() < deadline:
        with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
            done = subprocess.run(
                [
                    chromium,
                    *CHROMIUM_FLAGS,
                    f"--user-data-dir={profile}",
                    # Virtual time runs the app's timers and fetches before the DOM is dumped.
                    f"--virtual-time-budget={budget}",
                    "--dump-dom",
                    url,
                ],
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
        dom = done.stdout
        if want in dom:
            return dom
        budget = min(budget * 2, 30000)
    return dom


def _page_links(dom: str) -> dict[str, str]:
    """The anchors of a page: visible text (tags stripped) to target."""
    links = {}
    for href, inner in _HREF.findall(dom):
        text = unescape(re.sub(r"<[^>]+>", "", inner)).strip()
        links[text] = unescape(href)
    return links


@pytest.fixture
def twelvelabs_emulator_config() -> EmulatorConfig:
    return EmulatorConfig(api_key=API_KEY)


def test_extra_links_in_the_rest_api_and_on_the_task_pages(
    twelvelabs_connection: RunningEmulator, tmp_path: Path
) -> None:
    chromium = _chromium()
    media = tmp_path / "media"
    media.mkdir()
    shutil.copy(SAMPLE, media / SAMPLE.name)
    env = migrated_home(
        tmp_path / "airflow",
        dags=ROOT / "example_dags",
        emulator=twelvelabs_connection,
        timeout=120,
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="True",
        AIRFLOW__API_AUTH__JWT_SECRET="links-e2e-jwt-secret-0123456789abcdef",
        AIRFLOW__API__SECRET_KEY="links-e2e-secret-key",
        TWELVELABS_EXAMPLE_POLL_INTERVAL="0.2",
    )
    port = free_port()
    api = f"http://127.0.0.1:{port}"
    # The api-server starts (slowly) while the DAG runs: both use the same database.
    server = Service(
        "api-server",
        [AIRFLOW, "api-server", "--host", "127.0.0.1", "--port", str(port)],
        env,
        tmp_path / "api.log",
    ).start()
    try:
        conf = json.dumps({"source": str(media), "index_name": "links"})
        airflow_ok(env, "dags", "test", DAG_ID, "-c", conf, cwd=tmp_path)
        with httpx.Client(
            base_url=twelvelabs_connection.base_url, headers={"x-api-key": API_KEY}, timeout=10
        ) as client:
            (index,) = client.get("/indexes", params={"index_name": "links"}).json()["data"]
            (indexed,) = client.get(f"/indexes/{index['_id']}/indexed-assets").json()["data"]
        index_link, video_link = index_url(index["_id"]), video_url(index["_id"], indexed["_id"])

        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{api}/api/v2/monitor/health", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.alive and time.monotonic() < deadline, server.tail()
            time.sleep(0.5)

        runs = httpx.get(f"{api}/api/v2/dags/{DAG_ID}/dagRuns", timeout=30).json()["dag_runs"]
        assert [run["state"] for run in runs] == ["success"], runs
        run_id = runs[0]["dag_run_id"]

        # The REST API: what the UI reads.
        base = f"{api}/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances"
        create = httpx.get(f"{base}/create_index/links", timeout=30)
        assert create.status_code == 200, create.text
        assert create.json()["extra_links"] == {"TwelveLabs Index": index_link}
        mapped = httpx.get(f"{base}/index/links", params={"map_index": 0}, timeout=30)
        assert mapped.status_code == 200, mapped.text
        assert mapped.json()["extra_links"] == {
            "TwelveLabs Index": index_link,
            "TwelveLabs Video": video_link,
        }

        # The task instances' Details tabs, rendered by the browser: the links are buttons there.
        pages = {
            "create_index": (f"{api}/dags/{DAG_ID}/runs/{run_id}/tasks/create_index/details", index_link),
            "index[0]": (f"{api}/dags/{DAG_ID}/runs/{run_id}/tasks/index/mapped/0/details", video_link),
        }
        with ThreadPoolExecutor(max_workers=len(pages)) as pool:
            rendered = pool.map(lambda page: _dump_dom(chromium, page[0], want=page[1]), pages.values())
            doms = dict(zip(pages, rendered, strict=True))
        assert _page_links(doms["create_index"]).get("TwelveLabs Index") == index_link
        mapped_links = _page_links(doms["index[0]"])
        assert mapped_links.get("TwelveLabs Video") == video_link, mapped_links
        assert mapped_links.get("TwelveLabs Index") == index_link, mapped_links
    finally:
        server.stop()
