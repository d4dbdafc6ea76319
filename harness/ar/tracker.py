"""Text regions followed from frame to frame: sparse optical flow (pyramidal Lucas-Kanade) + a RANSAC homography.

Each tracked region keeps corner features found inside its quad (grown by ``margin_frac`` of its height, so
the sign board around the letters lends texture). Every frame the points are flowed forward, checked by
flowing them back (forward-backward error), and a homography is fitted to the survivors with RANSAC; the
region's quad moves with it. Points are topped up from the current frame when too many were lost.

The same machinery carries a whole-frame point set (``FrameFlow``): started on a keyframe when its OCR is
submitted, it is flowed along every frame, so when the keyframe's regions arrive (from a background worker,
frames later) each region is brought forward with a homography fitted to the keyframe points inside it
(``bring_forward``), or with the whole frame's homography where the region itself has too few points.

Why LK + RANSAC: see docs/ar.md for the measured comparison with ORB matching to the keyframe and ECC.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from harness.ar.options import TrackerOptions

__all__ = ["FrameFlow", "RegionTrack", "TrackUpdate", "fit_homography", "flow_all", "flow_points", "map_quad", "to_gray"]


def to_gray(image: np.ndarray) -> np.ndarray:
    """The frame as 8-bit grey, the tracker's working image."""
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image


def _lk_params(options: TrackerOptions) -> dict[str, object]:
    win = options.window_px
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03)
    return {"winSize": (win, win), "maxLevel": options.pyramid_levels, "criteria": criteria}


def flow_points(prev: np.ndarray, cur: np.ndarray, points: np.ndarray, options: TrackerOptions) -> tuple[np.ndarray, np.ndarray]:
    """Points flowed from ``prev`` to ``cur`` and a mask of those that survived the forward-backward check."""
    if len(points) == 0:
        return points, np.zeros(0, bool)
    p0 = points.reshape(-1, 1, 2).astype(np.float32)
    params = _lk_params(options)
    p1, status, _ = cv2.calcOpticalFlowPyrLK(prev, cur, p0, None, **params)
    back, status_back, _ = cv2.calcOpticalFlowPyrLK(cur, prev, p1, None, **params)
    error = np.linalg.norm((back - p0).reshape(-1, 2), axis=1)
    good = (status.ravel() == 1) & (status_back.ravel() == 1) & (error < options.fb_error_px)
    return p1.reshape(-1, 2), good


def fit_homography(src: np.ndarray, dst: np.ndarray, options: TrackerOptions) -> tuple[np.ndarray | None, np.ndarray, float]:
    """RANSAC homography ``src`` → ``dst``; the inlier mask and the inliers' mean reprojection error (px).

    None when there are too few points or RANSAC finds no model with enough inliers.
    """
    if len(src) < options.min_points:
        return None, np.zeros(len(src), bool), float("inf")
    matrix, mask = cv2.findHomography(src.astype(np.float32), dst.astype(np.float32), cv2.RANSAC, options.ransac_px)
    if matrix is None or mask is None:
        return None, np.zeros(len(src), bool), float("inf")
    inliers = mask.ravel().astype(bool)
    if inliers.sum() < options.min_points:
        return None, inliers, float("inf")
    projected = cv2.perspectiveTransform(src[inliers].reshape(-1, 1, 2).astype(np.float64), matrix).reshape(-1, 2)
    residual = float(np.linalg.norm(projected - dst[inliers], axis=1).mean())
    return matrix, inliers, residual


def map_quad(quad: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """The 4 x 2 quad mapped by a homography."""
    return cv2.perspectiveTransform(quad.reshape(-1, 1, 2).astype(np.float64), matrix).reshape(4, 2)


def quad_area(quad: np.ndarray) -> float:
    """Unsigned area of a polygon (shoelace), px²."""
    x, y = quad[:, 0], quad[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y)))


def plausible(old: np.ndarray, new: np.ndarray, max_scale_step: float) -> bool:
    """A quad update a camera can make in one step: still convex, area changed by at most ``max_scale_step``×."""
    if not np.isfinite(new).all() or not cv2.isContourConvex(np.round(new * 16).astype(np.int32).reshape(-1, 1, 2)):
        return False
    ratio = quad_area(new) / max(quad_area(old), 1e-6)
    return 1 / max_scale_step <= ratio <= max_scale_step


