"""Network profiles, the analytic model, and real shaping in namespaces (root only; netem where the kernel has it)."""

from __future__ import annotations

import json
import os
import shutil
import time

import pytest

from harness.network.model import HEADER_BYTES, MSS_BYTES, FrameCost, Link, link_bytes, predict_ns, upload_s
from harness.network.profiles import load_profiles
from harness.network.radio import energy_j, load_radios

can_shape = os.geteuid() == 0 and shutil.which("ip") is not None and shutil.which("tc") is not None
needs_root = pytest.mark.skipif(not can_shape, reason="network shaping needs root, ip and tc (network namespaces, veth, tbf)")


def cost(up: int, down: int = 300, new: bool = False) -> FrameCost:
    return FrameCost(
        device_ns=1_000_000,
        encode_ns=0,
        decode_ns=0,
        server_ns=2_000_000,
        overhead_ns=0,
        wire_up_bytes=up,
        wire_down_bytes=down,
        new_connection=new,
    )


def test_every_profile_has_a_source_and_radios_are_sourced_or_absent() -> None:
    profiles = load_profiles()
    assert {"3G", "4G", "5G"} <= {p.kind for p in profiles.values()}
    assert all(p.source.strip() for p in profiles.values())
    for name, model in load_radios().items():
        assert model.source.strip(), name
    assert energy_j(None, 1.0, 1.0, 1.0, 1.0, 1.0) is None  # no sourced parameters: no energy


def test_model_without_rtt_is_bytes_over_rate_with_headers() -> None:
    link = Link(1000.0, 1000.0)
    predicted = predict_ns(cost(100_000), link)
    expected_s = (link_bytes(100_000) + link_bytes(300)) * 8 / 1e6
    assert predicted == pytest.approx(3_000_000 + expected_s * 1e9, rel=1e-6)
    assert link_bytes(MSS_BYTES + 1) == MSS_BYTES + 1 + 2 * HEADER_BYTES


def test_round_trips_slow_start_and_handshake_add_time() -> None:
    fast = Link(1e6, 1e6, rtt_ms=100.0)
    one_window = predict_ns(cost(10 * MSS_BYTES), fast)
    assert one_window == pytest.approx(3_000_000 + 100e6, rel=0.01)  # one RTT, negligible serialization
    three_rounds = upload_s(70 * MSS_BYTES, 1e6, 0.1)  # windows of 10, 20, then the last 40
    assert three_rounds == pytest.approx(0.2, rel=0.01)
    assert predict_ns(cost(1000, new=True), fast) - predict_ns(cost(1000), fast) == pytest.approx(100e6, rel=1e-6)
    assert predict_ns(cost(1000), Link(1000.0, 1000.0, bucket_bytes=1600)) < predict_ns(cost(1000), Link(1000.0, 1000.0))


@needs_root
def test_namespace_shaping_matches_the_model() -> None:
    pytest.importorskip("aiohttp")
    from harness.network.netns import Testbed
    from harness.network.profiles import NetworkProfile
    from harness.offload.client import OffloadClient
    from harness.offload.launch import ServerProcess

    profile = NetworkProfile("test-1mbit", "test", down_kbit=4000.0, up_kbit=1000.0, source="test")
    testbed = Testbed(profile)
    try:
        assert testbed.describe()["applied"]["up_kbit"] == 1000.0
        with ServerProcess(None, testbed.server_ip, 0, ocr="null", mt="null", prefix=testbed.prefix) as server:
            client = OffloadClient(server.url, server.token, 30.0)
            client.get("/v1/health")
            body = json.dumps({"texts": ["x" * 4000] * 15}).encode()
            exchange = client.post("/v1/text", body, "application/json")
            measured_s = (exchange.end_ns - exchange.start_ns) / 1e9
            link = Link(1000.0, 4000.0, bucket_bytes=testbed.describe()["applied"]["bucket_bytes"])
            predicted_s = predict_ns(cost(exchange.wire_up_bytes, exchange.wire_down_bytes), link) / 1e9 - 0.003
            assert measured_s == pytest.approx(predicted_s, rel=0.15)
            client.close()
    finally:
        testbed.close()
    time.sleep(0.1)
    assert testbed.namespace not in os.popen("ip netns list").read()


@needs_root
def test_netem_round_trip_is_applied_where_the_kernel_has_it() -> None:
    from harness.network.netns import NETEM_MISSING, Testbed, netem_available
    from harness.network.profiles import profile

    if not netem_available():
        testbed = Testbed(profile("lighthouse-slow-4g"))
        try:  # the missing delay is said, not silently dropped
            described = testbed.describe()
            assert described["netem"] is False and described["note"] == NETEM_MISSING and described["applied"]["rtt_ms"] == 0.0
        finally:
            testbed.close()
        pytest.skip(NETEM_MISSING + " (this kernel has no sch_netem)")
    testbed = Testbed(profile("lighthouse-slow-4g"))
    try:
        assert testbed.describe()["netem"] is True and testbed.describe()["applied"]["rtt_ms"] == 150.0
    finally:
        testbed.close()


def test_shaping_without_root_is_one_clear_user_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.errors import UserError
    from harness.network import netns

    monkeypatch.setattr(netns.os, "geteuid", lambda: 1000)
    with pytest.raises(UserError, match="needs root"):
        netns.require_root()
    from harness.cli import main

    assert main(["network", "check"]) == 2
