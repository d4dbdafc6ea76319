"""The tracked overlay: each region's translation rendered once, then warped onto its tracked quad every frame.

When a region starts being shown, its quad is rectified out of the frame into a patch (with a margin),
the source text is erased and the translation drawn there by the ordinary ``Overlay`` (harness.overlay),
and a soft mask of the erased area is kept. On every frame the patch and its mask are warped by the
homography from the patch's quad to the region's tracked quad and blended in: a few small warps instead
of inpainting and text layout per frame (measured: docs/ar.md). The patch freezes the sign's lighting at
the keyframe, as AR apps do.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from harness.overlay.inpaint import padded_box, quad_size_px
from harness.overlay.render import Overlay
from harness.types import TextRegion, quad_from_array

__all__ = ["Patch", "draw_patches", "make_patch"]


@dataclass(frozen=True)
class Patch:
    """A region rendered once: the rectified, erased and translated sign, its blend mask, its quad inside it."""

    image: np.ndarray  # h x w x 3 BGR uint8
    alpha: np.ndarray  # h x w float32, 0..1
    corners: np.ndarray  # 4 x 2 float32, the region's quad in patch pixels


def make_patch(overlay: Overlay, image: np.ndarray, quad: np.ndarray, text: str, target: str) -> Patch | None:
    """Render ``target`` over ``quad`` of ``image`` into a patch; None for a degenerate quad."""
    width, height = quad_size_px(quad)
    if width < 2 or height < 2 or not np.isfinite(quad).all():
        return None
    margin = round(0.3 * height) + overlay.options.mask_dilate_px + 2
    w, h = round(width), round(height)
    corners = np.float32([[margin, margin], [margin + w, margin], [margin + w, margin + h], [margin, margin + h]])
    to_patch = cv2.getPerspectiveTransform(quad.astype(np.float32), corners)
    size = (w + 2 * margin, h + 2 * margin)
    rectified = cv2.warpPerspective(image, to_patch, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    drawn = overlay.render(rectified, [TextRegion(quad_from_array(corners), text, 1.0)], [target]).image
    mask = np.zeros((size[1], size[0]), np.uint8)
    cv2.fillConvexPoly(mask, np.round(corners).astype(np.int32), 255)
    grow = 2 * overlay.options.mask_dilate_px + 3
    mask = cv2.GaussianBlur(cv2.dilate(mask, np.ones((grow, grow), np.uint8)), (5, 5), 0)
    return Patch(drawn, mask.astype(np.float32) / 255.0, corners)


def draw_patches(image: np.ndarray, items: Sequence[tuple[Patch, np.ndarray]]) -> tuple[np.ndarray, int]:
    """A new frame with each patch warped onto its quad (4 x 2, frame pixels); also the time it took (ns)."""
    start = time.perf_counter_ns()
    out = image.copy()
    height, width = out.shape[:2]
    for patch, quad in items:
        to_frame = cv2.getPerspectiveTransform(patch.corners, quad.astype(np.float32))
        ph, pw = patch.alpha.shape
        outline = cv2.perspectiveTransform(np.float32([[[0, 0]], [[pw, 0]], [[pw, ph]], [[0, ph]]]), to_frame).reshape(4, 2)
        x0, y0, x1, y1 = padded_box(outline, 1, width, height)
        if x1 <= x0 or y1 <= y0:
            continue
        shift = np.array([[1, 0, -x0], [0, 1, -y0], [0, 0, 1]], float) @ to_frame
        box = (x1 - x0, y1 - y0)
        colour = cv2.warpPerspective(patch.image, shift, box, flags=cv2.INTER_LINEAR)
        alpha = cv2.warpPerspective(patch.alpha, shift, box, flags=cv2.INTER_LINEAR)[..., None]
        roi = out[y0:y1, x0:x1]
        roi[:] = (roi * (1 - alpha) + colour * alpha).astype(np.uint8)
    return out, time.perf_counter_ns() - start
