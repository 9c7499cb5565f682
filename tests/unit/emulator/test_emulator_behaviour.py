"""Cross-cutting behaviour: auth, rate limits, fault injection, request log and control endpoints."""

from __future__ import annotations

import time

import httpx
import pytest

from airflow_provider_twelvelabs.testing.emulator import EmulatorConfig, RunningEmulator
from tests.unit.emulator.conftest import make_asset, make_index, poll


def start_of_a_fresh_window(emulator: RunningEmulator) -> None:
    """Move the emulator's clock to the start of a rate-limit minute, so a test never spans two windows."""
    emulator.state.advance_clock(60 - emulator.state.now().timestamp() % 60 + 0.01)


@pytest.mark.parametrize("headers", [{}, {"x-api-key": "wrong"}, {"X-Api-Key": ""}])
def test_every_api_route_needs_the_api_key(emulator: RunningEmulator, headers: dict[str, str]) -> None:
    for method, path in [("GET", "/assets"), ("POST", "/indexes"), ("GET", "/tasks/x"), ("POST", "/search")]:
        response = httpx.request(method, emulator.base_url + path, headers=headers)
        assert response.status_code == 401
        body = response.json()
        assert body["code"] == "api_key_invalid" and body["message"]


def test_the_key_header_name_is_case_insensitive(emulator: RunningEmulator) -> None:
    response = httpx.get(emulator.base_url + "/assets", headers={"X-API-KEY": emulator.api_key})
    assert response.status_code == 200


def test_control_endpoints_need_no_key(raw: httpx.Client) -> None:
    assert raw.get("/_emulator/requests").status_code == 200
    assert raw.get("/_emulator/config").status_code == 200


def test_unknown_api_path_is_a_json_404(api: httpx.Client) -> None:
    response = api.get("/no-such-thing")
    assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_rate_limit_headers_on_every_api_response(api: httpx.Client, emulator: RunningEmulator) -> None:
    start_of_a_fresh_window(emulator)
    first = api.get("/assets")
    second = api.get("/indexes")
    for response in (first, second):
        assert int(response.headers["X-Ratelimit-Limit"]) > 0
        assert int(response.headers["X-Ratelimit-Reset"]) > time.time() - 1
    assert int(second.headers["X-Ratelimit-Used"]) == int(first.headers["X-Ratelimit-Used"]) + 1
    assert int(second.headers["X-Ratelimit-Remaining"]) == int(first.headers["X-Ratelimit-Remaining"]) - 1


@pytest.mark.parametrize("emulator_config", [EmulatorConfig(rate_limit_rpm=2)])
def test_rate_limit_budget_answers_429_with_retry_after_per_bucket(
    api: httpx.Client, raw: httpx.Client
) -> None:
    assert api.get("/assets").status_code == 200
    last_ok = api.get("/assets")
    assert last_ok.headers["X-Ratelimit-Remaining"] == "0" and last_ok.headers["X-Ratelimit-Limit"] == "2"
    limited = api.get("/indexes")  # same "other" bucket
    assert limited.status_code == 429
    assert limited.json()["code"] == "too_many_requests"
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    # Other buckets have their own budget; search and analyze answer 429 with an empty body.
    for _ in range(2):
        api.post("/search", data={"index_id": "x"})
    search = api.post("/search", data={"index_id": "x"})
    assert search.status_code == 429 and search.content == b"" and search.headers["Retry-After"]
    for _ in range(2):
        api.post("/embed-v2", json={})
    embed = api.post("/embed-v2", json={})
    assert embed.status_code == 429 and embed.json()["error"]["code"] == "too_many_requests"
    # The window resets after a minute.
    raw.post("/_emulator/advance", json={"seconds": 61})
    assert api.get("/assets").status_code == 200


@pytest.mark.parametrize("emulator_config", [EmulatorConfig(rate_limits={"indexing": 1})])
def test_indexing_bucket_is_shared_by_tasks_and_indexed_assets(
    api: httpx.Client, emulator: RunningEmulator
) -> None:
    start_of_a_fresh_window(emulator)
    index_id = make_index(api)
    api.post("/tasks", data={"index_id": index_id, "video_url": "https://a/b.mp4"})
    limited = api.post(f"/indexes/{index_id}/indexed-assets", json={"asset_id": "x"})
    assert limited.status_code == 429 and limited.json()["code"] == "too_many_requests"
    assert api.get("/assets").status_code == 200  # other buckets unlimited


