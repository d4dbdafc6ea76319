"""Erase source text before its translation is drawn.

The text quads (dilated) are filled from their surroundings with OpenCV inpainting.

Two things keep this cheap on big frames: only padded boxes around the quads are inpainted, and each box
is inpainted at a reduced scale where the quad is ~16 px tall (inpainting costs ~ masked pixels x
radius^2, and the fill it produces is smooth anyway), then upscaled and pasted under the full-size mask.
Downscaling ignores the masked ink and favours the pixels right next to it, so a quad drawn tight
against a sign's edge is filled with the sign's colour rather than the wall's behind it.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

__all__ = ["INPAINT_METHODS", "Box", "inpaint_quads", "padded_box", "quad_size_px"]

INPAINT_METHODS = {"telea": cv2.INPAINT_TELEA, "ns": cv2.INPAINT_NS}

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 in pixels; x1/y1 exclusive
_WORK_SHORT_SIDE_PX = 16  # inpaint at the scale where a quad's shorter side is about this long
_NEAR_PX = 2  # known pixels this close to the mask set the colour of the working pixels that touch it
_NEAR_WEIGHT = 1000.0  # how much a near pixel outweighs a far one when downscaling


def quad_size_px(pts: np.ndarray) -> tuple[float, float]:
    """Width and height of a quad (4 x 2 corners, clockwise from top-left): means of opposite edges."""
    edges = np.linalg.norm(pts - np.roll(pts, -1, axis=0), axis=1)  # top, right, bottom, left
    return float(edges[0] + edges[2]) / 2, float(edges[1] + edges[3]) / 2


def _work_scale(pts: np.ndarray) -> float:
    """Downscale factor (<= 1) at which this quad is inpainted."""
    return min(1.0, _WORK_SHORT_SIDE_PX / max(min(quad_size_px(pts)), 1e-6))


def padded_box(points: np.ndarray, margin_px: int, width_px: int, height_px: int) -> Box:
    """Bounding box of ``points`` (N x 2) grown by ``margin_px`` and clipped to the image."""
    x0 = max(0, int(np.floor(points[:, 0].min())) - margin_px)
    y0 = max(0, int(np.floor(points[:, 1].min())) - margin_px)
    x1 = min(width_px, int(np.ceil(points[:, 0].max())) + 1 + margin_px)
    y1 = min(height_px, int(np.ceil(points[:, 1].max())) + 1 + margin_px)
    return x0, y0, max(x0, x1), max(y0, y1)


def _overlap(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _union(a: Box, b: Box) -> Box:
    return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])


def _merge_boxes(boxes: Sequence[Box], scales: Sequence[float]) -> list[tuple[Box, float]]:
    """Merge overlapping boxes until none overlap, so that no pixel is inpainted twice.

    A merged box keeps the largest (finest) scale of its parts, which also keeps every part's margin
    at least as wide, in working pixels, as it was sized for.
    """
    merged: list[tuple[Box, float]] = []
    for part_box, part_scale in zip(boxes, scales, strict=True):
        box, scale = part_box, part_scale
        while (hit := next((m for m in merged if _overlap(m[0], box)), None)) is not None:
            merged.remove(hit)
            box, scale = _union(hit[0], box), max(hit[1], scale)
        merged.append((box, scale))
    return merged


def _roi_mask(quads: Sequence[np.ndarray], box: Box, dilate_px: int) -> np.ndarray:
    """uint8 mask (255 = erase) of every quad, in ``box`` coordinates, dilated by ``dilate_px``."""
    x0, y0, x1, y1 = box
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    polys = [np.round(q - (x0, y0)).astype(np.int32) for q in quads]
    cv2.fillPoly(mask, polys, 255)
    if dilate_px > 0:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * dilate_px + 1, 2 * dilate_px + 1))
        mask = cv2.dilate(mask, kernel)
    return mask


def _work_radius_px(radius_px: int, scale: float) -> int:
    """The inpainting radius in working pixels (``radius_px`` is in frame pixels)."""
    return max(1, round(radius_px * scale))


def _margin_px(radius_px: int, dilate_px: int, scale: float) -> int:
    """Frame pixels to pad a quad's box by: the dilation, then a known ring of a working radius + 2."""
    return dilate_px + int(np.ceil((_work_radius_px(radius_px, scale) + 2) / scale))


def _downscale_known(roi: np.ndarray, mask: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Downscale ``roi`` to ``size`` (w, h) from its known pixels only; returns the image and its mask.

    A working pixel is masked only if every frame pixel under it is. One that touches the mask takes
    (almost) only the known pixels within ``_NEAR_PX`` of it: those are what the text really sat on,
    whereas its farther pixels may lie past the edge of the sign.
    """
    near = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * _NEAR_PX + 1,) * 2))
    weight = np.where(near > 0, np.float32(_NEAR_WEIGHT), np.float32(1))
    weight[mask > 0] = 0
    weight_sum = cv2.resize(weight, size, interpolation=cv2.INTER_AREA)
    value_sum = cv2.resize(roi.astype(np.float32) * weight[..., None], size, interpolation=cv2.INTER_AREA)
    small = value_sum / np.maximum(weight_sum, np.float32(1e-12))[..., None]
    small_mask = (weight_sum == 0).astype(np.uint8)
    return np.clip(small + 0.5, 0, 255).astype(np.uint8), small_mask


def _inpaint_scaled(roi: np.ndarray, mask: np.ndarray, scale: float, radius_px: int, flag: int) -> None:
    """Inpaint ``roi`` in place under ``mask``, working at ``scale``; only masked pixels change."""
    if scale >= 1.0:
        roi[:] = cv2.inpaint(roi, mask, radius_px, flag)
        return
    h, w = mask.shape
    small_roi, small_mask = _downscale_known(roi, mask, (max(1, round(w * scale)), max(1, round(h * scale))))
    filled = cv2.inpaint(small_roi, small_mask, _work_radius_px(radius_px, scale), flag)
    upscaled = cv2.resize(filled, (w, h), interpolation=cv2.INTER_LINEAR)
    roi[:] = cv2.copyTo(upscaled, mask, roi)


def inpaint_quads(image: np.ndarray, quads: Sequence[np.ndarray], method: str, radius_px: int, dilate_px: int) -> None:
    """Inpaint every quad (4 x 2 float corners) of the BGR ``image`` in place.

    ``radius_px`` and ``dilate_px`` are frame pixels. Each quad's box gets a margin wide enough for the
    dilation plus the inpainting neighbourhood; overlapping boxes are merged and each merged box is
    inpainted on its own.
    """
    if not quads:
        return
    height, width = image.shape[:2]
    scales = [_work_scale(q) for q in quads]
    margins = [_margin_px(radius_px, dilate_px, s) for s in scales]
    boxes = [padded_box(q, m, width, height) for q, m in zip(quads, margins, strict=True)]
    for box, scale in _merge_boxes(boxes, scales):
        x0, y0, x1, y1 = box
        if x1 <= x0 or y1 <= y0:
            continue
        mask = _roi_mask(quads, box, dilate_px)
        if mask.any():
            _inpaint_scaled(image[y0:y1, x0:x1], mask, scale, radius_px, INPAINT_METHODS[method])
