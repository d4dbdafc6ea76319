"""PP-OCR's two tunings: "shipped" computes what RapidOCR() computes; "floor" changes only how, and says
how long the models themselves took."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from harness.context import BackendContext
from harness.errors import ConfigError
from harness.ocr.ppocr_tuning import TUNINGS, det_size, det_tensor, rec_batches
from harness.ocr.rapidocr import RapidOcrOptions
from harness.sources.synthetic import SceneOptions, generate_scene
from harness.testing.backends import open_backend
from harness.trace import Tracer
from harness.types import Frame

SHIPPED, FLOOR = TUNINGS["shipped"], TUNINGS["floor"]


def test_det_size_enlarges_only_as_shipped_and_never_at_the_floor() -> None:
    assert det_size(540, 960, SHIPPED) == (736, 1312)  # what RapidOCR feeds det for a 960x540 frame
    assert det_size(720, 1280, SHIPPED) == (736, 1312)
    assert det_size(540, 960, FLOOR) == (544, 960)
    assert det_size(720, 1280, FLOOR) == (736, 1280)  # IC15 photos at their own size (rounded half up, not to even)
    assert det_size(200, 300, FLOOR) == (192, 288)  # small frames are not enlarged
    limited = dataclasses.replace(FLOOR, det_limit_side_len=960)
    assert det_size(720, 1280, limited) == (544, 960)  # the long side is brought down to the limit
    assert all(side % 32 == 0 for side in det_size(333, 777, FLOOR))


def test_float32_preprocessing_equals_rapidocrs_float64_within_rounding() -> None:
    from rapidocr_onnxruntime.ch_ppocr_det.utils import DetPreProcess

    image, _ = generate_scene(SceneOptions(seed=5, difficulty="medium"), 0)
    ours64, ours32 = det_tensor(image, (544, 960), False), det_tensor(image, (544, 960), True)
    theirs = DetPreProcess(960, "max")(image)  # RapidOCR's own preprocessing of a 960x540 frame: 960x544
    assert ours64.dtype == ours32.dtype == np.float32 and ours64.shape == theirs.shape == (1, 3, 544, 960)
    np.testing.assert_array_equal(ours64, theirs)
    assert float(np.abs(ours64 - ours32).max()) < 1e-6


def test_rec_batches_bound_the_padding_and_shipped_batches_as_rapidocr() -> None:
    widths = [40, 400, 60, 90, 300, 45, 100, 50]
    crops = [np.zeros((48, w, 3), np.uint8) for w in widths]
    shipped = rec_batches(crops, SHIPPED)
    order = np.argsort(np.array(widths) / 48).tolist()
    assert shipped == [order[:6], order[6:]]  # RapidOCR: width order, six at a time, no bound
    bounded = rec_batches(crops, dataclasses.replace(FLOOR, rec_bucket=1.5, rec_batch=6))
    assert sorted(i for batch in bounded for i in batch) == list(range(len(widths)))
    for batch in bounded:
        assert max(widths[i] for i in batch) <= 1.5 * min(widths[i] for i in batch)
        assert len(batch) <= 6


def test_shipped_tuning_reads_boxes_texts_and_scores_as_rapidocr() -> None:
    from rapidocr_onnxruntime import RapidOCR

    engine = RapidOCR()
    backend = open_backend("ocr", "rapidocr", RapidOcrOptions(), BackendContext(threads=2))
    for seed, difficulty in ((3, "easy"), (7, "medium")):
        image, _ = generate_scene(SceneOptions(seed=seed, difficulty=difficulty), 1)
        expected, _ = engine(image)
        regions = backend.recognize(Frame(0, 0, image), Tracer())
        assert [r.text for r in regions] == [e[1] for e in expected]
        assert [r.confidence for r in regions] == pytest.approx([e[2] for e in expected], abs=1e-6)
        np.testing.assert_allclose([r.quad for r in regions], [e[0] for e in expected], atol=1e-3)


def test_floor_records_model_time_inside_each_part_and_reads_the_easy_signs() -> None:
    backend = open_backend("ocr", "rapidocr", RapidOcrOptions(tuning="floor"), BackendContext(threads=2))
    read = 0
    for index in range(6):
        image, truth = generate_scene(SceneOptions(seed=11, difficulty="easy"), index)
        tracer = Tracer()
        regions = backend.recognize(Frame(index, 0, image), tracer)
        read += " ".join(r.text for r in regions).lower() == truth.source_text.lower()
        for span in tracer.spans:
            assert 0 < span.attrs["model_ns"] <= span.duration_ns
    assert read >= 5  # easy signs are read exactly, as shipped reads them


def test_tuning_fills_every_unset_option_and_overrides_stay() -> None:
    options = RapidOcrOptions(tuning="floor", mem_arena=False)
    assert options.settings() == dataclasses.replace(FLOOR, mem_arena=False)
    assert dataclasses.asdict(options)["det_resize"] == FLOOR.det_resize  # the manifest records the values used
    assert RapidOcrOptions().settings() == SHIPPED
    with pytest.raises(ConfigError, match="tuning must be one of shipped, floor"):
        RapidOcrOptions(tuning="fast")
    with pytest.raises(ConfigError, match="det_resize must be one of min, max"):
        RapidOcrOptions(det_resize="both")
