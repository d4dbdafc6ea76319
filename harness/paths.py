"""Where things are: the source tree and the shared evaluation data (read in place, never copied into the repository).

A leaf: it imports nothing of arbench, so anything may ask it for a folder.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["data_root", "project_root"]


def project_root() -> Path:
    """The source tree's root (where experiments/, devices/ and models/ live)."""
    return Path(__file__).resolve().parent.parent


def data_root() -> Path:
    """``$ARBENCH_DATA_ROOT`` if set, else ../shared/data beside the source tree."""
    configured = os.environ.get("ARBENCH_DATA_ROOT")
    return Path(configured) if configured else project_root().parent / "shared" / "data"
