"""The real-time AR mode: OCR + MT on keyframes, the text regions tracked on every camera frame in between.

``ARPipeline.step`` has the plain ``Pipeline``'s contract (one frame in, one ``FrameResult`` out, spans on
the tracer) and adds an ``ar`` dict to its result, stored as the frame record's ``ar`` field. Spans of a
tracking frame: ``capture``, ``track`` (optical flow of every region and of the keyframe bridge; its part
``track.adopt`` when a keyframe's reading arrives and is brought forward to this frame), ``submit`` (a
keyframe handed to the background worker), ``ocr``/``mt`` (a keyframe read inline: ``background = false``,
or the per-frame fallback), ``overlay``; and ``bg.ocr``, ``bg.ocr.det``, ..., ``bg.mt`` (with their real
edges, attribute ``keyframe_id``) on the frame where a background reading was first shown.

The ``per-frame`` policy is the plain ``Pipeline`` itself, scored the same way. Scoring (drift,
staleness, time to first translation: harness.ar.metrics) happens after the overlay span, so it is
harness time, not frame latency.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from harness.ar.metrics import TruthWords, quad_iou, words_inside
from harness.ar.options import ArOptions
from harness.ar.overlay import Patch, draw_patches, make_patch
from harness.ar.policy import Signals, make_policy
from harness.ar.reuse import KnownRegion, Reuse
from harness.ar.tracker import FrameFlow, RegionTrack, flow_all, to_gray
from harness.ar.worker import Keyframe, Worker, read_keyframe
from harness.errors import ConfigError, DataMissing
from harness.metrics.text import CHRF_METRIC, frame_accuracy
from harness.mt.base import MtBackend
from harness.ocr.base import OcrBackend
from harness.pipeline import Pipeline, StageFailure, StageSwitches
from harness.store.spans import is_stage
from harness.trace import Tracer
from harness.types import Frame, FrameResult, GroundTruth, TextRegion, Translation, quad_from_array

__all__ = ["ARPipeline"]

_MIN_IN_VIEW = 0.5  # a region with less of its area inside the frame has left the view


@dataclass
class _Shown:
    """A region on show: its tracker, what it says, and the keyframe it was read in."""

    track: RegionTrack
    text: str
    target: str
    confidence: float
    track_id: int
    keyframe_id: int
    keyframe_quad: np.ndarray
    word_ids: list[int] | None = None  # truth words under it at its keyframe (set once that truth is in)
    patch: Patch | None = None  # its translation rendered once (harness.ar.overlay)
    patched: bool = False


class ARPipeline:
    """Runs one source through the AR mode of ``options`` (one re-OCR policy)."""

    def __init__(self, ocr: OcrBackend, mt: MtBackend, overlay: Any, stages: StageSwitches, options: ArOptions) -> None:
        if not stages.ocr:
            raise ConfigError("[[ar]] needs [stages] ocr = true: without OCR there is no text to track")
        stages = replace(stages, mt_unit="line")  # tracked regions reuse translations line by line; per-frame alike
        self.ocr, self.mt, self.stages, self.options = ocr, mt, stages, options
        self.overlay = overlay if stages.overlay else None
        self.cost_ms: float | None = None  # running mean of a keyframe's OCR + MT time; kept across resets
        self.plain = Pipeline(ocr, mt, overlay, stages) if not options.tracking else None
        self.policy = make_policy(options) if options.tracking else None
        self.reuse = Reuse(options.cache_keyframes)
        self.worker = Worker(ocr, mt, self.reuse, stages.mt, options.worker_nice) if options.tracking and options.background else None
        self.reset()

    def reset(self) -> None:
        """Forget everything seen so far (the source starts over); a reading in hand is waited for and dropped."""
        if self.worker is not None and self.worker.busy:
            self.worker.poll(block=True)
        if self.plain is not None and self.plain.cache is not None:
            self.plain.cache = type(self.plain.cache)(self.plain.cache.max_age_frames)
        self.reuse.text_cache = type(self.reuse.text_cache)(self.options.cache_keyframes)
        self.truth = TruthWords()
        self._seen: list[tuple[int, GroundTruth | None]] = []  # frames from the source not yet scored
        self._last_arrival: tuple[int, int] | None = None
        self._keyframe_truth: dict[int, dict[int, np.ndarray]] = {}
        self._keyframe_arrival: dict[int, int] = {}
        self.shown: list[_Shown] = []
        self.prev_gray: np.ndarray | None = None
        self.bridge: FrameFlow | None = None
        self.bridge_keyframe: int | None = None
        self.on_show: int | None = None  # keyframe whose reading is on show
        self.since = -1
        self.failures = 0
        self._next_id = 0
        self._period_ns = 0
        self._displays: list[tuple[int, list[str] | None]] = []  # (ready ns, targets) of the last overlays

    def observe(self, frames: Iterator[Frame]) -> Iterator[Frame]:
        """Tap the source before the scenario drops frames, so every camera frame's truth is scored."""
        for frame in frames:
            self._seen.append((frame.frame_id, frame.ground_truth))
            yield frame

    def step(self, frames: Iterator[Frame], tracer: Tracer) -> FrameResult | None:
        """Capture and process the next frame; None when the source has no more frames."""
        if self.plain is not None:
            result = self.plain.step(frames, tracer)
            return None if result is None else self._score_plain(result, tracer)
        frame = _stage("capture", None, tracer, lambda _: next(frames, None))
        if frame is None:
            return None
        if frame.error is not None:
            raise StageFailure("capture", DataMissing(frame.error), frame)
        ar: dict[str, Any] = {"policy": self.options.policy, "mode": "track"}
        gray, signals, failed = _stage("track", frame, tracer, lambda attrs: self._track(frame, tracer, attrs, ar))
        self._keyframe(frame, gray, signals, failed, tracer, ar)
        regions = [TextRegion(quad_from_array(s.track.quad), s.text, s.confidence) for s in self.shown]
        targets = [s.target for s in self.shown]
        image = None
        if self.overlay is not None:
            image = _stage("overlay", frame, tracer, lambda attrs: self._draw(frame, attrs))
        self.prev_gray = gray
        return self._score(frame, regions, targets, image, tracer, ar)

    # tracking ---------------------------------------------------------------------------------------

    def _track(self, frame: Frame, tracer: Tracer, attrs: dict[str, Any], ar: dict[str, Any]) -> tuple[np.ndarray, Signals, bool]:
        gray = to_gray(frame.image)
        options = self.options.tracker
        before, bridge_ok = len(self.shown), self.bridge is not None and self.bridge.ok
        lost = weak = left = 0
        if self.prev_gray is not None and self.prev_gray.shape == gray.shape:
            updates = flow_all(self.prev_gray, gray, [s.track for s in self.shown], self.bridge, options)
            lost = sum(not u.ok for u in updates)
            o = self.options
            weak = sum(u.ok and (u.inlier_ratio < o.min_inlier_ratio or u.residual_px > o.max_residual_px) for u in updates)
            kept = [s for s in self.shown if s.track.lost_frames == 0]
            self.shown = [s for s in kept if _in_view(s.track.quad, gray.shape) >= _MIN_IN_VIEW]
            left = len(kept) - len(self.shown)
        failed = (before > 0 and lost == before) or (bridge_ok and self.bridge is not None and not self.bridge.ok)
        if self.worker is not None:
            job = self.worker.poll()
            if job is not None:
                with tracer.span("track.adopt") as adopt:
                    self._adopt(job, gray, adopt, ar, tracer)
        self.since += 0 if self.since < 0 else 1
        new_area, scale = self._view_change(gray.shape)
        signals = Signals(self.since, len(self.shown), lost, weak, left, new_area, scale, self.cost_ms, self._period_ns / 1e6)
        attrs.update(regions=len(self.shown), lost=lost, weak=weak, left_view=left)
        attrs.update(new_area_frac=round(new_area, 4), scale_change=round(scale, 4))
        return gray, signals, failed

    def _view_change(self, shape: tuple[int, ...]) -> tuple[float, float]:
        """Share of the frame not seen at the last keyframe, and the zoom since it (from the bridge)."""
        if self.bridge is None or self.bridge.frames == 0 or not self.bridge.ok:
            return 0.0, 1.0
        h, w = shape[:2]
        rect = np.array([[0, 0], [w, 0], [w, h], [0, h]], float)
        seen = cv2.perspectiveTransform(rect.reshape(-1, 1, 2), self.bridge.homography).reshape(4, 2)
        new = 1.0 - quad_iou_area(seen, rect) / (w * h)
        det = abs(float(np.linalg.det(self.bridge.homography[:2, :2] / self.bridge.homography[2, 2])))
        zoom = float(np.sqrt(det)) if det > 0 else 1.0
        return float(np.clip(new, 0.0, 1.0)), max(zoom, 1 / zoom) if zoom > 0 else 1.0

    # keyframes --------------------------------------------------------------------------------------

    def _keyframe(self, frame: Frame, gray: np.ndarray, signals: Signals, failed: bool, tracer: Tracer, ar: dict[str, Any]) -> None:
        self.failures = self.failures + 1 if failed else 0
        fallback = self.failures >= self.options.fallback_after_frames
        reason = "fallback" if fallback else self.policy.reason(signals)  # type: ignore[union-attr]
        ar["keyframe"] = None
        if reason is None:
            return
        inline = self.worker is None or fallback or (reason == "start" and self.options.start_inline)
        if not inline:
            if self.worker.busy:  # type: ignore[union-attr]
                ar["deferred"] = reason  # due, but the worker is still reading the last keyframe
                return
            _stage("submit", frame, tracer, lambda attrs: self._submit(frame, gray, attrs))
        else:
            self._read_inline(frame, gray, tracer, ar)
            ar["mode"] = "fallback" if fallback else "keyframe"
        ar["keyframe"] = reason

    def _known(self) -> list[KnownRegion]:
        return [KnownRegion(s.track.quad.copy(), s.text, s.target, s.track_id) for s in self.shown]

    def _submit(self, frame: Frame, gray: np.ndarray, attrs: dict[str, Any]) -> None:
        self.worker.submit(Keyframe(frame, self._known()))  # type: ignore[union-attr]
        self._start_bridge(frame, gray)
        attrs["keyframe_id"] = frame.frame_id

    def _start_bridge(self, frame: Frame, gray: np.ndarray) -> None:
        self.bridge, self.bridge_keyframe = FrameFlow.start(gray, self.options.tracker), frame.frame_id
        self._keyframe_arrival[frame.frame_id] = frame.capture_ns
        self.since = 0

    def _read_inline(self, frame: Frame, gray: np.ndarray, tracer: Tracer, ar: dict[str, Any]) -> None:
        if self.worker is not None and self.worker.busy:
            self.worker.poll(block=True)  # falling back: the reading in hand is of an older frame
            ar["discarded"] = True
        job = read_keyframe(Keyframe(frame, self._known()), self.ocr, self.mt, self.reuse, tracer, self.stages.mt)
        self._start_bridge(frame, gray)
        self.failures = 0
        self._adopt(job, gray, {}, ar, None)

    def _adopt(self, job: Keyframe, gray: np.ndarray, attrs: dict[str, Any], ar: dict[str, Any], tracer: Tracer | None) -> None:
        """Show a keyframe's reading: its regions brought forward to this frame, each with a fresh tracker."""
        kid = job.frame.frame_id
        if tracer is not None:  # a background reading: its spans go on the record of the frame that first shows it
            ar["background_spans"] = [{"name": s.name, "start_ns": s.start_ns, "end_ns": s.end_ns, "attrs": s.attrs} for s in job.spans]
        if job.error is not None:
            stage, exc = job.error
            raise StageFailure(stage, exc, job.frame)
        self._update_cost(job.cost_ns / 1e6)
        if job.stats is not None:
            ar["cache"] = job.stats.attrs()
        shown, how = [], []
        for region, target, tid in zip(job.regions, job.targets, job.track_ids, strict=True):
            quad = np.array(region.quad, float)
            moved, way = self._bring_forward(quad, kid)
            how.append(way)
            if moved is None or _in_view(moved, gray.shape) < _MIN_IN_VIEW:
                continue
            track = RegionTrack.start(gray, moved, self.options.tracker)
            shown.append(_Shown(track, region.text, target, region.confidence, self._track_id(tid), kid, quad))
        self.shown, self.on_show = shown, kid
        ar["adopted_frame_id"] = kid
        attrs.update(keyframe_id=kid, regions=len(job.regions), placed=len(shown), brought_by=",".join(sorted(set(how))))

    def _bring_forward(self, quad: np.ndarray, keyframe_id: int) -> tuple[np.ndarray | None, str]:
        if self.bridge is None or self.bridge_keyframe != keyframe_id:
            return None, "no-bridge"
        return self.bridge.bring_forward(quad, self.options.tracker)

    def _track_id(self, known: int | None) -> int:
        if known is not None:
            return known
        self._next_id += 1
        return self._next_id - 1

    def _update_cost(self, cost_ms: float) -> None:
        self.cost_ms = cost_ms if self.cost_ms is None else 0.7 * self.cost_ms + 0.3 * cost_ms

    def _draw(self, frame: Frame, attrs: dict[str, Any]) -> np.ndarray:
        """Warp every shown region's patch onto its tracked quad, rendering the patches of newly shown ones."""
        started, made = time.perf_counter_ns(), 0
        for shown in self.shown:
            if not shown.patched:
                shown.patch = make_patch(self.overlay, frame.image, shown.track.quad, shown.text, shown.target)
                shown.patched, made = True, made + 1
        rendered = time.perf_counter_ns()
        image, warp_ns = draw_patches(frame.image, [(s.patch, s.track.quad) for s in self.shown if s.patch is not None])
        attrs.update(patches_made=made, render_ns=rendered - started, warp_ns=warp_ns)
        return image

    # scoring ----------------------------------------------------------------------------------------

    def _score_plain(self, result: FrameResult, tracer: Tracer) -> FrameResult:
        frame = result.frame
        kid = frame.frame_id
        self._keyframe_arrival[kid] = frame.capture_ns
        self.on_show = kid
        self.shown = []
        for region, target in zip(result.regions, result.targets or [r.text for r in result.regions], strict=True):
            quad = np.array(region.quad, float)
            track = RegionTrack(quad, np.zeros((0, 2)), np.zeros((0, 2)), 1, quad)  # not tracked: read again next frame
            self.shown.append(_Shown(track, region.text, target, region.confidence, 0, kid, quad))
        ar: dict[str, Any] = {"policy": "per-frame", "mode": "per-frame", "keyframe": "per-frame", "adopted_frame_id": kid}
        scored = self._score(frame, result.regions, result.targets, result.image, tracer, ar, accuracy=result.accuracy)
        return scored

    def _score(
        self,
        frame: Frame,
        regions: list[TextRegion],
        targets: list[str] | None,
        image: np.ndarray | None,
        tracer: Tracer,
        ar: dict[str, Any],
        accuracy: dict[str, Any] | None = None,
    ) -> FrameResult:
        shown_ns = max((s.end_ns for s in tracer.spans if is_stage(s.name)), default=frame.capture_ns)
        display = self._feed_truth(frame)
        self._displays = [*self._displays[-3:], (shown_ns, [t for t in (targets or []) if t] if self.stages.mt else None)]
        if ar.get("keyframe"):
            self._keyframe_truth[frame.frame_id] = self.truth.centres()
        ious = self._drift()
        drawn = [s.track.quad for s in self.shown if s.target]
        self.truth.serve(drawn, shown_ns)
        ttft, missed = self.truth.take()
        arrival = self._keyframe_arrival.get(self.on_show) if self.on_show is not None else None
        ar.update(
            ocr_frame_id=self.on_show,
            regions_shown=len(self.shown),
            staleness_ns=None if arrival is None else shown_ns - arrival,
            drift_iou=float(np.mean(ious)) if ious else None,
            drift_ious=[round(i, 4) for i in ious],
            ttft_ns=ttft,
            missed_words=missed,
            display_chrf=display,
        )
        shown_targets = targets if self.stages.mt else None
        if accuracy is None:
            accuracy = frame_accuracy(frame.ground_truth, regions, shown_targets)
        translations = None
        if self.stages.mt:
            translations = [Translation(r.text, t, self.mt.name) for r, t in zip(regions, targets or [], strict=False)]
        self._forget_old_keyframes()
        return FrameResult(frame, regions, translations, image, accuracy, ar=ar)

    def _feed_truth(self, frame: Frame) -> list[float]:
        """Score every source frame up to this one (dropped ones at their interpolated arrival times).

        Returns the chrF of the translation on display when each of those frames arrived, against that
        frame's reference: what the user saw at camera rate, staleness included.
        """
        self.truth.frame_width_px = float(frame.image.shape[1]) if frame.image is not None else self.truth.frame_width_px
        seen = [(fid, gt) for fid, gt in self._seen if fid <= frame.frame_id] or [(frame.frame_id, frame.ground_truth)]
        self._seen = [(fid, gt) for fid, gt in self._seen if fid > frame.frame_id]
        last = self._last_arrival or (frame.frame_id - 1, frame.capture_ns)
        chrf = []
        for fid, truth in seen:
            arrival = last[1] + (fid - last[0]) * (frame.capture_ns - last[1]) // max(frame.frame_id - last[0], 1)
            self.truth.feed(truth, arrival)
            if truth is not None and truth.reference_translation is not None and self.stages.mt:
                on_show = next((targets for ready, targets in reversed(self._displays) if ready <= arrival), [])
                chrf.append(round(CHRF_METRIC.sentence_score(" ".join(on_show or []), [truth.reference_translation]).score, 3))
        if self._last_arrival is not None and frame.frame_id > self._last_arrival[0]:
            self._period_ns = (frame.capture_ns - self._last_arrival[1]) // (frame.frame_id - self._last_arrival[0])
        self._last_arrival = (frame.frame_id, frame.capture_ns)
        return chrf

    def _drift(self) -> list[float]:
        """IoU of every shown region against the truth words it was read from (0 once they left the view)."""
        ious = []
        for shown in self.shown:
            if shown.word_ids is None and shown.keyframe_id in self._keyframe_truth:
                shown.word_ids = words_inside(shown.keyframe_quad, self._keyframe_truth[shown.keyframe_id])
            if not shown.word_ids:
                continue  # not on any truth word (a false detection), or its keyframe's truth is unknown
            reference = self.truth.reference_quad(shown.word_ids)
            ious.append(0.0 if reference is None else quad_iou(shown.track.quad, reference))
        return ious

    def _forget_old_keyframes(self) -> None:
        keep = {s.keyframe_id for s in self.shown} | {self.bridge_keyframe, self.on_show}
        for table in (self._keyframe_truth, self._keyframe_arrival):
            for kid in [k for k in table if k not in keep]:
                del table[kid]

    def model_files(self) -> tuple[Path, ...]:
        """The OCR and MT backends' model files."""
        return (*self.ocr.model_files(), *self.mt.model_files())

    def close(self) -> None:
        """Stop the worker, then close both backends."""
        if self.worker is not None:
            self.worker.close()
        self.ocr.close()
        self.mt.close()


def _stage(name: str, frame: Frame | None, tracer: Tracer, work: Callable[[dict[str, Any]], Any]) -> Any:
    try:
        with tracer.span(name) as attrs:
            return work(attrs)
    except StageFailure:
        raise
    except Exception as exc:  # recorded as a failed frame by the runner, never swallowed
        raise StageFailure(name, exc, frame) from exc


def quad_iou_area(a: np.ndarray, b: np.ndarray) -> float:
    """Area of the intersection of two convex quads, px²."""
    inter, _ = cv2.intersectConvexConvex(a.astype(np.float32).reshape(-1, 1, 2), b.astype(np.float32).reshape(-1, 1, 2))
    return float(inter)


def _in_view(quad: np.ndarray, shape: tuple[int, ...]) -> float:
    """Share of the quad's area inside the frame."""
    h, w = shape[:2]
    rect = np.array([[0, 0], [w, 0], [w, h], [0, h]], float)
    area = cv2.contourArea(cv2.convexHull(quad.astype(np.float32).reshape(-1, 1, 2)))
    return quad_iou_area(cv2.convexHull(quad.astype(np.float32)).reshape(-1, 2), rect) / area if area > 0 else 0.0
