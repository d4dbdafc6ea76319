"""The real-time AR mode: OCR + MT on keyframes, text regions tracked in between (docs/ar.md)."""