@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_fault_rate_answers_the_configured_statuses_before_processing(
    api: httpx.Client, emulator: RunningEmulator, status: int
) -> None:
    emulator.config.update({"fault_rate": 1.0, "fault_statuses": [status]})
    response = api.post("/indexes", json={"index_name": "x", "models": []})
    assert response.status_code == status
    if status == 429:
        assert response.headers["Retry-After"] == "1"
    if status == 500:
        assert response.json()["code"] == "internal_error"
    if status in (502, 503):
        assert response.headers["content-type"].startswith("text/html")
    emulator.config.update({"fault_rate": 0.0})
    assert api.get("/indexes").json()["data"] == []  # nothing was created


def test_fault_injection_is_seeded_and_reproducible() -> None:
    from airflow_provider_twelvelabs.testing.emulator import serve_emulator

    def statuses() -> list[int]:
        config = EmulatorConfig(seed=7, fault_rate=0.5)
        with serve_emulator(config) as running:
            headers = {"x-api-key": running.api_key}
            return [httpx.get(running.base_url + "/assets", headers=headers).status_code for _ in range(20)]

    first, second = statuses(), statuses()
    assert first == second
    assert 200 in first and any(s != 200 for s in first)


def test_drop_rate_closes_the_connection_without_a_response(
    api: httpx.Client, emulator: RunningEmulator
) -> None:
    emulator.config.update({"drop_rate": 1.0})
    with pytest.raises(httpx.RemoteProtocolError):
        api.get("/assets")
    emulator.config.update({"drop_rate": 0.0})
    assert api.get("/assets").status_code == 200


def test_slow_rate_delays_responses(api: httpx.Client, emulator: RunningEmulator) -> None:
    emulator.config.update({"slow_rate": 1.0, "slow_response_ms": 300})
    started = time.monotonic()
    assert api.get("/assets").status_code == 200
    assert time.monotonic() - started >= 0.3


def test_request_log_records_method_path_status_and_never_the_key(
    api: httpx.Client, raw: httpx.Client, emulator: RunningEmulator
) -> None:
    api.get("/assets", params={"page": 2})
    api.get("/assets/0123456789abcdef01234567")
    httpx.get(emulator.base_url + "/assets")  # no key
    log = raw.get("/_emulator/requests").json()["data"]
    assert [(e["method"], e["path"], e["status"]) for e in log[:3]] == [
        ("GET", "/v1.3/assets", 200),
        ("GET", "/v1.3/assets/0123456789abcdef01234567", 404),
        ("GET", "/v1.3/assets", 401),
    ]
    assert log[0]["query"] == "page=2"
    assert "tlk_" not in str(log) and api.headers["x-api-key"] not in str(log)
    assert raw.delete("/_emulator/requests").status_code == 204
    assert raw.get("/_emulator/requests").json()["data"][0]["path"] == "/_emulator/requests"


def test_reset_forgets_every_resource(
    api: httpx.Client, raw: httpx.Client, emulator: RunningEmulator
) -> None:
    make_index(api)
    asset_id = make_asset(api)
    assert emulator.state.media_path(asset_id).exists()
    assert raw.post("/_emulator/reset").status_code == 204
    assert api.get("/indexes").json()["data"] == []
    assert api.get("/assets").json()["data"] == []
    assert not emulator.state.media_path(asset_id).exists()


def test_config_endpoint_reads_and_changes_switches(api: httpx.Client, raw: httpx.Client) -> None:
    config = raw.get("/_emulator/config").json()
    assert "api_key" not in config and config["polls_per_step"] == 1
    changed = raw.post("/_emulator/config", json={"polls_per_step": 2, "fault_statuses": [503]}).json()
    assert changed["polls_per_step"] == 2 and changed["fault_statuses"] == [503]
    assert raw.post("/_emulator/config", json={"nope": 1}).status_code == 400
    assert raw.post("/_emulator/config", json={"gist_gone": "yes"}).status_code == 400
    asset_id = make_asset(api)
    assert poll(api, f"/assets/{asset_id}") == ["processing", "processing", "ready"]


def test_time_driven_lifecycles_and_advance(api: httpx.Client, raw: httpx.Client) -> None:
    raw.post("/_emulator/config", json={"polls_per_step": 0, "step_seconds": 30})
    asset_id = make_asset(api)
    assert api.get(f"/assets/{asset_id}").json()["status"] == "processing"
    assert api.get(f"/assets/{asset_id}").json()["status"] == "processing"
    raw.post("/_emulator/advance", json={"seconds": 31})
    assert api.get(f"/assets/{asset_id}").json()["status"] == "ready"


