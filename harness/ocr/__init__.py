"""OCR backends behind one small interface (base.OcrBackend)."""
