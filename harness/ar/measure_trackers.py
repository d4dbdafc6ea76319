"""Compare region trackers on synthetic videos: how well a text quad stays on its word, and at what cost.

``python -m harness.ar.measure_trackers [--seconds 3] [--seeds 0 1]`` renders easy 640x360 30 FPS videos
(pan, zoom, shake, walk), starts every tracker on the legible ground-truth word quads of the first frame
and follows them without ever re-reading. Truth for frame t is the word's first-frame quad mapped by the
video's own homographies (H_t · H_0⁻¹), so drift is measured exactly. Printed per tracker and motion:
mean IoU over the first second and over the whole clip, the share of quads still tracked (IoU > 0.5) at
the end, and milliseconds per frame for all regions together (wall clock: noisy on a shared machine).

Trackers: ``lk`` (the one the AR mode uses: harness.ar.tracker), ``orb`` (ORB features of the first
frame's region matched to each frame, RANSAC homography: no chaining, so no drift, but blur and scale
hurt), ``ecc`` (OpenCV's enhanced correlation coefficient, homography warp of the first frame's region,
started from the last frame's warp), ``mil`` (OpenCV TrackerMIL: an axis-aligned box, no perspective).
"""

from __future__ import annotations

import argparse
import itertools
import time
from collections.abc import Callable

import cv2
import numpy as np

from harness.ar.metrics import quad_iou
from harness.ar.options import TrackerOptions
from harness.ar.tracker import RegionTrack, flow_all, map_quad, to_gray
from harness.sources.synth_video import SyntheticVideoOptions, generate_video

__all__ = ["main"]

Tracker = Callable[[list[np.ndarray], list[np.ndarray]], tuple[list[list[np.ndarray | None]], float]]


def _lk(grays: list[np.ndarray], quads: list[np.ndarray]) -> tuple[list[list[np.ndarray | None]], float]:
    options = TrackerOptions()
    tracks = [RegionTrack.start(grays[0], q, options) for q in quads]
    out, started = [], time.perf_counter()
    for prev, cur in itertools.pairwise(grays):
        out.append([t.quad.copy() if u.ok else None for t, u in zip(tracks, flow_all(prev, cur, tracks, None, options), strict=True)])
    return out, time.perf_counter() - started


def _orb(grays: list[np.ndarray], quads: list[np.ndarray]) -> tuple[list[list[np.ndarray | None]], float]:
    orb, matcher = cv2.ORB_create(1500, fastThreshold=7), cv2.BFMatcher(cv2.NORM_HAMMING)
    out, started = [], time.perf_counter()
    refs = []
    for quad in quads:
        mask = np.zeros(grays[0].shape, np.uint8)
        x, y, w, h = cv2.boundingRect(quad.astype(np.float32))
        pad = h // 2
        mask[max(0, y - pad) : y + h + pad, max(0, x - pad) : x + w + pad] = 255
        refs.append(orb.detectAndCompute(grays[0], mask))
    for cur in grays[1:]:
        keys, desc = orb.detectAndCompute(cur, None)
        row = []
        for quad, (ref_keys, ref_desc) in zip(quads, refs, strict=True):
            row.append(_orb_match(quad, ref_keys, ref_desc, keys, desc, matcher))
        out.append(row)
    return out, time.perf_counter() - started


def _orb_match(quad, ref_keys, ref_desc, keys, desc, matcher) -> np.ndarray | None:
    if ref_desc is None or desc is None or len(ref_desc) < 6:
        return None
    pairs = [m for m, n in (p for p in matcher.knnMatch(ref_desc, desc, k=2) if len(p) == 2) if m.distance < 0.8 * n.distance]
    if len(pairs) < 6:
        return None
    src = np.float32([ref_keys[m.queryIdx].pt for m in pairs])
    dst = np.float32([keys[m.trainIdx].pt for m in pairs])
    matrix, _ = cv2.findHomography(src, dst, cv2.RANSAC, 3.0)
    return None if matrix is None else map_quad(quad, matrix)


