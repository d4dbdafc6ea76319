"""The pipeline on null backends: stage switches, spans per stage, failures recorded with their stage."""

from __future__ import annotations

import itertools

import pytest

from harness.mt.null import NullMt, NullMtOptions
from harness.ocr.null import NullOcr, NullOcrOptions
from harness.overlay.render import Overlay, OverlayOptions
from harness.pipeline import Pipeline, StageFailure, StageSwitches
from harness.sources.synthetic import SceneOptions, SyntheticSource
from harness.trace import Tracer


def frames(n: int = 2):
    source = SyntheticSource(SceneOptions(seed=2, n=n, loop=False))
    source.open()
    return source.frames()


def pipeline(stages: StageSwitches, mt=None) -> Pipeline:
    return Pipeline(NullOcr(NullOcrOptions()), mt or NullMt(NullMtOptions()), Overlay(OverlayOptions()), stages)


def test_all_stages_give_spans_outputs_and_accuracy() -> None:
    tracer = Tracer()
    result = pipeline(StageSwitches()).step(frames(), tracer)
    assert result is not None and result.frame.ground_truth is not None
    assert [s.name for s in tracer.spans] == ["capture", "ocr", "mt", "overlay"]
    assert tracer.spans[-1].attrs["inpaint_ns"] > 0
    assert [r.text for r in result.regions] == [w.text for w in result.frame.ground_truth.words]
    assert result.targets == [r.text for r in result.regions]
    assert result.accuracy["ocr_cer"] == 0.0 and result.accuracy["ocr_word_recall"] == 1.0
    assert result.image is not None and result.image is not result.frame.image


@pytest.mark.parametrize(
    ("stages", "spans"),
    [
        (StageSwitches(ocr=False), ["capture", "overlay"]),
        (StageSwitches(mt=False), ["capture", "ocr", "overlay"]),
        (StageSwitches(overlay=False), ["capture", "ocr", "mt"]),
    ],
)
def test_switched_off_stages_open_no_span(stages: StageSwitches, spans: list[str]) -> None:
    tracer = Tracer()
    result = pipeline(stages).step(frames(), tracer)
    assert [s.name for s in tracer.spans] == spans
    assert result is not None
    if not stages.mt:
        assert result.targets is None and "mt_chrf" not in result.accuracy
    if not stages.overlay:
        assert result.image is None


def test_exhausted_source_returns_none() -> None:
    it = frames(1)
    p = pipeline(StageSwitches(overlay=False))
    assert p.step(it, Tracer()) is not None
    assert p.step(it, Tracer()) is None


class BrokenMt(NullMt):
    def translate(self, texts, tracer=None):
        raise RuntimeError("model exploded")


def test_a_failing_stage_raises_stage_failure_with_its_spans() -> None:
    tracer = Tracer()
    with pytest.raises(StageFailure, match="mt: RuntimeError: model exploded") as caught:
        pipeline(StageSwitches(), mt=BrokenMt(NullMtOptions())).step(frames(), tracer)
    assert caught.value.stage == "mt"
    assert [s.name for s in tracer.spans] == ["capture", "ocr", "mt"]


def test_looping_source_keeps_frame_ids_increasing() -> None:
    source = SyntheticSource(SceneOptions(seed=2, n=2, loop=True))
    source.open()
    ids = [f.frame_id for f in itertools.islice(source.frames(), 5)]
    assert ids == [0, 1, 2, 3, 4]


def test_a_frame_the_source_could_not_decode_fails_at_capture() -> None:
    from harness.types import Frame

    broken = iter([Frame(0, 0, None, "fake", "bad.png", error="cannot read image bad.png")])
    tracer = Tracer()
    with pytest.raises(StageFailure, match=r"capture: DataMissing: cannot read image bad\.png"):
        pipeline(StageSwitches()).step(broken, tracer)
    assert [s.name for s in tracer.spans] == ["capture"]