def seed_points(gray: np.ndarray, quad: np.ndarray | None, options: TrackerOptions, count: int) -> np.ndarray:
    """Corner features inside ``quad`` grown by its margin (the whole frame when ``quad`` is None).

    Only the grown quad's bounding box is searched, so seeding a small region costs little.
    """
    x0, y0, x1, y1 = 0, 0, gray.shape[1], gray.shape[0]
    mask = None
    if quad is not None:
        grown = _grown(quad, options.margin_frac)
        pad = 4  # keep the corner detector's window off the crop's edge, where it would see false corners
        x0, y0 = max(0, int(grown[:, 0].min()) - pad), max(0, int(grown[:, 1].min()) - pad)
        x1, y1 = min(x1, int(np.ceil(grown[:, 0].max())) + 1 + pad), min(y1, int(np.ceil(grown[:, 1].max())) + 1 + pad)
        if x1 - x0 < 8 or y1 - y0 < 8:
            return np.zeros((0, 2), np.float32)
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillConvexPoly(mask, np.round(grown - (x0, y0)).astype(np.int32), 255)
    found = cv2.goodFeaturesToTrack(gray[y0:y1, x0:x1], count, options.quality, options.min_distance_px, mask=mask, blockSize=5)
    return np.zeros((0, 2), np.float32) if found is None else found.reshape(-1, 2) + np.float32([x0, y0])


def _grown(quad: np.ndarray, margin_frac: float) -> np.ndarray:
    """The quad pushed outwards from its centre by ``margin_frac`` of its height on every side."""
    centre = quad.mean(axis=0)
    height = (np.linalg.norm(quad[3] - quad[0]) + np.linalg.norm(quad[2] - quad[1])) / 2
    width = (np.linalg.norm(quad[1] - quad[0]) + np.linalg.norm(quad[2] - quad[3])) / 2
    margin = margin_frac * height
    scale = np.array([1 + 2 * margin / max(width, 1e-6), 1 + 2 * margin / max(height, 1e-6)])
    across, down = (quad[1] - quad[0]) / max(width, 1e-6), (quad[3] - quad[0]) / max(height, 1e-6)
    rel = quad - centre
    return centre + np.outer(rel @ across * scale[0], across) + np.outer(rel @ down * scale[1], down)


@dataclass
class TrackUpdate:
    """How one region's tracking went on one frame: the confidence signals the re-OCR policies read."""

    ok: bool
    points: int  # points flowed in
    inliers: int  # RANSAC inliers of the fitted homography
    residual_px: float  # their mean reprojection error
    inlier_ratio: float  # inliers over the points the region started with (lost points lower it)


@dataclass
class RegionTrack:
    """One text region being followed: its quad in the current frame and its feature points.

    The homography is refitted every frame from the points' positions where the region started
    (``origin``) to where they are now, not composed frame by frame, so fitting errors do not pile up.
    """

    start_quad: np.ndarray  # 4 x 2, in the frame where tracking started
    origin: np.ndarray  # N x 2, the points in that frame
    points: np.ndarray  # N x 2, the same points now
    seeded: int  # points the region had when (re)seeded
    quad: np.ndarray = field(default_factory=lambda: np.zeros((4, 2)))  # 4 x 2, current frame pixels
    matrix: np.ndarray = field(default_factory=lambda: np.eye(3))  # start frame → current frame
    lost_frames: int = 0
    last: TrackUpdate | None = None

    @classmethod
    def start(cls, gray: np.ndarray, quad: np.ndarray, options: TrackerOptions) -> RegionTrack:
        """Start following ``quad`` on the frame ``gray``."""
        points = seed_points(gray, quad, options, options.points_per_region)
        quad = quad.astype(np.float64)
        return cls(quad, points.copy(), points, max(len(points), 1), quad.copy())

    def update(self, prev: np.ndarray, cur: np.ndarray, options: TrackerOptions) -> TrackUpdate:
        """Move the quad from ``prev`` to ``cur``; a failed update leaves the quad where it was."""
        moved, good = flow_points(prev, cur, self.points, options)
        return self.advance(cur, moved, good, options)

    def advance(self, cur: np.ndarray, moved: np.ndarray, good: np.ndarray, options: TrackerOptions) -> TrackUpdate:
        """Take the points' new positions (flowed elsewhere, e.g. by ``flow_all``) and refit the quad."""
        matrix, inliers, residual = fit_homography(self.origin[good], moved[good], options)
        new = map_quad(self.start_quad, matrix) if matrix is not None else None
        ok = new is not None and plausible(self.quad, new, options.max_scale_step) and residual <= options.max_residual_px
        ok = ok and inliers.sum() >= options.min_survival * len(self.points)
        update = TrackUpdate(bool(ok), len(self.points), int(inliers.sum()), residual, int(inliers.sum()) / self.seeded)
        if ok:
            self.quad, self.matrix = new, matrix  # type: ignore[assignment]
            self.origin, self.points = self.origin[good][inliers], moved[good][inliers]
            self.lost_frames = 0
            if len(self.points) < options.reseed_frac * self.seeded:
                self._reseed(cur, options)
        else:
            self.lost_frames += 1
        self.last = update
        return update

    def _reseed(self, gray: np.ndarray, options: TrackerOptions) -> None:
        fresh = seed_points(gray, self.quad, options, options.points_per_region)
        if len(fresh) >= options.min_points:
            back = np.linalg.inv(self.matrix)
            self.origin = cv2.perspectiveTransform(fresh.reshape(-1, 1, 2).astype(np.float64), back).reshape(-1, 2)
            self.points, self.seeded = fresh, len(fresh)