def _ecc(grays: list[np.ndarray], quads: list[np.ndarray]) -> tuple[list[list[np.ndarray | None]], float]:
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 1e-4)
    warps = [np.eye(3, dtype=np.float32) for _ in quads]
    masks = []
    for quad in quads:
        mask = np.zeros(grays[0].shape, np.uint8)
        cv2.fillConvexPoly(mask, np.round(quad).astype(np.int32), 255)
        masks.append(cv2.dilate(mask, np.ones((15, 15), np.uint8)))
    template = grays[0].astype(np.float32)
    out, started = [], time.perf_counter()
    for cur in grays[1:]:
        row = []
        for i, quad in enumerate(quads):
            try:
                _, warp = cv2.findTransformECC(template, cur.astype(np.float32), warps[i], cv2.MOTION_HOMOGRAPHY, criteria, masks[i], 5)
                warps[i] = warp
                row.append(map_quad(quad, warp.astype(np.float64)))
            except cv2.error:
                row.append(None)
        out.append(row)
    return out, time.perf_counter() - started


def _mil(grays: list[np.ndarray], quads: list[np.ndarray]) -> tuple[list[list[np.ndarray | None]], float]:
    trackers, offsets = [], []
    first = cv2.cvtColor(grays[0], cv2.COLOR_GRAY2BGR)
    for quad in quads:
        box = cv2.boundingRect(quad.astype(np.float32))
        tracker = cv2.TrackerMIL_create()
        tracker.init(first, box)
        trackers.append(tracker)
        offsets.append(quad - np.array(box[:2], float))
    out, started = [], time.perf_counter()
    for cur in grays[1:]:
        bgr = cv2.cvtColor(cur, cv2.COLOR_GRAY2BGR)
        row = []
        for tracker, offset in zip(trackers, offsets, strict=True):
            ok, box = tracker.update(bgr)
            row.append(offset + np.array(box[:2], float) if ok else None)
        out.append(row)
    return out, time.perf_counter() - started


TRACKERS: dict[str, Tracker] = {"lk": _lk, "orb": _orb, "ecc": _ecc, "mil": _mil}


def _clip(motion: str, seed: int, seconds: float) -> tuple[list[np.ndarray], list[np.ndarray], list[list[np.ndarray]]]:
    frames = list(generate_video(SyntheticVideoOptions(seed=seed, motion=motion, duration_s=seconds)))
    grays = [to_gray(image) for image, _ in frames]
    first = frames[0][1]
    quads = [np.array(w.quad, float) for w in first.ground_truth.words if not w.dont_care]
    back = np.linalg.inv(np.array(first.homography))
    truth = [[map_quad(q, np.array(t.homography) @ back) for q in quads] for _, t in frames[1:]]
    return grays, quads, truth


def _score(tracked: list[list[np.ndarray | None]], truth: list[list[np.ndarray]], fps: float) -> tuple[float, float, float]:
    pairs = zip(tracked, truth, strict=True)
    ious = np.array([[quad_iou(q, t) if q is not None else 0.0 for q, t in zip(row, rows, strict=True)] for row, rows in pairs])
    second = ious[: round(fps)]
    return float(second.mean()), float(ious.mean()), float((ious[-1] > 0.5).mean())


def main(argv: list[str] | None = None) -> None:
    """Print the comparison table (Markdown)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--trackers", nargs="+", default=list(TRACKERS))
    args = parser.parse_args(argv)
    print("| tracker | motion | IoU 1st s | IoU clip | tracked at end | ms/frame | regions |")
    print("|---|---|---|---|---|---|---|")
    for motion in ("pan", "zoom", "shake", "walk"):
        clips = [_clip(motion, seed, args.seconds) for seed in args.seeds]
        for name in args.trackers:
            rows, seconds, frames, regions = [], 0.0, 0, 0
            for grays, quads, truth in clips:
                tracked, spent = TRACKERS[name](grays, quads)
                rows.append(_score(tracked, truth, 30.0))
                seconds, frames, regions = seconds + spent, frames + len(tracked), regions + len(quads)
            first, whole, end = np.mean(rows, axis=0)
            print(f"| {name} | {motion} | {first:.3f} | {whole:.3f} | {end:.2f} | {1e3 * seconds / frames:.1f} | {regions} |")


if __name__ == "__main__":
    main()
