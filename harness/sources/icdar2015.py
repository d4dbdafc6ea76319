"""ICDAR 2015 incidental scene text photos, read in place from the shared data folder.

Ground truth is the competition's own format: one ``gt_img_N.txt`` per image, UTF-8 with a BOM, CRLF,
lines ``x1,y1,...,x4,y4,transcription`` split on the first eight commas; ``###`` marks a don't-care region.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from harness.errors import DataMissing
from harness.paths import data_root
from harness.sources.base import SourceBase, opens
from harness.sources.files import iterate_files
from harness.types import Frame, GroundTruth, GroundTruthWord, quad_from_array

__all__ = ["Icdar2015Options", "Icdar2015Source", "parse_gt_file"]

DEFAULT_FOLDER = "icdar2015_incidental_test200"


@dataclass(frozen=True)
class Icdar2015Options:
    """Options for the ICDAR 2015 source.

    ``split``: the folder under the data root: "icdar2015_incidental_test200" (the test photos, what
    results report) or "icdar2015_incidental_tune150" (IC15 photos 201-350, where settings are chosen);
    ``root``: any other folder holding images/ and gt/ (instead of ``split``);
    ``limit``: first N images by number (0: all).
    """

    split: str = DEFAULT_FOLDER
    root: str | None = None
    limit: int = 0
    loop: bool = True


def parse_gt_file(path: Path) -> GroundTruth:
    """Parse one ICDAR 2015 ground-truth file."""
    words = []
    for line in path.read_text(encoding="utf-8-sig").splitlines():
        parts = line.strip().split(",", 8)
        if len(parts) < 9:
            continue
        points = [float(v) for v in parts[:8]]
        text = parts[8]
        words.append(GroundTruthWord(quad_from_array(points), text, dont_care=text == "###"))
    legible = " ".join(w.text for w in words if not w.dont_care)
    return GroundTruth(tuple(words), legible, None)


def _number(path: Path) -> int:
    return int(path.stem.split("_")[-1])


class Icdar2015Source(SourceBase):
    """IC15 test photos in numeric order with their word quads."""

    def __init__(self, options: Icdar2015Options, context: object = None) -> None:
        self.options = options
        self.root = Path(options.root) if options.root else data_root() / options.split
        self.name = f"icdar2015:{self.root.name}"
        self._paths: list[Path] = []

    def open(self) -> None:
        images = self.root / "images"
        if not images.is_dir():
            raise DataMissing(f"ICDAR 2015 images not found in {images}; set `root` or ARBENCH_DATA_ROOT")
        paths = sorted(images.glob("img_*.jpg"), key=_number)
        self._paths = paths[: self.options.limit or None]

    def _truth(self, image: Path, _pixels: object = None) -> GroundTruth | None:
        gt = self.root / "gt" / f"gt_{image.stem}.txt"
        return parse_gt_file(gt) if gt.is_file() else None

    def frames(self) -> Iterator[Frame]:
        return iterate_files(self._paths, self.name, self.options.loop, self._truth)

    def close(self) -> None:
        self._paths = []


preflight = opens(Icdar2015Source)  # before a run: the files (or the camera) are there and open
