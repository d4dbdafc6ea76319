"""Reading /proc, /sys and /etc files under a root that tests point at a fake tree, never raising.

Every reader returns the text or ``None`` together with a one-line reason, phrased with the path as it is
on the target (``/sys/...``), so a manifest says what could not be read and why.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["Read", "is_dir", "is_file", "read_int", "read_text", "under"]


@dataclass(frozen=True)
class Read:
    """A file's stripped text, or ``None`` and ``problem`` saying why it could not be read."""

    text: str | None
    problem: str | None = None


def under(root: Path, path: str) -> Path:
    """``path`` (absolute, as on the target) resolved below ``root``."""
    return root.joinpath(path.lstrip("/"))


def read_text(root: Path, path: str) -> Read:
    """The file's text with surrounding whitespace and trailing NUL bytes removed."""
    try:
        raw = under(root, path).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return Read(None, f"no {path}")
    except PermissionError:
        return Read(None, f"permission denied reading {path}")
    except OSError as exc:  # sysfs answers EINVAL/ENODATA/EIO for sensors that are off or broken
        return Read(None, f"cannot read {path}: {exc.strerror or exc}")
    return Read(raw.strip().strip("\x00").strip())


def read_int(root: Path, path: str) -> tuple[int | None, str | None]:
    """A file holding one integer (sysfs style); a non-integer content is reported as a problem."""
    read = read_text(root, path)
    if read.text is None:
        return None, read.problem
    try:
        return int(read.text), None
    except ValueError:
        return None, f"{path} holds {read.text[:40]!r}, not an integer"


def is_dir(path: Path) -> bool:
    """``Path.is_dir`` that answers ``False`` instead of raising on permission errors."""
    try:
        return path.is_dir()
    except OSError:
        return False


def is_file(path: Path) -> bool:
    """``Path.is_file`` that answers ``False`` instead of raising on permission errors."""
    try:
        return path.is_file()
    except OSError:
        return False
