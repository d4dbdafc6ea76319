"""Where shared evaluation data lives. It is read in place, never copied into the repository."""

from __future__ import annotations

import os
from pathlib import Path

from harness.config import project_root

__all__ = ["data_root"]


def data_root() -> Path:
    """``$ARBENCH_DATA_ROOT`` if set, else ../shared/data beside the source tree."""
    configured = os.environ.get("ARBENCH_DATA_ROOT")
    return Path(configured) if configured else project_root().parent / "shared" / "data"
