"""A folder of images, optionally with a ground_truth.jsonl as written by `arbench data synth`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from harness.errors import DataMissing
from harness.sources.base import SourceBase, opens
from harness.sources.files import iterate_files
from harness.types import Frame, GroundTruth, GroundTruthWord, quad_from_array

__all__ = ["ImageFolderOptions", "ImageFolderSource", "load_truth_jsonl"]


@dataclass(frozen=True)
class ImageFolderOptions:
    """Options for the image-folder source.

    ``path``: the folder; ``patterns``: globs to include; ``ground_truth``: a JSON-lines file of
    {file, source_text, reference_translation, words: [{quad, text}]} (default: the folder's
    ground_truth.jsonl when present); ``limit``: at most this many images (0: all).
    """

    path: str
    patterns: tuple[str, ...] = ("*.png", "*.jpg", "*.jpeg")
    ground_truth: str | None = None
    limit: int = 0
    loop: bool = True


def load_truth_jsonl(path: Path) -> dict[str, GroundTruth]:
    """Ground truth by file name from a JSON-lines file."""
    truths: dict[str, GroundTruth] = {}
    for number, raw in enumerate(path.read_bytes().splitlines(), 1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DataMissing(f"{path}:{number}: not UTF-8 (byte {exc.start}); save the ground truth as UTF-8") from None
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            if not isinstance(item, dict):
                raise TypeError(f"expected a JSON object, got {type(item).__name__}")
            words = tuple(
                GroundTruthWord(quad_from_array(w["quad"]), w["text"], bool(w.get("dont_care", False))) for w in item.get("words", [])
            )
            truths[item["file"]] = GroundTruth(words, item.get("source_text", ""), item.get("reference_translation"))
        except (ValueError, KeyError, TypeError) as exc:
            raise DataMissing(f"{path}:{number}: bad ground-truth line ({exc})") from None
    return truths


class ImageFolderSource(SourceBase):
    """Images in name order; decoding each file is the measured capture."""

    def __init__(self, options: ImageFolderOptions, context: object = None) -> None:
        self.options = options
        self.name = f"images:{options.path}"
        self._paths: list[Path] = []
        self._truth: dict[str, GroundTruth] = {}

    def open(self) -> None:
        folder = Path(self.options.path)
        if not folder.is_dir():
            raise DataMissing(f"image folder not found: {folder}; set `path` in the experiment")
        paths = sorted({p for pattern in self.options.patterns for p in folder.glob(pattern)})
        if not paths:
            raise DataMissing(f"no images matching {', '.join(self.options.patterns)} in {folder}")
        self._paths = paths[: self.options.limit or None]
        truth_file = Path(self.options.ground_truth) if self.options.ground_truth else folder / "ground_truth.jsonl"
        if self.options.ground_truth and not truth_file.is_file():
            raise DataMissing(f"ground truth file not found: {truth_file}")
        self._truth = load_truth_jsonl(truth_file) if truth_file.is_file() else {}

    def frames(self) -> Iterator[Frame]:
        return iterate_files(self._paths, self.name, self.options.loop, lambda path, _image: self._truth.get(path.name))

    def close(self) -> None:
        self._paths = []


preflight = opens(ImageFolderSource)  # before a run: the files (or the camera) are there and open
