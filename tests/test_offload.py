"""The offload server on loopback (a real process, an ephemeral port) and the client the pipeline uses."""

from __future__ import annotations

import http.client
import json
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import numpy as np
import pytest

pytest.importorskip("aiohttp")

from harness.errors import ConfigError
from harness.mt.null import NullMt, NullMtOptions
from harness.ocr.null import NullOcr, NullOcrOptions
from harness.offload.client import OffloadClient, OffloadError
from harness.offload.launch import ServerProcess
from harness.offload.options import Cell, OffloadOptions
from harness.offload.stage import RemoteStages
from harness.offload.wire import encode_image
from harness.overlay.render import Overlay, OverlayOptions
from harness.pipeline import Pipeline, StageFailure, StageSwitches
from harness.run.experiment import load_experiment
from harness.sources.synthetic import SceneOptions, SyntheticSource
from harness.trace import Tracer
from harness.types import Frame, FrameResult


@pytest.fixture(scope="module")
def server():
    with ServerProcess(None, "127.0.0.1", 0, ocr="null", mt="null") as process:
        yield process


def frames(n: int = 3):
    source = SyntheticSource(SceneOptions(seed=2, n=n, loop=False))
    source.open()
    return source.frames()


def raw(server: ServerProcess, method: str, path: str, body: bytes = b"", headers: dict | None = None) -> tuple[int, dict]:
    parts = urlsplit(server.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    connection.request(method, path, body=body, headers=headers or {})
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, json.loads(data)


def auth(server: ServerProcess, content_type: str) -> dict:
    return {"Authorization": f"Bearer {server.token}", "Content-Type": content_type}


def remote(server_url: str, token: str | None, placement: str, fallback: str = "none") -> RemoteStages:
    options = OffloadOptions(fallback=fallback, timeout_s=5.0)
    return RemoteStages(Cell(placement, "loopback"), options, server_url, token, NullOcr(NullOcrOptions()), NullMt(NullMtOptions()))


def test_health_and_text_round_trip_with_bytes_counted(server: ServerProcess) -> None:
    client = OffloadClient(server.url, server.token, 5.0)
    assert client.get("/v1/health")["status"] == "ok"
    body = json.dumps({"texts": ["EXIT", "Platform 3"]}).encode()
    exchange = client.post("/v1/text", body, "application/json")
    assert exchange.answer["targets"] == ["EXIT", "Platform 3"]
    assert exchange.payload_up_bytes == len(body) and exchange.wire_up_bytes > len(body) + 100  # headers counted
    assert exchange.wire_down_bytes > exchange.payload_down_bytes > 0
    assert set(exchange.answer) >= {"timings_ns", "server_ns", "queue_ns"}
    client.close()


@pytest.mark.parametrize("placement", ["cloud", "det-local", "ocr-local"])
def test_every_placement_through_the_pipeline(server: ServerProcess, placement: str) -> None:
    pipeline = Pipeline(
        NullOcr(NullOcrOptions()),
        NullMt(NullMtOptions()),
        Overlay(OverlayOptions()),
        StageSwitches(),
        remote(server.url, server.token, placement),
    )
    tracer = Tracer()
    result = pipeline.step(frames(), tracer)
    names = [s.name for s in tracer.spans]
    assert {"offload", "offload.encode", "offload.roundtrip", "offload.decode"} <= set(names) and "mt" not in names
    assert result is not None and result.offload is not None
    assert result.offload["placement"] == placement and result.offload["wire_up_bytes"] > result.offload["payload_up_bytes"] > 0
    roundtrip = next(s for s in tracer.spans if s.name == "offload.roundtrip").attrs
    assert roundtrip["server_ns"] >= 0 and "server_timings_ns" in roundtrip
    if placement == "ocr-local":  # null OCR echoes ground truth; null MT on the server echoes it back
        assert result.targets == [w.text for w in result.frame.ground_truth.words]
    if placement == "det-local":
        assert result.targets == [f"crop{i}" for i in range(len(result.regions))] and result.regions
    pipeline.close()


def test_frame_resolution_and_quality_are_the_clients_choice(server: ServerProcess) -> None:
    frame = next(frames(1))
    small, scale = encode_image(frame.image, "jpeg", 50, max_side_px=320)
    large, _ = encode_image(frame.image, "png", 90)
    assert scale < 1.0 and len(small) < len(large)
    for data, kind in ((small, "image/jpeg"), (large, "image/png"), (encode_image(frame.image, "webp", 60)[0], "image/webp")):
        status, answer = raw(server, "POST", "/v1/frame", data, auth(server, kind))
        assert status == 200 and "decode" in answer["timings_ns"]


def test_fifty_concurrent_clients_lose_no_response(server: ServerProcess) -> None:
    """Every request is answered: translated, or refused at once as busy (503) when the queue is full."""

    def one(index: int) -> list[str] | str:
        client = OffloadClient(server.url, server.token, 30.0)
        try:
            return client.post("/v1/text", json.dumps({"texts": [f"sign {index}"]}).encode(), "application/json").answer["targets"]
        except OffloadError as exc:
            return str(exc)
        finally:
            client.close()

    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(one, range(50)))
    served = [i for i, answer in enumerate(answers) if answer == [f"sign {i}"]]
    refused = [answer for answer in answers if isinstance(answer, str)]
    assert len(served) + len(refused) == 50 and len(served) >= 9  # one worker and a queue of 8 at the least
    assert all("HTTP 503" in reason and "busy" in reason for reason in refused)