@dataclass
class FrameFlow:
    """Whole-frame points flowed from a keyframe to the current frame (the bridge for late OCR results).

    ``origin`` are the surviving points' positions in the keyframe, ``points`` the same points now.
    """

    origin: np.ndarray
    points: np.ndarray
    seeded: int
    frames: int = 0
    homography: np.ndarray = field(default_factory=lambda: np.eye(3))  # keyframe → current, whole frame
    ok: bool = True

    @classmethod
    def start(cls, gray: np.ndarray, options: TrackerOptions) -> FrameFlow:
        """Seed features over the whole keyframe."""
        points = seed_points(gray, None, options, options.points_per_frame)
        return cls(points.copy(), points, max(len(points), 1), ok=len(points) >= options.min_points)

    def update(self, prev: np.ndarray, cur: np.ndarray, options: TrackerOptions) -> bool:
        """Flow the points one frame on; False once too few survive to fit the whole-frame homography."""
        moved, good = flow_points(prev, cur, self.points, options)
        return self.advance(moved, good, options)

    def advance(self, moved: np.ndarray, good: np.ndarray, options: TrackerOptions) -> bool:
        """Take the points' new positions (flowed elsewhere) and refit the whole-frame homography."""
        if not self.ok:
            return False
        flowed = len(self.points)
        self.origin, self.points = self.origin[good], moved[good]
        self.frames += 1
        matrix, inliers, _ = fit_homography(self.origin, self.points, options)
        self.ok = matrix is not None and inliers.sum() >= options.min_survival * flowed
        if matrix is not None:
            self.homography = matrix
        return self.ok

    def bring_forward(self, quad: np.ndarray, options: TrackerOptions) -> tuple[np.ndarray | None, str]:
        """The keyframe quad in the current frame: by the points inside it, else by the whole frame's motion."""
        if self.frames == 0:
            return quad.astype(np.float64), "same-frame"
        inside = _inside(self.origin, _grown(quad, options.margin_frac))
        matrix, _, residual = fit_homography(self.origin[inside], self.points[inside], options)
        if matrix is not None and residual <= options.max_residual_px:
            moved = map_quad(quad, matrix)
            if plausible(quad, moved, options.max_scale_step**self.frames):
                return moved, "region"
        if self.ok:
            return map_quad(quad, self.homography), "frame"
        return None, "lost"


def flow_all(
    prev: np.ndarray, cur: np.ndarray, tracks: list[RegionTrack], bridge: FrameFlow | None, options: TrackerOptions
) -> list[TrackUpdate]:
    """Advance every region (and the keyframe bridge) with one optical-flow call, so pyramids are built once."""
    sets = [t.points for t in tracks] + ([bridge.points] if bridge is not None and bridge.ok else [])
    if not sets:
        return []
    moved, good = flow_points(prev, cur, np.concatenate(sets).reshape(-1, 2), options)
    bounds = np.cumsum([0, *(len(p) for p in sets)])
    updates = [t.advance(cur, moved[a:b], good[a:b], options) for t, a, b in zip(tracks, bounds, bounds[1:], strict=False)]
    if bridge is not None and bridge.ok:
        bridge.advance(moved[bounds[-2] :], good[bounds[-2] :], options)
    return updates


def _inside(points: np.ndarray, quad: np.ndarray) -> np.ndarray:
    """Which points lie inside a convex quad (corners in either winding order)."""
    if len(points) == 0:
        return np.zeros(0, bool)
    edges = np.roll(quad, -1, axis=0) - quad  # 4 x 2
    rel = points[:, None, :] - quad[None, :, :]  # N x 4 x 2
    cross = edges[None, :, 0] * rel[:, :, 1] - edges[None, :, 1] * rel[:, :, 0]
    return (cross >= 0).all(axis=1) | (cross <= 0).all(axis=1)
