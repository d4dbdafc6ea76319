"""Overlay stage: inpainting the source text and drawing the translation into its quad."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from harness.errors import ConfigError, DataMissing
from harness.overlay import text_fit
from harness.overlay.render import Overlay, OverlayOptions
from harness.types import Quad, TextRegion

FRAME_H, FRAME_W = 540, 960
DARK = 100  # grey level below which a pixel counts as ink


@pytest.fixture(scope="module")
def overlay() -> Overlay:
    try:
        return Overlay(OverlayOptions())
    except DataMissing as exc:
        pytest.skip(str(exc))


def exit_sign() -> tuple[np.ndarray, Quad]:
    """A grey frame with a white board reading EXIT in black; the quad hugs the text (4 px margin)."""
    image = np.full((FRAME_H, FRAME_W, 3), 90, np.uint8)
    cv2.rectangle(image, (300, 200), (660, 340), (245, 245, 245), -1)
    font, scale, thickness = cv2.FONT_HERSHEY_SIMPLEX, 2.5, 7
    (w, h), baseline = cv2.getTextSize("EXIT", font, scale, thickness)
    x, y = 480 - w // 2, 270 + h // 2
    cv2.putText(image, "EXIT", (x, y), font, scale, (0, 0, 0), thickness, cv2.LINE_AA)
    x0, y0, x1, y1 = x - 4, y - h - 4, x + w + 4, y + baseline + 4
    return image, ((x0, y0), (x1, y0), (x1, y1), (x0, y1))


def region(quad: Quad, text: str = "EXIT") -> TextRegion:
    return TextRegion(quad=quad, text=text, confidence=0.9)


def quad_mask(image: np.ndarray, quad: Quad, grow_px: int = 0) -> np.ndarray:
    """Boolean mask of the quad's inside, optionally grown by ``grow_px``."""
    mask = np.zeros(image.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(np.array(quad)).astype(np.int32)], 255)
    if grow_px:
        mask = cv2.dilate(mask, np.ones((2 * grow_px + 1, 2 * grow_px + 1), np.uint8))
    return mask > 0


def dark_count(image: np.ndarray, mask: np.ndarray) -> int:
    return int((cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)[mask] < DARK).sum())


def test_output_changes_inside_the_quad_only(overlay: Overlay) -> None:
    image, quad = exit_sign()
    out = overlay.render(image, [region(quad)], ["SALIDA"])
    inside = quad_mask(image, quad)
    assert out.regions_drawn == 1
    assert np.abs(out.image.astype(int) - image.astype(int))[inside].mean() > 10
    far = ~quad_mask(image, quad, grow_px=80)
    assert np.array_equal(out.image[far], image[far])
    assert out.inpaint_ns > 0 and out.render_ns > 0


def test_input_is_not_modified(overlay: Overlay) -> None:
    image, quad = exit_sign()
    before = image.copy()
    out = overlay.render(image, [region(quad)], ["SALIDA"])
    assert np.array_equal(image, before)
    assert not np.shares_memory(out.image, image)


def test_inpaint_removes_the_source_ink(overlay: Overlay) -> None:
    image, quad = exit_sign()
    inside = quad_mask(image, quad)
    out = overlay.render(image, [region(quad)], [""])
    assert out.regions_drawn == 0
    assert dark_count(out.image, inside) < 0.2 * dark_count(image, inside)


@pytest.mark.parametrize("method", ["telea", "ns"])
def test_both_inpaint_methods_erase(method: str) -> None:
    image, quad = exit_sign()
    inside = quad_mask(image, quad)
    out = Overlay(OverlayOptions(inpaint_method=method)).render(image, [region(quad)], [""])
    assert dark_count(out.image, inside) < 0.2 * dark_count(image, inside)


def test_inpaint_off_keeps_the_source_ink() -> None:
    image, quad = exit_sign()
    out = Overlay(OverlayOptions(inpaint=False)).render(image, [region(quad)], [""])
    assert np.array_equal(out.image, image)
    assert out.regions_drawn == 0


def test_spanish_accents_render(overlay: Overlay) -> None:
    image, quad = exit_sign()
    inside = quad_mask(image, quad)
    out = overlay.render(image, [region(quad)], ["SALIDA DE EMERGENCIA ñ"])
    assert out.regions_drawn == 1
    assert dark_count(out.image, inside) > 100  # auto colour on a white board: black text
    outside = ~quad_mask(image, quad, grow_px=2)
    assert np.array_equal(out.image[outside & (image[..., 0] > 200)], image[outside & (image[..., 0] > 200)])


def test_accented_glyphs_differ_from_plain(overlay: Overlay) -> None:
    """Guards against a font without Spanish glyphs (it would draw the same box for ñ, á, é...)."""
    fonts = overlay._fonts
    masks = []
    for text in ("n", "ñ", "é", "e"):
        layout = text_fit.fit_text(text, 60, 60, fonts, min_font_px=6)
        assert layout is not None
        masks.append(text_fit.render_alpha(layout, fonts, 60, 60))
    assert not np.array_equal(masks[0], masks[1])
    assert not np.array_equal(masks[2], masks[3])
    assert not np.array_equal(masks[1], masks[2])


