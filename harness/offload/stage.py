"""The device side of a placement: what the pipeline calls instead of its local OCR and MT stages.

``RemoteStages.run`` does the device's share (nothing for ``cloud``, detection for ``det-local``, all of
OCR for ``ocr-local``) in the usual "ocr" / "ocr.det" spans, then one "offload" span with
"offload.encode" (frame or crops to bytes), "offload.roundtrip" (request written to answer read: upload,
server queue and compute, download) and "offload.decode" (answer to regions). The roundtrip span carries
the bytes (payload and on the wire), the server's ``server_ns``, ``queue_ns`` and per-stage timings.
With ``fallback = "local"`` a failed exchange runs the stages locally and marks the frame.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

from harness.offload.client import Exchange, OffloadClient, OffloadError
from harness.offload.options import ENDPOINTS, Cell, OffloadOptions
from harness.offload.privacy import exposure
from harness.offload.split import split_ocr
from harness.offload.wire import CONTENT_TYPES, encode_image, multipart
from harness.trace import Tracer
from harness.types import Frame, TextRegion, quad_from_array

__all__ = ["Offloaded", "RemoteStages"]


@dataclass
class Offloaded:
    """What one frame's offload produced: regions, targets and the per-frame record fields."""

    regions: list[TextRegion]
    targets: list[str]
    record: dict[str, Any] = field(default_factory=dict)


class RemoteStages:
    """One placement on one server. ``ocr`` / ``mt`` are the device's backends (their share, and fallback)."""

    def __init__(
        self,
        cell: Cell,
        options: OffloadOptions,
        url: str,
        token: str | None,
        ocr: Any,
        mt: Any,
        network: dict[str, Any] | None = None,
        closer: Any = None,
    ) -> None:
        self.cell, self.options = cell, options
        self.client = OffloadClient(url, token, options.timeout_s)
        self.ocr, self.mt = ocr, mt
        self.split = split_ocr(ocr) if cell.placement == "det-local" else None
        self.network = network or {"profile": cell.network}
        self._closer = closer  # stops the server / tears down the namespaces this configuration started

    def run(self, frame: Frame, tracer: Tracer) -> Offloaded:
        """Process one frame under this placement; OffloadError when the exchange fails and there is no fallback."""
        record = self._record()
        try:
            regions, targets = self._offload(frame, tracer, record)
        except OffloadError as exc:
            if self.options.fallback != "local":
                raise
            record.update(fallback=True, error=str(exc))
            regions, targets = self._local(frame, tracer)
        return Offloaded(regions, targets, record)

    def _record(self) -> dict[str, Any]:
        level = exposure(self.cell.placement)
        return {
            "placement": self.cell.placement,
            "network": self.network,
            "privacy_level": level.level,
            "privacy_rank": level.rank,
            "fallback": False,
            "payload_up_bytes": 0,
            "payload_down_bytes": 0,
            "wire_up_bytes": 0,
            "wire_down_bytes": 0,
        }

    def _offload(self, frame: Frame, tracer: Tracer, record: dict[str, Any]) -> tuple[list[TextRegion], list[str]]:
        placement = self.cell.placement
        quads: list[Any] = []
        if placement == "det-local":
            with tracer.span("ocr"):
                crops, quads = self.split.detect(frame, tracer)  # type: ignore[union-attr]
        elif placement == "ocr-local":
            with tracer.span("ocr"):
                regions = self.ocr.recognize(frame, tracer)
            if not regions:
                return [], []
        with tracer.span("offload") as attrs:
            with tracer.span("offload.encode") as encode:
                if placement == "cloud":
                    body, content_type, scale = self._frame_body(frame, encode)
                elif placement == "det-local":
                    body, content_type = multipart([("crop", CONTENT_TYPES[self.options.crop_format], self._crop(c)) for c in crops])
                else:
                    body, content_type = _json_body([r.text for r in regions])
            with tracer.span("offload.roundtrip") as roundtrip:
                exchange = self.client.post(ENDPOINTS[placement], body, content_type)
                _note(roundtrip, exchange)
            with tracer.span("offload.decode"):
                answer = exchange.answer
                if placement == "cloud":
                    regions = [_region(r, 1.0 / scale) for r in answer.get("regions", [])]
                elif placement == "det-local":
                    regions = [TextRegion(quads[r["index"]], str(r["text"]), float(r["confidence"])) for r in answer.get("regions", [])]
                targets = [str(t) for t in answer.get("targets", [])]
            if len(targets) != len(regions):
                raise OffloadError(f"the server answered {len(targets)} translations for {len(regions)} regions")
            record.update({k: roundtrip[k] for k in ("payload_up_bytes", "payload_down_bytes", "wire_up_bytes", "wire_down_bytes")})
            attrs.update(placement=placement, server_ns=roundtrip["server_ns"])
        return regions, targets

    def _frame_body(self, frame: Frame, attrs: dict[str, Any]) -> tuple[bytes, str, float]:
        if frame.image is None:
            raise ValueError("cloud placement needs an image; this frame carries only text")
        o = self.options
        body, scale = encode_image(frame.image, o.frame_format, o.frame_quality, o.frame_max_side_px)
        attrs.update(format=o.frame_format, quality=o.frame_quality, scale=scale, bytes=len(body))
        return body, CONTENT_TYPES[o.frame_format], scale

    def _crop(self, crop: Any) -> bytes:
        return encode_image(crop, self.options.crop_format, self.options.crop_quality)[0]

    def _local(self, frame: Frame, tracer: Tracer) -> tuple[list[TextRegion], list[str]]:
        with tracer.span("ocr"):
            regions = self.ocr.recognize(frame, tracer)
        texts = [r.text for r in regions]
        if not texts:
            return regions, []
        with tracer.span("mt"):
            return regions, self.mt.translate(texts, tracer)

    def close(self) -> None:
        self.client.close()
        if self._closer is not None:
            with contextlib.suppress(Exception):  # teardown must not mask the run's own outcome
                self._closer()


def _json_body(texts: list[str]) -> tuple[bytes, str]:
    import json

    return json.dumps({"texts": texts}, ensure_ascii=False).encode("utf-8"), "application/json"


def _note(attrs: dict[str, Any], exchange: Exchange) -> None:
    answer = exchange.answer
    attrs.update(
        payload_up_bytes=exchange.payload_up_bytes,
        payload_down_bytes=exchange.payload_down_bytes,
        wire_up_bytes=exchange.wire_up_bytes,
        wire_down_bytes=exchange.wire_down_bytes,
        server_ns=int(answer.get("server_ns", 0)),
        queue_ns=int(answer.get("queue_ns", 0)),
        server_timings_ns=answer.get("timings_ns", {}),
        new_connection=exchange.new_connection,
    )


def _region(item: dict[str, Any], rescale: float) -> TextRegion:
    quad = quad_from_array([[x * rescale, y * rescale] for x, y in item["quad"]])
    return TextRegion(quad, str(item["text"]), float(item["confidence"]))
