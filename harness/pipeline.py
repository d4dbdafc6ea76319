"""One frame through the stages: capture → ocr → mt → overlay, each in its own span.

A switched-off stage passes its input on untouched: no OCR means no regions (or, for a text frame of
an MT-only run, its text as the one region); no MT means the overlay shows the recognized text; no
overlay means no image is drawn.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from harness.errors import ArbenchError, ConfigError, DataMissing
from harness.layout.blocks import group, split
from harness.metrics.text import frame_accuracy
from harness.mt.base import MtBackend
from harness.mt.cache import TranslationCache
from harness.ocr.base import OcrBackend
from harness.trace import Tracer
from harness.types import Frame, FrameResult, TextRegion, Translation

if TYPE_CHECKING:  # imported for types only: offloading and drawing load their own libraries when used
    from harness.offload.stage import RemoteStages
    from harness.overlay.render import Overlay

__all__ = ["MT_UNITS", "FramePipeline", "Pipeline", "StageFailure", "StageSwitches"]


_NO_QUAD = ((0.0, 0.0), (0.0, 0.0), (0.0, 0.0), (0.0, 0.0))
MT_UNITS = ("block", "line")


def _renumbered(blocks: list[list[int]]) -> list[list[int]]:
    """Blocks of indices into the regions as reordered block by block (0, 1, ... in order)."""
    sizes = [len(block) for block in blocks]
    starts = [sum(sizes[:k]) for k in range(len(sizes))]
    return [list(range(start, start + size)) for start, size in zip(starts, sizes, strict=True)]


class StageFailure(ArbenchError):
    """A stage raised while processing a frame; carries the stage name and the frame's spans so far."""

    def __init__(self, stage: str, cause: BaseException, frame: Frame | None) -> None:
        super().__init__(f"{stage}: {type(cause).__name__}: {cause}")
        self.stage = stage
        self.frame = frame


@dataclass(frozen=True)
class StageSwitches:
    """Stages to run; a switched-off stage passes its input through untouched (for ablations).

    ``mt_cache_frames``: reuse the translation of a text (normalized: case, spaces) read in one of the
    last N frames instead of translating it again (0: off); hits are recorded per frame.
    ``mt_unit``: what one segment for the translator is: "block" (the lines of one sign, grouped by
    ``harness.layout.blocks``; the translation is shared back over the lines for the overlay) or "line"
    (every recognized region alone). Experiments with ``[offload]`` run every placement per line (the server
    translates the lines it is sent), and so does the AR mode.
    """

    ocr: bool = True
    mt: bool = True
    overlay: bool = True
    mt_cache_frames: int = 0
    mt_unit: str = "block"

    def __post_init__(self) -> None:
        if self.mt_cache_frames < 0:
            raise ConfigError("[stages] mt_cache_frames must be >= 0 (0 turns the translation cache off)")
        if self.mt_unit not in MT_UNITS:
            raise ConfigError(f"[stages] mt_unit must be one of {', '.join(MT_UNITS)}, not {self.mt_unit!r}")


class FramePipeline(Protocol):
    """What the run loop drives, one frame per ``step``: the per-frame ``Pipeline`` and the AR mode's pipeline."""

    def observe(self, frames: Iterator[Frame]) -> Iterator[Frame]:
        """The source's frames as the pipeline wants to see them before the scenario drops any."""
        ...

    def step(self, frames: Iterator[Frame], tracer: Tracer) -> FrameResult | None:
        """Capture and process the next frame; None when the source has no more; ``StageFailure`` for a failed frame."""
        ...

    def reset(self) -> None:
        """Forget what earlier frames left behind: the source starts again from its first frame."""
        ...

    def model_files(self) -> tuple[Path, ...]:
        """The model files its backends loaded (for the manifest's sizes and hashes)."""
        ...

    def close(self) -> None:
        """Close the backends and whatever the pipeline opened."""
        ...


