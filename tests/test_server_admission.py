"""The offload server's workers and admission: requests run side by side, a full queue or a passing deadline is 503 at once."""

from __future__ import annotations

import http.client
import json
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest

pytest.importorskip("aiohttp")

from harness.offload.launch import ServerProcess
from harness.offload.wire import encode_image

DELAY_MS = 400  # the null OCR's stand-in for a model: every frame holds its worker this long
FRAME, _ = encode_image(np.full((64, 96, 3), 200, np.uint8), "png", 0)


def _server(tmp_path: Path, workers: int, max_queue: int, isolation: str = "process", extra: str = "") -> ServerProcess:
    config = tmp_path / f"server-{workers}-{max_queue}-{isolation}.toml"
    server = f'[server]\nworkers = {workers}\nmax_queue = {max_queue}\nisolation = "{isolation}"\n{extra}'
    config.write_text(f'{server}[ocr]\nbackend = "null"\ndelay_ms = {DELAY_MS}\n[mt]\nbackend = "null"\n')
    return ServerProcess(config, "127.0.0.1", 0)


def _post(server: ServerProcess, deadline_ms: float | None = None) -> tuple[int, dict, dict, float]:
    """POST one frame: status, JSON answer, headers and seconds until the answer."""
    parts = urlsplit(server.url)
    headers = {"Authorization": f"Bearer {server.token}", "Content-Type": "image/png"}
    if deadline_ms is not None:
        headers["X-Arbench-Deadline-Ms"] = str(deadline_ms)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    start = time.monotonic()
    connection.request("POST", "/v1/frame", body=FRAME, headers=headers)
    response = connection.getresponse()
    answer = json.loads(response.read())
    took = time.monotonic() - start
    connection.close()
    return response.status, answer, dict(response.getheaders()), took


def _burst(server: ServerProcess, count: int) -> list[tuple[int, dict, dict, float]]:
    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(lambda _: _post(server), range(count)))


def test_a_full_queue_is_refused_at_once_with_retry_after(tmp_path: Path) -> None:
    with _server(tmp_path, workers=1, max_queue=1) as server:
        _post(server)  # one served request gives the server its service time
        results = _burst(server, 5)
        served = [r for r in results if r[0] == 200]
        refused = [r for r in results if r[0] == 503]
        assert len(served) == 2 and len(refused) == 3  # one on the worker, one queued
        for _, answer, headers, took in refused:
            assert took < 0.2 * DELAY_MS / 1e3 + 0.1  # answered at arrival, not after a wait
            assert int(headers["Retry-After"]) >= 1 and "busy" in answer["error"]
        queued = max(served, key=lambda r: r[1]["queue_ns"])
        assert queued[1]["queue_ns"] >= 0.8 * DELAY_MS * 1e6  # the second waited for the first
        load = json.loads(_health(server))
        assert (load["workers"], load["served"], load["refused"]) == (1, 3, 3)


@pytest.mark.parametrize("isolation", ["process", "thread"])
def test_workers_run_requests_side_by_side(tmp_path: Path, isolation: str) -> None:
    with _server(tmp_path, workers=3, max_queue=0, isolation=isolation) as server:
        results = _burst(server, 3)
        assert [r[0] for r in results] == [200, 200, 200]
        assert max(r[3] for r in results) < 2 * DELAY_MS / 1e3  # three at once, not one after another (1.2 s)
        assert max(r[1]["queue_ns"] for r in results) < 0.5 * DELAY_MS * 1e6


def test_a_deadline_the_queue_would_miss_is_refused(tmp_path: Path) -> None:
    with _server(tmp_path, workers=1, max_queue=4) as server:
        _post(server)
        with ThreadPoolExecutor(2) as pool:
            busy = pool.submit(_post, server)
            time.sleep(0.1)  # the worker is now taken
            status, answer, _, took = _post(server, deadline_ms=100)
            assert busy.result()[0] == 200
        assert status == 503 and "deadline" in answer["error"] and took < 0.2
        assert _post(server, deadline_ms=5000)[0] == 200  # time enough: served
        assert _post(server, deadline_ms=-1)[0] == 400