@pytest.mark.parametrize(
    ("path", "body", "content_type", "status", "reason"),
    [
        ("/v1/frame", b"not an image at all", "image/jpeg", 400, "magic bytes"),
        ("/v1/frame", b"\xff\xd8\xff\xe0" + b"\0" * 64, "image/jpeg", 400, "image"),
        ("/v1/frame", b"\x89PNG\r\n\x1a\n", "image/png", 400, "image"),
        ("/v1/frame", b"{}", "application/json", 415, "image/jpeg"),
        ("/v1/text", b"{not json", "application/json", 400, "malformed JSON"),
        ("/v1/text", json.dumps({"texts": [1, 2]}).encode(), "application/json", 400, "texts"),
        ("/v1/text", json.dumps(["a"]).encode(), "application/json", 400, "texts"),
        ("/v1/text", b"\x80\x04\x95pickle", "application/octet-stream", 400, "JSON"),
        ("/v1/crops", b"--x\r\n", "multipart/form-data; boundary=x", 400, ""),
        ("/v1/crops", b"{}", "application/json", 400, "multipart"),
    ],
)
def test_malformed_input_is_rejected_with_a_reason(
    server: ServerProcess, path: str, body: bytes, content_type: str, status: int, reason: str
) -> None:
    got, answer = raw(server, "POST", path, body, auth(server, content_type))
    assert got == status and reason in answer["error"]
    assert raw(server, "GET", "/v1/health", headers=auth(server, "text/plain"))[0] == 200  # the server survived


def test_many_huge_crops_in_one_request_are_refused_before_decoding(server: ServerProcess) -> None:
    from harness.offload.wire import multipart

    crop = encode_image(np.zeros((6000, 6000, 3), np.uint8), "png", 90)[0]  # 36 MP each, in about 100 KB
    body, content_type = multipart([("crop", "image/png", crop)] * 8)
    status, answer = raw(server, "POST", "/v1/crops", body, auth(server, content_type))
    assert status == 400 and "8 crops of 288000000 pixels in all" in answer["error"]
    assert raw(server, "GET", "/v1/health", headers=auth(server, "text/plain"))[0] == 200


@pytest.mark.faults
def test_oversized_and_huge_images_are_rejected(server: ServerProcess) -> None:
    status, answer = raw(server, "POST", "/v1/frame", b"\xff\xd8\xff" + b"\0" * 9_000_000, auth(server, "image/jpeg"))
    assert status == 413 and "error" in answer
    huge = encode_image(np.zeros((8000, 6000, 3), np.uint8), "png", 90)[0]  # 48 MP in a small file
    status, answer = raw(server, "POST", "/v1/frame", huge, auth(server, "image/png"))
    assert status == 400 and "pixels" in answer["error"]