class Pipeline:
    """Runs frames from one source through one OCR backend, one MT backend and the overlay.

    ``remote`` replaces the OCR and MT stages for an offloaded placement (server, network, client).
    """

    def __init__(
        self, ocr: OcrBackend, mt: MtBackend, overlay: Overlay | None, stages: StageSwitches, remote: RemoteStages | None = None
    ) -> None:
        self.ocr = ocr
        self.remote = remote
        self.mt = mt
        self.overlay = overlay if stages.overlay else None
        self.stages = stages
        self.cache = TranslationCache(stages.mt_cache_frames) if stages.mt_cache_frames else None

    def observe(self, frames: Iterator[Frame]) -> Iterator[Frame]:
        """The source's frames, untouched."""
        return frames

    def reset(self) -> None:
        """Nothing here depends on the source's position (the translation cache keeps its window of recent frames)."""

    def model_files(self) -> tuple[Path, ...]:
        """The OCR and MT backends' model files."""
        return (*self.ocr.model_files(), *self.mt.model_files())

    def accelerators(self) -> dict[str, str]:
        """What each local stage's parts run on ("ocr.det": "CPUExecutionProvider", "mt.model": "cuda", ...).

        Backends that can run elsewhere than the CPU say so (``accelerators()``); the others run on the CPU;
        null backends run nothing. Stages an offloaded placement sends to the server are not listed here.
        """
        stages = {"ocr": self.ocr, "mt": self.mt} if self.remote is None else {}
        found: dict[str, str] = {}
        for stage, backend in stages.items():
            if backend.name == "null":
                continue
            parts = backend.accelerators() if hasattr(backend, "accelerators") else {"model": "cpu"}
            found |= {f"{stage}.{part}": name for part, name in parts.items()}
        return found

    def step(self, frames: Iterator[Frame], tracer: Tracer) -> FrameResult | None:
        """Capture and process the next frame; None when the source has no more frames.

        A stage that is off, or has no input (no regions for MT), opens no span.
        """
        frame = self._stage("capture", None, tracer, lambda _: next(frames, None))
        if frame is None:
            return None
        if frame.error is not None:
            raise StageFailure("capture", DataMissing(frame.error), frame)
        regions = [TextRegion(_NO_QUAD, frame.text, 1.0)] if frame.text else []
        offloaded = self._offload(frame, tracer) if self.remote is not None else None
        if offloaded is not None:
            regions = offloaded.regions
        elif self.stages.ocr:
            regions = self._stage("ocr", frame, tracer, lambda _: self.ocr.recognize(frame, tracer))
        blocks = [[i] for i in range(len(regions))]
        if self.stages.mt_unit == "block" and offloaded is None and len(regions) > 1:
            blocks = group(regions)
            regions = [regions[i] for block in blocks for i in block]  # reading order, block by block
            blocks = _renumbered(blocks)
        texts = [r.text for r in regions]
        targets = list(texts) if offloaded is None else offloaded.targets
        if self.cache is not None:
            self.cache.next_frame()
        if self.stages.mt and texts and offloaded is None:
            targets = self._stage("mt", frame, tracer, lambda attrs: self._translate_blocks(texts, blocks, attrs, tracer))
        image = None
        if self.overlay is not None:
            image = self._stage("overlay", frame, tracer, lambda attrs: self._draw(frame, regions, targets, attrs))
        translations = [Translation(s, t, self.mt.name) for s, t in zip(texts, targets, strict=True)] if self.stages.mt else None
        shown = targets if self.stages.mt else None
        return FrameResult(
            frame,
            regions,
            translations,
            image,
            frame_accuracy(frame.ground_truth, regions if self.stages.ocr else None, shown),
            offloaded.record if offloaded is not None else None,
        )

    def _offload(self, frame: Frame, tracer: Tracer) -> Any:
        assert self.remote is not None
        try:  # the remote opens its own spans (its local share, then "offload")
            return self.remote.run(frame, tracer)
        except Exception as exc:  # recorded as a failed frame by the runner
            raise StageFailure("offload", exc, frame) from exc

    def _translate_blocks(self, texts: list[str], blocks: list[list[int]], attrs: dict[str, Any], tracer: Tracer) -> list[str]:
        """Each block's lines translated as one segment, the translation shared back over its lines."""
        if len(blocks) == len(texts):
            return self._translate(texts, attrs, tracer)
        attrs["blocks"] = len(blocks)
        segments = self._translate([" ".join(texts[i] for i in block) for block in blocks], attrs, tracer)
        targets = [""] * len(texts)
        for block, segment in zip(blocks, segments, strict=True):
            for i, piece in zip(block, split(segment, [texts[i] for i in block]), strict=True):
                targets[i] = piece
        return targets

    def _translate(self, texts: list[str], attrs: dict[str, Any], tracer: Tracer) -> list[str]:
        if self.cache is None:
            return self._call_mt(texts, tracer)
        targets, hits = self.cache.translate(texts, lambda fresh: self._call_mt(fresh, tracer))
        attrs["cache_lookups"], attrs["cache_hits"] = len(texts), hits
        return targets

    def _call_mt(self, texts: list[str], tracer: Tracer) -> list[str]:
        targets = self.mt.translate(texts, tracer)
        if len(targets) != len(texts):
            raise ValueError(f"{self.mt.name} returned {len(targets)} translations for {len(texts)} regions")
        return targets

    def _stage(self, name: str, frame: Frame | None, tracer: Tracer, work: Callable[[dict[str, Any]], Any]) -> Any:
        try:
            with tracer.span(name) as attrs:
                return work(attrs)
        except Exception as exc:  # recorded as a failed frame by the runner, never swallowed
            raise StageFailure(name, exc, frame) from exc

    def _draw(self, frame: Frame, regions: list[TextRegion], targets: list[str], attrs: dict[str, Any]) -> np.ndarray:
        assert self.overlay is not None and frame.image is not None
        drawn = self.overlay.render(frame.image, regions, targets)
        attrs["inpaint_ns"] = drawn.inpaint_ns
        attrs["render_ns"] = drawn.render_ns
        return drawn.image

    def close(self) -> None:
        """Close both backends (and the remote stages: connection, server, network)."""
        if self.remote is not None:
            self.remote.close()
        self.ocr.close()
        self.mt.close()
