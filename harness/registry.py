"""Name → factory for every plugin kind.

Modules are imported only when a backend is chosen, so a missing optional package only matters to the
experiments that use it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from harness.errors import ConfigError

__all__ = ["PLUGINS", "Plugin", "names", "plugin"]


@dataclass(frozen=True)
class Plugin:
    """Where a plugin lives: ``module`` defines ``options`` (a frozen dataclass) and ``factory``."""

    module: str
    options: str
    factory: str

    def options_class(self) -> type[Any]:
        """The plugin's options dataclass."""
        return getattr(importlib.import_module(self.module), self.options)

    def factory_class(self) -> Any:
        """The class (or function) that builds the plugin."""
        return getattr(importlib.import_module(self.module), self.factory)

    def preflight(self, options: Any) -> None:
        """Run the plugin module's ``preflight(options)`` check, if it has one (model files, hashes)."""
        check = getattr(importlib.import_module(self.module), "preflight", None)
        if check is not None:
            check(options)

    def create(self, options: Any, *args: Any) -> Any:
        """Instantiate the plugin with its options (and any extra context)."""
        return self.factory_class()(options, *args)


PLUGINS: dict[str, dict[str, Plugin]] = {
    "source": {
        "synthetic": Plugin("harness.sources.synthetic", "SceneOptions", "SyntheticSource"),
        "synthvideo": Plugin("harness.sources.synth_video", "SyntheticVideoOptions", "SyntheticVideoSource"),
        "images": Plugin("harness.sources.images", "ImageFolderOptions", "ImageFolderSource"),
        "video": Plugin("harness.sources.video", "VideoOptions", "VideoSource"),
        "icdar2015": Plugin("harness.sources.icdar2015", "Icdar2015Options", "Icdar2015Source"),
        "camera": Plugin("harness.sources.camera", "CameraOptions", "CameraSource"),
        "ic15_words": Plugin("harness.sources.word_crops", "Ic15WordsOptions", "Ic15WordsSource"),
        "iiit5k": Plugin("harness.sources.word_crops", "Iiit5kOptions", "Iiit5kSource"),
        "textset": Plugin("harness.sources.textsets", "TextSetOptions", "TextSetSource"),
    },
    "ocr": {
        "rapidocr": Plugin("harness.ocr.rapidocr", "RapidOcrOptions", "RapidOcr"),
        "litert": Plugin("harness.ocr.litert", "LiteRtOptions", "LiteRt"),
        "tesseract": Plugin("harness.ocr.tesseract", "TesseractOptions", "Tesseract"),
        "easyocr": Plugin("harness.ocr.easyocr", "EasyOcrOptions", "EasyOcr"),
        "null": Plugin("harness.ocr.null", "NullOcrOptions", "NullOcr"),
    },
    "mt": {
        "apertium": Plugin("harness.mt.apertium", "ApertiumOptions", "Apertium"),
        "ctranslate2": Plugin("harness.mt.ctranslate2", "CTranslate2Options", "CTranslate2"),
        "transformers": Plugin("harness.mt.transformers_peer", "TransformersPeerOptions", "TransformersPeer"),
        "null": Plugin("harness.mt.null", "NullMtOptions", "NullMt"),
    },
}


def names(kind: str) -> list[str]:
    """Registered names of one plugin kind."""
    return sorted(PLUGINS[kind])


def plugin(kind: str, name: str, where: str) -> Plugin:
    """Look up a plugin, or raise a ConfigError listing the valid names."""
    found = PLUGINS[kind].get(name)
    if found is None:
        raise ConfigError(f"{where}: unknown {kind} {name!r}; valid: {', '.join(names(kind))}")
    return found
