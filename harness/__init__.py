"""arbench: a benchmark harness for on-device AR translation (capture → OCR → MT → overlay)."""

__version__ = "0.1.0"