def test_advance_steps_and_complete(api: httpx.Client, raw: httpx.Client) -> None:
    raw.post("/_emulator/config", json={"polls_per_step": 0})
    index_id = make_index(api)
    first = api.post("/tasks", data={"index_id": index_id, "video_url": "https://a/one.mp4"}).json()["_id"]
    second = api.post("/tasks", data={"index_id": index_id, "video_url": "https://a/two.mp4"}).json()["_id"]
    assert raw.post("/_emulator/advance", json={"steps": 2, "ids": [first]}).json()["lifecycles"] == 1
    assert api.get(f"/tasks/{first}").json()["status"] == "pending"
    assert api.get(f"/tasks/{second}").json()["status"] == "uploading"
    raw.post("/_emulator/advance", json={"complete": True})
    assert api.get(f"/tasks/{second}").json()["status"] == "ready"
    assert raw.post("/_emulator/advance", json={"steps": 1, "ids": ["unknown"]}).status_code == 404
    assert raw.post("/_emulator/advance", json={"seconds": -1}).status_code == 400


def test_emulator_assets_endpoint_for_unknown_and_unuploaded_assets(
    api: httpx.Client, raw: httpx.Client
) -> None:
    assert raw.get("/_emulator/assets/0123456789abcdef01234567").status_code == 404
    url_asset = api.post("/assets", data={"method": "url", "url": "https://a/b.mp4"}).json()["_id"]
    assert raw.get(f"/_emulator/assets/{url_asset}").json() == {
        "asset_id": url_asset,
        "size": 0,
        "md5": None,
        "stored": False,
    }


def test_ids_are_deterministic_for_a_seed() -> None:
    from airflow_provider_twelvelabs.testing.emulator import serve_emulator

    def first_index_id(seed: int) -> str:
        with serve_emulator(EmulatorConfig(seed=seed)) as running:
            headers = {"x-api-key": running.api_key}
            return make_index(httpx.Client(base_url=running.base_url, headers=headers))

    assert first_index_id(1) == first_index_id(1) != first_index_id(2)


def test_lose_answers_processes_the_create_then_drops_the_connection(
    api: httpx.Client, raw: httpx.Client, emulator: RunningEmulator
) -> None:
    # The next answer of POST /indexes is lost: the index is created, the client sees a dead connection.
    raw.post("/_emulator/config", json={"lose_answers": {"post /indexes": 1}})
    body = {"index_name": "lost", "models": [{"model_name": "marengo3.0", "model_options": ["visual"]}]}
    with pytest.raises(httpx.RemoteProtocolError):
        api.post("/indexes", json=body)
    listed = api.get("/indexes", params={"index_name": "lost"}).json()["data"]
    assert [i["index_name"] for i in listed] == ["lost"]
    # Counted down to zero: the next create is answered (and refused: the name is taken).
    assert raw.get("/_emulator/config").json()["lose_answers"] == {}
    assert api.post("/indexes", json=body).status_code == 400
    log = raw.get("/_emulator/requests").json()["data"]
    lost = [e for e in log if e.get("fault") == "answer_lost"]
    assert [(e["method"], e["path"], e["status"], e["answered"]) for e in lost] == [
        ("POST", "/v1.3/indexes", 0, 201)
    ]


def test_lose_answers_patterns_match_whole_paths_with_wildcard_segments(
    api: httpx.Client, emulator: RunningEmulator
) -> None:
    emulator.config.update({"lose_answers": {"GET /indexes/*": 2}})
    assert api.get("/indexes").status_code == 200  # one segment fewer: not matched
    for _ in range(2):
        with pytest.raises(httpx.RemoteProtocolError):
            api.get("/indexes/0123456789abcdef01234567")
    assert api.get("/indexes/0123456789abcdef01234567").status_code == 404


def test_lose_answer_rate_applies_to_the_chosen_methods_and_paths(
    api: httpx.Client, emulator: RunningEmulator
) -> None:
    emulator.config.update(
        {"lose_answer_rate": 1.0, "lose_answer_methods": ["POST"], "lose_answer_paths": ["/x"]}
    )
    assert api.get("/assets").status_code == 200
    emulator.config.update({"lose_answer_paths": []})
    with pytest.raises(httpx.RemoteProtocolError):
        api.post("/indexes", json={"index_name": "rate"})
    emulator.config.update({"lose_answer_rate": 0.0})
    assert api.get("/assets").status_code == 200


def test_lose_answers_rejects_a_malformed_pattern(emulator: RunningEmulator) -> None:
    with pytest.raises(ValueError, match="METHOD /path"):
        emulator.config.update({"lose_answers": {"indexes": 1}})