def test_unauthenticated_requests_are_rejected(server: ServerProcess) -> None:
    body = json.dumps({"texts": ["a"]}).encode()
    assert raw(server, "POST", "/v1/text", body, {"Content-Type": "application/json"})[0] == 401
    assert raw(server, "POST", "/v1/text", body, {"Content-Type": "application/json", "Authorization": "Bearer wrong"})[0] == 401
    with pytest.raises(OffloadError, match="401"):
        OffloadClient(server.url, None, 5.0).get("/v1/health")
    status, answer = raw(server, "POST", "/v1/text", body, {"Content-Type": "application/json", "Authorization": "Bearer clé"})
    assert status == 401 and "bearer token" in answer["error"]  # a non-ASCII header is a wrong token, not a 500


@pytest.mark.faults
def test_a_deeply_nested_json_body_is_a_bad_request(server: ServerProcess) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    status, answer = raw(server, "POST", "/v1/text", deep, auth(server, "application/json"))
    assert status == 400 and "nested too deeply" in answer["error"]
    assert raw(server, "GET", "/v1/health", headers=auth(server, "text/plain"))[0] == 200


def test_binding_beyond_loopback_without_a_token_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.errors import UserError
    from harness.server.app import serve
    from harness.server.config import load_server_config

    monkeypatch.delenv("ARBENCH_SERVER_TOKEN", raising=False)
    with pytest.raises(UserError, match="bearer token"):
        serve(load_server_config(None, host="0.0.0.0", port=0))


@pytest.mark.faults
def test_server_killed_mid_run_gives_failed_frames_or_fallback() -> None:
    process = ServerProcess(None, "127.0.0.1", 0, ocr="null", mt="null")
    strict = Pipeline(
        NullOcr(NullOcrOptions()), NullMt(NullMtOptions()), None, StageSwitches(overlay=False), remote(process.url, process.token, "cloud")
    )
    lenient = remote(process.url, process.token, "ocr-local", fallback="local")
    source = frames(4)
    assert strict.step(source, Tracer()) is not None
    assert lenient.run(next(frames(1)), Tracer()).record["fallback"] is False
    process.kill()
    with pytest.raises(StageFailure, match="offload"):
        strict.step(source, Tracer())
    tracer = Tracer()
    fallen = lenient.run(next(frames(1)), tracer)
    assert fallen.record["fallback"] is True and "error" in fallen.record and fallen.targets
    assert "mt" in [s.name for s in tracer.spans]
    # the fallen frame's roundtrip span has no server time: the summary counts it instead of failing on it
    from harness.offload.stats import offload_columns
    from harness.store.schema import frame_record

    result = FrameResult(Frame(0, 0, None), fallen.regions, None, None, {}, fallen.record)
    stored = json.loads(json.dumps(frame_record("c", 0, False, tracer.spans, result)))
    assert offload_columns([stored])["fallback_frames"] == 1 and offload_columns([stored])["server_p50_ms"] is None
    strict.close()
    lenient.close()
    process.stop()


def test_offload_section_makes_placement_network_cells(write_experiment) -> None:
    path = write_experiment(
        '[offload]\nplacements = ["local", "cloud", "ocr-local"]\nnetworks = ["loopback", "lighthouse-slow-4g"]\n'
        '[[sources]]\nid = "s"\nkind = "synthetic"\n'
    )
    ids = [c.config_id for c in load_experiment(path).configurations()]
    assert ids == [
        "s/off/off",
        "s/off/off+cloud@loopback",
        "s/off/off+cloud@lighthouse-slow-4g",
        "s/off/off+ocr-local@loopback",
        "s/off/off+ocr-local@lighthouse-slow-4g",
    ]
    with pytest.raises(ConfigError, match="placements"):
        load_experiment(write_experiment('[offload]\nplacements = ["edge"]\n[[sources]]\nid = "s"\nkind = "synthetic"\n', "bad.toml"))
    with pytest.raises(ConfigError, match="keep"):
        load_experiment(write_experiment('[stages]\nmt = false\n[offload]\n[[sources]]\nid = "s"\nkind = "synthetic"\n', "off.toml"))
