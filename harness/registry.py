"""Name → factory for every plugin kind, and name → summary columns of every feature.

Modules are imported only when a backend is chosen, so a missing optional package only matters to the
experiments that use it; feature columns are imported when a summary is made, so the store that makes it
imports no feature.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from harness.errors import ConfigError

__all__ = ["PLUGINS", "SUMMARY_FEATURES", "Plugin", "names", "plugin"]


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

    def model_refs(self, options: Any) -> dict[str, Any]:
        """The models the plugin needs with ``options`` (its module's ``model_refs``; none if it has no such function).

        ``harness.models.resolve`` finds and verifies them; the backend gets the paths in its context.
        """
        refs = getattr(importlib.import_module(self.module), "model_refs", None)
        return dict(refs(options)) if refs is not None else {}

    def preflight(self, options: Any, context: Any) -> None:
        """Run the plugin module's ``preflight(options, context)`` check, if it has one (packages, devices, tokenizers).

        ``context`` is the ``BackendContext`` the backend will get, its models already resolved.
        """
        check = getattr(importlib.import_module(self.module), "preflight", None)
        if check is not None:
            check(options, context)

    def precision(self, options: Any) -> str | None:
        """The numeric precision the options ask for (its module's ``numeric_precision``), None where none applies."""
        ask = getattr(importlib.import_module(self.module), "numeric_precision", None)
        return ask(options) if ask is not None else None

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
        "ppocr-torch": Plugin("harness.ocr.ppocr_torch", "PpOcrTorchOptions", "PpOcrTorch"),
        "tesseract": Plugin("harness.ocr.tesseract", "TesseractOptions", "Tesseract"),
        "easyocr": Plugin("harness.ocr.easyocr", "EasyOcrOptions", "EasyOcr"),
        "peer": Plugin("harness.ocr.peer", "PeerOcrOptions", "PeerOcr"),
        "null": Plugin("harness.ocr.null", "NullOcrOptions", "NullOcr"),
    },
    "mt": {
        "apertium": Plugin("harness.mt.apertium", "ApertiumOptions", "Apertium"),
        "apertium-cli": Plugin("harness.mt.apertium_cli", "ApertiumCliOptions", "ApertiumCli"),
        "ctranslate2": Plugin("harness.mt.ctranslate2", "CTranslate2Options", "CTranslate2"),
        "transformers": Plugin("harness.mt.transformers_peer", "TransformersPeerOptions", "TransformersPeer"),
        "null": Plugin("harness.mt.null", "NullMtOptions", "NullMt"),
    },
}


# Features that add columns to summary.csv: name → "module:attribute" of a harness.store.columns.SummaryColumns.
# The store imports none of them; their columns follow the store's own on the e2e row, in this order.
SUMMARY_FEATURES: dict[str, str] = {
    "offload": "harness.offload.stats:SUMMARY",
    "ar": "harness.ar.summary:SUMMARY",
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
