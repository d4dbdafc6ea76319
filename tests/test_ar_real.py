"""The AR mode with the real backends (PP-OCRv4 through RapidOCR, Apertium eng-spa) on a synthetic video."""

from __future__ import annotations

import numpy as np

from harness.ar.options import ArOptions
from harness.ar.pipeline import ARPipeline
from harness.context import BackendContext
from harness.mt.apertium import Apertium, ApertiumOptions
from harness.ocr.rapidocr import RapidOcrOptions
from harness.overlay.render import Overlay, OverlayOptions
from harness.pipeline import StageSwitches
from harness.run.scenarios import CameraPaced
from harness.sources.synth_video import SyntheticVideoOptions, SyntheticVideoSource
from harness.testing.backends import open_backend
from harness.trace import Tracer
from tests.conftest import needs_apertium


@needs_apertium
def test_background_readings_are_tracked_and_translated_by_real_backends() -> None:
    source = SyntheticVideoSource(SyntheticVideoOptions(motion="shake", duration_s=4.0))
    source.open()
    context = BackendContext(threads=1)
    options = ArOptions(policy="confidence", background=True, start_inline=False)
    ocr, mt = open_backend("ocr", "rapidocr", RapidOcrOptions(threads=1), context), Apertium(ApertiumOptions(pair="eng-spa"))
    pipeline = ARPipeline(ocr, mt, Overlay(OverlayOptions()), StageSwitches(), options)
    camera = CameraPaced(30.0, 0.0)  # frames arrive at 30 FPS while the reading runs in the background
    frames, results = camera.frames(pipeline.observe(source.frames())), []
    try:
        while True:
            tracer = Tracer()
            camera.wait(tracer)
            if (result := pipeline.step(frames, tracer)) is None:
                break
            results.append(result)
    finally:
        pipeline.close()
        source.close()
    shown = [r for r in results if r.ar["regions_shown"]]
    assert shown, "no reading arrived within the video"
    first = shown[0]
    assert first.ar["adopted_frame_id"] == 0
    assert {"ocr", "ocr.det", "ocr.rec", "mt"} <= {s["name"] for s in first.ar["background_spans"]}
    assert np.mean([i for r in shown for i in r.ar["drift_ious"]]) > 0.5
    assert np.mean([r.accuracy["mt_chrf"] for r in shown]) > 30  # Spanish on the sign, read by OCR, translated by Apertium
    assert all(r.ar["mode"] == "track" for r in results)
