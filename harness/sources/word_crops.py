"""Recognition-only word-crop sets (ICDAR 2015 word crops, IIIT5K), read in place from the shared data folder.

Each frame is one cropped word. Decoding the crop is the measured capture; its ground truth is a single word
whose quad is the whole crop, so detection has nothing to find and recognition accuracy is what is measured.
Both sets are "a folder of crops with a label table"; they differ only in the table's file and line format,
which a ``CropTable`` describes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.errors import DataMissing
from harness.paths import data_root
from harness.sources.base import SourceBase
from harness.sources.files import iterate_files
from harness.types import Frame, GroundTruth, GroundTruthWord, quad_from_array

__all__ = [
    "IC15_WORDS",
    "IIIT5K",
    "CropTable",
    "Ic15WordsOptions",
    "Ic15WordsSource",
    "Iiit5kOptions",
    "Iiit5kSource",
    "crop_truth",
    "load_crop_labels",
    "parse_rrc_line",
    "parse_tsv_line",
]

LabelParser = Callable[[str], tuple[str, str]]
_RRC_ESCAPE = re.compile(r"\\(.)")


def parse_tsv_line(line: str) -> tuple[str, str]:
    """``images/name.png<TAB>text`` -> (image path relative to the table's folder, text)."""
    path, tab, text = line.partition("\t")
    if not tab or not path:
        raise ValueError("expected `path<TAB>text`")
    return path, text


def parse_rrc_line(line: str) -> tuple[str, str]:
    r"""ICDAR RRC word-recognition ground truth ``word_N.png, "TEXT"`` -> (file name, text).

    The text is everything after the first comma, inside one pair of double quotes (it may itself hold
    commas or quotes); the RRC format escapes a quote as ``\\"`` and a backslash as ``\\\\``.
    """
    name, comma, quoted = line.partition(",")
    quoted = quoted.strip()
    if not comma or not name.strip() or len(quoted) < 2 or quoted[0] != '"' or quoted[-1] != '"':
        raise ValueError('expected `name, "text"`')
    return name.strip(), _RRC_ESCAPE.sub(r"\1", quoted[1:-1])


@dataclass(frozen=True)
class CropTable:
    """Layout of one crop set on disk.

    ``dataset``: the name frames are tagged with; ``folder``: its default folder under the data root;
    ``table``: the label file in it; ``images``: the subfolder the table's image paths are relative to
    ("" for the set's folder itself); ``parse``: turns one table line into (image path, label).
    """

    dataset: str
    folder: str
    table: str
    images: str
    parse: LabelParser


IC15_WORDS = CropTable("ic15_words", "icdar2015_word_recognition_test", "Challenge4_Test_Task3_GT.txt", "images", parse_rrc_line)
IIIT5K = CropTable("iiit5k", "iiit5k_test1000", "labels.tsv", "", parse_tsv_line)


def load_crop_labels(root: Path, table: CropTable) -> list[tuple[Path, str]]:
    """(crop path, label) pairs in table order, or DataMissing naming the folder, table or line at fault.

    The table is UTF-8 (a BOM is dropped) with LF or CRLF line ends; blank lines are skipped.
    """
    if not root.is_dir():
        raise DataMissing(f"{table.dataset} folder not found: {root}; set `root` or ARBENCH_DATA_ROOT")
    path = root / table.table
    if not path.is_file():
        raise DataMissing(f"{table.dataset} label table not found: {path}")
    crops: list[tuple[Path, str]] = []
    for number, raw in enumerate(path.read_text(encoding="utf-8-sig").split("\n"), 1):
        line = raw.removesuffix("\r")
        if not line:
            continue
        try:
            name, text = table.parse(line)
        except ValueError as exc:
            raise DataMissing(f"{path}:{number}: bad label line ({exc}): {line!r}") from None
        crops.append((root / table.images / name, text))
    if not crops:
        raise DataMissing(f"{path}: no labels in the table")
    return crops


def crop_truth(image: np.ndarray, label: str) -> GroundTruth:
    """Ground truth for a word crop: one word covering the whole image, corners (0, 0) to (width, height)."""
    height, width = image.shape[:2]
    quad = quad_from_array([(0, 0), (width, 0), (width, height), (0, height)])
    return GroundTruth((GroundTruthWord(quad, label),), label, None, crop=True)


@dataclass(frozen=True)
class Ic15WordsOptions:
    """Options for the ICDAR 2015 word-recognition crops (all 2,077; labels from the official GT file).

    ``root``: folder holding images/ and Challenge4_Test_Task3_GT.txt (default:
    <data root>/icdar2015_word_recognition_test); ``limit``: first N crops in GT order (0: all).
    """

    root: str | None = None
    limit: int = 0
    loop: bool = True


@dataclass(frozen=True)
class Iiit5kOptions:
    """Options for the IIIT5K test crops (a 1,000-crop subset; case-sensitive labels from labels.tsv).

    ``root``: folder holding images/ and labels.tsv (default: <data root>/iiit5k_test1000);
    ``limit``: first N crops in table order (0: all).
    """

    root: str | None = None
    limit: int = 0
    loop: bool = True


class _CropSetSource(SourceBase):
    """Word crops in table order; decoding each crop is the measured capture."""

    def __init__(self, options: Ic15WordsOptions | Iiit5kOptions, table: CropTable) -> None:
        self.options = options
        self.table = table
        self.root = Path(options.root) if options.root else data_root() / table.folder
        self.name = f"{table.dataset}:{self.root.name}"
        self._crops: list[tuple[Path, str]] = []

    def open(self) -> None:
        self._crops = load_crop_labels(self.root, self.table)[: self.options.limit or None]
        missing = next((path for path, _ in self._crops if not path.is_file()), None)
        if missing is not None:
            raise DataMissing(f"{self.table.dataset} crop listed in {self.root / self.table.table} not found: {missing}")

    def frames(self) -> Iterator[Frame]:
        labels = dict(self._crops)
        paths = [path for path, _ in self._crops]
        return iterate_files(paths, self.name, self.options.loop, lambda path, image: crop_truth(image, labels[path]), word_crop=True)

    def close(self) -> None:
        self._crops = []


class Ic15WordsSource(_CropSetSource):
    """ICDAR 2015 Task 4.3 word crops (``word_1.png`` …) with their official transcriptions."""

    def __init__(self, options: Ic15WordsOptions, context: object = None) -> None:
        super().__init__(options, IC15_WORDS)


class Iiit5kSource(_CropSetSource):
    """IIIT5K test word crops with their case-sensitive labels."""

    def __init__(self, options: Iiit5kOptions, context: object = None) -> None:
        super().__init__(options, IIIT5K)


def preflight(options: Ic15WordsOptions | Iiit5kOptions, context: object) -> None:
    """Before a run: the crop folder, its label table and every listed crop are there."""
    source = Ic15WordsSource(options) if isinstance(options, Ic15WordsOptions) else Iiit5kSource(options)
    source.open()
    source.close()
