"""Analytic latency of an offloaded frame on a network it was not measured on.

From a frame measured on loopback (device compute, encode/decode, server time, HTTP overhead, bytes on the
wire) the latency on a link of uplink/downlink rate and round trip is predicted as

    device compute + encode + decode + server (queue included) + HTTP overhead
    + upload (TCP rounds: slow start from the initial window, each round the longer of its
      serialization and one round trip) + round trip + download serialization (+ a round trip for a
      new connection's handshake)

Bytes on the link include the per-segment headers that ``tc`` (and a radio) carries but the client's
socket count does not: Ethernet 14 + IPv4 20 + TCP 32 (with timestamps, RFC 7323) per segment of at
most 1448 payload bytes (1500 MTU). The initial window is 10 segments (RFC 6928, Linux's default), and
since frames come more than an RTO apart, Linux restarts from it for every frame
(net.ipv4.tcp_slow_start_after_idle = 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["FrameCost", "Link", "link_bytes", "predict_ns", "upload_s"]

MSS_BYTES = 1448
HEADER_BYTES = 14 + 20 + 32
INITIAL_WINDOW = 10


@dataclass(frozen=True)
class Link:
    """A network: rates in kbit/s (1000 bit/s), round trip in ms.

    ``bucket_bytes``: an emulator's token bucket (tc tbf), full after idle, lets that many bytes per
    direction through at line rate; a real link has none (0).
    """

    up_kbit: float
    down_kbit: float
    rtt_ms: float = 0.0
    bucket_bytes: int = 0


@dataclass(frozen=True)
class FrameCost:
    """What one offloaded frame cost where it was measured (ns and bytes)."""

    device_ns: int  # the device's own stages: capture, its OCR share, overlay
    encode_ns: int
    decode_ns: int
    server_ns: int  # server compute plus its queue
    overhead_ns: int  # roundtrip − server on loopback: both HTTP stacks and the loopback transfer
    wire_up_bytes: int
    wire_down_bytes: int
    new_connection: bool = False


def link_bytes(wire_bytes: int) -> int:
    """Bytes a link carries for ``wire_bytes`` of TCP payload: per-segment headers added."""
    return wire_bytes + math.ceil(wire_bytes / MSS_BYTES) * HEADER_BYTES


def upload_s(wire_bytes: int, rate_kbit: float, rtt_s: float) -> float:
    """Time (s) to deliver ``wire_bytes`` from a fresh congestion window.

    Rounds of doubling windows each last the longer of their serialization and one RTT; the last lasts
    only its serialization (its RTT is the exchange's own round trip).
    """
    per_segment_s = (MSS_BYTES + HEADER_BYTES) * 8 / (rate_kbit * 1000)
    remaining, window, total = wire_bytes, INITIAL_WINDOW, 0.0
    while remaining > window * MSS_BYTES:
        total += max(rtt_s, window * per_segment_s)
        remaining -= window * MSS_BYTES
        window *= 2
    return total + link_bytes(remaining) * 8 / (rate_kbit * 1000)


def predict_ns(cost: FrameCost, link: Link) -> int:
    """Predicted end-to-end latency (ns) of the frame on ``link``."""
    rtt_s = link.rtt_ms / 1000
    up, down = link_bytes(cost.wire_up_bytes), link_bytes(cost.wire_down_bytes)
    network_s = upload_s(cost.wire_up_bytes, link.up_kbit, rtt_s) + rtt_s + down * 8 / (link.down_kbit * 1000)
    network_s -= min(up, link.bucket_bytes) * 8 / (link.up_kbit * 1000) + min(down, link.bucket_bytes) * 8 / (link.down_kbit * 1000)
    if cost.new_connection:
        network_s += rtt_s
    fixed = cost.device_ns + cost.encode_ns + cost.decode_ns + cost.server_ns + cost.overhead_ns
    return fixed + round(network_s * 1e9)