def test_long_text_wraps_and_fits(overlay: Overlay) -> None:
    layout = text_fit.fit_text("SALIDA DE EMERGENCIA", 200, 90, overlay._fonts, min_font_px=6)
    assert layout is not None and len(layout.lines) == 2
    assert layout.block.width_px <= 200 and layout.block.height_px <= 90


def test_mismatched_lengths_raise(overlay: Overlay) -> None:
    image, quad = exit_sign()
    with pytest.raises(ValueError, match="pair up"):
        overlay.render(image, [region(quad)], ["SALIDA", "EXTRA"])


def test_no_regions_returns_a_copy(overlay: Overlay) -> None:
    image, _ = exit_sign()
    out = overlay.render(image, [], [])
    assert np.array_equal(out.image, image) and out.image is not image
    assert out.regions_drawn == 0


@pytest.mark.parametrize(
    "quad",
    [
        ((100.0, 100.0),) * 4,  # a point
        ((100.0, 100.0), (200.0, 100.0), (200.0, 101.0), (100.0, 101.0)),  # 1 px tall
        ((100.0, 100.0), (150.0, 150.0), (200.0, 200.0), (50.0, 50.0)),  # collinear
        ((float("nan"), 0.0), (10.0, 0.0), (10.0, 10.0), (0.0, 10.0)),
    ],
)
def test_degenerate_quad_is_skipped(overlay: Overlay, quad: Quad) -> None:
    image, good = exit_sign()
    out = overlay.render(image, [region(quad), region(good)], ["SALIDA", "SALIDA"])
    assert out.regions_drawn == 1


def test_quad_outside_the_frame_is_skipped(overlay: Overlay) -> None:
    image, _ = exit_sign()
    off = ((2000.0, 10.0), (2100.0, 10.0), (2100.0, 50.0), (2000.0, 50.0))
    out = overlay.render(image, [region(off)], ["SALIDA"])
    assert out.regions_drawn == 0 and np.array_equal(out.image, image)


def perspective_quad() -> Quad:
    return ((300.0, 180.0), (700.0, 230.0), (680.0, 360.0), (320.0, 330.0))


def test_perspective_quad_draws_inside_it(overlay: Overlay) -> None:
    image = np.full((FRAME_H, FRAME_W, 3), 255, np.uint8)
    quad = perspective_quad()
    out = overlay.render(image, [region(quad)], ["HOLA MUNDO"])
    ink = cv2.cvtColor(out.image, cv2.COLOR_BGR2GRAY) < DARK
    assert ink[quad_mask(image, quad)].sum() > 500
    assert not ink[~quad_mask(image, quad, grow_px=2)].any()


def test_counter_clockwise_quad_is_not_mirrored(overlay: Overlay) -> None:
    image = np.full((FRAME_H, FRAME_W, 3), 255, np.uint8)
    quad = perspective_quad()
    ccw = (quad[0], quad[3], quad[2], quad[1])
    clockwise = overlay.render(image, [region(quad)], ["HOLA"]).image
    counter = overlay.render(image, [region(ccw)], ["HOLA"]).image
    assert np.array_equal(clockwise, counter)


def test_text_colour_auto_and_fixed() -> None:
    dark = np.full((FRAME_H, FRAME_W, 3), 20, np.uint8)
    quad = ((100.0, 100.0), (400.0, 100.0), (400.0, 180.0), (100.0, 180.0))
    inside = quad_mask(dark, quad)
    auto = Overlay(OverlayOptions()).render(dark, [region(quad)], ["SALIDA"]).image
    assert (auto[inside] > 200).all(axis=1).sum() > 200  # white on a dark background
    red = Overlay(OverlayOptions(text_color="#ff0000")).render(dark, [region(quad)], ["SALIDA"]).image
    pixels = red[inside]
    assert ((pixels[:, 2] > 200) & (pixels[:, 0] < 40) & (pixels[:, 1] < 40)).sum() > 200


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("inpaint", "yes"),
        ("inpaint_method", "fast"),
        ("inpaint_radius_px", 0),
        ("mask_dilate_px", -1),
        ("min_font_px", 0),
        ("min_font_px", 2.5),
        ("text_color", "red"),
        ("text_color", "#12345g"),
    ],
)
def test_bad_options_raise_config_error(field: str, value: object) -> None:
    with pytest.raises(ConfigError, match=field):
        OverlayOptions(**{field: value})  # type: ignore[arg-type]


def test_missing_font_file_says_how_to_fix(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(DataMissing, match="font_path"):
        Overlay(OverlayOptions(font_path=str(tmp_path / "nope.ttf")))
    monkeypatch.setattr(text_fit, "DEFAULT_FONT_DIR", tmp_path)
    with pytest.raises(DataMissing, match="apt-get install fonts-dejavu-core"):
        Overlay(OverlayOptions())


def test_font_path_that_is_not_a_font(tmp_path) -> None:
    bogus = tmp_path / "bogus.ttf"
    bogus.write_text("not a font")
    with pytest.raises(ConfigError, match="font_path"):
        Overlay(OverlayOptions(font_path=str(bogus)))
