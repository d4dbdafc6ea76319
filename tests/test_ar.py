"""The real-time AR mode on null backends: tracking, re-OCR policies, translation reuse, fallback, records."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import pytest

from harness.ar.metrics import quad_iou
from harness.ar.options import ArOptions, TrackerOptions
from harness.ar.pipeline import ARPipeline
from harness.ar.policy import Signals, make_policy
from harness.ar.reuse import KnownRegion, Reuse
from harness.ar.summary import ar_columns
from harness.ar.tracker import RegionTrack, flow_all, map_quad, to_gray
from harness.errors import ConfigError
from harness.mt.null import NullMt, NullMtOptions
from harness.ocr.null import NullOcr, NullOcrOptions
from harness.overlay.render import Overlay, OverlayOptions
from harness.pipeline import StageSwitches
from harness.run.experiment import load_experiment
from harness.sources.synth_video import SyntheticVideoOptions, SyntheticVideoSource, generate_video
from harness.store.schema import frame_record
from harness.trace import Tracer
from harness.types import Frame, FrameResult, GroundTruth, GroundTruthWord, TextRegion
from tests.conftest import REPO


class CountingMt(NullMt):
    """The identity translator, counting every text it is asked to translate."""

    def __init__(self) -> None:
        super().__init__(NullMtOptions())
        self.texts: list[str] = []

    def translate(self, texts: Sequence[str], tracer: Tracer | None = None) -> list[str]:
        self.texts += list(texts)
        return [t.upper() for t in texts]


def video(motion: str, seconds: float = 2.0) -> SyntheticVideoSource:
    source = SyntheticVideoSource(SyntheticVideoOptions(motion=motion, duration_s=seconds))
    source.open()
    return source


def ar_pipeline(options: ArOptions, mt=None) -> ARPipeline:
    return ARPipeline(NullOcr(NullOcrOptions()), mt or NullMt(NullMtOptions()), Overlay(OverlayOptions()), StageSwitches(), options)


def run(pipeline: ARPipeline, frames: Iterator[Frame], limit: int = 1000) -> list[tuple[FrameResult, Tracer]]:
    results = []
    try:
        while len(results) < limit:
            tracer = Tracer()
            result = pipeline.step(frames, tracer)
            if result is None:
                break
            results.append((result, tracer))
    finally:
        pipeline.close()
    return results


@pytest.mark.parametrize("motion", ["shake", "pan", "walk"])
def test_tracking_keeps_the_quad_on_a_moving_sign(motion: str) -> None:
    frames = list(generate_video(SyntheticVideoOptions(motion=motion, duration_s=1.0)))
    first = frames[0][1]
    quads = [np.array(w.quad, float) for w in first.ground_truth.words if not w.dont_care]
    options = TrackerOptions()
    grays = [to_gray(image) for image, _ in frames]
    tracks = [RegionTrack.start(grays[0], q, options) for q in quads]
    back = np.linalg.inv(np.array(first.homography))
    ious, ok = [], []
    for prev, (cur, (_, truth)) in zip(grays, zip(grays[1:], frames[1:], strict=True), strict=False):
        updates = flow_all(prev, cur, tracks, None, options)
        ok += [u.ok for u in updates]
        truths = [map_quad(q, np.array(truth.homography) @ back) for q in quads]
        ious += [quad_iou(t.quad, q) for t, q, u in zip(tracks, truths, updates, strict=True) if u.ok]
    assert np.mean(ok) > 0.9  # a failed update keeps the last quad, and the AR mode hides the region
    assert min(ious) > 0.7 and np.mean(ious) > 0.9


def test_tracked_frames_skip_ocr_and_keep_the_overlay_on_the_sign() -> None:
    source = video("shake")
    results = run(ar_pipeline(ArOptions(policy="every-n", every_n_frames=20, background=False)), source.frames())
    names = [[s.name for s in tracer.spans] for _, tracer in results]
    assert names[0] == ["capture", "track", "ocr", "mt", "overlay"]
    assert names[1] == ["capture", "track", "overlay"]
    assert sum("ocr" in n for n in names) == 3  # frames 0, 20, 40 of 60
    drift = [i for r, _ in results for i in r.ar["drift_ious"]]
    assert np.mean(drift) > 0.9
    assert all(r.image is not None and r.ar["regions_shown"] > 0 for r, _ in results)
    assert results[5][0].ar["ocr_frame_id"] == 0 and results[5][0].ar["staleness_ns"] > 0


def test_confidence_policy_reads_again_when_a_new_sign_comes_into_view() -> None:
    source = video("pan", 4.0)
    pipeline = ar_pipeline(ArOptions(policy="confidence", background=False, max_interval_frames=0))
    results = run(pipeline, pipeline.observe(source.frames()))
    reasons = [r.ar["keyframe"] for r, _ in results if r.ar["keyframe"]]
    assert reasons[0] == "start" and "new-area" in reasons
    assert len(reasons) < len(results) / 4  # most frames are tracked, not read
    ttft = [t for r, _ in results for t in r.ar["ttft_ns"]]
    late = [t for r, _ in results[1:] for t in r.ar["ttft_ns"]]  # words that came into view after the first frame
    assert late, "a sign entering the view was never translated"
    period_ns = 1e9 / 30
    assert max(ttft) <= 30 * period_ns  # a new word is translated within a second of video
    assert sum(r.ar["missed_words"] for r, _ in results) == 0


def test_policies_decide_from_signals() -> None:
    base = Signals(5, 2, 0, 0, 0, 0.0, 1.0, 400.0, 33.3)
    confidence = make_policy(ArOptions(policy="confidence"))
    assert confidence.reason(base) is None
    assert confidence.reason(Signals(-1, 0, 0, 0, 0, 0.0, 1.0, None, 33.3)) == "start"
    assert confidence.reason(Signals(5, 2, 1, 0, 0, 0.0, 1.0, 400.0, 33.3)) == "lost"
    assert confidence.reason(Signals(5, 2, 0, 0, 1, 0.0, 1.0, 400.0, 33.3)) == "left-view"
    assert confidence.reason(Signals(5, 2, 0, 0, 0, 0.3, 1.0, 400.0, 33.3)) == "new-area"
    assert confidence.reason(Signals(5, 2, 0, 0, 0, 0.0, 1.6, 400.0, 33.3)) == "scale"
    assert confidence.reason(Signals(150, 2, 0, 0, 0, 0.0, 1.0, 400.0, 33.3)) == "max-interval"
    budget = make_policy(ArOptions(policy="budget", frame_budget_ms=10.0))
    assert budget.reason(Signals(39, 2, 0, 0, 0, 0.0, 1.0, 400.0, 33.3)) is None
    assert budget.reason(Signals(40, 2, 0, 0, 0, 0.0, 1.0, 400.0, 33.3)) == "budget"
    assert make_policy(ArOptions(policy="every-n", every_n_frames=4)).reason(Signals(4, 2, 0, 0, 0, 0.0, 1.0, None, 33.3)) == "every-n"


def test_tracked_signs_are_never_translated_again() -> None:
    mt = CountingMt()
    source = video("shake")
    results = run(ar_pipeline(ArOptions(policy="every-n", every_n_frames=10, background=False), mt), source.frames())
    keyframes = [r.ar["cache"] for r, _ in results if r.ar.get("cache")]
    assert len(keyframes) == 6
    assert len(mt.texts) == len(set(mt.texts)) == keyframes[0]["cache_lookups"]  # only the first keyframe reached MT
    assert all(k["identity_hits"] == k["cache_lookups"] for k in keyframes[1:])
    assert all(t == t.upper() for r, _ in results for t in r.targets or [])


def test_reuse_keeps_a_signs_translation_until_it_reads_differently() -> None:
    calls: list[list[str]] = []

    def translate(texts: list[str]) -> list[str]:
        calls.append(texts)
        return [f"<{t}>" for t in texts]

    reuse = Reuse(10)
    quad = ((10.0, 10.0), (110.0, 10.0), (110.0, 40.0), (10.0, 40.0))
    known = [KnownRegion(np.array(quad), "Platform closed", "<Platform closed>", 7)]
    moved = tuple((x + 3, y + 1) for x, y in quad)
    below = tuple((x, y + 100) for x, y in quad)
    targets, ids, stats = reuse.translate([TextRegion(moved, "platform  CLOSED", 0.9), TextRegion(below, "EXIT", 0.9)], known, translate)
    assert targets == ["<Platform closed>", "<EXIT>"] and ids == [7, None]
    assert calls == [["EXIT"]] and (stats.identity_hits, stats.text_hits, stats.translated) == (1, 0, 1)
    targets, ids, _ = reuse.translate([TextRegion(moved, "Platforn closed", 0.9)], known, translate)
    assert targets == ["<Platforn closed>"] and ids == [None]  # read differently: translated again, not frozen
    far = tuple((x + 300, y) for x, y in quad)
    targets, ids, stats = reuse.translate([TextRegion(far, "exit ", 0.9)], [], translate)
    assert targets == ["<EXIT>"] and stats.text_hits == 1 and len(calls) == 2  # same text elsewhere: the text cache


def noise_frames(n: int) -> Iterator[Frame]:
    rng = np.random.default_rng(0)
    word = GroundTruthWord(((100.0, 100.0), (220.0, 100.0), (220.0, 140.0), (100.0, 140.0)), "EXIT")
    for i in range(n):  # every frame a new random image: nothing can be tracked
        yield Frame(i, i * 33_000_000, rng.integers(0, 255, (240, 320, 3), np.uint8), ground_truth=GroundTruth((word,), "EXIT", "SALIDA"))


@pytest.mark.parametrize("background", [False, True])
def test_falls_back_to_per_frame_when_tracking_fails(background: bool) -> None:
    options = ArOptions(policy="every-n", every_n_frames=100, background=background, fallback_after_frames=1)
    results = run(ar_pipeline(options), noise_frames(8))
    modes = [r.ar["mode"] for r, _ in results]
    assert modes[2:] == ["fallback"] * 6
    assert all("ocr" in [s.name for s in tracer.spans] for _, tracer in results[2:])
    assert all(r.targets == ["EXIT"] for r, _ in results[2:])  # the overlay still shows the frame's own reading


def test_background_reading_is_brought_forward_and_recorded() -> None:
    source = video("pan", 1.5)
    pipeline = ar_pipeline(ArOptions(policy="every-n", every_n_frames=10, start_inline=False))
    results = run(pipeline, pipeline.observe(source.frames()))
    submitted = [r.frame.frame_id for r, tracer in results if "submit" in [s.name for s in tracer.spans]]
    adopted = [(r.frame.frame_id, r.ar["adopted_frame_id"]) for r, _ in results if r.ar.get("adopted_frame_id") is not None]
    assert submitted[0] == 0 and adopted and all(kid in submitted and fid > kid for fid, kid in adopted)
    shown = next(r for r, _ in results if r.ar.get("adopted_frame_id") is not None)
    assert [s["name"] for s in shown.ar["background_spans"]] == ["ocr", "mt"]
    assert all(not any(s.name.startswith("ocr") for s in tracer.spans) for _, tracer in results)  # OCR never on the frame path
    drift = [i for r, _ in results for i in r.ar["drift_ious"]]
    assert np.mean(drift) > 0.85
    record = frame_record("c", 0, False, results[1][1].spans, shown)
    assert record["ar"]["policy"] == "every-n"


def test_per_frame_policy_is_the_plain_pipeline_scored_alike() -> None:
    source = video("shake", 0.5)
    results = run(ar_pipeline(ArOptions(policy="per-frame")), source.frames())
    assert [s.name for s in results[0][1].spans] == ["capture", "ocr", "mt", "overlay"]
    assert all(r.ar["mode"] == "per-frame" and r.ar["ocr_frame_id"] == r.frame.frame_id for r, _ in results)
    assert np.mean([i for r, _ in results for i in r.ar["drift_ious"]]) > 0.99  # null OCR returns the truth quads


def test_summary_columns_from_ar_records() -> None:
    source = video("shake", 1.0)
    pipeline = ar_pipeline(ArOptions(policy="every-n", every_n_frames=10, background=False))
    results = run(pipeline, pipeline.observe(source.frames()))
    records = [frame_record("c", i, i == 0, tracer.spans, r) for i, (r, tracer) in enumerate(results)]
    durations: dict[str, list[float]] = {}
    columns = ar_columns(records, durations)
    assert columns["overlay_fps"] > 0 and 0.9 < columns["ar_drift_iou"] <= 1.0
    assert columns["ar_identity_hit_rate"] == 1.0 and columns["ar_fallback_frames"] == 0
    assert columns["ar_energy_per_frame_j"] is None  # no sensor here
    assert len(durations["staleness"]) == len(records) - 1


def test_experiment_multiplies_configurations_by_ar_entries(write_experiment) -> None:
    experiment = load_experiment(REPO / "experiments" / "ar-realtime.toml")
    ids = [c.config_id for c in experiment.configurations()]
    assert len(ids) == 16 and ids[0] == "pan/ppocrv4-fp32/apertium-eng-spa/per-frame"
    assert {c.ar.options.policy for c in experiment.configurations()} == {"per-frame", "every-n", "confidence", "budget"}
    bad = write_experiment('[[sources]]\nid = "s"\nkind = "synthetic"\n[[ar]]\nid = "x"\npolicy = "sometimes"\n')
    with pytest.raises(ConfigError, match="policy must be one of"):
        load_experiment(bad)


def test_first_keyframe_is_read_inline_then_readings_go_to_the_worker() -> None:
    source = video("shake", 1.0)
    results = run(ar_pipeline(ArOptions(policy="every-n", every_n_frames=10)), source.frames())
    assert results[0][0].ar["mode"] == "keyframe" and "ocr" in [s.name for s in results[0][1].spans]
    assert results[0][0].ar["regions_shown"] > 0  # the first overlay already shows the first reading
    later = [[s.name for s in tracer.spans] for _, tracer in results[1:]]
    assert not any("ocr" in names for names in later) and any("submit" in names for names in later)


def test_delta_chrf_interval_is_paired_by_second_of_video() -> None:
    from harness.ar.table import chrf_by_second, delta_ci

    def records(values: list[float], step: int) -> list[dict]:
        return [{"warmup": False, "ok": True, "frame_id": i * step, "accuracy": {"mt_chrf": v}} for i, v in enumerate(values)]

    rng = np.random.default_rng(1)
    scene = rng.uniform(20, 60, size=12)  # how hard each second of the video is to read, shared by both
    per_frame = chrf_by_second(records([scene[i // 2] for i in range(24)], 15), 30.0)  # 2 readings a second
    tracking = chrf_by_second(records([scene[i // 30] - 3.0 for i in range(360)], 1), 30.0)  # every frame, 3 points lower
    low, high = delta_ci(tracking, per_frame)
    assert low == pytest.approx(-3.0) and high == pytest.approx(-3.0)  # pairing removes the scene's own variation
    same = delta_ci(per_frame, per_frame)
    assert same == (0.0, 0.0)
    assert delta_ci(chrf_by_second(records([50.0] * 3, 30), 30.0), per_frame) is None  # fewer than 4 shared seconds
