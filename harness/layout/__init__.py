"""Layout of what OCR read: recognized lines grouped into sign blocks (``blocks``)."""
