"""Writing fake /proc, /sys and /etc trees: a file or a directory link at a path as it is on the target, below ``root``."""

from __future__ import annotations

from pathlib import Path

__all__ = ["link", "write"]


def write(root: Path, path: str, data: str | bytes, mode: int | None = None) -> Path:
    """Write ``data`` at ``path`` below ``root`` (parents made), with file ``mode`` when given; the file's path."""
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, bytes):
        target.write_bytes(data)
    else:
        target.write_text(data, encoding="utf-8")
    if mode is not None:
        target.chmod(mode)
    return target


def link(root: Path, path: str, relative_target: str) -> None:
    """A directory symlink at ``path`` below ``root`` to ``relative_target``, as sysfs links its class entries."""
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.symlink_to(relative_target, target_is_directory=True)