def test_a_worker_process_that_dies_is_replaced_and_the_others_go_on(tmp_path: Path) -> None:
    with _server(tmp_path, workers=2, max_queue=4) as server:
        pids = json.loads(_health(server))["pids"]
        assert len(pids) == 2 and server.process.pid not in pids
        with ThreadPoolExecutor(2) as pool:
            requests = [pool.submit(_post, server) for _ in range(2)]
            time.sleep(0.15)  # both workers are now serving
            os.kill(pids[0], signal.SIGKILL)
            results = [r.result() for r in requests]
        assert sorted(r[0] for r in results) == [200, 500]  # the other worker's request was served
        died = next(r for r in results if r[0] == 500)[1]["error"]
        assert f"process {pids[0]} died" in died
        assert [_post(server)[0] for _ in range(3)] == [200, 200, 200]
        load = json.loads(_health(server))
        assert load["restarted"] == 1 and pids[0] not in load["pids"] and pids[1] in load["pids"]


def test_the_server_pixel_budget_runs_big_requests_one_at_a_time(tmp_path: Path) -> None:
    """Two workers, but a budget of one frame's pixels: the second frame waits for the first; an oversize one is refused."""
    frame_pixels = 64 * 96
    extra = f"max_request_pixels = {frame_pixels}\nmax_server_pixels = {frame_pixels}\n"
    with _server(tmp_path, workers=2, max_queue=4, extra=extra) as server:
        results = _burst(server, 2)
        assert [r[0] for r in results] == [200, 200]
        assert max(r[1]["queue_ns"] for r in results) >= 0.8 * DELAY_MS * 1e6
        load = json.loads(_health(server))
        assert (load["max_server_pixels"], load["pixels_in_use"], load["busy"]) == (frame_pixels, 0, 0)
    with _server(tmp_path, workers=2, max_queue=4, extra=f"max_request_pixels = {frame_pixels - 1}\n") as server:
        status, answer, _, _ = _post(server)
        assert status == 400 and f"at most {frame_pixels - 1} pixels per request" in answer["error"]


def test_a_server_pixel_budget_below_one_request_is_refused_at_start() -> None:
    from harness.errors import ConfigError
    from harness.server.config import ServerOptions

    with pytest.raises(ConfigError, match=r"max_server_pixels .* is below max_request_pixels"):
        ServerOptions(max_request_pixels=100, max_server_pixels=99)
    with pytest.raises(ConfigError, match="isolation"):
        ServerOptions(isolation="fiber")
    assert ServerOptions(workers=3, max_request_pixels=10).server_pixels(3) == 30


def _health(server: ServerProcess) -> str:
    parts = urlsplit(server.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    connection.request("GET", "/v1/health", headers={"Authorization": f"Bearer {server.token}"})
    body = connection.getresponse().read().decode()
    connection.close()
    return body


def test_the_load_benchmark_accounts_for_every_request(tmp_path: Path) -> None:
    """`python -m harness.offload.loadbench` on null backends: each request answered, refused or lost, none unaccounted."""
    from harness.offload.loadbench import main

    out = tmp_path / "loadbench"
    main(["--workers", "1", "--clients", "12", "--seconds", "1.5", "--rounds", "2", "--max-queue", "2", "--out", str(out)])
    record = json.loads((out / "loadbench.json").read_text())
    rounds = record["rounds"]
    assert [r["round"] for r in rounds] == [0, 1] and all(r["workers"] == 1 for r in rounds)
    for r in rounds:
        assert r["lost"] == 0 and r["answered"] > 0 and r["server_rss_mb"] > 0
        assert r["refused"] > 0 and r["slowest_refusal_ms"] is not None  # 12 clients, one worker, a queue of 2
        assert r["throughput_fps"] == pytest.approx(r["answered"] / 1.5)
