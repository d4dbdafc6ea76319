"""Tesseract 5 through ``tesserocr``, with layout analysis ("ocr.det") timed apart from recognition ("ocr.rec").

``tesserocr`` keeps one ``TessBaseAPI`` (models loaded, engine warm) for the backend's lifetime; a
``pytesseract`` subprocess per frame would add process start-up and PNG round trips to every measurement.
Its PyPI wheels (x86_64 and aarch64) bundle libtesseract 5.5 built without OpenMP, so every device runs the
same engine; the language data come from the distribution (``apt-get install tesseract-ocr-eng``: the
LSTM-only "fast" models, hence ``oem`` 1).

The split is honest: ``AnalyseLayout`` binarizes the frame and finds blocks, text lines and word boxes;
``Recognize`` starts from the same layout (Tesseract's ``FindLines`` returns at once when blocks exist) and runs
the LSTM over each line. A frame where layout finds nothing gets no "ocr.rec" span.

Regions come per text line (``level = "line"``: the line's words joined by spaces, their union box, the mean
word confidence) so that MT gets phrases, or per word. Tesseract reports confidence on a 0-100 scale; regions
carry it divided by 100, and ``min_confidence`` (0..1) drops words below it before lines are formed. Lines are
put in reading order (rows top to bottom, left to right within a row): page segmentation modes for sparse
text return them in no particular order.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from harness.context import BackendContext
from harness.errors import BackendUnavailable, ConfigError
from harness.trace import Tracer
from harness.types import Frame, Quad, TextRegion

__all__ = ["TESSDATA_DIRS", "THRESHOLDING", "Tesseract", "TesseractOptions", "apt_package", "find_tessdata", "preflight", "reading_order"]

# Where distributions put language data: Debian 12 / Ubuntu 24.04, Ubuntu 20.04 / 22.04, Fedora / Arch,
# source builds. $TESSDATA_PREFIX (Tesseract's own variable) comes first.
TESSDATA_DIRS = (
    "/usr/share/tesseract-ocr/5/tessdata",
    "/usr/share/tesseract-ocr/4.00/tessdata",
    "/usr/share/tessdata",
    "/usr/local/share/tessdata",
)
LEVELS = ("line", "word")
INSTALL = "run `pip install tesserocr` (its wheel bundles libtesseract 5)"
# Tesseract 5's ``thresholding_method``: how the grey frame is binarized before layout analysis.
THRESHOLDING = {"otsu": 0, "adaptive-otsu": 1, "sauvola": 2}
# Tesseract's fallback when an image carries no resolution; set explicitly so it stops warning on every frame.
WORD_CROP_PSM = 8  # PSM.SINGLE_WORD
SOURCE_DPI = 70
Box = tuple[int, int, int, int]  # left, top, right, bottom in pixels


@dataclass(frozen=True)
class TesseractOptions:
    """Options of the Tesseract backend.

    ``lang``: traineddata names joined by "+" ("eng", "eng+spa"). ``psm``: page segmentation mode (11, sparse
    text, reads the most of IC15 photos and medium synthetic scenes of 3, 6 and 11; 6, one uniform block,
    reads more of easy synthetic signs but half as much of IC15).
    ``oem``: 1 is the LSTM engine, the only one Debian's data hold. ``level``: "line" or "word" regions.
    ``thresholding``: binarization, one of ``THRESHOLDING`` (Tesseract's default is a global Otsu threshold).
    ``min_confidence``: 0..1, words below it are dropped (0.7 cut psm 11's output on IC15 photos from 27 to 2.7
    words a photo and raised hmean from 0.07 to 0.16, for 0.04 less word recall). ``threads``: OpenMP thread limit
    (``OMP_THREAD_LIMIT``), for a libtesseract built with OpenMP; 0 leaves OpenMP's default. The PyPI wheel has
    no OpenMP. Not the profile's thread count: Debian's OpenMP build ran IC15 photos in 114 ms with 1
    thread and 5.6 s (mean; p50 567 ms) with 2 on a 2-core machine.
    ``tessdata``: folder with the .traineddata files (default: found, see ``find_tessdata``).
    """

    lang: str = "eng"
    psm: int = 11
    oem: int = 1
    level: str = "line"
    thresholding: str = "otsu"
    min_confidence: float = 0.0
    threads: int = 0
    tessdata: str | None = None

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise ConfigError(f"tesseract level must be one of {', '.join(LEVELS)}, not {self.level!r}")
        if self.thresholding not in THRESHOLDING:
            raise ConfigError(f"tesseract thresholding must be one of {', '.join(THRESHOLDING)}, not {self.thresholding!r}")
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ConfigError(f"tesseract min_confidence is on a 0..1 scale (Tesseract's 60 is 0.6), not {self.min_confidence}")
        if not 0 <= self.psm <= 13:
            raise ConfigError(f"tesseract psm must be 0..13, not {self.psm}")
        if not 0 <= self.oem <= 3:
            raise ConfigError(f"tesseract oem must be 0..3, not {self.oem}")
        if not self.languages:
            raise ConfigError("tesseract lang is empty; name a traineddata such as 'eng'")

    @property
    def languages(self) -> tuple[str, ...]:
        """The traineddata names in ``lang`` ("eng+~spa" gives eng, spa)."""
        return tuple(name.lstrip("~") for name in self.lang.split("+") if name.strip("~ "))


def apt_package(language: str) -> str:
    """The Debian/Ubuntu package that ships ``<language>.traineddata`` (chi_sim: tesseract-ocr-chi-sim)."""
    return "tesseract-ocr-" + language.lower().replace("_", "-")


def find_tessdata(options: TesseractOptions) -> Path:
    """The folder holding every language ``options`` asks for; BackendUnavailable naming the package if none does."""
    if options.tessdata:
        candidates = [Path(options.tessdata)]
    else:
        prefix = os.environ.get("TESSDATA_PREFIX")
        candidates = [Path(p) for p in ((prefix,) if prefix else ()) + TESSDATA_DIRS]
    for folder in candidates:
        if all((folder / f"{lang}.traineddata").is_file() for lang in options.languages):
            return folder
    found = {lang for lang in options.languages for folder in candidates if (folder / f"{lang}.traineddata").is_file()}
    missing = [lang for lang in options.languages if lang not in found] or list(options.languages)  # or: split across folders
    packages = " ".join(apt_package(lang) for lang in missing)
    where = ", ".join(str(p) for p in candidates)
    raise BackendUnavailable(
        f"tesseract: no {'+'.join(missing)}.traineddata in {where}; run `apt-get install {packages}` or set `tessdata`"
    )


def preflight(options: TesseractOptions, context: BackendContext) -> None:
    """Check before a run that the language data and tesserocr are installed (without loading the engine)."""
    find_tessdata(options)
    if find_spec("tesserocr") is None:
        raise BackendUnavailable(f"tesseract backend: tesserocr missing; {INSTALL}")


class Tesseract:
    """Tesseract's own layout analysis and LSTM recognizer, one engine kept loaded."""

    name = "tesseract"

    def __init__(self, options: TesseractOptions, context: BackendContext) -> None:
        self.options = options
        self.tessdata = find_tessdata(options)
        self._api = self._load(options)

    def _load(self, options: TesseractOptions) -> Any:
        if options.threads > 0 and "tesserocr" not in sys.modules:
            # OpenMP reads its limit once, when libtesseract is loaded: it must be set before the import.
            os.environ["OMP_THREAD_LIMIT"] = str(options.threads)
        try:
            import tesserocr
        except ImportError as exc:
            raise BackendUnavailable(f"tesseract backend: {exc}; {INSTALL}") from None
        try:
            # Only a non-default method is set: Tesseract 4 has no such variable.
            variables = {"thresholding_method": str(THRESHOLDING[options.thresholding])} if options.thresholding != "otsu" else {}
            return tesserocr.PyTessBaseAPI(
                path=f"{self.tessdata}/", lang=options.lang, psm=options.psm, oem=options.oem, variables=variables
            )
        except RuntimeError:
            hint = "Debian's language data are LSTM-only: use oem 1" if options.oem != 1 else "reinstall the language package"
            raise BackendUnavailable(f"tesseract: cannot load {options.lang} from {self.tessdata} with oem {options.oem}; {hint}") from None

    def model_files(self) -> tuple[Path, ...]:
        names = self.options.languages + (("osd",) if self.options.psm in (0, 1) else ())
        return tuple(self.tessdata / f"{name}.traineddata" for name in names)

    def recognize(self, frame: Frame, tracer: Tracer) -> list[TextRegion]:
        if frame.image is None:
            raise ValueError("tesseract needs an image; this frame carries only text")
        api = self._api
        # A word crop is one word: page segmentation mode 8, and every answer kept, as recognition benchmarks score them.
        psm, min_confidence = (WORD_CROP_PSM, 0.0) if frame.word_crop else (self.options.psm, self.options.min_confidence)
        api.SetPageSegMode(psm)
        with tracer.span("ocr.det") as det:
            pixels = _gray(frame.image)
            height, width = pixels.shape
            data = pixels.tobytes()  # tesserocr documents that it does not copy: keep it alive to the end
            api.SetImageBytes(data, width, height, 1, width)
            api.SetSourceResolution(SOURCE_DPI)
            layout = api.AnalyseLayout()
            det["lines"] = 0 if layout is None else _count_lines(layout)
        if layout is None:
            return []
        del layout  # it iterates results that Recognize replaces
        with tracer.span("ocr.rec"):
            api.Recognize()
            words = list(_words(api, min_confidence))
        if frame.word_crop:
            text = "".join(w.text for w in words)
            confidence = min((w.confidence for w in words), default=0.0)
            return [TextRegion(_quad((0, 0, width, height), width, height), text, confidence)] if text else []
        return _regions(words, self.options.level, width, height)

    def close(self) -> None:
        if self._api is not None:
            self._api.End()
            self._api = None


@dataclass(frozen=True)
class _Word:
    box: Box
    text: str
    confidence: float  # 0..1
    line: int  # index of Tesseract's text line, in Tesseract's order


def _gray(image: np.ndarray) -> np.ndarray:
    """8-bit grey pixels, C-contiguous: Tesseract binarizes grey anyway, and one channel is a third of the bytes."""
    if image.ndim == 2:
        return np.ascontiguousarray(image)
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def _count_lines(layout: Any) -> int:
    from tesserocr import RIL, iterate_level

    return sum(1 for _ in iterate_level(layout, RIL.TEXTLINE))


def _words(api: Any, min_confidence: float) -> Iterator[_Word]:
    """Recognized words with their line index, dropping empty words and those below ``min_confidence``."""
    from tesserocr import RIL, iterate_level

    line = -1
    for word in iterate_level(api.GetIterator(), RIL.WORD):
        if word.IsAtBeginningOf(RIL.TEXTLINE) or line < 0:
            line += 1
        box = word.BoundingBox(RIL.WORD)
        try:
            text = (word.GetUTF8Text(RIL.WORD) or "").strip()
        except RuntimeError:  # tesserocr raises on a word with no text
            continue
        confidence = min(max(word.Confidence(RIL.WORD) / 100.0, 0.0), 1.0)
        if box is not None and text and confidence >= min_confidence:
            yield _Word(box, text, confidence, line)


def _regions(words: list[_Word], level: str, width: int, height: int) -> list[TextRegion]:
    """Line or word regions in reading order, boxes clipped to the frame."""
    lines: dict[int, list[_Word]] = {}
    for word in words:
        lines.setdefault(word.line, []).append(word)
    groups = list(lines.values())
    boxes = [_union(w.box for w in group) for group in groups]
    regions = []
    for index in reading_order(boxes):
        group = groups[index]
        if level == "word":
            regions.extend(TextRegion(_quad(w.box, width, height), w.text, w.confidence) for w in group)
        else:
            confidence = sum(w.confidence for w in group) / len(group)
            regions.append(TextRegion(_quad(boxes[index], width, height), " ".join(w.text for w in group), confidence))
    return regions


def reading_order(boxes: list[Box]) -> list[int]:
    """Indices of ``boxes`` in reading order: rows top to bottom, left to right within a row.

    A box joins the current row when its vertical centre lies within the row's first box.
    """
    rows: list[tuple[int, int, list[int]]] = []
    for index in sorted(range(len(boxes)), key=lambda i: (boxes[i][1], boxes[i][0])):
        _, top, _, bottom = boxes[index]
        centre = (top + bottom) / 2
        if rows and rows[-1][0] <= centre <= rows[-1][1]:
            rows[-1][2].append(index)
        else:
            rows.append((top, bottom, [index]))
    return [index for _, _, members in rows for index in sorted(members, key=lambda i: boxes[i][0])]


def _union(boxes: Iterator[Box]) -> Box:
    left, top, right, bottom = zip(*boxes, strict=True)
    return min(left), min(top), max(right), max(bottom)


def _quad(box: Box, width: int, height: int) -> Quad:
    left, top = float(max(box[0], 0)), float(max(box[1], 0))
    right, bottom = float(min(box[2], width)), float(min(box[3], height))
    return (left, top), (right, top), (right, bottom), (left, bottom)
